import type { CgroupSample, NetDevCounters } from '../sys/cgroups';

/**
 * Docker's stats JSON (GET /containers/{id}/stats) from berth's raw samples, shaped as dockerd
 * shapes it (moby daemon/stats_unix.go) so the docker CLI and docker-py compute CPU % and memory
 * right: the CLI takes memory as usage minus `total_inactive_file` (v1) or `inactive_file` (v2),
 * and CPU % as Δtotal_usage / Δsystem_cpu_usage × online_cpus.
 */

export interface StatsSample {
  cgroup?: CgroupSample;
  net?: Record<string, NetDevCounters>;
  systemCpu: number;
  onlineCpus: number;
  memoryTotal: number;
  /** When it was read. */
  read: Date;
}

const ZERO_TIME = '0001-01-01T00:00:00Z';

function cpuStats(s: StatsSample | undefined): Record<string, unknown> {
  const g = s?.cgroup;
  if (!s || !g) return { cpu_usage: { total_usage: 0, usage_in_kernelmode: 0, usage_in_usermode: 0 }, throttling_data: { periods: 0, throttled_periods: 0, throttled_time: 0 } };
  return {
    cpu_usage: {
      total_usage: g.cpuTotal,
      ...(g.cpuPerCpu?.length ? { percpu_usage: g.cpuPerCpu } : {}),
      usage_in_kernelmode: g.cpuSystem,
      usage_in_usermode: g.cpuUser,
    },
    system_cpu_usage: s.systemCpu,
    online_cpus: s.onlineCpus,
    throttling_data: { periods: g.throttling.periods, throttled_periods: g.throttling.throttledPeriods, throttled_time: g.throttling.throttledTime },
  };
}

function blkio(entries: CgroupSample['blkio']['serviceBytes'] | undefined) {
  return entries?.length ? entries.map((e) => ({ major: e.major, minor: e.minor, op: e.op, value: e.value })) : null;
}

/** One stats object. `prev` is the sample a second earlier (precpu_stats), or undefined for the first. */
export function dockerStats(cur: StatsSample | undefined, prev: StatsSample | undefined, c: { id: string; name: string }): Record<string, unknown> {
  const g = cur?.cgroup;
  const memory: Record<string, unknown> = {};
  if (g && cur) {
    memory.usage = g.memoryUsage;
    if (g.version === 1 && g.memoryMaxUsage !== undefined) memory.max_usage = g.memoryMaxUsage;
    memory.stats = g.memoryStat;
    if (g.version === 1 && g.memoryFailcnt !== undefined) memory.failcnt = g.memoryFailcnt;
    // As dockerd: no limit (or one above the host's memory) reports the host's memory.
    memory.limit = g.memoryLimit !== undefined && g.memoryLimit < cur.memoryTotal ? g.memoryLimit : cur.memoryTotal;
  }
  const networks: Record<string, unknown> = {};
  for (const [name, n] of Object.entries(cur?.net ?? {})) {
    if (name === 'lo') continue;
    networks[name] = {
      rx_bytes: n.rxBytes, rx_packets: n.rxPackets, rx_errors: n.rxErrors, rx_dropped: n.rxDropped,
      tx_bytes: n.txBytes, tx_packets: n.txPackets, tx_errors: n.txErrors, tx_dropped: n.txDropped,
    };
  }
  return {
    read: cur ? cur.read.toISOString() : ZERO_TIME,
    preread: prev ? prev.read.toISOString() : ZERO_TIME,
    pids_stats: g?.pidsCurrent !== undefined ? { current: g.pidsCurrent, ...(g.pidsLimit !== undefined ? { limit: g.pidsLimit } : {}) } : {},
    blkio_stats: {
      io_service_bytes_recursive: blkio(g?.blkio.serviceBytes),
      io_serviced_recursive: blkio(g?.blkio.serviced),
      io_queue_recursive: null, io_service_time_recursive: null, io_wait_time_recursive: null,
      io_merged_recursive: null, io_time_recursive: null, sectors_recursive: null,
    },
    num_procs: 0,
    storage_stats: {},
    cpu_stats: cpuStats(cur),
    precpu_stats: cpuStats(prev),
    memory_stats: memory,
    name: `/${c.name}`,
    id: c.id,
    ...(cur?.net ? { networks } : {}),
  };
}
