/**
 * BuildKit's parse-tree dump (parser.Node.Dump, as printed by its dumper and compared with the
 * `result` files of its parser tests): one `(keyword ["--flag" ...] "arg" ...)` per instruction,
 * keyword lower-cased, strings Go-quoted, ONBUILD's instruction nested in parentheses, a newline at
 * the end.
 */
import { goQuote, goQuoteList, goToLower, trimSpace } from '../text/go-text';
import type { Dockerfile, Instruction } from './ast';

export function dump(file: Dockerfile): string {
  // Node.Dump trims the whole string; the lines never start or end with blanks, so trimming each
  // instruction is the same.
  return `${file.instructions.map((i) => `(${dumpInstruction(i)})`).join('\n')}\n`;
}

/** One instruction without its outer parentheses: `run ["--mount=type=cache"] "make"`. */
export function dumpInstruction(node: Instruction): string {
  let out = goToLower(node.keyword);
  if (node.flags.length > 0) out += ` ${goQuoteList(node.flags)}`;
  if (node.trigger) out += ` (${dumpInstruction(node.trigger)})`;
  for (const arg of node.args) out += ` ${goQuote(arg)}`;
  return trimSpace(out);
}
