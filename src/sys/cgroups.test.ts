import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostResources, parseProcCgroup, readCgroupSample } from './cgroups';

// cgroup v2 (what most users run) and v1 layouts as fixture trees: this host is v1 hybrid, so the
// v2 reading paths are proven here rather than on a live kernel.
const tmp = mkdtempSync('/tmp/berth-cgroups-test-');
after(() => rmSync(tmp, { recursive: true, force: true }));

function tree(root: string, files: Record<string, string>): string {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(root, path, '..'), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test('cgroup v2: /proc/pid/cgroup, the counters of a container, host facts', async () => {
  const root = tree(join(tmp, 'v2'), {
    'cgroup.controllers': 'cpuset cpu io memory hugetlb pids rdma misc\n',
    'cpuset.cpus.effective': '0-3\n',
    'cpuset.mems.effective': '0\n',
    'berth/abc/cpu.stat': 'usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\nnr_periods 10\nnr_throttled 2\nthrottled_usec 3000\n',
    'berth/abc/memory.current': '10485760\n',
    'berth/abc/memory.max': '67108864\n',
    'berth/abc/memory.stat': 'anon 4096\nfile 8192\ninactive_file 2048\nactive_file 6144\n',
    'berth/abc/memory.events': 'low 0\nhigh 0\nmax 7\noom 1\noom_kill 1\n',
    'berth/abc/pids.current': '3\n',
    'berth/abc/pids.max': 'max\n',
    'berth/abc/io.stat': '8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n',
    'berth/unlimited/cpu.stat': 'usage_usec 1\n',
    'berth/unlimited/memory.current': '1\n',
    'berth/unlimited/memory.max': 'max\n',
  });
  const dirs = parseProcCgroup('0::/berth/abc\n', root);
  assert.deepEqual(dirs, { v1: {}, v2: join(root, 'berth/abc') });
  const s = await readCgroupSample(dirs);
  assert.deepEqual(s, {
    version: 2, cpuTotal: 2.5e9, cpuUser: 2e9, cpuSystem: 0.5e9,
    throttling: { periods: 10, throttledPeriods: 2, throttledTime: 3e6 },
    memoryUsage: 10485760, memoryFailcnt: 7, memoryLimit: 67108864,
    memoryStat: { anon: 4096, file: 8192, inactive_file: 2048, active_file: 6144 },
    pidsCurrent: 3, pidsLimit: undefined,
    blkio: {
      serviceBytes: [{ major: 8, minor: 0, op: 'read', value: 4096 }, { major: 8, minor: 0, op: 'write', value: 8192 }],
      serviced: [{ major: 8, minor: 0, op: 'read', value: 1 }, { major: 8, minor: 0, op: 'write', value: 2 }],
    },
  });
  assert.equal((await readCgroupSample(parseProcCgroup('0::/berth/unlimited\n', root)))?.memoryLimit, undefined);
  // A container whose cgroup is gone has no sample (stats then report zeros).
  assert.equal(await readCgroupSample(parseProcCgroup('0::/berth/gone\n', root)), undefined);
  const h = hostResources(root);
  assert.equal(h.cpus, 4);
  assert.equal(h.cpusetCpus, '0-3');
  assert.equal(h.swapLimit, true);
  assert.equal(h.blkioWeight, true);
  assert.equal(h.oomKillDisable, false, 'v2 has no memory.oom_control');
  assert.equal(h.memorySwappiness, false, 'v2 has no memory.swappiness');
  assert.equal(h.cgroupVersion, 2);
  // Without the io controller there is no weight to set.
  tree(root, { 'cgroup.controllers': 'cpuset cpu memory pids\n' });
  assert.equal(hostResources(root).blkioWeight, false);
});

test('cgroup v1 hybrid: controllers apart and co-mounted, the counters of a container, host facts', async () => {
  const root = tree(join(tmp, 'v1'), {
    'cpuset/cpuset.cpus': '0-1\n',
    'cpuset/cpuset.mems': '0\n',
    'cpu,cpuacct/berth/abc/cpuacct.usage': '3000000000\n',
    'cpu,cpuacct/berth/abc/cpuacct.usage_percpu': '1000000000 2000000000 \n',
    'cpu,cpuacct/berth/abc/cpuacct.stat': 'user 250\nsystem 50\n',
    'cpu,cpuacct/berth/abc/cpu.stat': 'nr_periods 4\nnr_throttled 1\nthrottled_time 500\n',
    'memory/memory.oom_control': 'oom_kill_disable 0\nunder_oom 0\n',
    'memory/memory.swappiness': '60\n',
    'memory/memory.memsw.limit_in_bytes': '9223372036854771712\n',
    'memory/berth/abc/memory.usage_in_bytes': '20971520\n',
    'memory/berth/abc/memory.max_usage_in_bytes': '31457280\n',
    'memory/berth/abc/memory.failcnt': '0\n',
    'memory/berth/abc/memory.limit_in_bytes': '9223372036854771712\n',
    'memory/berth/abc/memory.stat': 'cache 100\nrss 200\ntotal_inactive_file 50\n',
    'pids/berth/abc/pids.current': '2\n',
    'pids/berth/abc/pids.max': '20\n',
    'blkio/blkio.bfq.io_service_bytes': '',
    'blkio/berth/abc/blkio.throttle.io_service_bytes_recursive': '8:0 Read 512\n8:0 Write 1024\nTotal 1536\n',
    'blkio/berth/abc/blkio.throttle.io_serviced_recursive': '8:0 Read 1\n8:0 Write 2\nTotal 3\n',
    'unified/cgroup.controllers': '',
  });
  mkdirSync(join(root, 'cpu'));
  const text = '9:name=systemd:/\n8:pids:/berth/abc\n7:blkio:/berth/abc\n4:memory:/berth/abc\n2:cpu,cpuacct:/berth/abc\n0::/berth/abc\n';
  const dirs = parseProcCgroup(text, root);
  assert.equal(dirs.v1.cpuacct, join(root, 'cpu,cpuacct/berth/abc'));
  assert.equal(dirs.v1.cpu, join(root, 'cpu,cpuacct/berth/abc'));
  assert.equal(dirs.v2, join(root, 'unified/berth/abc'));
  const s = await readCgroupSample(dirs);
  assert.equal(s?.version, 1);
  assert.equal(s?.cpuTotal, 3e9);
  assert.deepEqual(s?.cpuPerCpu, [1e9, 2e9]);
  assert.equal(s?.cpuUser, 2.5e9);
  assert.equal(s?.cpuSystem, 0.5e9);
  assert.deepEqual(s?.throttling, { periods: 4, throttledPeriods: 1, throttledTime: 500 });
  assert.equal(s?.memoryUsage, 20971520);
  assert.equal(s?.memoryMaxUsage, 31457280);
  assert.equal(s?.memoryLimit, undefined, 'v1 reports "no limit" as a huge number');
  assert.equal(s?.memoryStat.total_inactive_file, 50);
  assert.equal(s?.pidsCurrent, 2);
  assert.equal(s?.pidsLimit, 20);
  assert.deepEqual(s?.blkio.serviceBytes.map((e) => e.value), [512, 1024]);
  const h = hostResources(root);
  assert.equal(h.cpus, 2);
  assert.equal(h.swapLimit, true);
  assert.equal(h.oomKillDisable, true);
  assert.equal(h.memorySwappiness, true);
  assert.equal(h.cgroupVersion, 1);
  // BFQ hides blkio.bfq.weight on the root cgroup; its statistics there show it is registered.
  assert.equal(h.blkioWeight, true);
  rmSync(join(root, 'blkio/blkio.bfq.io_service_bytes'));
  assert.equal(hostResources(root).blkioWeight, false);
});
