import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { conmonsUnder, Daemon, startDaemon } from './harness';

// berthd dies (kill -9, or a clean SIGTERM) and comes back: conmon keeps the containers, and the
// new berthd picks up what happened meanwhile, as dockerd does with live-restore.
describe('berthd restart keeps containers (live-restore)', () => {
  let d: Daemon;
  before(async () => { d = await startDaemon(); });
  after(async () => {
    const root = d?.dataRoot;
    const execRoot = d?.execRoot;
    await d?.stop();
    if (root && execRoot) {
      await until(() => conmonsUnder(root).length === 0 && conmonsUnder(execRoot).length === 0, 5000, 'conmon processes to exit');
    }
  });

  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const inspect = (ref: string, format: string) => ok(['inspect', '-f', format, ref]).trim();

  for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
    test(`after ${signal}: running containers keep running, exits while down are picked up`, async () => {
      const tag = signal.toLowerCase();
      // A ticker (stops at once on TERM), one that exits 3 while berthd is down, and an --rm one.
      ok(['run', '-d', '--name', `tick-${tag}`, 'busybox', 'sh', '-c',
        'trap "exit 0" TERM; i=0; while true; do i=$((i+1)); echo tick$i; sleep 0.1; done']);
      ok(['run', '-d', '--name', `exit3-${tag}`, 'busybox', 'sh', '-c', 'while [ ! -e /go ]; do sleep 0.05; done; exit 3']);
      ok(['run', '-d', '--rm', '--name', `rm-${tag}`, 'busybox', 'sh', '-c', 'while [ ! -e /go ]; do sleep 0.05; done; exit 0']);
      ok(['run', '-d', '--name', `late-${tag}`, 'busybox', 'sh', '-c', 'while [ ! -e /go ]; do sleep 0.05; done; exit 5']);
      ok(['run', '-d', '--rm', '--name', `rmlate-${tag}`, 'busybox', 'sh', '-c', 'while [ ! -e /go ]; do sleep 0.05; done; exit 1']);
      const latePid = Number(inspect(`late-${tag}`, '{{.State.Pid}}'));
      const rmLatePid = Number(inspect(`rmlate-${tag}`, '{{.State.Pid}}'));
      const tickPid = Number(inspect(`tick-${tag}`, '{{.State.Pid}}'));
      const exitPid = Number(inspect(`exit3-${tag}`, '{{.State.Pid}}'));
      const rmPid = Number(inspect(`rm-${tag}`, '{{.State.Pid}}'));
      assert.ok(tickPid > 0 && exitPid > 0 && rmPid > 0);

      await d.kill(signal);
      assert.ok(alive(tickPid), 'the container outlives berthd');
      // Let two containers exit while berthd is down (conmon writes their exit files).
      touchInContainer(exitPid, '/go');
      touchInContainer(rmPid, '/go');
      await until(() => !alive(exitPid) && !alive(rmPid), 5000, 'containers to exit while berthd is down');
      const since = Math.floor(Date.now() / 1000) - 1;
      await d.restart();

      assert.equal(inspect(`tick-${tag}`, '{{.State.Status}} {{.State.Pid}}'), `running ${tickPid}`);
      assert.match(ok(['ps', '--format', '{{.Names}}']), new RegExp(`^tick-${tag}$`, 'm'));
      const psA = ok(['ps', '-a', '--format', '{{.Names}}|{{.Status}}']);
      assert.match(psA, new RegExp(`^exit3-${tag}\\|Exited \\(3\\) `, 'm'));
      assert.equal(inspect(`exit3-${tag}`, '{{.State.ExitCode}}'), '3');
      assert.equal(ok(['wait', `exit3-${tag}`]).trim(), '3');
      // --rm containers that exited while berthd was down are removed after the restart.
      await until(() => d.docker(['inspect', `rm-${tag}`]).status === 1, 5000, `rm-${tag} to be removed`);

      // logs -f started after the restart keeps receiving lines written after it.
      const follow = await followLogs(d, `tick-${tag}`);
      try {
        const seen = await follow.waitFor((lines) => lines.length > 0, 'first log line');
        const first = Number(/tick(\d+)/.exec(seen.at(-1)!)![1]);
        await follow.waitFor((lines) => lines.some((l) => Number(/tick(\d+)/.exec(l)?.[1]) >= first + 5), 'new log lines after restart');
      } finally {
        follow.close();
      }

      assert.equal(ok(['exec', `tick-${tag}`, 'echo', 'exec-ok']), 'exec-ok\n');

      // Containers still running at the restart that exit afterwards: wait sees the code, --rm removes.
      const waiting = dockerAsync(d, ['wait', `late-${tag}`]);
      touchInContainer(latePid, '/go');
      touchInContainer(rmLatePid, '/go');
      assert.equal((await waiting).trim(), '5');
      assert.match(ok(['ps', '-a', '--format', '{{.Names}}|{{.Status}}']), new RegExp(`^late-${tag}\\|Exited \\(5\\) `, 'm'));
      await until(() => d.docker(['inspect', `rmlate-${tag}`]).status === 1, 5000, `rmlate-${tag} to be removed`);
      assert.equal(mountCount(`${d.dataRoot}/containers/${ok(['inspect', '-f', '{{.Id}}', `tick-${tag}`]).trim()}/rootfs`), 1,
        'the rootfs is mounted exactly once');

      // A second kill in a row must not double anything up either.
      await d.kill('SIGKILL');
      await d.restart();
      assert.equal(inspect(`tick-${tag}`, '{{.State.Status}} {{.State.Pid}}'), `running ${tickPid}`);

      ok(['stop', '-t', '5', `tick-${tag}`]);
      assert.equal(inspect(`tick-${tag}`, '{{.State.Status}} {{.State.ExitCode}}'), 'exited 0');
      assert.ok(!alive(tickPid));
      // One watcher per run: exactly one die event for the stop (duplicate watchers would report more).
      const events = ok(['events', '--since', String(since), '--until', String(Math.floor(Date.now() / 1000) + 1),
        '--filter', `container=tick-${tag}`, '--filter', 'event=die', '--format', '{{.Action}}']);
      assert.equal(events.trim().split('\n').filter(Boolean).length, 1, `die events: ${events}`);
      assert.equal(d.docker(['wait', `tick-${tag}`]).stdout.trim(), '0');

      ok(['rm', `tick-${tag}`, `exit3-${tag}`, `late-${tag}`]);
      assert.equal(ok(['ps', '-aq']), '');
      assert.deepEqual(conmonsUnder(d.execRoot), [], 'no conmon left for removed containers');
    });
  }

  test('a container started after a restart and stopped normally leaves nothing behind', async () => {
    await d.kill('SIGKILL');
    await d.restart();
    const id = ok(['run', '-d', 'busybox', 'sleep', '30']).trim();
    assert.equal(mountCount(`${d.dataRoot}/containers/${id}/rootfs`), 1);
    ok(['rm', '-f', id]);
    assert.equal(mountCount(`${d.dataRoot}/containers/${id}/rootfs`), 0);
    await until(() => conmonsUnder(d.execRoot).length === 0, 5000, 'conmon to exit');
  });
});

function alive(pid: number): boolean {
  try {
    // A zombie is dead for our purposes.
    return !/^\S+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** Creates a file in a container's root through its init process's view of /. */
function touchInContainer(pid: number, path: string): void {
  writeFileSync(`/proc/${pid}/root${path}`, '');
}

function mountCount(path: string): number {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((l) => l.split(' ')[4] === path).length;
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

/** Runs docker without blocking the event loop; resolves with stdout, rejects on failure. */
function dockerAsync(d: Daemon, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('docker', args, { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out); else reject(new Error(`docker ${args.join(' ')} exited ${code}: ${err}`));
    });
  });
}

/** `docker logs -f` in the background; waitFor polls the lines it printed so far. */
async function followLogs(d: Daemon, name: string) {
  const child = spawn('docker', ['logs', '-f', '--tail', '1', name], { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  const lines = () => out.split('\n').filter(Boolean);
  return {
    waitFor: async (cond: (l: string[]) => boolean, what: string): Promise<string[]> => {
      await until(() => cond(lines()), 8000, `${what} (got ${JSON.stringify(out.slice(-200))})`);
      return lines();
    },
    close: () => { if (child.exitCode === null) child.kill('SIGTERM'); },
  };
}
