/**
 * One mount of a container as the engine records it at create (from -v, --mount, --volumes-from
 * and image VOLUMEs) and uses at every start. Inspect's `Mounts` is this list in Docker's names.
 */
export interface MountPoint {
  type: 'bind' | 'volume' | 'tmpfs';
  /** Absolute path in the container. */
  destination: string;
  /** bind: the host path. */
  source?: string;
  /** volume: its name and driver. */
  name?: string;
  driver?: string;
  rw: boolean;
  /** Docker's Mode text (the -v mode field, e.g. `ro,z`; empty for --mount). */
  mode: string;
  /** rprivate, rshared, ... (empty: the default). */
  propagation: string;
  /** volume: fill an empty volume with the image's content at the first start (not volume-nocopy). */
  copyData?: boolean;
  /** tmpfs: mount(8) data options (size=, mode=). */
  tmpfsOptions?: string[];
}
