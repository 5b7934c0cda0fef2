import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BERTHD, Daemon, dockerAsync, startDaemon } from './harness';

// Log drivers through the real docker CLI: json-file/local/none, --log-opt and Docker's errors,
// rotation by berth-logrotate (docs/logging.md) with docker logs across the rotated files, --tail
// and --since spanning them, -f across rotations, rotation going on while berthd is killed, and
// the daemon's defaults from flags and the config file.

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A shell loop printing `line N` plus padding (about 50 bytes a line), 20 lines every 20 ms
 * (~50 kB/s: a rotation at 10k takes ~0.2 s), `count` lines then `then`.
 */
function writer(count: number | 'forever', then = 'sleep 1000', first = 'true'): string[] {
  const cond = count === 'forever' ? 'true' : `[ $i -lt ${count} ]`;
  return ['sh', '-c', `${first}; i=0; while ${cond}; do echo "line $i ........................................"; i=$((i+1)); [ $((i % 20)) -eq 0 ] && usleep 20000; done; ${then}`];
}

/** The N of each `line N` in docker logs output. */
function numbers(out: string): number[] {
  return out.split('\n').filter(Boolean).map((l) => Number(/line (\d+)/.exec(l)?.[1] ?? NaN));
}

function assertContiguous(ns: number[], what: string): void {
  assert.ok(ns.length > 0, `${what}: no lines`);
  for (let i = 1; i < ns.length; i++) assert.equal(ns[i], ns[i - 1] + 1, `${what}: line ${ns[i - 1]} is followed by ${ns[i]}`);
}

describe('log drivers and rotation', () => {
  let d: Daemon;
  before(async () => { d = await startDaemon(); });
  after(async () => { await d?.stop(); });

  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const run = (args: string[]) => ok(['run', '-d', '--network', 'none', ...args]).trim();
  const dirOf = (id: string) => join(d.dataRoot, 'containers', id);
  /** The runtime's persist dir of a container (crun or runc, whichever runs it). */
  const persistOf = (id: string) => ['crun', 'runc'].map((r) => join(d.execRoot, r, 'persist', id)).find((p) => existsSync(p)) ?? '';
  /** The log files of a container (name -> bytes). */
  const logFiles = (id: string, sub = '') => Object.fromEntries(readdirSync(join(dirOf(id), sub))
    .filter((f) => f.includes('.log')).map((f) => [f, sizeOrZero(join(dirOf(id), sub, f))]));

  test('defaults: json-file with rotation on; inspect shows LogConfig and LogPath; docker info', () => {
    const id = run(['busybox', 'sh', '-c', 'echo out; echo err >&2; sleep 1000']);
    assert.deepEqual(JSON.parse(ok(['inspect', '-f', '{{json .HostConfig.LogConfig}}', id])), { Type: 'json-file', Config: {} });
    assert.equal(ok(['inspect', '-f', '{{.LogPath}}', id]).trim(), join(dirOf(id), `${id}-json.log`));
    assert.equal(ok(['info', '--format', '{{.LoggingDriver}}']).trim(), 'json-file');
    assert.match(ok(['info', '--format', '{{json .Plugins.Log}}']), /"json-file","local","none"/);
    const out = d.docker(['logs', id]);
    assert.equal(out.stdout, 'out\n');
    assert.equal(out.stderr, 'err\n');
    // the rotator watches this container: berth's default is 20m x 5
    const rotator = readFileSync(join(persistOf(id), 'log-rotate.json'), 'utf8');
    assert.deepEqual(JSON.parse(rotator).maxSize, 20_000_000);
    assert.deepEqual(JSON.parse(rotator).maxFiles, 5);
    ok(['rm', '-f', id]);
  });

  test('--log-driver and --log-opt as given; local keeps no LogPath', () => {
    const id = run(['--log-driver', 'local', '--log-opt', 'max-size=1m', '--log-opt', 'max-file=2', 'busybox', 'sh', '-c', 'echo local; sleep 1000']);
    assert.deepEqual(JSON.parse(ok(['inspect', '-f', '{{json .HostConfig.LogConfig}}', id])), { Type: 'local', Config: { 'max-size': '1m', 'max-file': '2' } });
    assert.equal(ok(['inspect', '-f', '{{.LogPath}}', id]).trim(), '');
    assert.equal(ok(['logs', id]), 'local\n');
    assert.ok(existsSync(join(dirOf(id), 'local-logs', 'container.log')));
    ok(['rm', '-f', id]);
  });

  test('bad input: Docker\'s errors, exit 125, nothing created', () => {
    const before = ok(['ps', '-aq']);
    const dirs = readdirSync(join(d.dataRoot, 'containers')).length;
    const cases: Array<[string[], RegExp]> = [
      [['--log-opt', 'foo=bar'], /unknown log opt 'foo' for json-file log driver/],
      [['--log-driver', 'local', '--log-opt', 'foo=bar'], /unknown log opt 'foo' for log driver local/],
      [['--log-driver', 'syslog'], /logger: no log driver named 'syslog' is registered/],
      [['--log-opt', 'max-size=abc'], /invalid size: 'abc'/],
      [['--log-opt', 'max-file=0'], /max-file cannot be less than 1/],
      [['--log-opt', 'compress=maybe'], /strconv.ParseBool: parsing "maybe": invalid syntax/],
      [['--log-driver', 'local', '--log-opt', 'max-file=1'], /compression cannot be enabled when max file count is 1/],
      [['--log-opt', 'mode=fast'], /logging mode not supported: fast/],
    ];
    for (const [flags, message] of cases) {
      const r = d.docker(['run', '--network', 'none', ...flags, 'busybox', 'true']);
      assert.equal(r.status, 125, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /^docker: Error response from daemon: /);
    }
    const created = d.docker(['create', '--log-opt', 'max-size=1x', 'busybox', 'true']);
    assert.equal(created.status, 1);
    assert.match(created.stderr, /invalid size: '1x'/);
    assert.equal(ok(['ps', '-aq']), before);
    assert.equal(readdirSync(join(d.dataRoot, 'containers')).length, dirs);
  });

  test('none: no log file, docker logs refuses as Docker does, attach still works', () => {
    const id = run(['--log-driver', 'none', 'busybox', 'sh', '-c', 'echo hi; sleep 1000']);
    const r = d.docker(['logs', id]);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, 'Error response from daemon: configured logging driver does not support reading\n');
    assert.deepEqual(readdirSync(dirOf(id)).filter((f) => f.includes('log')), []);
    assert.equal(ok(['inspect', '-f', '{{.HostConfig.LogConfig.Type}}:{{.LogPath}}', id]).trim(), 'none:');
    ok(['rm', '-f', id]);
    const attached = d.docker(['run', '--rm', '--network', 'none', '--log-driver', 'none', 'busybox', 'sh', '-c', 'echo one; seq 1 200 | tail -1; echo two >&2']);
    assert.equal(attached.status, 0);
    assert.equal(attached.stdout, 'one\n200\n');
    assert.equal(attached.stderr, 'two\n');
  });

  test('rotation keeps max-file files of about max-size; docker logs reads across them; --tail and --since span files', async () => {
    const id = run(['--log-opt', 'max-size=10k', '--log-opt', 'max-file=3', 'busybox', ...writer(2000)]);
    await until(() => d.docker(['logs', '--tail', '1', id]).stdout.includes('line 1999 '), 60_000, 'the writer to finish');
    await sleep(300);
    const files = logFiles(id);
    assert.deepEqual(Object.keys(files).sort(), [`${id}-json.log`, `${id}-json.log.1`, `${id}-json.log.2`], JSON.stringify(files));
    for (const [f, size] of Object.entries(files)) assert.ok(size < 20_000, `${f} is ${size} bytes`);
    const all = numbers(ok(['logs', id]));
    assertContiguous(all, 'docker logs');
    assert.equal(all.at(-1), 1999);
    assert.ok(all.length < 1000, `${all.length} lines kept: rotation dropped the oldest`);
    // --tail longer than the live file
    const live = readFileSync(join(dirOf(id), `${id}-json.log`), 'utf8').split('\n').filter(Boolean).length;
    const tail = numbers(ok(['logs', '--tail', String(live + 50), id]));
    assert.deepEqual(tail, all.slice(-(live + 50)));
    // --since a line of the oldest file (timestamps from docker logs -t)
    const stamped = ok(['logs', '-t', id]).split('\n').filter(Boolean);
    const pick = stamped[Math.floor(stamped.length / 10)];
    const since = numbers(ok(['logs', '--since', pick.split(' ')[0], id]));
    assert.equal(since[0] <= numbers(pick)[0] && since[0] >= numbers(pick)[0] - 20, true, `--since ${pick} starts at ${since[0]}`);
    assert.equal(since.at(-1), 1999);
    ok(['rm', '-f', id]);
  });

  test('local: rotated files are compressed and read back in order', async () => {
    const id = run(['--log-driver', 'local', '--log-opt', 'max-size=10k', '--log-opt', 'max-file=4', 'busybox', ...writer(1500)]);
    await until(() => d.docker(['logs', '--tail', '1', id]).stdout.includes('line 1499 '), 60_000, 'the writer to finish');
    await sleep(300);
    const files = Object.keys(logFiles(id, 'local-logs')).sort();
    assert.deepEqual(files, ['container.log', 'container.log.1.gz', 'container.log.2.gz', 'container.log.3.gz']);
    const first = gunzipSync(readFileSync(join(dirOf(id), 'local-logs', 'container.log.3.gz'))).toString();
    assert.match(first, /^\S+ stdout F line \d+ /);
    const all = numbers(ok(['logs', id]));
    assertContiguous(all, 'docker logs');
    assert.equal(all.at(-1), 1499);
    ok(['rm', '-f', id]);
  });

  test('logs -f follows across rotations without losing or repeating a line', async () => {
    // A follower more than the kept files behind loses what rotation removed (so does dockerd's):
    // 32k x 3 files hold ~0.6 s of this writer, room for a loaded host; 1200 lines rotate 4 times.
    const id = run(['--log-opt', 'max-size=32k', '--log-opt', 'max-file=3', 'busybox', ...writer(1200, 'exit 0', 'sleep 1')]);
    const followed = await dockerAsync(d, ['logs', '-f', id], 60_000);
    assert.equal(followed.code, 0, followed.stderr);
    const ns = numbers(followed.stdout);
    assertContiguous(ns, 'docker logs -f');
    assert.deepEqual([ns[0], ns.at(-1)], [0, 1199]);
    // -f --tail starts at the end and goes on
    const id2 = run(['--log-opt', 'max-size=32k', '--log-opt', 'max-file=3', 'busybox', ...writer(600, 'exit 0', 'sleep 1')]);
    const tailed = await dockerAsync(d, ['logs', '-f', '--tail', '5', id2], 60_000);
    const ns2 = numbers(tailed.stdout);
    assertContiguous(ns2, 'docker logs -f --tail 5');
    assert.equal(ns2.at(-1), 599);
    ok(['rm', '-f', id, id2]);
  });

  test('berthd killed while a container logs: rotation keeps its limits, logs go on, then read after the restart', async () => {
    const id = run(['--log-opt', 'max-size=10k', '--log-opt', 'max-file=3', 'busybox', ...writer('forever')]);
    await sleep(500);
    await d.kill();
    const path = join(dirOf(id), `${id}-json.log`);
    const lastLine = () => numbers(readFileSync(path, 'utf8').trim().split('\n').at(-1) ?? '')[0];
    await until(() => sizeOrZero(path) > 0, 5_000, 'the live log');
    const before = lastLine();
    let maxTotal = 0;
    for (let i = 0; i < 20; i++) {
      await sleep(100);
      const files = readdirSync(dirOf(id)).filter((f) => f.startsWith(`${id}-json.log`));
      assert.ok(files.length <= 3, `files while berthd is down: ${files.join(', ')}`);
      maxTotal = Math.max(maxTotal, files.reduce((n, f) => n + sizeOrZero(join(dirOf(id), f)), 0));
    }
    assert.ok(maxTotal < 3 * 20_000, `${maxTotal} bytes of logs kept while berthd was down`);
    await until(() => sizeOrZero(path) > 0, 5_000, 'the live log');
    assert.ok(lastLine() > before + 500, `the container went on logging (line ${before} -> ${lastLine()})`);
    await d.restart();
    const all = numbers(ok(['logs', id]));
    assertContiguous(all, 'docker logs after the restart');
    assert.ok(all.at(-1)! > before + 500);
    // the rotator berthd finds alive is kept; one that died is started again
    const pidFile = join(persistOf(id), 'logrotate.pid');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    process.kill(pid, 'SIGKILL');
    await d.kill();
    await d.restart();
    await until(() => Number(readFileSync(pidFile, 'utf8')) !== pid, 5_000, 'a new rotator');
    await sleep(1000);
    const files = readdirSync(dirOf(id)).filter((f) => f.startsWith(`${id}-json.log`));
    assert.ok(files.length <= 3, files.join(', '));
    for (const f of files) assert.ok(statSync(join(dirOf(id), f)).size < 20_000, `${f}: ${statSync(join(dirOf(id), f)).size}`);
    const last = Number(readFileSync(pidFile, 'utf8'));
    ok(['rm', '-f', id]);
    await until(() => { try { process.kill(last, 0); return false; } catch { return true; } }, 5_000, 'the rotator to exit with its container');
  });
});

describe('daemon log defaults', () => {
  test('--log-driver/--log-opt flags set the default; the config file too; bad defaults stop berthd', async () => {
    const d = await startDaemon({ args: ['--log-driver', 'local', '--log-opt', 'max-size=5k', '--log-opt', 'max-file=2'] });
    try {
      assert.equal(d.docker(['info', '--format', '{{.LoggingDriver}}']).stdout.trim(), 'local');
      const id = d.docker(['create', 'busybox', 'true']).stdout.trim();
      assert.deepEqual(JSON.parse(d.docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', id]).stdout), { Type: 'local', Config: { 'max-size': '5k', 'max-file': '2' } });
      const own = d.docker(['create', '--log-opt', 'max-file=3', 'busybox', 'true']).stdout.trim();
      assert.deepEqual(JSON.parse(d.docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', own]).stdout), { Type: 'local', Config: { 'max-size': '5k', 'max-file': '3' } });
      const other = d.docker(['create', '--log-driver', 'json-file', 'busybox', 'true']).stdout.trim();
      assert.deepEqual(JSON.parse(d.docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', other]).stdout), { Type: 'json-file', Config: {} });
    } finally {
      await d.stop();
    }
    const dir = mkdtempSync('/tmp/berth-logcfg-');
    const config = join(dir, 'daemon.json');
    writeFileSync(config, JSON.stringify({ 'log-driver': 'json-file', 'log-opts': { 'max-size': '7k', 'max-file': '4' } }));
    const d2 = await startDaemon({ args: ['--config-file', config] });
    try {
      const id = d2.docker(['create', 'busybox', 'true']).stdout.trim();
      assert.deepEqual(JSON.parse(d2.docker(['inspect', '-f', '{{json .HostConfig.LogConfig}}', id]).stdout), { Type: 'json-file', Config: { 'max-size': '7k', 'max-file': '4' } });
    } finally {
      await d2.stop();
    }
    writeFileSync(config, JSON.stringify({ 'log-opts': { foo: 'bar' } }));
    for (const args of [['--log-opt', 'foo=bar'], ['--log-driver', 'syslog'], ['--config-file', config]]) {
      const r = spawnSync(process.execPath, [BERTHD, '--data-root', dir, '--exec-root', dir, '-H', `unix://${dir}/s.sock`, ...args], { encoding: 'utf8', timeout: 10_000 });
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, /failed to set log opts: (unknown log opt 'foo' for json-file log driver|logger: no log driver named 'syslog' is registered)/);
    }
    rmSync(dir, { recursive: true, force: true });
  });
});

/** A log file's size, 0 while a rotation has it renamed and not yet reopened (it may vanish between a look and a stat). */
function sizeOrZero(path: string): number {
  try { return statSync(path).size; } catch (e) { if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0; throw e; }
}
