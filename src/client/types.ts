// Docker Engine API v1.50 object shapes used by the berth CLI (names as on the wire).
// Fields the engine may omit are optional; see moby's api/swagger.yaml for the full definitions.

import type { ImageRuntimeConfig } from '../oci/image';

export type Labels = Record<string, string>;

export interface PortBinding { HostIp?: string; HostPort?: string }
export type PortMap = Record<string, PortBinding[] | null>;

export interface RestartPolicy { Name?: '' | 'no' | 'always' | 'unless-stopped' | 'on-failure'; MaximumRetryCount?: number }
export interface LogConfig { Type?: string; Config?: Record<string, string> }
export interface Ulimit { Name: string; Soft: number; Hard: number }
export interface DeviceMapping { PathOnHost: string; PathInContainer: string; CgroupPermissions: string }
export interface Mount {
  Type: 'bind' | 'volume' | 'tmpfs' | 'npipe' | 'cluster' | 'image';
  Source?: string; Target: string; ReadOnly?: boolean; Consistency?: string;
  BindOptions?: { Propagation?: string; NonRecursive?: boolean };
  VolumeOptions?: { NoCopy?: boolean; Labels?: Labels; Subpath?: string; DriverConfig?: { Name?: string; Options?: Record<string, string> } };
  TmpfsOptions?: { SizeBytes?: number; Mode?: number };
}

export interface HostConfig {
  Binds?: string[] | null;
  ContainerIDFile?: string;
  LogConfig?: LogConfig;
  NetworkMode?: string;
  PortBindings?: PortMap;
  RestartPolicy?: RestartPolicy;
  AutoRemove?: boolean;
  VolumeDriver?: string;
  VolumesFrom?: string[] | null;
  Mounts?: Mount[];
  CapAdd?: string[] | null;
  CapDrop?: string[] | null;
  CgroupnsMode?: string;
  Dns?: string[];
  DnsOptions?: string[];
  DnsSearch?: string[];
  ExtraHosts?: string[] | null;
  GroupAdd?: string[] | null;
  IpcMode?: string;
  Links?: string[] | null;
  OomScoreAdj?: number;
  PidMode?: string;
  Privileged?: boolean;
  PublishAllPorts?: boolean;
  ReadonlyRootfs?: boolean;
  SecurityOpt?: string[] | null;
  Tmpfs?: Record<string, string>;
  UTSMode?: string;
  UsernsMode?: string;
  ShmSize?: number;
  Sysctls?: Record<string, string>;
  Runtime?: string;
  Init?: boolean | null;
  Memory?: number;
  MemorySwap?: number;
  NanoCpus?: number;
  CpuShares?: number;
  PidsLimit?: number | null;
  Devices?: DeviceMapping[];
  Ulimits?: Ulimit[];
  ConsoleSize?: [number, number];
  [extra: string]: unknown;
}

// The container config on the wire is the image spec's runtime config (oci/ holds those types, below
// both the engine and this client), plus the create-only fields.
export type { HealthConfig } from '../oci/image';

export interface ContainerConfig extends Omit<ImageRuntimeConfig, 'Shell'> {
  NetworkDisabled?: boolean;
  Shell?: string[] | null;
}

export interface EndpointSettings {
  IPAMConfig?: { IPv4Address?: string; IPv6Address?: string; LinkLocalIPs?: string[] } | null;
  Links?: string[] | null;
  Aliases?: string[] | null;
  MacAddress?: string;
  NetworkID?: string;
  EndpointID?: string;
  Gateway?: string;
  IPAddress?: string;
  IPPrefixLen?: number;
  DNSNames?: string[] | null;
  [extra: string]: unknown;
}

export interface ContainerCreateRequest extends ContainerConfig {
  HostConfig?: HostConfig;
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointSettings> };
}

export interface ContainerCreateResponse { Id: string; Warnings?: string[] | null }

export interface ContainerState {
  Status: 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';
  Running: boolean;
  Paused: boolean;
  Restarting: boolean;
  OOMKilled: boolean;
  Dead: boolean;
  Pid: number;
  ExitCode: number;
  Error: string;
  StartedAt: string;
  FinishedAt: string;
  Health?: { Status: string; FailingStreak: number; Log: unknown[] };
}

export interface MountPoint {
  Type?: string; Name?: string; Source: string; Destination: string; Driver?: string; Mode?: string; RW: boolean; Propagation?: string;
}

export interface ContainerInspect {
  Id: string;
  Created: string;
  Path: string;
  Args: string[];
  State: ContainerState;
  Image: string;
  ResolvConfPath?: string;
  HostnamePath?: string;
  HostsPath?: string;
  LogPath?: string;
  Name: string;
  RestartCount: number;
  Driver?: string;
  Platform?: string;
  MountLabel?: string;
  ProcessLabel?: string;
  AppArmorProfile?: string;
  ExecIDs?: string[] | null;
  HostConfig: HostConfig;
  GraphDriver?: { Name: string; Data: Record<string, string> };
  SizeRw?: number;
  SizeRootFs?: number;
  Mounts: MountPoint[];
  Config: ContainerConfig;
  NetworkSettings: {
    Ports?: PortMap;
    Networks?: Record<string, EndpointSettings>;
    [extra: string]: unknown;
  };
  [extra: string]: unknown;
}

export interface Port { IP?: string; PrivatePort: number; PublicPort?: number; Type: string }

export interface ContainerSummary {
  Id: string;
  Names: string[];
  Image: string;
  ImageID: string;
  Command: string;
  Created: number;
  Ports: Port[];
  SizeRw?: number;
  SizeRootFs?: number;
  Labels: Labels;
  State: string;
  Status: string;
  HostConfig?: { NetworkMode?: string };
  NetworkSettings?: { Networks?: Record<string, EndpointSettings> };
  Mounts: MountPoint[];
}

export interface ImageSummary {
  Id: string;
  ParentId: string;
  RepoTags: string[] | null;
  RepoDigests: string[] | null;
  Created: number;
  Size: number;
  SharedSize: number;
  VirtualSize?: number;
  Labels: Labels | null;
  Containers: number;
}

export interface ImageInspect {
  Id: string;
  RepoTags: string[];
  RepoDigests: string[];
  Parent?: string;
  Comment?: string;
  Created?: string;
  DockerVersion?: string;
  Author?: string;
  Config?: ContainerConfig;
  Architecture: string;
  Variant?: string;
  Os: string;
  Size: number;
  GraphDriver?: { Name: string; Data: Record<string, string> };
  RootFS?: { Type: string; Layers?: string[] };
  Metadata?: { LastTagTime?: string };
  [extra: string]: unknown;
}

export interface ImageHistoryItem { Id: string; Created: number; CreatedBy: string; Tags: string[] | null; Size: number; Comment: string }
export interface ImageDeleteItem { Untagged?: string; Deleted?: string }

export interface ContainerTopResponse { Titles: string[]; Processes: string[][] }
export interface FilesystemChange { Path: string; Kind: 0 | 1 | 2 }
export interface ContainerWaitResponse { StatusCode: number; Error?: { Message?: string } | null }

export interface ExecCreateRequest {
  AttachStdin?: boolean;
  AttachStdout?: boolean;
  AttachStderr?: boolean;
  ConsoleSize?: [number, number] | null;
  DetachKeys?: string;
  Tty?: boolean;
  Env?: string[] | null;
  Cmd: string[];
  Privileged?: boolean;
  User?: string;
  WorkingDir?: string;
}
export interface ExecInspect {
  ID: string;
  Running: boolean;
  ExitCode: number | null;
  ProcessConfig?: { tty: boolean; entrypoint: string; arguments: string[]; privileged?: boolean; user?: string };
  OpenStdin: boolean;
  OpenStderr: boolean;
  OpenStdout: boolean;
  ContainerID: string;
  Pid: number;
}

/** POST /containers/{id}/update: the resources to change (zero: unchanged) and a restart policy. */
export interface ContainerUpdateRequest {
  BlkioWeight?: number; CpusetCpus?: string; CpusetMems?: string; CpuShares?: number; Memory?: number; MemoryReservation?: number;
  MemorySwap?: number; KernelMemory?: number; CpuPeriod?: number; CpuQuota?: number; CpuRealtimePeriod?: number; CpuRealtimeRuntime?: number;
  NanoCpus?: number; PidsLimit?: number; RestartPolicy?: RestartPolicy;
}
export interface ContainerUpdateResponse { Warnings?: string[] | null }

/** The parts of GET /containers/{id}/stats the CLI reads (moby's container.StatsResponse). */
export interface StatsResponse {
  name?: string;
  id?: string;
  read?: string;
  preread?: string;
  pids_stats?: { current?: number; limit?: number };
  blkio_stats?: { io_service_bytes_recursive?: { major: number; minor: number; op: string; value: number }[] | null };
  cpu_stats?: CPUStats;
  precpu_stats?: CPUStats;
  memory_stats?: { usage?: number; limit?: number; stats?: Record<string, number>; private_working_set?: number };
  networks?: Record<string, { rx_bytes: number; tx_bytes: number }>;
}
export interface CPUStats {
  cpu_usage?: { total_usage?: number; percpu_usage?: number[] };
  system_cpu_usage?: number;
  online_cpus?: number;
}

/** One GET /events message (moby's events.Message). */
export interface EventMessage {
  status?: string;
  id?: string;
  from?: string;
  Type: string;
  Action: string;
  Actor: { ID: string; Attributes?: Record<string, string> | null };
  scope?: string;
  time?: number;
  timeNano?: number;
}

/** One build cache record of GET /system/df (moby's build.CacheRecord). */
export interface BuildCacheRecord {
  ID: string;
  Parent?: string;
  Parents?: string[] | null;
  Type: string;
  Description: string;
  InUse: boolean;
  Shared: boolean;
  Size: number;
  CreatedAt: string;
  LastUsedAt?: string | null;
  UsageCount: number;
}
export interface BuildCachePruneReport { CachesDeleted?: string[] | null; SpaceReclaimed: number }

/** GET /system/df. */
export interface DiskUsage {
  LayersSize: number;
  Images: ImageSummary[] | null;
  Containers: ContainerSummary[] | null;
  Volumes: Volume[] | null;
  BuildCache: BuildCacheRecord[] | null;
}

export interface PruneReport { ContainersDeleted?: string[] | null; ImagesDeleted?: ImageDeleteItem[] | null; SpaceReclaimed: number }

/** A stat of a path in a container, from the X-Docker-Container-Path-Stat header (base64 JSON). */
export interface PathStat { name: string; size: number; mode: number; mtime: string; linkTarget: string }

export interface VersionResponse {
  Platform?: { Name: string };
  Components?: { Name: string; Version: string; Details?: Record<string, string> }[];
  Version: string;
  ApiVersion: string;
  MinAPIVersion?: string;
  GitCommit?: string;
  GoVersion?: string;
  Os: string;
  Arch: string;
  KernelVersion?: string;
  Experimental?: boolean;
  BuildTime?: string;
}

export interface SystemInfo {
  ID?: string;
  Containers: number;
  ContainersRunning: number;
  ContainersPaused: number;
  ContainersStopped: number;
  Images: number;
  Driver: string;
  DriverStatus?: [string, string][] | null;
  Plugins?: { Volume?: string[]; Network?: string[]; Log?: string[] };
  MemoryLimit?: boolean;
  SwapLimit?: boolean;
  CgroupDriver?: string;
  CgroupVersion?: string;
  LoggingDriver?: string;
  KernelVersion?: string;
  OperatingSystem?: string;
  OSType?: string;
  Architecture?: string;
  NCPU?: number;
  MemTotal?: number;
  DockerRootDir?: string;
  Name?: string;
  ServerVersion?: string;
  Runtimes?: Record<string, unknown>;
  DefaultRuntime?: string;
  Swarm?: { LocalNodeState?: string };
  SecurityOptions?: string[];
  Warnings?: string[] | null;
  [extra: string]: unknown;
}

/** One line of a JSON progress stream (pull, load, import, build). */
/** Docker's AuthConfig (POST /auth, and base64url JSON in X-Registry-Auth). */
export interface AuthConfig {
  username?: string;
  password?: string;
  serveraddress?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** berth's GET /berth/trust/inspect answer. */
export interface TrustInspect {
  Reference: string;
  Repository: string;
  Digest: string;
  Signatures: Array<{ Source: string; Identity: string; Verified: boolean; VerifiedBy: string; Problem: string }>;
}

export interface JSONMessage {
  stream?: string;
  status?: string;
  progress?: string;
  progressDetail?: { current?: number; total?: number };
  id?: string;
  from?: string;
  time?: number;
  error?: string;
  errorDetail?: { code?: number; message?: string };
  aux?: Record<string, unknown>;
}

// ---- volumes ----

export interface Volume {
  Name: string;
  Driver: string;
  Mountpoint: string;
  CreatedAt?: string;
  Status?: Record<string, unknown> | null;
  Labels: Labels | null;
  Scope: 'local' | 'global' | string;
  Options: Record<string, string> | null;
  UsageData?: { Size: number; RefCount: number } | null;
  ClusterVolume?: unknown;
}
export interface VolumeCreateRequest { Name?: string; Driver?: string; DriverOpts?: Record<string, string>; Labels?: Labels }
export interface VolumeListResponse { Volumes: Volume[] | null; Warnings: string[] | null }
export interface VolumePruneReport { VolumesDeleted?: string[] | null; SpaceReclaimed: number }

// ---- networks ----

export interface IPAMConfig { Subnet?: string; IPRange?: string; Gateway?: string; AuxiliaryAddresses?: Record<string, string> }
export interface IPAM { Driver: string; Options: Record<string, string> | null; Config: IPAMConfig[] | null }
export interface EndpointResource { Name: string; EndpointID: string; MacAddress: string; IPv4Address: string; IPv6Address: string }

/** GET /networks/{id} and the items of GET /networks (moby's network.Inspect, alias Summary). */
export interface NetworkInspect {
  Name: string;
  Id: string;
  Created: string;
  Scope: string;
  Driver: string;
  EnableIPv4: boolean;
  EnableIPv6: boolean;
  IPAM: IPAM;
  Internal: boolean;
  Attachable: boolean;
  Ingress: boolean;
  ConfigFrom: { Network: string };
  ConfigOnly: boolean;
  Containers: Record<string, EndpointResource> | null;
  Options: Record<string, string> | null;
  Labels: Labels | null;
  Peers?: { Name: string; IP: string }[] | null;
  Services?: Record<string, unknown> | null;
  [extra: string]: unknown;
}

export interface NetworkCreateRequest {
  Name: string;
  Driver?: string;
  Scope?: string;
  EnableIPv4?: boolean;
  EnableIPv6?: boolean;
  IPAM?: IPAM | null;
  Internal?: boolean;
  Attachable?: boolean;
  Ingress?: boolean;
  ConfigOnly?: boolean;
  ConfigFrom?: { Network: string } | null;
  Options?: Record<string, string> | null;
  Labels?: Labels | null;
}
export interface NetworkCreateResponse { Id: string; Warning?: string }
export interface NetworkPruneReport { NetworksDeleted?: string[] | null }
