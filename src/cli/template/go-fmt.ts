// Go's fmt printing rules for the values templates see (JSON-shaped data and formatter objects).

/** A map lookup that found nothing: Go prints it as "<no value>". */
export const NO_VALUE: unique symbol = Symbol('no value');

/**
 * Set (non-enumerable) on a map value, the zero value of its element type: what `index` gives for a
 * missing key ("" for Go's map[string]string; nil, the default, for map[string]interface{}).
 */
export const MAP_ZERO = Symbol('goMapZero');

/**
 * Set on the prototype of plain Go values (structs without a MarshalJSON of their own): the
 * template function `json` encodes them with HTML escaping off, as docker's does, unlike the
 * formatter contexts, which marshal themselves with json.Marshal (escaping <, > and &).
 */
export const GO_PLAIN_VALUE = Symbol('goPlainValue');

export function isMap(v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** Formats a float like Go's %v (strconv 'g', shortest; exponent when < -4 or >= 21). */
export function formatFloat(n: number): string {
  if (Number.isInteger(n) && Math.abs(n) < 1e21) return n.toFixed(0);
  if (Number.isNaN(n)) return 'NaN';
  if (!Number.isFinite(n)) return n > 0 ? '+Inf' : '-Inf';
  const exp = Math.floor(Math.log10(Math.abs(n)));
  if (exp < -4 || exp >= 21) return goExp(n.toExponential());
  return String(n);
}

/** JS exponent notation "1.5e+7" -> Go's "1.5e+07". */
function goExp(s: string): string {
  return s.replace(/e([+-])(\d)$/, 'e$10$2');
}

/** Go's %g with a precision (as go-units' "%.*g"). */
export function formatG(n: number, prec: number): string {
  if (n === 0) return '0';
  if (prec === 0) prec = 1;
  const exp = Math.floor(Math.log10(Math.abs(Number(n.toPrecision(prec)))));
  let s: string;
  if (exp < -4 || exp >= prec) {
    s = n.toExponential(prec - 1);
    s = s.replace(/\.?0+e/, 'e');
    return goExp(s);
  }
  s = n.toFixed(Math.max(0, prec - 1 - exp));
  if (s.includes('.')) s = s.replace(/\.?0+$/, '');
  return s;
}

/** strconv.Quote: a double-quoted Go string literal. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c === 12) out += '\\f';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 11) out += '\\v';
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, '0')}`;
    else if (c >= 0x80 && c < 0xa0) out += `\\u${c.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

/** fmt's %v. */
export function formatValue(v: unknown, top = true): string {
  if (v === NO_VALUE) return '<no value>';
  if (v === null || v === undefined) return '<nil>';
  switch (typeof v) {
    case 'string': return v;
    case 'number': return formatFloat(v);
    case 'bigint': return v.toString();
    case 'boolean': return v ? 'true' : 'false';
    case 'function': return `0x${'0'.repeat(6)}`;
    default: break;
  }
  if (Array.isArray(v)) return `[${v.map((x) => formatValue(x, false)).join(' ')}]`;
  if (v instanceof Date) return v.toISOString();
  if (Buffer.isBuffer(v)) return `[${[...v].join(' ')}]`;
  if (isMap(v)) {
    const keys = Object.keys(v).sort();
    return `map[${keys.map((k) => `${k}:${formatValue(v[k], false)}`).join(' ')}]`;
  }
  const s = (v as { toString(): string }).toString;
  if (typeof s === 'function' && s !== Object.prototype.toString) return String(v);
  void top;
  return `{${Object.values(v as object).map((x) => formatValue(x, false)).join(' ')}}`;
}

/** The Go type name used in error messages. */
export function goTypeName(v: unknown): string {
  if (v === null || v === undefined || v === NO_VALUE) return 'interface {}';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float64';
  if (typeof v === 'bigint') return 'int64';
  if (typeof v === 'boolean') return 'bool';
  if (Array.isArray(v)) return '[]interface {}';
  if (isMap(v)) return 'map[string]interface {}';
  if (typeof v === 'function') return 'func';
  return (v as object).constructor?.name ?? 'struct';
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a);
  });
  return out;
}

/** fmt.Sprintln: always spaces, and a newline. */
export function sprintln(args: unknown[]): string {
  return args.map((a) => formatValue(a)).join(' ') + '\n';
}

/** fmt.Sprintf with the common verbs (%v %+v %s %q %d %x %X %o %b %f %e %g %t %c %T %%), flags, width and precision. */
export function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c !== '%') { out += c; continue; }
    let j = i + 1;
    const flags = { minus: false, plus: false, sharp: false, zero: false, space: false };
    for (; j < format.length; j++) {
      const f = format[j];
      if (f === '-') flags.minus = true;
      else if (f === '+') flags.plus = true;
      else if (f === '#') flags.sharp = true;
      else if (f === '0') flags.zero = true;
      else if (f === ' ') flags.space = true;
      else break;
    }
    let width: number | undefined;
    let prec: number | undefined;
    const num = () => { const m = /^\d+/.exec(format.slice(j)); if (!m) return undefined; j += m[0].length; return Number(m[0]); };
    if (format[j] === '*') { j++; width = Number(args[argi++]); } else width = num();
    if (format[j] === '.') {
      j++;
      if (format[j] === '*') { j++; prec = Number(args[argi++]); } else prec = num() ?? 0;
    }
    const verb = format[j];
    i = j;
    if (verb === undefined) { out += '%!(NOVERB)'; break; }
    if (verb === '%') { out += '%'; continue; }
    if (argi >= args.length) { out += `%!${verb}(MISSING)`; continue; }
    const a = args[argi++];
    let s: string;
    switch (verb) {
      case 'v': s = formatValue(a); if (typeof a === 'number' && prec !== undefined) s = a.toFixed(prec); break;
      case 's': s = typeof a === 'string' ? a : formatValue(a); if (prec !== undefined) s = [...s].slice(0, prec).join(''); break;
      case 'q': s = typeof a === 'number' ? `'${String.fromCodePoint(a)}'` : goQuote(typeof a === 'string' ? a : formatValue(a)); break;
      case 'd':
        if (typeof a !== 'number') { s = `%!d(${goTypeName(a)}=${formatValue(a)})`; break; }
        s = Math.trunc(a).toString(); break;
      case 'x': case 'X': {
        if (typeof a === 'number') s = Math.trunc(a).toString(16);
        else s = Buffer.from(typeof a === 'string' ? a : formatValue(a)).toString('hex');
        if (verb === 'X') s = s.toUpperCase();
        if (flags.sharp) s = (verb === 'X' ? '0X' : '0x') + s;
        break;
      }
      case 'o': s = typeof a === 'number' ? Math.trunc(a).toString(8) : `%!o(${goTypeName(a)}=${formatValue(a)})`; break;
      case 'b': s = typeof a === 'number' ? Math.trunc(a).toString(2) : `%!b(${goTypeName(a)}=${formatValue(a)})`; break;
      case 'f': case 'F': s = typeof a === 'number' ? a.toFixed(prec ?? 6) : `%!f(${goTypeName(a)}=${formatValue(a)})`; break;
      case 'e': case 'E': {
        s = typeof a === 'number' ? goExp(a.toExponential(prec ?? 6)) : `%!e(${goTypeName(a)}=${formatValue(a)})`;
        if (verb === 'E') s = s.toUpperCase();
        break;
      }
      case 'g': case 'G': s = typeof a === 'number' ? (prec !== undefined ? formatG(a, prec) : formatFloat(a)) : `%!g(${goTypeName(a)}=${formatValue(a)})`; break;
      case 't': s = typeof a === 'boolean' ? String(a) : `%!t(${goTypeName(a)}=${formatValue(a)})`; break;
      case 'c': s = typeof a === 'number' ? String.fromCodePoint(a) : `%!c(${goTypeName(a)}=${formatValue(a)})`; break;
      case 'T': s = goTypeName(a); break;
      default: s = `%!${verb}(${goTypeName(a)}=${formatValue(a)})`;
    }
    if ((verb === 'd' || verb === 'f' || verb === 'e' || verb === 'g') && typeof a === 'number') {
      if (flags.plus && a >= 0) s = `+${s}`;
      else if (flags.space && a >= 0) s = ` ${s}`;
    }
    if (width !== undefined && [...s].length < width) {
      const padLen = width - [...s].length;
      if (flags.minus) s = s + ' '.repeat(padLen);
      else if (flags.zero && typeof a === 'number' && verb !== 's' && verb !== 'v') {
        const sign = /^[+-]/.test(s) ? s[0] : '';
        s = sign + '0'.repeat(padLen) + s.slice(sign.length);
      } else s = ' '.repeat(padLen) + s;
    }
    out += s;
  }
  if (argi < args.length) {
    out += `%!(EXTRA ${args.slice(argi).map((a) => `${goTypeName(a)}=${formatValue(a)}`).join(', ')})`;
  }
  return out;
}
