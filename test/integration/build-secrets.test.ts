import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createHash, randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { Daemon, startDaemon } from './harness';

/** Every regular file under `dir` whose bytes contain `needle`. */
function filesContaining(dir: string, needle: Buffer): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    let names: string[];
    try { names = readdirSync(d); } catch { return; }
    for (const n of names) {
      const p = join(d, n);
      let st;
      try { st = lstatSync(p); } catch { continue; }
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && readFileSync(p).includes(needle)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/** The members of a tar (data only), read with tar(1). */
function tarMembers(tarball: string, into: string): void {
  mkdirSync(into, { recursive: true });
  const r = spawnSync('tar', ['-xf', tarball, '-C', into], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
}

// Build secrets and SSH agent forwarding (berth build only: docker CLI 28's legacy builder refuses
// --secret and --ssh). Nothing of either may reach a layer, the image config, history, the cache
// key or berthd's data root.
describe('berth build --secret and --ssh', () => {
  let d: Daemon;
  let dir: string;
  let agent: ChildProcess | undefined;
  let agentSock: string;
  let privateKey: Buffer;
  const secret = `s3cr3t-${randomBytes(12).toString('hex')}`;
  const envSecret = `env-secret-${randomBytes(12).toString('hex')}`;
  const md5 = (s: string) => createHash('md5').update(s).digest('hex');

  before(async () => {
    d = await startDaemon();
    dir = mkdtempSync('/tmp/berth-build-secrets-');
    // A real agent with one key (Debian's openssh-client), ended by its PID in after().
    agentSock = join(dir, 'agent.sock');
    agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
    for (let i = 0; i < 100 && !existsSync(agentSock); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(existsSync(agentSock), 'ssh-agent did not start');
    const kg = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'berth-test-key', '-f', join(dir, 'id')], { encoding: 'utf8' });
    assert.equal(kg.status, 0, kg.stderr);
    privateKey = readFileSync(join(dir, 'id'));
    const add = spawnSync('ssh-add', [join(dir, 'id')], { encoding: 'utf8', env: { ...process.env, SSH_AUTH_SOCK: agentSock } });
    assert.equal(add.status, 0, add.stderr);
  });
  after(async () => {
    if (agent?.pid && agent.exitCode === null) {
      const exited = new Promise((r) => agent!.once('exit', r));
      agent.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
    await d?.stop();
  });

  const env = (r: { status: number | null; stdout: string; stderr: string }) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;
  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const berth = (args: string[], extraEnv: Record<string, string> = {}) => {
    Object.assign(d.env, extraEnv);
    try {
      return d.berth(['build', '--network', 'none', ...args], { timeout: 60_000 });
    } finally {
      for (const k of Object.keys(extraEnv)) delete d.env[k];
    }
  };
  const context = (name: string, files: Record<string, string>): string => {
    const root = join(dir, name);
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(join(root, p, '..'), { recursive: true });
      writeFileSync(join(root, p), c);
    }
    return root;
  };

  /** An image with the host's ssh-add and the libraries it loads, on busybox. */
  const sshClientImage = () => {
    const root = join(dir, 'sshclient');
    const files = ['/usr/bin/ssh-add'];
    const ldd = spawnSync('ldd', ['/usr/bin/ssh-add'], { encoding: 'utf8' }).stdout;
    for (const m of ldd.matchAll(/(\/\S+\.so[^\s]*)/g)) files.push(m[1]);
    for (const f of files) {
      mkdirSync(join(root, 'fs', dirname(f)), { recursive: true });
      copyFileSync(f, join(root, 'fs', f));
    }
    writeFileSync(join(root, 'Dockerfile'), 'FROM busybox\nCOPY fs/ /\n');
    const r = berth(['-t', 'sshclient:1', root]);
    assert.equal(r.status, 0, env(r));
  };

  test('secrets as files and variables, an SSH agent: the RUNs see them; no layer, config, history, cache key or data file holds them', () => {
    sshClientImage();
    const secretFile = join(dir, 'token.txt');
    writeFileSync(secretFile, secret);
    const ctx = context('use', {
      Dockerfile: [
        'FROM sshclient:1',
        // The commands compare digests: they never print the secret, so nothing but the mount could leak it.
        `RUN --mount=type=secret,id=token test "$(md5sum < /run/secrets/token | cut -c1-32)" = ${md5(secret)} && stat -c '%a %u:%g' /run/secrets/token > /file-ok`,
        `RUN --mount=type=secret,id=token,target=/etc/app/token,uid=1000,gid=1000,mode=0440 test "$(md5sum < /etc/app/token | cut -c1-32)" = ${md5(secret)} && stat -c '%a %u:%g' /etc/app/token > /target-ok`,
        `RUN --mount=type=secret,id=envtok,env=TOKEN test "$(printf %s "$TOKEN" | md5sum | cut -c1-32)" = ${md5(envSecret)} && echo env-ok > /env-ok && test ! -e /run/secrets/envtok`,
        'RUN --mount=type=secret,id=absent test ! -e /run/secrets/absent && echo optional-ok > /optional-ok',
        'RUN --mount=type=ssh ssh-add -l > /ssh-default && echo "$SSH_AUTH_SOCK" >> /ssh-default',
        'RUN --mount=type=ssh,id=other,target=/agent.sock,mode=0666 SSH_AUTH_SOCK=/agent.sock ssh-add -l > /ssh-other && stat -c %a /agent.sock >> /ssh-other',
        'CMD ["cat", "/file-ok", "/target-ok", "/env-ok", "/optional-ok"]', '',
      ].join('\n'),
    });
    const args = ['--secret', `id=token,src=${secretFile}`, '--secret', 'id=envtok,env=BERTH_TEST_TOKEN', '--ssh', 'default', '--ssh', `other=${agentSock}`, '-t', 'secrets:1', ctx];
    const r = berth(args, { BERTH_TEST_TOKEN: envSecret, SSH_AUTH_SOCK: agentSock });
    assert.equal(r.status, 0, env(r));
    assert.equal(ok(['run', '--rm', 'secrets:1']), '400 0:0\n440 1000:1000\nenv-ok\noptional-ok\n');
    const sshDefault = ok(['run', '--rm', 'secrets:1', 'cat', '/ssh-default']);
    assert.match(sshDefault, /berth-test-key \(ED25519\)/);
    assert.match(sshDefault, /^\/run\/buildkit\/ssh_agent\.0$/m);
    assert.match(ok(['run', '--rm', 'secrets:1', 'cat', '/ssh-other']), /berth-test-key[\s\S]*\n666\n$/);
    // The mount points were for the runs only.
    assert.equal(ok(['run', '--rm', 'secrets:1', 'sh', '-c', 'ls -A /run /etc/app 2>&1; ls /agent.sock 2>&1; true']).includes('secrets'), false);

    // Every layer of the image (docker save) and its config and history: no secret, no key.
    const tarball = join(dir, 'secrets.tar');
    ok(['save', '-o', tarball, 'secrets:1']);
    const saved = join(dir, 'saved');
    tarMembers(tarball, saved);
    const manifest = JSON.parse(readFileSync(join(saved, 'manifest.json'), 'utf8')) as Array<{ Layers: string[]; Config: string }>;
    assert.ok(manifest[0].Layers.length > 3);
    for (const [i, layer] of manifest[0].Layers.entries()) tarMembers(join(saved, layer), join(dir, 'layers', String(i)));
    const needles = [secret, envSecret, privateKey.toString('utf8').split('\n')[1]].map((s) => Buffer.from(s));
    for (const n of needles) {
      assert.deepEqual(filesContaining(saved, n), [], `${n} in the saved image`);
      assert.deepEqual(filesContaining(join(dir, 'layers'), n), [], `${n} in a layer`);
      const meta = ok(['image', 'inspect', 'secrets:1']) + ok(['history', '--no-trunc', '--format', '{{json .}}', 'secrets:1']);
      assert.equal(meta.includes(n.toString()), false);
      // Nor anywhere berthd keeps data (database, logs, snapshots, cache): secrets never touch a disk.
      assert.deepEqual(filesContaining(d.dataRoot, n), [], `${n} in berthd's data root`);
    }

    // The cache key ignores the secrets' content: another value, the same (cached) image.
    writeFileSync(secretFile, `${secret}-changed`);
    const again = berth(args, { BERTH_TEST_TOKEN: 'other', SSH_AUTH_SOCK: agentSock });
    assert.equal(again.status, 0, env(again));
    assert.equal(again.stdout.match(/Using cache/g)?.length, 7, again.stdout);
  });

  test('bad --secret/--ssh input and missing required ones fail with buildx\'s and BuildKit\'s messages, tagging nothing', () => {
    const ctx = context('bad', { Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=needed,required true\n' });
    const cases: Array<[string[], RegExp]> = [
      [['--secret', 'id=x,src=/nonexistent/file'], /failed to stat \/nonexistent\/file/],
      [['--secret', 'src=/etc/hostname'], /secret missing ID/],
      [['--secret', 'id=x,type=socket'], /unsupported secret type "socket"/],
      [['--secret', 'id=x,colour=red'], /unexpected key 'colour' in 'colour=red'/],
      [['--ssh', 'x=/etc/hostname'], /is not a socket/],
      [['--ssh', `x=${agentSock},${agentSock}`], /one agent socket per ID/],
      [[], /secret needed: not found/],
    ];
    for (const [args, re] of cases) {
      const r = berth([...args, '-t', 'bad:1', ctx]);
      assert.equal(r.status, 1, `${args.join(' ')}\n${env(r)}`);
      assert.match(r.stderr, re, args.join(' '));
    }
    const noAgent = berth(['--ssh', 'default', '-t', 'bad:1', ctx], { SSH_AUTH_SOCK: '' });
    assert.match(noAgent.stderr, /invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set/);
    const big = join(dir, 'big');
    writeFileSync(big, Buffer.alloc(600 * 1024, 'x'));
    assert.match(berth(['--secret', `id=big,src=${big}`, ctx]).stderr, /secret big too big. max size 500KiB/);
    assert.notEqual(d.docker(['image', 'inspect', 'bad:1']).status, 0);
  });

  test('a cached step needs none of its required secrets: a rebuild without them (docker build, which cannot send any) reuses it', () => {
    const ctx = context('cached-required', { Dockerfile: 'FROM busybox\nRUN --mount=type=secret,id=needed,required echo ran > /ran\n' });
    const file = join(dir, 'needed');
    writeFileSync(file, 'x');
    const first = berth(['--secret', `id=needed,src=${file}`, ctx]);
    assert.equal(first.status, 0, env(first));
    for (const r of [berth([ctx]), d.docker(['build', ctx])]) {
      assert.equal(r.status, 0, env(r));
      assert.match(r.stdout, /Using cache/);
    }
    const cold = berth(['--no-cache', ctx]);
    assert.equal(cold.status, 1, env(cold));
    assert.match(cold.stderr, /secret needed: not found/);
  });
});
