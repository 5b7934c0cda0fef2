/**
 * `RUN --mount=...`: the flag's value parsed as BuildKit parses it
 * (frontend/dockerfile/instructions/commands_runmount.go): CSV fields `key=value` (a few keys may
 * stand alone), the same defaults (type bind, read-only unless cache or tmpfs), the same checks
 * and the same error messages, with "did you mean" suggestions. Pure.
 *
 * Without an expander (plan time) values are left unexpanded and unchecked, as BuildKit's first
 * pass does; only a `from` holding a variable is refused there. With one (dispatch time, the
 * stage's environment) every value is expanded, then checked.
 */
import { invalidArgument } from '../base/errors';
import { csvFields as csvRecord } from '../base/csv';

export type MountType = 'bind' | 'cache' | 'tmpfs' | 'secret' | 'ssh';
export type CacheSharing = 'shared' | 'private' | 'locked';

export interface RunMountSpec {
  type: MountType;
  from: string;
  source: string;
  target: string;
  readOnly: boolean;
  /** tmpfs `size`, bytes (0: the kernel's default). */
  sizeLimit: number;
  /** `id`: the cache ID, or the secret's / SSH agent's ID. */
  id: string;
  sharing: CacheSharing | '';
  required: boolean;
  /** A secret's environment variable (newer BuildKit). */
  env?: string;
  mode?: number;
  uid?: number;
  gid?: number;
}

const TYPES: MountType[] = ['bind', 'cache', 'tmpfs', 'secret', 'ssh'];
const SHARINGS: CacheSharing[] = ['shared', 'private', 'locked'];
const ALL_KEYS = ['type', 'from', 'source', 'target', 'readonly', 'id', 'sharing', 'required', 'size', 'mode', 'uid', 'gid', 'src', 'dst', 'destination', 'ro', 'rw', 'readwrite', 'env'];

/** Parses one `--mount` value; `expand` expands a value with the stage's variables. */
export function parseMount(val: string, expand?: (word: string) => string): RunMountSpec {
  const fields = csvFields(val);
  const m: RunMountSpec = { type: 'bind', from: '', source: '', target: '', readOnly: false, sizeLimit: 0, id: '', sharing: '', required: false };
  let roAuto = true;
  for (const field of fields) {
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).toLowerCase();
    let value = eq < 0 ? '' : field.slice(eq + 1);
    if (eq < 0) {
      if (!expand) continue; // evaluated later
      if (key === 'readonly' || key === 'ro') { m.readOnly = true; roAuto = false; continue; }
      if (key === 'readwrite' || key === 'rw') { m.readOnly = false; roAuto = false; continue; }
      if (key === 'required') {
        if (m.type === 'secret' || m.type === 'ssh') { m.required = true; continue; }
        throw invalidArgument(`unexpected key '${key}' for mount type '${m.type}'`);
      }
      throw invalidArgument(`invalid field '${field}' must be a key=value pair`);
    }
    if (expand) value = expand(value);
    else if (key === 'from') {
      const i = value.indexOf('$');
      if (i !== -1 && i !== value.length - 1) throw invalidArgument(`'${key}' doesn't support variable expansion, define alias stage instead`);
    } else continue;
    switch (key) {
      case 'type': {
        const v = value.toLowerCase() as MountType;
        if (!TYPES.includes(v)) throw invalidArgument(suggest(`unsupported mount type ${goQuote(value)}`, value, TYPES));
        m.type = v;
        break;
      }
      case 'from': m.from = value; break;
      case 'source': case 'src': m.source = value; break;
      case 'target': case 'dst': case 'destination': m.target = value; break;
      case 'readonly': case 'ro': m.readOnly = parseBool(value, key); roAuto = false; break;
      case 'readwrite': case 'rw': m.readOnly = !parseBool(value, key); roAuto = false; break;
      case 'required':
        if (m.type !== 'secret' && m.type !== 'ssh') throw invalidArgument(`unexpected key '${key}' for mount type '${m.type}'`);
        m.required = parseBool(value, key);
        break;
      case 'size':
        if (m.type !== 'tmpfs') throw invalidArgument(`unexpected key '${key}' for mount type '${m.type}'`);
        m.sizeLimit = ramInBytes(value, key);
        break;
      case 'id': m.id = value; break;
      case 'sharing': {
        const v = value.toLowerCase() as CacheSharing;
        if (!SHARINGS.includes(v)) throw invalidArgument(suggest(`unsupported sharing value ${goQuote(value)}`, value, SHARINGS));
        m.sharing = v;
        break;
      }
      case 'mode': {
        if (!/^[+]?[0-7]+$/.test(value) || parseInt(value, 8) > 0xffffffff) throw invalidArgument(`invalid value ${value} for mode`);
        m.mode = parseInt(value, 8);
        break;
      }
      case 'uid': case 'gid': {
        if (!/^[+]?\d+$/.test(value) || Number(value) > 0xffffffff) throw invalidArgument(`invalid value ${value} for ${key}`);
        m[key] = Number(value);
        break;
      }
      case 'env': m.env = value; break;
      default:
        throw invalidArgument(suggest(`unexpected key '${key}' in '${field}'`, key, ALL_KEYS));
    }
  }
  const fileInfoAllowed = m.type === 'secret' || m.type === 'ssh' || m.type === 'cache';
  if (!fileInfoAllowed) {
    if (m.mode !== undefined) throw invalidArgument(`mode not allowed for ${goQuote(m.type)} type mounts`);
    if (m.uid !== undefined) throw invalidArgument(`uid not allowed for ${goQuote(m.type)} type mounts`);
    if (m.gid !== undefined) throw invalidArgument(`gid not allowed for ${goQuote(m.type)} type mounts`);
  }
  if (roAuto) m.readOnly = !(m.type === 'cache' || m.type === 'tmpfs');
  if (m.type === 'secret') {
    if (m.from) throw invalidArgument('secret mount should not have a from');
    if (m.sharing) throw invalidArgument('secret mount should not define sharing');
    if (!m.source && !m.target && !m.id && expand) throw invalidArgument('invalid secret mount. one of source, target required');
    if (m.source && m.id) throw invalidArgument("both source and id can't be set");
  }
  if (m.sharing && m.type !== 'cache') throw invalidArgument(`invalid cache sharing set for ${m.type} mount`);
  return m;
}

/** Go's strconv.ParseBool. */
function parseBool(v: string, key: string): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return false;
  throw invalidArgument(`invalid value for ${key}: ${v}`);
}

/** go-units RAMInBytes: `64m`, `1.5g`, `512` (binary multipliers; optional i/b suffix). */
export function ramInBytes(v: string, key = 'size'): number {
  const m = /^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$/.exec(v);
  if (!m) throw invalidArgument(`invalid value for ${key}: ${v}`);
  const mult = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 }[(m[2] ?? '').toLowerCase()]!;
  return Math.trunc(parseFloat(m[1]) * mult);
}

/** A --mount value's CSV fields (errors worded as BuildKit's). */
export function csvFields(line: string): string[] {
  return csvRecord(line, 'failed to parse csv mounts');
}

function goQuote(s: string): string {
  return JSON.stringify(s);
}

/** BuildKit's suggest.WrapError: the closest option within edit distance 2, "(did you mean x?)". */
export function suggest(message: string, value: string, options: readonly string[]): string {
  const val = value.toLowerCase();
  let match = '';
  let min = 3;
  for (const o of options) {
    const opt = o.toLowerCase();
    if (opt === val) return message;
    const d = levenshtein(val, opt);
    if (d < min) { min = d; match = value === value.toUpperCase() && value !== value.toLowerCase() ? opt.toUpperCase() : opt; }
  }
  return match ? `${message} (did you mean ${match}?)` : message;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0];
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j];
      prev[j] = Math.min(prev[j] + 1, prev[j - 1] + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length];
}
