import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BERTH, Daemon, startDaemon } from './harness';

// Our berth CLI against berthd, end to end. Where docker's output is deterministic, the berth output
// for the same daemon is compared with the real docker CLI's, byte for byte or column for column.
describe('berth CLI against berthd', () => {
  let d: Daemon;
  let tmp: string;
  before(async () => {
    d = await startDaemon();
    tmp = mkdtempSync('/tmp/berth-cli-');
  });
  after(async () => {
    await d?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const ok = (args: string[], input?: string | Buffer) => {
    const r = d.berth(args, { input });
    assert.equal(r.status, 0, `berth ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const dockerOk = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  /** Runs both CLIs with the same arguments; asserts the same status, stdout and stderr (prog name aside). */
  const same = (args: string[], opts: { input?: string } = {}) => {
    const b = d.berth(args, opts), k = d.docker(args, opts);
    const norm = (s: string) => s.replace(/\bdocker\b/g, 'berth');
    assert.equal(b.status, k.status, `berth ${args.join(' ')}: status ${b.status} (docker ${k.status}): ${b.stderr}`);
    assert.equal(b.stdout, k.stdout, `berth ${args.join(' ')}: stdout`);
    assert.equal(b.stderr, norm(k.stderr), `berth ${args.join(' ')}: stderr`);
    return b;
  };
  /** Blanks the human time phrases ("Less than a second ago", "Up 2 seconds") that differ between two runs. */
  const blankTimes = (s: string) => s
    .replace(/(About an? \w+|Less than a second|\d+ \w+) ago/g, (m) => '~'.repeat(m.length))
    .replace(/Up (About an? \w+|Less than a second|\d+ \w+)/g, (m) => `Up ${'~'.repeat(m.length - 3)}`);

  test('ps: table header and columns laid out exactly like docker ps', () => {
    ok(['run', '-d', '--name', 'ps-run', '-l', 'tier=web', 'busybox', 'sleep', '600']);
    ok(['create', '--name', 'ps-made', '-l', 'tier=db', 'busybox', 'echo', 'a command longer than twenty chars']);
    assert.equal(d.berth(['run', '--name', 'ps-done', 'busybox', 'sh', '-c', 'exit 3']).status, 3);
    const table = (out: string) => out.split('\n').map((l) => l.replace(/\s+$/, ''));
    for (const args of [['ps'], ['ps', '-a'], ['ps', '-a', '--no-trunc'], ['ps', '-as']]) {
      const b = ok(args), k = dockerOk(args);
      assert.match(b, /^CONTAINER ID {3,}IMAGE {5}COMMAND {2,}CREATED {2,}STATUS {2,}PORTS {5}NAMES( {2,}SIZE)?\n/);
      // The time words can differ by a second between the two runs, and they set the widths of the
      // CREATED and STATUS columns: the header is the same up to CREATED, and each row has the same
      // cells (docker pads with at least three spaces) once the time words are blanked.
      const createdAt = (out: string) => out.indexOf('CREATED');
      assert.equal(createdAt(b), createdAt(k), `${args.join(' ')}: header layout`);
      assert.equal(b.slice(0, createdAt(b)), k.slice(0, createdAt(k)), `${args.join(' ')}: header`);
      const cells = (out: string) => table(blankTimes(out)).map((l) => l.replace(/~+/g, '~').split(/ {3,}/));
      assert.deepEqual(cells(b), cells(k), `${args.join(' ')}: rows`);
      // Within the table, every row starts each column where the header does.
      const header = b.split('\n')[0];
      const starts = ['IMAGE', 'COMMAND', 'CREATED'].map((h) => header.indexOf(h));
      for (const row of b.trim().split('\n').slice(1)) for (const at of starts) assert.match(row.slice(at - 3, at), /^ {3}$/, row);
    }
    assert.match(ok(['ps', '-a']), /"echo 'a command lon…"/, 'commands truncated to 20 characters with an ellipsis');
    assert.match(ok(['ps', '-a']), /Exited \(3\) /);
  });

  test('ps: --format, json, -q, -n, -l, --no-trunc, filters', () => {
    same(['ps', '-a', '--format', '{{.ID}} {{.Names}}']);
    same(['ps', '-aq']);
    same(['ps', '-q']);
    same(['ps', '-aq', '--no-trunc']);
    same(['ps', '-n', '2', '--format', '{{.Names}}']);
    same(['ps', '-l', '--format', '{{.Names}} {{.State}}']);
    assert.equal(ok(['ps', '-l', '--format', '{{.Names}}']), 'ps-done\n');
    same(['ps', '-a', '--filter', 'label=tier=web', '--format', '{{.Names}}']);
    same(['ps', '-a', '--filter', 'status=exited', '--format', '{{.Names}} {{.State}}']);
    same(['ps', '-a', '--filter', 'exited=3', '-q']);
    same(['ps', '-a', '--filter', 'name=ps-', '--filter', 'status=created', '--format', '{{.Names}}']);
    same(['ps', '-a', '--format', '{{.Names}}\t{{.Label "tier"}}\t{{.Command}}']);
    same(['ps', '-a', '--format', 'table {{.Names}}\t{{.Image}}\t{{.State}}']);
    // json: one object per line, docker's field set; time words blanked.
    const bj = ok(['ps', '-a', '--format', 'json']).trim().split('\n').map((l) => JSON.parse(l));
    const kj = dockerOk(['ps', '-a', '--format', 'json']).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(bj.length, 3);
    const strip = (o: Record<string, unknown>) => ({ ...o, RunningFor: '', Status: String(o.Status).replace(/ (Less than a second|\d+ \w+|About an? \w+)( ago)?$/, '') });
    assert.deepEqual(bj.map(strip), kj.map(strip));
    assert.deepEqual(Object.keys(bj[0]), Object.keys(kj[0]));
    same(['ps', '-a', '--filter', 'bogus=1']);
  });

  test('images: table, -q, --format, --digests, json, filters', () => {
    ok(['tag', 'busybox', 'cli-box:1']);
    const lines = (s: string) => s.split('\n').sort();
    // Docker iterates an image's tags from a Go map: rows of one image come in any order.
    for (const args of [['images'], ['images', '--digests'], ['images', '--no-trunc'], ['images', '-q'], ['images', '--format', '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}']]) {
      assert.deepEqual(lines(blankTimes(ok(args))), lines(blankTimes(dockerOk(args))), args.join(' '));
    }
    assert.match(ok(['images']), /^REPOSITORY {3}TAG {7}IMAGE ID {7}CREATED {2,}SIZE\n/);
    assert.match(ok(['images', '--digests']), /^REPOSITORY {3}TAG {7}DIGEST {4}IMAGE ID/);
    same(['images', '-q', 'cli-box']);
    same(['images', '--filter', 'reference=cli-box', '--format', '{{.Repository}} {{.Tag}}']);
    const bj = lines(ok(['images', '--format', 'json'])), kj = lines(dockerOk(['images', '--format', 'json']));
    assert.deepEqual(bj.map((l) => l.replace(/"CreatedSince":"[^"]*"/, '')), kj.map((l) => l.replace(/"CreatedSince":"[^"]*"/, '')));
    ok(['rmi', 'cli-box:1']);
  });

  test('inspect -f on containers and images, and unknown objects', () => {
    same(['inspect', '-f', '{{.Name}} {{.State.Status}} {{.State.ExitCode}}', 'ps-done']);
    same(['inspect', '--format', '{{json .Config.Labels}}', 'ps-run']);
    same(['inspect', '-f', '{{.Id}}', 'busybox']);
    same(['image', 'inspect', '-f', '{{.Os}}/{{.Architecture}} {{.Config.Cmd}}', 'busybox']);
    same(['container', 'inspect', '-f', '{{.Config.Image}}', 'ps-made', 'ps-run']);
    same(['inspect', 'no-such-thing']);
    same(['inspect', '-f', '{{.Name}}', 'ps-run', 'no-such-thing']);
    const full = JSON.parse(ok(['inspect', 'ps-run']));
    assert.equal(full[0].Name, '/ps-run');
  });

  test('run: exit codes 0, 3, 125 (unknown flag), 126, 127; -d; argument errors as docker', () => {
    assert.equal(ok(['run', '--rm', 'busybox', 'echo', 'hi']), 'hi\n');
    const three = d.berth(['run', '--rm', 'busybox', 'sh', '-c', 'echo out; echo err >&2; exit 3']);
    assert.equal(three.status, 3);
    assert.equal(three.stdout, 'out\n');
    assert.equal(three.stderr, 'err\n');
    same(['run', '--no-such-flag', 'busybox']);
    assert.equal(d.berth(['run', '--no-such-flag', 'busybox']).status, 125);
    same(['run']);
    same(['ps', 'extra']);
    same(['logs']);
    for (const [args, status] of [[['/etc'], 126], [['/etc/passwd'], 126], [['no-such-command'], 127], [['/no/such/path'], 127]] as const) {
      const b = d.berth(['run', '--rm', 'busybox', ...args]), k = d.docker(['run', '--rm', 'busybox', ...args]);
      assert.equal(b.status, status, `${args}: ${b.stderr}`);
      assert.equal(b.status, k.status);
      assert.equal(b.stderr, k.stderr.replace(/\bdocker\b/g, 'berth'));
    }
    const noImage = d.berth(['run', '--rm', 'no-such-image-xyz']);
    assert.equal(noImage.status, 125);
    assert.equal(ok(['ps', '-aq', '--filter', 'status=created', '--filter', 'name=xyz']), '');
    const id = ok(['run', '-d', 'busybox', 'sh', '-c', 'echo detached; sleep 600']).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    assert.equal(ok(['inspect', '-f', '{{.State.Running}}', id]), 'true\n');
    ok(['rm', '-f', id]);
    assert.equal(ok(['run', '--rm', '-i', 'busybox', 'tr', 'a-z', 'A-Z'], 'stdin\n'), 'STDIN\n');
  });

  test('logs keep stdout and stderr apart; --tail, -t, --since', () => {
    ok(['run', '--name', 'logger', 'busybox', 'sh', '-c', 'for i in 1 2 3 4; do echo out$i; echo err$i >&2; done']);
    const b = d.berth(['logs', 'logger']);
    assert.equal(b.stdout, 'out1\nout2\nout3\nout4\n');
    assert.equal(b.stderr, 'err1\nerr2\nerr3\nerr4\n');
    same(['logs', 'logger']);
    same(['logs', '--tail', '2', 'logger']);
    same(['logs', '-n', '0', 'logger']);
    same(['logs', '-t', 'logger']);
    assert.match(ok(['logs', '-t', 'logger']).split('\n')[0], /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z out1$/);
    same(['logs', '--since', '2099-01-01T00:00:00Z', 'logger']);
    same(['logs', 'no-such-container']);
    ok(['rm', 'logger']);
  });

  test('exec: exit codes, env, workdir, user, stdin, detached', () => {
    same(['exec', 'ps-run', 'sh', '-c', 'exit 7']);
    same(['exec', 'ps-run', 'no-such-command']);
    same(['exec', 'ps-run', '/etc']);
    same(['exec', '-e', 'X=y', '-w', '/tmp', '-u', '1000', 'ps-run', 'sh', '-c', 'echo $X $(pwd) $(id -u)']);
    same(['exec', '-i', 'ps-run', 'cat'], { input: 'to exec\n' });
    same(['exec', 'no-such-container', 'true']);
    same(['exec', 'ps-made', 'true']);
    ok(['exec', '-d', 'ps-run', 'sh', '-c', 'echo bg > /tmp/bg']);
    waitFor(() => d.berth(['exec', 'ps-run', 'cat', '/tmp/bg']).stdout === 'bg\n');
  });

  test('cp both ways, with directories and - tar streams', () => {
    writeFileSync(join(tmp, 'in.txt'), 'into the container\n');
    ok(['cp', join(tmp, 'in.txt'), 'ps-run:/in.txt']);
    assert.equal(ok(['exec', 'ps-run', 'cat', '/in.txt']), 'into the container\n');
    ok(['cp', 'ps-run:/in.txt', join(tmp, 'back.txt')]);
    assert.equal(readFileSync(join(tmp, 'back.txt'), 'utf8'), 'into the container\n');
    ok(['exec', 'ps-run', 'sh', '-c', 'mkdir -p /d/sub && echo one > /d/a && echo two > /d/sub/b']);
    ok(['cp', 'ps-run:/d', join(tmp, 'd')]);
    assert.equal(readFileSync(join(tmp, 'd', 'sub', 'b'), 'utf8'), 'two\n');
    // To stdout as a tar stream, and back in from stdin.
    const tar = spawnSync(BERTH, ['cp', 'ps-run:/d', '-'], { env: d.env });
    assert.equal(tar.status, 0, String(tar.stderr));
    const listing = spawnSync('tar', ['-t'], { input: tar.stdout, encoding: 'utf8' }).stdout.split('\n').sort();
    assert.deepEqual(listing.filter(Boolean), ['d/', 'd/a', 'd/sub/', 'd/sub/b']);
    const dtar = spawnSync('docker', ['cp', 'ps-run:/d', '-'], { env: d.env });
    assert.deepEqual(spawnSync('tar', ['-t'], { input: dtar.stdout, encoding: 'utf8' }).stdout.split('\n').sort().filter(Boolean), listing.filter(Boolean));
    const input = spawnSync('tar', ['-c', '-C', tmp, 'in.txt']).stdout;
    const put = spawnSync(BERTH, ['cp', '-', 'ps-run:/tmp'], { env: d.env, input });
    assert.equal(put.status, 0, String(put.stderr));
    assert.equal(ok(['exec', 'ps-run', 'cat', '/tmp/in.txt']), 'into the container\n');
    same(['cp', 'ps-run:/no/such/file', join(tmp, 'x')]);
    same(['cp', join(tmp, 'no-such-file'), 'ps-run:/x']);
  });

  test('export, commit, history, tag, save, rmi, load, import', () => {
    ok(['create', '--name', 'cli-src', 'busybox', 'sh', '-c', 'echo data > /created.txt']);
    ok(['start', '-a', 'cli-src']);
    ok(['export', '-o', join(tmp, 'fs.tar'), 'cli-src']);
    const files = spawnSync('tar', ['-tf', join(tmp, 'fs.tar')], { encoding: 'utf8' }).stdout;
    assert.match(files, /^created\.txt$/m);
    const exported = spawnSync(BERTH, ['export', 'cli-src'], { env: d.env, maxBuffer: 64 * 1024 * 1024 });
    assert.equal(exported.status, 0);
    assert.ok(exported.stdout.length > 1024 * 1024);
    const img = ok(['commit', '-c', 'CMD ["cat", "/created.txt"]', '-m', 'a message', '-a', 'me', 'cli-src', 'cli-committed:v1']).trim();
    assert.match(img, /^sha256:[0-9a-f]{64}$/);
    assert.equal(ok(['run', '--rm', 'cli-committed:v1']), 'data\n');
    const cells = (out: string) => blankTimes(out).split('\n').map((l) => l.replace(/~+/g, '~').replace(/\s+$/, '').split(/ {3,}/));
    assert.deepEqual(cells(ok(['history', 'cli-committed:v1'])), cells(dockerOk(['history', 'cli-committed:v1'])));
    same(['history', '--no-trunc', '--format', '{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}', 'cli-committed:v1']);
    same(['history', '-q', 'cli-committed:v1']);
    ok(['tag', 'cli-committed:v1', 'cli-committed:v2']);
    same(['images', '--format', '{{.Tag}}', 'cli-committed']);
    // save to a file and to stdout; both load back.
    ok(['save', '-o', join(tmp, 'img.tar'), 'cli-committed:v1']);
    const saved = spawnSync(BERTH, ['save', 'cli-committed:v2'], { env: d.env, maxBuffer: 64 * 1024 * 1024 });
    assert.equal(saved.status, 0);
    writeFileSync(join(tmp, 'img2.tar'), saved.stdout);
    assert.match(ok(['rmi', 'cli-committed:v1', 'cli-committed:v2']), new RegExp(`^Untagged: cli-committed:v1\nUntagged: cli-committed:v2\nDeleted: ${img}\n`));
    same(['rmi', 'cli-committed:v1']);
    assert.equal(ok(['load', '-i', join(tmp, 'img.tar')]), 'Loaded image: cli-committed:v1\n');
    assert.equal(ok(['load'], readFileSync(join(tmp, 'img2.tar'))), 'Loaded image: cli-committed:v2\n');
    assert.equal(ok(['run', '--rm', 'cli-committed:v2']), 'data\n');
    // import: from a file and from stdin, with a change.
    const imported = ok(['import', '-c', 'CMD ["cat", "/created.txt"]', join(tmp, 'fs.tar'), 'cli-imported:1']).trim();
    assert.match(imported, /^sha256:[0-9a-f]{64}$/);
    assert.equal(ok(['run', '--rm', 'cli-imported:1']), 'data\n');
    ok(['import', '-', 'cli-imported:2'], readFileSync(join(tmp, 'fs.tar')));
    assert.equal(ok(['run', '--rm', 'cli-imported:2', 'cat', '/created.txt']), 'data\n');
    ok(['rm', 'cli-src']);
    ok(['rmi', 'cli-committed:v1', 'cli-committed:v2', 'cli-imported:1', 'cli-imported:2']);
    same(['rmi', 'no-such:image']);
    assert.ok(!existsSync(join(tmp, 'nothing')));
  });

  test('version and info', () => {
    const bv = ok(['version']), kv = dockerOk(['version']);
    // Same server block as docker shows; the client block is ours.
    assert.equal(bv.slice(bv.indexOf('\nServer:')), kv.slice(kv.indexOf('\nServer:')));
    assert.match(bv, /^Client:\n Version: {11}\S+\n API version: {7}1\.50\n/);
    same(['version', '--format', '{{.Server.APIVersion}} {{.Server.Os}}']);
    const bi = ok(['info']), ki = dockerOk(['info']);
    // docker prints the Runtimes map in Go's random map order: compare the set.
    const server = (s: string) => s.slice(s.indexOf('\nServer:')).replace(/^( Runtimes:)(.*)$/m, (_, k: string, v: string) => `${k} ${v.trim().split(/\s+/).sort().join(' ')}`);
    assert.equal(server(bi), server(ki));
    same(['info', '--format', '{{.OSType}} {{.Driver}} {{.Containers}}']);
    same(['info', '--format', '{{json .Plugins}}']);
  });

  test('stop, rm and cleanup of the ps containers', () => {
    same(['rm', 'ps-run']);
    ok(['rm', '-f', 'ps-run', 'ps-made', 'ps-done']);
    same(['rm', 'ps-run']);
    same(['rm', '-f', 'ps-run']);
    // --rm containers are removed as they exit: give the last ones a moment.
    for (let i = 0; i < 100 && ok(['ps', '-aq']) !== ''; i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
    assert.equal(ok(['ps', '-aq']), '', ok(['ps', '-a', '--no-trunc']));
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
