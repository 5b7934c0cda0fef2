import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { totalmem } from 'node:os';
import { Daemon, dockerAsync, startDaemon } from './harness';

/** The first `n` objects of a streaming `GET /containers/{id}/stats`, then hangs up. */
function readStats(sock: string, name: string, n: number): Promise<Array<Record<string, any>>> {
  return new Promise((resolve, reject) => {
    const out: Array<Record<string, any>> = [];
    let buf = '';
    const r = request({ socketPath: sock, path: `/v1.50/containers/${name}/stats`, method: 'GET' }, (res) => {
      if (res.statusCode !== 200) { reject(new Error(`stats: ${res.statusCode}`)); return; }
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let i;
        while ((i = buf.indexOf('\n')) >= 0 && out.length < n) {
          out.push({ ...JSON.parse(buf.slice(0, i)), receivedAt: Date.now() });
          buf = buf.slice(i + 1);
        }
        if (out.length >= n) { r.destroy(); resolve(out); }
      });
      res.on('end', () => reject(new Error(`the stream ended after ${out.length} samples`)));
    });
    r.on('error', (e) => { if (out.length < n) reject(e); });
    r.end();
  });
}

/** docker-py's and the CLI's CPU %: Δcontainer CPU / Δhost CPU × online CPUs × 100. */
function cpuPercent(s: Record<string, any>): number {
  const cpu = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const system = s.cpu_stats.system_cpu_usage - s.precpu_stats.system_cpu_usage;
  return (cpu / system) * s.cpu_stats.online_cpus * 100;
}

/** A pure cgroup v2 host (scripts/cgroup2-vm.sh makes one; test/integration/cgroup2-vm.test.ts runs this file there). */
const V2 = existsSync('/sys/fs/cgroup/cgroup.controllers');

/** crun's and runc's cpu.shares -> cpu.weight (v2) conversion: [2, 262144] onto [1, 10000]. */
const sharesToWeight = (shares: number) => 1 + Math.floor(((shares - 2) * 9999) / 262142);

// Issue 6, resource limits: cgroup limits from docker run, docker update, docker stats, OOM kills.
// On a v1 (hybrid) host the container's cgroup files live at /sys/fs/cgroup/<ctl>/berth/<id>; on a
// pure v2 host in one directory, /sys/fs/cgroup/berth/<id>, with v2's file names.
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

  test('--oom-kill-disable on cgroup v2: dropped with Docker\'s warning (v2 has no way to disable the OOM killer)', { skip: !V2 && 'cgroup v1 host' }, () => {
    const r = d.docker(['create', '--name', 'nokill', '--memory', '16m', '--oom-kill-disable', 'busybox', 'true']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /WARNING: Your kernel does not support OomKillDisable. OomKillDisable discarded./);
    assert.equal(ok(['inspect', '-f', '{{.HostConfig.OomKillDisable}}', 'nokill']), 'false');
    ok(['rm', 'nokill']);
  });

  test('--oom-kill-disable on cgroup v1: a process over the limit waits instead of being killed; kill still works', { skip: V2 && 'cgroup v2 host' }, async () => {
    // awk doubles a string in user space: its page faults wait for memory (a read() into a full
    // cgroup would fail with ENOMEM instead, and the process would just exit).
    const r = d.docker(['run', '-d', '--name', 'nokill', '--memory', '16m', '--memory-swap', '16m', '--oom-kill-disable', 'busybox',
      'awk', 'BEGIN { s = "x"; for (;;) s = s s }']);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /WARNING/);
    assert.match(cg('nokill', 'memory', 'memory.oom_control'), /oom_kill_disable 1/);
    let underOom = false;
    for (let i = 0; i < 100 && !underOom; i++) {
      underOom = /under_oom 1/.test(cg('nokill', 'memory', 'memory.oom_control'));
      if (!underOom) await new Promise((res) => setTimeout(res, 100));
    }
    assert.ok(underOom, 'the container never reached its limit');
    assert.equal(ok(['inspect', '-f', '{{.State.Status}} {{.State.OOMKilled}} {{.HostConfig.OomKillDisable}}', 'nokill']), 'running false true');
    ok(['kill', 'nokill']);
    assert.equal(ok(['wait', 'nokill']), '137');
    // conmon, like containerd, reports the cgroup's OOM event: OOMKilled then says the container
    // hit its limit, as dockerd says it, though the kill was ours.
    assert.equal(ok(['inspect', '-f', '{{.State.OOMKilled}}', 'nokill']), 'true');
    ok(['rm', 'nokill']);
    // Without a memory limit the whole host's memory is at stake: Docker's warning.
    const w = d.docker(['create', '--name', 'nolimit', '--oom-kill-disable', 'busybox', 'true']);
    assert.equal(w.status, 0, w.stderr);
    assert.match(w.stderr, /WARNING: OOM killer is disabled for the container, but no memory limit is set/);
    ok(['rm', 'nolimit']);
  });

  test('--blkio-weight reaches the blkio cgroup (BFQ\'s weight here) and docker update changes it', () => {
    ok(['run', '-d', '--name', 'weighted', '--blkio-weight', '300', 'busybox', 'sleep', '100']);
    // v1: CFQ's blkio.weight (before Linux 5.0) or BFQ's; v2: BFQ's io.bfq.weight ("default 300").
    const file = V2 ? 'io.bfq.weight' : existsSync(`/sys/fs/cgroup/blkio/blkio.weight`) ? 'blkio.weight' : 'blkio.bfq.weight';
    assert.match(cg('weighted', 'blkio', file), /^(default )?300$/m);
    assert.equal(ok(['inspect', '-f', '{{.HostConfig.BlkioWeight}}', 'weighted']), '300');
    ok(['update', '--blkio-weight', '600', 'weighted']);
    assert.match(cg('weighted', 'blkio', file), /^(default )?600$/m);
    ok(['rm', '-f', 'weighted']);
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
      '--shm-size', '8m', '--memory', '32m', '--memory-reservation', '16m', 'busybox', 'sleep', '1000']);
    if (V2) {
      assert.equal(cg('lim', 'cpu', 'cpu.max'), '50000 100000');
      assert.equal(cg('lim', 'cpu', 'cpu.weight'), String(sharesToWeight(512)));
      assert.equal(cg('lim', 'memory', 'memory.max'), String(32 * 1024 * 1024));
      // The reservation is memory.low on v2 (runc and crun both).
      assert.equal(cg('lim', 'memory', 'memory.low'), String(16 * 1024 * 1024));
    } else {
      assert.equal(cg('lim', 'cpu', 'cpu.cfs_quota_us'), '50000');
      assert.equal(cg('lim', 'cpu', 'cpu.cfs_period_us'), '100000');
      assert.equal(cg('lim', 'cpu', 'cpu.shares'), '512');
      assert.equal(cg('lim', 'memory', 'memory.limit_in_bytes'), String(32 * 1024 * 1024));
      assert.equal(cg('lim', 'memory', 'memory.soft_limit_in_bytes'), String(16 * 1024 * 1024));
    }
    assert.equal(cg('lim', 'cpuset', 'cpuset.cpus'), '0');
    assert.equal(ok(['exec', 'lim', 'sh', '-c', 'ulimit -n; ulimit -Hn']), '100\n200');
    assert.match(ok(['exec', 'lim', 'df', '-k', '/dev/shm']), /shm\s+8192\s/);
    assert.equal(ok(['inspect', '-f', '{{.HostConfig.NanoCpus}} {{.HostConfig.CpuShares}} {{.HostConfig.CpusetCpus}} {{.HostConfig.ShmSize}}', 'lim']),
      '500000000 512 0 8388608');
  });

  test('busy loops on one CPU get CPU time in the ratio of their --cpu-shares', async () => {
    // Both on CPU 0, so they compete; 1024 against 512 shares: about 2:1, whatever else runs there.
    for (const [name, shares] of [['share-hi', '1024'], ['share-lo', '512']]) {
      ok(['run', '-d', '--name', name, '--cpuset-cpus', '0', '--cpu-shares', shares, 'busybox', 'sh', '-c', 'while :; do :; done']);
    }
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    const usage = () => ['share-hi', 'share-lo'].map((n) => (v2
      ? Number(/usage_usec (\d+)/.exec(cg(n, 'cpu', 'cpu.stat'))![1]) * 1000
      : Number(cg(n, 'cpuacct', 'cpuacct.usage'))));
    await new Promise((r) => setTimeout(r, 500));
    const [h0, l0] = usage();
    await new Promise((r) => setTimeout(r, 3000));
    const [h1, l1] = usage();
    const ratio = (h1 - h0) / (l1 - l0);
    assert.ok(ratio > 1.5 && ratio < 2.7, `CPU time ratio ${ratio.toFixed(2)} (${((h1 - h0) / 1e9).toFixed(2)} s against ${((l1 - l0) / 1e9).toFixed(2)} s)`);
    ok(['rm', '-f', 'share-hi', 'share-lo']);
  });

  test('docker update changes a running container\'s cgroups and inspect', () => {
    assert.equal(ok(['update', '--memory', '64m', '--memory-swap', '128m', '--pids-limit', '50', 'lim']), 'lim');
    const memLimit = V2 ? 'memory.max' : 'memory.limit_in_bytes';
    assert.equal(cg('lim', 'memory', memLimit), String(64 * 1024 * 1024));
    // v2 limits swap alone (memory.swap.max): the runtime writes memory+swap minus memory.
    if (V2) assert.equal(cg('lim', 'memory', 'memory.swap.max'), String(64 * 1024 * 1024));
    assert.equal(cg('lim', 'pids', 'pids.max'), '50');
    assert.equal(ok(['inspect', '-f', '{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.PidsLimit}}', 'lim']),
      `${64 * 1024 * 1024} ${128 * 1024 * 1024} 50`);
    const bad = d.docker(['update', '--memory', '1m', 'lim']);
    assert.equal(bad.status, 1, bad.stderr); // docker update reports daemon errors with exit 1
    assert.match(bad.stderr, /Minimum memory limit allowed is 6MB/);
    assert.equal(cg('lim', 'memory', memLimit), String(64 * 1024 * 1024));
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

  test('streaming stats: a sample a second, precpu_stats from the second on, docker-py\'s CPU % of a loop held to --cpus 0.5', async () => {
    ok(['run', '-d', '--name', 'busy', '--cpus', '0.5', 'busybox', 'sh', '-c', 'while :; do :; done']);
    const samples = await readStats(d.sock, 'busy', 4);
    const [first, ...rest] = samples;
    // The first sample has no previous one: zeroed precpu_stats, as dockerd streams it.
    assert.equal(first.preread, '0001-01-01T00:00:00Z');
    assert.equal(first.precpu_stats.cpu_usage.total_usage, 0);
    assert.equal(first.precpu_stats.system_cpu_usage, undefined);
    rest.forEach((s, i) => {
      const prev = samples[i];
      assert.equal(s.preread, prev.read);
      assert.deepEqual(s.precpu_stats, prev.cpu_stats, `sample ${i + 1}'s precpu_stats is sample ${i}'s cpu_stats`);
      const gap = Date.parse(s.read) - Date.parse(prev.read);
      assert.ok(gap >= 900 && gap < 3000, `samples ${gap} ms apart`);
      assert.ok(s.cpu_stats.cpu_usage.total_usage > prev.cpu_stats.cpu_usage.total_usage);
      assert.ok(s.cpu_stats.system_cpu_usage > prev.cpu_stats.system_cpu_usage);
      const pct = cpuPercent(s);
      // The CFS quota caps the loop at 50% of one CPU; a busy host may give it less.
      assert.ok(pct > 3 && pct < 60, `CPU ${pct.toFixed(1)}%`);
    });
    for (const s of samples) {
      assert.equal(s.name, '/busy');
      assert.ok(s.cpu_stats.online_cpus >= 1);
      assert.equal(s.cpu_stats.cpu_usage.percpu_usage?.length ?? s.cpu_stats.online_cpus, s.cpu_stats.online_cpus);
      assert.ok(s.memory_stats.usage > 0);
      assert.equal(s.memory_stats.limit, totalmem(), 'no limit: the host\'s memory, as dockerd');
      assert.ok(s.pids_stats.current >= 1);
      assert.equal(typeof s.networks?.eth0?.rx_bytes, 'number');
    }
    // The first sample can come before the loop has run a whole CFS period (a busy host); by the
    // last, seconds later, the quota has held it.
    const last = samples[samples.length - 1].cpu_stats.throttling_data;
    assert.ok(last.periods > 0, `a quota-held loop is throttled: ${JSON.stringify(last)}`);
  });

  test('docker stats --no-stream --format for several containers; -a adds stopped ones; the CLI streams', async () => {
    ok(['run', '-d', '--name', 'idle1', '--memory', '32m', 'busybox', 'sleep', '100']);
    ok(['run', '-d', '--name', 'idle2', 'busybox', 'sleep', '100']);
    ok(['run', '--name', 'stopped', 'busybox', 'true']);
    const rows = ok(['stats', '--no-stream', '--format', '{{.Name}}|{{.CPUPerc}}|{{.MemUsage}}|{{.PIDs}}', 'busy', 'idle1', 'idle2']).split('\n');
    assert.deepEqual(rows.map((r) => r.split('|')[0]), ['busy', 'idle1', 'idle2']);
    const byName = Object.fromEntries(rows.map((r) => [r.split('|')[0], r.split('|')]));
    assert.ok(parseFloat(byName.busy[1]) > 3, `busy at ${byName.busy[1]}`);
    assert.ok(parseFloat(byName.idle1[1]) < 5, `idle1 at ${byName.idle1[1]}`);
    assert.match(byName.idle1[2], / \/ 32MiB$/);
    assert.equal(byName.idle2[3], '1');
    // All running containers when none is named; -a adds the stopped one.
    const running = ok(['stats', '--no-stream', '--format', '{{.Name}}']).split('\n').sort();
    assert.deepEqual(running, ['busy', 'idle1', 'idle2']);
    const all = ok(['stats', '--no-stream', '-a', '--format', '{{.Name}} {{.CPUPerc}}']).split('\n').sort();
    assert.ok(all.includes('stopped 0.00%'), all.join(', '));
    // Without --no-stream the CLI keeps redrawing from the API's stream until it is stopped.
    const streamed = await dockerAsync(d, ['stats', '--format', '{{.Name}} {{.CPUPerc}}', 'busy'], 4500);
    assert.ok((streamed.stdout.match(/^.*busy \d+\.\d\d%/gm) ?? []).length >= 3, streamed.stdout);
    ok(['rm', '-f', 'busy', 'idle1', 'idle2', 'stopped']);
  });

  test('--memory-swappiness: v1 writes memory.swappiness; v2 has none: dropped with Docker\'s warning, the container runs', () => {
    // Regression: on cgroup v2 the value reached crun, which failed the start ("cannot set memory
    // swappiness with cgroupv2"); the run exited 125.
    const r = d.docker(['run', '-d', '--name', 'swappy', '--memory', '32m', '--memory-swappiness', '50', 'busybox', 'sleep', '100']);
    assert.equal(r.status, 0, r.stderr);
    if (V2) {
      assert.match(r.stderr, /WARNING: Your kernel does not support memory swappiness capabilities or the cgroup is not mounted. Memory swappiness discarded./);
      assert.equal(ok(['inspect', '-f', '{{.HostConfig.MemorySwappiness}}', 'swappy']), '<nil>');
      // Without the flag the CLI sends -1: no warning then.
      const plain = d.docker(['create', '--name', 'unswappy', '--memory', '32m', 'busybox', 'true']);
      assert.equal(plain.status, 0, plain.stderr);
      assert.doesNotMatch(plain.stderr, /WARNING/);
      ok(['rm', 'unswappy']);
    } else {
      assert.equal(cg('swappy', 'memory', 'memory.swappiness'), '50');
      assert.equal(ok(['inspect', '-f', '{{.HostConfig.MemorySwappiness}}', 'swappy']), '50');
    }
    ok(['rm', '-f', 'swappy']);
  });

  test('cgroup namespace: Docker\'s default (private on v2, host on v1); on v2 a container sees its own cgroup and limits', () => {
    ok(['create', '--name', 'cgns', 'busybox', 'true']);
    assert.equal(ok(['inspect', '-f', '{{.HostConfig.CgroupnsMode}}', 'cgns']), V2 ? 'private' : 'host');
    ok(['rm', 'cgns']);
    if (!V2) return;
    // Regression: without a cgroup namespace the container's /sys/fs/cgroup was the host's root,
    // with no memory.max (what JVMs, Go and node read to size themselves) and berth's tree inside.
    assert.equal(ok(['run', '--rm', '--memory', '20m', 'busybox', 'sh', '-c', 'cat /proc/self/cgroup /sys/fs/cgroup/memory.max']), `0::/\n${20 * 1024 * 1024}`);
    assert.match(ok(['run', '--rm', '--cgroupns', 'host', 'busybox', 'cat', '/proc/self/cgroup']), /^0::\/berth\/[0-9a-f]{64}$/);
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
