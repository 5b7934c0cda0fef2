import type { Db } from '../sys/database';
import type { BuildCache } from './builder';

/**
 * The build cache in berth's SQLite database: step key -> image ID. An entry whose image was
 * removed is simply a miss (the builder checks the image exists), so rmi needs no hook here.
 */
export class SqliteBuildCache implements BuildCache {
  constructor(private readonly db: Db) {
    db.exec('CREATE TABLE IF NOT EXISTS build_cache (key TEXT PRIMARY KEY, image_id TEXT NOT NULL, created_at INTEGER NOT NULL)');
  }

  get(key: string): string | undefined {
    const row = this.db.prepare('SELECT image_id FROM build_cache WHERE key = ?').get(key) as { image_id: string } | undefined;
    return row?.image_id;
  }

  /**
   * Forgets the given cache entries (POST /build/prune picks them). The images they point at are
   * left to image prune. Returns the keys removed.
   */
  remove(keys: string[]): string[] {
    const del = this.db.prepare('DELETE FROM build_cache WHERE key = ?');
    return this.db.transaction(() => keys.filter((k) => del.run(k).changes > 0))();
  }

  /** Every entry, oldest first (for `system df`). */
  entries(): Array<{ key: string; imageId: string; created: number }> {
    return (this.db.prepare('SELECT key, image_id, created_at FROM build_cache ORDER BY created_at').all() as Array<{ key: string; image_id: string; created_at: number }>)
      .map((r) => ({ key: r.key, imageId: r.image_id, created: r.created_at }));
  }

  set(key: string, imageId: string): void {
    this.db.prepare(`INSERT INTO build_cache (key, image_id, created_at) VALUES (?, ?, ?)
      ON CONFLICT(key) DO UPDATE SET image_id = excluded.image_id, created_at = excluded.created_at`).run(key, imageId, Date.now());
  }
}
