// Authentication and TLS of `berth registry serve`: htpasswd basic auth, the bearer-token flow
// (token endpoint served by the registry itself, scopes enforced per repository and action), HTTPS
// with a self-signed certificate; checked with raw HTTP, skopeo and the engine's registry client.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync, copyFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { RegistryTransport, readBody } from '../client/transport';
import { covers, parseScopes } from './auth';
import { Htpasswd } from './auth/htpasswd';
import { signJwt, verifyJwt } from './auth/jwt';
import { busyboxDockerArchive, call, digestOf, errorCode, haveSkopeo, skopeo, startTestRegistry, tempDir, type Reply, type TestRegistry } from './testing/fixtures';

const skipSkopeo = haveSkopeo() ? false : 'skopeo is not installed';
let tmp: { dir: string; remove: () => void };
let htpasswdFile: string;
let ecKey: string;
let archive: string | undefined;

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

function getArchive(): string {
  archive ??= busyboxDockerArchive(tmp.dir);
  return archive;
}

before(() => {
  tmp = tempDir();
  htpasswdFile = join(tmp.dir, 'htpasswd');
  // The file the way users make it (htpasswd -B writes $2y$ entries); bcryptjs when the tool is absent.
  if (existsSync('/usr/bin/htpasswd')) {
    execFileSync('htpasswd', ['-B', '-b', '-c', htpasswdFile, 'alice', 's3cret'], { stdio: 'ignore' });
    execFileSync('htpasswd', ['-B', '-b', htpasswdFile, 'bob', 'hunter2'], { stdio: 'ignore' });
  } else {
    writeFileSync(htpasswdFile, `alice:${bcrypt.hashSync('s3cret', 5)}\nbob:${bcrypt.hashSync('hunter2', 5)}\n`);
  }
  ecKey = join(tmp.dir, 'token-key.pem');
  writeFileSync(ecKey, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
});

after(() => tmp?.remove());

test('htpasswd: bcrypt entries verify, other formats are refused', async () => {
  const h = Htpasswd.parse(`# users\ncarol:${bcrypt.hashSync('pw', 4).replace(/^\$2[ab]\$/, '$2y$')}\n`);
  assert.equal(await h.verify('carol', 'pw'), true);
  assert.equal(await h.verify('carol', 'pw'), true); // cached
  assert.equal(await h.verify('carol', 'wrong'), false);
  assert.equal(await h.verify('nobody', 'pw'), false);
  assert.throws(() => Htpasswd.parse('dave:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g='), (e: Error & { kind?: string }) => e.kind === 'InvalidArgument');
});

test('jwt: ES256 and RS256 round trip; tampered, alg-swapped and foreign-key tokens are rejected', () => {
  for (const kind of ['ec', 'rsa'] as const) {
    const { privateKey } = kind === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pub = createPublicKey(privateKey);
    const t = signJwt({ sub: 'alice', n: 1 }, privateKey);
    assert.equal(verifyJwt(t, pub)?.sub, 'alice');
    const [h, p, s] = t.split('.');
    const forged = Buffer.from(JSON.stringify({ sub: 'mallory', n: 1 })).toString('base64url');
    assert.equal(verifyJwt(`${h}.${forged}.${s}`, pub), undefined);
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    assert.equal(verifyJwt(`${none}.${p}.`, pub), undefined);
    const other = createPrivateKey(generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    assert.equal(verifyJwt(signJwt({ sub: 'alice' }, other), pub), undefined);
  }
});

test('scopes: parse and cover', () => {
  const granted = parseScopes('repository:team/app:pull,push registry:catalog:* repository:other:pull');
  assert.deepEqual(granted[0], { type: 'repository', name: 'team/app', actions: ['pull', 'push'] });
  assert.ok(covers(granted, [{ type: 'repository', name: 'team/app', actions: ['push'] }]));
  assert.ok(!covers(granted, [{ type: 'repository', name: 'other', actions: ['push'] }]));
  assert.ok(!covers(granted, [{ type: 'repository', name: 'team/app2', actions: ['pull'] }]));
  assert.ok(covers(granted, [{ type: 'registry', name: 'catalog', actions: ['*'] }]));
});

describe('basic auth', () => {
  let reg: TestRegistry;
  before(async () => { reg = await startTestRegistry({ htpasswd: htpasswdFile }); });
  after(async () => { await reg?.dispose(); });

  test('missing and wrong credentials get 401 UNAUTHORIZED with a Basic challenge; right ones pass', async () => {
    for (const headers of <Record<string, string>[]>[{}, { Authorization: basic('alice', 'nope') }, { Authorization: basic('mallory', 's3cret') }]) {
      const r = await call(reg.addr, 'GET', '/v2/', { headers });
      assert.equal(r.status, 401);
      assert.equal(errorCode(r), 'UNAUTHORIZED');
      assert.match(String(r.headers['www-authenticate']), /^Basic realm="[^"]+"$/);
    }
    assert.equal((await call(reg.addr, 'GET', '/v2/', { headers: { Authorization: basic('alice', 's3cret') } })).status, 200);
    // A refused push stores nothing.
    const data = 'refused';
    const r = await call(reg.addr, 'POST', `/v2/app/blobs/uploads/?digest=${digestOf(data)}`, { body: data });
    assert.equal(r.status, 401);
    const ok = await call(reg.addr, 'GET', '/v2/_catalog', { headers: { Authorization: basic('bob', 'hunter2') } });
    assert.deepEqual(ok.json().repositories, []);
    const pushed = await call(reg.addr, 'POST', `/v2/app/blobs/uploads/?digest=${digestOf(data)}`, { body: data, headers: { Authorization: basic('bob', 'hunter2') } });
    assert.equal(pushed.status, 201);
    assert.equal((await call(reg.addr, 'HEAD', `/v2/app/blobs/${digestOf(data)}`)).status, 401);
  });

  test('skopeo --creds pushes and inspects; without credentials it is refused', { skip: skipSkopeo }, async () => {
    await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:s3cret', `docker-archive:${getArchive()}`, `docker://${reg.addr}/library/busybox:latest`]);
    const info = JSON.parse(await skopeo(['inspect', '--tls-verify=false', '--creds', 'alice:s3cret', `docker://${reg.addr}/library/busybox:latest`]));
    assert.equal(info.Layers.length, 1);
    await assert.rejects(skopeo(['inspect', '--tls-verify=false', '--no-creds', `docker://${reg.addr}/library/busybox:latest`]), /unauthorized|authentication required/i);
    await assert.rejects(skopeo(['inspect', '--tls-verify=false', '--creds', 'alice:wrong', `docker://${reg.addr}/library/busybox:latest`]), /unauthorized|invalid username/i);
  });
});

describe('token auth', () => {
  let reg: TestRegistry;
  before(async () => {
    reg = await startTestRegistry({ htpasswd: htpasswdFile, anonymousPull: true, token: { realm: '/token', issuer: 'berth-test-issuer', service: 'berth-test', keyFile: ecKey } });
  });
  after(async () => { await reg?.dispose(); });

  const token = async (scopes: string[], auth?: string): Promise<string> => {
    const q = new URLSearchParams({ service: 'berth-test' });
    for (const s of scopes) q.append('scope', s);
    const r = await call(reg.addr, 'GET', `/token?${q.toString()}`, { headers: auth ? { Authorization: auth } : {} });
    assert.equal(r.status, 200, r.body.toString());
    const doc = r.json();
    assert.equal(doc.token, doc.access_token);
    assert.ok(doc.expires_in > 0);
    return doc.token as string;
  };
  const bearer = (t: string) => ({ Authorization: `Bearer ${t}` });
  const challengeOf = (r: Reply) => String(r.headers['www-authenticate']);

  test('end to end: challenge, token for the scope, push and pull; other repositories and pull-only tokens refused', async () => {
    const first = await call(reg.addr, 'POST', '/v2/team/app/blobs/uploads/');
    assert.equal(first.status, 401);
    assert.equal(errorCode(first), 'UNAUTHORIZED');
    assert.equal(challengeOf(first), `Bearer realm="http://${reg.addr}/token",service="berth-test",scope="repository:team/app:push"`);

    const rw = await token(['repository:team/app:pull,push'], basic('alice', 's3cret'));
    const claims = JSON.parse(Buffer.from(rw.split('.')[1], 'base64url').toString());
    assert.equal(claims.iss, 'berth-test-issuer');
    assert.equal(claims.aud, 'berth-test');
    assert.equal(claims.sub, 'alice');
    assert.deepEqual(claims.access, [{ type: 'repository', name: 'team/app', actions: ['pull', 'push'] }]);
    const data = 'layer bytes';
    const d = digestOf(data);
    assert.equal((await call(reg.addr, 'POST', `/v2/team/app/blobs/uploads/?digest=${d}`, { body: data, headers: bearer(rw) })).status, 201);
    assert.equal((await call(reg.addr, 'GET', `/v2/team/app/blobs/${d}`, { headers: bearer(rw) })).body.toString(), data);

    // The same token for another repository: refused, and the challenge names the scope needed.
    const other = await call(reg.addr, 'GET', `/v2/team/other/blobs/${d}`, { headers: bearer(rw) });
    assert.equal(other.status, 401);
    assert.equal(errorCode(other), 'UNAUTHORIZED');
    assert.match(challengeOf(other), /scope="repository:team\/other:pull",error="insufficient_scope"/);
    // Mounting from a repository the token has no pull on is refused too.
    const mount = await call(reg.addr, 'POST', `/v2/team/app/blobs/uploads/?mount=${d}&from=team/secret`, { headers: bearer(rw) });
    assert.equal(mount.status, 401);

    // A pull-only token pulls but cannot push.
    const ro = await token(['repository:team/app:pull'], basic('bob', 'hunter2'));
    assert.equal((await call(reg.addr, 'HEAD', `/v2/team/app/blobs/${d}`, { headers: bearer(ro) })).status, 200);
    const push = await call(reg.addr, 'POST', '/v2/team/app/blobs/uploads/', { headers: bearer(ro) });
    assert.equal(push.status, 401);
    assert.match(challengeOf(push), /scope="repository:team\/app:push",error="insufficient_scope"/);
    assert.equal((await call(reg.addr, 'DELETE', `/v2/team/app/blobs/${d}`, { headers: bearer(ro) })).status, 401);

    // Anonymous: pull only (--anonymous-pull), whatever was asked.
    const anon = await token(['repository:team/app:pull,push']);
    assert.deepEqual(JSON.parse(Buffer.from(anon.split('.')[1], 'base64url').toString()).access, [{ type: 'repository', name: 'team/app', actions: ['pull'] }]);
    assert.equal((await call(reg.addr, 'POST', '/v2/team/app/blobs/uploads/', { headers: bearer(anon) })).status, 401);
  });

  test('the token endpoint refuses wrong credentials; forged and foreign tokens are refused', async () => {
    const r = await call(reg.addr, 'GET', '/token?service=berth-test&scope=repository:team/app:pull', { headers: { Authorization: basic('alice', 'wrong') } });
    assert.equal(r.status, 401);
    assert.equal(errorCode(r), 'UNAUTHORIZED');
    assert.equal((await call(reg.addr, 'GET', '/token?service=elsewhere', { headers: { Authorization: basic('alice', 's3cret') } })).status, 400);

    const good = await token(['repository:team/app:pull,push'], basic('alice', 's3cret'));
    const [h, , s] = good.split('.');
    const widened = Buffer.from(JSON.stringify({ iss: 'berth-test-issuer', aud: 'berth-test', exp: 2e9, access: [{ type: 'repository', name: 'team/secret', actions: ['*'] }] })).toString('base64url');
    const forged = await call(reg.addr, 'GET', '/v2/team/secret/tags/list', { headers: bearer(`${h}.${widened}.${s}`) });
    assert.equal(forged.status, 401);
    assert.match(challengeOf(forged), /error="invalid_token"/);
    // Signed by another key, or for another service, or expired.
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const claims = { iss: 'berth-test-issuer', aud: 'berth-test', exp: Math.floor(Date.now() / 1000) + 60, access: [{ type: 'repository', name: 'team/app', actions: ['pull'] }] };
    assert.equal((await call(reg.addr, 'GET', '/v2/team/app/tags/list', { headers: bearer(signJwt(claims, otherKey)) })).status, 401);
    const key = createPrivateKey(readFileSync(ecKey));
    assert.equal((await call(reg.addr, 'GET', '/v2/team/app/tags/list', { headers: bearer(signJwt(claims, key)) })).status, 200);
    assert.equal((await call(reg.addr, 'GET', '/v2/team/app/tags/list', { headers: bearer(signJwt({ ...claims, aud: 'other' }, key)) })).status, 401);
    assert.equal((await call(reg.addr, 'GET', '/v2/team/app/tags/list', { headers: bearer(signJwt({ ...claims, exp: Math.floor(Date.now() / 1000) - 1 }, key)) })).status, 401);
  });

  test('the engine registry client runs the bearer flow against it', async () => {
    const t = new RegistryTransport(reg.addr, { username: 'alice', password: 's3cret' });
    const data = Buffer.from('from the engine client');
    const d = digestOf(data);
    const res = await t.request('POST', `/v2/engine/app/blobs/uploads/?digest=${d}`, { body: () => data, scopes: ['repository:engine/app:pull,push'] });
    await readBody(res, 1 << 20);
    assert.equal(res.statusCode, 201);
    const got = await t.request('GET', `/v2/engine/app/blobs/${d}`, { scopes: ['repository:engine/app:pull'] });
    assert.equal((await readBody(got, 1 << 20)).toString(), data.toString());
    // Wrong credentials: the token endpoint says no.
    const bad = new RegistryTransport(reg.addr, { username: 'alice', password: 'nope' });
    await assert.rejects(bad.request('GET', '/v2/engine/app/tags/list', { scopes: ['repository:engine/app:pull'] }), (e: Error & { kind?: string }) => e.kind === 'Unauthenticated');
  });

  test('skopeo --creds runs the bearer flow (push, copy across repositories, inspect)', { skip: skipSkopeo }, async () => {
    const a = reg.addr;
    await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', 'alice:s3cret', `docker-archive:${getArchive()}`, `docker://${a}/library/busybox:latest`]);
    await skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', '--src-creds', 'alice:s3cret', '--dest-creds', 'alice:s3cret', `docker://${a}/library/busybox:latest`, `docker://${a}/copies/bb:1`]);
    const info = JSON.parse(await skopeo(['inspect', '--tls-verify=false', '--creds', 'bob:hunter2', `docker://${a}/copies/bb:1`]));
    assert.equal(info.Layers.length, 1);
    // Anonymous pull is allowed on this server; anonymous push is not.
    assert.equal(JSON.parse(await skopeo(['inspect', '--tls-verify=false', '--no-creds', `docker://${a}/copies/bb:1`])).Digest, info.Digest);
    await assert.rejects(skopeo(['copy', '--dest-tls-verify=false', '--dest-no-creds', `docker-archive:${getArchive()}`, `docker://${a}/anon/bb:1`]), /unauthorized|authentication required|denied/i);
    await assert.rejects(skopeo(['inspect', '--tls-verify=false', '--creds', 'alice:wrong', `docker://${a}/copies/bb:1`]), /unauthorized|invalid username/i);
  });
});

describe('TLS', () => {
  let reg: TestRegistry;
  let certDir: string;
  before(async () => {
    certDir = join(tmp.dir, 'certs');
    mkdirSync(certDir);
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(certDir, 'server.key'), '-out', join(certDir, 'server.crt')], { stdio: 'ignore' });
    reg = await startTestRegistry({ htpasswd: htpasswdFile, tls: { certFile: join(certDir, 'server.crt'), keyFile: join(certDir, 'server.key') } });
    // skopeo's cert dir: *.crt files are CAs; the self-signed certificate is its own CA.
    mkdirSync(join(certDir, 'ca'));
    copyFileSync(join(certDir, 'server.crt'), join(certDir, 'ca', 'ca.crt'));
  });
  after(async () => { await reg?.dispose(); });

  test('serves HTTPS with the certificate; plain HTTP gets no registry', async () => {
    assert.equal(reg.scheme, 'https');
    const [host, port] = reg.addr.split(':');
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host, port: Number(port), path: '/v2/', ca: readFileSync(join(certDir, 'server.crt')), headers: { Authorization: basic('alice', 's3cret') } }, (res) => { res.resume(); resolve(res.statusCode ?? 0); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
    await assert.rejects(call(reg.addr, 'GET', '/v2/').then((r) => { if (r.status === 200) throw new Error('served over http'); throw new Error('refused'); }));
  });

  test('skopeo pushes over verified TLS (--dest-cert-dir) and inspects', { skip: skipSkopeo }, async () => {
    await skopeo(['copy', '--dest-cert-dir', join(certDir, 'ca'), '--dest-creds', 'alice:s3cret', `docker-archive:${getArchive()}`, `docker://${reg.addr}/tls/bb:1`]);
    const info = JSON.parse(await skopeo(['inspect', '--cert-dir', join(certDir, 'ca'), '--creds', 'alice:s3cret', `docker://${reg.addr}/tls/bb:1`]));
    assert.equal(info.Layers.length, 1);
    // Without the CA, verification fails.
    await assert.rejects(skopeo(['inspect', '--creds', 'alice:s3cret', `docker://${reg.addr}/tls/bb:1`]), /certificate|x509/i);
  });
});
