/**
 * The Dockerfile parser: text -> parse tree, exactly as BuildKit's parser (moby/buildkit
 * frontend/dockerfile/parser) reads it. Pure: no file, no environment, no network.
 *
 * What it does, in BuildKit's order, line by line:
 * - the header: `# syntax=`, `# escape=`, `# check=` directives, only before anything else;
 * - comments (lines whose first non-blank is `#`) are dropped, also inside continuations;
 * - the escape token at the end of a line (blanks after it allowed) continues the instruction on
 *   the next line; blank lines inside a continuation are skipped (with a warning); an escape at the
 *   end of the file just ends the instruction;
 * - each logical line is split into keyword, `--flags` and arguments by the keyword's rules
 *   (line-parsers.ts);
 * - RUN, COPY and ADD (also behind ONBUILD) in shell form take heredocs (`<<EOF`, `<<-EOF`,
 *   `<<'EOF'`, several per line): the following lines up to each delimiter.
 *
 * Errors are `DockerfileParseError` (kind InvalidArgument) with 1-based line numbers.
 */
import { BerthError } from '../../base/errors';
import { decodeGoBytes, encodeGoBytes, goToLower, trimLeftSpace, trimSpace } from '../text/go-text';
import { ShellLex } from '../shell/lex';
import type { Dockerfile, Heredoc, Instruction, Warning } from './ast';
import { DirectiveReader, type Directive } from './directives';
import { LineError, parseLine } from './line-parsers';

export type { Dockerfile, Heredoc, Instruction, Warning } from './ast';
export type { Directive } from './directives';

/** A Dockerfile that cannot be parsed; `line`/`endLine` are 1-based (0 for an empty file). */
export class DockerfileParseError extends BerthError {
  readonly line: number;
  readonly endLine: number;
  /** The message without the location. */
  readonly detail: string;
  constructor(detail: string, line: number, endLine = line, cause?: unknown) {
    super('InvalidArgument', `dockerfile parse error on line ${line}: ${detail}`, { cause });
    this.detail = detail;
    this.line = line;
    this.endLine = Math.max(line, endLine);
  }
}

/** bufio.Scanner's limit in BuildKit: a longer physical line is an error. */
const MAX_LINE_BYTES = 64 * 1024;

const HEREDOC_KEYWORDS = new Set(['add', 'copy', 'run']);

/**
 * Parses a Dockerfile. Bytes are decoded as UTF-8 with invalid bytes kept (see go-text.ts), which is
 * how BuildKit sees them; a string is taken as is.
 */
export function parse(input: string | Uint8Array): Dockerfile {
  const text = typeof input === 'string' ? input : decodeGoBytes(input);
  const lines = splitLines(text);
  checkLineLengths(lines);

  const header = new DirectiveReader();
  const directives: Directive[] = [];
  let escape = '\\';
  let continuation = continuationRegex(escape);
  const instructions: Instruction[] = [];
  const warnings: Warning[] = [];
  let comments: string[] = [];
  let currentLine = 0; // physical lines consumed so far
  let index = 0;
  const nextLine = (): string | undefined => (index < lines.length ? lines[index++] : undefined);

  /** Strips the line ending (and, for the first line of an instruction, leading blanks); reads directives. */
  const processLine = (raw: string, stripLeft: boolean): { text: string; directive: boolean } => {
    let t = trimNewline(raw);
    if (stripLeft) t = trimLeftSpace(t);
    let directive = false;
    try {
      const d = header.readLine(t);
      if (d) {
        if (d.name === 'escape') {
          if (d.value !== '`' && d.value !== '\\') throw new Error(`invalid escape token '${d.value}' does not match \` or \\`);
          escape = d.value;
          continuation = continuationRegex(escape);
        }
        directives.push({ ...d, line: currentLine + 1 });
        directive = true;
      }
    } catch (e) {
      throw new DockerfileParseError((e as Error).message, currentLine + 1, currentLine + 1, e);
    }
    return { text: isComment(t) ? '' : t, directive };
  };

  const trimContinuation = (line: string): [string, boolean] => {
    if (!continuation.test(line)) return [line, true];
    return [line.replace(continuation, '$1'), false];
  };

  for (let raw = nextLine(); raw !== undefined; raw = nextLine()) {
    if (currentLine === 0 && raw.startsWith('\ufeff')) raw = raw.slice(1);
    if (isComment(raw)) {
      const comment = trimSpace(dropFirstByte(raw));
      comments = comment === '' ? [] : [...comments, comment];
    }
    const first = processLine(raw, true);
    if (first.directive) comments = comments.slice(0, -1);
    currentLine++;
    const startLine = currentLine;

    let [line, isEnd] = trimContinuation(first.text);
    if (isEnd && line === '') continue;

    let hasEmptyContinuation = false;
    while (!isEnd) {
      const next = nextLine();
      if (next === undefined) break; // an escape at the end of the file ends the instruction
      const { text } = processLine(next, false);
      currentLine++;
      if (isComment(next)) continue;
      if (trimLeftSpace(text) === '') { hasEmptyContinuation = true; continue; }
      let part: string;
      [part, isEnd] = trimContinuation(text);
      line += part;
    }

    if (hasEmptyContinuation) {
      warnings.push({
        message: `Empty continuation line found in: ${line}`,
        url: 'https://docs.docker.com/go/dockerfile/rule/no-empty-continuation/',
        line: currentLine,
      });
    }

    let node: Instruction;
    try {
      node = parseLine(line, escape.charCodeAt(0), comments);
    } catch (e) {
      if (e instanceof LineError) throw new DockerfileParseError(e.message, startLine, currentLine, e);
      throw e;
    }

    if (canContainHeredoc(node) && line.includes('<<')) {
      let found: Heredoc[];
      try {
        found = heredocsFromLine(line);
      } catch (e) {
        throw new DockerfileParseError((e as Error).message, startLine, currentLine, e);
      }
      for (const doc of found) {
        let content = '';
        let terminated = false;
        for (let body = nextLine(); body !== undefined; body = nextLine()) {
          currentLine++;
          let candidate = trimNewline(body);
          if (doc.chomp) candidate = candidate.replace(/^\t+/, '');
          if (candidate === doc.name) { terminated = true; break; }
          content += body;
        }
        if (!terminated) throw new DockerfileParseError('unterminated heredoc', startLine, currentLine);
        node.heredocs.push({ ...doc, content });
      }
    }

    node.startLine = startLine;
    node.endLine = currentLine;
    instructions.push(node);
    comments = [];
  }

  if (instructions.length === 0) throw new DockerfileParseError('file with no instructions', currentLine);
  return { instructions, directives, escapeToken: escape, warnings };
}

/** Lines with their endings kept (BuildKit's scanLines); no empty last line after a final newline. */
function splitLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) break;
    out.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
  if (start < text.length) out.push(text.slice(start));
  return out;
}

function checkLineLengths(lines: string[]): void {
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.length * 3 <= MAX_LINE_BYTES) continue; // cannot be too long in any encoding
    if (encodeGoBytes(l).length > MAX_LINE_BYTES) {
      throw new DockerfileParseError(`dockerfile line greater than max allowed size of ${MAX_LINE_BYTES - 1}`, i + 1);
    }
  }
}

/** The escape token at the end of a line (blanks may follow), unless it is itself escaped. */
function continuationRegex(escape: string): RegExp {
  const e = escape === '\\' ? '\\\\' : '`';
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`, 'u');
}

function trimNewline(s: string): string {
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === 0x0a || s.charCodeAt(end - 1) === 0x0d)) end--;
  return s.slice(0, end);
}

function isComment(line: string): boolean {
  return trimLeftSpace(line).startsWith('#');
}

/** BuildKit takes a comment's text from the line's second byte on. */
function dropFirstByte(line: string): string {
  if (line.charCodeAt(0) < 0x80) return line.slice(1);
  return decodeGoBytes(encodeGoBytes(line).subarray(1));
}

function canContainHeredoc(node: Instruction): boolean {
  const target = goToLower(node.keyword) === 'onbuild' && node.trigger ? node.trigger : node;
  return HEREDOC_KEYWORDS.has(goToLower(target.keyword)) && !target.json;
}

const HEREDOC_WORD = /^([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)$/su;
const noEnv = (): undefined => undefined;

/** The heredocs a line opens: every word of the form `[n]<<[-]WORD`, found the way a shell would. */
function heredocsFromLine(line: string): Heredoc[] {
  const lex = new ShellLex({ rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  let words: string[];
  try {
    words = lex.processWords(line, noEnv);
  } catch {
    words = []; // BuildKit ignores a lexing error here
  }
  const docs: Heredoc[] = [];
  for (const word of words) {
    const doc = parseHeredoc(word);
    if (doc) docs.push(doc);
  }
  return docs;
}

/**
 * Parses one heredoc word (`<<EOF`, `3<<-"EOF"`); null if it is not one. The delimiter is lexed
 * with and without quote removal: if the two differ in quotes, part of it was quoted and the
 * content is not expanded.
 */
export function parseHeredoc(word: string): Heredoc | null {
  const m = HEREDOC_WORD.exec(word);
  if (!m || m[3] === '') return null;
  const rest = m[3];
  const words = new ShellLex({ skipUnsetEnv: true }).processWords(rest, noEnv);
  if (words.length !== 1) return null;
  const raw = new ShellLex({ skipUnsetEnv: true, rawQuotes: true }).processWords(rest, noEnv);
  if (raw.length !== words.length) throw new Error(`internal lexing of heredoc produced inconsistent results: ${rest}`);
  const quotes = (s: string) => s.split(/['"]/).length - 1;
  return {
    name: words[0],
    fileDescriptor: m[1] === '' ? 0 : Number(m[1]),
    expand: quotes(words[0]) === quotes(raw[0]),
    chomp: m[2] === '-',
    content: '',
  };
}

/** Strips leading tabs from every line of a `<<-` heredoc's content. */
export function chompHeredocContent(content: string): string {
  // Go's (?m)^ starts a line only after \n (JS's m flag also splits at \r, U+2028, U+2029)
  return content.replace(/(^|\n)\t+/g, '$1');
}
