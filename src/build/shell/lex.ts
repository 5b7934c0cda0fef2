/**
 * Shell-style word splitting and variable substitution for Dockerfile arguments, with the semantics
 * of BuildKit's shell lexer (moby/buildkit frontend/dockerfile/shell/lex.go): quotes (`'...'`,
 * `"..."`), the escape token (`\` or a backtick, from the `# escape=` directive), and `$VAR`,
 * `${VAR}`, `${VAR:-w}`, `${VAR-w}`, `${VAR:+w}`, `${VAR+w}`, `${VAR:?w}`, `${VAR?w}`,
 * `${VAR#p}`, `${VAR##p}`, `${VAR%p}`, `${VAR%%p}`, `${VAR/p/r}`, `${VAR//p/r}`.
 * A `$` not followed by a name stays `$`; `$$`, `$?`, `$1` ... are looked up like any name (so they
 * are usually unset, hence empty).
 *
 * Pure: the environment is passed in. Errors are `InvalidArgument`, with BuildKit's messages.
 */
import { invalidArgument } from '../../base/errors';
import { goQuote, goRune, isSpace } from '../text/go-text';

/** Looks a variable up; `undefined` means unset (an empty string is set). */
export type EnvLookup = (name: string) => string | undefined;

export interface LexOptions {
  /** `\` (default) or a backtick. */
  escapeToken?: string;
  /** Keep the quote characters in the output (they still group words). */
  rawQuotes?: boolean;
  /** Keep escape tokens in the output. */
  rawEscapes?: boolean;
  /** Treat quotes as ordinary characters. */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written (`$X`, `${X:-y}`) instead of expanding them. */
  skipUnsetEnv?: boolean;
}

export interface WordResult {
  /** The word with quotes removed and variables substituted; spaces between words are kept. */
  result: string;
  /** Names that were looked up and found. */
  matched: Set<string>;
  /** Names that were looked up and not set. */
  unmatched: Set<string>;
}

const EOF = -1;

/** Builds an EnvLookup from `KEY=value` strings or a record (later entries win). */
export function envFrom(env: readonly string[] | Record<string, string> | Map<string, string>): EnvLookup {
  if (env instanceof Map) return (k) => env.get(k);
  const map = new Map<string, string>();
  if (Array.isArray(env)) {
    for (const e of env as readonly string[]) {
      const i = e.indexOf('=');
      map.set(i < 0 ? e : e.slice(0, i), i < 0 ? '' : e.slice(i + 1));
    }
  } else {
    for (const [k, v] of Object.entries(env)) map.set(k, v);
  }
  return (k) => map.get(k);
}

/** A lexer with fixed options; `processWord` and `processWords` may be called many times. */
export class ShellLex {
  readonly escapeToken: number;
  readonly rawQuotes: boolean;
  readonly rawEscapes: boolean;
  readonly skipProcessQuotes: boolean;
  readonly skipUnsetEnv: boolean;

  constructor(opts: LexOptions = {}) {
    const esc = opts.escapeToken ?? '\\';
    if (esc !== '\\' && esc !== '`') throw invalidArgument(`invalid escape token '${esc}' does not match \` or \\`);
    this.escapeToken = esc.charCodeAt(0);
    this.rawQuotes = opts.rawQuotes ?? false;
    this.rawEscapes = opts.rawEscapes ?? false;
    this.skipProcessQuotes = opts.skipProcessQuotes ?? false;
    this.skipUnsetEnv = opts.skipUnsetEnv ?? false;
  }

  /** Substitutes variables and removes quotes, keeping the word whole (BuildKit's ProcessWord). */
  processWord(word: string, env: EnvLookup): WordResult {
    const w = new ShellWord(this, word, env);
    return { result: w.run(word).result, matched: w.matched, unmatched: w.unmatched };
  }

  /**
   * Substitutes variables, then splits into words on unquoted whitespace (BuildKit's ProcessWords):
   * whitespace that came from a variable's value also splits, unless the reference was quoted.
   */
  processWords(word: string, env: EnvLookup): string[] {
    return new ShellWord(this, word, env).run(word).words;
  }
}

/** Substitutes variables in one word with default options (what ENV, WORKDIR, COPY ... do). */
export function expandWord(word: string, env: EnvLookup, escapeToken = '\\'): string {
  return new ShellLex({ escapeToken }).processWord(word, env).result;
}

/** Collects words as characters arrive (BuildKit's wordsStruct). */
class Words {
  words: string[] = [];
  inWord = false;
  constructor(private readonly owner: ShellWord) {}

  addChar(ch: number): void {
    if (isSpace(ch)) {
      if (this.inWord && this.owner.wordsBuf.length) {
        this.words.push(this.owner.wordsBuf);
        this.owner.wordsBuf = '';
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }
  addRawChar(ch: number): void { this.owner.wordsBuf += String.fromCodePoint(ch); this.inWord = true; }
  addString(s: string): void { for (const ch of s) this.addChar(ch.codePointAt(0)!); }
  addRawString(s: string): void { this.owner.wordsBuf += s; this.inWord = true; }
  getWords(): string[] {
    if (this.owner.wordsBuf.length) {
      this.words.push(this.owner.wordsBuf);
      this.owner.wordsBuf = '';
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly runes: number[];
  private pos = 0;
  private rawEscapes: boolean;
  /**
   * The word being collected. Shared by nested scans, as BuildKit's is: a `${VAR:-w}` inside a word
   * restarts it, so `ProcessWords("a${X:-b}c")` yields `["bc"]` there too.
   */
  wordsBuf = '';
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(private readonly lex: ShellLex, word: string, private readonly env: EnvLookup) {
    this.runes = Array.from(word, (c) => goRune(c.codePointAt(0)!));
    if (this.runes[0] === 0xfeff) this.runes.shift(); // text/scanner drops a leading BOM
    this.rawEscapes = lex.rawEscapes;
  }

  private peek(): number { return this.pos < this.runes.length ? this.runes[this.pos] : EOF; }
  private next(): number { return this.pos < this.runes.length ? this.runes[this.pos++] : EOF; }

  run(source: string): { result: string; words: string[] } {
    try {
      return this.processStopOn(EOF, this.rawEscapes);
    } catch (e) {
      throw invalidArgument(`failed to process ${goQuote(source)}: ${(e as Error).message}`, e);
    }
  }

  private processStopOn(stopChar: number, rawEscapes: boolean): { result: string; words: string[] } {
    let result = '';
    this.wordsBuf = '';
    const words = new Words(this);
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      const esc = this.lex.escapeToken;
      while (this.peek() !== EOF) {
        let ch = this.peek();
        if (stopChar !== EOF && ch === stopChar) {
          this.next();
          return { result, words: words.getWords() };
        }
        if (ch === 0x24 /* $ */ || ch === 0x3c /* < */ ||
            (!this.lex.skipProcessQuotes && (ch === 0x27 || ch === 0x22))) {
          const tmp = ch === 0x24 ? this.processDollar()
            : ch === 0x3c ? this.processPossibleHeredoc()
              : ch === 0x27 ? this.processSingleQuote() : this.processDoubleQuote();
          result += tmp;
          if (ch === 0x24) words.addString(tmp);
          else words.addRawString(tmp);
          continue;
        }
        ch = this.next();
        if (ch === esc) {
          if (this.rawEscapes) {
            words.addRawChar(ch);
            result += String.fromCodePoint(ch);
          }
          // the escape token escapes the next character, except at the end
          ch = this.next();
          if (ch === EOF) break;
          words.addRawChar(ch);
        } else {
          words.addChar(ch);
        }
        result += String.fromCodePoint(ch);
      }
      if (stopChar !== EOF) {
        throw new Error(`unexpected end of statement while looking for matching ${String.fromCodePoint(stopChar)}`);
      }
      return { result, words: words.getWords() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private processSingleQuote(): string {
    // Everything up to the next ' is literal; a ' cannot be escaped inside.
    let result = '';
    const open = this.next();
    if (this.lex.rawQuotes) result += String.fromCodePoint(open);
    for (;;) {
      const ch = this.next();
      if (ch === EOF) throw new Error('unexpected end of statement while looking for matching single-quote');
      if (ch === 0x27) {
        if (this.lex.rawQuotes) result += "'";
        return result;
      }
      result += String.fromCodePoint(ch);
    }
  }

  private processDoubleQuote(): string {
    // Literal except $ (expanded) and the escape token, which escapes only " $ and itself.
    let result = '';
    const open = this.next();
    if (this.lex.rawQuotes) result += String.fromCodePoint(open);
    for (;;) {
      const p = this.peek();
      if (p === EOF) throw new Error('unexpected end of statement while looking for matching double-quote');
      if (p === 0x22) {
        this.next();
        if (this.lex.rawQuotes) result += '"';
        return result;
      }
      if (p === 0x24) { result += this.processDollar(); continue; }
      let ch = this.next();
      if (ch === this.lex.escapeToken) {
        if (this.rawEscapes) result += String.fromCodePoint(ch);
        const after = this.peek();
        if (after === EOF) continue; // an escape at the very end is dropped
        if (after === 0x22 || after === 0x24 || after === this.lex.escapeToken) ch = this.next();
      }
      result += String.fromCodePoint(ch);
    }
  }

  private processDollar(): string {
    this.next(); // $
    if (this.peek() !== 0x7b /* { */) {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.getEnv(name);
      if (value === undefined && this.lex.skipUnsetEnv) return `$${name}`;
      return value ?? '';
    }
    this.next(); // {
    const first = this.peek();
    if (first === EOF) throw new Error("syntax error: missing '}'");
    if (first === 0x7b || first === 0x7d || first === 0x3a) throw new Error('syntax error: bad substitution');
    const name = this.processName();
    let ch = this.next();
    // string(rune(-1)) in Go is U+FFFD
    const str = (c: number) => (c === EOF ? '\ufffd' : String.fromCodePoint(c));
    let chs = str(ch);
    let nullIsUnset = false;

    if (ch === 0x7d /* } */) {
      const value = this.getEnv(name);
      if (value === undefined && this.lex.skipUnsetEnv) return `\${${name}}`;
      return value ?? '';
    }
    if (ch === 0x3a /* : */) {
      nullIsUnset = true;
      ch = this.next();
      chs += str(ch);
    }
    if (nullIsUnset || ch === 0x2b || ch === 0x2d || ch === 0x3f || ch === 0x23 || ch === 0x25) {
      const trim = ch === 0x23 /* # */ || ch === 0x25; /* % */
      if (nullIsUnset && trim) throw new Error(`unsupported modifier (${chs}) in substitution`);
      let word: string;
      try {
        word = this.processStopOn(0x7d, trim).result;
      } catch (e) {
        if (this.peek() === EOF) throw new Error("syntax error: missing '}'");
        throw e;
      }
      const value = this.getEnv(name);
      if (this.lex.skipUnsetEnv && value === undefined) return `\${${name}${chs}${word}}`;
      const unsetOrNull = value === undefined || (nullIsUnset && value === '');
      switch (ch) {
        case 0x2d: // -
          return unsetOrNull ? word : value!;
        case 0x2b: // +
          return unsetOrNull ? '' : word;
        case 0x3f: // ?
          if (value === undefined) throw new Error(`${name}: ${word || 'is not allowed to be unset'}`);
          if (nullIsUnset && value === '') throw new Error(`${name}: ${word || 'is not allowed to be empty'}`);
          return value;
        case 0x23: case 0x25: {
          // # and % remove the shortest match, ## and %% the longest
          let pattern = word;
          const greedy = pattern.length > 0 && pattern.codePointAt(0) === ch;
          if (greedy) pattern = pattern.slice(1);
          return ch === 0x25 ? trimSuffix(pattern, value ?? '', greedy) : trimPrefix(pattern, value ?? '', greedy);
        }
        default:
          throw new Error(`unsupported modifier (${chs}) in substitution`);
      }
    }
    if (ch === 0x2f /* / */) {
      const all = this.peek() === 0x2f;
      if (all) this.next();
      let pattern: string;
      try {
        pattern = this.processStopOn(0x2f, true).result;
      } catch (e) {
        if (this.peek() === EOF) throw new Error("syntax error: missing '/' in ${}");
        throw e;
      }
      let replacement: string;
      try {
        replacement = this.processStopOn(0x7d, true).result;
      } catch (e) {
        if (this.peek() === EOF) throw new Error("syntax error: missing '}'");
        throw e;
      }
      const value = this.getEnv(name);
      if (this.lex.skipUnsetEnv && value === undefined) return `\${${name}/${pattern}/${replacement}}`;
      const re = shellPatternToRegex(pattern, true, false, all);
      const v = value ?? '';
      // Go's ReplaceAllString expands `$0`/`${0}` (the match) and `$$` in the replacement
      if (all) return v.replace(re, (m) => goExpand(replacement, m));
      const m = re.exec(v);
      return m ? v.slice(0, m.index) + replacement + v.slice(m.index + m[0].length) : v;
    }
    throw new Error(`unsupported modifier (${chs}) in substitution`);
  }

  /** A name: letters, digits and `_`; or a run of digits; or one special parameter. */
  private processName(): string {
    let name = '';
    while (this.peek() !== EOF) {
      const ch = this.peek();
      if (name === '' && isDigit(ch)) {
        while (this.peek() !== EOF && isDigit(this.peek())) name += String.fromCodePoint(this.next());
        return name;
      }
      if (name === '' && isSpecialParam(ch)) return String.fromCodePoint(this.next());
      if (!isLetter(ch) && !isDigit(ch) && ch !== 0x5f) break;
      name += String.fromCodePoint(this.next());
    }
    return name;
  }

  /** `<<` and the blanks after it stay together, so a heredoc word is one word. */
  private processPossibleHeredoc(): string {
    this.next();
    if (this.peek() !== 0x3c) return '<';
    this.next();
    let result = '<<';
    while (this.peek() === 0x09 || this.peek() === 0x0d || this.peek() === 0x20) result += String.fromCodePoint(this.next());
    return result;
  }

  private getEnv(name: string): string | undefined {
    const v = this.env(name);
    (v === undefined ? this.unmatched : this.matched).add(name);
    return v;
  }
}

// Go's unicode.IsDigit / IsLetter.
const isDigit = (cp: number) => (cp >= 0x30 && cp <= 0x39) || (cp > 0x7f && /\p{Nd}/u.test(String.fromCodePoint(cp)));
const isLetter = (cp: number) => ((cp | 0x20) >= 0x61 && (cp | 0x20) <= 0x7a) || (cp > 0x7f && /\p{L}/u.test(String.fromCodePoint(cp)));

/** POSIX special parameters: `$@ $* $# $? $- $$ $! $0` are taken as names of one character. */
function isSpecialParam(cp: number): boolean {
  return cp === 0x40 || cp === 0x2a || cp === 0x23 || cp === 0x3f || cp === 0x2d || cp === 0x24 || cp === 0x21 || cp === 0x30;
}

/**
 * A shell pattern (`*`, `?`, `\` escapes; no bracket expressions) as a regular expression with Go's
 * RE2 meaning (`.` does not match `\n`).
 */
function shellPatternToRegex(pattern: string, greedy: boolean, anchored: boolean, global = false): RegExp {
  const runes = Array.from(pattern);
  let out = anchored ? '^' : '';
  const anyChar = '[^\\n]';
  for (let i = 0; i < runes.length; i++) {
    const tok = runes[i];
    if (tok === '*') { out += greedy ? `${anyChar}*` : `${anyChar}*?`; continue; }
    if (tok === '?') { out += anyChar; continue; }
    if (tok === '\\') {
      const after = runes[i + 1];
      // `}` and `/` are escaped only to get through ${...}; the escape is not part of the pattern
      if (after === '}' || after === '/') continue;
      i++;
      if (after !== '*' && after !== '?' && after !== '\\') {
        throw new Error(`invalid pattern (${pattern}) in substitution: invalid escape '\\${after ?? '\ufffd'}'`);
      }
      out += `\\${after}`;
      continue;
    }
    if ('[]{}.+()|^$'.includes(tok)) out += '\\';
    out += tok;
  }
  return new RegExp(out, global ? 'gu' : 'u');
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegex(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** Reverses a pattern, keeping each escape before the character it escapes (`a\*c` -> `c\*a`). */
function reversePattern(pattern: string): string {
  const runes = Array.from(pattern);
  const out: string[] = new Array(runes.length);
  const last = runes.length - 1;
  for (let i = 0; i <= last;) {
    if (runes[i] === '\\' && i !== last) {
      out[last - i - 1] = '\\';
      out[last - i] = runes[i + 1];
      i += 2;
    } else {
      out[last - i] = runes[i];
      i++;
    }
  }
  return out.join('');
}

const reverse = (s: string) => Array.from(s).reverse().join('');

/** A shortest (or longest) rightmost match is a leftmost match on both strings reversed. */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

/** Go's regexp Expand for a pattern without groups: `$$` is `$`, `$0`/`${0}` the match, other names empty. */
function goExpand(template: string, match: string): string {
  let out = '';
  let rest = template;
  for (;;) {
    const i = rest.indexOf('$');
    if (i < 0) break;
    out += rest.slice(0, i);
    rest = rest.slice(i + 1);
    if (rest.startsWith('$')) { out += '$'; rest = rest.slice(1); continue; }
    const brace = rest.startsWith('{');
    const m = /^[\p{L}\p{Nd}_]+/u.exec(brace ? rest.slice(1) : rest);
    if (!m || (brace && rest[1 + m[0].length] !== '}')) { out += '$'; continue; }
    rest = rest.slice(m[0].length + (brace ? 2 : 0));
    if (m[0] === '0') out += match;
  }
  return out + rest;
}
