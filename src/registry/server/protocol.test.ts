// The distribution API endpoint by endpoint, with node's http client against a real server on
// 127.0.0.1 (port 0, temp root): status codes, headers, error codes, and what is stored.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { call, digestOf, errorCode, pushBlob, pushImage, startTestRegistry, type TestRegistry } from './testing/fixtures';

async function withRegistry(fn: (reg: TestRegistry, a: string) => Promise<void>, opts: { readOnly?: boolean } = {}): Promise<void> {
  const reg = await startTestRegistry(opts);
  try { await fn(reg, reg.addr); } finally { await reg.dispose(); }
}

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const DOCKER_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';

test('GET /v2/ answers 200 with the API version header', () => withRegistry(async (_r, a) => {
  const r = await call(a, 'GET', '/v2/');
  assert.equal(r.status, 200);
  assert.equal(r.headers['docker-distribution-api-version'], 'registry/2.0');
}));

test('blobs: monolithic POST, HEAD, GET, Range, DELETE', () => withRegistry(async (_r, a) => {
  const data = Buffer.from('0123456789abcdef');
  const d = digestOf(data);
  const up = await call(a, 'POST', `/v2/lib/x/blobs/uploads/?digest=${d}`, { body: data });
  assert.equal(up.status, 201);
  assert.equal(up.headers.location, `/v2/lib/x/blobs/${d}`);
  assert.equal(up.headers['docker-content-digest'], d);

  const head = await call(a, 'HEAD', `/v2/lib/x/blobs/${d}`);
  assert.equal(head.status, 200);
  assert.equal(head.headers['content-length'], '16');
  assert.equal(head.headers['docker-content-digest'], d);
  const get = await call(a, 'GET', `/v2/lib/x/blobs/${d}`);
  assert.deepEqual(get.body, data);

  const part = await call(a, 'GET', `/v2/lib/x/blobs/${d}`, { headers: { Range: 'bytes=4-7' } });
  assert.equal(part.status, 206);
  assert.equal(part.body.toString(), '4567');
  assert.equal(part.headers['content-range'], 'bytes 4-7/16');
  const tail = await call(a, 'GET', `/v2/lib/x/blobs/${d}`, { headers: { Range: 'bytes=-3' } });
  assert.equal(tail.body.toString(), 'def');
  const bad = await call(a, 'GET', `/v2/lib/x/blobs/${d}`, { headers: { Range: 'bytes=20-30' } });
  assert.equal(bad.status, 416);

  // Another repository does not see the blob; a blob never pushed is BLOB_UNKNOWN.
  const other = await call(a, 'GET', `/v2/lib/y/blobs/${d}`);
  assert.equal(other.status, 404);
  assert.equal(errorCode(other), 'BLOB_UNKNOWN');

  const del = await call(a, 'DELETE', `/v2/lib/x/blobs/${d}`);
  assert.equal(del.status, 202);
  assert.equal((await call(a, 'HEAD', `/v2/lib/x/blobs/${d}`)).status, 404);
  assert.equal(errorCode(await call(a, 'DELETE', `/v2/lib/x/blobs/${d}`)), 'BLOB_UNKNOWN');
  assert.equal(errorCode(await call(a, 'GET', '/v2/lib/x/blobs/sha256:1234')), 'DIGEST_INVALID');
}));

test('blobs: monolithic POST with a wrong digest is DIGEST_INVALID and stores nothing', () => withRegistry(async (reg, a) => {
  const wrong = digestOf('something else');
  const r = await call(a, 'POST', `/v2/x/blobs/uploads/?digest=${wrong}`, { body: 'hello' });
  assert.equal(r.status, 400);
  assert.equal(errorCode(r), 'DIGEST_INVALID');
  assert.equal((await call(a, 'HEAD', `/v2/x/blobs/${wrong}`)).status, 404);
  assert.equal((await call(a, 'HEAD', `/v2/x/blobs/${digestOf('hello')}`)).status, 404);
  assert.deepEqual(readdirSync(join(reg.root, 'blobs', 'sha256')), []);
  assert.deepEqual(readdirSync(join(reg.root, 'uploads')).filter((f) => f !== '.tmp'), []);
}));

test('uploads: chunked PATCH with Content-Range, status, out-of-order chunk 416, PUT with the last chunk', () => withRegistry(async (_r, a) => {
  const data = Buffer.from('The quick brown fox jumps over the lazy dog');
  const d = digestOf(data);
  const start = await call(a, 'POST', '/v2/chunky/blobs/uploads/');
  assert.equal(start.status, 202);
  const loc = String(start.headers.location);
  assert.match(loc, /^\/v2\/chunky\/blobs\/uploads\/[0-9a-f-]{36}$/);
  assert.equal(start.headers.range, '0-0');
  assert.ok(start.headers['docker-upload-uuid']);

  const p1 = await call(a, 'PATCH', loc, { body: data.subarray(0, 10), headers: { 'Content-Range': '0-9', 'Content-Type': 'application/octet-stream' } });
  assert.equal(p1.status, 202);
  assert.equal(p1.headers.range, '0-9');
  // A chunk that does not continue the upload: 416, nothing changes.
  const ooo = await call(a, 'PATCH', loc, { body: data.subarray(20, 30), headers: { 'Content-Range': '20-29' } });
  assert.equal(ooo.status, 416);
  assert.equal(errorCode(ooo), 'BLOB_UPLOAD_INVALID');
  const mismatch = await call(a, 'PATCH', loc, { body: data.subarray(10, 20), headers: { 'Content-Range': '10-25' } });
  assert.equal(mismatch.status, 416);
  const st = await call(a, 'GET', loc);
  assert.equal(st.status, 204);
  assert.equal(st.headers.range, '0-9');

  // A chunk without Content-Range (streamed) is appended too.
  const p2 = await call(a, 'PATCH', loc, { body: data.subarray(10, 30) });
  assert.equal(p2.headers.range, '0-29');
  const fin = await call(a, 'PUT', `${loc}?digest=${d}`, { body: data.subarray(30), headers: { 'Content-Range': `30-${data.length - 1}` } });
  assert.equal(fin.status, 201);
  assert.equal(fin.headers['docker-content-digest'], d);
  assert.deepEqual((await call(a, 'GET', `/v2/chunky/blobs/${d}`)).body, data);
  // The session is over.
  assert.equal(errorCode(await call(a, 'GET', loc)), 'BLOB_UPLOAD_UNKNOWN');
}));

test('uploads: PUT with a wrong digest, unknown and foreign sessions, DELETE cancels', () => withRegistry(async (_r, a) => {
  const s1 = String((await call(a, 'POST', '/v2/r1/blobs/uploads/')).headers.location);
  await call(a, 'PATCH', s1, { body: 'abc' });
  const bad = await call(a, 'PUT', `${s1}?digest=${digestOf('abd')}`);
  assert.equal(bad.status, 400);
  assert.equal(errorCode(bad), 'DIGEST_INVALID');
  assert.equal((await call(a, 'HEAD', `/v2/r1/blobs/${digestOf('abd')}`)).status, 404);
  assert.equal((await call(a, 'HEAD', `/v2/r1/blobs/${digestOf('abc')}`)).status, 404);

  const s2 = String((await call(a, 'POST', '/v2/r1/blobs/uploads/')).headers.location);
  const id = s2.split('/').pop();
  // A session belongs to its repository.
  assert.equal(errorCode(await call(a, 'GET', `/v2/r2/blobs/uploads/${id}`)), 'BLOB_UPLOAD_UNKNOWN');
  assert.equal(errorCode(await call(a, 'GET', '/v2/r1/blobs/uploads/not-a-uuid')), 'BLOB_UPLOAD_UNKNOWN');
  assert.equal(errorCode(await call(a, 'PUT', `${s2}`)), 'DIGEST_INVALID');
  assert.equal((await call(a, 'DELETE', s2)).status, 204);
  assert.equal((await call(a, 'GET', s2)).status, 404);
  assert.equal(errorCode(await call(a, 'DELETE', s2)), 'BLOB_UPLOAD_UNKNOWN');
}));

/** Sends a request whose body stops before its Content-Length, then hangs up. */
function truncated(addr: string, method: string, path: string, declared: number, sent: Buffer): Promise<void> {
  const [host, port] = addr.split(':');
  return new Promise((resolve) => {
    const s = connect(Number(port), host, () => {
      s.write(`${method} ${path} HTTP/1.1\r\nHost: ${addr}\r\nContent-Length: ${declared}\r\n\r\n`);
      s.write(sent, () => setTimeout(() => s.destroy(), 50));
    });
    s.on('close', () => resolve());
    s.on('error', () => resolve());
  });
}

test('uploads: a truncated body stores nothing (monolithic) and is dropped whole (chunk)', () => withRegistry(async (reg, a) => {
  const data = Buffer.alloc(100_000, 7);
  const d = digestOf(data);
  await truncated(a, 'POST', `/v2/t/blobs/uploads/?digest=${d}`, data.length, data.subarray(0, 40_000));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await call(a, 'HEAD', `/v2/t/blobs/${d}`)).status, 404);
  assert.deepEqual(readdirSync(join(reg.root, 'blobs', 'sha256')), []);

  const loc = String((await call(a, 'POST', '/v2/t/blobs/uploads/')).headers.location);
  await call(a, 'PATCH', loc, { body: data.subarray(0, 30_000), headers: { 'Content-Range': '0-29999' } });
  await truncated(a, 'PATCH', loc, 70_000, data.subarray(30_000, 50_000));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await call(a, 'GET', loc)).headers.range, '0-29999');
  // The client resumes from the status it was given.
  const p = await call(a, 'PATCH', loc, { body: data.subarray(30_000), headers: { 'Content-Range': `30000-${data.length - 1}` } });
  assert.equal(p.status, 202);
  assert.equal((await call(a, 'PUT', `${loc}?digest=${d}`)).status, 201);
  assert.deepEqual((await call(a, 'GET', `/v2/t/blobs/${d}`)).body, data);
}));

test('uploads: a PUT whose last chunk is cut off leaves the session where it was; the retried PUT completes', () => withRegistry(async (reg, a) => {
  const data = Buffer.alloc(200_000);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31) & 0xff;
  const d = digestOf(data);
  const loc = String((await call(a, 'POST', '/v2/resume/blobs/uploads/')).headers.location);
  await call(a, 'PATCH', loc, { body: data.subarray(0, 50_000), headers: { 'Content-Range': '0-49999' } });
  // The last chunk comes with the PUT (as berth's client sends a blob) and the connection drops.
  await truncated(a, 'PUT', `${loc}?digest=${d}`, 150_000, data.subarray(50_000, 120_000));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal((await call(a, 'GET', loc)).headers.range, '0-49999');
  assert.equal((await call(a, 'HEAD', `/v2/resume/blobs/${d}`)).status, 404);
  const fin = await call(a, 'PUT', `${loc}?digest=${d}`, { body: data.subarray(50_000), headers: { 'Content-Range': `50000-${data.length - 1}` } });
  assert.equal(fin.status, 201);
  assert.deepEqual((await call(a, 'GET', `/v2/resume/blobs/${d}`)).body, data);
  assert.deepEqual(readdirSync(join(reg.root, 'uploads')).filter((f) => f !== '.tmp'), []);
}));

test('uploads: a PUT with a body and a wrong digest is DIGEST_INVALID, keeps no blob and ends the session', () => withRegistry(async (reg, a) => {
  const loc = String((await call(a, 'POST', '/v2/bad/blobs/uploads/')).headers.location);
  await call(a, 'PATCH', loc, { body: 'first half, ' });
  const bad = await call(a, 'PUT', `${loc}?digest=${digestOf('something else')}`, { body: 'second half' });
  assert.equal(bad.status, 400);
  assert.equal(errorCode(bad), 'DIGEST_INVALID');
  assert.equal((await call(a, 'HEAD', `/v2/bad/blobs/${digestOf('first half, second half')}`)).status, 404);
  assert.deepEqual(readdirSync(join(reg.root, 'blobs', 'sha256')), []);
  assert.deepEqual(readdirSync(join(reg.root, 'uploads')).filter((f) => f !== '.tmp'), []);
  assert.equal(errorCode(await call(a, 'GET', loc)), 'BLOB_UPLOAD_UNKNOWN');
}));

test('uploads: a session outlives a server restart between chunks (its state and digest come from disk)', async () => {
  const first = await startTestRegistry();
  const data = Buffer.from('a blob pushed in three chunks, across a restart of the registry');
  const d = digestOf(data);
  let second: TestRegistry | undefined;
  try {
    const loc = String((await call(first.addr, 'POST', '/v2/restart/blobs/uploads/')).headers.location);
    await call(first.addr, 'PATCH', loc, { body: data.subarray(0, 10), headers: { 'Content-Range': '0-9' } });
    await first.close();
    second = await startTestRegistry({ root: first.root });
    const a = second.addr;
    assert.equal((await call(a, 'GET', loc)).headers.range, '0-9');
    assert.equal((await call(a, 'PATCH', loc, { body: data.subarray(10, 20), headers: { 'Content-Range': '10-19' } })).headers.range, '0-19');
    // A wrong digest first: the content is hashed from the file, and the session ends.
    const bad = await call(a, 'PUT', `${loc}?digest=${digestOf('no')}`, { body: data.subarray(20) });
    assert.equal(errorCode(bad), 'DIGEST_INVALID');
    assert.deepEqual(readdirSync(join(second.root, 'blobs', 'sha256')), []);
    // Again from the start, across another restart; the last chunk comes with the PUT.
    const loc2 = String((await call(a, 'POST', '/v2/restart/blobs/uploads/')).headers.location);
    await call(a, 'PATCH', loc2, { body: data.subarray(0, 20) });
    await second.close();
    second = await startTestRegistry({ root: first.root });
    const fin = await call(second.addr, 'PUT', `${loc2}?digest=${d}`, { body: data.subarray(20), headers: { 'Content-Range': `20-${data.length - 1}` } });
    assert.equal(fin.status, 201);
    assert.deepEqual((await call(second.addr, 'GET', `/v2/restart/blobs/${d}`)).body, data);
  } finally {
    await (second ?? first).dispose();
  }
});

test('blobs: an empty blob, monolithic and through a session; a range past the end is 416', () => withRegistry(async (_r, a) => {
  const empty = digestOf('');
  assert.equal((await call(a, 'POST', `/v2/e/blobs/uploads/?digest=${empty}`, { body: '' })).status, 201);
  const loc = String((await call(a, 'POST', '/v2/e2/blobs/uploads/')).headers.location);
  assert.equal((await call(a, 'PUT', `${loc}?digest=${empty}`)).status, 201);
  for (const repo of ['e', 'e2']) {
    const g = await call(a, 'GET', `/v2/${repo}/blobs/${empty}`);
    assert.equal(g.status, 200);
    assert.equal(g.body.length, 0);
  }
  const d = digestOf('0123456789');
  await call(a, 'POST', `/v2/e/blobs/uploads/?digest=${d}`, { body: '0123456789' });
  assert.equal((await call(a, 'GET', `/v2/e/blobs/${d}`, { headers: { Range: 'bytes=10-' } })).status, 416);
  assert.equal((await call(a, 'HEAD', `/v2/e/blobs/${d}`, { headers: { Range: 'bytes=10-' } })).status, 416);
  assert.equal((await call(a, 'GET', `/v2/e/blobs/${d}`, { headers: { Range: 'bytes=8-' } })).body.toString(), '89');
  assert.equal(errorCode(await call(a, 'GET', `/v2/e2/blobs/${d}`)), 'BLOB_UNKNOWN');
}));

test('uploads: concurrent pushes of the same blob to several repositories are all complete', () => withRegistry(async (_r, a) => {
  const data = Buffer.alloc(2_000_000, 'z');
  const d = digestOf(data);
  const results = await Promise.all(Array.from({ length: 6 }, async (_, i) => {
    if (i % 2) return (await call(a, 'POST', `/v2/same${i % 3}/blobs/uploads/?digest=${d}`, { body: data })).status;
    const loc = String((await call(a, 'POST', `/v2/same${i % 3}/blobs/uploads/`)).headers.location);
    await call(a, 'PATCH', loc, { body: data.subarray(0, 1_000_000) });
    await call(a, 'PATCH', loc, { body: data.subarray(1_000_000) });
    return (await call(a, 'PUT', `${loc}?digest=${d}`)).status;
  }));
  assert.deepEqual(results, [201, 201, 201, 201, 201, 201]);
  for (const repo of ['same0', 'same1', 'same2']) assert.deepEqual((await call(a, 'GET', `/v2/${repo}/blobs/${d}`)).body, data);
}));

test('uploads: cross-repository mount, and fallback to an upload session', () => withRegistry(async (_r, a) => {
  const d = await pushBlob(a, 'src/repo', 'shared layer');
  const m = await call(a, 'POST', `/v2/dst/repo/blobs/uploads/?mount=${d}&from=src/repo`);
  assert.equal(m.status, 201);
  assert.equal(m.headers.location, `/v2/dst/repo/blobs/${d}`);
  assert.equal(m.headers['docker-content-digest'], d);
  assert.equal((await call(a, 'GET', `/v2/dst/repo/blobs/${d}`)).body.toString(), 'shared layer');
  // From a repository that lacks the blob: a new upload session instead (spec: 202).
  const fb = await call(a, 'POST', `/v2/dst/other/blobs/uploads/?mount=${d}&from=nothing/here`);
  assert.equal(fb.status, 202);
  assert.match(String(fb.headers.location), /\/v2\/dst\/other\/blobs\/uploads\//);
  assert.equal((await call(a, 'HEAD', `/v2/dst/other/blobs/${d}`)).status, 404);
  assert.equal(errorCode(await call(a, 'POST', `/v2/dst/repo/blobs/uploads/?mount=${d}&from=Bad/..`)), 'NAME_INVALID');
}));

test('manifests: PUT/GET/HEAD by tag and digest, Content-Type, Docker-Content-Digest, Accept negotiation', () => withRegistry(async (_r, a) => {
  const { digest, body } = await pushImage(a, 'app', 'v1');
  for (const ref of ['v1', digest]) {
    const g = await call(a, 'GET', `/v2/app/manifests/${ref}`, { headers: { Accept: `${OCI_MANIFEST}, ${DOCKER_MANIFEST}` } });
    assert.equal(g.status, 200);
    assert.equal(g.headers['content-type'], OCI_MANIFEST);
    assert.equal(g.headers['docker-content-digest'], digest);
    assert.deepEqual(g.body, body);
    const h = await call(a, 'HEAD', `/v2/app/manifests/${ref}`);
    assert.equal(h.status, 200);
    assert.equal(h.headers['content-length'], String(body.length));
  }
  // A client that accepts only Docker manifests is not handed an OCI one.
  const na = await call(a, 'GET', '/v2/app/manifests/v1', { headers: { Accept: DOCKER_MANIFEST } });
  assert.equal(na.status, 404);
  assert.equal(errorCode(na), 'MANIFEST_UNKNOWN');
  assert.equal((await call(a, 'GET', '/v2/app/manifests/v1', { headers: { Accept: '*/*' } })).status, 200);
  // Docker schema 2 manifest and an index / manifest list over it.
  const cfg = await pushBlob(a, 'app', '{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
  const dm = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: { mediaType: 'application/vnd.docker.container.image.v1+json', digest: cfg, size: 80 }, layers: [] }));
  const p = await call(a, 'PUT', '/v2/app/manifests/docker', { body: dm, headers: { 'Content-Type': DOCKER_MANIFEST } });
  assert.equal(p.status, 201);
  assert.equal(p.headers['docker-content-digest'], digestOf(dm));
  assert.equal(p.headers.location, `/v2/app/manifests/${digestOf(dm)}`);
  for (const type of [OCI_INDEX, DOCKER_LIST]) {
    const idx = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: type, manifests: [
      { mediaType: OCI_MANIFEST, digest, size: body.length, platform: { architecture: 'amd64', os: 'linux' } },
      { mediaType: DOCKER_MANIFEST, digest: digestOf(dm), size: dm.length, platform: { architecture: 'arm64', os: 'linux' } },
    ] }));
    assert.equal((await call(a, 'PUT', `/v2/app/manifests/${digestOf(idx)}`, { body: idx, headers: { 'Content-Type': type } })).status, 201);
    const g = await call(a, 'GET', `/v2/app/manifests/${digestOf(idx)}`, { headers: { Accept: type } });
    assert.equal(g.headers['content-type'], type);
  }
}));

test('manifests: bad input gets the spec code and changes nothing', () => withRegistry(async (_r, a) => {
  const { body } = await pushImage(a, 'app', 'v1');
  const put = (ref: string, b: Buffer | string, type = OCI_MANIFEST) => call(a, 'PUT', `/v2/app/manifests/${ref}`, { body: b, headers: { 'Content-Type': type } });
  // Oversized: refused on the declared length, and on the actual one.
  const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
  const o = await put('big', big);
  assert.equal(o.status, 413);
  assert.equal(errorCode(o), 'SIZE_INVALID');
  // Unknown media type.
  const u = await put('weird', body, 'application/vnd.example.thing+json');
  assert.equal(u.status, 415);
  assert.equal(errorCode(u), 'UNSUPPORTED');
  // Not JSON, wrong schema, body type differs from Content-Type.
  assert.equal(errorCode(await put('bad', 'not json')), 'MANIFEST_INVALID');
  assert.equal(errorCode(await put('bad', JSON.stringify({ schemaVersion: 1 }))), 'MANIFEST_INVALID');
  assert.equal(errorCode(await put('bad', body, DOCKER_MANIFEST)), 'MANIFEST_INVALID');
  // Digest reference that does not match the body.
  assert.equal(errorCode(await put(digestOf('x'), body)), 'DIGEST_INVALID');
  // Invalid tag.
  assert.equal(errorCode(await put('-bad-tag', body)), 'MANIFEST_INVALID');
  assert.equal(errorCode(await put('a'.repeat(129), body)), 'MANIFEST_INVALID');
  // A manifest naming a blob the repository lacks (pushed elsewhere does not count).
  const elsewhere = await pushBlob(a, 'other', 'layer of other');
  const m = JSON.parse(body.toString());
  m.layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: elsewhere, size: 14 });
  const mb = await put('missing', JSON.stringify(m));
  assert.equal(mb.status, 400);
  assert.equal(errorCode(mb), 'MANIFEST_BLOB_UNKNOWN');
  const idx = JSON.stringify({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: digestOf('nope'), size: 4 }] });
  assert.equal(errorCode(await put('idx', idx, OCI_INDEX)), 'MANIFEST_BLOB_UNKNOWN');
  // None of it was stored.
  assert.deepEqual((await call(a, 'GET', '/v2/app/tags/list')).json().tags, ['v1']);
  assert.equal(errorCode(await call(a, 'GET', '/v2/app/manifests/missing')), 'MANIFEST_UNKNOWN');
  assert.equal(errorCode(await call(a, 'GET', `/v2/app/manifests/${digestOf('nope')}`)), 'MANIFEST_UNKNOWN');
}));

test('names: path tricks, encoded slashes and uppercase are NAME_INVALID; unknown repositories NAME_UNKNOWN', () => withRegistry(async (reg, a) => {
  const d = digestOf('x');
  for (const name of ['a/../b', '../etc', 'a/./b', 'a%2Fb', 'a%2e%2e/b', 'UPPER', 'a//b', '-a', 'a/', '_x', `${'a'.repeat(256)}`]) {
    for (const [method, path] of [['GET', `/v2/${name}/tags/list`], ['HEAD', `/v2/${name}/blobs/${d}`], ['POST', `/v2/${name}/blobs/uploads/`], ['PUT', `/v2/${name}/manifests/t`]]) {
      const r = await call(a, method, path, { body: method === 'PUT' ? '{}' : undefined });
      if (method === 'HEAD') assert.equal(r.status, 400, `${method} ${path}`);
      else assert.equal(errorCode(r), 'NAME_INVALID', `${method} ${path}`);
    }
  }
  assert.equal(existsSync(join(reg.root, 'etc')), false);
  assert.deepEqual(readdirSync(join(reg.root, 'repositories')), []);
  const r = await call(a, 'GET', '/v2/nobody/here/tags/list');
  assert.equal(r.status, 404);
  assert.equal(errorCode(r), 'NAME_UNKNOWN');
}));

test('tags: sorted, n/last pagination with Link headers', () => withRegistry(async (_r, a) => {
  const { body } = await pushImage(a, 'paged', 'b');
  for (const t of ['z', 'a', 'c', '1.0', 'B']) {
    assert.equal((await call(a, 'PUT', `/v2/paged/manifests/${t}`, { body, headers: { 'Content-Type': OCI_MANIFEST } })).status, 201);
  }
  const all = await call(a, 'GET', '/v2/paged/tags/list');
  assert.deepEqual(all.json(), { name: 'paged', tags: ['1.0', 'B', 'a', 'b', 'c', 'z'] });
  assert.equal(all.headers.link, undefined);
  const seen: string[] = [];
  let path: string | undefined = '/v2/paged/tags/list?n=4';
  while (path) {
    const r = await call(a, 'GET', path);
    assert.equal(r.status, 200);
    seen.push(...r.json().tags);
    const link = r.headers.link as string | undefined;
    path = link ? /^<([^>]+)>; rel="next"$/.exec(link)?.[1] : undefined;
  }
  assert.deepEqual(seen, ['1.0', 'B', 'a', 'b', 'c', 'z']);
  assert.deepEqual((await call(a, 'GET', '/v2/paged/tags/list?n=2&last=b')).json().tags, ['c', 'z']);
  assert.equal((await call(a, 'GET', '/v2/paged/tags/list?n=2&last=b')).headers.link, undefined);
  assert.deepEqual((await call(a, 'GET', '/v2/paged/tags/list?n=0')).json().tags, []);
  assert.equal((await call(a, 'GET', '/v2/paged/tags/list?n=-1')).status, 400);
}));

test('catalog: every repository, sorted, paginated', () => withRegistry(async (_r, a) => {
  for (const repo of ['zeta', 'alpha/one', 'alpha', 'alpha/two/deep', 'mid']) await pushImage(a, repo, 'latest');
  const all = await call(a, 'GET', '/v2/_catalog');
  assert.deepEqual(all.json().repositories, ['alpha', 'alpha/one', 'alpha/two/deep', 'mid', 'zeta']);
  const p1 = await call(a, 'GET', '/v2/_catalog?n=2');
  assert.deepEqual(p1.json().repositories, ['alpha', 'alpha/one']);
  assert.equal(p1.headers.link, '</v2/_catalog?n=2&last=alpha%2Fone>; rel="next"');
  const p2 = await call(a, 'GET', '/v2/_catalog?n=2&last=alpha%2Fone');
  assert.deepEqual(p2.json().repositories, ['alpha/two/deep', 'mid']);
}));

test('referrers: subject indexed at PUT with OCI-Subject, artifactType filter, gone after delete', () => withRegistry(async (_r, a) => {
  const img = await pushImage(a, 'signed', 'v1');
  const subject = { mediaType: OCI_MANIFEST, digest: img.digest, size: img.body.length };
  const sig = await pushImage(a, 'signed', digestOf('placeholder').slice(0, 0) || 'sig', { layer: 'signature', subject, artifactType: 'application/vnd.example.signature', annotations: { who: 'me' } });
  const sbom = await pushImage(a, 'signed', 'sbom', { layer: 'sbom', subject, artifactType: 'application/vnd.example.sbom' });
  // Pushed by digest, the response names the subject.
  const third = Buffer.from(JSON.stringify({ ...JSON.parse(sbom.body.toString()), annotations: { n: '3' } }));
  const p = await call(a, 'PUT', `/v2/signed/manifests/${digestOf(third)}`, { body: third, headers: { 'Content-Type': OCI_MANIFEST } });
  assert.equal(p.status, 201);
  assert.equal(p.headers['oci-subject'], img.digest);

  const r = await call(a, 'GET', `/v2/signed/referrers/${img.digest}`);
  assert.equal(r.status, 200);
  assert.equal(r.headers['content-type'], OCI_INDEX);
  const idx = r.json();
  assert.equal(idx.schemaVersion, 2);
  assert.equal(idx.mediaType, OCI_INDEX);
  assert.deepEqual(idx.manifests.map((m: { digest: string }) => m.digest).sort(), [sig.digest, sbom.digest, digestOf(third)].sort());
  const sigDesc = idx.manifests.find((m: { digest: string }) => m.digest === sig.digest);
  assert.deepEqual(sigDesc, { mediaType: OCI_MANIFEST, digest: sig.digest, size: sig.body.length, artifactType: 'application/vnd.example.signature', annotations: { who: 'me' } });

  const f = await call(a, 'GET', `/v2/signed/referrers/${img.digest}?artifactType=application/vnd.example.sbom`);
  assert.equal(f.headers['oci-filters-applied'], 'artifactType');
  assert.deepEqual(f.json().manifests.map((m: { digest: string }) => m.digest).sort(), [sbom.digest, digestOf(third)].sort());

  assert.equal((await call(a, 'DELETE', `/v2/signed/manifests/${sbom.digest}`)).status, 202);
  const after = await call(a, 'GET', `/v2/signed/referrers/${img.digest}?artifactType=application/vnd.example.sbom`);
  assert.deepEqual(after.json().manifests.map((m: { digest: string }) => m.digest), [digestOf(third)]);
  // No referrers (or an unknown subject): an empty index, not an error.
  assert.deepEqual((await call(a, 'GET', `/v2/signed/referrers/${digestOf('none')}`)).json().manifests, []);
  assert.equal(errorCode(await call(a, 'GET', '/v2/signed/referrers/sha256:abc')), 'DIGEST_INVALID');
}));

test('manifests: DELETE by digest removes it and its tags; DELETE by tag removes only the tag', () => withRegistry(async (_r, a) => {
  const { digest, body } = await pushImage(a, 'del', 'one');
  await call(a, 'PUT', '/v2/del/manifests/two', { body, headers: { 'Content-Type': OCI_MANIFEST } });
  await call(a, 'PUT', '/v2/del/manifests/three', { body, headers: { 'Content-Type': OCI_MANIFEST } });
  assert.equal((await call(a, 'DELETE', '/v2/del/manifests/three')).status, 202);
  assert.deepEqual((await call(a, 'GET', '/v2/del/tags/list')).json().tags, ['one', 'two']);
  assert.equal((await call(a, 'GET', `/v2/del/manifests/${digest}`)).status, 200);
  assert.equal((await call(a, 'DELETE', `/v2/del/manifests/${digest}`)).status, 202);
  assert.deepEqual((await call(a, 'GET', '/v2/del/tags/list')).json().tags, []);
  assert.equal(errorCode(await call(a, 'GET', `/v2/del/manifests/${digest}`)), 'MANIFEST_UNKNOWN');
  assert.equal(errorCode(await call(a, 'DELETE', `/v2/del/manifests/${digest}`)), 'MANIFEST_UNKNOWN');
  assert.equal(errorCode(await call(a, 'DELETE', '/v2/del/manifests/nope')), 'MANIFEST_UNKNOWN');
}));

test('read-only mode: reads work, every write is 405 UNSUPPORTED', async () => {
  const rw = await startTestRegistry();
  const { digest } = await pushImage(rw.addr, 'ro', 'v1');
  await rw.close();
  const ro = await startTestRegistry({ readOnly: true, root: rw.root });
  try {
    const a = ro.addr;
    assert.equal((await call(a, 'GET', `/v2/ro/manifests/${digest}`)).status, 200);
    for (const [method, path] of [['POST', '/v2/ro/blobs/uploads/'], ['PUT', '/v2/ro/manifests/v2'], ['DELETE', `/v2/ro/manifests/${digest}`], ['PATCH', '/v2/ro/blobs/uploads/x']]) {
      const r = await call(a, method, path, { body: '{}' });
      assert.equal(r.status, 405, `${method} ${path}`);
      assert.equal(errorCode(r), 'UNSUPPORTED');
    }
  } finally {
    await ro.dispose();
  }
});
