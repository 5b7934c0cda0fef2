/**
 * The command line of `berth registry serve` and `berth registry gc` (dispatched by cmd/berth.ts,
 * loaded only for them).
 */
import { parseGoDuration } from '../../base/units';
import { collectGarbage } from './fs/fs-gc';
import { FsRegistryStorage } from './fs/fs-storage';
import { startRegistry, type ServeOptions } from './server';

const USAGE = `Usage:  berth registry COMMAND

Commands:
  serve       Serve an OCI distribution registry
  gc          Remove unreferenced blobs and untagged manifests from a registry root
`;

const SERVE_USAGE = `Usage:  berth registry serve [OPTIONS]

Serve an OCI distribution registry (HTTP, or HTTPS with --tls-cert/--tls-key)

Options:
      --addr string           Address to listen on, host:port (default "127.0.0.1:5000")
      --anonymous-pull        Let clients without credentials pull
      --gc-grace duration     Leave content younger than this to garbage collection (default 1h)
      --gc-interval duration  Collect garbage this often while serving (default: only on POST /_berth/gc)
      --htpasswd string       htpasswd file with bcrypt entries (htpasswd -B): basic auth, or the
                              users of the token endpoint with --token-realm
      --read-only             Refuse every push, delete and garbage collection
      --root string           Directory holding the registry's content (default "/var/lib/berth-registry")
      --tls-cert string       PEM certificate (chain) for HTTPS
      --tls-key string        PEM private key for HTTPS
      --token-issuer string   Issuer of bearer tokens (checked in every token)
      --token-key string      PEM key: a private key (this server issues tokens at the realm's path)
                              or a public key/certificate (tokens come from an external service)
      --token-realm string    Bearer token realm URL; a path such as /token is served by this server
      --token-service string  Service (audience) of tokens (default: the issuer)
`;

const GC_USAGE = `Usage:  berth registry gc [OPTIONS]

Remove unreferenced blobs and untagged manifests (safe while a registry serves the root: content
younger than the grace period is left alone)

Options:
      --dry-run           Report what would be removed, remove nothing
      --grace duration    Leave content younger than this (default 1h)
      --root string       Directory holding the registry's content (default "/var/lib/berth-registry")
`;

type Flags = Map<string, string | true>;

/** Parses `--flag value`, `--flag=value` and boolean flags. Throws a message for bad usage. */
function parseFlags(argv: string[], valued: string[], booleans: string[]): Flags | 'help' {
  const out: Flags = new Map();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.indexOf('=');
    const flag = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (flag === '-h' || flag === '--help') return 'help';
    if (booleans.includes(flag) && eq < 0) { out.set(flag, true); continue; }
    if (!valued.includes(flag)) throw new Error(`unknown flag: ${arg}`);
    const v = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (v === undefined) throw new Error(`flag needs an argument: ${flag}`);
    out.set(flag, v);
  }
  return out;
}

const str = (f: Flags, k: string): string | undefined => { const v = f.get(k); return typeof v === 'string' ? v : undefined; };

function duration(f: Flags, k: string): number | undefined {
  const v = str(f, k);
  if (v === undefined) return undefined;
  const ms = parseGoDuration(v);
  if (ms < 0) throw new Error(`invalid ${k} ${v}`);
  return ms;
}

export type ServeArgs = ServeOptions;

/** Parses `serve`'s flags. Throws a message for bad usage. */
export function parseServeArgs(argv: string[]): ServeArgs | 'help' {
  const f = parseFlags(argv,
    ['--addr', '--root', '--htpasswd', '--token-realm', '--token-issuer', '--token-key', '--token-service', '--tls-cert', '--tls-key', '--gc-interval', '--gc-grace'],
    ['--read-only', '--anonymous-pull']);
  if (f === 'help') return 'help';
  const out: ServeArgs = {
    addr: str(f, '--addr') ?? '127.0.0.1:5000', root: str(f, '--root') ?? '/var/lib/berth-registry',
    readOnly: f.has('--read-only'), anonymousPull: f.has('--anonymous-pull'), htpasswd: str(f, '--htpasswd'),
    gcIntervalMs: duration(f, '--gc-interval'), gcGraceMs: duration(f, '--gc-grace'),
  };
  const realm = str(f, '--token-realm');
  const issuer = str(f, '--token-issuer');
  const key = str(f, '--token-key');
  if (realm !== undefined || issuer !== undefined || key !== undefined) {
    if (realm === undefined || issuer === undefined || key === undefined) throw new Error('--token-realm, --token-issuer and --token-key go together');
    if (!realm.startsWith('/')) new URL(realm);
    out.token = { realm, issuer, keyFile: key, service: str(f, '--token-service') };
  }
  const cert = str(f, '--tls-cert');
  const tlsKey = str(f, '--tls-key');
  if ((cert === undefined) !== (tlsKey === undefined)) throw new Error('--tls-cert and --tls-key go together');
  if (cert !== undefined && tlsKey !== undefined) out.tls = { certFile: cert, keyFile: tlsKey };
  return out;
}

async function serve(argv: string[]): Promise<number> {
  let args: ServeArgs | 'help';
  try {
    args = parseServeArgs(argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nSee 'berth registry serve --help'.\n`);
    return 125;
  }
  if (args === 'help') {
    process.stdout.write(SERVE_USAGE);
    return 0;
  }
  let reg: Awaited<ReturnType<typeof startRegistry>>;
  try {
    reg = await startRegistry(args);
  } catch (e) {
    process.stderr.write(`berth registry: ${(e as Error).message}\n`);
    return 1;
  }
  const notes = [`root ${args.root}`, ...(args.readOnly ? ['read-only'] : []), ...(args.token ? ['token auth'] : args.htpasswd ? ['basic auth'] : [])];
  process.stdout.write(`berth registry listening on ${reg.scheme}://${reg.addr} (${notes.join(', ')})\n`);
  await new Promise<void>((resolve) => {
    const stop = () => { void reg.close().then(resolve); };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  return 0;
}

async function gc(argv: string[]): Promise<number> {
  let f: Flags | 'help';
  let graceMs: number | undefined;
  try {
    f = parseFlags(argv, ['--root', '--grace'], ['--dry-run']);
    if (f !== 'help') graceMs = duration(f, '--grace');
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nSee 'berth registry gc --help'.\n`);
    return 125;
  }
  if (f === 'help') {
    process.stdout.write(GC_USAGE);
    return 0;
  }
  try {
    const storage = await FsRegistryStorage.open(str(f, '--root') ?? '/var/lib/berth-registry');
    const r = await collectGarbage(storage.layout, { graceMs, dryRun: f.has('--dry-run') });
    const verb = f.has('--dry-run') ? 'would remove' : 'removed';
    for (const m of r.manifestsRemoved) process.stdout.write(`${verb} manifest ${m}\n`);
    for (const b of r.blobsRemoved) process.stdout.write(`${verb} blob ${b}\n`);
    process.stdout.write(`${verb} ${r.manifestsRemoved.length} manifests, ${r.linksRemoved} links, ${r.blobsRemoved.length} blobs (${r.bytesFreed} bytes), ${r.uploadsRemoved} abandoned uploads\n`);
    return 0;
  } catch (e) {
    process.stderr.write(`berth registry gc: ${(e as Error).message}\n`);
    return 1;
  }
}

/** Runs `berth registry <args>`; resolves with the exit code once the command is done. */
export async function registryMain(argv: string[]): Promise<number> {
  if (argv[0] === 'serve') return serve(argv.slice(1));
  if (argv[0] === 'gc') return gc(argv.slice(1));
  process.stderr.write(`${argv[0] === undefined || argv[0] === '--help' ? '' : `unknown command: registry ${argv[0]}\n`}${USAGE}`);
  return argv[0] === '--help' ? 0 : 1;
}
