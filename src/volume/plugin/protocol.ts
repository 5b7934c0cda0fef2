import { internal } from '../../base/errors';

/**
 * Docker's VolumeDriver protocol (docs/extend/plugins_volume.md): the request and answer shapes,
 * and pure checks of answers. Every answer may carry `Err`; a non-empty one is the call's error.
 */
export interface ErrAnswer { Err?: string }
export interface MountAnswer extends ErrAnswer { Mountpoint?: string }
export interface PluginVolume { Name?: string; Mountpoint?: string; CreatedAt?: string; Status?: Record<string, unknown> | null }
export interface GetAnswer extends ErrAnswer { Volume?: PluginVolume | null }
export interface ListAnswer extends ErrAnswer { Volumes?: PluginVolume[] | null }
export interface CapabilitiesAnswer extends ErrAnswer { Capabilities?: { Scope?: string } | null }
export interface ActivateAnswer extends ErrAnswer { Implements?: string[] | null }

/** Throws the plugin's `Err` as is (dockerd turns it into a plain error with that text). */
export function checkErr<T extends ErrAnswer>(answer: T): T {
  if (answer && typeof answer.Err === 'string' && answer.Err !== '') throw internal(answer.Err);
  return answer;
}

/** A Mount answer's path: it must be absolute, since the engine bind-mounts it into the container. */
export function mountpointOf(answer: MountAnswer, volume: string): string {
  checkErr(answer);
  const mp = answer.Mountpoint ?? '';
  if (!mp.startsWith('/')) throw internal(`VolumeDriver.Mount: plugin gave no absolute mountpoint for ${volume}: ${JSON.stringify(mp)}`);
  return mp;
}

/** The scope a Capabilities answer declares; anything but "global" is "local", as in dockerd. */
export function scopeOf(answer: CapabilitiesAnswer | undefined): 'local' | 'global' {
  return answer?.Capabilities?.Scope?.toLowerCase() === 'global' ? 'global' : 'local';
}

/** The volumes of a List answer that have a name (a nameless entry is dropped). */
export function volumesOf(answer: ListAnswer): PluginVolume[] {
  checkErr(answer);
  return (answer.Volumes ?? []).filter((v): v is PluginVolume & { Name: string } => !!v && typeof v.Name === 'string' && v.Name !== '');
}

/** True when an Activate answer says the plugin is a volume driver. */
export function implementsVolumeDriver(answer: ActivateAnswer): boolean {
  return Array.isArray(answer?.Implements) && answer.Implements.includes('VolumeDriver');
}
