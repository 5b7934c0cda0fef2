import type { ImageRuntimeConfig } from '../oci/image';
import type { HealthState } from './health';
import type { MountPoint } from './mount-point';

/** A container's lifecycle state, named as Docker names them in `State.Status`. */
export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

/**
 * Host-side options of a container. Field names follow Docker's HostConfig because they are the
 * vocabulary every client speaks and are stored as received; only fields berth acts on are listed,
 * the rest are kept verbatim in `extra` so inspect returns what was sent.
 */
export interface HostOptions {
  Binds?: string[] | null;
  NetworkMode?: string;
  PortBindings?: Record<string, Array<{ HostIp?: string; HostPort?: string }>> | null;
  RestartPolicy?: { Name: string; MaximumRetryCount?: number };
  AutoRemove?: boolean;
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  ExtraHosts?: string[] | null;
  Privileged?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  Tmpfs?: Record<string, string> | null;
  Init?: boolean | null;
  LogConfig?: { Type: string; Config: Record<string, string> };
  Dns?: string[] | null;
  DnsSearch?: string[] | null;
  DnsOptions?: string[] | null;
  /** The OCI runtime's name (crun, runc); set at create to the default when not asked for. */
  Runtime?: string;
  [extra: string]: unknown;
}

export interface ContainerState {
  status: ContainerStatus;
  pid: number;
  monitorPid: number;
  exitCode: number;
  error: string;
  oomKilled: boolean;
  startedAt: string;
  finishedAt: string;
  restartCount: number;
  /** Set by a user's stop or kill, cleared by their start: restart policies leave the container be. */
  manuallyStopped?: boolean;
  /** The health check's state (containers with a health check, once started). */
  health?: HealthState;
}

/** What a container asked for on one network (Docker's EndpointSettings, the parts a user sets). */
export interface EndpointConfig {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string } | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  NetworkID?: string;
  [extra: string]: unknown;
}

/** Everything berth stores about one container. */
export interface ContainerRecord {
  id: string;
  /** Without Docker's leading slash. */
  name: string;
  created: string;
  /** Image ID (sha256:...) and the reference the user gave. */
  image: string;
  imageRef: string;
  config: ImageRuntimeConfig;
  hostConfig: HostOptions;
  /** Path and args actually run (entrypoint + cmd), as Docker reports them. */
  path: string;
  args: string[];
  state: ContainerState;
  /** Docker's NetworkingConfig as sent at create, kept for inspect. */
  networkingConfig?: unknown;
  /** The networks it joins (by name, the primary first), resolved at create and changed by connect/disconnect; absent in older records and for host/none/container: modes. */
  networks?: Record<string, EndpointConfig>;
  /** Volumes, binds and tmpfs mounts resolved at create (absent in records made before volumes). */
  mounts?: MountPoint[];
}

export const NEVER = '0001-01-01T00:00:00Z';

export function initialState(): ContainerState {
  return { status: 'created', pid: 0, monitorPid: 0, exitCode: 0, error: '', oomKilled: false, startedAt: NEVER, finishedAt: NEVER, restartCount: 0 };
}

// The state machine, as pure predicates. Each returns undefined when the operation is legal, or the
// reason (Docker's wording) when it is not. The engine turns a reason into a Conflict error.

export function cannotStart(s: ContainerState): string | undefined {
  if (s.status === 'paused') return 'cannot start a paused container, try unpause instead';
  if (s.status === 'removing') return 'container is marked for removal and cannot be started';
  if (s.status === 'dead') return 'container is marked for removal and cannot be started';
  return undefined;
}

export function isRunning(s: ContainerState): boolean {
  return s.status === 'running' || s.status === 'paused' || s.status === 'restarting';
}

export function cannotPause(s: ContainerState, id: string): string | undefined {
  if (!isRunning(s)) return `container ${id} is not running`;
  if (s.status === 'paused') return `container ${id} is already paused`;
  return undefined;
}

export function cannotUnpause(s: ContainerState, id: string): string | undefined {
  if (s.status !== 'paused') return `container ${id} is not paused`;
  return undefined;
}

export function cannotExec(s: ContainerState, id: string): string | undefined {
  if (s.status === 'paused') return `container ${id} is paused, unpause the container before exec`;
  if (!isRunning(s)) return `container ${id} is not running`;
  return undefined;
}

export function cannotRemove(s: ContainerState, id: string, force: boolean): string | undefined {
  if (s.status === 'removing') return `removal of container ${id} is already in progress`;
  if (force) return undefined;
  if (s.status === 'paused') return `cannot remove container "${id}": container is paused and must be unpaused first`;
  if (isRunning(s)) return `cannot remove container "${id}": container is running: stop the container before removing or force remove`;
  return undefined;
}

export function cannotKill(s: ContainerState, id: string): string | undefined {
  if (!isRunning(s)) return `cannot kill container: ${id}: container ${id} is not running`;
  return undefined;
}

/** Docker's names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, optionally with a leading slash. */
export function validName(name: string): boolean {
  return /^\/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$/.test(name);
}
