/**
 * RegistryStorage on a local directory: plain files, content addressed, every change made visible
 * by a rename. No database: a registry root can be copied, backed up and inspected with ls.
 */
import { createHash, randomBytes, randomUUID, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { hexOf, type Digest } from '../../../base/digest';
import { errnoCode } from '../../../base/errors';
import { KeyedMutex } from '../../../image/keyed-mutex';
import { FdWriter } from '../../../sys/fd-writer';
import { registryError } from '../errors';
import type { Descriptor } from '../manifest';
import type { BlobStore, ManifestStore, RegistryStorage, StoredManifest, UploadState, UploadStore } from '../storage';

/**
 * Every path under the registry root comes from here:
 *
 * ROOT/
 *   blobs/sha256/<hex[0:2]>/<hex>          content (layers, configs, manifests); immutable, renamed in
 *                                          only after its digest was verified
 *   uploads/<id>/data                      bytes of an upload session (may end in a torn tail after a crash)
 *   uploads/<id>/state                     {"repo","offset"}: the committed length, replaced atomically
 *   uploads/.tmp/                          temp files renamed into blobs/ and repositories/
 *   repositories/<name>/                   <name> may have several parts (library/busybox); parts never
 *                                          start with "_" (names.ts), so they never meet the dirs below
 *     _layers/sha256/<hex>                 empty: the repository has this blob
 *     _manifests/revisions/sha256/<hex>    {"mediaType"}: the repository has this manifest
 *     _manifests/tags/<tag>                the digest the tag points at
 *     _referrers/sha256/<subject hex>/<hex>  the descriptor of a manifest whose subject is that digest
 */
export class RegistryLayout {
  constructor(readonly root: string) {}
  blob(d: Digest): string { const h = hexOf(d); return join(this.root, 'blobs', 'sha256', h.slice(0, 2), h); }
  uploads(): string { return join(this.root, 'uploads'); }
  upload(id: string): string { return join(this.root, 'uploads', id); }
  tmp(): string { return join(this.root, 'uploads', '.tmp'); }
  repositories(): string { return join(this.root, 'repositories'); }
  repo(name: string): string { return join(this.root, 'repositories', ...name.split('/')); }
  layerLink(name: string, d: Digest): string { return join(this.repo(name), '_layers', 'sha256', hexOf(d)); }
  revision(name: string, d: Digest): string { return join(this.repo(name), '_manifests', 'revisions', 'sha256', hexOf(d)); }
  tags(name: string): string { return join(this.repo(name), '_manifests', 'tags'); }
  tag(name: string, tag: string): string { return join(this.tags(name), tag); }
  referrers(name: string, subject: Digest): string { return join(this.repo(name), '_referrers', 'sha256', hexOf(subject)); }
  referrer(name: string, subject: Digest, d: Digest): string { return join(this.referrers(name, subject), hexOf(d)); }
}

const UPLOAD_ID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function exists(path: string): Promise<boolean> {
  try { await stat(path); return true; } catch (e) { if (errnoCode(e) === 'ENOENT') return false; throw e; }
}

async function readOrUndefined(path: string): Promise<Buffer | undefined> {
  try { return await readFile(path); } catch (e) { if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return undefined; throw e; }
}

async function listDir(path: string): Promise<string[]> {
  try { return await readdir(path); } catch (e) { if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') return []; throw e; }
}

async function fsyncDir(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try { await fh.sync(); } finally { await fh.close(); }
}

export class FsRegistryStorage implements RegistryStorage {
  readonly layout: RegistryLayout;
  readonly blobs: BlobStore;
  readonly uploads: UploadStore;
  readonly manifests: ManifestStore;

  private constructor(root: string) {
    this.layout = new RegistryLayout(root);
    this.blobs = new FsBlobs(this.layout, this);
    this.uploads = new FsUploads(this.layout, this);
    this.manifests = new FsManifests(this.layout, this);
  }

  /** Opens (creating) a registry root. Leftover temp files of a crashed server are removed. */
  static async open(root: string): Promise<FsRegistryStorage> {
    const s = new FsRegistryStorage(root);
    await rm(s.layout.tmp(), { recursive: true, force: true });
    for (const d of [s.layout.tmp(), join(root, 'blobs', 'sha256'), s.layout.repositories()]) await mkdir(d, { recursive: true });
    return s;
  }

  /** Writes a file atomically: temp file under uploads/.tmp (same file system), fsync, rename. */
  async writeAtomic(path: string, data: string | Buffer): Promise<void> {
    const tmp = join(this.layout.tmp(), randomBytes(8).toString('hex'));
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(data);
      await fh.sync();
    } catch (e) {
      await fh.close();
      await rm(tmp, { force: true });
      throw e;
    }
    await fh.close();
    await mkdir(dirname(path), { recursive: true });
    await rename(tmp, path);
  }

  /** Makes verified content a blob: fsync it, rename it into blobs/ (same bytes if it was there). */
  async commitBlob(file: string, digest: Digest): Promise<void> {
    const path = this.layout.blob(digest);
    await mkdir(dirname(path), { recursive: true });
    await rename(file, path);
    await fsyncDir(dirname(path));
  }

  async link(repo: string, digest: Digest): Promise<void> {
    await this.writeAtomic(this.layout.layerLink(repo, digest), '');
  }
}

class FsBlobs implements BlobStore {
  constructor(private readonly layout: RegistryLayout, private readonly s: FsRegistryStorage) {}

  async stat(repo: string, digest: Digest): Promise<number> {
    const unknown = () => registryError('NotFound', 'blob', `blob ${digest} unknown to repository ${repo}`, { digest });
    if (!(await exists(this.layout.layerLink(repo, digest)))) throw unknown();
    try {
      return (await stat(this.layout.blob(digest))).size;
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw unknown();
      throw e;
    }
  }

  async open(repo: string, digest: Digest, range?: { start: number; end: number }): Promise<Readable> {
    await this.stat(repo, digest);
    const fh = await open(this.layout.blob(digest), 'r');
    // 1 MiB reads: a 200 MB layer in 200 reads and socket writes instead of 3200.
    return fh.createReadStream({ highWaterMark: 1 << 20, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  async delete(repo: string, digest: Digest): Promise<void> {
    try {
      await unlink(this.layout.layerLink(repo, digest));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') throw registryError('NotFound', 'blob', `blob ${digest} unknown to repository ${repo}`, { digest });
      throw e;
    }
  }

  async mount(repo: string, digest: Digest, from: string): Promise<boolean> {
    if (!(await exists(this.layout.layerLink(from, digest))) || !(await exists(this.layout.blob(digest)))) return false;
    await this.s.link(repo, digest);
    return true;
  }
}

interface UploadRecord { repo: string; offset: number }

class FsUploads implements UploadStore {
  private readonly lock = new KeyedMutex();
  /** Running sha256 of each session at its committed offset; lost on restart (then recomputed). */
  private readonly hashes = new Map<string, { offset: number; hash: Hash }>();

  constructor(private readonly layout: RegistryLayout, private readonly s: FsRegistryStorage) {}

  private unknown(id: string) {
    return registryError('NotFound', 'upload', `upload ${id} unknown`, { id });
  }

  private async record(repo: string, id: string): Promise<UploadRecord> {
    if (!UPLOAD_ID_RE.test(id)) throw this.unknown(id);
    const raw = await readOrUndefined(join(this.layout.upload(id), 'state'));
    if (!raw) throw this.unknown(id);
    const rec = JSON.parse(raw.toString()) as UploadRecord;
    // A session belongs to the repository it was started in.
    if (rec.repo !== repo) throw this.unknown(id);
    return rec;
  }

  async start(repo: string): Promise<UploadState> {
    const id = randomUUID();
    const dir = this.layout.upload(id);
    await mkdir(dir, { recursive: true });
    await (await open(join(dir, 'data'), 'w')).close();
    await this.s.writeAtomic(join(dir, 'state'), JSON.stringify({ repo, offset: 0 }));
    this.hashes.set(id, { offset: 0, hash: createHash('sha256') });
    return { id, offset: 0 };
  }

  async status(repo: string, id: string): Promise<UploadState> {
    const rec = await this.record(repo, id);
    return { id, offset: rec.offset };
  }

  append(repo: string, id: string, body: Readable, opts: { start?: number; length?: number; signal?: AbortSignal } = {}): Promise<UploadState> {
    return this.lock.run(id, async () => {
      const rec = await this.record(repo, id);
      if (opts.start !== undefined && opts.start !== rec.offset) {
        throw registryError('Conflict', 'range', `chunk starts at ${opts.start}, upload ${id} is at ${rec.offset}`, { offset: rec.offset });
      }
      const cached = this.hashes.get(id);
      const hash = cached && cached.offset === rec.offset ? cached.hash.copy() : undefined;
      const data = join(this.layout.upload(id), 'data');
      const fh = await open(data, 'r+');
      // Writes run behind the socket reads, batched; write-back starts during the upload, so that
      // the fsync at its end is short (see FdWriter).
      const out = new FdWriter(fh.fd, { position: rec.offset, syncBehind: 32 << 20 });
      let pos = rec.offset;
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          opts.signal?.throwIfAborted();
          if (opts.length !== undefined && pos + chunk.length - rec.offset > opts.length) {
            throw registryError('InvalidArgument', 'size', `chunk longer than its declared ${opts.length} bytes`);
          }
          hash?.update(chunk);
          const wait = out.write(chunk);
          if (wait) await wait;
          pos += chunk.length;
        }
        opts.signal?.throwIfAborted();
        if (opts.length !== undefined && pos - rec.offset !== opts.length) {
          throw registryError('InvalidArgument', 'size', `chunk of ${pos - rec.offset} bytes, ${opts.length} declared`);
        }
        await out.sync();
      } catch (e) {
        // Nothing of a failed chunk is kept: the committed offset stays where it was.
        await out.settle();
        await fh.truncate(rec.offset).catch(() => undefined);
        throw e;
      } finally {
        await fh.close();
      }
      await this.s.writeAtomic(join(this.layout.upload(id), 'state'), JSON.stringify({ repo, offset: pos }));
      if (hash) this.hashes.set(id, { offset: pos, hash });
      else this.hashes.delete(id);
      return { id, offset: pos };
    });
  }

  finish(repo: string, id: string, digest: Digest): Promise<number> {
    return this.lock.run(id, async () => {
      const rec = await this.record(repo, id);
      const data = join(this.layout.upload(id), 'data');
      const fh = await open(data, 'r+');
      let actual: Digest;
      try {
        // A crash between a chunk's write and its commit leaves a torn tail: drop it.
        if ((await fh.stat()).size !== rec.offset) await fh.truncate(rec.offset);
        const cached = this.hashes.get(id);
        actual = cached && cached.offset === rec.offset ? `sha256:${cached.hash.digest('hex')}` : await hashFile(data);
      } finally {
        await fh.close();
      }
      this.hashes.delete(id);
      if (actual !== digest) {
        await rm(this.layout.upload(id), { recursive: true, force: true });
        throw registryError('InvalidArgument', 'digest', `upload content has digest ${actual}, not ${digest}`, { expected: digest, actual });
      }
      await this.s.commitBlob(data, digest);
      await this.s.link(repo, digest);
      await rm(this.layout.upload(id), { recursive: true, force: true });
      return rec.offset;
    });
  }

  cancel(repo: string, id: string): Promise<void> {
    return this.lock.run(id, async () => {
      await this.record(repo, id);
      this.hashes.delete(id);
      await rm(this.layout.upload(id), { recursive: true, force: true });
    });
  }
}

async function hashFile(path: string): Promise<Digest> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) h.update(chunk);
  return `sha256:${h.digest('hex')}`;
}

class FsManifests implements ManifestStore {
  constructor(private readonly layout: RegistryLayout, private readonly s: FsRegistryStorage) {}

  private unknown(repo: string, ref: { digest: Digest } | { tag: string }) {
    const what = 'digest' in ref ? ref.digest : ref.tag;
    return registryError('NotFound', 'manifest', `manifest ${what} unknown to repository ${repo}`, 'digest' in ref ? { digest: ref.digest } : { tag: ref.tag });
  }

  async put(repo: string, m: StoredManifest, opts: { tag?: string; referrer?: { subject: Digest; descriptor: Descriptor } }): Promise<void> {
    if (!(await exists(this.layout.blob(m.digest)))) {
      const tmp = join(this.layout.tmp(), randomBytes(8).toString('hex'));
      await this.s.writeAtomic(tmp, m.content);
      await this.s.commitBlob(tmp, m.digest);
    }
    await this.s.writeAtomic(this.layout.revision(repo, m.digest), JSON.stringify({ mediaType: m.mediaType }));
    if (opts.referrer) {
      await this.s.writeAtomic(this.layout.referrer(repo, opts.referrer.subject, m.digest), JSON.stringify(opts.referrer.descriptor));
    }
    if (opts.tag !== undefined) await this.s.writeAtomic(this.layout.tag(repo, opts.tag), m.digest);
  }

  async has(repo: string, digest: Digest): Promise<boolean> {
    return exists(this.layout.revision(repo, digest));
  }

  private async resolve(repo: string, ref: { digest: Digest } | { tag: string }): Promise<Digest> {
    if ('digest' in ref) return ref.digest;
    const raw = await readOrUndefined(this.layout.tag(repo, ref.tag));
    if (!raw) throw this.unknown(repo, ref);
    return raw.toString().trim() as Digest;
  }

  async get(repo: string, ref: { digest: Digest } | { tag: string }): Promise<StoredManifest> {
    const digest = await this.resolve(repo, ref);
    const rev = await readOrUndefined(this.layout.revision(repo, digest));
    const content = rev && await readOrUndefined(this.layout.blob(digest));
    if (!rev || !content) throw this.unknown(repo, ref);
    return { digest, mediaType: (JSON.parse(rev.toString()) as { mediaType: string }).mediaType, content };
  }

  async delete(repo: string, ref: { digest: Digest } | { tag: string }): Promise<void> {
    if ('tag' in ref) {
      try { await unlink(this.layout.tag(repo, ref.tag)); return; } catch (e) {
        if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') throw this.unknown(repo, ref);
        throw e;
      }
    }
    const m = await this.get(repo, ref);
    for (const tag of await this.tagsOrEmpty(repo)) {
      const raw = await readOrUndefined(this.layout.tag(repo, tag));
      if (raw?.toString().trim() === ref.digest) await rm(this.layout.tag(repo, tag), { force: true });
    }
    const subject = subjectOf(m.content);
    if (subject) await rm(this.layout.referrer(repo, subject, ref.digest), { force: true });
    await rm(this.layout.revision(repo, ref.digest), { force: true });
  }

  private async tagsOrEmpty(repo: string): Promise<string[]> {
    return (await listDir(this.layout.tags(repo))).filter((t) => !t.startsWith('.')).sort();
  }

  async tags(repo: string): Promise<string[]> {
    if (!(await exists(this.layout.repo(repo)))) throw registryError('NotFound', 'name', `repository ${repo} not known to the registry`, { name: repo });
    return this.tagsOrEmpty(repo);
  }

  async referrers(repo: string, digest: Digest): Promise<Descriptor[]> {
    const out: Descriptor[] = [];
    for (const hex of (await listDir(this.layout.referrers(repo, digest))).sort()) {
      const raw = await readOrUndefined(join(this.layout.referrers(repo, digest), hex));
      if (raw && await this.has(repo, `sha256:${hex}`)) out.push(JSON.parse(raw.toString()) as Descriptor);
    }
    return out;
  }

  async repositories(): Promise<string[]> {
    const out: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      const entries = await listDir(dir);
      if (prefix && (entries.includes('_manifests') || entries.includes('_layers'))) out.push(prefix);
      for (const e of entries.sort()) {
        if (e.startsWith('_') || e.startsWith('.')) continue;
        await walk(join(dir, e), prefix ? `${prefix}/${e}` : e);
      }
    };
    await walk(this.layout.repositories(), '');
    return out.sort();
  }
}

function subjectOf(content: Buffer): Digest | undefined {
  try {
    const d = (JSON.parse(content.toString()) as { subject?: { digest?: string } }).subject?.digest;
    return typeof d === 'string' && /^sha256:[a-f0-9]{64}$/.test(d) ? d as Digest : undefined;
  } catch {
    return undefined;
  }
}
