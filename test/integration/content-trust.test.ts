import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BERTH, Daemon, startDaemon } from './harness';
import { RunningRegistry, randomLayerTar, startRegistry } from './registry-helpers';
import { call } from '../../src/registry/server/testing/fixtures';

// Content trust: berth trust key generate / sign / inspect, BERTH_CONTENT_TRUST=1 in the berth CLI,
// and berthd --content-trust-policy for any client (the docker CLI does Notary itself).
describe('content trust: cosign signatures in the registry, enforced on pull and run', () => {
  let d: Daemon;
  let enforcing: Daemon;
  let reg: RunningRegistry;
  let tmp: string;
  let alice: string; // config dir holding alice's key pair (trusted)
  let mallory: string; // config dir with a key nobody trusts
  let signedDigest = '';

  before(async () => {
    tmp = mkdtempSync('/tmp/berth-test-trust-');
    reg = await startRegistry(join(tmp, 'root'));
    d = await startDaemon();
    alice = join(tmp, 'alice');
    mallory = join(tmp, 'mallory');
  });
  after(async () => {
    await d?.stop();
    await enforcing?.stop();
    await reg?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const berth = (config: string, args: string[], env: Record<string, string> = {}, daemon = d) =>
    spawnSync(BERTH, args, { env: { ...daemon.env, BERTH_CONFIG: config, ...env }, encoding: 'utf8', timeout: 60_000 });
  const ok = (config: string, args: string[], env: Record<string, string> = {}) => {
    const r = berth(config, args, env);
    assert.equal(r.status, 0, `berth ${args.join(' ')} (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const trusted = { BERTH_CONTENT_TRUST: '1' };

  test('key generate writes an ECDSA P-256 pair, the private key 0600; an ed25519 one too', () => {
    const out = ok(alice, ['trust', 'key', 'generate', 'alice']);
    assert.match(out, /fingerprint sha256:[0-9a-f]{64}/);
    assert.equal(statSync(join(alice, 'trust', 'alice.key')).mode & 0o777, 0o600);
    const again = berth(alice, ['trust', 'key', 'generate', 'alice']);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /already exists/);
    ok(mallory, ['trust', 'key', 'generate', '--type', 'ed25519', 'mallory']);
    assert.match(ok(alice, ['trust', 'key', 'ls']), /^alice\s+sha256:[0-9a-f]{16}\s+yes$/m);
  });

  test('sign stores an artifact the referrers API lists; inspect verifies it', async () => {
    const ref = `${reg.addr}/app/bb:1`;
    ok(alice, ['tag', 'busybox', ref]);
    signedDigest = /digest: (sha256:[0-9a-f]{64})/.exec(ok(alice, ['push', ref]))![1];
    assert.match(ok(alice, ['trust', 'inspect', ref]), /Signatures: 0 /);
    const sign = ok(alice, ['trust', 'sign', ref]);
    assert.match(sign, new RegExp(`Signed ${ref.replace(/\./g, '\\.')} \\(${signedDigest}\\) with key alice`));
    const referrers = await call(reg.addr, 'GET', `/v2/app/bb/referrers/${signedDigest}`);
    assert.equal(referrers.status, 200);
    const list = referrers.json().manifests as Array<{ artifactType: string }>;
    assert.deepEqual(list.map((m) => m.artifactType), ['application/vnd.dev.cosign.artifact.sig.v1+json']);
    const inspect = ok(alice, ['trust', 'inspect', ref]);
    assert.match(inspect, /Signatures: 1 \(1 verified by a trusted key\)/);
    assert.match(inspect, /verified by alice/);
    // mallory does not trust alice's key.
    assert.match(ok(mallory, ['trust', 'inspect', ref]), /NOT verified: not signed by a trusted key/);
  });

  test('BERTH_CONTENT_TRUST=1: a signed image pulls and runs', () => {
    const ref = `${reg.addr}/app/bb:1`;
    ok(alice, ['rmi', ref]);
    const pull = ok(alice, ['pull', ref], trusted);
    assert.match(pull, new RegExp(`Digest: ${signedDigest}`));
    assert.equal(ok(alice, ['run', '--rm', '--network', 'none', ref, 'echo', 'trusted'], trusted), 'trusted\n');
  });

  test('unsigned: refused with trust on, allowed with it off', () => {
    const ref = `${reg.addr}/app/unsigned:1`;
    ok(alice, ['tag', 'busybox', ref]);
    ok(alice, ['push', ref]);
    const pull = berth(alice, ['pull', ref], trusted);
    assert.equal(pull.status, 1);
    assert.match(pull.stderr, /content trust: .*app\/unsigned:1 \(sha256:[0-9a-f]{64}\) is not signed \(no signatures found\)/);
    // Present locally but never verified: run counts it absent, pulls, and the pull refuses.
    const run = berth(alice, ['run', '--rm', '--network', 'none', ref, 'echo', 'no'], trusted);
    assert.equal(run.status, 125);
    assert.match(run.stderr, /is not signed/);
    assert.equal(run.stdout, '');
    assert.equal(ok(alice, ['run', '--rm', '--network', 'none', ref, 'echo', 'untrusted ok'], {}), 'untrusted ok\n');
    // --disable-content-trust turns it off for one command.
    assert.equal(berth(alice, ['pull', '--disable-content-trust', ref], trusted).status, 0);
  });

  test('tampering: another image under the signed tag, and a signature by an untrusted key, are refused', () => {
    const ref = `${reg.addr}/app/bb:1`;
    // A different image pushed under the same tag: alice's signature covers the old digest only.
    ok(alice, ['import', randomLayerTar(tmp, 4096), ref]);
    const newDigest = /digest: (sha256:[0-9a-f]{64})/.exec(ok(alice, ['push', ref]))![1];
    assert.notEqual(newDigest, signedDigest);
    const pull = berth(alice, ['pull', ref], trusted);
    assert.equal(pull.status, 1);
    assert.match(pull.stderr, new RegExp(`content trust: .*\\(${newDigest}\\) is not signed`));
    // mallory signs it: still no signature by a key alice trusts.
    assert.match(ok(mallory, ['trust', 'sign', ref]), /Signed/);
    const again = berth(alice, ['pull', ref], trusted);
    assert.equal(again.status, 1);
    assert.match(again.stderr, /has no valid signature by a trusted key \(1 signature: not signed by a trusted key\)/);
    assert.match(ok(alice, ['trust', 'inspect', ref]), /NOT verified: not signed by a trusted key/);
    // The old, signed digest still pulls by digest.
    ok(alice, ['pull', `${reg.addr}/app/bb@${signedDigest}`], trusted);
  });

  test('content trust with no trusted key is an error, not a silent pass', () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    const r = berth(empty, ['pull', `${reg.addr}/app/bb@${signedDigest}`], trusted);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /holds no trusted public key/);
  });

  test('berthd --content-trust-policy: the docker CLI is held to it, per repository', async () => {
    const policy = join(tmp, 'policy');
    mkdirSync(policy);
    copyFileSync(join(alice, 'trust', 'alice.pub'), join(policy, 'alice.pub'));
    writeFileSync(join(policy, 'policy.json'), JSON.stringify({ default: 'accept', scopes: { [`${reg.addr}/app`]: { keys: ['alice.pub'] }, [`${reg.addr}/banned`]: 'reject' } }));
    enforcing = await startDaemon({ args: ['--content-trust-policy', join(policy, 'policy.json')] });
    const dk = (args: string[]) => enforcing.docker(args);
    const signed = `${reg.addr}/app/bb@${signedDigest}`;
    const p1 = dk(['pull', signed]);
    assert.equal(p1.status, 0, p1.stderr);
    const run = dk(['run', '--rm', '--network', 'none', signed, 'echo', 'policy ok']);
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stdout, 'policy ok\n');
    const unsigned = dk(['pull', `${reg.addr}/app/unsigned:1`]);
    assert.equal(unsigned.status, 1);
    assert.match(unsigned.stderr, /Error response from daemon: content trust: .* is not signed/);
    const runUnsigned = dk(['run', '--rm', '--network', 'none', `${reg.addr}/app/unsigned:1`, 'true']);
    assert.equal(runUnsigned.status, 125);
    assert.match(runUnsigned.stderr, /content trust/);
    // Loaded behind the policy's back (docker load/tag): run refuses the name and the ID.
    assert.equal(dk(['tag', 'busybox', `${reg.addr}/app/sneaky:1`]).status, 0);
    const sneaky = dk(['run', '--rm', '--network', 'none', '--pull', 'never', `${reg.addr}/app/sneaky:1`, 'true']);
    assert.equal(sneaky.status, 125);
    assert.match(sneaky.stderr, /no verified copy/);
    const id = dk(['image', 'inspect', '--format', '{{.Id}}', `${reg.addr}/app/sneaky:1`]).stdout.trim();
    const byId = dk(['run', '--rm', '--network', 'none', id, 'true']);
    assert.equal(byId.status, 125);
    assert.match(byId.stderr, /image ID names no repository/);
    // Outside the scope: no requirement. A rejected scope: always refused.
    assert.equal(dk(['tag', 'busybox', `${reg.addr}/other/bb:1`]).status, 0);
    assert.equal(dk(['push', `${reg.addr}/other/bb:1`]).status, 0);
    assert.equal(dk(['pull', `${reg.addr}/other/bb:1`]).status, 0);
    const banned = dk(['pull', `${reg.addr}/banned/x:1`]);
    assert.equal(banned.status, 1);
    assert.match(banned.stderr, /the policy rejects images from/);
  });

  test('berthd refuses a malformed policy', () => {
    const bad = join(tmp, 'bad-policy.json');
    writeFileSync(bad, JSON.stringify({ default: { keys: [] } }));
    const r = spawnSync(process.execPath, [join(__dirname, '..', '..', 'bin', 'berthd'), '--content-trust-policy', bad, '-H', 'unix:///nonexistent/x.sock'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /content trust policy .*"keys" must list at least one key/);
  });
});
