import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderContextRows } from '../format/formatter';
import { DEFAULT_STATS_FORMAT, STATS_HEADERS, StatsContext } from '../format/contexts';
import { cpuPercent, memoryUsage, redrawFrame, statsEntry } from './stats';
import type { StatsResponse } from '../../client/types';

// Numbers checked against docker CLI 28's calculateCPUPercentUnix and calculateMemUsageUnixNoCache.
test('CPU %: container CPU time over host CPU time between the two samples, times the online CPUs', () => {
  const v: StatsResponse = {
    cpu_stats: { cpu_usage: { total_usage: 400_000_000, percpu_usage: [1, 2] }, system_cpu_usage: 10_000_000_000, online_cpus: 4 },
    precpu_stats: { cpu_usage: { total_usage: 200_000_000 }, system_cpu_usage: 8_000_000_000 },
  };
  assert.equal(cpuPercent(v), 40);
  // No online_cpus: the per-CPU list's length.
  assert.equal(cpuPercent({ ...v, cpu_stats: { ...v.cpu_stats, online_cpus: 0 } }), 20);
  // The first sample (no precpu) of a non-streaming answer, or a clock that did not move: 0.
  assert.equal(cpuPercent({ cpu_stats: v.cpu_stats, precpu_stats: { cpu_usage: { total_usage: 500_000_000 }, system_cpu_usage: 8_000_000_000 } }), 0);
  assert.equal(cpuPercent({}), 0);
});

test('memory: usage without inactive page cache (cgroup v1 total_inactive_file, v2 inactive_file)', () => {
  assert.equal(memoryUsage({ usage: 1000, stats: { total_inactive_file: 300, inactive_file: 100 } }), 700);
  assert.equal(memoryUsage({ usage: 1000, stats: { inactive_file: 100 } }), 900);
  // More inactive than used (a v1 hierarchy quirk): v1's value is skipped, then v2's.
  assert.equal(memoryUsage({ usage: 1000, stats: { total_inactive_file: 2000 } }), 1000);
  assert.equal(memoryUsage(undefined), 0);
});

test('a stats answer as the row docker prints', () => {
  const e = statsEntry({
    name: '/web', id: 'a'.repeat(64),
    cpu_stats: { cpu_usage: { total_usage: 2_500_000 }, system_cpu_usage: 2_000_000_000, online_cpus: 8 },
    precpu_stats: { cpu_usage: { total_usage: 0 }, system_cpu_usage: 1_000_000_000 },
    memory_stats: { usage: 3 * 1024 * 1024, limit: 512 * 1024 * 1024, stats: { total_inactive_file: 1024 * 1024 } },
    networks: { eth0: { rx_bytes: 1500, tx_bytes: 700 }, eth1: { rx_bytes: 500, tx_bytes: 300 } },
    blkio_stats: { io_service_bytes_recursive: [{ major: 8, minor: 0, op: 'Read', value: 4096 }, { major: 8, minor: 0, op: 'write', value: 1_000_000 }, { major: 8, minor: 0, op: 'Total', value: 1 }] },
    pids_stats: { current: 3 },
  }, 'web');
  const out = renderContextRows('table', [new StatsContext(e, true), new StatsContext({ ...e, Container: 'gone', IsInvalid: true }, true)], STATS_HEADERS, DEFAULT_STATS_FORMAT);
  assert.equal(out, [
    'CONTAINER ID   NAME      CPU %     MEM USAGE / LIMIT   MEM %     NET I/O     BLOCK I/O     PIDS',
    'aaaaaaaaaaaa   web       2.00%     2MiB / 512MiB       0.39%     2kB / 1kB   4.1kB / 1MB   3',
    'aaaaaaaaaaaa   web       --        -- / --             --        --          --            --',
    '',
  ].join('\n'));
  assert.equal(renderContextRows('json', [new StatsContext(e, false)], STATS_HEADERS, DEFAULT_STATS_FORMAT),
    `{"BlockIO":"4.1kB / 1MB","CPUPerc":"2.00%","Container":"web","ID":"${'a'.repeat(64)}","MemPerc":"0.39%","MemUsage":"2MiB / 512MiB","Name":"web","NetIO":"2kB / 1kB","PIDs":"3"}\n`);
  // A name the engine did not send prints as "--".
  assert.equal(new StatsContext({ ...e, Name: '' }, true).Name, '--');
});

test('a streaming frame: cursor home, each line erased to its end, the rest of the screen cleared', () => {
  assert.equal(redrawFrame('A\nB\n'), '\x1b[HA\x1b[K\nB\x1b[K\n\x1b[K\n\x1b[J');
});
