import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { BERTH, Daemon, startDaemon } from './harness';

/** `berth registry serve --addr 127.0.0.1:0` in a temp root; resolves with the bound address. */
async function startRegistry(root: string): Promise<{ proc: ChildProcess; addr: string }> {
  const proc = spawn(process.execPath, [BERTH, 'registry', 'serve', '--addr', '127.0.0.1:0', '--root', root], { stdio: ['ignore', 'pipe', 'inherit'] });
  const addr = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      const m = /listening on http:\/\/(127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`registry exited with ${code}: ${out}`)));
  });
  return { proc, addr };
}

const haveSkopeo = spawnSync('skopeo', ['--version']).status === 0;

// docker pull / push / login through berthd, against berth's own registry on 127.0.0.1.
describe('registry: docker pull and push through berthd', () => {
  let d: Daemon;
  let reg: { proc: ChildProcess; addr: string };
  let tmp: string;
  let pushedDigest = '';

  before(async () => {
    tmp = mkdtempSync('/tmp/berth-test-registry-');
    reg = await startRegistry(join(tmp, 'root'));
    d = await startDaemon();
  });
  after(async () => {
    await d?.stop();
    if (reg?.proc.exitCode === null) {
      const exited = new Promise((r) => reg.proc.once('exit', r));
      process.kill(reg.proc.pid!, 'SIGTERM');
      await exited;
    }
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };

  test('push, rmi, pull back, run', () => {
    const ref = `${reg.addr}/test/bb:1`;
    ok(['tag', 'busybox', ref]);
    const push = ok(['push', ref]);
    assert.match(push, new RegExp(`The push refers to repository \\[${reg.addr}/test/bb\\]`));
    const m = /1: digest: (sha256:[0-9a-f]{64}) size: \d+/.exec(push);
    assert.ok(m, push);
    pushedDigest = m[1];
    // A second push finds every blob in place.
    assert.match(ok(['push', ref]), /Layer already exists/);
    ok(['rmi', ref]);
    const pull = ok(['pull', ref]);
    assert.match(pull, /Status: (Downloaded newer image|Image is up to date) for/);
    assert.match(pull, new RegExp(`Digest: ${pushedDigest}`));
    assert.equal(ok(['run', '--rm', ref, 'echo', 'ok']), 'ok\n');
  });

  test('a pull into an empty store downloads layers; run auto-pulls on a missing image', () => {
    const ref = `${reg.addr}/test/bb:1`;
    // Remove every image, so layers must come from the registry.
    ok(['rmi', '-f', ref, 'busybox']);
    assert.equal(ok(['images', '-q']), '');
    const pull = ok(['pull', ref]);
    assert.match(pull, /Pull complete/);
    assert.match(pull, /Status: Downloaded newer image for/);
    ok(['rmi', ref]);
    const run = d.docker(['run', '--rm', ref, 'echo', 'auto']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'auto\n');
    assert.match(run.stderr, /Unable to find image/);
  });

  test('pull by digest; images --digests shows the repo digest', () => {
    const byDigest = `${reg.addr}/test/bb@${pushedDigest}`;
    ok(['pull', byDigest]);
    assert.equal(ok(['run', '--rm', byDigest, 'echo', 'digest']), 'digest\n');
    const rows = ok(['images', '--digests', '--format', '{{.Repository}} {{.Digest}}']);
    assert.match(rows, new RegExp(`${reg.addr}/test/bb ${pushedDigest}`));
    const inspect = ok(['image', 'inspect', '--format', '{{json .RepoDigests}}', `${reg.addr}/test/bb:1`]);
    assert.ok(inspect.includes(`${reg.addr}/test/bb@${pushedDigest}`), inspect);
  });

  test("a missing tag fails with the registry's error and exit 1", () => {
    const r = d.docker(['pull', `${reg.addr}/test/bb:nope`]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /manifest unknown/);
    const repo = d.docker(['pull', `${reg.addr}/no/such:1`]);
    assert.equal(repo.status, 1);
    assert.match(repo.stderr, /not found|unknown/);
  });

  test('docker.io fails fast without network access; run of an unknown image exits 125', () => {
    const t0 = Date.now();
    const r = d.docker(['pull', 'no-such-image-xyz']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /docker\.io is not reachable from this host/);
    const run = d.docker(['run', '--rm', 'no-such-image-xyz']);
    assert.equal(run.status, 125);
    assert.match(run.stderr, /docker\.io is not reachable/);
    assert.ok(Date.now() - t0 < 5000, 'no network wait');
  });

  test('login against the registry, logout', () => {
    const login = spawnSync('docker', ['login', '-u', 'someone', '--password-stdin', reg.addr], { env: d.env, input: 'secret\n', encoding: 'utf8' });
    assert.equal(login.status, 0, login.stderr);
    assert.match(login.stdout, /Login Succeeded/);
    // Pushes and pulls now carry X-Registry-Auth; an anonymous registry ignores it.
    ok(['pull', `${reg.addr}/test/bb:1`]);
    assert.equal(ok(['logout', reg.addr]).trim(), `Removing login credentials for ${reg.addr}`);
  });

  test('an image pushed by skopeo (docker-archive, schema 2, gzip layers) pulls through berthd', { skip: haveSkopeo ? false : 'skopeo is not installed' }, () => {
    const archive = join(tmp, 'bb.tar');
    ok(['tag', `${reg.addr}/test/bb:1`, 'busybox:latest']);
    ok(['save', '-o', archive, 'busybox:latest']);
    const c = spawnSync('skopeo', ['copy', '--dest-tls-verify=false', '--format', 'v2s2', `docker-archive:${archive}`, `docker://${reg.addr}/skopeo/bb:v2s2`], { encoding: 'utf8' });
    assert.equal(c.status, 0, c.stderr);
    ok(['rmi', '-f', 'busybox:latest', `${reg.addr}/test/bb:1`]);
    ok(['image', 'prune', '-af']);
    const pull = ok(['pull', `${reg.addr}/skopeo/bb:v2s2`]);
    assert.match(pull, /Pull complete/);
    assert.equal(ok(['run', '--rm', `${reg.addr}/skopeo/bb:v2s2`, 'echo', 'skopeo']), 'skopeo\n');
  });
});
