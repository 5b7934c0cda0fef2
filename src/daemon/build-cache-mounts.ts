import { chmodSync, chownSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { canceled } from '../base/errors';
import { writeFileAtomic } from '../sys/fs-atomic';
import type { CacheSharing } from '../build/run-mount';

/** What `system df` shows of one cache directory (Docker's build.CacheRecord, in our names). */
export interface CacheMountRecord {
  id: string;
  description: string;
  inUse: boolean;
  size: number;
  createdAt: Date;
  lastUsedAt: Date;
  usageCount: number;
}

interface Meta { key: string; description: string; created: number; lastUsed: number; usageCount: number }

/**
 * Cache mounts (`RUN --mount=type=cache`): directories that outlive builds, one set per cache key
 * (the cache ID and the state it starts from), until `builder prune`.
 *
 *   <root>/<id>/meta.json     key, description, created, last used, usage count
 *              /<n>/          instance n: 0 is the one shared and locked users take; private
 *                             users take the first instance nobody holds, making one if need be
 *   <root>/tmp/               instances being made (seeded, then renamed into place)
 *
 * <id> is the first 25 hex digits of sha256(key), the ID `system df -v` lists. Users are counted
 * in memory: after a berthd restart nothing is in use.
 */
export class CacheMountStore {
  private readonly users = new Map<string, number>();
  private creating = new Map<string, Promise<void>>();

  constructor(private readonly root: string) {
    mkdirSync(root, { recursive: true, mode: 0o700 });
    rmSync(join(root, 'tmp'), { recursive: true, force: true });
  }

  /**
   * Takes an instance of the cache `key` for one run; `seed` fills a new one. Shared users share
   * instance 0; a locked user waits until nobody holds it; a private user gets an instance of its
   * own. The directory is owned by uid:gid with `mode` when made. Call `release` when the run is over.
   */
  async acquire(
    m: { key: string; description: string; sharing: CacheSharing; uid: number; gid: number; mode: number },
    seed: (dir: string) => Promise<void>, signal: AbortSignal,
  ): Promise<{ dir: string; release: () => void }> {
    const id = cacheId(m.key);
    const base = join(this.root, id);
    mkdirSync(base, { recursive: true, mode: 0o700 });
    let n = 0;
    if (m.sharing === 'locked') {
      // As BuildKit: poll until the holders are gone (they are runs: seconds, not hours).
      while ((this.users.get(join(base, '0')) ?? 0) > 0) {
        if (signal.aborted) throw canceled('build canceled');
        await new Promise((r) => setTimeout(r, 100));
      }
    } else if (m.sharing === 'private') {
      while ((this.users.get(join(base, String(n))) ?? 0) > 0) n++;
    }
    const dir = join(base, String(n));
    this.users.set(dir, (this.users.get(dir) ?? 0) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = (this.users.get(dir) ?? 1) - 1;
      if (left > 0) this.users.set(dir, left); else this.users.delete(dir);
    };
    try {
      await this.ensure(dir, m, seed);
      const meta = this.meta(id);
      writeFileAtomic(join(base, 'meta.json'), JSON.stringify({
        key: m.key, description: m.description, created: meta?.created ?? Date.now(), lastUsed: Date.now(), usageCount: (meta?.usageCount ?? 0) + 1,
      } satisfies Meta));
    } catch (e) {
      release();
      throw e;
    }
    return { dir, release };
  }

  /** Makes instance `dir` when missing; concurrent callers wait for the one making it. */
  private async ensure(dir: string, m: { uid: number; gid: number; mode: number }, seed: (dir: string) => Promise<void>): Promise<void> {
    for (;;) {
      const pending = this.creating.get(dir);
      if (!pending) break;
      await pending.catch(() => undefined);
    }
    if (exists(dir)) return;
    const make = (async () => {
      const tmp = join(this.root, 'tmp', randomBytes(8).toString('hex'));
      mkdirSync(tmp, { recursive: true });
      try {
        chownSync(tmp, m.uid, m.gid);
        chmodSync(tmp, m.mode & 0o7777);
        await seed(tmp);
        renameSync(tmp, dir);
      } catch (e) {
        rmSync(tmp, { recursive: true, force: true });
        throw e;
      }
    })();
    this.creating.set(dir, make);
    try {
      await make;
    } finally {
      this.creating.delete(dir);
    }
  }

  private meta(id: string): Meta | undefined {
    try {
      return JSON.parse(readFileSync(join(this.root, id, 'meta.json'), 'utf8')) as Meta;
    } catch {
      return undefined;
    }
  }

  private ids(): string[] {
    try {
      return readdirSync(this.root).filter((n) => /^[0-9a-f]{25}$/.test(n));
    } catch {
      return [];
    }
  }

  /** Every cache, for `system df` (sizes are apparent sizes, walked now). */
  list(): CacheMountRecord[] {
    const out: CacheMountRecord[] = [];
    for (const id of this.ids()) {
      const base = join(this.root, id);
      const meta = this.meta(id);
      const instances = readdirSync(base).filter((n) => /^\d+$/.test(n));
      out.push({
        id, description: meta?.description ?? 'cached mount', size: instances.reduce((a, n) => a + treeSize(join(base, n)), 0),
        inUse: instances.some((n) => (this.users.get(join(base, n)) ?? 0) > 0),
        createdAt: new Date(meta?.created ?? 0), lastUsedAt: new Date(meta?.lastUsed ?? 0), usageCount: meta?.usageCount ?? 0,
      });
    }
    return out;
  }

  /**
   * `builder prune`: removes the instances nobody holds of the caches named. Returns the IDs of
   * the caches that went entirely and the bytes freed.
   */
  prune(ids: string[]): { deleted: string[]; reclaimed: number } {
    const deleted: string[] = [];
    let reclaimed = 0;
    const wanted = new Set(ids);
    for (const id of this.ids()) {
      if (!wanted.has(id)) continue;
      const base = join(this.root, id);
      let kept = 0;
      for (const n of readdirSync(base).filter((x) => /^\d+$/.test(x))) {
        const dir = join(base, n);
        if ((this.users.get(dir) ?? 0) > 0 || this.creating.has(dir)) { kept++; continue; }
        reclaimed += treeSize(dir);
        // Renamed away first: a half-removed instance is never taken by the next build.
        const trash = join(this.root, 'tmp', `rm-${randomBytes(8).toString('hex')}`);
        mkdirSync(join(this.root, 'tmp'), { recursive: true });
        renameSync(dir, trash);
        rmSync(trash, { recursive: true, force: true });
      }
      if (kept === 0) {
        rmSync(base, { recursive: true, force: true });
        deleted.push(id);
      }
    }
    return { deleted, reclaimed };
  }
}

/** The ID of a cache key (also its directory name). */
export function cacheId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 25);
}

function exists(p: string): boolean {
  try {
    lstatSync(p);
    return true;
  } catch {
    return false;
  }
}

/** Apparent size of a tree (files' sizes; directories and links count nothing). */
function treeSize(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    let names: string[];
    try { names = readdirSync(d); } catch { return; }
    for (const n of names) {
      let st: Stats;
      try { st = lstatSync(join(d, n)); } catch { continue; }
      if (st.isDirectory()) walk(join(d, n));
      else if (st.isFile()) total += st.size;
    }
  };
  walk(dir);
  return total;
}
