// Entry point of the berth CLI (bundled into dist/berth.js). Kept tiny: main() loads the command
// it needs on demand.
import { main } from '../cli/main';

const argv = process.argv.slice(2);
// `berth registry ...` runs the registry server, which is no client of berthd: the CLI (which
// reaches the engine only through the API) must not import it, so it is dispatched here and loaded
// only when asked for.
const run = argv[0] === 'registry'
  ? import('../registry/server/serve-command').then((m) => m.registryMain(argv.slice(1)))
  : main(argv);

run.then(
  // Exit at once: an attached stdin or a kept-alive socket must not hold the process (stdout and
  // stderr writes are synchronous on Linux for files, pipes and terminals).
  (code) => process.exit(code),
  (err: unknown) => { process.stderr.write(`${err instanceof Error ? err.stack ?? err.message : String(err)}\n`); process.exitCode = 125; },
);
