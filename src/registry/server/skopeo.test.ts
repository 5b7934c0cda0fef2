// Interoperability: skopeo (Debian's, unchanged) pushes, inspects, lists, copies and deletes
// against `berth registry serve` on 127.0.0.1 (plain HTTP, so every call disables TLS verification).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { busyboxDockerArchive, call, haveSkopeo, skopeo, startTestRegistry, tempDir, type TestRegistry } from './testing/fixtures';

const skip = haveSkopeo() ? false : 'skopeo is not installed';
let reg: TestRegistry;
let tmp: { dir: string; remove: () => void };
let archive: string;

before(async () => {
  if (skip) return;
  tmp = tempDir();
  archive = busyboxDockerArchive(tmp.dir);
  reg = await startTestRegistry();
});

after(async () => {
  await reg?.dispose();
  tmp?.remove();
});

const noTls = '--tls-verify=false';

interface Inspect { Digest: string; RepoTags: string[]; Layers: string[]; Architecture: string; Os: string; Env: string[] }

test('skopeo: push a docker-archive, inspect, list tags, copy back to an oci layout', { skip }, async () => {
  const a = reg.addr;
  await skopeo(['copy', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${a}/library/busybox:latest`]);
  const info = JSON.parse(await skopeo(['inspect', noTls, `docker://${a}/library/busybox:latest`])) as Inspect;
  assert.deepEqual(info.RepoTags, ['latest']);
  assert.equal(info.Architecture, 'amd64');
  assert.equal(info.Layers.length, 1);
  assert.ok(info.Env.some((e) => e.startsWith('PATH=')));
  // The manifest skopeo reads is the one we serve, and its digest is what inspect reports.
  const raw = await skopeo(['inspect', noTls, '--raw', `docker://${a}/library/busybox:latest`]);
  assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, info.Digest);
  const served = await call(a, 'GET', '/v2/library/busybox/manifests/latest', { headers: { Accept: '*/*' } });
  assert.equal(served.body.toString(), raw);

  assert.deepEqual(JSON.parse(await skopeo(['list-tags', noTls, `docker://${a}/library/busybox`])).Tags, ['latest']);

  const layout = join(tmp.dir, 'oci');
  await skopeo(['copy', '--src-tls-verify=false', `docker://${a}/library/busybox:latest`, `oci:${layout}:bb`]);
  const index = JSON.parse(readFileSync(join(layout, 'index.json'), 'utf8'));
  assert.equal(index.manifests[0].annotations['org.opencontainers.image.ref.name'], 'bb');
  const layerHex = info.Layers[0].slice(7);
  const layer = readFileSync(join(layout, 'blobs', 'sha256', layerHex));
  assert.equal(createHash('sha256').update(layer).digest('hex'), layerHex);
  // And from the oci layout back into the registry, under a new name.
  await skopeo(['copy', '--dest-tls-verify=false', `oci:${layout}:bb`, `docker://${a}/fromoci/bb:1`]);
  assert.deepEqual(JSON.parse(await skopeo(['inspect', noTls, `docker://${a}/fromoci/bb:1`])).Layers, info.Layers);
});

test('skopeo: copy between repositories, Docker schema 2 format, delete', { skip }, async () => {
  const a = reg.addr;
  await skopeo(['copy', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${a}/library/busybox:latest`]);
  const src = JSON.parse(await skopeo(['inspect', noTls, `docker://${a}/library/busybox:latest`])) as Inspect;
  await skopeo(['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${a}/library/busybox:latest`, `docker://${a}/copies/bb:v2`]);
  const copy = JSON.parse(await skopeo(['inspect', noTls, `docker://${a}/copies/bb:v2`])) as Inspect;
  assert.equal(copy.Digest, src.Digest);
  assert.deepEqual(copy.Layers, src.Layers);

  await skopeo(['copy', '--dest-tls-verify=false', '--format', 'v2s2', `docker-archive:${archive}`, `docker://${a}/dockerfmt:v1`]);
  const raw = JSON.parse(await skopeo(['inspect', noTls, '--raw', `docker://${a}/dockerfmt:v1`]));
  assert.equal(raw.mediaType, 'application/vnd.docker.distribution.manifest.v2+json');

  const catalog = (await call(a, 'GET', '/v2/_catalog')).json().repositories as string[];
  for (const r of ['copies/bb', 'dockerfmt', 'library/busybox']) assert.ok(catalog.includes(r), r);

  await skopeo(['delete', noTls, `docker://${a}/copies/bb:v2`]);
  await assert.rejects(skopeo(['inspect', noTls, `docker://${a}/copies/bb:v2`]), /manifest unknown/i);
  assert.deepEqual(JSON.parse(await skopeo(['list-tags', noTls, `docker://${a}/copies/bb`])).Tags, []);
  // The source repository is untouched.
  assert.equal((JSON.parse(await skopeo(['inspect', noTls, `docker://${a}/library/busybox:latest`])) as Inspect).Digest, src.Digest);
});

test('skopeo: a read-only registry serves pulls and refuses pushes', { skip }, async () => {
  const a = reg.addr;
  await skopeo(['copy', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${a}/ro/bb:1`]);
  // A second server over the same root, read-only (the root stays the first one's to remove).
  const ro = await startTestRegistry({ readOnly: true, root: reg.root });
  try {
    assert.deepEqual(JSON.parse(await skopeo(['list-tags', noTls, `docker://${ro.addr}/ro/bb`])).Tags, ['1']);
    await skopeo(['copy', '--src-tls-verify=false', `docker://${ro.addr}/ro/bb:1`, `oci:${join(tmp.dir, 'ro-oci')}:x`]);
    await assert.rejects(skopeo(['copy', '--dest-tls-verify=false', `docker-archive:${archive}`, `docker://${ro.addr}/ro/bb:2`]), /read-only/);
  } finally {
    await ro.close();
  }
});
