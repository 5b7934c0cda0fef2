// Entry point of the berth CLI (bundled into dist/berth.js). Kept tiny: main() loads the command
// it needs on demand.
import { readFileSync } from 'node:fs';
import { main } from '../cli/main';

/**
 * `berth build --print-ast DOCKERFILE` (or `-` for stdin): BuildKit's parse-tree dump, for
 * conformance runs. Handled here because it needs no daemon and cli/ may not import build/; the
 * parser is loaded only for this command.
 */
async function printAst(file: string): Promise<number> {
  const { parse } = await import('../build/dockerfile/parser');
  const { dump } = await import('../build/dockerfile/dump');
  let bytes: Buffer;
  try {
    bytes = readFileSync(file === '-' ? 0 : file);
  } catch (e) {
    process.stderr.write(`berth: ${(e as Error).message}\n`);
    return 1;
  }
  try {
    process.stdout.write(dump(parse(bytes)));
    return 0;
  } catch (e) {
    // `Dockerfile:3: dockerfile parse error on line 3: ENV must have two arguments`
    const line = (e as { line?: number }).line;
    process.stderr.write(`${file}${line !== undefined ? `:${line}` : ''}: ${(e as Error).message}\n`);
    return 1;
  }
}

/**
 * `berth registry serve ...`: the registry server, which is no client of berthd. cli/ may not import
 * registry/, so it is dispatched here; the server is loaded only for this command.
 */
async function registry(args: string[]): Promise<number> {
  const { registryMain } = await import('../registry/server/serve-command');
  return registryMain(args);
}

const argv = process.argv.slice(2);
// After global flags too (`berth -H unix://... build --print-ast FILE`): they do not matter to it.
const build = argv.indexOf('build');
const run = build >= 0 && argv[build + 1] === '--print-ast' && argv.length === build + 3 ? printAst(argv[build + 2])
  : argv[0] === 'registry' ? registry(argv.slice(1))
  : main(argv);
run.then(
  // Exit at once: an attached stdin or a kept-alive socket must not hold the process (stdout and
  // stderr writes are synchronous on Linux for files, pipes and terminals).
  (code) => process.exit(code),
  (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exitCode = 125; },
);
