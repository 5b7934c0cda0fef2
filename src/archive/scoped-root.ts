import { chmodSync, closeSync, fstatSync, lstatSync, mkdirSync, readdirSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';
import { errnoCode, internal, invalidArgument, notFound, BerthError } from '../base/errors';
import {
  AT_FDCWD, O_DIRECTORY, O_NOFOLLOW, O_PATH, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS,
  nativeSys,
} from '../sys/native';

/**
 * Race-free file access inside a root directory. Every lookup goes through openat2(2): paths
 * given by archives resolve with RESOLVE_IN_ROOT (symlinks are followed as if the root were `/`,
 * Docker's "follow symlink in scope"), and a walk from one directory fd to a child uses
 * RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS. The final component of an operation is then named as
 * `/proc/self/fd/<parent fd>/<name>` and acted on with calls that do not follow a final symlink
 * (lstat, lchown, lutimes, lsetxattr, mkdir, mknod, symlink, link, unlink, open O_NOFOLLOW|O_EXCL).
 * chmod, which always follows, is applied through an O_PATH fd of the checked inode.
 *
 * So a concurrent writer that swaps a directory for a symlink (CVE-2018-15664) can at worst make
 * an operation fail or land elsewhere inside the root: nothing outside it is read or written.
 */
export class ScopedRoot {
  private constructor(readonly path: string, readonly fd: number) {}

  /** Opens `path` as a root. NotFound when it does not exist, InvalidArgument when not a directory. */
  static open(path: string): ScopedRoot {
    try {
      return new ScopedRoot(path, nativeSys().openat2(AT_FDCWD, path, O_PATH | O_DIRECTORY, 0, 0));
    } catch (err) {
      throw fsError(err, path);
    }
  }

  close(): void {
    closeSync(this.fd);
  }

  /**
   * An O_PATH fd for the directory at `rel` (resolved in root, symlinks followed in scope).
   * With `create`, missing components are created as root-owned 0755 directories.
   */
  openDir(rel: string, create = false): number {
    const sys = nativeSys();
    try {
      return sys.openat2(this.fd, rel || '.', O_PATH | O_DIRECTORY, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    } catch (err) {
      if (!create || errnoCode(err) !== 'ENOENT') throw fsError(err, rel);
    }
    // Walk component by component, creating what is missing.
    const parts = rel.split('/').filter((p) => p && p !== '.');
    let cur = sys.openat2(this.fd, '.', O_PATH | O_DIRECTORY, 0, 0);
    try {
      for (let i = 0; i < parts.length; i++) {
        const prefix = parts.slice(0, i + 1).join('/');
        let next: number | undefined;
        for (let attempt = 0; next === undefined; attempt++) {
          try {
            next = sys.openat2(this.fd, prefix, O_PATH | O_DIRECTORY, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
          } catch (err) {
            if (errnoCode(err) !== 'ENOENT' || attempt > 2) throw fsError(err, prefix);
            try {
              mkdirSync(fdPath(cur, parts[i]!), 0o755);
            } catch (e2) {
              // EEXIST: a dangling symlink (or a racing creator); the next open decides.
              if (errnoCode(e2) !== 'EEXIST') throw fsError(e2, prefix);
              if (attempt > 0) throw invalidArgument(`${prefix}: not a directory`);
            }
          }
        }
        closeSync(cur);
        cur = next;
      }
      return cur;
    } catch (err) {
      closeSync(cur);
      throw err;
    }
  }

  /** An fd for `rel` resolved in root, following a final symlink in scope (flags as open(2)). */
  openInRoot(rel: string, flags: number): number {
    try {
      return nativeSys().openat2(this.fd, rel || '.', flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
    } catch (err) {
      throw fsError(err, rel);
    }
  }
}

/** The path naming `name` inside the directory held by `fd` (or the fd's file itself). */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`;
}

/** Opens the child `name` of directory fd `dirFd` without following any symlink. */
export function openChild(dirFd: number, name: string, flags: number): number {
  return nativeSys().openat2(dirFd, name, flags | O_NOFOLLOW, 0, RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
}

/** lstat of `name` in `dirFd`, or undefined when absent. */
export function lstatAt(dirFd: number, name: string): Stats | undefined {
  try {
    return lstatSync(fdPath(dirFd, name));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}

/** chmod of `name` in `dirFd` through an O_PATH fd, refusing symlinks (chmod always follows). */
export function chmodAt(dirFd: number, name: string, mode: number): void {
  const fd = openChild(dirFd, name, O_PATH);
  try {
    if (fstatSync(fd).isSymbolicLink()) return;
    // chmod through the magic link acts on the inode the O_PATH fd holds.
    chmodSync(fdPath(fd), mode);
  } finally {
    closeSync(fd);
  }
}

/** Removes `name` in `dirFd` and, for a directory, everything below it, never following symlinks. */
export function removeAllAt(dirFd: number, name: string): void {
  const st = lstatAt(dirFd, name);
  if (!st) return;
  if (!st.isDirectory()) {
    unlinkSync(fdPath(dirFd, name));
    return;
  }
  const fd = openChild(dirFd, name, O_PATH | O_DIRECTORY);
  try {
    for (const child of readdirSync(fdPath(fd))) removeAllAt(fd, child);
  } finally {
    closeSync(fd);
  }
  rmdirSync(fdPath(dirFd, name));
}

/** Maps a filesystem error to a kind: missing → NotFound, escapes and type clashes → InvalidArgument. */
export function fsError(err: unknown, what: string): BerthError {
  if (err instanceof BerthError) return err;
  const code = errnoCode(err);
  const msg = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  if (code === 'ENOENT') return notFound(msg, err);
  if (code === 'ENOTDIR' || code === 'ELOOP' || code === 'EXDEV' || code === 'EISDIR' || code === 'EEXIST' || code === 'ENOTEMPTY') {
    return invalidArgument(msg, err);
  }
  return internal(msg, err);
}
