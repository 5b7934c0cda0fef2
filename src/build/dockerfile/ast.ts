/**
 * The Dockerfile parse tree: what `parse` returns and `dump` prints. It is BuildKit's parser node
 * (frontend/dockerfile/parser.Node) with names of our own; nothing is interpreted yet (no variable
 * expansion, no validation of flags or of the keyword itself).
 */
import type { Directive } from './directives';

export interface Heredoc {
  /** The delimiter word, quotes removed (`<<"EOF"` -> `EOF`). */
  name: string;
  /** `3<<EOF` -> 3; 0 when not given. */
  fileDescriptor: number;
  /** False when any part of the delimiter was quoted: the content is then taken literally. */
  expand: boolean;
  /** `<<-EOF`: leading tabs are stripped from the content lines (and the delimiter line). */
  chomp: boolean;
  /** The lines between the instruction and the delimiter, each with its line ending, tabs not yet stripped. */
  content: string;
}

export interface Instruction {
  /** The keyword as written (`RUN`, `run`, or an unknown word). Compare it lower-cased. */
  keyword: string;
  /** Leading `--name=value` words, quotes and escapes removed, in order. */
  flags: string[];
  /**
   * The arguments, split by the keyword's rules:
   * - exec (JSON) form: the array's strings, and `json` is true;
   * - RUN, CMD, ENTRYPOINT, SHELL in shell form, MAINTAINER, USER, WORKDIR, STOPSIGNAL: the text, one argument;
   * - FROM, EXPOSE, ADD, COPY, VOLUME (non-JSON): whitespace-separated words;
   * - ARG: words (quotes kept);
   * - ENV, LABEL: triples key, value, sep, where sep is "=" for `k=v` pairs and "" for legacy `KEY value`;
   * - HEALTHCHECK: the type word (`CMD`, `NONE`, ...), then the command as for CMD;
   * - ONBUILD: none (see `trigger`);
   * - an unknown keyword: one empty string (its text is dropped, as BuildKit does).
   */
  args: string[];
  /** ONBUILD's instruction. */
  trigger?: Instruction;
  /** The arguments came from a JSON array. */
  json: boolean;
  /** Heredocs of RUN, COPY, ADD (also behind ONBUILD), in order. */
  heredocs: Heredoc[];
  /** The logical line (continuations joined, comments dropped). */
  original: string;
  /** 1-based lines of the instruction's first and last physical line (heredoc bodies included). */
  startLine: number;
  endLine: number;
  /** The comment lines right above it (`#` and blanks removed). */
  comments: string[];
}

export interface Warning {
  message: string;
  url?: string;
  line: number;
}

export interface Dockerfile {
  instructions: Instruction[];
  /** The directives from the header, in order. */
  directives: Directive[];
  /** `\` or a backtick (from `# escape=`). */
  escapeToken: string;
  warnings: Warning[];
}
