// Entry point of the berth CLI (bundled into dist/berth.js). Kept tiny: main() loads the command
// it needs on demand.
import { main } from '../cli/main';

main(process.argv.slice(2)).then(
  // Exit at once: an attached stdin or a kept-alive socket must not hold the process (stdout and
  // stderr writes are synchronous on Linux for files, pipes and terminals).
  (code) => process.exit(code),
  (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exitCode = 125; },
);
