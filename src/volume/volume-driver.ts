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
 * ask for (a tmpfs, a bind of a device), the last `unmount` undoes it. Whether a volume is still
 * referenced by a container record is the engine's decision, not the driver's; `remove` only
 * refuses a volume that is mounted right now (Conflict).
 *
 * Errors: InvalidArgument for a bad name or option, NotFound for an unknown volume, Conflict when
 * removing a mounted volume. Every path a driver hands out lies inside its own directory, except a
 * bind-style volume's device, which is the user's explicit choice.
 */
export interface VolumeDriver {
  readonly name: string;
  /** Creates the volume, or returns it as is when it exists already (Docker's idempotent create). */
  create(name: string, opts: CreateVolumeOptions): VolumeInfo;
  get(name: string): VolumeInfo | undefined;
  list(): VolumeInfo[];
  remove(name: string): void;
  /** Makes the volume's data available for `ref` and returns the host path to bind. */
  mount(name: string, ref: string): string;
  /** Drops `ref`'s use; the last one unmounts. Unknown refs are ignored. */
  unmount(name: string, ref: string): void;
  /** Bytes used by the volume's data (-1 when unknown). */
  usage(name: string): number;
}

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** Docker's local volume name rule; the error is Docker's message (a slash means a path was meant). */
export function checkVolumeName(name: string): void {
  if (!NAME_RE.test(name)) {
    throw invalidArgument(`create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`);
  }
}
