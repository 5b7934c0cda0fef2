import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { isKind } from '../base/errors';
import { simpleSigningPayload } from '../oci/signature';
import { checkSignatures, evaluate, parseTrustPolicy, requirementFor, trustedKey, verifyBytes } from './trust-policy';

const D1 = `sha256:${'1'.repeat(64)}` as const;
const D2 = `sha256:${'2'.repeat(64)}` as const;
const REPO = '127.0.0.1:5000/app';
const pem = (k: KeyObject) => k.export({ type: 'spki', format: 'pem' }).toString();
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ed = generateKeyPairSync('ed25519');
const other = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const sig = (payload: Buffer, k: KeyObject) => sign(k.asymmetricKeyType === 'ed25519' ? null : 'sha256', payload, k).toString('base64');

test('ECDSA P-256 and Ed25519 signatures verify; a changed payload or another key does not', () => {
  const p = simpleSigningPayload(REPO, D1);
  for (const pair of [ec, ed]) {
    assert.ok(verifyBytes(p, sig(p, pair.privateKey), pair.publicKey));
    assert.ok(!verifyBytes(Buffer.from(p.toString().replace('1111', '1112')), sig(p, pair.privateKey), pair.publicKey));
    assert.ok(!verifyBytes(p, sig(p, pair.privateKey), other.publicKey));
  }
  assert.ok(!verifyBytes(p, '', ec.publicKey));
});

test('checkSignatures: digest, identity, key and payload shape each have their reason', () => {
  const keys = [trustedKey(pem(ec.publicKey), 'ec'), trustedKey(pem(ed.publicKey), 'ed')];
  const good = simpleSigningPayload(REPO, D1);
  const checks = checkSignatures([
    { source: 'good', payload: good, signature: sig(good, ec.privateKey) },
    { source: 'ed', payload: good, signature: sig(good, ed.privateKey) },
    { source: 'other-digest', payload: simpleSigningPayload(REPO, D2), signature: sig(simpleSigningPayload(REPO, D2), ec.privateKey) },
    { source: 'other-repo', payload: simpleSigningPayload('127.0.0.1:5000/evil', D1), signature: sig(simpleSigningPayload('127.0.0.1:5000/evil', D1), ec.privateKey) },
    { source: 'untrusted', payload: good, signature: sig(good, other.privateKey) },
    { source: 'junk', payload: Buffer.from('{"critical":{}}'), signature: 'AAAA' },
  ], { repository: REPO, digest: D1 }, keys);
  const by = Object.fromEntries(checks.map((c) => [c.source, c]));
  assert.equal(by.good.verifiedBy, keys[0].fingerprint);
  assert.equal(by.ed.verifiedBy, keys[1].fingerprint);
  assert.match(by['other-digest'].problem!, /^signs sha256:2+, not sha256:1+$/);
  assert.match(by['other-repo'].problem!, /signs 127\.0\.0\.1:5000\/evil, not 127\.0\.0\.1:5000\/app/);
  assert.equal(by.untrusted.problem, 'not signed by a trusted key');
  assert.match(by.junk.problem!, /not a cosign simple-signing payload/);
  // A tag in the identity is fine: the repository is what counts.
  const tagged = simpleSigningPayload(`${REPO}:1`, D1);
  assert.ok(checkSignatures([{ source: 't', payload: tagged, signature: sig(tagged, ec.privateKey) }], { repository: REPO, digest: D1 }, keys)[0].verified);
});

test('policy: longest scope wins by whole components; default accept; reject; keys required', () => {
  const loadKey = (e: string) => ({ 'a.pub': pem(ec.publicKey) } as Record<string, string>)[e] ?? e;
  const p = parseTrustPolicy({ scopes: { '127.0.0.1:5000': 'reject', '127.0.0.1:5000/app': { keys: ['a.pub'] }, '127.0.0.1:5000/app/public': 'accept' } }, loadKey);
  assert.equal(requirementFor(p, '127.0.0.1:5000/app').kind, 'signed');
  assert.equal(requirementFor(p, '127.0.0.1:5000/app/x').kind, 'signed');
  assert.equal(requirementFor(p, '127.0.0.1:5000/application').kind, 'reject');
  assert.equal(requirementFor(p, '127.0.0.1:5000/app/public/y').kind, 'accept');
  assert.equal(requirementFor(p, 'docker.io/library/busybox').kind, 'accept');
  const inline = parseTrustPolicy({ default: { keys: [pem(ed.publicKey)] } }, loadKey);
  assert.equal(requirementFor(inline, 'x/y').kind, 'signed');
  for (const bad of [[], { default: 'maybe' }, { default: { keys: [] } }, { scopes: { 'a b': 'accept' } }, { extra: 1 }, { default: { keys: ['not a key'] } }]) {
    assert.throws(() => parseTrustPolicy(bad, loadKey), (e) => isKind(e, 'InvalidArgument'), JSON.stringify(bad));
  }
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  assert.throws(() => trustedKey(pem(rsa.publicKey), 'rsa'), /not supported/);
});

test('evaluate: every requirement must hold; reasons name the problem', () => {
  const a = trustedKey(pem(ec.publicKey), 'a');
  const b = trustedKey(pem(ed.publicKey), 'b');
  const both = [{ kind: 'signed' as const, keys: [a] }, { kind: 'signed' as const, keys: [b] }];
  assert.deepEqual(evaluate(both, new Set([a.fingerprint, b.fingerprint]), 'x'), { ok: true });
  const one = evaluate(both, new Set([a.fingerprint]), 'x', [{ source: 's', verified: true, verifiedBy: a.fingerprint }]);
  assert.equal(one.ok, false);
  assert.match((one as { reason: string }).reason, /x has no valid signature by a trusted key \(1 signature: signed by a key this requirement does not trust\)/);
  assert.match((evaluate(both, new Set(), 'x') as { reason: string }).reason, /x is not signed \(no signatures found\)/);
  assert.match((evaluate([{ kind: 'reject' }], new Set(), 'x') as { reason: string }).reason, /policy rejects x/);
  assert.deepEqual(evaluate([{ kind: 'accept' }], new Set(), 'x'), { ok: true });
});
