/**
 * A container's cgroup resource limits in berth's own names, and their OCI form
 * (`linux.resources` of config.json, also the JSON `crun|runc update --resources` reads).
 * Pure: the daemon validates and fills them from Docker's HostConfig; this only maps.
 */

/** Limits to apply. Absent fields are left as the runtime's default (unlimited). */
export interface ResourceLimits {
  /** Memory limit in bytes. */
  memory?: number;
  /** Memory + swap limit in bytes; -1 is unlimited swap. */
  memorySwap?: number;
  /** Soft limit in bytes. */
  memoryReservation?: number;
  /** 0..100. */
  memorySwappiness?: number;
  oomKillDisable?: boolean;
  /** Relative weight (cgroup v1 cpu.shares; runtimes convert to cpu.weight on v2). */
  cpuShares?: number;
  /** CFS period and quota in microseconds; quota -1 is unlimited. */
  cpuPeriod?: number;
  cpuQuota?: number;
  /** cpuset syntax ("0-2,4"). */
  cpusetCpus?: string;
  cpusetMems?: string;
  /** Max number of tasks; -1 is unlimited; 0 or absent leaves the runtime's default. */
  pidsLimit?: number;
  /** 10..1000. */
  blkioWeight?: number;
}

/** The OCI `linux.resources` members (memory, cpu, pids, blockIO) for these limits; devices are not touched. */
export function ociResources(l: ResourceLimits): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const memory: Record<string, unknown> = {};
  if (l.memory !== undefined && l.memory !== 0) memory.limit = l.memory;
  if (l.memorySwap !== undefined && l.memorySwap !== 0) memory.swap = l.memorySwap;
  if (l.memoryReservation !== undefined && l.memoryReservation !== 0) memory.reservation = l.memoryReservation;
  if (l.memorySwappiness !== undefined && l.memorySwappiness >= 0) memory.swappiness = l.memorySwappiness;
  if (l.oomKillDisable) memory.disableOOMKiller = true;
  if (Object.keys(memory).length) out.memory = memory;
  const cpu: Record<string, unknown> = {};
  if (l.cpuShares) cpu.shares = l.cpuShares;
  if (l.cpuPeriod) cpu.period = l.cpuPeriod;
  if (l.cpuQuota) cpu.quota = l.cpuQuota;
  if (l.cpusetCpus) cpu.cpus = l.cpusetCpus;
  if (l.cpusetMems) cpu.mems = l.cpusetMems;
  if (Object.keys(cpu).length) out.cpu = cpu;
  if (l.pidsLimit !== undefined && l.pidsLimit !== 0) out.pids = { limit: l.pidsLimit > 0 ? l.pidsLimit : -1 };
  if (l.blkioWeight) out.blockIO = { weight: l.blkioWeight };
  return out;
}
