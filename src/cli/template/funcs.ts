// The functions templates can call: Go's text/template builtins plus docker's extras
// (json, join, split, title, lower, upper, pad, truncate), as in docker/cli templates/templates.go.
import { GO_PLAIN_VALUE, MAP_ZERO, NO_VALUE, formatValue, goTypeName, isMap, sprint, sprintf, sprintln } from './go-fmt';

export type TemplateFunc = (...args: unknown[]) => unknown;

/** Raised by a function; the executor wraps it as Go does: "error calling NAME: MSG". */
export class FuncError extends Error {}

export function truth(v: unknown): boolean {
  if (v === NO_VALUE || v === null || v === undefined) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return Object.keys(v).length > 0;
  return true;
}

type Kind = 'string' | 'number' | 'bool' | 'nil' | 'other';
const basicKind = (v: unknown): Kind =>
  v === null || v === undefined || v === NO_VALUE ? 'nil'
    : typeof v === 'string' ? 'string' : typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'bool' : 'other';

function eq(arg1: unknown, ...rest: unknown[]): boolean {
  if (!rest.length) throw new FuncError('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (const a of rest) {
    const k2 = basicKind(a);
    if (k1 === 'nil' || k2 === 'nil') { if (k1 === k2) return true; if (k1 === 'other' || k2 === 'other') continue; throw new FuncError('incompatible types for comparison'); }
    if (k1 === 'other' || k2 === 'other') throw new FuncError('invalid type for comparison');
    if (k1 !== k2) throw new FuncError('incompatible types for comparison');
    if (arg1 === a) return true;
  }
  return false;
}

function lt(a: unknown, b: unknown): boolean {
  const k1 = basicKind(a), k2 = basicKind(b);
  if (k1 === 'bool' || k1 === 'nil' || k1 === 'other' || k2 === 'bool' || k2 === 'nil' || k2 === 'other') throw new FuncError('invalid type for comparison');
  if (k1 !== k2) throw new FuncError('incompatible types for comparison');
  return (a as number) < (b as number);
}

function length(v: unknown): number {
  if (typeof v === 'string') return Buffer.byteLength(v);
  if (Array.isArray(v)) return v.length;
  if (isMap(v)) return Object.keys(v).length;
  throw new FuncError(`len of type ${goTypeName(v)}`);
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  let v = item;
  for (const ix of indexes) {
    if (v === null || v === undefined || v === NO_VALUE) throw new FuncError('index of untyped nil');
    if (Array.isArray(v) || typeof v === 'string') {
      if (typeof ix !== 'number') throw new FuncError(`cannot index slice/array with type ${goTypeName(ix)}`);
      if (ix < 0 || ix >= v.length) throw new FuncError(`index out of range: ${ix}`);
      v = typeof v === 'string' ? Buffer.from(v)[ix] : v[ix];
    } else if (isMap(v)) {
      v = Object.prototype.hasOwnProperty.call(v, String(ix)) ? v[String(ix)] : ((v as { [MAP_ZERO]?: unknown })[MAP_ZERO] ?? null);
    } else throw new FuncError(`can't index item of type ${goTypeName(v)}`);
  }
  return v;
}

function slice(item: unknown, ...idx: unknown[]): unknown {
  if (typeof item !== 'string' && !Array.isArray(item)) throw new FuncError(`can't slice item of type ${goTypeName(item)}`);
  if (idx.length > 3 || (typeof item === 'string' && idx.length > 2)) throw new FuncError(`too many slice indexes: ${idx.length}`);
  const n = idx.map((x) => { if (typeof x !== 'number') throw new FuncError(`cannot index slice/array with type ${goTypeName(x)}`); return x; });
  const lo = n[0] ?? 0, hi = n[1] ?? item.length;
  if (lo < 0 || hi > item.length || lo > hi) throw new FuncError(`index out of range: ${lo > hi ? lo : hi}`);
  return typeof item === 'string' ? Buffer.from(item).subarray(lo, hi).toString() : item.slice(lo, hi);
}

const BIGINT_MARK = '\u2063int64:';
const BIGINT_JSON = /"\u2063int64:(-?\d+)"/g;

/** encoding/json with SetEscapeHTML(false), as docker's `json` function. */
export function goJSON(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return 'null';
  // int64 values beyond 2^53 (event timeNano) are BigInts: written as their digits.
  const s = JSON.stringify(v, (_k, x) => (x === NO_VALUE ? null : typeof x === 'bigint' ? `${BIGINT_MARK}${x}` : x));
  let out = (s ?? 'null').replace(BIGINT_JSON, '$1').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  // docker's formatter contexts marshal themselves with json.Marshal, which escapes <, > and &
  // ("Digest":"\u003cnone\u003e" in `images --format json`); plain values keep them.
  if (v !== null && typeof v === 'object' && !(v instanceof Date) && typeof (v as { toJSON?: unknown }).toJSON === 'function' && !(v as { [GO_PLAIN_VALUE]?: boolean })[GO_PLAIN_VALUE]) {
    out = out.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  }
  return out;
}

const str = (v: unknown): string => (typeof v === 'string' ? v : formatValue(v));

function htmlEscape(s: string): string {
  return s.replace(/[&'<>"\0]/g, (c) => ({ '&': '&amp;', "'": '&#39;', '<': '&lt;', '>': '&gt;', '"': '&#34;', '\0': '\uFFFD' })[c]!);
}

export const BUILTINS: Record<string, TemplateFunc> = {
  // and/or/not are evaluated lazily by the executor; these are fallbacks.
  and: (...a) => { for (const x of a) if (!truth(x)) return x; return a[a.length - 1]; },
  or: (...a) => { for (const x of a) if (truth(x)) return x; return a[a.length - 1]; },
  not: (a) => !truth(a),
  eq: (a, ...b) => eq(a, ...b),
  ne: (a, b) => !eq(a, b),
  lt: (a, b) => lt(a, b),
  le: (a, b) => lt(a, b) || eq(a, b),
  gt: (a, b) => !lt(a, b) && !eq(a, b),
  ge: (a, b) => !lt(a, b),
  len: (a) => length(a),
  index: (a, ...i) => index(a, ...i),
  slice: (a, ...i) => slice(a, ...i),
  print: (...a) => sprint(a),
  printf: (f, ...a) => sprintf(str(f), a),
  println: (...a) => sprintln(a),
  html: (...a) => htmlEscape(sprint(a)),
  js: (...a) => sprint(a).replace(/[\\'"<>&=\n\r\t]/g, (c) => ({ '\\': '\\\\', "'": "\\'", '"': '\\"', '<': '\\u003C', '>': '\\u003E', '&': '\\u0026', '=': '\\u003D', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!),
  urlquery: (...a) => encodeURIComponent(sprint(a)).replace(/%20/g, '+'),
  call: (fn, ...a) => { if (typeof fn !== 'function') throw new FuncError(`non-function of type ${goTypeName(fn)}`); return (fn as TemplateFunc)(...a); },
  // docker/cli templates.basicFunctions
  json: (v) => goJSON(v),
  split: (s, sep) => str(s).split(str(sep)),
  join: (a, sep) => {
    if (!Array.isArray(a)) throw new FuncError(`wrong type for value; expected []string; got ${goTypeName(a)}`);
    return a.map(str).join(str(sep));
  },
  title: (s) => str(s).replace(/(^|[^\p{L}\p{N}_'])(\p{L})/gu, (_m, pre: string, c: string) => pre + c.toUpperCase()),
  lower: (s) => str(s).toLowerCase(),
  upper: (s) => str(s).toUpperCase(),
  pad: (s, prefix, suffix) => { const v = str(s); return v === '' ? v : ' '.repeat(Number(prefix)) + v + ' '.repeat(Number(suffix)); },
  truncate: (s, n) => { const v = str(s); const b = Buffer.from(v); return b.length < Number(n) ? v : b.subarray(0, Number(n)).toString(); },
};
