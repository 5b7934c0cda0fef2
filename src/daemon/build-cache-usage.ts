// The build cache as `system df` lists it and `builder prune` frees it: the step cache's entries
// and the cache mounts (BuildKit's du records and its prune policy).
import { invalidArgument } from '../base/errors';
import type { ImageStore } from '../image/image-store';
import type { CacheMountStore } from './build-cache-mounts';
import { parseUntil } from './engine';

/** The step cache as this module sees it. */
export interface StepCache {
  remove(keys: string[]): string[];
  entries(): Array<{ key: string; imageId: string; created: number }>;
}

/**
 * One record (BuildKit's client.UsageInfo): a cache mount (`exec.cachemount`, with its size) or a
 * step cache entry (`regular`: it points at an image, whose layers are counted with the images,
 * so it is shared and of size 0). A step's ID is its key's first 25 characters.
 */
export interface BuildCacheRecord {
  id: string;
  type: 'exec.cachemount' | 'regular';
  description: string;
  inUse: boolean;
  shared: boolean;
  size: number;
  createdAt: Date;
  lastUsedAt: Date;
  usageCount: number;
  /** A step entry's whole key and image. */
  step?: { key: string; imageId: string };
}

export function buildCacheRecords(cache: StepCache, mounts: CacheMountStore): BuildCacheRecord[] {
  const out: BuildCacheRecord[] = mounts.list().map((c) => ({ ...c, type: 'exec.cachemount', shared: false }));
  for (const e of cache.entries()) {
    const at = new Date(e.created);
    out.push({
      id: e.key.slice(0, 25), type: 'regular', description: `step cache for ${e.imageId}`, inUse: false, shared: true, size: 0,
      createdAt: at, lastUsedAt: at, usageCount: 1, step: { key: e.key, imageId: e.imageId },
    });
  }
  return out;
}

const PRUNE_FILTERS = ['until', 'id', 'type', 'description', 'inuse', 'shared', 'private'];

/**
 * `builder prune`, as BuildKit chooses: never what is in use; without `all` only what is not
 * shared — cache mounts (their data is the cache's own) and step entries whose image is gone (an
 * entry whose image lives costs nothing: the image holds the layers); with `keepStorage`, the
 * least recently used first and only until what stays fits in it. Filters as BuildKit's (`until`,
 * `id` prefix, `type`, `description`, `inuse`, `shared`, `private`). Returns the IDs removed and
 * the bytes freed.
 */
export function pruneBuildCache(
  cache: StepCache, mounts: CacheMountStore, images: ImageStore, opts: { all: boolean; keepStorage: number; filters: Record<string, string[]> },
): { deleted: string[]; reclaimed: number } {
  const f = opts.filters;
  for (const k of Object.keys(f)) if (!PRUNE_FILTERS.includes(k)) throw invalidArgument(`invalid filter '${k}'`);
  const until = f.until?.[0] ? parseUntil(f.until[0]) : undefined;
  const bool = (k: string, v: boolean) => !f[k] || f[k].some((x) => (x === 'true' || x === '1') === v);
  const records = buildCacheRecords(cache, mounts);
  let picked = records.filter((c) => !c.inUse
    && (opts.all || c.type === 'exec.cachemount' || (c.step !== undefined && !images.find(c.step.imageId)))
    && (until === undefined || c.lastUsedAt.getTime() < until)
    && (!f.id || f.id.some((p) => c.id.startsWith(p)))
    && (!f.type || f.type.includes(c.type))
    && (!f.description || f.description.some((x) => c.description.includes(x)))
    && bool('inuse', c.inUse) && bool('shared', c.shared) && bool('private', !c.shared));
  if (opts.keepStorage > 0) {
    let total = records.reduce((a, c) => a + c.size, 0);
    const out: BuildCacheRecord[] = [];
    for (const c of [...picked].sort((a, b) => a.lastUsedAt.getTime() - b.lastUsedAt.getTime())) {
      if (total <= opts.keepStorage) break;
      out.push(c);
      total -= c.size;
    }
    picked = out;
  }
  const freed = mounts.prune(picked.filter((c) => c.type === 'exec.cachemount').map((c) => c.id));
  const steps = cache.remove(picked.flatMap((c) => (c.step ? [c.step.key] : []))).map((k) => k.slice(0, 25));
  return { deleted: [...freed.deleted, ...steps], reclaimed: freed.reclaimed };
}
