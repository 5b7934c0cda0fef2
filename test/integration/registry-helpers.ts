// Helpers for the registry integration tests: `berth registry serve` as a child process on a
// 127.0.0.0/8 address, a cutting proxy, self-signed certificates, and a random-content image.
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { createServer, Server, Socket, connect } from 'node:net';
import { join } from 'node:path';
import { BERTH } from './harness';

export interface RunningRegistry { proc: ChildProcess; addr: string; stop(): Promise<void> }

/** `berth registry serve --addr HOST:0 --root ROOT [args]`; resolves with the bound address. */
export async function startRegistry(root: string, opts: { host?: string; args?: string[] } = {}): Promise<RunningRegistry> {
  const host = opts.host ?? '127.0.0.1';
  const proc = spawn(process.execPath, [BERTH, 'registry', 'serve', '--addr', `${host}:0`, '--root', root, ...(opts.args ?? [])], { stdio: ['ignore', 'pipe', 'inherit'] });
  const addr = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on https?:\/\/(127\.\d+\.\d+\.\d+:\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`registry exited with ${code}: ${out}`)));
  });
  return { proc, addr, stop: () => stopChild(proc) };
}

/** SIGTERM to a child we started, by PID; resolves when it has exited. */
export async function stopChild(proc: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  process.kill(proc.pid!, signal);
  await exited;
}

/** A self-signed P-256 certificate for an IP address; returns the cert and key paths. */
export function selfSignedCert(dir: string, ip: string): { cert: string; key: string } {
  mkdirSync(dir, { recursive: true });
  const cert = join(dir, `${ip}.crt`), key = join(dir, `${ip}.key`);
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', `/CN=${ip}`, '-addext', `subjectAltName=IP:${ip}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert, key };
}

/** A rootfs tar holding one file of `bytes` random bytes (incompressible), for `docker import`. */
export function randomLayerTar(dir: string, bytes: number): string {
  const root = join(dir, `rootfs-${bytes}`);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, 'random.bin'), randomBytes(bytes));
  const tar = join(dir, `random-${bytes}.tar`);
  execFileSync('tar', ['-C', root, '-cf', tar, '.']);
  return tar;
}

/**
 * A TCP proxy on 127.0.0.1 in front of a registry. The first GET of `blobPath` without a Range
 * header has its connection cut after `cutAfter` bytes of the answer; every request line and its
 * Range header are logged.
 */
export async function cuttingProxy(target: string, blobPath: string, cutAfter: number): Promise<{ addr: string; log: string[]; cuts: number; close(): Promise<void> }> {
  const [thost, tport] = target.split(':');
  const state = { log: [] as string[], cuts: 0 };
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(tport), thost);
    sockets.add(client).add(upstream);
    let armed = false;
    let sent = 0;
    client.on('data', (b: Buffer) => {
      const text = b.toString('latin1');
      for (const m of text.matchAll(/^(GET|HEAD|POST|PUT|PATCH|DELETE) (\S+) HTTP\/1\.1\r\n((?:[^\r\n]+\r\n)*)/gm)) {
        const range = /^range: *(.+)$/im.exec(m[3])?.[1];
        state.log.push(`${m[1]} ${m[2]}${range ? ` Range: ${range}` : ''}`);
        if (m[1] === 'GET' && m[2].endsWith(blobPath) && !range && state.cuts === 0) { armed = true; sent = 0; }
      }
      upstream.write(b);
    });
    upstream.on('data', (b: Buffer) => {
      if (armed) {
        sent += b.length;
        if (sent > cutAfter) {
          state.cuts++;
          armed = false;
          client.write(b.subarray(0, b.length - (sent - cutAfter)));
          client.destroy();
          upstream.destroy();
          return;
        }
      }
      client.write(b);
    });
    const end = () => { client.destroy(); upstream.destroy(); sockets.delete(client); sockets.delete(upstream); };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    addr: `127.0.0.1:${port}`,
    get log() { return state.log; },
    get cuts() { return state.cuts; },
    close: () => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}
