import { existsSync, readdirSync } from 'node:fs';
import { posix } from 'node:path';
import { conflict, invalidArgument, isKind, notFound } from '../base/errors';
import { newId } from '../base/ids';
import type { ImageRuntimeConfig } from '../oci/image';
import type { SpecInput } from '../runtime/runtime';
import { archiveFromRoot, extractIntoRoot, statInRoot } from '../archive/container-path';
import { checkVolumeName, CreateVolumeOptions, VolumeDriver, VolumeInfo } from '../volume/volume-driver';
import type { ContainerRecord, HostOptions } from './container';
import type { MountPoint } from './mount-point';
import type { EventBus } from './events';

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
 * Volumes as the engine sees them: the drivers chosen in cmd/, which containers use which volume,
 * and the translation of a container's -v/--mount/--volumes-from/VOLUME into mount points (at
 * create) and into runtime mounts (at start).
 */
export class Volumes {
  /** `events` hears volume create and destroy, as in Docker. */
  constructor(private readonly drivers: Record<string, VolumeDriver>, private readonly containers: () => ContainerRecord[], private readonly events?: EventBus) {}

  private driver(name: string | undefined): VolumeDriver {
    const d = this.drivers[name || 'local'];
    if (!d) throw notFound(`error looking up volume plugin ${name}: plugin "${name}" not found`);
    return d;
  }

  create(name: string, driver: string | undefined, opts: CreateVolumeOptions): VolumeInfo {
    const n = name || newId();
    checkVolumeName(n);
    for (const [dn, d] of Object.entries(this.drivers)) {
      const v = d.get(n);
      if (v && driver && dn !== driver) throw conflict(`create ${n}: volume name is taken by driver ${dn}`);
      if (v) return v;
    }
    const v = this.driver(driver).create(n, opts);
    this.events?.publish('volume', 'create', v.name, { driver: v.driver });
    return v;
  }

  get(name: string): VolumeInfo {
    for (const d of Object.values(this.drivers)) {
      const v = d.get(name);
      if (v) return v;
    }
    throw notFound(`get ${name}: no such volume`);
  }

  list(): VolumeInfo[] {
    return Object.values(this.drivers).flatMap((d) => d.list());
  }

  usage(v: VolumeInfo): number {
    return this.driver(v.driver).usage(v.name);
  }

  /** IDs of the containers (any state) whose mounts name the volume. */
  usedBy(name: string): string[] {
    return this.containers().filter((c) => (c.mounts ?? []).some((m) => m.type === 'volume' && m.name === name)).map((c) => c.id);
  }

  /** Docker's filters: dangling, driver, label (key or key=value), name (substring). */
  filter(filters: Record<string, string[]>): VolumeInfo[] {
    for (const k of Object.keys(filters)) {
      if (!['dangling', 'driver', 'label', 'name'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    }
    return this.list().filter((v) => {
      if (filters.dangling?.length) {
        const want = filters.dangling[0];
        if (!['true', 'false', '1', '0'].includes(want)) throw invalidArgument(`invalid filter 'dangling=${want}'`);
        if ((want === 'true' || want === '1') !== (this.usedBy(v.name).length === 0)) return false;
      }
      if (filters.driver?.length && !filters.driver.includes(v.driver)) return false;
      if (filters.name?.length && !filters.name.some((n) => v.name.includes(n))) return false;
      if (filters.label?.length && !filters.label.every((l) => labelMatches(labelsOf(v), l))) return false;
      return true;
    });
  }

  /** DELETE /volumes/{name}: refused while any container uses it; `force` ignores a missing volume. */
  remove(name: string, force: boolean): void {
    let v: VolumeInfo;
    try { v = this.get(name); } catch (e) { if (force && isKind(e, 'NotFound')) return; throw e; }
    const users = this.usedBy(v.name);
    if (users.length) throw conflict(`remove ${name}: volume is in use - [${users.join(', ')}]`);
    this.driver(v.driver).remove(v.name);
    this.events?.publish('volume', 'destroy', v.name, { driver: v.driver });
  }

  /** Unused volumes; anonymous ones only unless `all=true`. */
  prune(filters: Record<string, string[]>): { VolumesDeleted: string[]; SpaceReclaimed: number } {
    const all = (filters.all ?? []).some((x) => x === 'true' || x === '1');
    const rest = { ...filters };
    delete rest.all;
    const deleted: string[] = [];
    let space = 0;
    for (const v of this.filter({ ...rest, dangling: ['true'] })) {
      if (!all && !v.anonymous) continue;
      const size = this.usage(v);
      try { this.driver(v.driver).remove(v.name); } catch { continue; }
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
  plan(host: HostOptions, config: ImageRuntimeConfig): { mounts: MountPoint[]; created: VolumeInfo[] } {
    const created: VolumeInfo[] = [];
    try {
      return { mounts: this.planInner(host, config, created), created };
    } catch (e) {
      this.rollback(created);
      throw e;
    }
  }

  rollback(created: VolumeInfo[]): void {
    for (const v of created) {
      try { this.driver(v.driver).remove(v.name); } catch { /* best effort */ }
    }
  }

  private ensure(name: string, driver: string | undefined, opts: CreateVolumeOptions, created: VolumeInfo[]): VolumeInfo {
    checkVolumeName(name);
    for (const d of Object.values(this.drivers)) {
      const v = d.get(name);
      if (v) return v;
    }
    const v = this.driver(driver).create(name, opts);
    created.push(v);
    return v;
  }

  private planInner(host: HostOptions, config: ImageRuntimeConfig, created: VolumeInfo[]): MountPoint[] {
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
    for (const b of host.Binds ?? []) claim(this.parseBind(b, volumeDriver, created));
    for (const raw of (host.Mounts as DockerMount[] | null | undefined) ?? []) claim(this.parseMount(raw, volumeDriver, created));
    for (const dest of Object.keys(config.Volumes ?? {})) {
      const d = cleanDest(dest, dest);
      if (byDest.has(d)) continue;
      const v = this.ensure(newId(), volumeDriver, { anonymous: true }, created);
      byDest.set(d, { type: 'volume', destination: d, name: v.name, driver: v.driver, source: v.mountpoint, rw: true, mode: '', propagation: '', copyData: true });
    }
    return [...byDest.values()];
  }

  private parseBind(spec: string, volumeDriver: string | undefined, created: VolumeInfo[]): MountPoint {
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
    const v = this.ensure(anonymous ? newId() : src, volumeDriver, { anonymous }, created);
    return { type: 'volume', destination, name: v.name, driver: v.driver, source: v.mountpoint, rw, mode, propagation: '', copyData: !opts.includes('nocopy') };
  }

  private parseMount(m: DockerMount, volumeDriver: string | undefined, created: VolumeInfo[]): MountPoint {
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
      const v = this.ensure(m.Source || newId(), vo.DriverConfig?.Name || volumeDriver, {
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
          source = this.driver(m.driver).mount(m.name!, c.id);
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
      this.release(c);
      throw e;
    }
    return out;
  }

  /** Drops a container's hold on its volumes (the last holder unmounts). Never throws. */
  release(c: ContainerRecord): void {
    for (const m of c.mounts ?? []) {
      if (m.type !== 'volume' || !m.name) continue;
      try { this.driver(m.driver).unmount(m.name, c.id); } catch { /* best effort */ }
    }
  }

  /** After a berthd restart: a running container holds its volumes again. */
  reacquire(c: ContainerRecord): void {
    for (const m of c.mounts ?? []) {
      if (m.type !== 'volume' || !m.name) continue;
      try { this.driver(m.driver).mount(m.name, c.id); } catch { /* reported at the next start */ }
    }
  }

  /** `rm -v`: the container's anonymous volumes that no other container uses. */
  removeAnonymous(c: ContainerRecord): void {
    for (const m of c.mounts ?? []) {
      if (m.type !== 'volume' || !m.name) continue;
      const v = this.drivers[m.driver || 'local']?.get(m.name);
      if (!v?.anonymous || this.usedBy(v.name).some((id) => id !== c.id)) continue;
      try { this.driver(v.driver).remove(v.name); } catch { /* in use elsewhere or gone */ }
    }
  }
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
