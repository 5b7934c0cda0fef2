// Values that behave like the Go values docker formats: structs (fields in declaration order, Go's
// type name in template errors), nil maps (print "map[]", marshal as null), time.Time, and
// encoding/json's Marshal, MarshalIndent, Indent and Compact over them.
import { GO_PLAIN_VALUE, MAP_ZERO } from '../template/go-fmt';

/** Base of the objects goStruct makes: own fields in declaration order; JSON names kept on the prototype. */
abstract class GoStructBase {
  static jsonNames: Record<string, string> = {};
  static omitEmpty = new Set<string>();
}

/** encoding/json's "empty" for omitempty: false, 0, "", nil, and empty arrays and maps. */
function isEmptyValue(v: unknown): boolean {
  if (v === null || v === undefined || v === false || v === 0 || v === '' || (typeof v === 'bigint' && v === BigInt(0))) return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object' && !(v instanceof GoStructBase) && !(v instanceof GoTime)) {
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) return Object.keys(v).length === 0;
  }
  return false;
}

/** The fields a struct marshals, under their JSON names. */
function structEntries(x: GoStructBase): [string, unknown][] {
  const type = x.constructor as typeof GoStructBase;
  const obj = x as unknown as Record<string, unknown>;
  return Object.keys(obj)
    .filter((k) => !(type.omitEmpty.has(k) && isEmptyValue(obj[k])))
    .map((k) => [type.jsonNames[k] ?? k, obj[k]]);
}

const structTypes = new Map<string, typeof GoStructBase>();

/**
 * A Go struct value of type `typeName` (e.g. "volume.Volume") with `fields` in declaration order.
 * Templates see its fields (`{{.Name}}`), an unknown one fails with "can't evaluate field X in type
 * volume.Volume" as in Go. In JSON, `tags.json` renames fields (`ID` is marshalled as "Id") and
 * `tags.omitempty` leaves out empty ones, as the struct tags of the Go type say.
 */
export function goStruct<T extends Record<string, unknown>>(typeName: string, fields: T, tags: { json?: Record<string, string>; omitempty?: string[] } = {}): T {
  let C = structTypes.get(typeName);
  if (!C) {
    C = class extends GoStructBase {};
    Object.defineProperty(C, 'name', { value: typeName });
    C.jsonNames = tags.json ?? {};
    C.omitEmpty = new Set(tags.omitempty ?? []);
    Object.defineProperty(C.prototype, 'toJSON', {
      value(this: GoStructBase) { return Object.fromEntries(structEntries(this)); },
    });
    Object.defineProperty(C.prototype, GO_PLAIN_VALUE, { value: true });
    structTypes.set(typeName, C);
  }
  return Object.assign(Object.create(C.prototype) as T, fields);
}

/**
 * A Go map value: a plain object with its keys sorted (templates print it as "map[k:v]"), or for a
 * nil map an empty one that marshals as null, as Go does. `zero` is its element type's zero value,
 * what `index` gives for a missing key ("" for map[string]string).
 */
export function goMap(m: Record<string, unknown> | null | undefined, zero: unknown = null): Record<string, unknown> {
  let out: Record<string, unknown>;
  // Keys in Go's map order (sorted), so that JSON.stringify (the template json function) agrees too.
  if (m) out = Object.fromEntries(Object.keys(m).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((k) => [k, m[k]]));
  else {
    out = Object.create(null) as Record<string, unknown>;
    Object.defineProperty(out, 'toJSON', { value: () => null });
  }
  Object.defineProperty(out, MAP_ZERO, { value: zero });
  return out;
}

/** Go's time.Time for a timestamp from the API (RFC 3339): String() as Go prints it, JSON as sent. */
export class GoTime {
  constructor(readonly rfc3339: string) {}
  /**
   * time.Time.String(): "2006-01-02 15:04:05.999999999 -0700 MST". A parsed "Z" time is UTC; an
   * offset that is the local zone's takes the local zone's name; any other gets a fixed zone, whose
   * name Go prints as the offset again ("+0200 +0200").
   */
  toString(): string {
    const m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(this.rfc3339);
    if (!m) return this.rfc3339 ? this.rfc3339 : '0001-01-01 00:00:00 +0000 UTC';
    const [, date, time, frac = '', zone] = m;
    const fraction = frac.replace(/0+$/, '');
    const head = `${date} ${time}${fraction ? `.${fraction}` : ''}`;
    if (zone === 'Z') return `${head} +0000 UTC`;
    const offset = zone.replace(':', '');
    const offMinutes = (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));
    const at = new Date(this.rfc3339);
    if (-at.getTimezoneOffset() === offMinutes) {
      const name = offMinutes === 0 && localZoneIsUTC() ? 'UTC'
        : new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' }).formatToParts(at).find((x) => x.type === 'timeZoneName')?.value;
      if (name && !/^GMT[+-]/.test(name)) return `${head} ${offset} ${name}`;
    }
    return `${head} ${offset} ${offset}`;
  }
  toJSON(): string { return this.rfc3339; }
}

function localZoneIsUTC(): boolean {
  const tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
  return tz === 'UTC' || tz === 'Etc/UTC';
}

// encoding/json's string escaping: HTML characters and U+2028/2029 as \u escapes.
function quote(s: string, escapeHTML: boolean): string {
  let q = JSON.stringify(s).replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  if (escapeHTML) q = q.replace(/[<>&]/g, (c) => `\\u00${c.charCodeAt(0).toString(16)}`);
  return q;
}

const isGoMapObject = (v: object) => {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
};

/**
 * json.Marshal (indent "") or json.MarshalIndent(v, "", indent): maps (plain objects) with keys
 * sorted, structs (goStruct) in field order, HTML characters escaped.
 */
export function goMarshal(v: unknown, indent = '', escapeHTML = true): string {
  const nl = (depth: number) => (indent ? `\n${indent.repeat(depth)}` : '');
  const sep = indent ? ': ' : ':';
  const enc = (x: unknown, depth: number): string => {
    if (x === null || x === undefined) return 'null';
    if (typeof x === 'string') return quote(x, escapeHTML);
    if (typeof x === 'number') return Number.isFinite(x) ? JSON.stringify(x) : 'null';
    if (typeof x === 'bigint') return x.toString();
    if (typeof x === 'boolean') return x ? 'true' : 'false';
    if (Array.isArray(x)) {
      if (!x.length) return '[]';
      return `[${x.map((e) => nl(depth + 1) + enc(e, depth + 1)).join(',')}${nl(depth)}]`;
    }
    if (typeof x === 'object') {
      const obj = x as Record<string, unknown>;
      let entries: [string, unknown][];
      if (x instanceof GoStructBase) {
        entries = structEntries(x);
      } else if (isGoMapObject(x)) {
        if (typeof obj.toJSON === 'function') return enc((obj.toJSON as () => unknown)(), depth);
        entries = Object.keys(obj).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map((k) => [k, obj[k]]);
      } else if (typeof (x as { toJSON?: unknown }).toJSON === 'function') {
        return enc((x as { toJSON(): unknown }).toJSON(), depth);
      } else {
        entries = Object.entries(obj);
      }
      entries = entries.filter(([, e]) => e !== undefined);
      if (!entries.length) return '{}';
      return `{${entries.map(([k, e]) => `${nl(depth + 1)}${quote(k, escapeHTML)}${sep}${enc(e, depth + 1)}`).join(',')}${nl(depth)}}`;
    }
    return 'null';
  };
  return enc(v, 0);
}

/**
 * json.Indent(dst, src, "", indent), or json.Compact with indent "": re-lays out JSON text without
 * reordering or re-escaping anything (docker prints raw inspect answers this way).
 */
export function indentJSON(src: string, indent: string): string {
  let out = '';
  let depth = 0;
  let needIndent = false;
  const nl = (d: number) => (indent ? `\n${indent.repeat(d)}` : '');
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') continue;
    if (needIndent && c !== '}' && c !== ']') { needIndent = false; depth++; out += nl(depth); }
    if (c === '"') {
      let j = i + 1;
      while (j < src.length && src[j] !== '"') j += src[j] === '\\' ? 2 : 1;
      out += src.slice(i, j + 1);
      i = j;
      continue;
    }
    switch (c) {
      case '{': case '[': needIndent = true; out += c; break;
      case ',': out += c + nl(depth); break;
      case ':': out += indent ? ': ' : ':'; break;
      case '}': case ']':
        if (needIndent) needIndent = false;
        else { depth--; out += nl(depth); }
        out += c;
        break;
      default: out += c;
    }
  }
  return out;
}
