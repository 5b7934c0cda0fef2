import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isKind } from '../../base/errors';
import { parseChallenges } from './auth-challenge';
import { DistributionClient, loginDomain } from './distribution-client';
import { RegistryTransport, isLoopbackDomain, registryBase } from './transport';
import type { PullTarget } from './registry-client';

test('parseChallenges: bearer with quoted params, basic, several in one header', () => {
  assert.deepEqual(parseChallenges('Bearer realm="http://127.0.0.1:1/token",service="reg",scope="repository:a/b:pull,push"'), [
    { scheme: 'bearer', params: { realm: 'http://127.0.0.1:1/token', service: 'reg', scope: 'repository:a/b:pull,push' } },
  ]);
  assert.deepEqual(parseChallenges('Basic realm="Registry Realm"'), [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]);
  assert.deepEqual(parseChallenges(['Basic realm=x', 'Bearer realm="r", service=s']).map((c) => c.scheme), ['basic', 'bearer']);
  assert.deepEqual(parseChallenges(undefined), []);
});

test('loopback rule and docker.io fail fast without network', () => {
  assert.ok(isLoopbackDomain('127.0.0.1:5000'));
  assert.ok(isLoopbackDomain('127.9.8.7'));
  assert.ok(isLoopbackDomain('localhost:5000'));
  assert.ok(isLoopbackDomain('[::1]:5000'));
  assert.ok(!isLoopbackDomain('example.com:5000'));
  assert.equal(registryBase('127.0.0.1:5000').protocol, 'http:');
  assert.equal(registryBase('registry.example').protocol, 'https:');
  assert.throws(() => registryBase('docker.io'), (e) => isKind(e, 'Unavailable'));
  assert.equal(loginDomain('https://index.docker.io/v1/'), 'docker.io');
  assert.equal(loginDomain('http://127.0.0.1:5000/v2/'), '127.0.0.1:5000');
});

/** A registry that wants `Bearer good-token` on /v2/ and issues it to user:pass from /token. */
async function fakeRegistry(mode: 'bearer' | 'basic'): Promise<{ server: Server; addr: string; tokenRequests: string[] }> {
  const tokenRequests: string[] = [];
  const basic = `Basic ${Buffer.from('user:pass').toString('base64')}`;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url?.startsWith('/token')) {
      tokenRequests.push(req.url);
      if (req.headers.authorization !== basic) { res.writeHead(401); res.end('{"details":"bad creds"}'); return; }
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ token: 'good-token' }));
      return;
    }
    const ok = mode === 'bearer' ? req.headers.authorization === 'Bearer good-token' : req.headers.authorization === basic;
    if (!ok) {
      res.writeHead(401, {
        'Content-Type': 'application/json',
        'WWW-Authenticate': mode === 'bearer' ? `Bearer realm="http://${addr}/token",service="fake",scope="repository:a/b:pull"` : 'Basic realm="fake"',
      });
      res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end('{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, tokenRequests };
}

const noStore = {} as PullTarget;

test('bearer challenge: token fetched with basic credentials and scopes, request repeated', async () => {
  const f = await fakeRegistry('bearer');
  try {
    const t = new RegistryTransport(f.addr, { username: 'user', password: 'pass' });
    const res = await t.request('GET', '/v2/a/b/tags/list', { scopes: ['repository:a/b:pull,push'] });
    res.resume();
    assert.equal(res.statusCode, 200);
    assert.equal(f.tokenRequests.length, 1);
    const u = new URL(f.tokenRequests[0], 'http://x');
    assert.equal(u.searchParams.get('service'), 'fake');
    assert.deepEqual(u.searchParams.getAll('scope').sort(), ['repository:a/b:pull', 'repository:a/b:pull,push']);
    await new DistributionClient(noStore).login(f.addr, { username: 'user', password: 'pass' });
    await assert.rejects(new DistributionClient(noStore).login(f.addr, { username: 'user', password: 'wrong' }), (e) => isKind(e, 'Unauthenticated'));
    await assert.rejects(new DistributionClient(noStore).login(f.addr, {}), (e) => isKind(e, 'Unauthenticated'));
  } finally {
    f.server.close();
  }
});

test('basic challenge: request repeated with basic credentials; wrong ones are Unauthenticated', async () => {
  const f = await fakeRegistry('basic');
  try {
    await new DistributionClient(noStore).login(`http://${f.addr}/v2/`, { username: 'user', password: 'pass' });
    await assert.rejects(new DistributionClient(noStore).login(f.addr, { username: 'user', password: 'nope' }), (e) => isKind(e, 'Unauthenticated'));
    await assert.rejects(new DistributionClient(noStore).login('docker.io', { username: 'u', password: 'p' }), (e) => isKind(e, 'Unavailable'));
  } finally {
    f.server.close();
  }
});
