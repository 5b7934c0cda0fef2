import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * berth's own N-API addon (native/berth_sys.c): the few syscalls Node lacks that sit on hot paths.
 * Every function throws an Error whose `code` is the errno name on failure.
 */
export interface NativeSys {
  /** Connects to an AF_UNIX SOCK_SEQPACKET socket (conmon's attach socket); returns a non-blocking fd. */
  seqpacketConnect(path: string): number;
  mount(source: string, target: string, fstype: string, flags: number, data: string): void;
  umount(target: string, flags: number): void;
  mknod(path: string, mode: number, major: number, minor: number): void;
  /** Sets an attribute without following a final symlink; a Buffer carries binary values (security.capability). */
  lsetxattr(path: string, name: string, value: string | Buffer): void;
  /** The attribute's value, or null when the file has none of that name. */
  lgetxattr(path: string, name: string): string | null;
  /** The attribute's raw bytes, or null when the file has none of that name. */
  lgetxattrBuffer(path: string, name: string): Buffer | null;
  /** The names of the file's attributes (not following a final symlink); [] when unsupported. */
  llistxattr(path: string): string[];
  /**
   * openat2(2): opens `path` relative to `dirfd` (AT_FDCWD = -100) with `resolve` restrictions
   * (RESOLVE_IN_ROOT etc.); O_CLOEXEC is always added. Returns the fd; close it with fs.closeSync.
   */
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  /** Makes a new network namespace, kept alive by a bind mount on `path` (which must not exist). */
  netnsCreate(path: string): void;
  /** Takes an exclusive flock(2) on fd without blocking; false when another holder has it. */
  flockTry(fd: number): boolean;
  /** syncfs(2) of the filesystem holding `path`, on a pool thread; rejects with errno's name in `code`. */
  syncfs(path: string): Promise<void>;
}

export const MS_RDONLY = 1;
export const MS_BIND = 4096;
export const MS_REC = 16384;
export const MNT_DETACH = 2;
export const S_IFCHR = 0o020000;
export const S_IFBLK = 0o060000;
export const S_IFIFO = 0o010000;
export const AT_FDCWD = -100;
export const O_PATH = 0o10000000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;

let loaded: NativeSys | undefined;

/** Loads the addon from dist/ (bundled entry points) or from the tree layout of transpiled tests. */
export function nativeSys(): NativeSys {
  if (loaded) return loaded;
  // dist/berthd.js (bundled), dist/src/sys/native.js (transpiled) or src/sys/native.ts (tsx).
  const candidates = [join(__dirname, 'berth_sys.node'), join(__dirname, '..', '..', 'berth_sys.node'),
    join(__dirname, '..', '..', 'dist', 'berth_sys.node')];
  const found = candidates.find((p) => existsSync(p));
  if (!found) throw new Error(`berth_sys.node not found (looked in ${candidates.join(', ')}): run npm run build`);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  loaded = require(found) as NativeSys;
  return loaded;
}
