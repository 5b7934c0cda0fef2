import { readFileSync, rmSync } from 'node:fs';
import { MNT_DETACH, nativeSys } from './native';

/**
 * Network namespaces kept as files (as `ip netns add` keeps them under /run/netns): berth makes one
 * per container before the runtime creates it, so the network is set up once and outlives restarts
 * of berthd, and `--network container:X` joins it by path.
 */
export function createNetns(path: string): void {
  nativeSys().netnsCreate(path);
}

/** Drops the namespace's bind mount and file; the kernel frees it when its last process is gone. */
export function removeNetns(path: string): void {
  try {
    nativeSys().umount(path, MNT_DETACH);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EINVAL' && (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  rmSync(path, { force: true });
}

/** The host's IPv4 routes other than the default one, as CIDRs: subnets a new network must not overlap. */
export function hostRoutes(): string[] {
  let text = '';
  try { text = readFileSync('/proc/net/route', 'utf8'); } catch { return []; }
  return parseProcRoutes(text);
}

/** /proc/net/route's table (destinations and masks in little-endian hex) as CIDRs. */
export function parseProcRoutes(text: string): string[] {
  const swap = (n: number) => (((n & 255) << 24) | (((n >>> 8) & 255) << 16) | (((n >>> 16) & 255) << 8) | (n >>> 24)) >>> 0;
  const out: string[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const mask = swap(parseInt(f[7], 16));
    if (!mask) continue;
    const dest = swap(parseInt(f[1], 16));
    const prefix = mask.toString(2).replace(/0+$/, '').length;
    out.push(`${[dest >>> 24, (dest >>> 16) & 255, (dest >>> 8) & 255, dest & 255].join('.')}/${prefix}`);
  }
  return out;
}
