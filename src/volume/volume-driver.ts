import { invalidArgument } from '../base/errors';

/** A volume as its driver knows it (engine-side names; api/ turns it into Docker's JSON). */
export interface VolumeInfo {
  name: string;
  driver: string;
  /** Host path of the volume's data (what containers bind). */
  mountpoint: string;
  /** RFC 3339. */
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** Made for one container (`-v /path`, an image VOLUME): `rm -v` and a default prune remove it. */
  anonymous: boolean;
  /** `local` (this host only, the default) or `global` (a plugin's volumes seen by every host). */
  scope?: 'local' | 'global';
  /** Driver-specific state a plugin reports (VolumeDriver.Get's `Status`); inspect shows it. */
  status?: Record<string, unknown>;
}

export interface CreateVolumeOptions {
  labels?: Record<string, string>;
  options?: Record<string, string>;
  anonymous?: boolean;
}

/**
 * A volume driver: it creates, lists and removes volumes and makes their data available on the host.
 *
 * Lifecycle: create -> (mount/unmount by each container start/stop)* -> remove. `mount` is
 * reference counted by `ref` (a container ID): the first reference mounts what the volume's options
 * ask for (a tmpfs, a bind of a device; for a plugin, its VolumeDriver.Mount), the last `unmount`
 * undoes it. A ref that already holds the volume gets the same path again without a second mount,
 * and `unmount` of a ref that holds nothing does nothing, so mounts and unmounts pair per ref.
 * Whether a volume is still referenced by a container record is the engine's decision, not the
 * driver's; `remove` only refuses a volume that is mounted right now (Conflict).
 *
 * Every method is async because a plugin answers over HTTP; the local driver answers at once.
 *
 * Errors: InvalidArgument for a bad name or option, NotFound for an unknown volume, Conflict when
 * removing a mounted volume; a plugin's own error (its `Err`) keeps the plugin's message. Every path
 * the local driver hands out lies inside its own directory, except a bind-style volume's device,
 * which is the user's explicit choice; a plugin's paths are the plugin's.
 */
export interface VolumeDriver {
  readonly name: string;
  /** Creates the volume, or returns it as is when it exists already (Docker's idempotent create). */
  create(name: string, opts: CreateVolumeOptions): Promise<VolumeInfo>;
  get(name: string): Promise<VolumeInfo | undefined>;
  list(): Promise<VolumeInfo[]>;
  remove(name: string): Promise<void>;
  /** Makes the volume's data available for `ref` and returns the host path to bind. */
  mount(name: string, ref: string): Promise<string>;
  /** Drops `ref`'s use; the last one unmounts. Unknown refs are ignored. */
  unmount(name: string, ref: string): Promise<void>;
  /** Bytes used by the volume's data (-1 when unknown). */
  usage(name: string): Promise<number>;
}

/**
 * Volume drivers outside berthd, found by name (Docker's volume plugins). A plugin is looked up and
 * activated on its first use and kept; which plugin holds which volume is remembered across
 * restarts, so a berthd restart lists and mounts plugin volumes again without a new `-d`.
 */
export interface VolumePlugins {
  /** The driver of plugin `name`, activated on first use. NotFound when no such plugin exists. */
  get(name: string): Promise<VolumeDriver>;
  /** The plugin remembered as holding volume `volume`, without asking any plugin. */
  holderOf(volume: string): string | undefined;
  /** Plugins that may hold volumes: those remembered as holding some, and those activated. */
  names(): string[];
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Docker's local volume name rule; the error is Docker's message (a slash means a path was meant). */
export function checkVolumeName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw invalidArgument(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}
