/**
 * Test helpers for the registry server: a server on 127.0.0.1 port 0 over a temp root (in this
 * process, or as a real `berth registry serve` process for crash tests), a raw HTTP client that
 * sends paths as they are (no `..` resolution), and a busybox docker-archive to push with skopeo.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRegistry, type RunningRegistry, type ServeOptions } from '../server';

export const REPO_ROOT = join(__dirname, '..', '..', '..', '..');

export interface TestRegistry extends RunningRegistry {
  root: string;
  /** Stops the server and removes its root. */
  dispose(): Promise<void>;
}

export async function startTestRegistry(opts: Partial<ServeOptions> = {}): Promise<TestRegistry> {
  const root = opts.root ?? mkdtempSync(join(tmpdir(), 'berth-registry-'));
  const reg = await startRegistry({ ...opts, addr: '127.0.0.1:0', root });
  return { ...reg, root, dispose: async () => { await reg.close(); rmSync(root, { recursive: true, force: true }); } };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  json<T = any>(): T; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** One HTTP request to 127.0.0.1; `path` is sent exactly as given. */
export function call(addr: string, method: string, path: string, opts: { headers?: Record<string, string | number>; body?: Buffer | string } = {}): Promise<Reply> {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    // A body always goes with its length (node sends GET/DELETE bodies unframed otherwise).
    const headers = opts.body !== undefined && opts.headers?.['Content-Length'] === undefined
      ? { 'Content-Length': Buffer.byteLength(opts.body), ...opts.headers } : opts.headers;
    const req = httpRequest({ host, port: Number(port), method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body.toString()) });
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export const digestOf = (data: Buffer | string): `sha256:${string}` => `sha256:${createHash('sha256').update(data).digest('hex')}`;

/** The first error code of a distribution error body. */
export function errorCode(r: Reply): string | undefined {
  try { return (r.json() as { errors: { code: string }[] }).errors[0].code; } catch { return undefined; }
}

/** Pushes a blob monolithically; returns its digest. */
export async function pushBlob(addr: string, repo: string, data: Buffer | string): Promise<`sha256:${string}`> {
  const d = digestOf(data);
  const r = await call(addr, 'POST', `/v2/${repo}/blobs/uploads/?digest=${d}`, { body: data, headers: { 'Content-Type': 'application/octet-stream' } });
  if (r.status !== 201) throw new Error(`push blob: ${r.status} ${r.body.toString()}`);
  return d;
}

/** Pushes a config and one layer and an OCI image manifest naming them; returns the manifest. */
export async function pushImage(addr: string, repo: string, ref: string, opts: { layer?: string; subject?: { digest: string; size: number; mediaType: string }; artifactType?: string; annotations?: Record<string, string> } = {}): Promise<{ digest: string; body: Buffer }> {
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const layer = opts.layer ?? 'layer content';
  const cd = await pushBlob(addr, repo, config);
  const ld = await pushBlob(addr, repo, layer);
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: Buffer.byteLength(config) },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: ld, size: Buffer.byteLength(layer) }],
  };
  if (opts.artifactType) manifest.artifactType = opts.artifactType;
  if (opts.subject) manifest.subject = opts.subject;
  if (opts.annotations) manifest.annotations = opts.annotations;
  const body = Buffer.from(JSON.stringify(manifest));
  const r = await call(addr, 'PUT', `/v2/${repo}/manifests/${ref}`, { body, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
  if (r.status !== 201) throw new Error(`push manifest: ${r.status} ${r.body.toString()}`);
  return { digest: digestOf(body), body };
}

/** A temp directory removed by the returned function. */
export function tempDir(prefix = 'berth-registry-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * A docker-archive (docker save layout) of busybox, built by hand from scripts/busybox-rootfs.sh:
 * manifest.json, the config and one uncompressed layer tar. Written into `dir`; returns its path.
 */
export function busyboxDockerArchive(dir: string): string {
  const work = join(dir, 'archive');
  mkdirSync(work, { recursive: true });
  const layerTar = join(dir, 'rootfs.tar');
  execFileSync('bash', [join(REPO_ROOT, 'scripts', 'busybox-rootfs.sh'), layerTar]);
  const layer = readFileSync(layerTar);
  const diffId = digestOf(layer);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', created: '2024-01-01T00:00:00Z',
    config: { Cmd: ['sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [diffId] },
    history: [{ created: '2024-01-01T00:00:00Z', created_by: 'busybox-rootfs.sh' }],
  }));
  const configHex = digestOf(config).slice(7);
  const layerDir = join(work, diffId.slice(7));
  mkdirSync(layerDir);
  writeFileSync(join(layerDir, 'layer.tar'), layer);
  writeFileSync(join(work, `${configHex}.json`), config);
  writeFileSync(join(work, 'manifest.json'), JSON.stringify([{ Config: `${configHex}.json`, RepoTags: ['busybox:latest'], Layers: [`${diffId.slice(7)}/layer.tar`] }]));
  const out = join(dir, 'busybox.tar');
  execFileSync('tar', ['-C', work, '-cf', out, '.']);
  rmSync(work, { recursive: true, force: true });
  rmSync(layerTar, { force: true });
  return out;
}

/**
 * Runs skopeo against the test registry; returns stdout. Asynchronous: the registry under test may
 * live in this very process.
 */
export function skopeo(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('skopeo', args, { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`skopeo ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

export function haveSkopeo(): boolean {
  return existsSync('/usr/bin/skopeo');
}

/** A real `berth registry serve` process (from source, through tsx) on port 0; for crash tests. */
export async function spawnRegistry(root: string): Promise<{ addr: string; child: ChildProcess; kill: (signal?: NodeJS.Signals) => Promise<void> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cmd', 'berth.ts'), 'registry', 'serve', '--addr', '127.0.0.1:0', '--root', root], {
    cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
  const addr = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`registry did not start: ${stderr}`)), 20_000);
    child.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on http:\/\/(\S+)/.exec(out);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`registry exited ${code}: ${stderr}`)); });
  });
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    process.kill(child.pid!, signal);
  });
  return { addr, child, kill };
}
