import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBlkioV1, parseFlatKeyed, parseIoStatV2, parseNetDev, parseProcCgroup, systemCpuUsage } from '../sys/cgroups';
import type { CgroupSample } from '../sys/cgroups';
import { dockerStats, StatsSample } from './stats-shape';

const g: CgroupSample = {
  version: 1, cpuTotal: 2e9, cpuPerCpu: [1e9, 1e9], cpuUser: 1.5e9, cpuSystem: 0.5e9,
  throttling: { periods: 10, throttledPeriods: 2, throttledTime: 300 },
  memoryUsage: 10 << 20, memoryMaxUsage: 12 << 20, memoryFailcnt: 0, memoryLimit: undefined,
  memoryStat: { total_inactive_file: 1 << 20, cache: 2 << 20 }, pidsCurrent: 3, pidsLimit: 20,
  blkio: { serviceBytes: [{ major: 8, minor: 0, op: 'Read', value: 4096 }], serviced: [] },
};

test('dockerStats: Docker\'s field names; no limit reports the host memory; precpu from the previous sample', () => {
  const prev: StatsSample = { cgroup: { ...g, cpuTotal: 1e9 }, systemCpu: 100e9, onlineCpus: 2, memoryTotal: 8 * 2 ** 30, read: new Date(0) };
  const cur: StatsSample = { cgroup: g, systemCpu: 102e9, onlineCpus: 2, memoryTotal: 8 * 2 ** 30, read: new Date(1000),
    net: { lo: parseNetDev('a\nb\n    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0').lo, eth0: { rxBytes: 5, rxPackets: 1, rxErrors: 0, rxDropped: 0, txBytes: 6, txPackets: 2, txErrors: 0, txDropped: 0 } } };
  const s = dockerStats(cur, prev, { id: 'abc', name: 'web' }) as any;
  assert.equal(s.name, '/web');
  assert.equal(s.id, 'abc');
  assert.equal(s.read, '1970-01-01T00:00:01.000Z');
  assert.equal(s.preread, '1970-01-01T00:00:00.000Z');
  assert.deepEqual(s.cpu_stats.cpu_usage, { total_usage: 2e9, percpu_usage: [1e9, 1e9], usage_in_kernelmode: 0.5e9, usage_in_usermode: 1.5e9 });
  assert.equal(s.cpu_stats.system_cpu_usage, 102e9);
  assert.equal(s.cpu_stats.online_cpus, 2);
  assert.deepEqual(s.cpu_stats.throttling_data, { periods: 10, throttled_periods: 2, throttled_time: 300 });
  assert.equal(s.precpu_stats.cpu_usage.total_usage, 1e9);
  // The CLI's CPU %: Δcpu / Δsystem × cpus × 100 = 1e9 / 2e9 × 2 × 100.
  const pct = (s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage) / (s.cpu_stats.system_cpu_usage - s.precpu_stats.system_cpu_usage) * s.cpu_stats.online_cpus * 100;
  assert.equal(pct, 100);
  assert.equal(s.memory_stats.usage, 10 << 20);
  assert.equal(s.memory_stats.limit, 8 * 2 ** 30);
  assert.equal(s.memory_stats.stats.total_inactive_file, 1 << 20);
  assert.deepEqual(s.pids_stats, { current: 3, limit: 20 });
  assert.deepEqual(s.blkio_stats.io_service_bytes_recursive, [{ major: 8, minor: 0, op: 'Read', value: 4096 }]);
  assert.deepEqual(Object.keys(s.networks), ['eth0']);
  assert.equal(s.networks.eth0.tx_packets, 2);
  const limited = dockerStats({ ...cur, cgroup: { ...g, memoryLimit: 64 << 20 } }, undefined, { id: 'abc', name: 'web' }) as any;
  assert.equal(limited.memory_stats.limit, 64 << 20);
  assert.equal(limited.preread, '0001-01-01T00:00:00Z');
});

test('dockerStats: a stopped container gets zeroed stats', () => {
  const s = dockerStats(undefined, undefined, { id: 'abc', name: 'web' }) as any;
  assert.equal(s.read, '0001-01-01T00:00:00Z');
  assert.equal(s.cpu_stats.cpu_usage.total_usage, 0);
  assert.deepEqual(s.memory_stats, {});
});

test('cgroup parsers: /proc/pid/cgroup, flat keyed, blkio v1, io.stat v2, /proc/stat', () => {
  const dirs = parseProcCgroup('4:memory:/berth/x\n2:cpu,cpuacct:/berth/x\n0::/berth/x\n', '/nonexistent');
  assert.equal(dirs.v1.memory, '/nonexistent/memory/berth/x');
  assert.equal(dirs.v1.cpuacct, '/nonexistent/cpuacct/berth/x');
  assert.equal(dirs.v2, '/nonexistent/unified/berth/x');
  assert.deepEqual(parseFlatKeyed('cache 1\nrss 2\nbad\n'), { cache: 1, rss: 2 });
  assert.deepEqual(parseBlkioV1('8:0 Read 10\n8:0 Write 20\nTotal 30\n'), [{ major: 8, minor: 0, op: 'Read', value: 10 }, { major: 8, minor: 0, op: 'Write', value: 20 }]);
  assert.deepEqual(parseIoStatV2('8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0\n').serviceBytes.map((e) => e.value), [1, 2]);
  assert.equal(systemCpuUsage('cpu  1 2 3 4 5 6 7 8 9 10\ncpu0 1\n'), 28 * 1e7);
});
