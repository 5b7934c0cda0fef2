import { computeCapabilities } from '../security/capabilities';
import type { SpecInput } from './runtime';
import { ociResources } from './resources';

/**
 * OCI runtime spec (config.json) generation, as Docker does it (moby daemon/oci_linux.go and
 * oci/defaults.go). Pure: returns objects; the caller writes them.
 */

/** Docker's default PATH for containers whose image sets none. */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Where the init binary is bind-mounted inside the container, as Docker does. */
export const INIT_PATH = '/sbin/docker-init';

export const MASKED_PATHS: readonly string[] = [
  '/proc/asound', '/proc/acpi', '/proc/interrupts', '/proc/kcore', '/proc/keys', '/proc/latency_stats',
  '/proc/timer_list', '/proc/timer_stats', '/proc/sched_debug', '/proc/scsi', '/sys/firmware',
  '/sys/devices/virtual/powercap',
];
export const READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

interface DeviceRule { allow: boolean; type?: string; major?: number; minor?: number; access: string }

/** Docker's default devices cgroup rules (deny all, then the usual character devices). */
export const DEFAULT_DEVICE_RULES: readonly DeviceRule[] = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', access: 'm' },
  { allow: true, type: 'b', access: 'm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' }, // /dev/null
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' }, // /dev/random
  { allow: true, type: 'c', major: 1, minor: 7, access: 'rwm' }, // /dev/full
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' }, // /dev/tty
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' }, // /dev/zero
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' }, // /dev/urandom
  { allow: true, type: 'c', major: 136, access: 'rwm' }, // /dev/pts/*
  { allow: true, type: 'c', major: 5, minor: 2, access: 'rwm' }, // /dev/ptmx
  { allow: true, type: 'c', major: 10, minor: 200, access: 'rwm' }, // /dev/net/tun
];

/** Facts about the host the spec depends on (kept out of SpecInput so generation stays pure). */
export interface SpecHost {
  /** Capabilities this host lets containers have (berthd's bounding set); privileged gets these. */
  availableCapabilities?: readonly string[];
  /** berthd's hard rlimits by OCI name (RLIMIT_NOFILE...); requested limits are clamped to them. */
  hardRlimits?: Record<string, number>;
}

interface OciMount { destination: string; type: string; source: string; options: string[] }

function defaultMounts(privileged: boolean): OciMount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', privileged ? 'rw' : 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', privileged ? 'rw' : 'ro'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=67108864'] },
  ];
}

/** Clamps rlimits to the host's hard limits (a container cannot raise above berthd's, e.g. nofile 20000 here). */
export function clampRlimits(rlimits: ReadonlyArray<{ type: string; soft: number; hard: number }>,
  hard: Record<string, number> | undefined): Array<{ type: string; soft: number; hard: number }> {
  return rlimits.map((r) => {
    const type = r.type.toUpperCase().startsWith('RLIMIT_') ? r.type.toUpperCase() : `RLIMIT_${r.type.toUpperCase()}`;
    const max = hard?.[type];
    const h = max !== undefined && r.hard > max ? max : r.hard;
    const s = r.soft > h ? h : r.soft;
    return { type, soft: s, hard: h };
  });
}

function capabilitiesObject(caps: string[], uid: number) {
  // As Docker: effective/permitted only for root; a non-root user gets none of them effective
  // (they come back through setuid binaries or file caps up to the bounding set).
  return {
    bounding: caps,
    effective: uid === 0 ? caps : [],
    permitted: uid === 0 ? caps : [],
    inheritable: [] as string[],
    ambient: [] as string[],
  };
}

/** The process env with the default PATH added when none is given. */
export function withDefaultPath(env: readonly string[]): string[] {
  return env.some((e) => e.startsWith('PATH=')) ? [...env] : [DEFAULT_PATH_ENV, ...env];
}

/** Builds config.json for a container. */
export function generateSpec(input: SpecInput, host: SpecHost = {}): Record<string, unknown> {
  const caps = computeCapabilities({ capAdd: input.capAdd, capDrop: input.capDrop, privileged: input.privileged, available: host.availableCapabilities });
  const args = input.init ? [INIT_PATH, '--', ...input.args] : [...input.args];
  const process: Record<string, unknown> = {
    terminal: input.tty,
    user: { uid: input.user.uid, gid: input.user.gid, ...(input.user.additionalGids.length ? { additionalGids: input.user.additionalGids } : {}) },
    args,
    env: withDefaultPath(input.env),
    cwd: input.cwd || '/',
    capabilities: capabilitiesObject(caps, input.user.uid),
    noNewPrivileges: input.noNewPrivileges,
    ...(input.oomScoreAdj !== undefined ? { oomScoreAdj: input.oomScoreAdj } : {}),
  };
  if (input.rlimits?.length) process.rlimits = clampRlimits(input.rlimits, host.hardRlimits);

  const mounts: OciMount[] = defaultMounts(input.privileged);
  if (input.shmSize) {
    const shm = mounts.find((m) => m.destination === '/dev/shm')!;
    shm.options = shm.options.map((o) => (o.startsWith('size=') ? `size=${input.shmSize}` : o));
  }
  if (input.network.mode === 'host') {
    // A host-netns container cannot mount a fresh sysfs for a netns it does not own (Docker binds it).
    mounts[3] = { destination: '/sys', type: 'bind', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', input.privileged ? 'rw' : 'ro'] };
  }
  for (const m of input.mounts) {
    // A user mount over a default one replaces it (e.g. --tmpfs /dev/shm or -v over /dev/shm).
    const i = mounts.findIndex((d) => d.destination === m.destination);
    const mount = { destination: m.destination, type: m.type, source: m.source, options: [...m.options] };
    if (i >= 0) mounts[i] = mount; else mounts.push(mount);
  }
  if (input.init) mounts.push({ destination: INIT_PATH, type: 'bind', source: input.init, options: ['bind', 'ro', 'nosuid', 'nodev'] });

  const namespaces: Array<{ type: string; path?: string }> = [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }];
  if (input.network.mode === 'none') namespaces.push({ type: 'network' });
  else if (input.network.mode === 'path') namespaces.push({ type: 'network', path: input.network.path });
  if (input.cgroupns) namespaces.push({ type: 'cgroup' });
  if (input.network.mode === 'host') {
    // Docker keeps the host's hostname with --network host; the uts namespace is then shared too.
    namespaces.splice(namespaces.findIndex((n) => n.type === 'uts'), 1);
  }

  const linux: Record<string, unknown> = {
    namespaces,
    cgroupsPath: input.cgroupsPath,
    resources: {
      devices: input.privileged ? [{ allow: true, access: 'rwm' }] : DEFAULT_DEVICE_RULES.map((d) => ({ ...d })),
      ...ociResources(input.resources ?? {}),
    },
  };
  if (!input.privileged) {
    linux.maskedPaths = [...MASKED_PATHS];
    linux.readonlyPaths = [...READONLY_PATHS];
    if (input.seccomp) linux.seccomp = input.seccomp;
  }
  const spec: Record<string, unknown> = {
    ociVersion: '1.0.2',
    process,
    root: { path: input.rootfs, readonly: input.readonlyRootfs },
    hostname: input.network.mode === 'host' ? undefined : input.hostname,
    mounts,
    linux,
  };
  if (spec.hostname === undefined) delete spec.hostname;
  if (input.annotations && Object.keys(input.annotations).length) spec.annotations = { ...input.annotations };
  return spec;
}

export interface ExecProcessInput {
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  tty: boolean;
  /** The container's capability set (bounding). A privileged exec gets all. */
  capabilities: string[];
  privileged: boolean;
  noNewPrivileges: boolean;
  /** The container's rlimits, apparmor/selinux labels... are inherited by copying from its spec. */
  containerProcess?: Record<string, unknown>;
  /** The host's capabilities, for a privileged exec. */
  availableCapabilities?: readonly string[];
  /** The container's env: exec env is added on top, as Docker does. */
  containerEnv?: string[];
}

/** Builds the OCI process object for `runtime exec --process` (conmon --exec-process-spec). */
export function generateExecProcess(input: ExecProcessInput): Record<string, unknown> {
  const caps = input.privileged ? computeCapabilities({ capAdd: [], capDrop: [], privileged: true, available: input.availableCapabilities }) : [...input.capabilities];
  const env = mergeEnv(input.containerEnv ?? [], input.env);
  const p: Record<string, unknown> = {
    terminal: input.tty,
    user: { uid: input.user.uid, gid: input.user.gid, ...(input.user.additionalGids.length ? { additionalGids: input.user.additionalGids } : {}) },
    args: [...input.args],
    env: withDefaultPath(env),
    cwd: input.cwd || '/',
    capabilities: capabilitiesObject(caps, input.user.uid),
    noNewPrivileges: input.noNewPrivileges,
  };
  const cp = input.containerProcess;
  if (cp?.rlimits) p.rlimits = cp.rlimits;
  if (cp?.apparmorProfile) p.apparmorProfile = cp.apparmorProfile;
  if (cp?.selinuxLabel) p.selinuxLabel = cp.selinuxLabel;
  return p;
}

/** Later entries override earlier ones by variable name. */
export function mergeEnv(base: readonly string[], over: readonly string[]): string[] {
  const out = new Map<string, string>();
  for (const e of [...base, ...over]) {
    const i = e.indexOf('=');
    out.set(i < 0 ? e : e.slice(0, i), e);
  }
  return [...out.values()];
}
