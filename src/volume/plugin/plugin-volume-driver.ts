import { conflict, isKind, wrap } from '../../base/errors';
import type { CreateVolumeOptions, VolumeDriver, VolumeInfo } from '../volume-driver';
import type { PluginClient } from './plugin-client';
import type { PluginRecords, PluginVolumeRecord } from './plugin-records';
import { checkErr, ErrAnswer, GetAnswer, ListAnswer, MountAnswer, mountpointOf, PluginVolume, volumesOf } from './protocol';

/**
 * A volume driver served by a plugin over Docker's VolumeDriver protocol. The plugin owns the data
 * and the mountpoints; berthd keeps what the plugin does not (labels, anonymity, creation time, and
 * the mounts it made, see PluginRecords). Mount and Unmount pair per ref: a ref mounted already
 * gets its recorded path back without a call, and only a recorded ref is unmounted.
 */
export class PluginVolumeDriver implements VolumeDriver {
  constructor(
    readonly name: string,
    private readonly client: PluginClient,
    private readonly records: PluginRecords,
    readonly scope: 'local' | 'global',
  ) {}

  private call<T extends ErrAnswer>(method: string, body: unknown): Promise<T> {
    return this.client.call<T>(`VolumeDriver.${method}`, body).then(checkErr);
  }

  async create(name: string, opts: CreateVolumeOptions): Promise<VolumeInfo> {
    const known = this.records.get(name);
    if (known && known.driver !== this.name) throw conflict(`driver '${known.driver}' already has volume '${name}': volume name must be unique`);
    if (known) return (await this.get(name)) ?? this.info(known, {});
    const options = opts.options ?? {};
    await this.call('Create', { Name: name, Opts: options });
    const rec: PluginVolumeRecord = {
      name, driver: this.name, created: now(), labels: opts.labels ?? {}, options, anonymous: !!opts.anonymous,
    };
    this.records.insert(rec);
    // dockerd answers a create with the volume's Path (optional: a plugin may know it only after Mount).
    const path = await this.call<MountAnswer>('Path', { Name: name }).then((a) => a.Mountpoint ?? '', () => '');
    return this.info(rec, { Mountpoint: path });
  }

  /**
   * The plugin's view of the volume (VolumeDriver.Get, then .Path when Get gave no mountpoint).
   * An error for a volume berthd never recorded means the plugin does not have it.
   */
  async get(name: string): Promise<VolumeInfo | undefined> {
    const rec = this.records.get(name);
    if (rec && rec.driver !== this.name) return undefined;
    let answer: GetAnswer;
    try {
      answer = await this.call<GetAnswer>('Get', { Name: name });
    } catch (e) {
      if (!rec && !isKind(e, 'Unavailable')) return undefined;
      throw e;
    }
    if (!answer.Volume) return undefined;
    const v = { ...answer.Volume };
    if (!v.Mountpoint) v.Mountpoint = await this.call<MountAnswer>('Path', { Name: name }).then((a) => a.Mountpoint ?? '', () => '');
    return this.info(rec ?? adopted(name, this.name), v);
  }

  /** VolumeDriver.List, with berthd's records for the volumes it made. */
  async list(): Promise<VolumeInfo[]> {
    const answer = await this.call<ListAnswer>('List', {});
    const mine = new Map(this.records.ofDriver(this.name).map((r) => [r.name, r]));
    return volumesOf(answer).map((v) => this.info(mine.get(v.Name!) ?? adopted(v.Name!, this.name), v));
  }

  async remove(name: string): Promise<void> {
    if (this.records.mountCount(name) > 0) throw conflict(`remove ${name}: volume is in use`);
    await this.call('Remove', { Name: name });
    this.records.delete(name);
  }

  async mount(name: string, ref: string): Promise<string> {
    const held = this.records.mountOf(name, ref);
    if (held) return held;
    const answer = await this.call<MountAnswer>('Mount', { Name: name, ID: ref });
    let mountpoint: string;
    try {
      mountpoint = mountpointOf(answer, name);
    } catch (e) {
      // The plugin did mount: give the mount back so its count stays right.
      await this.call('Unmount', { Name: name, ID: ref }).catch(() => undefined);
      throw e;
    }
    this.records.addMount(name, ref, mountpoint);
    return mountpoint;
  }

  async unmount(name: string, ref: string): Promise<void> {
    if (!this.records.mountOf(name, ref)) return;
    try {
      await this.call('Unmount', { Name: name, ID: ref });
    } catch (e) {
      throw wrap(e, `unmount volume ${name}`);
    } finally {
      // Pairing is per ref: whatever the plugin answered, this ref has had its one Unmount.
      this.records.removeMount(name, ref);
    }
  }

  async usage(): Promise<number> {
    return -1;
  }

  private info(rec: PluginVolumeRecord, v: PluginVolume): VolumeInfo {
    const status = v.Status && typeof v.Status === 'object' && Object.keys(v.Status).length ? v.Status : undefined;
    return {
      name: rec.name, driver: this.name, mountpoint: v.Mountpoint || '',
      createdAt: v.CreatedAt || rec.created, labels: rec.labels, options: rec.options, anonymous: rec.anonymous,
      scope: this.scope, ...(status ? { status } : {}),
    };
  }
}

/** A volume the plugin has but berthd did not make: no labels, no options, creation time unknown. */
function adopted(name: string, driver: string): PluginVolumeRecord {
  return { name, driver, created: '', labels: {}, options: {}, anonymous: false };
}

function now(): string {
  return new Date().toISOString().replace(/\.\d+Z$/, 'Z');
}
