// A registry killed (SIGKILL) in the middle of uploads restarts with every complete blob intact,
// no partial blob visible, sessions at their last complete chunk, and retries succeed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { call, digestOf, pushBlob, pushImage, spawnRegistry, tempDir } from './testing/fixtures';

/** Starts a request whose body is only partly sent; the socket stays open until destroyed. */
function partialRequest(addr: string, method: string, path: string, declared: number, sent: Buffer, headers = ''): Promise<Socket> {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    const s = connect(Number(port), host, () => {
      s.write(`${method} ${path} HTTP/1.1\r\nHost: ${addr}\r\nContent-Length: ${declared}\r\n${headers}\r\n`);
      s.write(sent, () => resolve(s));
    });
    s.on('error', () => undefined);
    s.once('error', reject);
  });
}

/** Every file under blobs/ holds exactly the content its name says. */
function assertBlobsIntact(root: string): string[] {
  const names: string[] = [];
  const base = join(root, 'blobs', 'sha256');
  for (const prefix of readdirSync(base)) {
    for (const hex of readdirSync(join(base, prefix))) {
      assert.equal(createHash('sha256').update(readFileSync(join(base, prefix, hex))).digest('hex'), hex, `blob ${hex} is torn`);
      names.push(hex);
    }
  }
  return names;
}

test('crash: kill -9 mid-upload, restart, no partial blob, sessions resume, retries succeed', async () => {
  const t = tempDir();
  let reg = await spawnRegistry(t.dir);
  const sockets: Socket[] = [];
  try {
    const complete = await pushImage(reg.addr, 'keep', 'v1', { layer: 'complete layer' });
    const big = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i * 2654435761 >>> 0, i);
    const bigDigest = digestOf(big);

    // A chunked session with one complete chunk, then a second chunk cut off by the crash.
    const loc = String((await call(reg.addr, 'POST', '/v2/crash/blobs/uploads/')).headers.location);
    assert.equal((await call(reg.addr, 'PATCH', loc, { body: big.subarray(0, 1_000_000), headers: { 'Content-Range': '0-999999' } })).status, 202);
    sockets.push(await partialRequest(reg.addr, 'PATCH', loc, 3_000_000, big.subarray(1_000_000, 2_500_000), 'Content-Range: 1000000-3999999\r\n'));
    // A monolithic push cut off by the crash.
    sockets.push(await partialRequest(reg.addr, 'POST', `/v2/crash/blobs/uploads/?digest=${bigDigest}`, big.length, big.subarray(0, 5_000_000)));
    await new Promise((r) => setTimeout(r, 300)); // let the server write what it received
    await reg.kill('SIGKILL');
    for (const s of sockets) s.destroy();

    // The cut-off chunk left a torn tail in the session's file: the case the restart must handle.
    const id = loc.split('/').pop()!;
    assert.ok(statSync(join(t.dir, 'uploads', id, 'data')).size > 1_000_000, 'the interrupted chunk reached the disk');
    // On disk: only complete blobs, none for the interrupted uploads.
    const blobs = assertBlobsIntact(t.dir);
    assert.ok(!blobs.includes(bigDigest.slice(7)));

    reg = await spawnRegistry(t.dir);
    const a = reg.addr;
    assert.equal((await call(a, 'HEAD', `/v2/crash/blobs/${bigDigest}`)).status, 404);
    const m = await call(a, 'GET', '/v2/keep/manifests/v1', { headers: { Accept: '*/*' } });
    assert.equal(m.status, 200);
    assert.equal(m.headers['docker-content-digest'], complete.digest);
    const layer = await call(a, 'GET', `/v2/keep/blobs/${digestOf('complete layer')}`);
    assert.equal(layer.body.toString(), 'complete layer');

    // The session survived at its last complete chunk; the client resumes from there.
    const st = await call(a, 'GET', loc);
    assert.equal(st.status, 204);
    assert.equal(st.headers.range, '0-999999');
    const rest = await call(a, 'PATCH', loc, { body: big.subarray(1_000_000), headers: { 'Content-Range': `1000000-${big.length - 1}` } });
    assert.equal(rest.status, 202);
    assert.equal((await call(a, 'PUT', `${loc}?digest=${bigDigest}`)).status, 201);
    assert.deepEqual((await call(a, 'GET', `/v2/crash/blobs/${bigDigest}`)).body, big);
    // A retry of the monolithic push succeeds too.
    assert.equal(await pushBlob(a, 'crash2', big), bigDigest);
    assertBlobsIntact(t.dir);
  } finally {
    for (const s of sockets) s.destroy();
    await reg.kill('SIGTERM');
    t.remove();
  }
});
