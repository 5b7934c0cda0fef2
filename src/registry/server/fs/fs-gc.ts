/**
 * Mark-and-sweep garbage collection of a registry root (layout in fs-storage.ts), safe while the
 * registry serves.
 *
 * Mark, per repository: every manifest a tag points at, the manifests an index lists, and the
 * referrers (signatures, SBOMs) whose subject is marked, transitively; their configs and layers.
 * Sweep, per repository: untagged manifests that nothing marked refers to, and blob links that no
 * surviving manifest refers to. Then globally: blob content that no surviving link or manifest of
 * any repository names, and upload sessions idle for longer than a day.
 *
 * Nothing younger than `graceMs` (by mtime) is swept: an upload that just finished and whose
 * manifest is not pushed yet, a manifest pushed by digest before the index that will list it, a
 * link made by a cross-repository mount. Inside the server, the collector also holds the RwLock
 * exclusively (rw-lock.ts), so a manifest PUT that found its blobs present stores the manifest
 * before any sweep can start. `berth registry gc` on a root a server is using relies on the grace
 * period alone.
 */
import { readdir, readFile, rm, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Digest } from '../../../base/digest';
import { errnoCode } from '../../../base/errors';
import type { RegistryLayout } from './fs-storage';

export interface GcOptions {
  /** Leave anything modified less than this long ago (default one hour). */
  graceMs?: number;
  /** Report what would go, remove nothing. */
  dryRun?: boolean;
  now?: number;
}

export interface GcReport {
  manifestsRemoved: string[];
  linksRemoved: number;
  blobsRemoved: string[];
  bytesFreed: number;
  uploadsRemoved: number;
}

const HEX_RE = /^[a-f0-9]{64}$/;
const UPLOAD_MAX_IDLE_MS = 24 * 3600_000;

async function list(path: string): Promise<string[]> {
  try { return await readdir(path); } catch (e) { if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return []; throw e; }
}

async function mtimeOf(path: string): Promise<{ mtimeMs: number; size: number } | undefined> {
  try { return await stat(path); } catch (e) { if (errnoCode(e) === 'ENOENT') return undefined; throw e; }
}

/** What a stored manifest refers to: child manifests, blobs (config, layers), its subject. */
function refsOf(content: Buffer): { manifests: Digest[]; blobs: Digest[]; subject?: Digest } {
  const out: { manifests: Digest[]; blobs: Digest[]; subject?: Digest } = { manifests: [], blobs: [] };
  let doc: { manifests?: { digest?: unknown }[]; config?: { digest?: unknown }; layers?: { digest?: unknown }[]; subject?: { digest?: unknown } };
  try { doc = JSON.parse(content.toString()) as typeof doc; } catch { return out; }
  const d = (v: unknown): Digest | undefined => (typeof v === 'string' && /^sha256:[a-f0-9]{64}$/.test(v) ? v as Digest : undefined);
  for (const m of Array.isArray(doc.manifests) ? doc.manifests : []) { const x = d(m?.digest); if (x) out.manifests.push(x); }
  const c = d(doc.config?.digest);
  if (c) out.blobs.push(c);
  for (const l of Array.isArray(doc.layers) ? doc.layers : []) { const x = d(l?.digest); if (x) out.blobs.push(x); }
  out.subject = d(doc.subject?.digest);
  return out;
}

async function repositories(layout: RegistryLayout): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await list(dir);
    if (prefix && (entries.includes('_manifests') || entries.includes('_layers'))) out.push(prefix);
    for (const e of entries) if (!e.startsWith('_') && !e.startsWith('.')) await walk(join(dir, e), prefix ? `${prefix}/${e}` : e);
  };
  await walk(layout.repositories(), '');
  return out;
}

export async function collectGarbage(layout: RegistryLayout, opts: GcOptions = {}): Promise<GcReport> {
  const now = opts.now ?? Date.now();
  const grace = opts.graceMs ?? 3600_000;
  const old = (st: { mtimeMs: number } | undefined) => st !== undefined && now - st.mtimeMs >= grace;
  const report: GcReport = { manifestsRemoved: [], linksRemoved: 0, blobsRemoved: [], bytesFreed: 0, uploadsRemoved: 0 };
  const remove = async (path: string) => { if (!opts.dryRun) await rm(path, { force: true }); };
  const content = new Map<Digest, Buffer | undefined>();
  const read = async (d: Digest) => {
    if (!content.has(d)) content.set(d, await readFile(layout.blob(d)).catch(() => undefined));
    return content.get(d);
  };
  /** Digests some surviving link or manifest of some repository names: their content stays. */
  const live = new Set<Digest>();

  for (const repo of await repositories(layout)) {
    const revDir = join(layout.repo(repo), '_manifests', 'revisions', 'sha256');
    const revisions = new Set((await list(revDir)).filter((h) => HEX_RE.test(h)).map((h) => `sha256:${h}` as Digest));
    // Mark.
    const marked = new Set<Digest>();
    const queue: Digest[] = [];
    for (const tag of await list(layout.tags(repo))) {
      const raw = await readFile(layout.tag(repo, tag), 'utf8').catch(() => undefined);
      const d = raw?.trim() as Digest | undefined;
      if (d && revisions.has(d)) queue.push(d);
    }
    const enqueueReferrers = async (subject: Digest) => {
      for (const h of await list(layout.referrers(repo, subject))) {
        const d = `sha256:${h}` as Digest;
        if (HEX_RE.test(h) && revisions.has(d)) queue.push(d);
      }
    };
    while (queue.length) {
      const d = queue.pop()!;
      if (marked.has(d)) continue;
      marked.add(d);
      const body = await read(d);
      if (body) for (const m of refsOf(body).manifests) if (revisions.has(m)) queue.push(m);
      await enqueueReferrers(d);
    }
    // Sweep manifests: untagged, unreferenced, and old.
    const surviving: Digest[] = [];
    for (const d of revisions) {
      if (marked.has(d) || !old(await mtimeOf(layout.revision(repo, d)))) { surviving.push(d); continue; }
      const body = await read(d);
      const subject = body ? refsOf(body).subject : undefined;
      if (subject) await remove(layout.referrer(repo, subject, d));
      await remove(layout.revision(repo, d));
      report.manifestsRemoved.push(`${repo}@${d}`);
    }
    // Blobs the surviving manifests need (a young untagged manifest keeps its layers too).
    const needed = new Set<Digest>();
    for (const d of surviving) {
      live.add(d);
      const body = await read(d);
      if (!body) continue;
      for (const b of refsOf(body).blobs) needed.add(b);
    }
    // Sweep links no surviving manifest needs, once old.
    for (const h of await list(join(layout.repo(repo), '_layers', 'sha256'))) {
      if (!HEX_RE.test(h)) continue;
      const d = `sha256:${h}` as Digest;
      if (needed.has(d) || !old(await mtimeOf(layout.layerLink(repo, d)))) { live.add(d); continue; }
      await remove(layout.layerLink(repo, d));
      report.linksRemoved++;
    }
  }

  // Sweep content.
  const blobsRoot = join(layout.root, 'blobs', 'sha256');
  for (const prefix of await list(blobsRoot)) {
    for (const h of await list(join(blobsRoot, prefix))) {
      if (!HEX_RE.test(h)) continue;
      const d = `sha256:${h}` as Digest;
      if (live.has(d)) continue;
      const st = await mtimeOf(layout.blob(d));
      if (!old(st)) continue;
      if (!opts.dryRun) await unlink(layout.blob(d)).catch((e: unknown) => { if (errnoCode(e) !== 'ENOENT') throw e; });
      report.blobsRemoved.push(d);
      report.bytesFreed += st!.size;
    }
  }

  // Abandoned upload sessions.
  for (const id of await list(layout.uploads())) {
    if (id.startsWith('.')) continue;
    const st = await mtimeOf(join(layout.upload(id), 'state'));
    if (st && now - st.mtimeMs < Math.max(grace, UPLOAD_MAX_IDLE_MS)) continue;
    if (!st && !old(await mtimeOf(layout.upload(id)))) continue;
    if (!opts.dryRun) await rm(layout.upload(id), { recursive: true, force: true });
    report.uploadsRemoved++;
  }
  return report;
}
