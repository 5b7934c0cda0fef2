// Command-line parsing with the semantics of spf13/pflag as the docker CLI configures it:
// `--name=x`, `--name x`, `-it`, `-p80:80`, `-e=X`, repeated list flags, bool `--rm=false`, `--`,
// and (for run/create/exec) options only before the first positional argument.

/** 'list': each use adds one value (docker's ListOpts); 'strings': each use adds its comma-separated values (pflag's StringSlice). */
export type FlagType = 'bool' | 'string' | 'list' | 'strings' | 'int';

export interface FlagSpec {
  long: string;
  short?: string;
  type: FlagType;
  help?: string;
  /** Default for string/int flags, printed in help like pflag. */
  def?: string | number | boolean;
  /** Placeholder in help ("string", "list", "int"). */
  meta?: string;
  /** The default as pflag prints it when it is not a plain value, e.g. "map[]" for docker's MapOpts. */
  defaultText?: string;
  hidden?: boolean;
  /**
   * Checks (and may rewrite) each value when it is set, like the validators of docker's ListOpts:
   * a thrown Error becomes pflag's `invalid argument "V" for "--flag" flag: MSG` (status 125).
   */
  validate?: (value: string) => string;
  /** Store under another flag's name (two flags, one variable: docker's --dns-opt and --dns-option). */
  dest?: string;
}

export interface CommandSpec {
  /** Full command path without the program name, e.g. "run", "image ls". */
  name: string;
  usage: string;
  description: string;
  flags: FlagSpec[];
  /** false: flags end at the first positional argument (docker run, create, exec). */
  interspersed?: boolean;
  minArgs?: number;
  maxArgs?: number;
  aliases?: string[];
  /** The longer description `--help` prints instead of `description` (cobra's Long). */
  long?: string;
  /** Left out of the group's command list (docker hides swarm-only commands on a non-swarm engine). */
  hidden?: boolean;
}

export type FlagValue = string | boolean | number | string[];

export interface Parsed {
  opts: Record<string, FlagValue>;
  args: string[];
  /** Long names of flags given on the command line (pflag's Changed). */
  changed: Set<string>;
  help: boolean;
}

/** A usage error: printed with "See 'PROG CMD --help'." and exit status 125 like docker's flag errors. */
export class UsageError extends Error {
  constructor(message: string, readonly status = 125) { super(message); this.name = 'UsageError'; }
}

export function parseFlags(spec: CommandSpec, argv: string[]): Parsed {
  const opts: Record<string, FlagValue> = {};
  const changed = new Set<string>();
  const byLong = new Map<string, FlagSpec>(), byShort = new Map<string, FlagSpec>();
  for (const f of spec.flags) {
    byLong.set(f.long, f);
    if (f.short) byShort.set(f.short, f);
    if (f.dest) continue;
    opts[f.long] = f.type === 'list' || f.type === 'strings' ? [] : f.type === 'bool' ? (f.def as boolean) ?? false : f.type === 'int' ? (f.def as number) ?? 0 : (f.def as string) ?? '';
  }
  const args: string[] = [];
  let help = false;
  const flagName = (f: FlagSpec) => (f.short ? `-${f.short}, --${f.long}` : `--${f.long}`);
  const set = (f: FlagSpec, value: string) => {
    changed.add(f.long);
    const key = f.dest ?? f.long;
    if (f.dest) changed.add(f.dest);
    if (f.validate && f.type !== 'strings') {
      try { value = f.validate(value); } catch (e) { throw new UsageError(`invalid argument "${value}" for "${flagName(f)}" flag: ${(e as Error).message}`); }
    }
    switch (f.type) {
      case 'bool': {
        const v = value.toLowerCase();
        if (!['1', 't', 'true', '0', 'f', 'false'].includes(v)) throw new UsageError(`invalid argument "${value}" for "${flagName(f)}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
        opts[key] = ['1', 't', 'true'].includes(v);
        break;
      }
      case 'int': {
        if (!/^[+-]?\d+$/.test(value)) throw new UsageError(`invalid argument "${value}" for "${flagName(f)}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`);
        opts[key] = Number(value);
        break;
      }
      case 'list': (opts[key] as string[]).push(value); break;
      case 'strings': {
        let values: string[];
        try { values = readCSVRecord(value); } catch (e) { throw new UsageError(`invalid argument "${value}" for "${flagName(f)}" flag: ${(e as Error).message}`); }
        if (f.validate) {
          try { values = values.map(f.validate); } catch (e) { throw new UsageError(`invalid argument "${value}" for "${flagName(f)}" flag: ${(e as Error).message}`); }
        }
        (opts[key] as string[]).push(...values);
        break;
      }
      default: opts[key] = value;
    }
  };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') { args.push(...argv.slice(i + 1)); break; }
    if (a.startsWith('--') ) {
      const eq = a.indexOf('=');
      const name = eq >= 0 ? a.slice(2, eq) : a.slice(2);
      if (name === 'help') { help = true; continue; }
      const f = byLong.get(name);
      if (!f) throw new UsageError(`unknown flag: --${name}`);
      if (eq >= 0) set(f, a.slice(eq + 1));
      else if (f.type === 'bool') set(f, 'true');
      else if (i + 1 < argv.length) set(f, argv[++i]);
      else throw new UsageError(`flag needs an argument: --${name}`);
    } else if (a.startsWith('-') && a.length > 1) {
      // A cluster of shorthands: "-it", "-p80:80", "-e=X".
      let j = 1;
      while (j < a.length) {
        const c = a[j];
        const f = byShort.get(c);
        if (!f) {
          if (c === 'h' && !byShort.has('h')) { help = true; j++; continue; }
          throw new UsageError(`unknown shorthand flag: '${c}' in ${a}`);
        }
        if (a[j + 1] === '=') { set(f, a.slice(j + 2)); break; }
        if (f.type === 'bool') { set(f, 'true'); j++; continue; }
        if (j + 1 < a.length) { set(f, a.slice(j + 1)); break; }
        if (i + 1 < argv.length) { set(f, argv[++i]); break; }
        throw new UsageError(`flag needs an argument: '${c}' in -${c}`);
      }
    } else {
      args.push(a);
      if (spec.interspersed === false) { args.push(...argv.slice(i + 1)); break; }
    }
  }
  return { opts, args, changed, help };
}

/** Checks the positional argument count like docker's cli/required.go validators (exit status 1). */
export function checkArgs(spec: CommandSpec, prog: string, args: string[]): void {
  const { minArgs = 0, maxArgs = Infinity } = spec;
  const n = (k: number) => `${k} argument${k === 1 ? '' : 's'}`;
  if (args.length >= minArgs && args.length <= maxArgs) return;
  let msg: string;
  let verb = 'Run';
  if (maxArgs === 0) msg = 'accepts no arguments';
  else if (minArgs === maxArgs) msg = `requires ${n(minArgs)}`;
  else if (maxArgs === Infinity) { msg = `requires at least ${n(minArgs)}`; verb = 'See'; }
  // "SRun" is docker 28's own typo in RequiresMaxArgs (cli/required.go); its output is what we match.
  else if (minArgs === 0) { msg = `requires at most ${n(maxArgs)}`; verb = 'SRun'; }
  else msg = `requires at least ${minArgs} and at most ${n(maxArgs)}`;
  const path = `${prog} ${spec.name}`;
  throw new UsageError(`${prog}: '${path}' ${msg}\n\nUsage:  ${useLine(spec, prog)}\n\n${verb} '${path} --help' for more information`, 1);
}

/** cobra's UseLine: the command's path ("berth container ls", see main.ts canonicalPath) and the usage's arguments part. */
export function useLine(spec: CommandSpec, prog: string): string {
  return `${prog} ${spec.name}${spec.usage.replace(/^[a-z][a-z-]*( [a-z][a-z-]*)*/, '')}`;
}

/** The --format help of docker's list commands (cli/flags.FormatHelp). */
export const FORMAT_HELP = `Format output using a custom template:
'table':            Print output in table format with column headers (default)
'table TEMPLATE':   Print output in table format using the given Go template
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`;

/** The --format help of docker's inspect commands (cli/flags.InspectFormatHelp). */
export const INSPECT_FORMAT_HELP = `Format output using a custom template:
'json':             Print in JSON format
'TEMPLATE':         Print output using the given Go template.
Refer to https://docs.docker.com/go/formatting/ for more information about formatting output with templates`;

/**
 * Help text in docker's layout: usage, description, aliases, and the options as pflag's
 * FlagUsagesWrapped lays them out, wrapped at `cols` (docker: the terminal width minus one, 79
 * when stdin is not a terminal).
 */
export function helpText(spec: CommandSpec, prog: string, cols = 79): string {
  const lines = [`Usage:  ${useLine(spec, prog)}`, ``, spec.long ?? spec.description, ``];
  if (spec.aliases?.length) lines.push('Aliases:', `  ${spec.aliases.map((a) => `${prog} ${a}`).join(', ')}`, '');
  const visible = spec.flags.filter((f) => !f.hidden);
  if (visible.length) {
    lines.push('Options:');
    const left = visible.map((f) => {
      const meta = f.type === 'bool' ? '' : ` ${f.meta ?? (f.type === 'list' ? 'list' : f.type)}`;
      return `${f.short ? `  -${f.short}, ` : '      '}--${f.long}${meta}`;
    });
    // pflag's maxlen counts the NUL it puts after the name: the usage starts at maxlen + 2.
    const maxlen = Math.max(...left.map((l) => l.length + 1));
    visible.forEach((f, k) => {
      let h = f.help ?? '';
      if (f.defaultText) h += ` (default ${f.defaultText})`;
      else if (f.def !== undefined && f.def !== '' && f.def !== false && f.def !== 0) h += ` (default ${typeof f.def === 'string' ? `"${f.def}"` : f.def})`;
      lines.push(`${left[k]} ${' '.repeat(maxlen - left[k].length)} ${pflagWrap(maxlen + 2, cols, h)}`);
    });
    lines.push('');
  }
  return lines.join('\n');
}

/** pflag's wrap: `s` wrapped to width `w`, continuation lines indented by `i` (the first is not). */
function pflagWrap(i: number, w: number, s: string): string {
  if (w === 0) return s.replace(/\n/g, `\n${' '.repeat(i)}`);
  let wrap = w - i;
  let r = '';
  // Not enough room beside the flags: the whole text goes on the next line, indented by 16.
  if (wrap < 24) { i = 16; wrap = w - i; r += `\n${' '.repeat(i)}`; }
  if (wrap < 24) return s.replace(/\n/g, r);
  // Lines may run `slop` over to avoid a short orphan word on the last line.
  const slop = 5;
  wrap -= slop;
  const indentNl = (t: string) => t.replace(/\n/g, `\n${' '.repeat(i)}`);
  let [l, rest] = wrapN(wrap, slop, s);
  r += indentNl(l);
  while (rest !== '') {
    let t: string;
    [t, rest] = wrapN(wrap, slop, rest);
    r += `\n${' '.repeat(i)}${indentNl(t)}`;
  }
  return r;
}

function wrapN(i: number, slop: number, s: string): [string, string] {
  if (i + slop > s.length) return [s, ''];
  const head = s.slice(0, i);
  const w = Math.max(head.lastIndexOf(' '), head.lastIndexOf('\t'), head.lastIndexOf('\n'));
  if (w <= 0) return [s, ''];
  const nl = head.lastIndexOf('\n');
  if (nl > 0 && nl < w) return [s.slice(0, nl), s.slice(nl + 1)];
  return [s.slice(0, w), s.slice(w + 1)];
}

/**
 * One record of Go's encoding/csv, as pflag reads a StringSlice value: fields split at commas,
 * a field that starts with `"` is quoted (`""` is a quote inside it). An empty value is no field.
 */
export function readCSVRecord(value: string): string[] {
  if (value === '') return [];
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        const q = value.indexOf('"', i);
        if (q < 0) throw new Error(`parse error on line 1, column ${value.length + 1}: extraneous or missing " in quoted-field`);
        field += value.slice(i, q);
        i = q + 1;
        if (value[i] === '"') { field += '"'; i++; continue; }
        if (i < value.length && value[i] !== ',') throw new Error(`parse error on line 1, column ${i + 1}: extraneous or missing " in quoted-field`);
        break;
      }
    } else {
      const c = value.indexOf(',', i);
      field = value.slice(i, c < 0 ? value.length : c);
      if (field.includes('"')) throw new Error(`parse error on line 1, column ${i + field.indexOf('"') + 1}: bare " in non-quoted-field`);
      i = c < 0 ? value.length : c;
    }
    fields.push(field);
    if (i >= value.length) return fields;
    i++; // the comma
  }
}
