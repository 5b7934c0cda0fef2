import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Daemon, startDaemon } from './harness';

// The real docker CLI (28.x) against berthd: the acceptance of the engine-core issue.
describe('docker CLI against berthd', () => {
  let d: Daemon;
  before(async () => { d = await startDaemon(); });
  after(async () => { await d?.stop(); });

  const ok = (args: string[], input?: string) => {
    const r = d.docker(args, { input });
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };

  test('version and info answer', () => {
    assert.match(ok(['version', '--format', '{{.Server.APIVersion}}']), /^1\.50\n$/);
    assert.match(ok(['info', '--format', '{{.OSType}} {{.CgroupDriver}}']), /^linux cgroupfs/);
  });

  test('run --rm prints output and passes exit codes through', () => {
    assert.equal(ok(['run', '--rm', 'busybox', 'echo', 'hello world']), 'hello world\n');
    const r = d.docker(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(r.status, 3);
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(ok(['ps', '-aq']), '', 'run --rm leaves no container behind');
  });

  test('a command missing from the image exits 127, a non-executable 126, a bad flag 125', () => {
    const missing = d.docker(['run', '--rm', 'busybox', 'no-such-command']);
    assert.equal(missing.status, 127, missing.stderr);
    const notExec = d.docker(['run', '--rm', 'busybox', '/etc/passwd']);
    assert.equal(notExec.status, 126, notExec.stderr);
    assert.equal(d.docker(['run', '--rm', 'busybox', '/tmp']).status, 126);
    assert.equal(d.docker(['run', '--rm', 'busybox', '/no/such/path']).status, 127);
    assert.equal(d.docker(['ps', '-aq']).stdout, '', 'failed --rm containers are removed');
    assert.equal(d.docker(['run', '--no-such-flag', 'busybox']).status, 125);
    const noImage = d.docker(['run', '--rm', 'nonexistent-image-xyz']);
    assert.equal(noImage.status, 125);
  });

  test('-i passes stdin; -e, -w, -u, -h, --entrypoint, --add-host, labels', () => {
    assert.equal(ok(['run', '--rm', '-i', 'busybox', 'sh', '-c', 'tr a-z A-Z'], 'piped text\n'), 'PIPED TEXT\n');
    assert.equal(ok(['run', '--rm', '-e', 'FOO=bar', 'busybox', 'sh', '-c', 'echo $FOO']), 'bar\n');
    assert.equal(ok(['run', '--rm', '-w', '/made/here', 'busybox', 'pwd']), '/made/here\n');
    assert.match(ok(['run', '--rm', '-u', '1000:1000', 'busybox', 'id']), /^uid=1000\(user\) gid=1000\(user\)/);
    assert.equal(ok(['run', '--rm', '-u', 'nobody', 'busybox', 'id', '-u']), '65534\n');
    assert.equal(ok(['run', '--rm', '-h', 'myhost', 'busybox', 'hostname']), 'myhost\n');
    assert.equal(ok(['run', '--rm', '--entrypoint', 'echo', 'busybox', 'via', 'entrypoint']), 'via entrypoint\n');
    assert.match(ok(['run', '--rm', '--add-host', 'db.local:10.9.8.7', 'busybox', 'cat', '/etc/hosts']), /10\.9\.8\.7\tdb\.local/);
    const envFile = join(d.execRoot, 'env.list');
    writeFileSync(envFile, 'A=1\n# comment\nB=two\n');
    assert.equal(ok(['run', '--rm', '--env-file', envFile, 'busybox', 'sh', '-c', 'echo $A$B']), '1two\n');
  });

  test('security defaults: caps, no-new-privileges, read-only rootfs, tmpfs, seccomp, privileged', () => {
    const caps = ok(['run', '--rm', 'busybox', 'grep', 'CapEff', '/proc/self/status']);
    assert.match(caps, /CapEff:\s+00000000a80425fb/);
    const dropped = ok(['run', '--rm', '--cap-drop', 'ALL', 'busybox', 'grep', 'CapEff', '/proc/self/status']);
    assert.match(dropped, /CapEff:\s+0000000000000000/);
    const added = ok(['run', '--rm', '--cap-add', 'NET_ADMIN', 'busybox', 'grep', 'CapEff', '/proc/self/status']);
    assert.match(added, /CapEff:\s+00000000a80435fb/);
    assert.match(ok(['run', '--rm', 'busybox', 'grep', 'Seccomp:', '/proc/self/status']), /Seccomp:\s+2/);
    assert.match(ok(['run', '--rm', '--security-opt', 'no-new-privileges', 'busybox', 'grep', 'NoNewPrivs', '/proc/self/status']), /NoNewPrivs:\s+1/);
    const ro = d.docker(['run', '--rm', '--read-only', 'busybox', 'touch', '/x']);
    assert.notEqual(ro.status, 0);
    assert.match(ro.stderr, /Read-only file system/);
    assert.equal(ok(['run', '--rm', '--read-only', '--tmpfs', '/scratch', 'busybox', 'sh', '-c', 'echo hi > /scratch/f && cat /scratch/f']), 'hi\n');
    // Privileged gets every capability berthd itself holds (this host withholds CAP_SYS_RESOURCE).
    const bounding = readFileSync('/proc/self/status', 'utf8').match(/CapBnd:\s+(\w+)/)![1];
    assert.match(ok(['run', '--rm', '--privileged', 'busybox', 'grep', 'CapEff', '/proc/self/status']), new RegExp(`CapEff:\\s+${bounding}`));
    assert.match(ok(['run', '--rm', '--network', 'none', 'busybox', 'cat', '/proc/net/dev']), /lo:/);
  });

  test('--runtime picks crun or runc per container', () => {
    assert.equal(ok(['run', '--rm', '--runtime', 'runc', 'busybox', 'echo', 'via runc']), 'via runc\n');
    assert.equal(ok(['run', '--rm', '--runtime', 'crun', 'busybox', 'echo', 'via crun']), 'via crun\n');
    const id = ok(['run', '-d', '--runtime', 'runc', 'busybox', 'sleep', '30']).trim();
    assert.equal(ok(['inspect', '-f', '{{.HostConfig.Runtime}}', id]).trim(), 'runc');
    assert.equal(ok(['exec', id, 'echo', 'exec under runc']), 'exec under runc\n');
    ok(['rm', '-f', id]);
    assert.equal(ok(['inspect', '-f', '{{.HostConfig.Runtime}}', ok(['create', 'busybox']).trim()]).trim(), 'crun');
    assert.equal(d.docker(['run', '--rm', '--runtime', 'nope', 'busybox', 'true']).status, 125);
    ok(['container', 'prune', '-f']);
  });

  test('--init runs an init as PID 1', () => {
    const out = ok(['run', '--rm', '--init', 'busybox', 'ps', '-o', 'pid,comm']);
    assert.match(out, /^\s*1\s+(docker-init|tini|catatonit)/m);
  });

  test('detached lifecycle: ps, logs, exec, stop, start, restart, pause, kill, rename, wait, rm', () => {
    const id = ok(['run', '-d', '--name', 'life', '-l', 'app=web', 'busybox', 'sh', '-c', 'trap "exit 0" TERM; echo started; echo oops >&2; while true; do sleep 0.1; done']).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.match(ok(['ps']), /life/);
    assert.equal(ok(['ps', '-q', '--filter', 'label=app=web']).trim(), id.slice(0, 12));
    assert.equal(ok(['ps', '-q', '--filter', 'label=app=db']), '');
    assert.equal(ok(['ps', '--format', '{{.Names}} {{.Status}}']).split(' ')[0], 'life');
    waitFor(() => ok(['logs', 'life']).includes('started'));
    const logs = d.docker(['logs', 'life']);
    assert.equal(logs.stdout, 'started\n');
    assert.equal(logs.stderr, 'oops\n');
    assert.equal(ok(['exec', 'life', 'echo', 'in-exec']), 'in-exec\n');
    assert.equal(d.docker(['exec', 'life', 'sh', '-c', 'exit 7']).status, 7);
    assert.equal(d.docker(['exec', 'life', 'no-such-command']).status, 127);
    assert.equal(d.docker(['exec', '-t', 'life', 'no-such-command']).status, 127);
    assert.equal(d.docker(['exec', 'life', '/etc/passwd']).status, 126);
    assert.equal(ok(['exec', '-e', 'X=y', '-w', '/tmp', '-u', '1000', 'life', 'sh', '-c', 'echo $X $(pwd) $(id -u)']), 'y /tmp 1000\n');
    assert.equal(ok(['exec', '-i', 'life', 'cat'], 'stdin to exec\n'), 'stdin to exec\n');
    ok(['exec', '-d', 'life', 'sh', '-c', 'echo detached > /tmp/d']);
    waitFor(() => d.docker(['exec', 'life', 'cat', '/tmp/d']).stdout === 'detached\n');
    const top = ok(['top', 'life']);
    assert.match(top, /PID/);
    assert.match(top, /sleep|sh -c/);
    ok(['pause', 'life']);
    assert.equal(ok(['inspect', '-f', '{{.State.Status}}', 'life']).trim(), 'paused');
    assert.notEqual(d.docker(['exec', 'life', 'true']).status, 0);
    ok(['unpause', 'life']);
    ok(['stop', 'life']);
    assert.equal(ok(['inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', 'life']).trim(), 'exited 0');
    assert.equal(ok(['ps', '-aq', '--filter', 'exited=0']).trim(), id.slice(0, 12));
    ok(['start', 'life']);
    assert.equal(ok(['inspect', '-f', '{{.State.Running}}', 'life']).trim(), 'true');
    ok(['restart', '-t', '1', 'life']);
    assert.equal(ok(['inspect', '-f', '{{.State.Running}}', 'life']).trim(), 'true');
    ok(['rename', 'life', 'life2']);
    const rmRunning = d.docker(['rm', 'life2']);
    assert.equal(rmRunning.status, 1);
    assert.match(rmRunning.stderr, /running/);
    ok(['kill', '-s', 'KILL', 'life2']);
    assert.equal(ok(['wait', 'life2']).trim(), '137');
    ok(['rm', 'life2']);
    assert.equal(d.docker(['inspect', 'life2']).status, 1);
  });

  test('name conflicts and unknown containers are Docker errors', () => {
    ok(['create', '--name', 'taken', 'busybox']);
    const again = d.docker(['create', '--name', 'taken', 'busybox']);
    assert.equal(again.status, 1, 'docker create passes API errors through with exit 1');
    assert.match(again.stderr, /Conflict\. The container name "\/taken" is already in use/);
    const runAgain = d.docker(['run', '--name', 'taken', 'busybox']);
    assert.equal(runAgain.status, 125, 'docker run exits 125 when the daemon refuses');
    assert.match(again.stderr, /Conflict\. The container name "\/taken" is already in use/);
    ok(['rm', 'taken']);
    const missing = d.docker(['stop', 'no-such-container']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /No such container: no-such-container/);
  });

  test('create + start -a, logs --tail/--since/-t, diff, cp both ways, export, commit', () => {
    ok(['create', '--name', 'files', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5; do echo line$i; done; echo data > /created.txt; rm /etc/group']);
    assert.equal(ok(['start', '-a', 'files']), 'line1\nline2\nline3\nline4\nline5\n');
    assert.equal(ok(['logs', '--tail', '2', 'files']), 'line4\nline5\n');
    assert.match(ok(['logs', '-t', 'files']).split('\n')[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z line1$/);
    assert.equal(ok(['logs', '--since', '2099-01-01T00:00:00Z', 'files']), '');
    const diff = ok(['diff', 'files']);
    assert.match(diff, /^A \/created\.txt$/m);
    assert.match(diff, /^D \/etc\/group$/m);
    const tmp = mkdtempSync('/tmp/berth-cp-');
    try {
      ok(['cp', 'files:/created.txt', join(tmp, 'out.txt')]);
      assert.equal(readFileSync(join(tmp, 'out.txt'), 'utf8'), 'data\n');
      writeFileSync(join(tmp, 'in.txt'), 'into the container\n');
      ok(['cp', join(tmp, 'in.txt'), 'files:/in.txt']);
      ok(['cp', 'files:/in.txt', join(tmp, 'back.txt')]);
      assert.equal(readFileSync(join(tmp, 'back.txt'), 'utf8'), 'into the container\n');
      ok(['export', '-o', join(tmp, 'fs.tar'), 'files']);
      assert.ok(existsSync(join(tmp, 'fs.tar')));
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const imgId = ok(['commit', '-c', 'CMD ["cat", "/created.txt"]', '-m', 'a message', 'files', 'committed:v1']).trim();
    assert.match(imgId, /^sha256:[0-9a-f]{64}$/);
    assert.equal(ok(['run', '--rm', 'committed:v1']), 'data\n');
    assert.equal(d.docker(['run', '--rm', 'committed:v1', 'cat', '/etc/group']).status, 1);
    assert.match(ok(['history', 'committed:v1']), /a message/);
    ok(['rm', 'files']);
    ok(['rmi', 'committed:v1']);
  });

  test('images: tag, images filters, inspect, rmi conflicts, save/load round trip, prune', () => {
    ok(['tag', 'busybox', 'mybox:1']);
    const list = ok(['images', '--format', '{{.Repository}}:{{.Tag}}']);
    assert.match(list, /^busybox:latest$/m);
    assert.match(list, /^mybox:1$/m);
    assert.equal(ok(['images', '-q', '--filter', 'reference=mybox']).trim().length, 12);
    assert.match(ok(['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}}', 'mybox:1']), /^linux\//);
    const c = ok(['create', 'mybox:1']).trim();
    const conflict = d.docker(['rmi', 'busybox']);
    assert.equal(conflict.status, 0, 'untagging one of two tags is allowed');
    ok(['tag', 'mybox:1', 'busybox:latest']);
    const inUse = d.docker(['rmi', ok(['images', '-q', 'busybox']).trim()]);
    assert.equal(inUse.status, 1);
    assert.match(inUse.stderr, /conflict/);
    ok(['rm', c]);
    const tmp = mkdtempSync('/tmp/berth-save-');
    try {
      ok(['save', '-o', join(tmp, 'img.tar'), 'mybox:1']);
      ok(['rmi', 'mybox:1']);
      assert.match(ok(['load', '-i', join(tmp, 'img.tar')]), /Loaded image: mybox:1/);
      assert.equal(ok(['run', '--rm', 'mybox:1', 'echo', 'loaded']), 'loaded\n');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    ok(['rmi', 'mybox:1']);
    const missing = d.docker(['rmi', 'no-such:image']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /No such image/);
    ok(['image', 'prune', '-f']);
  });

  test('--stop-signal and --stop-timeout drive docker stop', () => {
    const id = ok(['run', '-d', '--stop-signal', 'SIGUSR1', '--stop-timeout', '5', 'busybox', 'sh', '-c', 'trap "exit 5" USR1; while true; do sleep 0.1; done']).trim();
    waitFor(() => ok(['top', id]).includes('sleep'));
    ok(['stop', id]);
    assert.equal(ok(['inspect', '-f', '{{.State.ExitCode}}', id]).trim(), '5');
    // A process that ignores the stop signal is killed after the timeout.
    const stubborn = ok(['run', '-d', '--stop-timeout', '1', 'busybox', 'sh', '-c', 'trap "" TERM; while true; do sleep 0.1; done']).trim();
    waitFor(() => ok(['top', stubborn]).includes('sleep'));
    ok(['stop', stubborn]);
    assert.equal(ok(['inspect', '-f', '{{.State.ExitCode}}', stubborn]).trim(), '137');
    ok(['rm', id, stubborn]);
  });

  test('cp with tar streams on stdin and stdout', () => {
    const id = ok(['create', 'busybox']).trim();
    const tmp = mkdtempSync('/tmp/berth-cptar-');
    try {
      writeFileSync(join(tmp, 'a.txt'), 'from a tar stream\n');
      const tar = spawnSync('tar', ['-C', tmp, '-cf', '-', 'a.txt']).stdout;
      const put = d.docker(['cp', '-', `${id}:/tmp`], { input: tar });
      assert.equal(put.status, 0, put.stderr);
      const got = spawnSync('docker', ['cp', `${id}:/tmp/a.txt`, '-'], { env: d.env });
      assert.equal(got.status, 0);
      const listed = spawnSync('tar', ['-tvf', '-'], { input: got.stdout, encoding: 'utf8' });
      assert.match(listed.stdout, /a\.txt/);
      const content = spawnSync('tar', ['-xOf', '-'], { input: got.stdout, encoding: 'utf8' });
      assert.equal(content.stdout, 'from a tar stream\n');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
      ok(['rm', id]);
    }
  });

  test('container prune removes stopped containers only', () => {
    ok(['create', '--name', 'stopped1', 'busybox']);
    const running = ok(['run', '-d', 'busybox', 'sleep', '60']).trim();
    const out = ok(['container', 'prune', '-f']);
    assert.match(out, /Deleted Containers:/);
    assert.equal(d.docker(['inspect', 'stopped1']).status, 1);
    assert.equal(ok(['inspect', '-f', '{{.State.Running}}', running]).trim(), 'true');
    ok(['rm', '-f', running]);
  });

  test('malformed requests get Docker-shaped errors', async () => {
    const bad = await d.api('POST', '/v1.50/containers/create', '{not json');
    assert.equal(bad.status, 400);
    assert.ok(JSON.parse(bad.body).message);
    const badRef = await d.api('POST', '/v1.50/containers/create', { Image: 'UPPER/Case' });
    assert.equal(badRef.status, 400);
    const old = await d.api('GET', '/v1.12/containers/json');
    assert.equal(old.status, 400);
    const unknown = await d.api('GET', '/v1.50/nope');
    assert.equal(unknown.status, 404);
    const unversioned = await d.api('GET', '/containers/json');
    assert.equal(unversioned.status, 200);
    const ping = await d.api('HEAD', '/_ping');
    assert.equal(ping.headers['api-version'], '1.50');
  });
});

function waitFor(cond: () => boolean, ms = 5000): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
  assert.fail('condition not met in time');
}
