import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { Daemon, startDaemon } from './harness';

// Issue 6, resource limits: cgroup limits from docker run, docker update, docker stats, OOM kills.
// This host is cgroup v1 (hybrid): the container's cgroup files live at /sys/fs/cgroup/<ctl>/berth/<id>.
describe('resource limits through the docker CLI', () => {
  let d: Daemon;
  before(async () => { d = await startDaemon(); });
  after(async () => { await d?.stop(); });

  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout.trim();
  };
  /** A cgroup file of a container, found from its init PID (v1 or v2). */
  const cg = (name: string, ctl: string, file: string) => {
    const pid = ok(['inspect', '-f', '{{.State.Pid}}', name]);
    const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
    const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes(ctl));
    const path = v1 ? `/sys/fs/cgroup/${ctl}${v1.split(':')[2]}/${file}` : `/sys/fs/cgroup${lines.find((l) => l.startsWith('0::'))!.slice(3)}/${file}`;
    assert.ok(existsSync(path), path);
    return readFileSync(path, 'utf8').trim();
  };

  test('a process over --memory 16m is OOM-killed: State.OOMKilled and exit 137', () => {
    const r = d.docker(['run', '--name', 'oomer', '--memory', '16m', 'busybox', 'sh', '-c', 'tail /dev/zero']);
    assert.equal(r.status, 137, r.stderr);
    assert.equal(ok(['inspect', '-f', '{{.State.OOMKilled}} {{.State.ExitCode}} {{.HostConfig.Memory}}', 'oomer']), 'true 137 16777216');
    ok(['rm', 'oomer']);
  });

  test('a fork bomb stops at --pids-limit 20 and the container stays manageable', () => {
    // The bomb runs in a subshell that dies on "can't fork"; PID 1 then execs (no fork) and stays.
    ok(['run', '-d', '--name', 'bomb', '--pids-limit', '20', 'busybox', 'sh', '-c',
      '(while :; do sleep 100 & done); exec sleep 100']);
    // pids.events counts forks refused at the limit (v1 and v2 both have it).
    let refused = 0;
    for (let i = 0; i < 200 && refused === 0; i++) refused = Number(/max (\d+)/.exec(cg('bomb', 'pids', 'pids.events'))?.[1] ?? 0);
    assert.ok(refused > 0, 'no fork was refused');
    assert.ok(Number(cg('bomb', 'pids', 'pids.current')) <= 20);
    assert.equal(cg('bomb', 'pids', 'pids.max'), '20');
    assert.equal(ok(['inspect', '-f', '{{.State.Status}} {{.HostConfig.PidsLimit}}', 'bomb']), 'running 20');
    ok(['kill', 'bomb']);
    assert.equal(ok(['wait', 'bomb']), '137');
    ok(['rm', '-f', 'bomb']);
  });

  test('--cpus, --cpu-shares, --cpuset-cpus, --ulimit, --shm-size, --memory-reservation reach cgroups and the process', () => {
    ok(['run', '-d', '--name', 'lim', '--cpus', '0.5', '--cpu-shares', '512', '--cpuset-cpus', '0', '--ulimit', 'nofile=100:200',
      '--shm-size', '8m', '--memory', '32m', '--memory-reservation', '16m', 'busybox', 'sleep', '100']);
    assert.equal(cg('lim', 'cpu', 'cpu.cfs_quota_us'), '50000');
    assert.equal(cg('lim', 'cpu', 'cpu.cfs_period_us'), '100000');
    assert.equal(cg('lim', 'cpu', 'cpu.shares'), '512');
    assert.equal(cg('lim', 'cpuset', 'cpuset.cpus'), '0');
    assert.equal(cg('lim', 'memory', 'memory.limit_in_bytes'), String(32 * 1024 * 1024));
    assert.equal(cg('lim', 'memory', 'memory.soft_limit_in_bytes'), String(16 * 1024 * 1024));
    assert.equal(ok(['exec', 'lim', 'sh', '-c', 'ulimit -n; ulimit -Hn']), '100\n200');
    assert.match(ok(['exec', 'lim', 'df', '-k', '/dev/shm']), /shm\s+8192\s/);
    assert.equal(ok(['inspect', '-f', '{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.ShmSize}}', 'lim']),
      '500000000 512 0 8388608');
  });

  test('docker update changes a running container\'s cgroups and inspect', () => {
    assert.equal(ok(['update', '--memory', '64m', '--memory-swap', '128m', '--pids-limit', '50', 'lim']), 'lim');
    assert.equal(cg('lim', 'memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
    assert.equal(cg('lim', 'pids', 'pids.max'), '50');
    assert.equal(ok(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}}', 'lim']),
      `${64 * 1024 * 1024} ${128 * 1024 * 1024} 50`);
    const bad = d.docker(['update', '--memory', '1m', 'lim']);
    assert.equal(bad.status, 1, bad.stderr); // docker update reports daemon errors with exit 1
    assert.match(bad.stderr, /Minimum memory limit allowed is 6MB/);
    assert.equal(cg('lim', 'memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
  });

  test('docker stats --no-stream shows usage, the limit and pids; the API streams', async () => {
    const out = ok(['stats', '--no-stream', '--format', '{{.Name}}|{{.MemUsage}}|{{.PIDs}}|{{.CPUPerc}}', 'lim']);
    const [name, mem, pids, cpu] = out.split('|');
    assert.equal(name, 'lim');
    const [usage, limit] = mem.split(' / ');
    assert.match(usage, /^[1-9][\d.]*(B|KiB|MiB)$/, `usage ${usage}`);
    assert.equal(limit, '64MiB');
    assert.equal(pids, '1');
    assert.match(cpu, /^\d+\.\d\d%$/);
    const one = await d.api('GET', '/containers/lim/stats?stream=0&one-shot=1');
    assert.equal(one.status, 200);
    const s = JSON.parse(one.body);
    assert.ok(s.cpu_stats.cpu_usage.total_usage > 0 && s.cpu_stats.system_cpu_usage > 0 && s.cpu_stats.online_cpus >= 1);
    assert.equal(s.memory_stats.limit, 64 * 1024 * 1024);
    assert.equal(s.pids_stats.current, 1);
    assert.equal(s.name, '/lim');
    ok(['rm', '-f', 'lim']);
  });

  test('invalid limits are 400s from create (exit 125) and nothing is created', () => {
    const cases: Array<[string[], RegExp]> = [
      [['--memory', '1m'], /Minimum memory limit allowed is 6MB/],
      [['--memory', '16m', '--memory-swap', '8m'], /Minimum memoryswap limit should be larger than memory limit/],
      [['--cpuset-cpus', '64'], /Requested CPUs are not available - requested 64/],
      [['--cpus', '1000'], /Range of CPUs is from 0.01 to/],
      [['--cpu-period', '100'], /CPU cfs period can not be less than 1ms/],
      [['--blkio-weight', '5'], /Range of blkio weight is from 10 to 1000/],
    ];
    for (const [flags, msg] of cases) {
      const r = d.docker(['run', '--name', 'badlimit', ...flags, 'busybox', 'true']);
      assert.equal(r.status, 125, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, msg);
    }
    assert.equal(ok(['ps', '-aq', '--filter', 'name=badlimit']), '');
  });
});
