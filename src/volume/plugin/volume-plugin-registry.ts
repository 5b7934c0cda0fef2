import { failedPrecondition, wrap } from '../../base/errors';
import type { Db } from '../../sys/database';
import type { VolumeDriver, VolumePlugins } from '../volume-driver';
import { findPlugin, PluginDirs } from './discovery';
import { PluginClient } from './plugin-client';
import { PluginRecords } from './plugin-records';
import { PluginVolumeDriver } from './plugin-volume-driver';
import { ActivateAnswer, CapabilitiesAnswer, implementsVolumeDriver, scopeOf } from './protocol';

export interface VolumePluginRegistryOptions {
  /** Where plugins are looked for (DOCKER_PLUGIN_DIRS in production, a temp dir in tests). */
  dirs: PluginDirs;
  /** How long activation waits for a plugin that is not listening yet (dockerd: 30 s). */
  retryWindowMs?: number;
  log?: (level: 'debug' | 'info' | 'warn', msg: string) => void;
}

/**
 * Docker's legacy volume plugins, found lazily: the first use of a name looks it up in the plugin
 * directories (discovery.ts), performs the `Plugin.Activate` handshake (the plugin must implement
 * "VolumeDriver"), asks `VolumeDriver.Capabilities` (optional; scope "local" without it) and keeps
 * the driver for the daemon's life. A failed lookup or activation is not kept, so the next use
 * tries again (a plugin started later is found). Which plugin holds which volume is in SQLite
 * (PluginRecords), so after a restart listing and mounting need no new `-d`.
 */
export class VolumePluginRegistry implements VolumePlugins {
  private readonly records: PluginRecords;
  private readonly active = new Map<string, PluginVolumeDriver>();
  private readonly pending = new Map<string, Promise<PluginVolumeDriver>>();

  constructor(db: Db, private readonly o: VolumePluginRegistryOptions) {
    this.records = new PluginRecords(db);
  }

  get(name: string): Promise<VolumeDriver> {
    const d = this.active.get(name);
    if (d) return Promise.resolve(d);
    let p = this.pending.get(name);
    if (!p) {
      p = this.activate(name).finally(() => this.pending.delete(name));
      this.pending.set(name, p);
    }
    return p;
  }

  holderOf(volume: string): string | undefined {
    return this.records.get(volume)?.driver;
  }

  names(): string[] {
    return [...new Set([...this.records.drivers(), ...this.active.keys()])].sort();
  }

  private async activate(name: string): Promise<PluginVolumeDriver> {
    const { addr } = findPlugin(this.o.dirs, name);
    const client = new PluginClient(addr, { retryWindowMs: this.o.retryWindowMs });
    let manifest: ActivateAnswer;
    try {
      manifest = await client.call<ActivateAnswer>('Plugin.Activate', undefined, { retry: true });
    } catch (e) {
      throw wrap(e, 'legacy plugin');
    }
    // dockerd's ErrNotImplements text.
    if (!implementsVolumeDriver(manifest)) throw failedPrecondition('legacy plugin: Plugin does not implement the requested driver');
    // Capabilities is optional: a plugin without it (an error, a 404) is a local-scope driver.
    const caps = await client.call<CapabilitiesAnswer>('VolumeDriver.Capabilities', {}).catch((e) => {
      this.o.log?.('debug', `volume plugin ${name}: no capabilities (${(e as Error).message}), scope local`);
      return undefined;
    });
    const driver = new PluginVolumeDriver(name, client, this.records, scopeOf(caps));
    this.active.set(name, driver);
    this.o.log?.('info', `volume plugin ${name} activated at ${addr} (scope ${driver.scope})`);
    return driver;
  }
}
