/**
 * One logical Dockerfile line (continuations already joined) -> one instruction node, with
 * BuildKit's per-instruction argument rules (frontend/dockerfile/parser/line_parsers.go and
 * split_command.go). Quirks are kept on purpose, since Dockerfiles in the wild rely on them; each is
 * noted where it happens.
 */
import { decodeGoBytes, encodeGoBytes, goQuote, goRune, isSpace, goToLower, trimLeftSpace, trimSpace } from '../text/go-text';
import type { Instruction } from './ast';

/** Whitespace as BuildKit's `reWhitespace` sees it (no `\n`: lines never contain one). */
const WHITESPACE = /[\t\v\f\r ]+/;

/** A malformed line; the caller adds the line numbers. */
export class LineError extends Error {}

interface Parsed {
  args: string[];
  json?: boolean;
  trigger?: Instruction;
}

type LineParser = (rest: string, escape: number) => Parsed | null;

const parseMaybeJSONThen = (fallback: (rest: string) => string[]): LineParser => (rest) => {
  const json = parseJSON(rest);
  if (json) return { args: json, json: true };
  return { args: fallback(rest) };
};

/** CMD, ENTRYPOINT, RUN, SHELL: a JSON string array (exec form), else the whole text (shell form). */
const parseMaybeJSON: LineParser = (rest) => (rest === '' ? null : parseMaybeJSONThen((r) => [r])(rest, 0));
/** ADD, COPY, VOLUME: a JSON string array, else whitespace-separated words. */
const parseMaybeJSONToList = parseMaybeJSONThen(splitWhitespace);

const DISPATCH = new Map<string, LineParser>([
  ['add', parseMaybeJSONToList],
  ['arg', (rest, escape) => ({ args: parseWords(rest, escape) })],
  ['cmd', parseMaybeJSON],
  ['copy', parseMaybeJSONToList],
  ['entrypoint', parseMaybeJSON],
  ['env', (rest, escape) => parseNameVal(rest, 'ENV', escape)],
  ['expose', (rest) => ({ args: splitWhitespace(rest) })],
  ['from', (rest) => ({ args: splitWhitespace(rest) })],
  ['healthcheck', parseHealthConfig],
  ['label', (rest, escape) => parseNameVal(rest, 'LABEL', escape)],
  ['maintainer', parseString],
  ['onbuild', parseSubCommand],
  ['run', parseMaybeJSON],
  ['shell', parseMaybeJSON],
  ['stopsignal', parseString],
  ['user', parseString],
  ['volume', parseMaybeJSONToList],
  ['workdir', parseString],
]);

/** True for the keywords the parser knows (others still parse, with their arguments dropped). */
export function isKnownKeyword(keyword: string): boolean {
  return DISPATCH.has(goToLower(keyword));
}

/**
 * Parses one logical line into an instruction (lines and heredocs are filled in by the caller).
 * An unknown keyword is not an error here, as in BuildKit: its arguments are dropped (the node
 * keeps a single empty argument) and the next stage reports it.
 */
export function parseLine(line: string, escape: number, comments: string[]): Instruction {
  const { keyword, flags, rest } = splitCommand(line, escape);
  const fn = DISPATCH.get(goToLower(keyword));
  const parsed: Parsed | null = fn ? fn(rest, escape) : { args: [''] };
  return {
    keyword,
    flags,
    args: parsed?.args ?? [],
    trigger: parsed?.trigger,
    json: parsed?.json ?? false,
    heredocs: [],
    original: line,
    startLine: 0,
    endLine: 0,
    comments,
  };
}

/** The keyword, the leading `--flags`, and the rest of the line (trimmed). */
export function splitCommand(line: string, escape: number): { keyword: string; flags: string[]; rest: string } {
  const trimmed = trimSpace(line);
  const m = WHITESPACE.exec(trimmed);
  if (!m) return { keyword: trimmed, flags: [], rest: '' };
  const { rest, flags } = extractFlags(trimmed.slice(m.index + m[0].length), escape);
  return { keyword: trimmed.slice(0, m.index), flags, rest: trimSpace(rest) };
}

/**
 * Takes the leading words that start with `--` (quotes and the escape token group and are removed);
 * a lone `--` ends them. BuildKit scans bytes here, not runes: a non-ASCII byte becomes the rune of
 * the same number (so `é` in a flag reads as `Ã©`), and the bytes 0x85 and 0xA0 count as blanks.
 * We scan the UTF-8 bytes the same way.
 */
function extractFlags(text: string, escape: number): { rest: string; flags: string[] } {
  const b = encodeGoBytes(text);
  const restAt = (pos: number) => decodeGoBytes(b.subarray(pos));
  const words: string[] = [];
  let word = '';
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = 0;
  let blankOK = false;
  for (let pos = 0; pos <= b.length; pos++) {
    let ch = pos < b.length ? b[pos] : -1;
    if (phase === 'spaces') {
      if (pos === b.length) break;
      if (isSpace(ch)) continue;
      if (ch !== 0x2d || pos + 1 === b.length || b[pos + 1] !== 0x2d) return { rest: restAt(pos), flags: words };
      phase = 'word';
    }
    if (pos === b.length) {
      if (word !== '--' && (blankOK || word.length > 0)) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (word === '--') return { rest: restAt(pos), flags: words };
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === 0x27 || ch === 0x22) {
        quote = ch;
        blankOK = true;
        phase = 'quote';
        continue;
      }
      if (ch === escape) {
        if (pos + 1 === b.length) continue; // an escape at the end is dropped
        ch = b[++pos];
      }
      word += String.fromCharCode(ch);
      continue;
    }
    // in quotes
    if (ch === quote) {
      phase = 'word';
      continue;
    }
    if (ch === escape) {
      if (pos + 1 === b.length) {
        phase = 'word';
        continue;
      }
      ch = b[++pos];
    }
    word += String.fromCharCode(ch);
  }
  return { rest: '', flags: words };
}

/**
 * Splits into words on whitespace; quotes group (and are kept), the escape token is kept with the
 * character it escapes (BuildKit's parseWords; quotes and escapes are removed later, when the
 * builder expands variables).
 */
export function parseWords(rest: string, escape: number): string[] {
  const runes = Array.from(rest, (c) => goRune(c.codePointAt(0)!));
  const words: string[] = [];
  let phase: 'spaces' | 'word' | 'quote' = 'spaces';
  let quote = 0;
  let blankOK = false;
  let word = '';
  const n = runes.length;
  for (let pos = 0; pos <= n; pos++) {
    let ch = pos < n ? runes[pos] : -1;
    if (phase === 'spaces') {
      if (pos === n) break;
      if (isSpace(ch)) continue;
      phase = 'word';
    }
    if (pos === n) {
      if (blankOK || word.length > 0) words.push(word);
      break;
    }
    if (phase === 'word') {
      if (isSpace(ch)) {
        phase = 'spaces';
        if (blankOK || word.length > 0) words.push(word);
        word = '';
        blankOK = false;
        continue;
      }
      if (ch === 0x27 || ch === 0x22) {
        quote = ch;
        blankOK = true;
        phase = 'quote';
      }
      if (ch === escape) {
        if (pos + 1 === n) continue; // an escape at the end is dropped
        // outside quotes the escape and the escaped character are both kept, even a quote
        word += String.fromCodePoint(ch);
        ch = runes[++pos];
      }
      word += String.fromCodePoint(ch);
      continue;
    }
    // in quotes
    if (ch === quote) phase = 'word';
    // the escape token means nothing inside single quotes
    if (ch === escape && quote !== 0x27) {
      if (pos + 1 === n) {
        phase = 'word';
        continue;
      }
      word += String.fromCodePoint(ch);
      ch = runes[++pos];
    }
    word += String.fromCodePoint(ch);
  }
  return words;
}

/** BuildKit's whitespace split, with the empty string giving no words. */
function splitWhitespace(rest: string): string[] {
  return rest === '' ? [] : rest.split(WHITESPACE);
}

function parseString(rest: string): Parsed | null {
  return rest === '' ? null : { args: [rest] };
}

/**
 * ENV and LABEL: `KEY=value ...` (each pair gives the arguments key, value, "="), or the legacy
 * `KEY value with spaces` (key, value, ""), chosen by whether the first word has an `=`.
 */
function parseNameVal(rest: string, keyword: string, escape: number): Parsed | null {
  const words = parseWords(rest, escape);
  if (words.length === 0) return null;
  if (!words[0].includes('=')) {
    const m = WHITESPACE.exec(rest);
    if (!m) throw new LineError(`${keyword} must have two arguments`);
    return { args: [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ''] };
  }
  const args: string[] = [];
  for (const word of words) {
    const eq = word.indexOf('=');
    if (eq < 0) throw new LineError(`Syntax error - can't find = in ${goQuote(word)}. Must be of the form: name=value`);
    args.push(word.slice(0, eq), word.slice(eq + 1), '=');
  }
  return { args };
}

/** ONBUILD: the rest of the line is an instruction of its own. */
function parseSubCommand(rest: string, escape: number): Parsed | null {
  if (rest === '') return null;
  return { args: [], trigger: parseLine(rest, escape, []) };
}

/**
 * HEALTHCHECK: the first word is the type (`CMD`, `NONE`, or anything: checked later), the rest is
 * parsed like CMD. Like BuildKit we find the first word by bytes.
 */
function parseHealthConfig(rest: string, escape: number): Parsed | null {
  const b = encodeGoBytes(rest);
  let sep = 0;
  while (sep < b.length && !isSpace(b[sep])) sep++;
  let next = sep;
  while (next < b.length && isSpace(b[next])) next++;
  if (sep === 0) return null;
  const type = decodeGoBytes(b.subarray(0, sep));
  const cmd = parseMaybeJSON(decodeGoBytes(b.subarray(next)), escape);
  return { args: [type, ...(cmd?.args ?? [])], json: cmd?.json };
}

/** The one error that stops the JSON form from falling back to the shell form. */
const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

/**
 * A JSON array of strings, or null when the text is not valid JSON (then the caller falls back to
 * the shell form). Valid JSON that is an array of anything but strings is an error.
 */
function parseJSON(rest: string): string[] | null {
  const text = trimLeftSpace(rest);
  if (!text.startsWith('[')) return null;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  // Go's decoder fails (and BuildKit falls back to the shell form) on a number out of float64 range,
  // which JSON.parse turns into Infinity.
  if (hasOverflow(value)) return null;
  if (!Array.isArray(value)) return null;
  return value.map((v) => {
    if (typeof v !== 'string') throw new LineError(NOT_STRING_ARRAY);
    // Go decodes lone surrogates and invalid UTF-8 in JSON strings as U+FFFD
    return v.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  });
}

function hasOverflow(v: unknown): boolean {
  if (typeof v === 'number') return !Number.isFinite(v);
  if (Array.isArray(v)) return v.some(hasOverflow);
  if (v && typeof v === 'object') return Object.values(v).some(hasOverflow);
  return false;
}
