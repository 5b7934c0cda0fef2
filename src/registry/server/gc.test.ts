// Garbage collection of a registry root: what is marked (tags, index children, referrers of kept
// manifests), what is swept (untagged manifests, unreferenced links and content), and that nothing
// an in-flight push needs is ever removed, online (POST /_berth/gc) and offline (berth registry gc).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, statSync, utimesSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { RwLock } from './rw-lock';
import { call, digestOf, pushBlob, pushImage, REPO_ROOT, startTestRegistry, type TestRegistry } from './testing/fixtures';

const regs: TestRegistry[] = [];
after(async () => { for (const r of regs) await r.dispose(); });

/** Makes everything under `dir` look two hours old, past the default grace period. */
function age(dir: string, ms = 2 * 3600_000): void {
  const t = (Date.now() - ms) / 1000;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) utimesSync(join(e.parentPath, e.name), t, t);
}

const blobFile = (root: string, d: string) => join(root, 'blobs', 'sha256', d.slice(7, 9), d.slice(7));

test('online gc removes unreferenced blobs and untagged manifests while a concurrent push completes intact', async () => {
  const reg = await startTestRegistry();
  regs.push(reg);
  const a = reg.addr;
  const kept = await pushImage(a, 'app', 'v1', { layer: 'kept layer' });
  const keptLayer = digestOf('kept layer');
  // A signature referring to the tagged image, itself untagged: kept as a referrer of a kept manifest.
  const sigBody = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', artifactType: 'application/x-sig',
    config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: await pushBlob(a, 'app', '{}'), size: 2 },
    layers: [{ mediaType: 'application/x-sig', digest: await pushBlob(a, 'app', 'signature bytes'), size: 15 }],
    subject: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: kept.digest, size: kept.body.length },
  }));
  assert.equal((await call(a, 'PUT', `/v2/app/manifests/${digestOf(sigBody)}`, { body: sigBody, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } })).status, 201);

  const dropped = await pushImage(a, 'app', 'old', { layer: 'dropped layer' });
  assert.equal((await call(a, 'DELETE', '/v2/app/manifests/old')).status, 202); // untagged now
  const orphan = await pushBlob(a, 'app', 'orphan blob');
  age(reg.root);

  // A push in flight: its blobs are uploaded (fresh), its manifest not yet.
  const config = JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } });
  const cd = await pushBlob(a, 'app', config);
  const ld = await pushBlob(a, 'app', 'new layer');
  // The new manifest also reuses an old layer of the kept image. The PUT runs concurrently with gc:
  // its blobs are young (grace period) and the PUT holds the lock gc needs while it checks them.
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: config.length },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: ld, size: 9 }, { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: keptLayer, size: 10 }],
  }));
  const [gcReply, put] = await Promise.all([
    call(a, 'POST', '/_berth/gc'),
    call(a, 'PUT', '/v2/app/manifests/v2', { body: manifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } }),
  ]);
  assert.equal(gcReply.status, 200, gcReply.body.toString());
  assert.equal(put.status, 201, put.body.toString());
  const report = gcReply.json();
  assert.deepEqual(report.manifestsRemoved, [`app@${dropped.digest}`]);
  assert.ok(report.blobsRemoved.includes(orphan));
  assert.ok(report.blobsRemoved.includes(digestOf('dropped layer')));
  assert.ok(report.blobsRemoved.includes(dropped.digest));
  assert.ok(!existsSync(blobFile(reg.root, orphan)));

  // Everything still referenced is intact and served.
  for (const ref of ['v1', 'v2', kept.digest, digestOf(sigBody)]) assert.equal((await call(a, 'GET', `/v2/app/manifests/${ref}`)).status, 200, ref);
  for (const d of [keptLayer, cd, ld]) {
    const r = await call(a, 'GET', `/v2/app/blobs/${d}`);
    assert.equal(r.status, 200, d);
    assert.equal(digestOf(r.body), d);
  }
  assert.equal((await call(a, 'GET', `/v2/app/manifests/${dropped.digest}`)).status, 404);
  assert.equal((await call(a, 'HEAD', `/v2/app/blobs/${orphan}`)).status, 404);
  assert.equal((await call(a, 'GET', `/v2/app/referrers/${kept.digest}`)).json().manifests.length, 1);
  // A second run finds nothing more.
  const again = await reg.gc();
  assert.deepEqual([again.manifestsRemoved.length, again.blobsRemoved.length], [0, 0]);
});

test('gc keeps the children of a tagged index and anything younger than the grace period', async () => {
  const reg = await startTestRegistry();
  regs.push(reg);
  const a = reg.addr;
  const img = await pushImage(a, 'multi', 'tmp', { layer: 'arch layer' });
  assert.equal((await call(a, 'DELETE', '/v2/multi/manifests/tmp')).status, 202);
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: img.digest, size: img.body.length, platform: { architecture: 'amd64', os: 'linux' } }] }));
  assert.equal((await call(a, 'PUT', '/v2/multi/manifests/latest', { body: index, headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' } })).status, 201);
  const young = await pushBlob(a, 'multi', 'young orphan');
  const r = await reg.gc({ graceMs: 60_000 });
  assert.deepEqual(r.manifestsRemoved, []);
  assert.deepEqual(r.blobsRemoved, []);
  age(reg.root);
  const r2 = await reg.gc({ graceMs: 60_000 });
  assert.deepEqual(r2.blobsRemoved, [young]);
  assert.equal((await call(a, 'GET', `/v2/multi/blobs/${digestOf('arch layer')}`)).status, 200);
  assert.equal((await call(a, 'GET', `/v2/multi/manifests/${img.digest}`)).status, 200);
});

test('read-only mode refuses gc; only POST runs it', async () => {
  const rw = await startTestRegistry();
  regs.push(rw);
  const ro = await startTestRegistry({ readOnly: true, root: rw.root });
  regs.push(ro);
  const r = await call(ro.addr, 'POST', '/_berth/gc');
  assert.equal(r.status, 405);
  assert.equal(r.json().errors[0].code, 'UNSUPPORTED');
  assert.equal((await call(rw.addr, 'GET', '/_berth/gc')).status, 405);
});

test('berth registry gc --root: dry run reports, the real run removes', async () => {
  const reg = await startTestRegistry();
  regs.push(reg);
  const orphan = await pushBlob(reg.addr, 'x', 'offline orphan');
  await pushImage(reg.addr, 'x', 'v1');
  age(reg.root);
  const run = (args: string[]) => new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cmd', 'berth.ts'), 'registry', 'gc', '--root', reg.root, ...args], { cwd: REPO_ROOT, encoding: 'utf8' },
      (err, stdout, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve(stdout)));
  });
  assert.match(await run(['--dry-run']), new RegExp(`would remove blob ${orphan}`));
  assert.ok(statSync(blobFile(reg.root, orphan)).isFile());
  assert.match(await run(['--grace', '30m']), /removed 0 manifests, 1 links, 1 blobs/);
  assert.ok(!existsSync(blobFile(reg.root, orphan)));
  assert.equal((await call(reg.addr, 'GET', '/v2/x/manifests/v1')).status, 200);
});

test('RwLock: exclusive waits for shared holders, and later readers wait for a queued writer', async () => {
  const lock = new RwLock();
  const order: string[] = [];
  let releaseReader!: () => void;
  const r1 = lock.shared(() => new Promise<void>((res) => { order.push('r1'); releaseReader = res; }));
  const w = lock.exclusive(async () => { order.push('w'); });
  const r2 = lock.shared(async () => { order.push('r2'); });
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(order, ['r1']);
  releaseReader();
  await Promise.all([r1, w, r2]);
  assert.deepEqual(order, ['r1', 'w', 'r2']);
});
