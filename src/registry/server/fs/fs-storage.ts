/**
 * RegistryStorage on a local directory: plain files, content addressed, every change made visible
 * by a rename. No database: a registry root can be copied, backed up and inspected with ls.
 */
import { createHash, randomBytes, randomUUID, type Hash } from 'node:crypto';
import { constants as fsc, createReadStream } from 'node:fs';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { hexOf, type Digest } from '../../../base/digest';
import { errnoCode } from '../../../base/errors';
import { KeyedMutex } from '../../../image/keyed-mutex';
import { FdWriter } from '../../../sys/fd-writer';
import { registryError } from '../errors';
import type { Descriptor } from '../manifest';
import type { BlobStore, ManifestStore, OpenBlob, RegistryStorage, StoredManifest, UploadChunk, UploadState, UploadStore } from '../storage';

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

  /**
   * Records that `repo` has the blob. The link is an empty file: creating it is atomic by itself
   * (it exists or not, there is no content to tear), so no temp file, fsync and rename; on ext4 the
   * next fsync (the manifest's, which needs the link) commits its creation with it, and a link lost
   * to a power failure before that only makes the client push the blob again.
   */
  async link(repo: string, digest: Digest): Promise<void> {
    const path = this.layout.layerLink(repo, digest);
    let fh: FileHandle;
    try {
      fh = await open(path, 'w', 0o644);
    } catch (e) {
      if (errnoCode(e) !== 'ENOENT') throw e;
      await mkdir(dirname(path), { recursive: true });
      fh = await open(path, 'w', 0o644);
    }
    await fh.close();
  }
}

class FsBlobs implements BlobStore {
  constructor(private readonly layout: RegistryLayout, private readonly s: FsRegistryStorage) {}

  private unknown(repo: string, digest: Digest) {
    return registryError('NotFound', 'blob', `blob ${digest} unknown to repository ${repo}`, { digest });
  }

  /** `fn` on the blob's path, when the repository links it; a blob missing either way is unknown. */
  private async linked<T>(repo: string, digest: Digest, fn: (path: string) => Promise<T>): Promise<T> {
    if (!(await exists(this.layout.layerLink(repo, digest)))) throw this.unknown(repo, digest);
    try {
      return await fn(this.layout.blob(digest));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw this.unknown(repo, digest);
      throw e;
    }
  }

  async stat(repo: string, digest: Digest): Promise<number> {
    return this.linked(repo, digest, async (path) => (await stat(path)).size);
  }

  async open(repo: string, digest: Digest): Promise<OpenBlob> {
    // One link check, one open, one fstat: each is a thread-pool round trip, which costs
    // milliseconds on a busy host (stat then open took five).
    const fh = await this.linked(repo, digest, (path) => open(path, 'r'));
    let size: number;
    try {
      size = (await fh.stat()).size;
    } catch (e) {
      await fh.close();
      throw e;
    }
    // 1 MiB reads: a 200 MB layer in 200 reads and socket writes instead of 3200.
    return {
      size,
      read: (range) => fh.createReadStream({ highWaterMark: 1 << 20, ...(range ? { start: range.start, end: range.end } : {}) }),
      close: () => fh.close(),
    };
  }

  async delete(repo: string, digest: Digest): Promise<void> {
    try {
      await unlink(this.layout.layerLink(repo, digest));
    } catch (e) {
      if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENOTDIR') throw this.unknown(repo, digest);
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

/** What this process knows of a session: its record and the sha256 of its bytes up to `offset`. */
interface Session extends UploadRecord { hash?: Hash }

/**
 * Sessions kept in memory, the least recently used dropped first: a client that starts uploads and
 * never finishes them (garbage collection sweeps their directories after a day) must not grow the
 * server. A dropped session goes on from its state file, as after a restart.
 */
const MAX_SESSIONS = 4096;

class FsUploads implements UploadStore {
  private readonly lock = new KeyedMutex();
  /**
   * Sessions started or appended to by this process, so that a PATCH or PUT need not read the
   * state file back (open, fstat, read, close: four thread-pool round trips) and the digest is
   * never recomputed. Lost on restart: then read from disk, and the content hashed again at finish.
   */
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly layout: RegistryLayout, private readonly s: FsRegistryStorage) {}

  private unknown(id: string) {
    return registryError('NotFound', 'upload', `upload ${id} unknown`, { id });
  }

  private async record(repo: string, id: string): Promise<Session> {
    if (!UPLOAD_ID_RE.test(id)) throw this.unknown(id);
    let rec = this.sessions.get(id);
    if (!rec) {
      const raw = await readOrUndefined(join(this.layout.upload(id), 'state'));
      if (!raw) throw this.unknown(id);
      const { repo: r, offset } = JSON.parse(raw.toString()) as UploadRecord;
      rec = { repo: r, offset };
    }
    // A session belongs to the repository it was started in.
    if (rec.repo !== repo) throw this.unknown(id);
    return rec;
  }

  private remember(id: string, session: Session): void {
    this.sessions.delete(id); // re-inserted last: the Map's order is the use order
    this.sessions.set(id, session);
    if (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value as string);
  }

  /** Ends a session: its directory goes (the data file was renamed into blobs/ or is dropped). */
  private async remove(id: string): Promise<void> {
    this.sessions.delete(id);
    const dir = this.layout.upload(id);
    // Usually only `state` is left: two calls instead of rm's walk.
    try {
      await unlink(join(dir, 'state'));
      await rmdir(dir);
    } catch {
      await rm(dir, { recursive: true, force: true });
    }
  }

  async start(repo: string): Promise<UploadState> {
    const id = randomUUID();
    const dir = this.layout.upload(id);
    await mkdir(dir, { recursive: true });
    // The data file is created by the first chunk (O_CREAT); no chunk yet means no bytes.
    await this.s.writeAtomic(join(dir, 'state'), JSON.stringify({ repo, offset: 0 }));
    this.remember(id, { repo, offset: 0, hash: createHash('sha256') });
    return { id, offset: 0 };
  }

  async status(repo: string, id: string): Promise<UploadState> {
    const rec = await this.record(repo, id);
    return { id, offset: rec.offset };
  }

  append(repo: string, id: string, chunk: UploadChunk): Promise<UploadState> {
    return this.lock.run(id, async () => {
      const rec = await this.record(repo, id);
      const { offset, hash } = await this.write(id, rec, chunk);
      await this.s.writeAtomic(join(this.layout.upload(id), 'state'), JSON.stringify({ repo, offset }));
      this.remember(id, { repo, offset, hash });
      return { id, offset };
    });
  }

  /**
   * Writes a chunk at the session's offset and fsyncs it; returns the new offset and the running
   * hash (undefined when this process did not see the bytes before: finish hashes the file then).
   * Nothing of a failed chunk is kept: the file is cut back to the offset, the session is as it was.
   */
  private async write(id: string, rec: Session, chunk: UploadChunk): Promise<{ offset: number; hash?: Hash }> {
    const { body, start, length, signal } = chunk;
    if (start !== undefined && start !== rec.offset) {
      throw registryError('Conflict', 'range', `chunk starts at ${start}, upload ${id} is at ${rec.offset}`, { offset: rec.offset });
    }
    const hash = rec.hash?.copy();
    let fh: FileHandle;
    try {
      fh = await open(join(this.layout.upload(id), 'data'), fsc.O_RDWR | fsc.O_CREAT, 0o644);
    } catch (e) {
      // The session was swept (garbage collection of sessions idle for a day) or cancelled.
      if (errnoCode(e) === 'ENOENT') { this.sessions.delete(id); throw this.unknown(id); }
      throw e;
    }
    // Writes run behind the socket reads, batched; write-back starts during the upload, so that
    // the fsync at its end is short (see FdWriter).
    const out = new FdWriter(fh.fd, { position: rec.offset, syncBehind: 32 << 20 });
    let pos = rec.offset;
    try {
      await eachChunk(body, (c) => {
        if (length !== undefined && pos + c.length - rec.offset > length) {
          throw registryError('InvalidArgument', 'size', `chunk longer than its declared ${length} bytes`);
        }
        hash?.update(c);
        pos += c.length;
        return out.write(c);
      }, signal);
      signal?.throwIfAborted();
      if (length !== undefined && pos - rec.offset !== length) {
        throw registryError('InvalidArgument', 'size', `chunk of ${pos - rec.offset} bytes, ${length} declared`);
      }
      await out.sync();
    } catch (e) {
      await out.settle();
      await fh.truncate(rec.offset).catch(() => {
        // The tail stays: finish must not trust the file's length, so it reads the file again.
        const known = this.sessions.get(id);
        if (known) this.sessions.set(id, { repo: known.repo, offset: known.offset });
      });
      throw e;
    } finally {
      await fh.close();
    }
    return { offset: pos, hash };
  }

  finish(repo: string, id: string, digest: Digest, last?: UploadChunk): Promise<number> {
    return this.lock.run(id, async () => {
      let rec = await this.record(repo, id);
      if (last) {
        // The offset this chunk reaches is not recorded: the session ends here whatever happens
        // next. A crash before the blob is renamed in leaves the recorded offset, and a torn tail
        // that the next finish drops.
        const w = await this.write(id, rec, last);
        rec = { repo, offset: w.offset, hash: w.hash };
      }
      const data = join(this.layout.upload(id), 'data');
      let actual: Digest;
      // From here on the session's running hash is used up; a retry after a failure below starts
      // from the disk again.
      this.sessions.delete(id);
      if (rec.hash && rec.offset > 0) {
        // Every byte went through this process, and a failed chunk was cut off: the file is
        // exactly `offset` bytes, and its digest is known.
        actual = `sha256:${rec.hash.digest('hex')}`;
      } else {
        const fh = await open(data, fsc.O_RDWR | fsc.O_CREAT, 0o644).catch((e: unknown) => {
          throw errnoCode(e) === 'ENOENT' ? this.unknown(id) : e;
        });
        try {
          // A crash between a chunk's write and its commit leaves a torn tail: drop it.
          if ((await fh.stat()).size !== rec.offset) await fh.truncate(rec.offset);
        } finally {
          await fh.close();
        }
        actual = rec.hash && rec.offset === 0 ? `sha256:${rec.hash.digest('hex')}` : await hashFile(data);
      }
      if (actual !== digest) {
        await this.remove(id);
        throw registryError('InvalidArgument', 'digest', `upload content has digest ${actual}, not ${digest}`, { expected: digest, actual });
      }
      await this.s.commitBlob(data, digest);
      await this.s.link(repo, digest);
      await this.remove(id);
      return rec.offset;
    });
  }

  cancel(repo: string, id: string): Promise<void> {
    return this.lock.run(id, async () => {
      await this.record(repo, id);
      await this.remove(id);
    });
  }
}

/**
 * Feeds every chunk of `body` to `fn` through 'data' events, pausing the body while a promise `fn`
 * returned is pending; resolves at the body's end. Rejects with what `fn` threw or its promise
 * rejected with, the body's error, a close before the end (a dropped connection) or the abort of
 * `signal`. An upload arrives in 64 KiB socket reads, ~3200 per 200 MB: async iteration over the
 * request cost a promise and a read() round per chunk on top of this (~0.1-0.3 s of event-loop CPU
 * per 200 MB in a profile on a busy host).
 */
function eachChunk(body: Readable, fn: (c: Buffer) => Promise<void> | undefined, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let done = false;
    const finish = (e?: unknown) => {
      if (done) return;
      done = true;
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', finish);
      body.off('close', onClose);
      signal?.removeEventListener('abort', onAbort);
      if (e === undefined) resolve();
      else reject(e);
    };
    const onData = (c: Buffer) => {
      let wait: Promise<void> | undefined;
      try {
        wait = fn(c);
      } catch (e) {
        finish(e);
        return;
      }
      if (wait) {
        body.pause();
        wait.then(() => { if (!done) body.resume(); }, finish);
      }
    };
    const onEnd = () => finish();
    const onClose = () => finish(new Error('aborted: the body ended before it was complete'));
    const onAbort = () => finish(signal?.reason ?? new Error('aborted'));
    if (signal?.aborted) { onAbort(); return; }
    signal?.addEventListener('abort', onAbort, { once: true });
    body.on('error', finish);
    body.on('end', onEnd);
    body.on('close', onClose);
    body.on('data', onData);
  });
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
