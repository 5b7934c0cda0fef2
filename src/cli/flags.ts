// Command-line parsing with the semantics of spf13/pflag as the docker CLI configures it:
// `--name=x`, `--name x`, `-it`, `-p80:80`, `-e=X`, repeated list flags, bool `--rm=false`, `--`,
// and (for run/create/exec) options only before the first positional argument.

export type FlagType = 'bool' | 'string' | 'list' | 'int';

export interface FlagSpec {
  long: string;
  short?: string;
  type: FlagType;
  help?: string;
  /** Default for string/int flags, printed in help like pflag. */
  def?: string | number | boolean;
  /** Placeholder in help ("string", "list", "int"). */
  meta?: string;
  hidden?: boolean;
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
    opts[f.long] = f.type === 'list' ? [] : f.type === 'bool' ? (f.def as boolean) ?? false : f.type === 'int' ? (f.def as number) ?? 0 : (f.def as string) ?? '';
  }
  const args: string[] = [];
  let help = false;
  const flagName = (f: FlagSpec) => (f.short ? `-${f.short}, --${f.long}` : `--${f.long}`);
  const set = (f: FlagSpec, value: string) => {
    changed.add(f.long);
    switch (f.type) {
      case 'bool': {
        const v = value.toLowerCase();
        if (!['1', 't', 'true', '0', 'f', 'false'].includes(v)) throw new UsageError(`invalid argument "${value}" for "${flagName(f)}" flag: strconv.ParseBool: parsing "${value}": invalid syntax`);
        opts[f.long] = ['1', 't', 'true'].includes(v);
        break;
      }
      case 'int': {
        if (!/^[+-]?\d+$/.test(value)) throw new UsageError(`invalid argument "${value}" for "${flagName(f)}" flag: strconv.ParseInt: parsing "${value}": invalid syntax`);
        opts[f.long] = Number(value);
        break;
      }
      case 'list': (opts[f.long] as string[]).push(value); break;
      default: opts[f.long] = value;
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
  else if (minArgs === 0) msg = `requires at most ${n(maxArgs)}`;
  else msg = `requires at least ${minArgs} and at most ${n(maxArgs)}`;
  const path = `${prog} ${spec.name}`;
  throw new UsageError(`${prog}: '${path}' ${msg}\n\nUsage:  ${useLine(spec, prog)}\n\n${verb} '${path} --help' for more information`, 1);
}

/** cobra's UseLine: the command path as typed ("berth container ls") and the usage's arguments part. */
export function useLine(spec: CommandSpec, prog: string): string {
  return `${prog} ${spec.name}${spec.usage.replace(/^[a-z][a-z-]*( [a-z][a-z-]*)*/, '')}`;
}

/** Help text in docker's layout. */
export function helpText(spec: CommandSpec, prog: string): string {
  const lines = [``, `Usage:  ${prog} ${spec.usage}`, ``, spec.description, ``];
  if (spec.aliases?.length) lines.push('Aliases:', `  ${spec.aliases.map((a) => `${prog} ${a}`).join(', ')}`, '');
  const visible = spec.flags.filter((f) => !f.hidden);
  if (visible.length) {
    lines.push('Options:');
    const left = visible.map((f) => {
      const meta = f.type === 'bool' ? '' : ` ${f.meta ?? (f.type === 'list' ? 'list' : f.type)}`;
      return `${f.short ? `-${f.short}, ` : '    '}--${f.long}${meta}`;
    });
    const w = Math.max(...left.map((l) => l.length));
    visible.forEach((f, k) => {
      let h = f.help ?? '';
      if (f.def !== undefined && f.def !== '' && f.def !== false && f.def !== 0) h += ` (default ${typeof f.def === 'string' ? `"${f.def}"` : f.def})`;
      lines.push(`  ${left[k].padEnd(w)}   ${h}`);
    });
    lines.push('');
  }
  return lines.join('\n');
}
