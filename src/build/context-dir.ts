/**
 * A build context read from a directory of berthd's host (`berth build` on the same host, see
 * docs/builder.md): instead of a tar of every file through the socket, the CLI names the
 * directory and berthd walks it, as the CLI would have tarred it (the same .dockerignore patterns,
 * owners 0:0, whole-second mtimes, sockets, fifos and devices left out). A file's digest comes
 * from a cache keyed by what its stat says (device, inode, size, mtime and ctime in nanoseconds):
 * a rebuild of an unchanged context reads no file, as BuildKit's file sync does. Its data is read
 * only when a step copies it, and must then still be what the walk saw (else the build fails).
 */
import { closeSync, fstatSync, lstatSync, openSync, readSync, constants as fsc, promises as fsp, type BigIntStats } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { failedPrecondition, invalidArgument, errnoCode } from '../base/errors';
import type { DockerIgnore } from '../base/dockerignore';
import type { TarHeader } from '../archive/tar-codec';
import { BuildContext, type ContextEntry } from './context';

/** The directory a client names, and how it identifies it (so berthd knows it sees the same one). */
export interface ContextDir {
  /** Absolute path on berthd's host. */
  path: string;
  /** The directory's device and inode as the client saw them. */
  dev: number;
  ino: number;
}

/** The first words of the error for a directory berthd does not see as the client does: the client then sends a tar. */
export const CONTEXT_DIR_UNUSABLE = 'berthd cannot read the build context directory';

/**
 * Whether berthd sees the client's directory: the same device and inode at that path (a client in
 * another mount namespace, a container, sees other files there). FailedPrecondition otherwise.
 */
export function checkContextDir(dir: ContextDir): void {
  let st;
  try {
    st = lstatSync(dir.path);
  } catch (e) {
    throw failedPrecondition(`${CONTEXT_DIR_UNUSABLE} ${dir.path}: ${errnoCode(e) ?? (e as Error).message}`);
  }
  if (!st.isDirectory() || st.dev !== dir.dev || st.ino !== dir.ino) {
    throw failedPrecondition(`${CONTEXT_DIR_UNUSABLE} ${dir.path}: not the directory the client sees there`);
  }
}

/** File digests by path and stat identity; the oldest entries go first past `max`. */
export class FileDigestCache {
  private readonly map = new Map<string, { id: string; digest: string }>();
  constructor(private readonly max = 100_000) {}

  get(path: string, id: string): string | undefined {
    const e = this.map.get(path);
    return e?.id === id ? e.digest : undefined;
  }

  set(path: string, id: string, digest: string): void {
    this.map.delete(path);
    this.map.set(path, { id, digest });
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value!);
  }
}

/** What identifies a file's content as long as it holds: a write changes mtime and ctime, and nothing sets ctime back. */
function statId(st: BigIntStats): string {
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/** A file of the directory: its data read (and checked against the walk's stat) when first asked for. */
class DirFileEntry implements ContextEntry {
  private read: Buffer | undefined;
  readonly size: number;
  constructor(readonly header: TarHeader, private readonly path: string, private readonly id: string, public digest: string) {
    this.size = header.size;
  }

  get data(): Buffer {
    this.read ??= readChecked(this.path, this.id, this.header.name);
    return this.read;
  }

  /** The file copied in the kernel (copy_file_range or a reflink, on the thread pool), checked as `data` is. */
  async copyTo(dest: string, signal?: AbortSignal): Promise<void> {
    const changed = () => invalidArgument(`build context file ${this.header.name} changed during the build`);
    if (signal?.aborted) throw signal.reason;
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(this.path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch {
      throw changed();
    }
    try {
      if (statId(await fh.stat({ bigint: true })) !== this.id) throw changed();
      // EXCL: dest is created, never opened through a symlink or over a file.
      await fsp.copyFile(`/proc/self/fd/${fh.fd}`, dest, fsc.COPYFILE_EXCL | fsc.COPYFILE_FICLONE);
      if (statId(await fh.stat({ bigint: true })) !== this.id) throw changed();
    } finally {
      await fh.close();
    }
  }
}

function readChecked(path: string, id: string, name: string): Buffer {
  const changed = () => invalidArgument(`build context file ${name} changed during the build`);
  let fd: number;
  try {
    fd = openSync(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  } catch {
    throw changed();
  }
  try {
    const before = fstatSync(fd, { bigint: true });
    if (statId(before) !== id) throw changed();
    const buf = Buffer.allocUnsafe(Number(before.size));
    for (let off = 0; off < buf.length;) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) throw changed();
      off += n;
    }
    if (statId(fstatSync(fd, { bigint: true })) !== id) throw changed();
    return buf;
  } finally {
    closeSync(fd);
  }
}

async function hashFile(path: string, id: string, name: string, signal?: AbortSignal): Promise<string> {
  const fh = await fsp.open(path, fsc.O_RDONLY | fsc.O_NOFOLLOW);
  try {
    if (statId(await fh.stat({ bigint: true })) !== id) throw invalidArgument(`build context file ${name} changed while it was read`);
    const hash = createHash('sha256');
    for await (const c of fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false, signal })) hash.update(c as Buffer);
    if (statId(await fh.stat({ bigint: true })) !== id) throw invalidArgument(`build context file ${name} changed while it was read`);
    return hash.digest('hex');
  } finally {
    await fh.close();
  }
}

/**
 * Reads the context from `dir` (checked with checkContextDir first) leaving out what `ignore`
 * excludes; an excluded directory is still walked when `!` exceptions could re-include below it
 * (the CLI's walk). Files whose stat the cache does not know are hashed, a few at a time.
 */
export async function readContextDir(dir: ContextDir, ignore: DockerIgnore, digests: FileDigestCache, signal?: AbortSignal): Promise<BuildContext> {
  checkContextDir(dir);
  const ctx = new BuildContext();
  const pending: Array<() => Promise<void>> = [];
  const walk = async (rel: string): Promise<void> => {
    const names = (await fsp.readdir(join(dir.path, rel))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const n of names) {
      if (signal?.aborted) throw signal.reason;
      const r = rel ? `${rel}/${n}` : n;
      const path = join(dir.path, r);
      const st = await fsp.lstat(path, { bigint: true });
      const excluded = ignore.excludes(r);
      const header: TarHeader = {
        name: r, type: 'file', mode: Number(st.mode) & 0o7777, uid: 0, gid: 0, size: 0,
        mtime: Number(st.mtimeMs / 1000n), linkname: '', devmajor: 0, devminor: 0, xattrs: new Map(),
      };
      if (st.isDirectory()) {
        if (!excluded) ctx.entries.set(r, { header: { ...header, type: 'directory' }, data: EMPTY });
        if (!excluded || ignore.hasExceptions) await walk(r);
        continue;
      }
      if (excluded) continue;
      if (st.isSymbolicLink()) {
        ctx.entries.set(r, { header: { ...header, type: 'symlink', linkname: await fsp.readlink(path) }, data: EMPTY });
      } else if (st.isFile()) {
        const id = statId(st);
        const entry = new DirFileEntry({ ...header, size: Number(st.size) }, path, id, digests.get(path, id) ?? '');
        ctx.entries.set(r, entry);
        if (!entry.digest) {
          pending.push(async () => {
            entry.digest = await hashFile(path, id, r, signal);
            digests.set(path, id, entry.digest);
          });
        }
      }
      // Sockets, fifos and devices are left out, as the CLI's walk leaves them out.
    }
  };
  await walk('');
  // Excluded directories walked for exceptions leave their kept contents without parents: imply them.
  for (const k of [...ctx.entries.keys()]) ctx.implyParents(k);
  const workers = Array.from({ length: Math.min(8, pending.length) }, async () => {
    for (let job = pending.shift(); job; job = pending.shift()) await job();
  });
  await Promise.all(workers);
  return ctx;
}

const EMPTY = Buffer.alloc(0);
