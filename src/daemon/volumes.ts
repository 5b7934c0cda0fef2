import { existsSync, readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { conflict, invalidArgument, isKind, notFound, wrap } from '../base/errors';
import { newId } from '../base/ids';
import type { ImageRuntimeConfig } from '../oci/image';
import type { SpecInput } from '../runtime/runtime';
import { archiveFromRoot, extractIntoRoot, statInRoot } from '../archive/container-path';
import { checkVolumeName, CreateVolumeOptions, VolumeDriver, VolumeInfo, VolumePlugins } from '../volume/volume-driver';
import type { ContainerRecord, HostOptions } from './container';
import type { MountPoint } from './mount-point';
import type { EventBus } from './events';
import { KeyedLock } from './locks';

/** HostConfig.Mounts items as the docker CLI sends them (--mount). */
interface DockerMount {
  Type?: string;
  Source?: string;
  Target?: string;
  ReadOnly?: boolean;
  BindOptions?: { Propagation?: string } | null;
  VolumeOptions?: { NoCopy?: boolean; Labels?: Record<string, string> | null; DriverConfig?: { Name?: string; Options?: Record<string, string> | null } | null } | null;
  TmpfsOptions?: { SizeBytes?: number; Mode?: number } | null;
}

const PROPAGATIONS = ['shared', 'rshared', 'slave', 'rslave', 'private', 'rprivate'];

/** The label dockerd puts on anonymous volumes (clients filter on it). */
export const ANONYMOUS_LABEL = 'com.docker.volume.anonymous';

/**
 * Volumes as the engine sees them: the drivers chosen in cmd/ (built-in ones by name, plugins found
 * on first use), which containers use which volume, and the translation of a container's
 * -v/--mount/--volumes-from/VOLUME into mount points (at create) and into runtime mounts (at start).
 * A volume name has one holder: built-in drivers are asked first, then the plugin remembered as
 * holding it. Creating and removing one name is serialised.
 */
export class Volumes {
  private readonly locks = new KeyedLock();

  /** `events` hears volume create and destroy, as in Docker; `plugins` are Docker's volume plugins. */
  constructor(
    private readonly drivers: Record<string, VolumeDriver>,
    private readonly containers: () => ContainerRecord[],
    private readonly events?: EventBus,
    private readonly plugins?: VolumePlugins,
  ) {}

  /** A driver by name ('' is `local`), activating a plugin on first use; NotFound in dockerd's words. */
  private async driver(name: string | undefined): Promise<VolumeDriver> {
    const n = name || 'local';
    const d = this.drivers[n];
    if (d) return d;
    if (!this.plugins) throw notFound(`error looking up volume plugin ${n}: plugin "${n}" not found`);
    try {
      return await this.plugins.get(n);
    } catch (e) {
      throw wrap(e, `error looking up volume plugin ${n}`);
    }
  }

  /** The volume called `name`, from the built-in drivers or the plugin that holds it. */
  private async find(name: string): Promise<VolumeInfo | undefined> {
    for (const d of Object.values(this.drivers)) {
      const v = await d.get(name);
      if (v) return v;
    }
    const holder = this.plugins?.holderOf(name);
    return holder ? (await this.driver(holder)).get(name) : undefined;
  }

  /** Names for `docker info`'s Plugins.Volume: built-in drivers and plugins known so far. */
  driverNames(): string[] {
    return [...Object.keys(this.drivers), ...(this.plugins?.names() ?? [])];
  }

  /** POST /volumes/create: an existing volume is returned as is, unless another driver was asked for. */
  async create(name: string, driver: string | undefined, opts: CreateVolumeOptions): Promise<VolumeInfo> {
    const n = name || newId();
    checkVolumeName(n);
    return this.locks.run(n, async () => {
      try {
        const existing = await this.find(n);
        if (existing) {
          if (driver && existing.driver !== driver) throw nameTaken(existing);
          return existing;
        }
        const v = await (await this.driver(driver)).create(n, opts);
        this.events?.publish('volume', 'create', v.name, { driver: v.driver });
        return v;
      } catch (e) {
        throw wrap(e, `create ${n}`);
      }
    });
  }

  async get(name: string): Promise<VolumeInfo> {
    const v = await this.find(name);
    if (!v) throw notFound(`get ${name}: no such volume`);
    return v;
  }

  /**
   * Every driver's volumes. A plugin that cannot list adds a warning (Docker's `Warnings`) instead
   * of failing the whole list.
   */
  async list(warnings?: string[]): Promise<VolumeInfo[]> {
    const out: VolumeInfo[] = [];
    for (const d of Object.values(this.drivers)) out.push(...await d.list());
    for (const name of this.plugins?.names() ?? []) {
      try {
        out.push(...await (await this.driver(name)).list());
      } catch (e) {
        warnings?.push(`list volumes of driver ${name}: ${e instanceof Error ? e.message : String(e)}`);
      }
    }
    return out;
  }

  /** Bytes used by a volume's data; -1 when its driver does not know (plugins). */
  async usage(v: VolumeInfo): Promise<number> {
    try {
      return await (await this.driver(v.driver)).usage(v.name);
    } catch {
      return -1;
    }
  }

  /** IDs of the containers (any state) whose mounts name the volume. */
  usedBy(name: string): string[] {
    return this.containers().filter((c) => (c.mounts ?? []).some((m) => m.type === 'volume' && m.name === name)).map((c) => c.id);
  }

  /** Docker's filters: dangling, driver, label (key or key=value), name (substring). */
  async filter(filters: Record<string, string[]>, warnings?: string[]): Promise<VolumeInfo[]> {
    for (const k of Object.keys(filters)) {
      if (!['dangling', 'driver', 'label', 'name'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    }
    if (filters.dangling?.length && !['true', 'false', '1', '0'].includes(filters.dangling[0])) {
      throw invalidArgument(`invalid filter 'dangling=${filters.dangling[0]}'`);
    }
    return (await this.list(warnings)).filter((v) => {
      if (filters.dangling?.length) {
        const want = filters.dangling[0];
        if ((want === 'true' || want === '1') !== (this.usedBy(v.name).length === 0)) return false;
      }
      if (filters.driver?.length && !filters.driver.includes(v.driver)) return false;
      if (filters.name?.length && !filters.name.some((n) => v.name.includes(n))) return false;
      if (filters.label?.length && !filters.label.every((l) => labelMatches(labelsOf(v), l))) return false;
      return true;
    });
  }

  /** DELETE /volumes/{name}: refused while any container uses it; `force` ignores a missing volume. */
  async remove(name: string, force: boolean): Promise<void> {
    await this.locks.run(name, async () => {
      let v: VolumeInfo;
      try { v = await this.get(name); } catch (e) { if (force && isKind(e, 'NotFound')) return; throw e; }
      const users = this.usedBy(v.name);
      if (users.length) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
      try {
        await (await this.driver(v.driver)).remove(v.name);
      } catch (e) {
        throw isKind(e, 'Conflict') ? e : wrap(e, `remove ${name}`);
      }
      this.events?.publish('volume', 'destroy', v.name, { driver: v.driver });
    });
  }

  /** Unused volumes; anonymous ones only unless `all=true`. */
  async prune(filters: Record<string, string[]>): Promise<{ VolumesDeleted: string[]; SpaceReclaimed: number }> {
    const all = (filters.all ?? []).some((x) => x === 'true' || x === '1');
    const rest = { ...filters };
    delete rest.all;
    // `label!=` exists for prune only (dockerd's prune filters: label, label!, all, until-less).
    const notLabels = rest['label!'] ?? [];
    delete rest['label!'];
    const deleted: string[] = [];
    let space = 0;
    for (const v of await this.filter({ ...rest, dangling: ['true'] })) {
      if (!all && !v.anonymous) continue;
      if (notLabels.some((l) => labelMatches(labelsOf(v), l))) continue;
      const size = await this.usage(v);
      try {
        await this.locks.run(v.name, async () => {
          if (this.usedBy(v.name).length) throw conflict('in use');
          await (await this.driver(v.driver)).remove(v.name);
        });
      } catch { continue; }
      this.events?.publish('volume', 'destroy', v.name, { driver: v.driver });
      deleted.push(v.name);
      space += Math.max(0, size);
    }
    return { VolumesDeleted: deleted, SpaceReclaimed: space };
  }

  // ---- containers --------------------------------------------------------------------------------

  /**
   * A new container's mount points, from --volumes-from, Binds, Mounts and the image's VOLUMEs (in
   * that order of precedence, lowest first, as dockerd). Creates missing named and anonymous
   * volumes; on error, removes those it created. `created` lists them for the caller's rollback.
   */
  async plan(host: HostOptions, config: ImageRuntimeConfig): Promise<{ mounts: MountPoint[]; created: VolumeInfo[] }> {
    const created: VolumeInfo[] = [];
    try {
      return { mounts: await this.planInner(host, config, created), created };
    } catch (e) {
      await this.rollback(created);
      throw e;
    }
  }

  async rollback(created: VolumeInfo[]): Promise<void> {
    for (const v of created) {
      try { await (await this.driver(v.driver)).remove(v.name); } catch { /* best effort */ }
    }
  }

  /**
   * The volume a mount names, created with `driver` (--volume-driver, --mount volume-driver) when
   * it does not exist. An existing volume of another driver than the one asked for is a conflict,
   * as in dockerd.
   */
  private async ensure(name: string, driver: string | undefined, opts: CreateVolumeOptions, created: VolumeInfo[]): Promise<VolumeInfo> {
    checkVolumeName(name);
    return this.locks.run(name, async () => {
      try {
        const existing = await this.find(name);
        if (existing) {
          if (driver && existing.driver !== driver) throw nameTaken(existing);
          return existing;
        }
        const v = await (await this.driver(driver)).create(name, opts);
        created.push(v);
        return v;
      } catch (e) {
        throw wrap(e, `create ${name}`);
      }
    });
  }

  private async planInner(host: HostOptions, config: ImageRuntimeConfig, created: VolumeInfo[]): Promise<MountPoint[]> {
    const byDest = new Map<string, MountPoint>();
    const volumeDriver = typeof host.VolumeDriver === 'string' && host.VolumeDriver ? host.VolumeDriver : undefined;
    for (const spec of (host.VolumesFrom as string[] | null | undefined) ?? []) {
      const [ref, mode = ''] = spec.split(':');
      if (mode && mode !== 'ro' && mode !== 'rw') throw invalidArgument(`invalid mode for volumes-from: ${mode}`);
      const other = this.containers().find((c) => c.id === ref || c.name === ref.replace(/^\//, '') || (ref.length >= 3 && c.id.startsWith(ref)));
      if (!other) throw notFound(`No such container: ${ref}`);
      for (const m of other.mounts ?? []) {
        if (m.type === 'tmpfs') continue;
        const rw = mode ? mode === 'rw' : m.rw;
        byDest.set(m.destination, { ...m, rw, mode: mode || m.mode, copyData: false });
      }
    }
    const fromRequest = new Set<string>();
    const claim = (m: MountPoint) => {
      if (fromRequest.has(m.destination)) throw invalidArgument(`Duplicate mount point: ${m.destination}`);
      fromRequest.add(m.destination);
      byDest.set(m.destination, m);
    };
    for (const b of host.Binds ?? []) claim(await this.parseBind(b, volumeDriver, created));
    for (const raw of (host.Mounts as DockerMount[] | null | undefined) ?? []) claim(await this.parseMount(raw, volumeDriver, created));
    for (const dest of Object.keys(config.Volumes ?? {})) {
      const d = cleanDest(dest, dest);
      if (byDest.has(d)) continue;
      const v = await this.ensure(newId(), volumeDriver, { anonymous: true }, created);
      byDest.set(d, { type: 'volume', destination: d, name: v.name, driver: v.driver, source: v.mountpoint, rw: true, mode: '', propagation: '', copyData: true });
    }
    return [...byDest.values()];
  }

  private async parseBind(spec: string, volumeDriver: string | undefined, created: VolumeInfo[]): Promise<MountPoint> {
    const parts = spec.split(':');
    if (parts.length < 1 || parts.length > 3 || parts.some((p) => p === '')) throw invalidArgument(`invalid volume specification: '${spec}'`);
    if (parts.length === 1) parts.unshift('');
    const [src, dst, mode = ''] = parts;
    const opts = mode ? mode.split(',') : [];
    for (const o of opts) {
      if (!['ro', 'rw', 'z', 'Z', 'nocopy', 'copy', ...PROPAGATIONS].includes(o)) throw invalidArgument(`invalid mode: ${mode}`);
    }
    const destination = cleanDest(dst, spec);
    const rw = !opts.includes('ro');
    const propagation = opts.find((o) => PROPAGATIONS.includes(o)) ?? '';
    if (src.startsWith('/')) {
      if (!existsSync(src)) throw invalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${src}`);
      return { type: 'bind', source: posix.normalize(src), destination, rw, mode, propagation: propagation || 'rprivate' };
    }
    if (propagation) throw invalidArgument(`invalid mode: ${mode}: propagation is for bind mounts`);
    const anonymous = src === '';
    const v = await this.ensure(anonymous ? newId() : src, volumeDriver, { anonymous }, created);
    return { type: 'volume', destination, name: v.name, driver: v.driver, source: v.mountpoint, rw, mode, propagation: '', copyData: !opts.includes('nocopy') };
  }

  private async parseMount(m: DockerMount, volumeDriver: string | undefined, created: VolumeInfo[]): Promise<MountPoint> {
    const type = m.Type ?? '';
    if (!m.Target) throw invalidArgument(`invalid mount config for type "${type}": field Target must not be empty`);
    const destination = cleanDest(m.Target, m.Target);
    const rw = !m.ReadOnly;
    if (type === 'bind') {
      if (!m.Source) throw invalidArgument('invalid mount config for type "bind": field Source must not be empty');
      if (!m.Source.startsWith('/')) throw invalidArgument(`invalid mount config for type "bind": invalid mount path: '${m.Source}' mount path must be absolute`);
      if (!existsSync(m.Source)) throw invalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${m.Source}`);
      if (m.VolumeOptions || m.TmpfsOptions) throw invalidArgument('invalid mount config for type "bind": options are for other mount types');
      const propagation = m.BindOptions?.Propagation || 'rprivate';
      if (!PROPAGATIONS.includes(propagation)) throw invalidArgument(`invalid mount config for type "bind": invalid propagation mode: ${propagation}`);
      return { type: 'bind', source: posix.normalize(m.Source), destination, rw, mode: '', propagation };
    }
    if (type === 'volume') {
      if (m.BindOptions || m.TmpfsOptions) throw invalidArgument('invalid mount config for type "volume": options are for other mount types');
      const vo = m.VolumeOptions ?? {};
      const anonymous = !m.Source;
      const v = await this.ensure(m.Source || newId(), vo.DriverConfig?.Name || volumeDriver, {
        anonymous, labels: vo.Labels ?? undefined, options: vo.DriverConfig?.Options ?? undefined,
      }, created);
      return { type: 'volume', destination, name: v.name, driver: v.driver, source: v.mountpoint, rw, mode: '', propagation: '', copyData: !vo.NoCopy };
    }
    if (type === 'tmpfs') {
      if (m.Source) throw invalidArgument('invalid mount config for type "tmpfs": field Source must not be specified');
      if (m.BindOptions || m.VolumeOptions) throw invalidArgument('invalid mount config for type "tmpfs": options are for other mount types');
      const opts: string[] = [];
      const size = m.TmpfsOptions?.SizeBytes;
      if (size !== undefined && size !== 0) {
        if (!Number.isInteger(size) || size < 0) throw invalidArgument(`invalid mount config for type "tmpfs": invalid size ${size}`);
        opts.push(`size=${Math.ceil(size / 1024)}k`);
      }
      const mode = m.TmpfsOptions?.Mode;
      if (mode !== undefined && mode !== 0) opts.push(`mode=${(mode & 0o7777).toString(8)}`);
      return { type: 'tmpfs', destination, rw, mode: '', propagation: '', tmpfsOptions: opts };
    }
    throw invalidArgument(`invalid mount config: mount type unknown: "${type}"`);
  }

  /**
   * Mounts a starting container's volumes and returns its runtime mounts (parents before children).
   * A volume that is empty on its first use with copyData gets the content of the container's
   * `rootfs` at that path, copied with the archive layer's scoped functions; `copyData` is then
   * cleared on the record (the caller saves it). On error, nothing stays mounted.
   */
  async mountsFor(c: ContainerRecord, rootfs: string): Promise<SpecInput['mounts']> {
    const out: SpecInput['mounts'] = [];
    const points = [...(c.mounts ?? [])].sort((a, b) => depth(a.destination) - depth(b.destination));
    try {
      for (const m of points) {
        if (m.type === 'tmpfs') {
          out.push({ destination: m.destination, type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'noexec', ...(m.rw ? [] : ['ro']), ...(m.tmpfsOptions ?? [])] });
          continue;
        }
        let source = m.source ?? '';
        if (m.type === 'volume') {
          try {
            source = await (await this.driver(m.driver)).mount(m.name!, c.id);
          } catch (e) {
            throw wrap(e, `error while mounting volume '${m.source || m.name}'`);
          }
          // A plugin tells its mountpoint at Mount: inspect's Source shows it from then on.
          m.source = source;
          if (m.copyData) {
            await copyUp(rootfs, m.destination, source);
            m.copyData = false;
          }
        } else if (!existsSync(source)) {
          throw invalidArgument(`invalid mount config for type "bind": bind source path does not exist: ${source}`);
        }
        out.push({ destination: m.destination, type: 'bind', source, options: ['rbind', m.rw ? 'rw' : 'ro', ...(m.propagation ? [m.propagation] : ['rprivate'])] });
      }
    } catch (e) {
      await this.release(c);
      throw e;
    }
    return out;
  }

  /**
   * Drops a container's hold on its volumes (the last holder unmounts; a plugin gets its
   * VolumeDriver.Unmount with the container's ID). Safe to call twice. Never throws.
   */
  async release(c: ContainerRecord): Promise<void> {
    for (const m of c.mounts ?? []) {
      if (m.type !== 'volume' || !m.name) continue;
      try { await (await this.driver(m.driver)).unmount(m.name, c.id); } catch { /* best effort */ }
    }
  }

  /**
   * After a berthd restart: a running container holds its volumes again. Only built-in drivers keep
   * holds in memory; plugin mounts are recorded (so no plugin is called, nor waited for, here).
   */
  async reacquire(c: ContainerRecord): Promise<void> {
    for (const m of c.mounts ?? []) {
      if (m.type !== 'volume' || !m.name) continue;
      const d = this.drivers[m.driver || 'local'];
      if (!d) continue;
      try { await d.mount(m.name, c.id); } catch { /* reported at the next start */ }
    }
  }

  /** `rm -v`: the container's anonymous volumes that no other container uses. */
  async removeAnonymous(c: ContainerRecord): Promise<void> {
    for (const m of c.mounts ?? []) {
      if (m.type !== 'volume' || !m.name) continue;
      try {
        const d = await this.driver(m.driver);
        const v = await d.get(m.name);
        if (!v?.anonymous || this.usedBy(v.name).some((id) => id !== c.id)) continue;
        await this.locks.run(v.name, () => d.remove(v.name));
      } catch { /* in use elsewhere or gone */ }
    }
  }
}

/** dockerd's name conflict: one name, one driver. */
function nameTaken(v: VolumeInfo) {
  return conflict(`driver '${v.driver}' already has volume '${v.name}': volume name must be unique`);
}

/** Inspect's labels: the anonymous marker as dockerd sets it. */
export function labelsOf(v: VolumeInfo): Record<string, string> {
  return v.anonymous ? { [ANONYMOUS_LABEL]: '', ...v.labels } : v.labels;
}

function labelMatches(labels: Record<string, string>, filter: string): boolean {
  const eq = filter.indexOf('=');
  if (eq < 0) return filter in labels;
  return labels[filter.slice(0, eq)] === filter.slice(eq + 1);
}

function cleanDest(dst: string, spec: string): string {
  if (!dst.startsWith('/')) throw invalidArgument(`invalid volume specification: '${spec}': mount path must be absolute`);
  const d = posix.normalize(dst).replace(/(.)\/$/, '$1');
  if (d === '/') throw invalidArgument(`invalid volume specification: '${spec}': invalid mount config for type "volume": invalid specification: destination can't be '/'`);
  return d;
}

function depth(p: string): number {
  return p.split('/').filter(Boolean).length;
}

/** Fills an empty volume with what the container's root has at `dest` (Docker's copy-up). */
async function copyUp(rootfs: string, dest: string, volumeDir: string): Promise<void> {
  if (readdirSync(volumeDir).length > 0) return;
  let isDir = false;
  try { isDir = Math.floor(statInRoot(rootfs, dest).mode / 2 ** 31) % 2 === 1; } catch (e) { if (isKind(e, 'NotFound')) return; throw e; }
  if (!isDir) return;
  const tar = archiveFromRoot(rootfs, `${dest}/.`);
  await extractIntoRoot(volumeDir, '/', tar, { noOverwriteDirNonDir: false });
}
