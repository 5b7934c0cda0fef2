import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { Daemon, startDaemon } from './harness';

// Health checks and restart policies through the real docker CLI (and the berth CLI for
// --health-on-failure, which docker lacks). Probes run every 200 ms; every wait polls.
describe('health checks and restart policies', () => {
  let d: Daemon;
  before(async () => { d = await startDaemon(); });
  after(async () => { await d?.stop(); });

  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const inspect = (ref: string, format: string) => ok(['inspect', '-f', format, ref]).trim();
  const psNames = (filter: string) => ok(['ps', '-a', '--filter', filter, '--format', '{{.Names}}']).split('\n').filter(Boolean);
  const fast = ['--health-interval', '200ms', '--health-timeout', '2s'];
  const actions = (since: number, name: string) => ok(['events', '--since', String(since), '--until', String(Math.ceil(Date.now() / 1000)),
    '--filter', `container=${name}`, '--format', '{{.Action}}']).split('\n').filter(Boolean);

  test('healthy and unhealthy: inspect, ps status and filter, events', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    ok(['run', '-d', '--name', 'hc-good', ...fast, '--health-cmd', 'echo fine', 'busybox', 'sleep', '60']);
    ok(['run', '-d', '--name', 'hc-bad', ...fast, '--health-retries', '2', '--health-cmd', 'echo broken; exit 1', 'busybox', 'sleep', '60']);
    await until(() => inspect('hc-good', '{{.State.Health.Status}}') === 'healthy', 10_000, 'hc-good to be healthy');
    await until(() => inspect('hc-bad', '{{.State.Health.Status}}') === 'unhealthy', 10_000, 'hc-bad to be unhealthy');

    const good = JSON.parse(inspect('hc-good', '{{json .State.Health}}'));
    assert.equal(good.FailingStreak, 0);
    assert.ok(good.Log.length >= 1 && good.Log.length <= 5);
    assert.deepEqual([good.Log[0].ExitCode, good.Log[0].Output], [0, 'fine\n']);
    const bad = JSON.parse(inspect('hc-bad', '{{json .State.Health}}'));
    assert.ok(bad.FailingStreak >= 2, `FailingStreak ${bad.FailingStreak}`);
    assert.deepEqual([bad.Log.at(-1).ExitCode, bad.Log.at(-1).Output], [1, 'broken\n']);
    await until(() => JSON.parse(inspect('hc-bad', '{{json .State.Health.Log}}')).length === 5, 10_000, 'the log to fill up');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(JSON.parse(inspect('hc-bad', '{{json .State.Health.Log}}')).length, 5, 'the log keeps 5 entries');

    const status = ok(['ps', '--format', '{{.Names}}|{{.Status}}']);
    assert.match(status, /^hc-good\|Up .* \(healthy\)$/m);
    assert.match(status, /^hc-bad\|Up .* \(unhealthy\)$/m);
    assert.deepEqual(psNames('health=healthy'), ['hc-good']);
    assert.deepEqual(psNames('health=unhealthy'), ['hc-bad']);
    assert.ok(!psNames('health=none').includes('hc-good'));
    assert.ok(actions(since, 'hc-good').includes('health_status: healthy'));
    assert.ok(actions(since, 'hc-bad').includes('health_status: unhealthy'));
    assert.notEqual(d.docker(['ps', '--filter', 'health=sick']).status, 0);

    // Probes stop with the container.
    ok(['stop', '-t', '1', 'hc-good']);
    const n = JSON.parse(inspect('hc-good', '{{json .State.Health.Log}}')).at(-1).End;
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(JSON.parse(inspect('hc-good', '{{json .State.Health.Log}}')).at(-1).End, n);
    assert.match(ok(['ps', '-a', '--filter', 'name=hc-good', '--format', '{{.Status}}']), /^Exited \(\d+\)/);
    ok(['rm', '-f', 'hc-good', 'hc-bad']);
  });

  test('image HEALTHCHECK, --no-healthcheck, start period', async () => {
    ok(['create', '--name', 'hc-base', 'busybox', 'true']);
    const made = await d.api('POST', '/commit?container=hc-base&repo=hc-image', { Healthcheck: { Test: ['CMD-SHELL', 'true'], Interval: 200e6 } });
    assert.equal(made.status, 201, made.body);
    ok(['run', '-d', '--name', 'hc-img', 'hc-image', 'sleep', '60']);
    ok(['run', '-d', '--name', 'hc-none', '--no-healthcheck', 'hc-image', 'sleep', '60']);
    ok(['run', '-d', '--name', 'hc-start', ...fast, '--health-retries', '1', '--health-start-period', '30s', '--health-start-interval', '200ms', '--health-cmd', 'exit 1', 'busybox', 'sleep', '60']);
    await until(() => inspect('hc-img', '{{.State.Health.Status}}') === 'healthy', 10_000, 'the image health check to pass');
    assert.equal(inspect('hc-none', '{{json .State.Health}}'), 'null');
    assert.ok(psNames('health=none').includes('hc-none'));
    assert.match(ok(['ps', '--filter', 'name=hc-none', '--format', '{{.Status}}']), /^Up [^(]*$/m);
    // Failures inside the start period leave it starting, with no failing streak.
    await until(() => JSON.parse(inspect('hc-start', '{{json .State.Health.Log}}')).length >= 3, 10_000, 'three probes');
    assert.equal(inspect('hc-start', '{{.State.Health.Status}} {{.State.Health.FailingStreak}}'), 'starting 0');
    assert.match(ok(['ps', '--filter', 'name=hc-start', '--format', '{{.Status}}']), /\(health: starting\)/);
    assert.deepEqual(psNames('health=starting'), ['hc-start']);
    ok(['rm', '-f', 'hc-img', 'hc-none', 'hc-start', 'hc-base']);
    ok(['rmi', 'hc-image']);
  });

  test('health-on-failure=restart (label via docker, flag via berth) restarts an unhealthy container', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    // Unhealthy until /tmp/ok exists: the first run is restarted, later runs stay (the file is in the container's layer).
    const cmd = ['sh', '-c', 'if [ -e /tmp/ran ]; then touch /tmp/ok; fi; touch /tmp/ran; exec sleep 60'];
    ok(['run', '-d', '--name', 'hof-docker', '--stop-timeout', '1', ...fast, '--health-retries', '1', '--health-cmd', 'test -e /tmp/ok',
      '--label', 'berth.health-on-failure=restart', 'busybox', ...cmd]);
    const r = d.berth(['run', '-d', '--name', 'hof-berth', '--stop-timeout', '1', ...fast, '--health-retries', '1', '--health-cmd', 'test -e /tmp/ok',
      '--health-on-failure', 'restart', 'busybox', ...cmd]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(inspect('hof-berth', '{{index .Config.Labels "berth.health-on-failure"}}'), 'restart');
    for (const name of ['hof-docker', 'hof-berth']) {
      await until(() => inspect(name, '{{.State.Health.Status}}') === 'healthy', 15_000, `${name} to be restarted and healthy`);
      const acts = actions(since, name);
      assert.ok(acts.includes('health_status: unhealthy') && acts.includes('restart'), acts.join(','));
      assert.equal(acts.filter((a) => a === 'start').length, 2, acts.join(','));
    }
    assert.notEqual(d.docker(['run', '-d', '--label', 'berth.health-on-failure=explode', 'busybox', 'true']).status, 0);
    ok(['rm', '-f', 'hof-docker', 'hof-berth']);
  });

  test('a probe over its timeout is killed and counts as a failure; health-on-failure=kill hands over to the restart policy', async () => {
    ok(['run', '-d', '--name', 'hc-slow', '--health-interval', '200ms', '--health-timeout', '300ms', '--health-retries', '1',
      '--health-cmd', 'sleep 5', 'busybox', 'sleep', '60']);
    await until(() => inspect('hc-slow', '{{.State.Health.Status}}') === 'unhealthy', 10_000, 'hc-slow to be unhealthy');
    const last = JSON.parse(inspect('hc-slow', '{{json .State.Health.Log}}'))[0];
    assert.deepEqual([last.ExitCode, last.Output], [-1, 'Health check exceeded timeout (300ms)']);
    assert.ok(Date.parse(last.End) - Date.parse(last.Start) < 2000, 'the probe was killed at its timeout');
    // One probe at a time, and none left behind: at most one `sleep 5` in the container.
    const probes = ok(['top', 'hc-slow', '-o', 'pid,args']).split('\n').filter((l) => /sleep 5$/.test(l.trim()));
    assert.ok(probes.length <= 1, probes.join('\n'));

    ok(['run', '-d', '--name', 'hof-kill', '--restart', 'on-failure:1', ...fast, '--health-retries', '1', '--health-cmd', 'exit 1',
      '--label', 'berth.health-on-failure=kill', 'busybox', 'sleep', '60']);
    await until(() => inspect('hof-kill', '{{.State.Status}} {{.RestartCount}}') === 'exited 1', 15_000, 'hof-kill killed, restarted once, killed again');
    assert.equal(inspect('hof-kill', '{{.State.ExitCode}}'), '137');
    ok(['run', '-d', '--name', 'hof-stop', '--restart', 'always', '--stop-timeout', '1', ...fast, '--health-retries', '1', '--health-cmd', 'exit 1',
      '--label', 'berth.health-on-failure=stop', 'busybox', 'sleep', '60']);
    await until(() => inspect('hof-stop', '{{.State.Status}}') === 'exited', 10_000, 'hof-stop to be stopped');
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(inspect('hof-stop', '{{.State.Status}} {{.RestartCount}}'), 'exited 0', 'a health stop is a stop: always does not restart it');
    ok(['rm', '-f', 'hc-slow', 'hof-kill', 'hof-stop']);
  });

  test('--restart on-failure:2 restarts exactly twice', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    ok(['run', '-d', '--name', 'rp-fail', '--restart', 'on-failure:2', 'busybox', 'sh', '-c', 'exit 3']);
    await until(() => inspect('rp-fail', '{{.State.Status}} {{.RestartCount}}') === 'exited 2', 10_000, 'two restarts then exited');
    assert.equal(inspect('rp-fail', '{{.State.ExitCode}}'), '3');
    assert.equal(actions(since, 'rp-fail').filter((a) => a === 'start').length, 3);
    assert.equal(actions(since, 'rp-fail').filter((a) => a === 'restart').length, 2);
    // A zero exit is not a failure.
    ok(['run', '-d', '--name', 'rp-zero', '--restart', 'on-failure', 'busybox', 'true']);
    await until(() => inspect('rp-zero', '{{.State.Status}}') === 'exited', 10_000, 'rp-zero to exit');
    assert.equal(inspect('rp-zero', '{{.RestartCount}}'), '0');
    assert.notEqual(d.docker(['run', '-d', '--restart', 'always', '--rm', 'busybox', 'true']).status, 0);
    ok(['rm', '-f', 'rp-fail', 'rp-zero']);
  });

  test('--restart always restarts after an exit, not after docker stop', async () => {
    ok(['run', '-d', '--name', 'rp-always', '--restart', 'always', 'busybox', 'sh', '-c', 'if [ -e /tmp/once ]; then exec sleep 60; fi; touch /tmp/once; exit 0']);
    await until(() => inspect('rp-always', '{{.State.Status}} {{.RestartCount}}') === 'running 1', 10_000, 'one restart');
    ok(['stop', '-t', '1', 'rp-always']);
    assert.equal(inspect('rp-always', '{{.State.Status}}'), 'exited');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(inspect('rp-always', '{{.State.Status}} {{.RestartCount}}'), 'exited 1');
    // A restart loop shows `restarting` in between and can be stopped.
    ok(['run', '-d', '--name', 'rp-loop', '--restart', 'always', 'busybox', 'false']);
    await until(() => Number(inspect('rp-loop', '{{.RestartCount}}')) >= 3, 10_000, 'a few restarts');
    assert.equal((await d.api('GET', '/_ping')).status, 200);
    ok(['stop', '-t', '1', 'rp-loop']);
    const count = inspect('rp-loop', '{{.RestartCount}}');
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(inspect('rp-loop', '{{.State.Status}} {{.RestartCount}}'), `exited ${count}`);
    ok(['rm', '-f', 'rp-always', 'rp-loop']);
  });

  test('unless-stopped comes back after berthd kill -9 + restart; a stopped one stays stopped', async () => {
    const wait = 'while [ ! -e /go ]; do sleep 0.05; done; exit 0';
    ok(['run', '-d', '--name', 'us-run', '--restart', 'unless-stopped', 'busybox', 'sh', '-c', `if [ -e /go ]; then exec sleep 60; fi; ${wait}`]);
    ok(['run', '-d', '--name', 'us-stopped', '--restart', 'unless-stopped', 'busybox', 'sleep', '60']);
    ok(['run', '-d', '--name', 'al-stopped', '--restart', 'always', 'busybox', 'sleep', '60']);
    ok(['stop', '-t', '1', 'us-stopped', 'al-stopped']);
    const pid = Number(inspect('us-run', '{{.State.Pid}}'));
    await d.kill();
    // The process exits while berthd is away (as on a host reboot).
    writeFileSync(`/proc/${pid}/root/go`, '');
    await until(() => !alive(pid), 5000, 'us-run to exit while berthd is down');
    await d.restart();
    await until(() => inspect('us-run', '{{.State.Status}}') === 'running' && Number(inspect('us-run', '{{.State.Pid}}')) !== pid, 10_000, 'us-run to be started again');
    assert.equal(inspect('us-stopped', '{{.State.Status}}'), 'exited');
    // Docker's difference between the two: `always` comes back at daemon start even after a stop.
    await until(() => inspect('al-stopped', '{{.State.Status}}') === 'running', 10_000, 'al-stopped to be started at boot');
    ok(['rm', '-f', 'us-run', 'us-stopped', 'al-stopped']);
  });
});

function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`timed out waiting for ${what}`);
}
