import { existsSync, lstatSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, invalidArgument, notFound, wrap } from '../../base/errors';
import type { Db } from '../../sys/database';
import { isMounted, mountAll, unmount } from '../../sys/mount';
import { checkVolumeName, CreateVolumeOptions, VolumeDriver, VolumeInfo } from '../volume-driver';

/** Option keys of Docker's local driver (`-o type=tmpfs,device=tmpfs,o=size=1m`). */
const OPTION_KEYS = new Set(['type', 'device', 'o', 'size']);

interface Row { name: string; created: string; labels: string; options: string; anonymous: number }

/**
 * Docker's `local` volume driver. Layout, as dockerd's:
 *
 *   <root>/<name>/_data     the data (or the mount point of a tmpfs / bound device)
 *
 * Metadata in the `volumes` table, one statement per change. Names are checked before any path is
 * built, so a volume path never leaves <root>. Mount references live in memory: the engine re-takes
 * them for running containers after a restart (a mount made by an earlier berthd is reused).
 */
export class LocalVolumeDriver implements VolumeDriver {
  readonly name = 'local';
  private readonly refs = new Map<string, Set<string>>();

  constructor(private readonly db: Db, private readonly root: string) {
    db.exec(`CREATE TABLE IF NOT EXISTS volumes (
      name TEXT PRIMARY KEY,
      created TEXT NOT NULL,
      labels TEXT NOT NULL,
      options TEXT NOT NULL,
      anonymous INTEGER NOT NULL
    )`);
    mkdirSync(root, { recursive: true, mode: 0o701 });
  }

  private dataOf(name: string): string {
    checkVolumeName(name);
    return join(this.root, name, '_data');
  }

  private info(r: Row): VolumeInfo {
    return {
      name: r.name, driver: this.name, mountpoint: join(this.root, r.name, '_data'), createdAt: r.created,
      labels: JSON.parse(r.labels), options: JSON.parse(r.options), anonymous: !!r.anonymous,
    };
  }

  async create(name: string, opts: CreateVolumeOptions): Promise<VolumeInfo> {
    const data = this.dataOf(name);
    const existing = this.row(name);
    if (existing) return existing;
    const options = opts.options ?? {};
    for (const k of Object.keys(options)) if (!OPTION_KEYS.has(k)) throw invalidArgument(`invalid option key: "${k}"`);
    if ((options.type || options.device) && !(options.type && options.device)) {
      throw invalidArgument('missing required option: "type" and "device" go together');
    }
    mkdirSync(data, { recursive: true, mode: 0o755 });
    const created = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    try {
      this.db.prepare('INSERT INTO volumes (name, created, labels, options, anonymous) VALUES (?, ?, ?, ?, ?)')
        .run(name, created, JSON.stringify(opts.labels ?? {}), JSON.stringify(options), opts.anonymous ? 1 : 0);
    } catch (e) {
      rmSync(join(this.root, name), { recursive: true, force: true });
      throw wrap(e, `create volume ${name}`);
    }
    return this.row(name)!;
  }

  async get(name: string): Promise<VolumeInfo | undefined> {
    return this.row(name);
  }

  private row(name: string): VolumeInfo | undefined {
    const r = this.db.prepare('SELECT * FROM volumes WHERE name = ?').get(name) as Row | undefined;
    return r ? this.info(r) : undefined;
  }

  async list(): Promise<VolumeInfo[]> {
    return (this.db.prepare('SELECT * FROM volumes ORDER BY name').all() as Row[]).map((r) => this.info(r));
  }

  async remove(name: string): Promise<void> {
    const v = this.row(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    if (this.refs.get(name)?.size) throw conflict(`remove ${name}: volume is in use`);
    const data = this.dataOf(name);
    if (isMounted(data)) unmount(data);
    this.db.prepare('DELETE FROM volumes WHERE name = ?').run(name);
    rmSync(join(this.root, name), { recursive: true, force: true });
  }

  async mount(name: string, ref: string): Promise<string> {
    const v = this.row(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    const data = this.dataOf(name);
    const refs = this.refs.get(name) ?? new Set<string>();
    if (refs.size === 0 && v.options.type && !isMounted(data)) {
      mkdirSync(data, { recursive: true });
      const o = v.options.o ? v.options.o.split(',').filter(Boolean) : [];
      // type=none,o=bind is a bind of the device; anything else is a filesystem mount.
      const isBind = o.includes('bind') || o.includes('rbind');
      // The engine puts dockerd's "error while mounting volume '<path>'" in front of these.
      if (isBind && !existsSync(v.options.device)) throw invalidArgument(`failed to mount local volume: mount ${v.options.device}:${data}, flags: 0x1000: no such file or directory`);
      try {
        mountAll([{ type: isBind ? 'bind' : v.options.type, source: v.options.device, options: o }], data);
      } catch (e) {
        throw wrap(e, 'failed to mount local volume');
      }
    }
    refs.add(ref);
    this.refs.set(name, refs);
    return data;
  }

  async unmount(name: string, ref: string): Promise<void> {
    const refs = this.refs.get(name);
    if (!refs?.delete(ref)) return;
    if (refs.size > 0) return;
    this.refs.delete(name);
    const data = join(this.root, name, '_data');
    if (isMounted(data)) unmount(data);
  }

  async usage(name: string): Promise<number> {
    try { return du(this.dataOf(name)); } catch { return -1; }
  }
}

/** Bytes in files under `dir`, not following symlinks (as `du --apparent-size`). */
function du(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += du(p);
    else if (e.isFile()) total += lstatSync(p).size;
  }
  return total;
}
