import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { Digest, sha256 } from '../base/digest';
import { isKind } from '../base/errors';
import type { ImageUsage } from './image-store';
import { collect, makeEnv, makeTar, readTar, streamOf } from './testing/fixtures';
import { EMPTY_LAYER_DIFF_ID, chainIds as chainIdsOf } from './archive-format';

const noUsage: ImageUsage = () => undefined;
const kind = (k: string) => (e: unknown) => isKind(e, k as never);

async function rootfs(extra = 'hello'): Promise<Buffer> {
  return makeTar([
    { name: 'bin/', type: 'directory' },
    { name: 'bin/sh', data: '#!fake shell', mode: 0o755 },
    { name: 'etc/motd', data: extra },
  ]);
}

test('import: gzip, bzip2 and xz tars; config, comment, history; resolve by every name', async () => {
  const env = await makeEnv();
  try {
    const tar = await rootfs();
    const img = await env.store.import({ tar: streamOf(gzipSync(tar)), config: { Cmd: ['/bin/sh'], Env: ['A=1'] }, message: 'from tar', tag: 'myimg:v1' });
    assert.deepEqual(img.repoTags, ['myimg:v1']);
    assert.deepEqual(img.config.rootfs.diff_ids, [sha256(tar)]);
    assert.deepEqual(img.config.config?.Cmd, ['/bin/sh']);
    assert.equal(img.config.comment, 'from tar');
    assert.equal(img.config.history?.[0].comment, 'from tar');
    assert.equal(img.chainIds.length, 1);
    assert.ok(img.size > 0);
    assert.equal(img.id, sha256(await collect(env.store.content.get(img.id))));
    // The layer tar is kept uncompressed under its diffID (save is a copy).
    assert.ok(env.store.content.has(sha256(tar)));
    for (const name of ['myimg:v1', 'docker.io/library/myimg:v1', img.id, img.id.slice(7), img.id.slice(7, 19), `sha256:${img.id.slice(7, 15)}`]) {
      assert.equal(env.store.resolve(name).id, img.id, name);
    }
    assert.throws(() => env.store.resolve('myimg'), kind('NotFound'));
    assert.throws(() => env.store.resolve('nope:1'), kind('NotFound'));
    assert.throws(() => env.store.resolve('Bad_Name'), kind('InvalidArgument'));
    assert.equal(env.store.find('nope'), undefined);

    const bz = execFileSync('bzip2', ['-c'], { input: await rootfs('bz') });
    const xz = execFileSync('xz', ['-c'], { input: await rootfs('xz') });
    const a = await env.store.import({ tar: streamOf(bz) });
    const b = await env.store.import({ tar: streamOf(xz), tag: 'x' });
    assert.deepEqual(a.config.rootfs.diff_ids, [sha256(await rootfs('bz'))]);
    assert.deepEqual(b.config.rootfs.diff_ids, [sha256(await rootfs('xz'))]);
    assert.deepEqual(a.repoTags, []);
    assert.equal(env.store.list().length, 3);

    const h = env.store.history('myimg:v1');
    assert.equal(h.length, 1);
    assert.equal(h[0].Id, img.id);
    assert.deepEqual(h[0].Tags, ['myimg:v1']);
    assert.equal(h[0].Comment, 'from tar');
    assert.equal(h[0].Size, img.size);

    await assert.rejects(env.store.import({ tar: streamOf(Buffer.from([0x1f, 0x8b, 1, 2, 3, 4, 5])) }), kind('InvalidArgument'));
  } finally {
    await env.close();
  }
});

test('commit: child image, chain IDs, parent, history with <missing>, empty commits add no layer', async () => {
  const env = await makeEnv();
  try {
    const base = await env.store.import({ tar: streamOf(await rootfs()), tag: 'base' });
    const change = await makeTar([{ name: 'etc/motd', data: 'changed' }]);
    const child = await env.store.commit({ parentImage: base.id, layer: streamOf(change), config: { Cmd: ['true'] }, containerId: 'c'.repeat(64),
      comment: 'msg', author: 'me', tag: 'child:1', createdBy: '/bin/sh -c echo' });
    assert.equal(child.parent, base.id);
    assert.equal(child.chainIds.length, 2);
    assert.equal(child.chainIds[0], base.chainIds[0]);
    assert.equal(child.chainIds[1], sha256(`${base.chainIds[0]} ${sha256(change)}`));
    assert.equal(child.config.author, 'me');
    const h = env.store.history('child:1');
    assert.equal(h.length, 2);
    assert.deepEqual([h[0].Id, h[1].Id], [child.id, base.id]);
    assert.deepEqual(h[0].Tags, ['child:1']);
    assert.equal(h[0].CreatedBy, '/bin/sh -c echo');

    const empty = await env.store.commit({ parentImage: child.id, layer: streamOf(Buffer.alloc(1024)), config: {}, containerId: 'd'.repeat(64) });
    assert.equal(sha256(Buffer.alloc(1024)), EMPTY_LAYER_DIFF_ID);
    assert.equal(empty.chainIds.length, 2);
    assert.equal(empty.config.history?.at(-1)?.empty_layer, true);
    assert.equal(empty.size, child.size);

    const scratch = await env.store.commit({ parentImage: null, layer: streamOf(change), config: {}, containerId: 'e'.repeat(64) });
    assert.equal(scratch.parent, '');
    assert.deepEqual(scratch.config.rootfs.diff_ids, [sha256(change)]);
  } finally {
    await env.close();
  }
});

test('history: ancestors without an ID are <missing>', async () => {
  const env = await makeEnv();
  try {
    const a = await env.store.import({ tar: streamOf(await rootfs()) });
    const b = await env.store.commit({ parentImage: a.id, layer: streamOf(await makeTar([{ name: 'x', data: 'x' }])), config: {}, containerId: 'c'.repeat(64), tag: 'b' });
    // Save and load b into a fresh store: the loaded copy has no parent, so the first entry has no ID.
    const out = await saveToBuffer(env, ['b']);
    const env2 = await makeEnv();
    try {
      await env2.store.load(streamOf(out));
      const h = env2.store.history('b');
      assert.deepEqual(h.map((x) => x.Id), [b.id, '<missing>']);
      assert.equal(h[1].Tags, null);
    } finally {
      await env2.close();
    }
  } finally {
    await env.close();
  }
});

test('tag and remove follow Docker: untag, conflicts, force, layers and blobs removed', async () => {
  const env = await makeEnv();
  try {
    const img = await env.store.import({ tar: streamOf(await rootfs()), tag: 'one:latest' });
    env.store.tag('one', 'two:t');
    env.store.tag(img.id, 'one:other');
    assert.throws(() => env.store.tag(img.id, `x@sha256:${'a'.repeat(64)}`), kind('InvalidArgument'));
    assert.throws(() => env.store.tag('missing', 'x'), kind('NotFound'));
    assert.deepEqual(env.store.resolve(img.id).repoTags, ['one:latest', 'two:t', 'one:other']);

    // By ID with tags in several repositories: soft conflict, must be forced.
    await assert.rejects(env.store.remove(img.id.slice(7, 19), { force: false, noPrune: false }, noUsage), (e: Error) =>
      isKind(e, 'Conflict') && e.message === `conflict: unable to delete ${img.id.slice(7, 19)} (must be forced) - image is referenced in multiple repositories`);
    // Untag only while other tags remain, even when a container uses the image (Docker's rule).
    const using: ImageUsage = (id) => (id === img.id ? { containerId: 'f'.repeat(64), running: false } : undefined);
    assert.deepEqual(await env.store.remove('two:t', { force: false, noPrune: false }, using), [{ Untagged: 'two:t' }]);
    assert.deepEqual(await env.store.remove('one:other', { force: false, noPrune: false }, noUsage), [{ Untagged: 'one:other' }]);
    // The last reference of an image a container uses: must force.
    await assert.rejects(env.store.remove('one', { force: false, noPrune: false }, using), (e: Error) =>
      isKind(e, 'Conflict') && e.message === `conflict: unable to remove repository reference "one" (must force) - container ffffffffffff is using its referenced image ${img.id.slice(7, 19)}`);
    // Running container: cannot be forced.
    const running: ImageUsage = (id) => (id === img.id ? { containerId: 'a'.repeat(64), running: true } : undefined);
    await assert.rejects(env.store.remove(img.id, { force: true, noPrune: false }, running), (e: Error) =>
      isKind(e, 'Conflict') && e.message === `conflict: unable to delete ${img.id.slice(7, 19)} (cannot be forced) - image is being used by running container aaaaaaaaaaaa`);
    // Last tag by name: untag and delete, with its layer.
    const res = await env.store.remove('one', { force: false, noPrune: false }, noUsage);
    assert.deepEqual(res, [{ Untagged: 'one:latest' }, { Deleted: img.id }, { Deleted: img.chainIds[0] }]);
    assert.equal(env.store.find(img.id), undefined);
    assert.equal(env.snapshotter.hasLayer(img.chainIds[0]), false);
    assert.equal(env.store.content.has(img.id), false);
    assert.equal(env.store.content.has(img.config.rootfs.diff_ids[0] as Digest), false);
    await assert.rejects(env.store.remove('one', { force: false, noPrune: false }, noUsage), kind('NotFound'));

    // Shared layers stay while another image uses them; an ID with a single tag removes both.
    const a = await env.store.import({ tar: streamOf(await rootfs('shared')), tag: 'a' });
    const b = await env.store.commit({ parentImage: a.id, layer: streamOf(await makeTar([{ name: 'y', data: 'y' }])), config: {}, containerId: 'c'.repeat(64), tag: 'b' });
    await assert.rejects(env.store.remove(a.id, { force: true, noPrune: false }, noUsage), (e: Error) =>
      isKind(e, 'Conflict') && e.message.includes('(cannot be forced) - image has dependent child images'));
    const rb = await env.store.remove(b.id, { force: false, noPrune: true }, noUsage);
    assert.deepEqual(rb, [{ Untagged: 'b:latest' }, { Deleted: b.id }, { Deleted: b.chainIds[1] }]);
    assert.ok(env.snapshotter.hasLayer(a.chainIds[0]));
    // Stopped container by ID: soft conflict, force removes.
    const stopped: ImageUsage = (id) => (id === a.id ? { containerId: 'b'.repeat(64), running: false } : undefined);
    await assert.rejects(env.store.remove(a.id, { force: false, noPrune: false }, stopped), (e: Error) =>
      isKind(e, 'Conflict') && e.message.includes('(must be forced) - image is being used by stopped container bbbbbbbbbbbb'));
    const ra = await env.store.remove(a.id, { force: true, noPrune: false }, stopped);
    assert.deepEqual(ra, [{ Untagged: 'a:latest' }, { Deleted: a.id }, { Deleted: a.chainIds[0] }]);
  } finally {
    await env.close();
  }
});

test('remove prunes dangling parents; repo digests go with the last tag of their repository', async () => {
  const env = await makeEnv();
  try {
    const a = await env.store.import({ tar: streamOf(await rootfs()) });
    const b = await env.store.commit({ parentImage: a.id, layer: streamOf(await makeTar([{ name: 'y', data: 'y' }])), config: {}, containerId: 'c'.repeat(64), tag: 'reg.example.com/b:1' });
    env.store.addRepoDigest(b.id, `reg.example.com/b@sha256:${'1'.repeat(64)}`);
    assert.deepEqual(env.store.resolve(b.id).repoDigests, [`reg.example.com/b@sha256:${'1'.repeat(64)}`]);
    assert.equal(env.store.resolve(`reg.example.com/b@sha256:${'1'.repeat(64)}`).id, b.id);
    const res = await env.store.remove('reg.example.com/b:1', { force: false, noPrune: false }, noUsage);
    assert.deepEqual(res.map((r) => r.Untagged ?? r.Deleted), ['reg.example.com/b:1', `reg.example.com/b@sha256:${'1'.repeat(64)}`,
      b.id, b.chainIds[1], a.id, a.chainIds[0]]);
    assert.equal(env.store.list().length, 0);
  } finally {
    await env.close();
  }
});

test('prune: dangling only, or all unused; labels; space reclaimed', async () => {
  const env = await makeEnv();
  try {
    const dangling = await env.store.import({ tar: streamOf(await rootfs('d')) });
    const tagged = await env.store.import({ tar: streamOf(await rootfs('t')), tag: 'keep', config: { Labels: { k: 'v' } } });
    const used = await env.store.import({ tar: streamOf(await rootfs('u')) });
    const usage: ImageUsage = (id) => (id === used.id ? { containerId: 'c'.repeat(64), running: true } : undefined);
    const r1 = await env.store.prune({ all: false }, usage);
    assert.deepEqual(r1.deleted.filter((d) => d.Deleted === dangling.id).length, 1);
    assert.equal(r1.spaceReclaimed, dangling.size);
    assert.ok(env.store.find(tagged.id) && env.store.find(used.id));
    const r2 = await env.store.prune({ all: true, labelFilters: ['k=other'] }, usage);
    assert.deepEqual(r2.deleted, []);
    const r3 = await env.store.prune({ all: true, labelFilters: ['k'] }, usage);
    assert.deepEqual(r3.deleted.slice(0, 2), [{ Untagged: 'keep:latest' }, { Deleted: tagged.id }]);
    assert.deepEqual(env.store.list().map((i) => i.id), [used.id]);
  } finally {
    await env.close();
  }
});

async function saveToBuffer(env: { store: { save: (r: string[], o: NodeJS.WritableStream & import('node:stream').Writable) => Promise<void> } }, refs: string[]): Promise<Buffer> {
  const { PassThrough } = await import('node:stream');
  const pt = new PassThrough();
  const buf = collect(pt);
  await env.store.save(refs, pt);
  return buf;
}

test('save writes Docker 25+ layout; load reads it back (also gzip-compressed)', async () => {
  const env = await makeEnv();
  const env2 = await makeEnv();
  try {
    const a = await env.store.import({ tar: streamOf(await rootfs()), tag: 'app:1', config: { Cmd: ['sh'] } });
    env.store.tag('app:1', 'app:2');
    const b = await env.store.commit({ parentImage: a.id, layer: streamOf(await makeTar([{ name: 'z', data: 'z' }])), config: {}, containerId: 'c'.repeat(64), tag: 'other' });
    const out = await saveToBuffer(env, ['app', b.id]);
    const members = await readTar(out);
    for (const n of ['oci-layout', 'index.json', 'manifest.json', 'repositories', `blobs/sha256/${a.id.slice(7)}`]) assert.ok(members.has(n), n);
    const manifest = JSON.parse((members.get('manifest.json') as Buffer).toString());
    assert.deepEqual(manifest[0].RepoTags, ['app:1', 'app:2']);
    assert.deepEqual(manifest[0].Layers, [`blobs/sha256/${a.config.rootfs.diff_ids[0].slice(7)}`]);
    assert.equal(manifest[1].RepoTags, null);
    const index = JSON.parse((members.get('index.json') as Buffer).toString());
    assert.deepEqual(index.manifests.map((m: { annotations?: Record<string, string> }) => m.annotations?.['io.containerd.image.name']),
      ['docker.io/library/app:1', 'docker.io/library/app:2', undefined]);
    // Every blob is stored under its digest.
    for (const [name, data] of members) if (name.startsWith('blobs/sha256/') && Buffer.isBuffer(data)) assert.equal(sha256(data).slice(7), name.slice(13));

    const loaded = await env2.store.load(streamOf(gzipSync(out)));
    assert.deepEqual(loaded, [{ ref: 'app:1', id: a.id }, { ref: 'app:2', id: a.id }, { id: b.id }]);
    assert.deepEqual(env2.store.resolve('app:2').chainIds, a.chainIds);
    assert.deepEqual(env2.store.resolve(b.id).chainIds, b.chainIds);
    // Load is idempotent; no stray blobs are left (only configs and layer tars).
    await env2.store.load(streamOf(out));
    assert.equal(env2.store.list().length, 2);
    const blobs = new Set(env2.store.content.list());
    assert.deepEqual(blobs, new Set([a.id, b.id, ...b.config.rootfs.diff_ids]));
    await assert.rejects(env.store.save(['missing'], new (await import('node:stream')).PassThrough()), kind('NotFound'));
  } finally {
    await env.close();
    await env2.close();
  }
});

test('load: legacy docker-archive with gzip layers and symlinks; diffID mismatch leaves nothing', async () => {
  const env = await makeEnv();
  try {
    const l1 = await rootfs();
    const l2 = await makeTar([{ name: 'etc/two', data: '2' }]);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(l1), sha256(l2)] } }));
    const archive = await makeTar([
      { name: 'aaa/layer.tar', data: gzipSync(l1) },
      { name: 'bbb/layer.tar', data: l2 },
      { name: 'ccc/layer.tar', type: 'symlink', linkname: '../bbb/layer.tar' },
      { name: 'cfg.json', data: config },
      { name: '../../escape', data: 'x' },
      { name: 'manifest.json', data: JSON.stringify([{ Config: 'cfg.json', RepoTags: ['legacy:1'], Layers: ['aaa/layer.tar', 'ccc/layer.tar'] }]) },
    ]);
    const res = await env.store.load(streamOf(archive));
    assert.deepEqual(res, [{ ref: 'legacy:1', id: sha256(config) }]);
    assert.ok(env.store.content.has(sha256(l1)), 'uncompressed layer kept under its diffID');

    const badConfig = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256('nope')] } }));
    const bad = await makeTar([
      { name: 'l.tar', data: gzipSync(await rootfs('other')) },
      { name: 'c.json', data: badConfig },
      { name: 'manifest.json', data: JSON.stringify([{ Config: 'c.json', RepoTags: ['bad:1'], Layers: ['l.tar'] }]) },
    ]);
    const before = new Set(env.store.content.list());
    await assert.rejects(env.store.load(streamOf(bad)), kind('InvalidArgument'));
    assert.equal(env.store.find('bad:1'), undefined);
    assert.deepEqual(new Set(env.store.content.list()), before);
    await assert.rejects(env.store.load(streamOf(await makeTar([{ name: 'x', data: 'y' }]))), kind('InvalidArgument'));
    await assert.rejects(env.store.load(streamOf(Buffer.from('not a tar at all, definitely'.repeat(40)))), kind('InvalidArgument'));
    const missing = await makeTar([{ name: 'manifest.json', data: JSON.stringify([{ Config: '../c.json', Layers: [] }]) }]);
    await assert.rejects(env.store.load(streamOf(missing)), kind('InvalidArgument'));
  } finally {
    await env.close();
  }
});

test('metadata referencing a lost blob is dropped on open', async () => {
  const env = await makeEnv();
  try {
    const a = await env.store.import({ tar: streamOf(await rootfs('a')), tag: 'img-a' });
    const b = await env.store.import({ tar: streamOf(await rootfs('b')), tag: 'img-b' });
    env.store.content.delete(b.config.rootfs.diff_ids[0] as Digest);
    const store = await env.reopen();
    assert.deepEqual(store.list().map((i) => i.id), [a.id]);
    // (A name that is not found falls back to an ID prefix, as in Docker: use a non-hex name.)
    assert.equal(store.find('img-b'), undefined);
    assert.equal(env.snapshotter.hasLayer(b.chainIds[0]), false, 'its layer is garbage-collected');
    assert.equal(existsSync(store.content.path(b.id)), false);
  } finally {
    await env.close();
  }
});

test('interop with skopeo: save -> skopeo reads; skopeo writes docker-archive and OCI layout -> load', async () => {
  const env = await makeEnv();
  const env2 = await makeEnv();
  try {
    const { writeFileSync, readFileSync, mkdtempSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const a = await env.store.import({ tar: streamOf(await rootfs()), tag: '127.0.0.1:5000/ns/app:1', config: { Cmd: ['sh'] } });
    const b = await env.store.commit({ parentImage: a.id, layer: streamOf(await makeTar([{ name: 'q', data: 'q' }])), config: {}, containerId: 'c'.repeat(64), tag: 'two:2' });
    const work = mkdtempSync(join(env.dir, 'skopeo-'));
    try {
      const saved = join(work, 'saved.tar');
      writeFileSync(saved, await saveToBuffer(env, ['two:2']));
      const skopeo = (...args: string[]) => execFileSync('skopeo', ['--insecure-policy', ...args], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
      // skopeo reads our save as a docker-archive and copies it to an OCI layout.
      const inspect = JSON.parse(skopeo('inspect', '--config', `docker-archive:${saved}`));
      assert.deepEqual(inspect.rootfs.diff_ids, b.config.rootfs.diff_ids);
      skopeo('copy', `docker-archive:${saved}`, `oci:${join(work, 'oci')}:two`);
      assert.ok(JSON.parse(readFileSync(join(work, 'oci', 'index.json'), 'utf8')).manifests.length === 1);
      // skopeo writes a docker-archive (its own legacy-style layout): we load it.
      const sk = join(work, 'sk.tar');
      skopeo('copy', `oci:${join(work, 'oci')}:two`, `docker-archive:${sk}:127.0.0.1:5000/ns/copied:7`);
      const res = await env2.store.load(streamOf(readFileSync(sk)));
      // (skopeo re-serialises the config through OCI, so the ID may differ; the layers may not.)
      assert.deepEqual(res.map((r) => r.ref), ['127.0.0.1:5000/ns/copied:7']);
      assert.deepEqual(env2.store.resolve('127.0.0.1:5000/ns/copied:7').chainIds, b.chainIds);
      // An OCI image layout (skopeo's, with gzip layers) tarred up loads as well (named by annotation).
      skopeo('copy', '--dest-compress', `docker-archive:${saved}`, `oci:${join(work, 'oci2')}:docker.io/library/fromoci:3`);
      const ociTar = execFileSync('tar', ['-C', join(work, 'oci2'), '-cf', '-', '.'], { maxBuffer: 1 << 28 });
      const res2 = await env2.store.load(streamOf(ociTar));
      assert.deepEqual(res2.map((r) => r.ref), ['fromoci:3']);
      assert.deepEqual(env2.store.resolve('fromoci:3').chainIds, b.chainIds);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  } finally {
    await env.close();
    await env2.close();
  }
});

test('crash consistency: a load killed at any point leaves no half-made image, and gc cleans up', async () => {
  const { spawn } = await import('node:child_process');
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { randomBytes } = await import('node:crypto');
  const { openDatabase } = await import('../sys/database');
  const env = await makeEnv();
  try {
    // An image of 4 layers of 512 KiB of random data each, saved to a file.
    const src = await makeEnv();
    let parent: Digest | null = null;
    let top;
    for (let i = 0; i < 4; i++) {
      const layer = await makeTar([{ name: `f${i}`, data: randomBytes(512 * 1024) }]);
      top = await src.store.commit({ parentImage: parent, layer: streamOf(layer), config: {}, containerId: 'c'.repeat(64), tag: 'big:1' });
      parent = top.id;
    }
    const archive = join(env.dir, 'big.tar');
    writeFileSync(archive, await saveToBuffer(src, ['big:1']));
    await src.close();
    env.db.close();

    // Kill the loader while it reads the archive (2 blobs staged), then when 1, 3 and 4 layers are recorded.
    const { readdirSync } = await import('node:fs');
    const staged = () => { try { return readdirSync(join(env.dir, 'content', 'sha256')).length; } catch { return 0; } };
    for (const killAt of [0, 1, 3, 4]) {
      const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'testing', 'load-child.ts'), env.dir, archive], { stdio: ['ignore', 'pipe', 'pipe'] });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      let done = false;
      exited.then(() => { done = true; });
      let killed = false;
      while (!done) {
        await new Promise((r) => setTimeout(r, 3));
        let n = 0;
        try {
          const db = openDatabase(join(env.dir, 'berth.db'));
          try { n = (db.prepare("SELECT count(*) AS n FROM image_layers").get() as { n: number }).n; } catch { /* not migrated yet */ }
          db.close();
        } catch { /* opening races the child's first write */ }
        if (killAt === 0 ? staged() >= 2 : n >= killAt) { child.kill('SIGKILL'); killed = true; break; }
      }
      await exited;
      const store = await env.reopen();
      // Nothing half-made: either no image, or the whole one with every layer present.
      for (const img of store.list()) {
        for (const c of img.chainIds) assert.ok(env.snapshotter.hasLayer(c));
      }
      // The kill can land after the child's last commit (it races our look at the database on a
      // loaded machine): then the image is whole. Only a kill while blobs are staged is surely early.
      const got = store.find('big:1');
      if (killed && killAt === 0) assert.equal(got, undefined);
      if (got) {
        assert.equal(got.chainIds.length, 4);
        await store.remove('big:1', { force: true, noPrune: false }, noUsage);
      }
      // gc (run by open) left no layer rows, layers or blobs behind.
      assert.equal((env.db.prepare('SELECT count(*) AS n FROM image_layers').get() as { n: number }).n, 0);
      assert.deepEqual(store.content.list(), []);
      env.db.close();
    }
    // A load after the crashes completes normally.
    const store = await env.reopen();
    const res = await store.load((await import('node:fs')).createReadStream(archive));
    assert.deepEqual(res, [{ ref: 'big:1', id: top!.id }]);
    assert.equal(store.resolve('big:1').chainIds.length, 4);
  } finally {
    await env.close();
  }
});

test('hostile layers are rejected and leave nothing behind', async () => {
  const env = await makeEnv();
  try {
    const evil = await makeTar([{ name: 'ok', data: 'fine' }, { name: '../../escape', data: 'x' }]);
    await assert.rejects(env.store.import({ tar: streamOf(evil), tag: 'evil' }), kind('InvalidArgument'));
    const link = await makeTar([{ name: 'l', type: 'symlink', linkname: '/etc' }, { name: 'l/passwd', data: 'pwned' }]);
    await assert.rejects(env.store.import({ tar: streamOf(link), tag: 'evil' }), kind('InvalidArgument'));
    assert.equal(env.store.find('evil'), undefined);
    assert.deepEqual(env.store.list(), []);
    assert.deepEqual(env.store.content.list(), []);
    assert.equal((env.db.prepare('SELECT count(*) AS n FROM image_layers').get() as { n: number }).n, 0);
  } finally {
    await env.close();
  }
});

test('putLayer (pull): unpacks while storing; a mismatch keeps neither blob nor layer; a child beside its parent is only stored', async () => {
  const env = await makeEnv();
  try {
    const base = await rootfs('base');
    const child = await makeTar([{ name: 'etc/child', data: 'child' }]);
    const chains = chainIdsOf([sha256(base), sha256(child)]);
    // The child first: its parent is not unpacked yet, so it is only stored.
    await env.store.putLayer(streamOf(child), [sha256(base), sha256(child)]);
    assert.ok(env.store.content.has(sha256(child)));
    assert.equal(env.snapshotter.hasLayer(chains[1]), false);
    // A bad base: the bytes of `base` with one changed, under base's digest.
    const bad = Buffer.from(base);
    bad[bad.length - 1] ^= 1; // in the tar's end padding: a valid archive that unpacks fine
    await assert.rejects(env.store.putLayer(streamOf(bad), [sha256(base)]), kind('InvalidArgument'));
    assert.equal(env.store.content.has(sha256(base)), false);
    assert.equal(env.snapshotter.hasLayer(chains[0]), false);
    // The good base, in small chunks: stored and unpacked in one pass.
    const pieces = Array.from({ length: Math.ceil(base.length / 1000) }, (_, i) => base.subarray(i * 1000, (i + 1) * 1000));
    await env.store.putLayer(Readable.from(pieces), [sha256(base)]);
    assert.ok(env.store.content.has(sha256(base)));
    assert.ok(env.snapshotter.hasLayer(chains[0]));
    // createImage then unpacks the child from its blob and uses the base as it is.
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256(base), sha256(child)] } }));
    const cfg = await env.store.content.putBuffer(config);
    const img = await env.store.createImage({ config: cfg.digest, refs: ['pulled:1'] });
    assert.deepEqual(img.chainIds, chains);
    assert.ok(env.snapshotter.hasLayer(chains[1]));
    assert.ok(img.size > 0);
  } finally {
    await env.close();
  }
});
