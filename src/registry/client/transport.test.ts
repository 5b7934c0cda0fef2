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

/** Serves `blob` at /v2/a/b/blobs/x in 64 KiB writes; `mode` picks how it answers; `connections` notes each request's Connection header. */
async function blobServer(blob: Buffer, mode: 'plain' | 'bearer' | 'chunked' | 'stall'): Promise<{ server: Server; addr: string; connections: string[] }> {
  const connections: string[] = [];
  const server = createServer((req, res) => {
    const addr = `127.0.0.1:${(server.address() as AddressInfo).port}`;
    if (req.url?.startsWith('/token')) { res.end(JSON.stringify({ token: 't1' })); return; }
    if (req.url === '/v2/') { res.end('{}'); return; } // no challenge yet: the blob GET meets it first
    if (mode === 'bearer' && req.headers.authorization !== 'Bearer t1') {
      res.writeHead(401, { 'WWW-Authenticate': `Bearer realm="http://${addr}/token",service="fake"`, 'Content-Length': 2 });
      res.end('{}');
      return;
    }
    connections.push(String(req.headers.connection));
    if (mode === 'chunked') res.writeHead(200); // no Content-Length: chunked encoding
    else res.writeHead(200, { 'Content-Length': blob.length });
    let off = 0;
    const more = () => {
      while (off < blob.length) {
        if (mode === 'stall' && off >= blob.length / 2) return; // never finishes
        const ok = res.write(blob.subarray(off, off + 65536));
        off += 65536;
        if (!ok) { res.once('drain', more); return; }
      }
      res.end();
    };
    more();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, addr: `127.0.0.1:${(server.address() as AddressInfo).port}`, connections };
}

test('getBody: on plain HTTP the body is read off the socket, intact with a slow reader; challenges and chunked answers go through node http', async () => {
  const blob = Buffer.from(Array.from({ length: 24 << 20 }, (_, i) => (i * 7919) % 251));
  for (const mode of ['plain', 'bearer', 'chunked'] as const) {
    const f = await blobServer(blob, mode);
    try {
      const t = new RegistryTransport(f.addr);
      (await t.request('GET', '/v2/', { scopes: ['repository:a/b:pull'] })).resume(); // the endpoint has answered
      const res = await t.getBody('/v2/a/b/blobs/x', { scopes: ['repository:a/b:pull'] });
      assert.equal(res.statusCode, 200);
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of res) {
        chunks.push(c as Buffer);
        if (++n % 8 === 0) await new Promise((r) => setTimeout(r, 2));
      }
      assert.ok(Buffer.concat(chunks).equals(blob), mode);
      // plain: one raw GET (Connection: close); bearer: the raw attempt meets the challenge, node http
      // fetches the token and repeats the GET; chunked: the raw attempt is dropped at the head and asked again.
      if (mode === 'plain') assert.deepEqual(f.connections, ['close'], mode);
      else assert.equal(f.connections.at(-1), 'keep-alive', mode);
    } finally {
      f.server.closeAllConnections();
      f.server.close();
    }
  }
});

test('getBody: a connection that drops mid-body is an error; an abort is Canceled', async () => {
  const blob = Buffer.alloc(8 << 20, 3);
  const f = await blobServer(blob, 'stall');
  try {
    const t = new RegistryTransport(f.addr);
    (await t.request('GET', '/v2/')).resume();
    const res = await t.getBody('/v2/a/b/blobs/x');
    let n = 0;
    const read = (async () => { for await (const c of res) n += (c as Buffer).length; })();
    await new Promise((r) => setTimeout(r, 100));
    f.server.closeAllConnections();
    await assert.rejects(read, /aborted|hang up|ECONNRESET/);
    assert.ok(n > 0 && n < blob.length);
    const ac = new AbortController();
    const res2 = await t.getBody('/v2/a/b/blobs/x', { signal: ac.signal });
    const read2 = (async () => { for await (const _ of res2) ac.abort(); })();
    await assert.rejects(read2, (e) => isKind(e, 'Canceled'));
  } finally {
    f.server.closeAllConnections();
    f.server.close();
  }
});
