import { invalidArgument } from '../base/errors';
import type { ResourceLimits } from '../runtime/resources';
import type { HostResources } from '../sys/cgroups';
import { parseCpuset } from '../sys/cgroups';
import type { HostOptions } from './container';

/**
 * Docker's resource fields of HostConfig (and of the update body): their checks, with Docker's
 * wording (moby daemon/daemon_unix.go verifyPlatformContainerResources), and their mapping to the
 * runtime's ResourceLimits. Pure: host facts come in as data.
 */

/** The resource fields of HostConfig / POST /containers/{id}/update, as Docker names them. */
export interface DockerResources {
  Memory?: number;
  MemorySwap?: number;
  MemoryReservation?: number;
  MemorySwappiness?: number | null;
  OomKillDisable?: boolean | null;
  NanoCpus?: number;
  CpuShares?: number;
  CpuPeriod?: number;
  CpuQuota?: number;
  CpusetCpus?: string;
  CpusetMems?: string;
  PidsLimit?: number | null;
  BlkioWeight?: number;
  ShmSize?: number;
  Ulimits?: Array<{ Name: string; Soft: number; Hard: number }> | null;
}

/** The fields `docker update` may change. */
export const UPDATABLE_FIELDS = ['Memory', 'MemorySwap', 'MemoryReservation', 'NanoCpus', 'CpuShares', 'CpuPeriod', 'CpuQuota',
  'CpusetCpus', 'CpusetMems', 'PidsLimit', 'BlkioWeight'] as const;

const MIN_MEMORY = 6 * 1024 * 1024;

function num(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) ? v : 0;
}

/**
 * Checks the resource fields; throws InvalidArgument with Docker's message for a value Docker
 * refuses, returns Docker's warnings for values it drops (e.g. blkio weight without kernel support).
 */
export function checkResources(r: DockerResources, host: HostResources): string[] {
  const warnings: string[] = [];
  const memory = num(r.Memory);
  const swap = num(r.MemorySwap);
  const reservation = num(r.MemoryReservation);
  if (memory < 0) throw invalidArgument('invalid memory limit');
  if (memory !== 0 && memory < MIN_MEMORY) throw invalidArgument('Minimum memory limit allowed is 6MB');
  if (swap > 0 && memory === 0) throw invalidArgument('You should always set the Memory limit when using Memoryswap limit, see usage');
  if (swap > 0 && swap < memory) throw invalidArgument('Minimum memoryswap limit should be larger than memory limit, see usage');
  if (reservation < 0) throw invalidArgument('invalid memory reservation');
  if (reservation !== 0 && reservation < MIN_MEMORY) throw invalidArgument('Minimum memory reservation allowed is 6MB');
  if (memory > 0 && reservation > 0 && memory < reservation) {
    throw invalidArgument('Minimum memory limit can not be less than memory reservation limit, see usage');
  }
  const swappiness = r.MemorySwappiness;
  if (typeof swappiness === 'number' && swappiness !== -1 && (swappiness < 0 || swappiness > 100)) {
    throw invalidArgument(`Invalid value: ${swappiness}, valid memory swappiness range is 0-100`);
  }
  // moby drops a swappiness the kernel has no file for (cgroup v2) with this warning; passed on,
  // crun and runc fail the create instead ("cannot set memory swappiness with cgroupv2"). -1 is
  // "not set" (what the docker CLI sends without the flag): nothing to drop, no warning.
  if (swappinessSet(swappiness) && !host.memorySwappiness) {
    warnings.push('Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded.');
  }
  if (r.OomKillDisable && !host.oomKillDisable) {
    warnings.push('Your kernel does not support OomKillDisable. OomKillDisable discarded.');
  } else if (r.OomKillDisable && memory === 0) {
    warnings.push('OOM killer is disabled for the container, but no memory limit is set, this can result in the system running out of resources.');
  }
  const nano = num(r.NanoCpus);
  if (nano !== 0 && num(r.CpuPeriod) !== 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (nano !== 0 && num(r.CpuQuota) !== 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (nano < 0 || nano > host.cpus * 1e9) {
    throw invalidArgument(`Range of CPUs is from 0.01 to ${host.cpus}.00, as there are only ${host.cpus} CPUs available`);
  }
  if (num(r.CpuShares) < 0) throw invalidArgument('invalid CPU shares');
  const period = num(r.CpuPeriod);
  if (period !== 0 && (period < 1000 || period > 1000000)) {
    throw invalidArgument('CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)');
  }
  const quota = num(r.CpuQuota);
  if (quota > 0 && quota < 1000) throw invalidArgument('CPU cfs quota can not be less than 1ms (i.e. 1000)');
  checkCpuset(r.CpusetCpus, host.cpusetCpus, 'cpus', 'CPUs');
  checkCpuset(r.CpusetMems, host.cpusetMems, 'mems', 'memory nodes');
  const weight = num(r.BlkioWeight);
  if (weight !== 0 && (weight < 10 || weight > 1000)) throw invalidArgument('Range of blkio weight is from 10 to 1000');
  if (weight !== 0 && !host.blkioWeight) warnings.push('Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.');
  if (num(r.ShmSize) < 0) throw invalidArgument('SHM size can not be less than 0');
  for (const u of r.Ulimits ?? []) {
    if (!u || typeof u.Name !== 'string' || !RLIMITS.has(u.Name.toLowerCase())) throw invalidArgument(`invalid ulimit type: ${u?.Name}`);
    if (num(u.Soft) > num(u.Hard)) throw invalidArgument(`ulimit soft limit must be less than or equal to hard limit: ${u.Soft} > ${u.Hard}`);
  }
  return warnings;
}

const RLIMITS = new Set(['as', 'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime', 'sigpending', 'stack']);

function checkCpuset(v: string | undefined, available: string, kind: 'cpus' | 'mems', what: string): void {
  if (!v) return;
  const want = parseCpuset(v);
  if (!want) throw invalidArgument(`Invalid value ${v} for cpuset ${kind}`);
  const have = parseCpuset(available) ?? new Set<number>();
  if ([...want].some((n) => !have.has(n))) {
    throw invalidArgument(`Requested ${what} are not available - requested ${v}, available: ${available}`);
  }
}

/** A swappiness that asks for something (-1 and null leave the kernel's). */
function swappinessSet(v: number | null | undefined): v is number {
  return typeof v === 'number' && v >= 0;
}

/**
 * Docker's defaults applied at create (moby adaptContainerSettings): swap defaults to twice the
 * memory limit when the kernel accounts swap. Changes the fields to store in place.
 */
export function adaptResources(h: HostOptions & DockerResources, host: HostResources): void {
  if (num(h.Memory) > 0 && num(h.MemorySwap) === 0 && host.swapLimit) h.MemorySwap = num(h.Memory) * 2;
  // As moby: a setting the kernel cannot apply is dropped (checkResources warned), so inspect
  // shows what holds rather than what was asked.
  if (h.OomKillDisable && !host.oomKillDisable) h.OomKillDisable = false;
  if (swappinessSet(h.MemorySwappiness) && !host.memorySwappiness) h.MemorySwappiness = null;
  if (num(h.BlkioWeight) > 0 && !host.blkioWeight) h.BlkioWeight = 0;
}

/**
 * HostConfig.CgroupnsMode with Docker's default filled in (moby's default-cgroupns-mode): `private`
 * on cgroup v2, where without a cgroup namespace the container's /sys/fs/cgroup is the host's
 * whole tree (its own limits, memory.max and cpu.max, which JVMs, Go and node read to size
 * themselves, out of sight); `host` on v1, where the runtime binds the container's own cgroups.
 */
export function cgroupnsMode(mode: unknown, host: HostResources): 'private' | 'host' {
  if (mode === undefined || mode === null || mode === '') return host.cgroupVersion === 2 ? 'private' : 'host';
  if (mode === 'private' || mode === 'host') return mode;
  throw invalidArgument(`invalid cgroup namespace mode: ${String(mode)}`);
}

/** HostConfig -> the runtime's limits. Values this host cannot apply (per the warnings) are left out. */
export function resourceLimitsOf(h: DockerResources, host: HostResources): ResourceLimits {
  const l: ResourceLimits = {};
  if (num(h.Memory) > 0) l.memory = num(h.Memory);
  if (num(h.MemorySwap) !== 0 && host.swapLimit) l.memorySwap = num(h.MemorySwap);
  if (num(h.MemoryReservation) > 0) l.memoryReservation = num(h.MemoryReservation);
  if (swappinessSet(h.MemorySwappiness) && host.memorySwappiness) l.memorySwappiness = h.MemorySwappiness;
  if (h.OomKillDisable && host.oomKillDisable) l.oomKillDisable = true;
  if (num(h.CpuShares) > 0) l.cpuShares = num(h.CpuShares);
  if (num(h.NanoCpus) > 0) {
    // As Docker: --cpus N is a CFS quota of N periods of 100 ms.
    l.cpuPeriod = 100000;
    l.cpuQuota = Math.round((num(h.NanoCpus) * 100000) / 1e9);
  } else {
    if (num(h.CpuPeriod) > 0) l.cpuPeriod = num(h.CpuPeriod);
    if (num(h.CpuQuota) !== 0) l.cpuQuota = num(h.CpuQuota);
  }
  if (h.CpusetCpus) l.cpusetCpus = h.CpusetCpus;
  if (h.CpusetMems) l.cpusetMems = h.CpusetMems;
  if (typeof h.PidsLimit === 'number' && h.PidsLimit > 0) l.pidsLimit = h.PidsLimit;
  if (num(h.BlkioWeight) > 0 && host.blkioWeight) l.blkioWeight = num(h.BlkioWeight);
  return l;
}

/** Docker's --ulimit entries as OCI rlimits (the spec clamps them to berthd's hard limits). */
export function rlimitsOf(h: DockerResources): Array<{ type: string; soft: number; hard: number }> {
  return (h.Ulimits ?? []).map((u) => ({ type: `RLIMIT_${u.Name.toUpperCase()}`, soft: num(u.Soft), hard: num(u.Hard) }));
}

/**
 * `docker update`: the stored HostConfig with the update applied, and the limits to hand to the
 * runtime (only what the update touches; an unlimited pids value becomes -1 so it is lifted).
 */
export function applyUpdate(current: HostOptions & DockerResources, upd: DockerResources, host: HostResources):
  { hostConfig: HostOptions; limits: ResourceLimits; revert: ResourceLimits; warnings: string[] } {
  // moby's update: --cpus and --cpu-period/--cpu-quota exclude each other, in one update and
  // across updates (NanoCpus effectively sets the period and quota).
  if (num(upd.NanoCpus) !== 0 && num(upd.CpuPeriod) !== 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Period cannot both be set');
  if (num(upd.NanoCpus) !== 0 && num(upd.CpuQuota) !== 0) throw invalidArgument('Conflicting options: Nano CPUs and CPU Quota cannot both be set');
  if (num(upd.NanoCpus) > 0 && num(current.CpuPeriod) > 0) throw invalidArgument('Conflicting options: Nano CPUs cannot be updated as CPU Period has already been set');
  if (num(upd.NanoCpus) > 0 && num(current.CpuQuota) > 0) throw invalidArgument('Conflicting options: Nano CPUs cannot be updated as CPU Quota has already been set');
  if (num(upd.CpuPeriod) > 0 && num(current.NanoCpus) > 0) throw invalidArgument('Conflicting options: CPU Period cannot be updated as NanoCPUs has already been set');
  if (num(upd.CpuQuota) > 0 && num(current.NanoCpus) > 0) throw invalidArgument('Conflicting options: CPU Quota cannot be updated as NanoCPUs has already been set');
  const next: HostOptions & DockerResources = { ...current };
  const touched = new Set<string>();
  for (const k of UPDATABLE_FIELDS) {
    const v = upd[k];
    // The CLI sends every field, zero for those not given: zero means "leave as is", except for
    // PidsLimit where Docker treats 0 and -1 in an update as "unlimited" only when sent non-null.
    if (k === 'PidsLimit') {
      if (typeof v === 'number' && v !== 0) { next.PidsLimit = v > 0 ? v : 0; touched.add(k); }
      continue;
    }
    if (typeof v === 'number' ? v !== 0 : typeof v === 'string' ? v !== '' : false) {
      (next as Record<string, unknown>)[k] = v;
      touched.add(k);
    }
  }
  const memory = num(next.Memory);
  if (touched.has('Memory') && !touched.has('MemorySwap') && num(current.MemorySwap) > 0 && memory > num(current.MemorySwap)) {
    throw invalidArgument('Memory limit should be smaller than already set memoryswap limit, update the memoryswap at the same time');
  }
  const warnings = checkResources(next, host);
  const all = resourceLimitsOf(next, host);
  const limits: ResourceLimits = {};
  if (touched.has('Memory') || touched.has('MemorySwap')) { limits.memory = all.memory; limits.memorySwap = all.memorySwap; }
  if (touched.has('MemoryReservation')) limits.memoryReservation = all.memoryReservation;
  if (touched.has('CpuShares')) limits.cpuShares = all.cpuShares;
  if (touched.has('NanoCpus') || touched.has('CpuPeriod') || touched.has('CpuQuota')) { limits.cpuPeriod = all.cpuPeriod; limits.cpuQuota = all.cpuQuota ?? -1; }
  if (touched.has('CpusetCpus')) limits.cpusetCpus = all.cpusetCpus;
  if (touched.has('CpusetMems')) limits.cpusetMems = all.cpusetMems;
  if (touched.has('PidsLimit')) limits.pidsLimit = all.pidsLimit ?? -1;
  if (touched.has('BlkioWeight')) limits.blkioWeight = all.blkioWeight;
  // What to write back if the runtime fails half-way (it writes one cgroup file after another):
  // the current values of what the update touches, "unlimited" spelled out, since an absent field
  // means "leave as is" to the runtime. A blkio weight cannot be unset; it stays as written.
  const before = resourceLimitsOf(current, host);
  const revert: ResourceLimits = {};
  if ('memory' in limits) { revert.memory = before.memory ?? -1; revert.memorySwap = before.memorySwap ?? -1; }
  if ('memoryReservation' in limits) revert.memoryReservation = before.memoryReservation ?? -1;
  if ('cpuShares' in limits) revert.cpuShares = before.cpuShares ?? 1024;
  if ('cpuQuota' in limits) { revert.cpuPeriod = before.cpuPeriod ?? 100000; revert.cpuQuota = before.cpuQuota ?? -1; }
  if ('cpusetCpus' in limits) revert.cpusetCpus = before.cpusetCpus ?? host.cpusetCpus;
  if ('cpusetMems' in limits) revert.cpusetMems = before.cpusetMems ?? host.cpusetMems;
  if ('pidsLimit' in limits) revert.pidsLimit = before.pidsLimit ?? -1;
  if (before.blkioWeight && 'blkioWeight' in limits) revert.blkioWeight = before.blkioWeight;
  return { hostConfig: next, limits, revert, warnings };
}
