import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, constants, rmSync, writeFileSync } from 'node:fs';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Digest, hexOf, sha256 } from '../base/digest';
import type { ImageUsage } from './image-store';
import { collect, Env, makeEnv, makeTar, readTar, streamOf } from './testing/fixtures';
import { EMPTY_LAYER_DIFF_ID } from './archive-format';

// Layers committed with lazyTar (build steps): their tar is digested, never written, and made again
// from the layer for save, push and layer(); crash consistency rests on a later syncfs and a check
// on open (CommitInput.lazyTar, LocalImageStore.checkLazyLayers).

const noUsage: ImageUsage = () => undefined;

async function base(env: Env) {
  return env.store.import({ tar: streamOf(await makeTar([{ name: 'bin/', type: 'directory' }, { name: 'bin/sh', data: 'sh', mode: 0o755 }])), tag: 'base' });
}

/** A COPY-like commit: a tar and no snapshot. */
async function copyStep(env: Env, parent: Digest, files: Record<string, string>, tag?: string) {
  const tar = await makeTar(Object.entries(files).map(([name, data]) => ({ name, data })));
  return env.store.commit({ parentImage: parent, layer: streamOf(tar), config: {}, containerId: '', lazyTar: true, tag });
}

function layerDir(env: Env, chain: Digest): string {
  return join(env.dir, 'snapshots', 'layers', hexOf(chain), 'diff');
}

function lazyRows(env: Env): Array<{ chain_id: string; diff_id: string; synced: number; boot_id: string }> {
  return env.db.prepare('SELECT chain_id, diff_id, synced, boot_id FROM image_lazy_layers ORDER BY rowid').all() as never;
}

test('lazyTar: a committed layer has no blob; layer() and save() make its tar from the snapshot, equal to the diffID', async () => {
  const env = await makeEnv();
  try {
    const b = await base(env);
    const img = await copyStep(env, b.id, { 'data/a': 'a'.repeat(100_000), 'data/b': 'b' }, 'built:1');
    const diffId = img.config.rootfs.diff_ids[1] as Digest;
    assert.equal(img.config.rootfs.diff_ids.length, 2);
    assert.equal(env.store.content.has(diffId), false, 'no tar written at commit');
    assert.equal(lazyRows(env).length, 1);
    assert.equal(env.store.layerUsage().get(img.chainIds[1])?.archive, 0);

    const tar = await collect(env.store.layer(diffId));
    assert.equal(sha256(tar), diffId);
    const files = await readTar(tar);
    assert.equal((files.get('data/b') as Buffer).toString(), 'b');

    // save: every layer member hashes to its name, and the manifest's layers are the config's diff_ids.
    const out = new PassThrough();
    const saved = collect(out);
    await env.store.save(['built:1'], out);
    const archive = await readTar(await saved);
    const manifest = JSON.parse((archive.get('manifest.json') as Buffer).toString()) as Array<{ Layers: string[] }>;
    assert.deepEqual(manifest[0].Layers, img.config.rootfs.diff_ids.map((d) => `blobs/sha256/${hexOf(d as Digest)}`));
    for (const name of manifest[0].Layers) assert.equal(sha256(archive.get(name) as Buffer), `sha256:${name.slice('blobs/sha256/'.length)}`);
    // The tar is kept once made (a second save or a push reads the file).
    assert.equal(env.store.content.has(diffId), true);
  } finally {
    await env.close();
  }
});

test('lazyTar: a RUN-like commit of a snapshot in place digests its diff; a metadata step writes no blob', async () => {
  const env = await makeEnv();
  try {
    const b = await base(env);
    const key = 'c'.repeat(64);
    await env.snapshotter.prepare(key, b.chainIds[0]);
    writeFileSync(join(env.snapshotter.upperDir(key), 'hello'), 'hi\n');
    const img = await env.store.commit({ parentImage: b.id, layer: env.snapshotter.diff(key), snapshot: key, config: {}, containerId: key, lazyTar: true });
    const diffId = img.config.rootfs.diff_ids[1] as Digest;
    assert.equal(env.store.content.has(diffId), false);
    assert.equal(sha256(await collect(env.store.layer(diffId))), diffId);
    await env.snapshotter.remove(key);

    const blobs = env.store.content.list().length;
    const meta = await env.store.commit({ parentImage: img.id, layer: null, config: { Cmd: ['x'] }, containerId: '', createdBy: 'CMD' });
    assert.equal(meta.config.rootfs.diff_ids.length, 2);
    assert.equal(meta.config.history?.at(-1)?.empty_layer, true);
    assert.equal(env.store.content.has(EMPTY_LAYER_DIFF_ID), false);
    assert.equal(env.store.content.list().length, blobs + 1, 'only the config');
  } finally {
    await env.close();
  }
});

test('lazyTar: removing the image removes the layer and its record', async () => {
  const env = await makeEnv();
  try {
    const b = await base(env);
    const img = await copyStep(env, b.id, { x: 'x' });
    await env.store.remove(img.id, { force: false, noPrune: false }, noUsage);
    assert.equal(lazyRows(env).length, 0);
    assert.equal(env.snapshotter.hasLayer(img.chainIds[1]), false);
  } finally {
    await env.close();
  }
});

test('lazyTar crash consistency: berthd restart (same boot) syncs; machine crash (other boot) checks each unsynced layer', async () => {
  const env = await makeEnv();
  try {
    const b = await base(env);
    const kept = await copyStep(env, b.id, { k: 'kept' }, 'kept:1');
    const lost = await copyStep(env, b.id, { l: 'lost' }, 'lost:1');
    const torn = await copyStep(env, b.id, { t: 'torn' }, 'torn:1');
    const child = await copyStep(env, torn.id, { c: 'child' }, 'child:1');
    assert.ok(lazyRows(env).every((r) => r.synced === 0), 'synced later, off the commit path');

    // A restart in the same boot: nothing was lost (page cache); the layers are synced on open.
    await env.reopen();
    assert.ok(lazyRows(env).every((r) => r.synced === 1));
    assert.equal(env.store.list().length, 5);

    // A machine crash: layers written under another boot and never synced. One lost its files,
    // one came back with other content; the third is intact.
    env.db.prepare("UPDATE image_lazy_layers SET synced = 0, boot_id = 'another-boot'").run();
    rmSync(join(env.dir, 'snapshots', 'layers', hexOf(lost.chainIds[1])), { recursive: true, force: true });
    appendFileSync(join(layerDir(env, torn.chainIds[1]), 't'), 'garbage');
    await env.reopen();
    assert.ok(env.store.find('kept:1'));
    assert.equal(env.store.find('lost:1'), undefined);
    assert.equal(env.store.find('torn:1'), undefined);
    assert.equal(env.store.find('child:1'), undefined, 'an image above a torn layer goes with it');
    assert.ok(env.store.find('base'));
    assert.equal(env.snapshotter.hasLayer(torn.chainIds[1]), false, 'gc removed the torn layer');
    assert.deepEqual(lazyRows(env).map((r) => [r.chain_id, r.synced]), [[kept.chainIds[1], 1]]);
    assert.equal(sha256(await collect(env.store.layer(kept.config.rootfs.diff_ids[1] as Digest))), kept.config.rootfs.diff_ids[1]);
    void child;
  } finally {
    await env.close();
  }
});

test('lazyTar: syncLayers marks what was committed before it', async () => {
  const env = await makeEnv();
  try {
    const b = await base(env);
    await copyStep(env, b.id, { s: 's' });
    await env.store.syncLayers();
    assert.deepEqual(lazyRows(env).map((r) => r.synced), [1]);
  } finally {
    await env.close();
  }
});

test('lazyTar: a commit from members (a file copied by its FileCopySource) gives the layer its tar gives', async () => {
  const env = await makeEnv();
  try {
    const b = await base(env);
    const big = 'a'.repeat(100_000);
    const src = join(env.dir, 'copy-source');
    writeFileSync(src, big);
    const header = (name: string, type: 'file' | 'directory', size = 0) => ({
      name, type, size, mode: type === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, mtime: 0, linkname: '', devmajor: 0, devminor: 0, xattrs: new Map<string, Buffer>(),
    });
    let copies = 0;
    const members = [
      { header: header('data', 'directory'), body: [] },
      { header: header('data/a', 'file', big.length), body: { copyTo: (dest: string) => { copies++; return copyFile(src, dest, constants.COPYFILE_EXCL); } } },
      { header: header('data/b', 'file', 1), body: [Buffer.from('b')] },
    ];
    const tar = await makeTar([{ name: 'data/', type: 'directory' }, { name: 'data/a', data: big }, { name: 'data/b', data: 'b' }]);
    const fromMembers = await env.store.commit({ parentImage: b.id, layer: streamOf(tar), members, config: {}, containerId: '', lazyTar: true });
    const fromTar = await env.store.commit({ parentImage: b.id, layer: streamOf(tar), config: {}, containerId: '', lazyTar: true });
    assert.equal(copies, 1, 'the members were applied, not the tar');
    assert.equal(fromMembers.config.rootfs.diff_ids[1], fromTar.config.rootfs.diff_ids[1]);
    const files = await readTar(await collect(env.store.layer(fromMembers.config.rootfs.diff_ids[1] as Digest)));
    assert.equal((files.get('data/a') as Buffer).toString(), big);
  } finally {
    await env.close();
  }
});
