/**
 * Dockerfile plan: parse tree -> stages of validated steps, and the target's stage closure. Pure:
 * no file, no image store. Variable substitution that depends on the base image's environment
 * (ENV, WORKDIR, COPY sources ...) happens when a step is dispatched (dispatch.ts); only what
 * must be known before any image is resolved is expanded here: `FROM` names with the global
 * (before the first FROM) ARGs and the build args.
 *
 * Errors are `PlanError` (kind InvalidArgument) carrying the instruction's 1-based line.
 */
import { BerthError } from '../base/errors';
import { parse, type Instruction } from './dockerfile/parser';
import { ShellLex } from './shell/lex';
import { parseMount, type RunMountSpec } from './run-mount';

export class PlanError extends BerthError {
  readonly line: number;
  constructor(message: string, line: number) {
    super('InvalidArgument', line > 0 ? `Dockerfile parse error line ${line}: ${message}` : message);
    this.line = line;
  }
}

export type StepKind =
  | 'arg' | 'env' | 'label' | 'workdir' | 'user' | 'cmd' | 'entrypoint' | 'expose' | 'volume' | 'stopsignal'
  | 'shell' | 'healthcheck' | 'run' | 'copy' | 'add' | 'onbuild' | 'maintainer';

export interface Step {
  kind: StepKind;
  instruction: Instruction;
  /** `--name=value` flags by name (a bool flag is "true" or "false"). */
  flags: Record<string, string>;
  /** Repeatable flags (`RUN --mount`, `COPY --exclude`): their values in order. */
  lists: Record<string, string[]>;
  line: number;
  /** The instruction as written on its logical line (for `Step n/m : ...` and the cache key). */
  text: string;
}

export interface Stage {
  index: number;
  /** Lower-cased `AS` name, if any. */
  name?: string;
  /** The base: an image reference, `scratch`, or the name of an earlier stage (expanded). */
  base: string;
  /** Index of the earlier stage this one is built FROM, if any. */
  baseStage?: number;
  fromText: string;
  line: number;
  steps: Step[];
}

export interface Plan {
  /** ARGs declared before the first FROM, with their defaults (undefined when none). */
  metaArgs: Array<{ name: string; value: string | undefined }>;
  stages: Stage[];
  /** Indexes of the stages to build, dependencies first; the last is the target. */
  order: number[];
}

/** The flags each keyword takes, typed as BuildKit's BFlags: a string, a bool, or a repeatable list. */
type FlagType = 'string' | 'bool' | 'strings';
const FLAGS: Partial<Record<string, Record<string, FlagType>>> = {
  from: { platform: 'string' },
  run: { network: 'string', mount: 'strings', security: 'string' },
  copy: { from: 'string', chown: 'string', chmod: 'string', link: 'bool', parents: 'bool', exclude: 'strings' },
  add: { chown: 'string', chmod: 'string', link: 'bool', 'keep-git-dir': 'bool', checksum: 'string', unpack: 'bool', exclude: 'strings' },
  healthcheck: { interval: 'string', timeout: 'string', 'start-period': 'string', 'start-interval': 'string', retries: 'string' },
};

const KINDS = new Set<string>(['arg', 'env', 'label', 'workdir', 'user', 'cmd', 'entrypoint', 'expose', 'volume', 'stopsignal',
  'shell', 'healthcheck', 'run', 'copy', 'add', 'onbuild', 'maintainer']);

/**
 * Splits `--name=value` flags as BuildKit's BFlags.Parse: unknown flags and duplicates of a
 * non-list flag are errors, a string flag needs a value, a bool flag takes none or true/false.
 * String and bool flags land in `flags` (a bool as "true"/"false"), repeatable ones in `lists`.
 */
export function parseFlags(keyword: string, flags: string[], line: number): { flags: Record<string, string>; lists: Record<string, string[]> } {
  const allowed = FLAGS[keyword] ?? {};
  const out: Record<string, string> = {};
  const lists: Record<string, string[]> = {};
  for (const f of flags) {
    if (f === '--') break;
    const m = /^--([^=]*)(?:=([\s\S]*))?$/.exec(f);
    if (!m) throw new PlanError(`${keyword.toUpperCase()}: arg should start with -- : ${f}`, line);
    const [, name, value] = m;
    const type = Object.hasOwn(allowed, name) ? allowed[name] : undefined;
    if (!type) throw new PlanError(`${keyword.toUpperCase()}: unknown flag: --${name}`, line);
    if (type !== 'strings' && (name in out)) throw new PlanError(`${keyword.toUpperCase()}: duplicate flag specified: --${name}`, line);
    if (type === 'bool') {
      if (value === '') throw new PlanError(`${keyword.toUpperCase()}: missing a value on flag: --${name}`, line);
      const v = (value ?? 'true').toLowerCase();
      if (v !== 'true' && v !== 'false') throw new PlanError(`${keyword.toUpperCase()}: expecting boolean value for flag --${name}, not: ${value}`, line);
      out[name] = v;
      continue;
    }
    if (value === undefined) throw new PlanError(`${keyword.toUpperCase()}: missing a value on flag: --${name}`, line);
    if (type === 'strings') (lists[name] ??= []).push(value);
    else out[name] = value;
  }
  return { flags: out, lists };
}

/** Splits an ARG word `NAME[=default]`. */
export function splitArg(word: string): { name: string; value: string | undefined } {
  const eq = word.indexOf('=');
  if (eq < 0) return { name: word, value: undefined };
  let value = word.slice(eq + 1);
  // ARG keeps quotes in the parse tree; a quoted default is taken without them, as BuildKit does.
  if (value.length >= 2 && ((value[0] === '"' && value.at(-1) === '"') || (value[0] === "'" && value.at(-1) === "'"))) value = value.slice(1, -1);
  return { name: word.slice(0, eq), value };
}

export interface PlanOptions {
  buildArgs?: Record<string, string>;
  /** The stage to stop at (its name or index); the last stage by default. */
  target?: string;
}

/** Dockerfile text -> plan. */
export function planDockerfile(text: string | Uint8Array, opts: PlanOptions = {}): Plan {
  const file = parse(text);
  const lex = new ShellLex({ escapeToken: file.escapeToken });
  const metaArgs: Plan['metaArgs'] = [];
  const stages: Stage[] = [];
  const buildArgs = opts.buildArgs ?? {};
  for (const ins of file.instructions) {
    const kw = ins.keyword.toLowerCase();
    const line = ins.startLine;
    if (kw === 'from') {
      parseFlags(kw, ins.flags, line);
      const args = ins.args;
      if (!(args.length === 1 || (args.length === 3 && args[1].toLowerCase() === 'as'))) {
        throw new PlanError('FROM requires either one or three arguments', line);
      }
      const env = (n: string): string | undefined => {
        if (n in buildArgs && metaArgs.some((a) => a.name === n)) return buildArgs[n];
        return metaArgs.find((a) => a.name === n)?.value;
      };
      const base = lex.processWord(args[0], env).result;
      if (!base) throw new PlanError(`base name (${args[0]}) should not be blank`, line);
      const name = args.length === 3 ? args[2].toLowerCase() : undefined;
      if (name !== undefined) {
        if (!/^[a-z][a-z0-9-_.]*$/.test(name)) throw new PlanError(`invalid name for build stage: "${args[2]}", name can't start with a number or contain symbols`, line);
        if (stages.some((s) => s.name === name)) throw new PlanError(`duplicate stage name "${name}"`, line);
      }
      const baseStage = stages.find((s) => s.name !== undefined && s.name === base.toLowerCase())?.index;
      stages.push({ index: stages.length, name, base, baseStage, fromText: ins.original, line, steps: [] });
      continue;
    }
    if (!KINDS.has(kw)) throw new PlanError(`unknown instruction: ${ins.keyword.toUpperCase()}`, line);
    const { flags, lists } = parseFlags(kw, ins.flags, line);
    const step: Step = { kind: kw as StepKind, instruction: ins, flags, lists, line, text: ins.original };
    validate(step);
    if (stages.length === 0) {
      if (kw !== 'arg') throw new PlanError('no build stage in current context', line);
      for (const w of ins.args) metaArgs.push(splitArg(w));
      continue;
    }
    stages.at(-1)!.steps.push(step);
  }
  if (stages.length === 0) throw new PlanError('the Dockerfile (Dockerfile) cannot be empty', 0);
  const target = findTarget(stages, opts.target);
  return { metaArgs, stages, order: closure(stages, target) };
}

function findTarget(stages: Stage[], target: string | undefined): number {
  if (target === undefined || target === '') return stages.length - 1;
  const t = target.toLowerCase();
  const s = stages.find((x) => x.name === t);
  if (!s) throw new PlanError(`target stage "${target}" could not be found`, 0);
  return s.index;
}

/**
 * A COPY --from value names a stage (by name, also a later one, or by an earlier index) or else an
 * image (undefined). A stage referring to itself or a later index is an error.
 */
export function stageRef(stages: Stage[], before: number, ref: string): number | undefined {
  const r = ref.toLowerCase();
  const byName = stages.find((s) => s.name === r);
  if (byName) return byName.index;
  if (/^\d+$/.test(r)) {
    const i = Number(r);
    if (i >= before) throw new PlanError(`invalid from flag value ${ref}: refers to current or later build stage`, stages[before].line);
    return i;
  }
  return undefined;
}

/**
 * The target and every stage it depends on (FROM stage, COPY --from), dependencies first. A cycle
 * of COPY --from is an error here, before any step runs.
 */
function closure(stages: Stage[], target: number): number[] {
  const order: number[] = [];
  const done = new Set<number>();
  const visiting = new Set<number>();
  const visit = (i: number, line: number) => {
    if (done.has(i)) return;
    const s = stages[i];
    if (visiting.has(i)) throw new PlanError(`circular dependency detected on stage: ${s.name ?? i}`, line);
    visiting.add(i);
    if (s.baseStage !== undefined) visit(s.baseStage, s.line);
    for (const st of s.steps) {
      for (const from of stepSources(st)) {
        const dep = stageRef(stages, i, from);
        if (dep !== undefined) visit(dep, st.line);
      }
    }
    visiting.delete(i);
    done.add(i);
    order.push(i);
  };
  visit(target, stages[target].line);
  return order;
}

/**
 * The stages or images a step reads from: `COPY --from`, and `from` of `RUN --mount` (which takes
 * no variables, so it is known before dispatch).
 */
export function stepSources(st: Step): string[] {
  if (st.kind === 'copy' && st.flags.from) return [st.flags.from];
  if (st.kind === 'run') return staticMounts(st).map((m) => m.from).filter(Boolean);
  return [];
}

/** A RUN's mounts as far as they are known before dispatch (values with variables unexpanded). */
export function staticMounts(st: Step): RunMountSpec[] {
  return (st.lists.mount ?? []).map((v) => {
    try {
      // Without variables the whole value can be checked now, before any step runs.
      return v.includes('$') ? parseMount(v) : parseMount(v, (w) => w);
    } catch (e) {
      throw new PlanError((e as Error).message, st.line);
    }
  });
}

function validate(s: Step): void {
  const a = s.instruction.args;
  const name = s.kind.toUpperCase();
  switch (s.kind) {
    case 'arg':
      if (a.length === 0) throw new PlanError('ARG requires at least one argument', s.line);
      break;
    case 'env': case 'label':
      if (a.length === 0) throw new PlanError(`${name} requires at least one argument`, s.line);
      break;
    case 'copy': case 'add':
      if (a.length < 2) throw new PlanError(`${name} requires at least two arguments, but only one was provided. Destination could not be determined`, s.line);
      break;
    case 'run':
      staticMounts(s);
      if (s.flags.network !== undefined && !['default', 'none', 'host'].includes(s.flags.network)) {
        throw new PlanError(`unsupported network mode ${JSON.stringify(s.flags.network)}`, s.line);
      }
      if (a.length === 0) throw new PlanError(`${name} requires at least one argument`, s.line);
      break;
    case 'workdir': case 'user': case 'stopsignal': case 'expose': case 'volume': case 'maintainer':
      if (a.length === 0 || (a.length === 1 && a[0] === '')) throw new PlanError(`${name} requires at least one argument`, s.line);
      break;
    case 'shell':
      if (!s.instruction.json) throw new PlanError('SHELL requires the arguments to be in JSON form', s.line);
      if (a.length === 0) throw new PlanError('SHELL requires at least one argument', s.line);
      break;
    case 'healthcheck': {
      const t = (a[0] ?? '').toUpperCase();
      if (t !== 'NONE' && t !== 'CMD') throw new PlanError(`Unknown type ${JSON.stringify(a[0] ?? '')} in HEALTHCHECK (try CMD)`, s.line);
      if (t === 'CMD' && a.length < 2) throw new PlanError('Missing command after HEALTHCHECK CMD', s.line);
      break;
    }
    case 'onbuild': {
      const t = s.instruction.trigger;
      const k = t?.keyword.toLowerCase() ?? '';
      if (k === 'onbuild') throw new PlanError('Chaining ONBUILD via `ONBUILD ONBUILD` isn\'t allowed', s.line);
      if (k === 'from' || k === 'maintainer') throw new PlanError(`${k.toUpperCase()} isn't allowed as an ONBUILD trigger`, s.line);
      break;
    }
    default:
      break;
  }
}
