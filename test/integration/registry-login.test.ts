import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { BERTH, Daemon, startDaemon } from './harness';
import { RunningRegistry, startRegistry } from './registry-helpers';

// berth login/logout/push/pull against a registry with htpasswd auth: credentials stored as
// Docker's config.json and sent to berthd as X-Registry-Auth; docker login through berthd too.
describe('registry auth: berth login/logout and the config file', () => {
  let d: Daemon;
  let reg: RunningRegistry;
  let tmp: string;
  let berthEnv: NodeJS.ProcessEnv;

  before(async () => {
    tmp = mkdtempSync('/tmp/berth-test-login-');
    const htpasswd = join(tmp, 'htpasswd');
    writeFileSync(htpasswd, `alice:${bcrypt.hashSync('s3cret', 5)}\n`);
    reg = await startRegistry(join(tmp, 'root'), { args: ['--htpasswd', htpasswd] });
    d = await startDaemon();
    berthEnv = { ...d.env, BERTH_CONFIG: join(tmp, 'berth-config') };
  });
  after(async () => {
    await d?.stop();
    await reg?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const berth = (args: string[], input?: string) => {
    return spawnSync(BERTH, args, { env: berthEnv, input, encoding: 'utf8', timeout: 60_000 });
  };

  test('without credentials a push is refused by the registry', () => {
    assert.equal(berth(['tag', 'busybox', `${reg.addr}/auth/bb:1`]).status, 0);
    const r = berth(['push', `${reg.addr}/auth/bb:1`]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unauthorized|authentication required/);
  });

  test('a wrong password is refused and nothing is stored', () => {
    const r = berth(['login', '-u', 'alice', '--password-stdin', reg.addr], 'wrong\n');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /unauthorized: incorrect username or password/);
    assert.throws(() => statSync(join(tmp, 'berth-config', 'config.json')));
  });

  test('berth login stores Docker-format credentials (0600); push, pull and run use them', () => {
    const r = berth(['login', '-u', 'alice', '--password-stdin', `http://${reg.addr}/v2/`], 's3cret\n');
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, 'Login Succeeded\n');
    const file = join(tmp, 'berth-config', 'config.json');
    assert.equal(statSync(file).mode & 0o777, 0o600);
    const cfg = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual(cfg.auths[reg.addr], { auth: Buffer.from('alice:s3cret').toString('base64') });
    const push = berth(['push', `${reg.addr}/auth/bb:1`]);
    assert.equal(push.status, 0, push.stderr);
    assert.match(push.stdout, /^1: digest: sha256:[0-9a-f]{64} size: \d+$/m);
    assert.equal(berth(['rmi', `${reg.addr}/auth/bb:1`]).status, 0);
    const pull = berth(['pull', `${reg.addr}/auth/bb:1`]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.match(pull.stdout, /Status: (Downloaded newer image|Image is up to date) for/);
    assert.equal(berth(['rmi', `${reg.addr}/auth/bb:1`]).status, 0);
    const run = berth(['run', '--rm', '--network', 'none', `${reg.addr}/auth/bb:1`, 'echo', 'authed']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'authed\n');
    assert.match(run.stderr, /Unable to find image/);
  });

  test('berth pull -a and push -a with credentials', () => {
    assert.equal(berth(['tag', 'busybox', `${reg.addr}/auth/bb:2`]).status, 0);
    const push = berth(['push', '-a', `${reg.addr}/auth/bb`]);
    assert.equal(push.status, 0, push.stderr);
    const pull = berth(['pull', '-a', `${reg.addr}/auth/bb`]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.match(pull.stdout, /^1: Pulling from auth\/bb$/m);
    assert.match(pull.stdout, /^2: Pulling from auth\/bb$/m);
  });

  test('berth logout removes the entry; the registry refuses again', () => {
    const r = berth(['logout', reg.addr]);
    assert.equal(r.status, 0);
    assert.equal(r.stdout, `Removing login credentials for ${reg.addr}\n`);
    const cfg = JSON.parse(readFileSync(join(tmp, 'berth-config', 'config.json'), 'utf8'));
    assert.deepEqual(cfg.auths, {});
    const pull = berth(['pull', `${reg.addr}/auth/bb:1`]);
    assert.equal(pull.status, 1);
    assert.match(pull.stderr, /unauthorized|authentication required/);
  });

  test('docker login through berthd: its X-Registry-Auth is honoured for push and pull', () => {
    const bad = d.docker(['login', '-u', 'alice', '--password-stdin', reg.addr], { input: 'nope\n' });
    assert.equal(bad.status, 1);
    const login = d.docker(['login', '-u', 'alice', '--password-stdin', reg.addr], { input: 's3cret\n' });
    assert.equal(login.status, 0, login.stderr);
    d.docker(['tag', 'busybox', `${reg.addr}/auth/docker:1`]);
    const push = d.docker(['push', `${reg.addr}/auth/docker:1`]);
    assert.equal(push.status, 0, push.stderr);
    d.docker(['rmi', `${reg.addr}/auth/docker:1`]);
    const pull = d.docker(['pull', `${reg.addr}/auth/docker:1`]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.equal(d.docker(['logout', reg.addr]).status, 0);
  });

  test('build --pull of a base in a registry that wants credentials: the stored login goes with the build (X-Registry-Config), from berth and from docker', () => {
    const base = `${reg.addr}/auth/base:1`;
    const ctx = join(tmp, 'pull-ctx');
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, 'Dockerfile'), `FROM ${base}\nRUN echo built > /built\n`);
    // CLI 28 without buildx: the legacy builder's POST /build, as in the other build tests.
    const docker = (args: string[], input?: string) => spawnSync('docker', args, { env: { ...d.env, DOCKER_BUILDKIT: '0' }, input, encoding: 'utf8', timeout: 60_000 });
    for (const [who, run] of [['berth', berth], ['docker', docker]] as const) {
      assert.equal(run(['login', '-u', 'alice', '--password-stdin', reg.addr], 's3cret\n').status, 0, who);
      assert.equal(run(['tag', 'busybox', base]).status, 0, who);
      const push = run(['push', base]);
      assert.equal(push.status, 0, `${who}: ${push.stderr}`);
      assert.equal(run(['rmi', base]).status, 0, who);
      const built = run(['build', '--pull', '--network', 'none', '-t', `pulled-base:${who}`, ctx]);
      assert.equal(built.status, 0, `${who}: ${built.stdout}\n${built.stderr}`);
      assert.match(built.stdout, /Downloaded newer image for|Image is up to date for/, who);
      assert.equal(run(['logout', reg.addr]).status, 0, who);
      // Logged out: the registry refuses the pull and the build fails before any step.
      assert.equal(run(['rmi', base]).status, 0, who);
      const refused = run(['build', '--pull', '--network', 'none', ctx]);
      assert.notEqual(refused.status, 0, `${who}: ${refused.stdout}`);
      assert.match(refused.stderr, /unauthorized|authentication required|no basic auth credentials/, who);
      assert.equal(run(['rmi', `pulled-base:${who}`]).status, 0, who);
    }
  });

  test('berth login without a terminal and without a password fails as docker does', () => {
    const r = berth(['login', '-u', 'alice', reg.addr]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /Cannot perform an interactive login from a non TTY device/);
    const both = berth(['login', '-u', 'alice', '-p', 'x', '--password-stdin', reg.addr], 'y');
    assert.equal(both.status, 1);
    assert.match(both.stderr, /--password and --password-stdin are mutually exclusive/);
  });
});
