import { closeSync, lstatSync, readlinkSync, type Stats } from 'node:fs';
import { posix, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { errnoCode, invalidArgument, notFound } from '../base/errors';
import { applyTarInRoot } from './apply-tar';
import { packDirFd, packEntry, type PackContext } from './pack-dir';
import { fsError, lstatAt, ScopedRoot } from './scoped-root';
import { TAR_END } from './tar-codec';

/**
 * `docker cp` on a container's root filesystem (GET/HEAD/PUT /containers/{id}/archive). The daemon
 * pauses a running container around these calls, as Docker does for CVE-2018-15664, but each
 * function is safe on its own: all access goes through ScopedRoot (openat2 RESOLVE_IN_ROOT).
 */

/** Docker's container path stat (the X-Docker-Container-Path-Stat header, before base64). */
export interface ContainerPathStat {
  name: string;
  size: number;
  /** Go os.FileMode bits: permissions plus type bits (dir 1<<31, symlink 1<<27, ...). */
  mode: number;
  /** RFC 3339 with nanoseconds, UTC. */
  mtime: string;
  /** For a symlink, its target resolved in the container ('/'-rooted); '' otherwise. */
  linkTarget: string;
}

const MODE_DIR = 2 ** 31;
const MODE_SYMLINK = 2 ** 27;
const MODE_DEVICE = 2 ** 26;
const MODE_NAMED_PIPE = 2 ** 25;
const MODE_SOCKET = 2 ** 24;
const MODE_SETUID = 2 ** 23;
const MODE_SETGID = 2 ** 22;
const MODE_CHAR_DEVICE = 2 ** 21;
const MODE_STICKY = 2 ** 20;

/** Go's os.FileMode for a stat result. */
export function goFileMode(st: Stats): number {
  let m = st.mode & 0o777;
  if (st.isDirectory()) m += MODE_DIR;
  else if (st.isSymbolicLink()) m += MODE_SYMLINK;
  else if (st.isCharacterDevice()) m += MODE_DEVICE + MODE_CHAR_DEVICE;
  else if (st.isBlockDevice()) m += MODE_DEVICE;
  else if (st.isFIFO()) m += MODE_NAMED_PIPE;
  else if (st.isSocket()) m += MODE_SOCKET;
  if (st.mode & 0o4000) m += MODE_SETUID;
  if (st.mode & 0o2000) m += MODE_SETGID;
  if (st.mode & 0o1000) m += MODE_STICKY;
  return m;
}

/**
 * Docker's FollowSymlinkInScope: the host path of `path` inside `root`, every symlink (the last
 * one included) resolved as if `root` were `/`; never leaves root. Missing components are kept
 * as they are. InvalidArgument after 255 links. (A snapshot in time: use it for display, not for
 * access; the other functions here are race-free.)
 */
export function resolveInRoot(root: string, path: string): string {
  const absRoot = resolve(root);
  return rootJoin(absRoot, resolveRel(absRoot, path));
}

function rootJoin(root: string, rel: string): string {
  return rel ? `${root}/${rel}` : root;
}

function resolveRel(root: string, path: string): string {
  let done: string[] = [];
  const todo = path.split('/');
  let links = 0;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') { done.pop(); continue; }
    const cand = [...done, c];
    let st: Stats | undefined;
    try {
      st = lstatSync(rootJoin(root, cand.join('/')));
    } catch (err) {
      if (errnoCode(err) !== 'ENOENT' && errnoCode(err) !== 'ENOTDIR') throw fsError(err, path);
    }
    if (st?.isSymbolicLink()) {
      if (++links > 255) throw invalidArgument(`${path}: too many levels of symbolic links`);
      const target = readlinkSync(rootJoin(root, cand.join('/')));
      if (target.startsWith('/')) done = [];
      todo.unshift(...target.split('/'));
      continue;
    }
    done = cand;
  }
  return done.join('/');
}

/** Splits a container path as Docker's ResolvePath does: the dir part is followed, the base not. */
function splitContainerPath(path: string): { absPath: string; dir: string; base: string } {
  let absPath = posix.join('/', path);
  // PreserveTrailingDotOrSeparator
  if (path.endsWith('/.') && !absPath.endsWith('/.')) absPath = absPath === '/' ? '/.' : `${absPath}/.`;
  else if (path.endsWith('/') && !absPath.endsWith('/')) absPath = `${absPath}/`;
  const i = absPath.lastIndexOf('/');
  return { absPath, dir: absPath.slice(1, i + 1), base: absPath.slice(i + 1) };
}

interface Located {
  root: ScopedRoot;
  /** O_PATH fd of the directory holding the target (or the target itself when `base` is ''). */
  dirFd: number;
  base: string;
  st: Stats;
  absPath: string;
}

function locate(rootPath: string, path: string): Located {
  const { absPath, dir, base } = splitContainerPath(path);
  const root = ScopedRoot.open(rootPath);
  let dirFd: number | undefined;
  try {
    const follow = base === '' || base === '.';
    dirFd = root.openDir(follow ? `${dir}.` : dir);
    const st = lstatAt(dirFd, '.');
    const target = follow ? st : lstatAt(dirFd, base);
    if (!target) throw notFound(`Could not find the file ${path} in container`);
    return { root, dirFd, base: follow ? '' : base, st: target, absPath };
  } catch (err) {
    if (dirFd !== undefined) closeSync(dirFd);
    root.close();
    if (errnoCode((err as { cause?: unknown }).cause) === 'ENOTDIR') throw notFound(`Could not find the file ${path} in container`, err);
    throw err;
  }
}

function release(l: Located): void {
  closeSync(l.dirFd);
  l.root.close();
}

function rfc3339Nano(st: Stats): string {
  const ns = BigInt(Math.round(st.mtimeMs * 1e6)); // sub-microsecond precision is not kept by Stats
  const secs = ns / 1000000000n;
  const frac = (ns % 1000000000n).toString().padStart(9, '0').replace(/0+$/, '');
  const base = new Date(Number(secs) * 1000).toISOString().replace(/\.\d+Z$/, '');
  return `${base}${frac ? `.${frac}` : ''}Z`;
}

function nameOf(absPath: string): string {
  const clean = posix.normalize(absPath).replace(/\/+$/, '');
  return clean === '' ? '/' : posix.basename(clean) || '/';
}

/** Docker's container path stat. NotFound when the path does not exist. */
export function statInRoot(root: string, path: string): ContainerPathStat {
  const l = locate(root, path);
  try {
    let linkTarget = '';
    if (l.st.isSymbolicLink()) {
      const abs = resolve(root);
      linkTarget = `/${resolveRel(abs, l.absPath)}`;
    }
    return { name: nameOf(l.absPath), size: l.st.size, mode: goFileMode(l.st), mtime: rfc3339Nano(l.st), linkTarget };
  } finally {
    release(l);
  }
}

/**
 * A tar of `path` in the container, as GET /containers/{id}/archive returns: one entry named by
 * the path's base name (a symlink as a symlink, unless the path ends in `/`), a directory with its
 * contents below it, or, for a path ending in `/.`, only the directory's contents.
 * NotFound is thrown at once (before streaming) when the path does not exist.
 */
export function archiveFromRoot(root: string, path: string, signal?: AbortSignal): Readable {
  const l = locate(root, path);
  const ctx: PackContext = { links: new Map(), opts: { whiteouts: 'none', signal } };
  const contentsOnly = l.absPath.endsWith('/.');
  const name = nameOf(l.absPath);
  async function* gen(): AsyncGenerator<Buffer> {
    try {
      if (l.base === '') yield* packDirFd(l.dirFd, contentsOnly ? '' : name === '/' ? '.' : name, ctx);
      else yield* packEntry(l.dirFd, l.base, name, ctx);
      yield TAR_END;
    } finally {
      release(l);
    }
  }
  return Readable.from(gen(), { objectMode: false, highWaterMark: 1 << 20 });
}

export interface ExtractIntoRootOptions {
  /** Refuse to replace a directory by a non-directory or the reverse (docker cp's default). */
  noOverwriteDirNonDir: boolean;
  /** Owner for every entry (docker cp without -a: the container's root); default the archive's. */
  chown?: { uid: number; gid: number };
  signal?: AbortSignal;
}

/**
 * PUT /containers/{id}/archive: extracts `tar` into the directory `dirPath` of the container
 * root. NotFound when dirPath does not exist, InvalidArgument when it is not a directory or the
 * archive is hostile. Members cannot climb out of dirPath; symlinks resolve inside the root.
 */
export async function extractIntoRoot(root: string, dirPath: string, tar: Readable, opts: ExtractIntoRootOptions): Promise<{ size: number }> {
  const l = locate(root, dirPath);
  try {
    if (!l.st.isDirectory()) throw invalidArgument(`extraction point ${dirPath} is not a directory`);
    const { dir } = splitContainerPath(dirPath);
    const rel = resolveRel(resolve(root), l.base === '' ? `${dir}.` : `${dir}${l.base}`);
    return await applyTarInRoot(l.root, rel, tar, {
      whiteouts: 'none', noOverwriteDirNonDir: opts.noOverwriteDirNonDir, chown: opts.chown, signal: opts.signal,
    });
  } finally {
    release(l);
  }
}

