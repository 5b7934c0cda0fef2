import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { BERTH } from './harness';

/** One request the fake engine received (path without the /vX.Y prefix). */
export interface Recorded { method: string; path: string; query: URLSearchParams; body: unknown }

/** A canned answer: status and JSON body (undefined: empty). */
export interface Answer { status: number; body?: unknown }
export type Route = (r: Recorded) => Answer | undefined;

export interface CliRun { status: number | null; stdout: string; stderr: string }

export interface FakeEngine {
  host: string;
  requests: Recorded[];
  /** Routes tried in order; the first that answers wins; otherwise 404 "page not found". */
  routes: Route[];
  /** Runs the real docker CLI against the fake engine (stdin and stdout are pipes, as in the harness). */
  docker(args: string[], input?: string): Promise<CliRun>;
  berth(args: string[], input?: string): Promise<CliRun>;
  /** Runs one CLI; also returns the requests it made (the _ping excluded). */
  capture(cli: 'docker' | 'berth', args: string[], input?: string): Promise<CliRun & { requests: Recorded[] }>;
  close(): Promise<void>;
}

/**
 * A Docker Engine API stand-in on a unix socket: it answers from canned routes and records what the
 * CLIs send. It lets tests compare the requests and the output of `docker` and `berth` for objects the
 * real engine does not serve (yet), and see exactly which body the docker CLI builds from its flags.
 * The CLIs run as asynchronous children: a spawnSync would stop this process's event loop, and the
 * server with it.
 */
export async function startFakeEngine(routes: Route[] = []): Promise<FakeEngine> {
  const dir = mkdtempSync('/tmp/berth-fake-');
  const sock = join(dir, 'engine.sock');
  const requests: Recorded[] = [];
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const path = url.pathname.replace(/^\/v\d+\.\d+/, '');
      res.setHeader('Api-Version', '1.50');
      res.setHeader('Ostype', 'linux');
      if (path === '/_ping') { res.end(req.method === 'HEAD' ? undefined : 'OK'); return; }
      const text = Buffer.concat(chunks).toString();
      let body: unknown = text || undefined;
      try { if (text) body = JSON.parse(text); } catch { /* not JSON */ }
      const rec: Recorded = { method: req.method ?? 'GET', path, query: url.searchParams, body };
      requests.push(rec);
      let answer: Answer | undefined;
      for (const r of fake.routes) { answer = r(rec); if (answer) break; }
      answer ??= { status: 404, body: { message: 'page not found' } };
      res.statusCode = answer.status;
      if (answer.body === undefined) { res.end(); return; }
      res.setHeader('Content-Type', 'application/json');
      res.end(JSON.stringify(answer.body) + '\n');
    });
  });
  await new Promise<void>((resolve) => server.listen(sock, resolve));
  const env = { ...process.env, DOCKER_HOST: `unix://${sock}`, BERTH_HOST: `unix://${sock}`, DOCKER_CONFIG: join(dir, 'docker-config') };
  const run = (file: string, args: string[], input?: string) => runCli(file, args, env, input);
  const fake: FakeEngine = {
    host: `unix://${sock}`, requests, routes,
    docker: (args, input) => run('docker', args, input),
    berth: (args, input) => run(BERTH, args, input),
    capture: async (cli, args, input) => {
      const from = requests.length;
      const r = await (cli === 'docker' ? fake.docker(args, input) : fake.berth(args, input));
      return { ...r, requests: requests.slice(from) };
    },
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return fake;
}

function runCli(file: string, args: string[], env: NodeJS.ProcessEnv, input?: string): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stdout, stderr }); });
    child.stdin.end(input ?? '');
  });
}
