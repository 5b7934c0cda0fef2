/**
 * Parser directives (`# syntax=...`, `# escape=...`, `# check=...`), as BuildKit reads them
 * (frontend/dockerfile/parser/directives.go): only in the comment lines at the very top of the file,
 * names case-insensitive, each at most once. The first line that is not such a directive (an
 * instruction, an empty line, an ordinary comment, an unknown directive name) ends the header for
 * good.
 */
import { trimLeftSpace as trimLeftGoSpace } from '../text/go-text';

export type DirectiveName = 'syntax' | 'escape' | 'check';

export interface Directive {
  /** Lower case. */
  name: DirectiveName;
  value: string;
  /** 1-based line. */
  line: number;
}

const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/su;
const NAMES = new Set<string>(['syntax', 'escape', 'check']);

/** Reads the header line by line; stateful, one per parse. */
export class DirectiveReader {
  private line = 0;
  private done = false;
  private readonly seen = new Set<string>();

  /**
   * Feeds the next physical line (without its newline, leading blanks already removed by the
   * caller where BuildKit removes them). Returns the directive on that line, or null. Throws on a
   * repeated directive.
   */
  readLine(text: string): Directive | null {
    this.line++;
    if (this.done) return null;
    if (!text.startsWith('#')) { this.done = true; return null; }
    const m = DIRECTIVE.exec(trimLeftGoSpace(text.slice(1)));
    if (!m) { this.done = true; return null; }
    const name = m[1].toLowerCase();
    if (!NAMES.has(name)) { this.done = true; return null; }
    if (this.seen.has(name)) throw new Error(`only one ${name} parser directive can be used`);
    this.seen.add(name);
    return { name: name as DirectiveName, value: m[2], line: this.line };
  }
}
