import { invalidArgument } from '../base/errors';

/**
 * Linux capabilities as Docker applies them: a default set of 14, `--cap-add`/`--cap-drop` by name
 * (with or without the CAP_ prefix, case-insensitive, 'ALL' allowed), and `--privileged` = all.
 */

/** Docker's default capability set (moby oci/caps/defaults.go). */
export const DEFAULT_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL', 'CAP_AUDIT_WRITE',
];

/** Every capability the kernel (6.x) knows, in number order. */
export const ALL_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** Normalises a user-given name ('net_admin', 'CAP_NET_ADMIN', 'all') to 'CAP_NET_ADMIN' or 'ALL'. */
export function normalizeCapability(name: string): string {
  const upper = name.trim().toUpperCase();
  if (upper === 'ALL' || upper === 'CAP_ALL') return 'ALL';
  const full = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
  if (!ALL_CAPABILITIES.includes(full)) throw invalidArgument(`unknown capability: "${name}"`);
  return full;
}

export interface CapabilityOptions {
  capAdd: readonly string[];
  capDrop: readonly string[];
  privileged: boolean;
  /** The host's capability list when it is narrower than ALL_CAPABILITIES (defaults to all). */
  available?: readonly string[];
}

/**
 * The capability set of a container, as Docker computes it (moby oci/caps.TweakCapabilities):
 * privileged gets everything; otherwise start from the defaults (or all when 'ALL' is added),
 * drop what is dropped ('ALL' drops everything not explicitly added), then add what is added.
 * Throws InvalidArgument for an unknown name.
 */
export function computeCapabilities(opts: CapabilityOptions): string[] {
  const available = opts.available ?? ALL_CAPABILITIES;
  if (opts.privileged) return [...available];
  const adds = opts.capAdd.map(normalizeCapability);
  const drops = opts.capDrop.map(normalizeCapability);
  let set: string[];
  if (adds.includes('ALL')) set = [...available];
  else if (drops.includes('ALL')) set = [];
  else set = DEFAULT_CAPABILITIES.filter((c) => !drops.includes(c));
  if (!adds.includes('ALL')) {
    // An explicit add wins over a drop of the same name, as in Docker.
    for (const c of adds) if (!set.includes(c) && available.includes(c)) set.push(c);
  } else {
    set = set.filter((c) => !drops.includes(c) || adds.includes(c));
  }
  return sortCapabilities(set);
}

/** Capabilities in kernel number order (stable output, and a stable cache key). */
export function sortCapabilities(caps: readonly string[]): string[] {
  return [...new Set(caps)].sort((a, b) => rank(a) - rank(b));
}

function rank(c: string): number {
  const i = ALL_CAPABILITIES.indexOf(c);
  return i < 0 ? 1000 : i;
}
