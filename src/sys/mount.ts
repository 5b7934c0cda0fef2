import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { errnoCode, internal, invalidArgument, BerthError } from '../base/errors';
import { MNT_DETACH, MS_BIND, MS_RDONLY, MS_REC, nativeSys } from './native';

/**
 * A mount as data (structurally the same as snapshot/'s `Mount`, which sits above sys/ and so
 * cannot be imported here): `type` is the filesystem type ('overlay', 'bind', 'tmpfs', ...),
 * `options` the fstab-style option list.
 */
export interface MountSpec {
  type: string;
  source: string;
  options: string[];
}

const MS_NOSUID = 2;
const MS_NODEV = 4;
const MS_NOEXEC = 8;
const MS_REMOUNT = 32;
const MS_NOATIME = 1024;
const MS_NODIRATIME = 2048;
const MS_RELATIME = 1 << 21;
const MS_STRICTATIME = 1 << 24;

const FLAG_OPTIONS: Record<string, number> = {
  ro: MS_RDONLY, nosuid: MS_NOSUID, nodev: MS_NODEV, noexec: MS_NOEXEC, bind: MS_BIND, rbind: MS_BIND | MS_REC,
  noatime: MS_NOATIME, nodiratime: MS_NODIRATIME, relatime: MS_RELATIME, strictatime: MS_STRICTATIME,
};
// Options that only clear a flag: accepted and dropped (the default already).
const CLEAR_OPTIONS = new Set(['rw', 'suid', 'dev', 'exec', 'atime', 'diratime', 'defaults']);

/** The kernel copies mount data into one page: anything longer is silently truncated or refused. */
const MAX_MOUNT_DATA = 4095;

/**
 * Mounts each of `mounts` on `target`, in order (later ones stack on earlier ones, as containerd
 * does). Uses mount(2) through our addon; nothing is spawned.
 *
 * Overlay's data must stay under one page. The snapshotter gives short link paths
 * (`<root>/l/<26 chars>`, Docker's overlay2 scheme): absolute ones fit for ~75 layers under
 * /var/lib/berth/overlay. When the data is still too long, the paths are rewritten relative to
 * their common parent directory and the process chdirs there for the duration of the one
 * synchronous mount(2) call (no JS runs in between; berth never uses relative paths elsewhere, so
 * threadpool work is unaffected), and back. This is Docker's overlay2 `mountFrom` without re-exec.
 */
export function mountAll(mounts: readonly MountSpec[], target: string): void {
  const done: string[] = [];
  try {
    for (const m of mounts) {
      mountOne(m, target);
      done.push(target);
    }
  } catch (err) {
    for (const t of done.reverse()) {
      try { unmount(t); } catch { /* best effort: report the first error */ }
    }
    throw err;
  }
}

function mountOne(m: MountSpec, target: string): void {
  let flags = 0;
  const data: string[] = [];
  for (const opt of m.options) {
    if (opt in FLAG_OPTIONS) flags |= FLAG_OPTIONS[opt]!;
    else if (!CLEAR_OPTIONS.has(opt)) data.push(opt);
  }
  const fstype = m.type === 'bind' || m.type === 'rbind' ? '' : m.type;
  if (m.type === 'bind') flags |= MS_BIND;
  if (m.type === 'rbind') flags |= MS_BIND | MS_REC;
  const sys = nativeSys();
  let joined = data.join(',');
  let cwd: string | undefined;
  if (Buffer.byteLength(joined) > MAX_MOUNT_DATA && m.type === 'overlay') {
    ({ joined, cwd } = shortenOverlayData(data));
    if (Buffer.byteLength(joined) > MAX_MOUNT_DATA) {
      throw invalidArgument(`overlay mount on ${target}: mount data of ${Buffer.byteLength(joined)} bytes exceeds one page (too many layers)`);
    }
  }
  const absTarget = resolve(target);
  const previous = cwd ? process.cwd() : undefined;
  try {
    if (cwd) process.chdir(cwd);
    sys.mount(m.source, absTarget, fstype, flags, (flags & MS_BIND) ? '' : joined);
  } catch (err) {
    throw mountError(err, `mount ${m.type} on ${target}`);
  } finally {
    if (previous) process.chdir(previous);
  }
  // A bind mount ignores MS_RDONLY and friends on the first call: remount to apply them.
  if ((flags & MS_BIND) && (flags & ~(MS_BIND | MS_REC))) {
    try {
      sys.mount('', absTarget, '', flags | MS_REMOUNT, '');
    } catch (err) {
      try { sys.umount(absTarget, MNT_DETACH); } catch { /* report the remount error */ }
      throw mountError(err, `remount ${target}`);
    }
  }
}

/** Rewrites overlay's dir options relative to their common parent. */
function shortenOverlayData(data: string[]): { joined: string; cwd: string } {
  const pathKeys = ['lowerdir', 'upperdir', 'workdir'];
  const paths: string[] = [];
  for (const opt of data) {
    const eq = opt.indexOf('=');
    if (eq > 0 && pathKeys.includes(opt.slice(0, eq))) paths.push(...opt.slice(eq + 1).split(':'));
  }
  let common = dirname(paths[0] ?? '/');
  while (!paths.every((p) => p === common || p.startsWith(common.endsWith('/') ? common : `${common}/`))) common = dirname(common);
  const out = data.map((opt) => {
    const eq = opt.indexOf('=');
    if (eq > 0 && pathKeys.includes(opt.slice(0, eq))) {
      return `${opt.slice(0, eq)}=${opt.slice(eq + 1).split(':').map((p) => relative(common, p) || '.').join(':')}`;
    }
    return opt;
  });
  return { joined: out.join(','), cwd: common };
}

function mountError(err: unknown, what: string): BerthError {
  const code = errnoCode(err);
  const msg = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EINVAL') return invalidArgument(msg, err);
  return internal(msg, err);
}

/**
 * Unmounts `target` (the top-most mount on it). Falls back to a lazy detach when the mount is
 * busy. No-op when nothing is mounted there.
 */
export function unmount(target: string): void {
  const abs = resolve(target);
  const sys = nativeSys();
  try {
    sys.umount(abs, 0);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'EINVAL' && !isMounted(abs)) return; // not a mount point
    if (code === 'ENOENT') return;
    if (code === 'EBUSY') {
      try { sys.umount(abs, MNT_DETACH); return; } catch (err2) { throw internal(`unmount ${target}`, err2); }
    }
    throw internal(`unmount ${target}: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

/** Unmounts every mount stacked on `target` (and below it). */
export function unmountAll(target: string): void {
  const abs = resolve(target);
  for (let i = 0; i < 64; i++) {
    const below = mountPoints().filter((p) => p === abs || p.startsWith(`${abs}/`)).sort((a, b) => b.length - a.length);
    if (below.length === 0) return;
    unmount(below[0]!);
  }
  throw internal(`unmount ${target}: still mounted after 64 attempts`);
}

/** Whether `target` is a mount point in this process's mount namespace (from /proc/self/mountinfo). */
export function isMounted(target: string): boolean {
  const abs = resolve(target);
  return mountPoints().includes(abs);
}

/** Every mount point, decoded from /proc/self/mountinfo (field 5, octal escapes undone). */
export function mountPoints(): string[] {
  const text = readFileSync('/proc/self/mountinfo', 'utf8');
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const fields = line.split(' ');
    const mp = fields[4];
    if (mp !== undefined) out.push(mp.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))));
  }
  return out;
}
