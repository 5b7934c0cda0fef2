import type { Db } from '../../sys/database';

/** What berthd itself knows of a plugin volume (the plugin knows only the name and its options). */
export interface PluginVolumeRecord {
  name: string;
  driver: string;
  created: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  anonymous: boolean;
}

interface VolumeRow { name: string; driver: string; created: string; labels: string; options: string; anonymous: number }

/**
 * Plugin volumes in SQLite, as dockerd keeps them in its volume store: which plugin holds which
 * volume name (a name has one holder), the labels and options given at create, and the mounts
 * made (volume, ref, the plugin's mountpoint). The mounts table is what pairs VolumeDriver.Mount
 * and .Unmount per ref across a berthd restart: a container that kept running is not mounted a
 * second time, and its stop unmounts exactly once.
 */
export class PluginRecords {
  constructor(private readonly db: Db) {
    db.exec(`CREATE TABLE IF NOT EXISTS plugin_volumes (
      name TEXT PRIMARY KEY,
      driver TEXT NOT NULL,
      created TEXT NOT NULL,
      labels TEXT NOT NULL,
      options TEXT NOT NULL,
      anonymous INTEGER NOT NULL
    )`);
    db.exec(`CREATE TABLE IF NOT EXISTS plugin_volume_mounts (
      name TEXT NOT NULL,
      ref TEXT NOT NULL,
      mountpoint TEXT NOT NULL,
      PRIMARY KEY (name, ref)
    )`);
  }

  get(name: string): PluginVolumeRecord | undefined {
    const r = this.db.prepare('SELECT * FROM plugin_volumes WHERE name = ?').get(name) as VolumeRow | undefined;
    return r && toRecord(r);
  }

  ofDriver(driver: string): PluginVolumeRecord[] {
    return (this.db.prepare('SELECT * FROM plugin_volumes WHERE driver = ? ORDER BY name').all(driver) as VolumeRow[]).map(toRecord);
  }

  /** Plugins holding at least one volume. */
  drivers(): string[] {
    return (this.db.prepare('SELECT DISTINCT driver FROM plugin_volumes ORDER BY driver').all() as Array<{ driver: string }>).map((r) => r.driver);
  }

  insert(r: PluginVolumeRecord): void {
    this.db.prepare('INSERT INTO plugin_volumes (name, driver, created, labels, options, anonymous) VALUES (?, ?, ?, ?, ?, ?)')
      .run(r.name, r.driver, r.created, JSON.stringify(r.labels), JSON.stringify(r.options), r.anonymous ? 1 : 0);
  }

  /** Drops the volume and any mount rows left for it, in one transaction. */
  delete(name: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM plugin_volume_mounts WHERE name = ?').run(name);
      this.db.prepare('DELETE FROM plugin_volumes WHERE name = ?').run(name);
    })();
  }

  mountOf(name: string, ref: string): string | undefined {
    const r = this.db.prepare('SELECT mountpoint FROM plugin_volume_mounts WHERE name = ? AND ref = ?').get(name, ref) as { mountpoint: string } | undefined;
    return r?.mountpoint;
  }

  mountCount(name: string): number {
    return (this.db.prepare('SELECT COUNT(*) AS n FROM plugin_volume_mounts WHERE name = ?').get(name) as { n: number }).n;
  }

  addMount(name: string, ref: string, mountpoint: string): void {
    this.db.prepare('INSERT OR REPLACE INTO plugin_volume_mounts (name, ref, mountpoint) VALUES (?, ?, ?)').run(name, ref, mountpoint);
  }

  removeMount(name: string, ref: string): void {
    this.db.prepare('DELETE FROM plugin_volume_mounts WHERE name = ? AND ref = ?').run(name, ref);
  }
}

function toRecord(r: VolumeRow): PluginVolumeRecord {
  return {
    name: r.name, driver: r.driver, created: r.created, labels: JSON.parse(r.labels), options: JSON.parse(r.options), anonymous: !!r.anonymous,
  };
}
