/**
 * `berth registry serve`: an OCI distribution server in its own process, independent of berthd.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { invalidArgument } from '../../base/errors';
import { FsRegistryStorage } from './fs/fs-storage';
import { registryHandler, type RegistryOptions } from './routes';

export interface ServeOptions extends RegistryOptions {
  /** host:port; port 0 picks a free one. */
  addr: string;
  /** Directory holding the registry's content (created if missing). */
  root: string;
}

export interface RunningRegistry {
  /** The address actually listened on, host:port. */
  addr: string;
  server: Server;
  close(): Promise<void>;
}

export function parseAddr(addr: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw invalidArgument(`invalid --addr ${JSON.stringify(addr)}: expected host:port`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export async function startRegistry(opts: ServeOptions): Promise<RunningRegistry> {
  const { host, port } = parseAddr(opts.addr);
  const storage = await FsRegistryStorage.open(opts.root);
  const server = createServer({ keepAliveTimeout: 30_000 }, registryHandler(storage, { readOnly: opts.readOnly }));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => { server.off('error', reject); resolve(); });
  });
  const a = server.address() as AddressInfo;
  return {
    addr: a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`,
    server,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
