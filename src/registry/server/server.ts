/**
 * `berth registry serve`: an OCI distribution server in its own process, independent of berthd.
 * This is where its parts are wired: storage, authentication, TLS, garbage collection.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { invalidArgument } from '../../base/errors';
import type { Authenticator } from './auth';
import { BasicAuth } from './auth/basic-auth';
import { Htpasswd } from './auth/htpasswd';
import { TokenAuth, TokenIssuer } from './auth/token-auth';
import { collectGarbage, type GcReport } from './fs/fs-gc';
import { FsRegistryStorage } from './fs/fs-storage';
import { registryHandler, type RegistryOptions } from './routes';
import { RwLock } from './rw-lock';

export interface ServeOptions {
  /** host:port; port 0 picks a free one. */
  addr: string;
  /** Directory holding the registry's content (created if missing). */
  root: string;
  /** Refuse every push and delete (and garbage collection). */
  readOnly?: boolean;
  /** htpasswd file (bcrypt): basic auth, or the users of the token endpoint when `token` is set. */
  htpasswd?: string;
  /** Let clients without credentials pull. */
  anonymousPull?: boolean;
  /** Bearer tokens: realm URL (a path such as `/token`: this server serves the endpoint there). */
  token?: { realm: string; issuer: string; service?: string; keyFile: string };
  /** HTTPS with this PEM certificate (chain) and key. */
  tls?: { certFile: string; keyFile: string };
  /** Online garbage collection every so many ms (0 or undefined: only through POST /_berth/gc). */
  gcIntervalMs?: number;
  /** Grace period of garbage collection (default one hour). */
  gcGraceMs?: number;
}

export interface RunningRegistry {
  /** The address actually listened on, host:port. */
  addr: string;
  /** http or https. */
  scheme: 'http' | 'https';
  server: Server;
  /** Runs garbage collection now, as the online mode does. */
  gc(opts?: { dryRun?: boolean; graceMs?: number }): Promise<GcReport>;
  close(): Promise<void>;
}

export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw invalidArgument(`invalid --addr ${JSON.stringify(addr)}: expected host:port`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

function readKey(file: string): { privateKey?: KeyObject; publicKey: KeyObject } {
  const pem = readFileSync(file, 'utf8');
  // A private key signs tokens (this server is the token endpoint); a certificate or public key
  // only verifies tokens an external token service issued.
  if (/PRIVATE KEY-----/.test(pem)) {
    const privateKey = createPrivateKey(pem);
    return { privateKey, publicKey: createPublicKey(privateKey) };
  }
  return { publicKey: createPublicKey(pem) };
}

export async function startRegistry(opts: ServeOptions): Promise<RunningRegistry> {
  const { host, port } = parseAddr(opts.addr);
  const storage = await FsRegistryStorage.open(opts.root);
  const users = opts.htpasswd !== undefined ? await Htpasswd.load(opts.htpasswd) : undefined;
  const tls = opts.tls !== undefined;
  const routeOpts: RegistryOptions = { readOnly: opts.readOnly };

  let auth: Authenticator | undefined;
  if (opts.token) {
    const service = opts.token.service ?? opts.token.issuer;
    const { privateKey, publicKey } = readKey(opts.token.keyFile);
    auth = new TokenAuth({ realm: opts.token.realm, issuer: opts.token.issuer, service, publicKey }, tls);
    if (privateKey) {
      const issuer = new TokenIssuer({ issuer: opts.token.issuer, service, privateKey, users, anonymousPull: opts.anonymousPull });
      const path = opts.token.realm.startsWith('/') ? opts.token.realm : new URL(opts.token.realm).pathname;
      routeOpts.tokenEndpoint = { path, handle: (req, res) => issuer.handle(req, res) };
    }
  } else if (users) {
    auth = new BasicAuth(users, { anonymousPull: opts.anonymousPull });
  }
  routeOpts.auth = auth;

  const lock = new RwLock();
  routeOpts.manifestLock = lock;
  const gc = (o: { dryRun?: boolean; graceMs?: number } = {}) =>
    lock.exclusive(() => collectGarbage(storage.layout, { graceMs: o.graceMs ?? opts.gcGraceMs, dryRun: o.dryRun }));
  routeOpts.gc = () => gc();

  const handler = registryHandler(storage, routeOpts);
  const server: Server = opts.tls
    ? createHttpsServer({ cert: readFileSync(opts.tls.certFile), key: readFileSync(opts.tls.keyFile), keepAliveTimeout: 30_000 }, handler) as unknown as Server
    : createServer({ keepAliveTimeout: 30_000 }, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  let timer: NodeJS.Timeout | undefined;
  if (opts.gcIntervalMs && !opts.readOnly) {
    timer = setInterval(() => {
      gc().catch((e: unknown) => process.stderr.write(`registry: garbage collection: ${e instanceof Error ? e.message : String(e)}\n`));
    }, opts.gcIntervalMs);
    timer.unref();
  }
  const a = server.address() as AddressInfo;
  return {
    addr: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
    scheme: tls ? 'https' : 'http',
    server,
    gc,
    close: () => new Promise<void>((resolve) => {
      if (timer) clearInterval(timer);
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
