/**
 * The command line of `berth registry serve` (dispatched by cmd/berth.ts, loaded only for it).
 */
import { startRegistry } from './server';

const USAGE = `Usage:  berth registry serve [OPTIONS]

Serve an OCI distribution registry (HTTP)

Options:
      --addr string    Address to listen on, host:port (default "127.0.0.1:5000")
      --read-only      Refuse every push and delete
      --root string    Directory holding the registry's content (default "/var/lib/berth-registry")
`;

export interface ServeArgs { addr: string; root: string; readOnly: boolean }

/** Parses `serve`'s flags (`--flag value` and `--flag=value`). Throws a message for bad usage. */
export function parseServeArgs(argv: string[]): ServeArgs | 'help' {
  const out: ServeArgs = { addr: '127.0.0.1:5000', root: '/var/lib/berth-registry', readOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    const value = (): string => {
      if (eq > 0 && arg.startsWith('--')) return arg.slice(eq + 1);
      const v = argv[++i];
      if (v === undefined) throw new Error(`flag needs an argument: ${flag}`);
      return v;
    };
    switch (flag) {
      case '-h': case '--help': return 'help';
      case '--addr': out.addr = value(); break;
      case '--root': out.root = value(); break;
      case '--read-only': out.readOnly = true; break;
      default: throw new Error(`unknown flag: ${arg}`);
    }
  }
  return out;
}

/** Runs `berth registry <args>`; resolves with the exit code once the server has stopped. */
export async function registryMain(argv: string[]): Promise<number> {
  if (argv[0] !== 'serve') {
    process.stderr.write(`${argv[0] === undefined || argv[0] === '--help' ? '' : `unknown command: registry ${argv[0]}\n`}${USAGE}`);
    return argv[0] === '--help' ? 0 : 1;
  }
  let args: ServeArgs | 'help';
  try {
    args = parseServeArgs(argv.slice(1));
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nSee 'berth registry serve --help'.\n`);
    return 125;
  }
  if (args === 'help') {
    process.stdout.write(USAGE);
    return 0;
  }
  let reg: Awaited<ReturnType<typeof startRegistry>>;
  try {
    reg = await startRegistry(args);
  } catch (e) {
    process.stderr.write(`berth registry: ${(e as Error).message}\n`);
    return 1;
  }
  process.stdout.write(`berth registry listening on http://${reg.addr} (root ${args.root}${args.readOnly ? ', read-only' : ''})\n`);
  await new Promise<void>((resolve) => {
    const stop = () => { void reg.close().then(resolve); };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}
