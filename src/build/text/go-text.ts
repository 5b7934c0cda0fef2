/**
 * Go's text semantics, as BuildKit's parser sees them, for a parser written over JS strings.
 *
 * BuildKit reads a Dockerfile as bytes and tolerates invalid UTF-8. We decode bytes the way Python's
 * `surrogateescape` does: every byte that is not part of valid UTF-8 becomes the lone surrogate
 * U+DC80..U+DCFF, which valid text never contains. So a byte survives the round trip
 * (`encodeGoBytes(decodeGoBytes(b))` equals `b`), `goQuote` can print it as Go does (`\xff`), and the
 * places where Go decodes runes (and sees utf8.RuneError) can map it to U+FFFD.
 */

const ESC_BASE = 0xdc00;

/** Decodes UTF-8 bytes; each invalid byte becomes U+DC80+(byte-0x80) (surrogate escape). */
export function decodeGoBytes(bytes: Uint8Array): string {
  // Fast path: valid UTF-8 (the common case) decodes natively.
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch { /* fall through to the byte-by-byte decoder */ }
  let out = '';
  let i = 0;
  while (i < bytes.length) {
    const [cp, width] = decodeRune(bytes, i);
    out += cp < 0 ? String.fromCharCode(ESC_BASE + bytes[i]) : String.fromCodePoint(cp);
    i += width;
  }
  return out;
}

/** One UTF-8 sequence at `i` as Go's utf8.DecodeRune sees it: [code point or -1 if invalid, width]. */
function decodeRune(b: Uint8Array, i: number): [number, number] {
  const b0 = b[i];
  if (b0 < 0x80) return [b0, 1];
  const cont = (k: number, lo = 0x80, hi = 0xbf) => i + k < b.length && b[i + k] >= lo && b[i + k] <= hi;
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? [((b0 & 0x1f) << 6) | (b[i + 1] & 0x3f), 2] : [-1, 1];
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf; // no encoded surrogates
    if (cont(1, lo, hi) && cont(2)) return [((b0 & 0x0f) << 12) | ((b[i + 1] & 0x3f) << 6) | (b[i + 2] & 0x3f), 3];
    return [-1, 1];
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf;
    if (cont(1, lo, hi) && cont(2) && cont(3)) {
      return [((b0 & 0x07) << 18) | ((b[i + 1] & 0x3f) << 12) | ((b[i + 2] & 0x3f) << 6) | (b[i + 3] & 0x3f), 4];
    }
  }
  return [-1, 1];
}

/** True for a code unit that stands for one raw invalid byte. */
export function isEscapedByte(cu: number): boolean {
  return cu >= 0xdc80 && cu <= 0xdcff;
}

/** Encodes back to the original bytes (escaped bytes are restored; other lone surrogates become U+FFFD). */
export function encodeGoBytes(s: string): Uint8Array {
  const out: number[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (isEscapedByte(cp)) { out.push(cp - ESC_BASE); continue; }
    const c = cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp;
    if (c < 0x80) out.push(c);
    else if (c < 0x800) out.push(0xc0 | (c >> 6), 0x80 | (c & 0x3f));
    else if (c < 0x10000) out.push(0xe0 | (c >> 12), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
    else out.push(0xf0 | (c >> 18), 0x80 | ((c >> 12) & 0x3f), 0x80 | ((c >> 6) & 0x3f), 0x80 | (c & 0x3f));
  }
  return Uint8Array.from(out);
}

/** The rune Go's decoder yields for one code point of ours: an escaped byte or lone surrogate is RuneError. */
export function goRune(cp: number): number {
  return cp >= 0xd800 && cp <= 0xdfff ? 0xfffd : cp;
}

/** Go's unicode.IsSpace (Unicode White_Space; unlike JS `\s` it includes U+0085 and excludes U+FEFF). */
export function isSpace(cp: number): boolean {
  if (cp <= 0xff) return cp === 0x20 || (cp >= 0x09 && cp <= 0x0d) || cp === 0x85 || cp === 0xa0;
  return cp === 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp === 0x2028 || cp === 0x2029 ||
    cp === 0x202f || cp === 0x205f || cp === 0x3000;
}

/** Go's strings.TrimLeftFunc(s, unicode.IsSpace). */
export function trimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length) {
    const cp = s.codePointAt(i)!;
    if (!isSpace(cp)) break;
    i += cp > 0xffff ? 2 : 1;
  }
  return s.slice(i);
}

/** Go's strings.TrimSpace. */
export function trimSpace(s: string): string {
  let end = s.length;
  while (end > 0) {
    const cu = s.charCodeAt(end - 1);
    // every Unicode space is in the BMP, so one code unit decides
    if (!isSpace(cu)) break;
    end--;
  }
  return trimLeftSpace(s.slice(0, end));
}

/** Go's strings.ToLower: per code point, simple case mapping (never changes the length in runes). */
export function goToLower(s: string): string {
  // ASCII fast path, the case for every real instruction keyword
  if (/^[\x00-\x7f]*$/.test(s)) return s.toLowerCase();
  let out = '';
  for (const ch of s) {
    if (ch === '\u0130') { out += 'i'; continue; } // Go's unicode.ToLower maps İ to plain i
    const lower = ch.toLowerCase();
    out += [...lower].length === 1 ? lower : ch;
  }
  return out;
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u;

/** Go's strconv.IsPrint. */
function isPrint(cp: number): boolean {
  if (cp <= 0xff) {
    if (cp >= 0x20 && cp < 0x7f) return true;
    if (cp >= 0xa1 && cp <= 0xff) return cp !== 0xad;
    return false;
  }
  return PRINTABLE.test(String.fromCodePoint(cp));
}

const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');

/** Go's strconv.Quote: a double-quoted Go string literal, non-printable characters escaped. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x22 || cp === 0x5c) { out += `\\${ch}`; continue; }
    if (isEscapedByte(cp)) { out += `\\x${hex(cp - ESC_BASE, 2)}`; continue; }
    if (cp >= 0xd800 && cp <= 0xdfff) { out += '\ufffd'; continue; } // Go never holds a surrogate
    if (isPrint(cp)) { out += ch; continue; }
    switch (cp) {
      case 0x07: out += '\\a'; continue;
      case 0x08: out += '\\b'; continue;
      case 0x0c: out += '\\f'; continue;
      case 0x0a: out += '\\n'; continue;
      case 0x0d: out += '\\r'; continue;
      case 0x09: out += '\\t'; continue;
      case 0x0b: out += '\\v'; continue;
    }
    if (cp < 0x20 || cp === 0x7f) out += `\\x${hex(cp, 2)}`;
    else if (cp < 0x10000) out += `\\u${hex(cp, 4)}`;
    else out += `\\U${hex(cp, 8)}`;
  }
  return `${out}"`;
}

/** fmt's `%q` of a []string: `["a" "b"]`. */
export function goQuoteList(list: readonly string[]): string {
  return `[${list.map(goQuote).join(' ')}]`;
}
