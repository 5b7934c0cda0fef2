import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { sha256, type Digest } from '../base/digest';
import { BerthError, isKind } from '../base/errors';
import { readTar } from '../archive/tar-codec';
import { makeTar } from '../archive/testing/make-tar';
import { isMounted, mountAll, unmountAll } from '../sys/mount';
import type { Snapshotter } from './snapshotter';

/**
 * The contract tests every Snapshotter runs: real layers, real mounts in a temp dir, real file
 * operations through the mount, then `changes` and `diff` checked. Everything is unmounted and
 * removed even when a test fails.
 */
export function snapshotterSuite(name: string, factory: (root: string) => Snapshotter): void {
  describe(`Snapshotter contract: ${name}`, () => {
    let dir: string;
    let s: Snapshotter;
    const base: Digest = sha256(`base-${process.pid}`);
    const child: Digest = sha256(`child-${process.pid}`);
    const mountPoints: string[] = [];

    const mountAt = (key: string) => {
      const target = join(dir, `mnt-${key}`);
      mkdirSync(target, { recursive: true });
      mountPoints.push(target);
      mountAll(s.mounts(key), target);
      return target;
    };

    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'berth-snap-'));
      s = factory(join(dir, 'root'));
      await s.applyLayer(base, null, makeTar([
        { name: 'a', content: 'a' },
        { name: 'keep', content: 'keep' },
        { name: 'd/', type: 'directory' },
        { name: 'd/x', content: 'x' },
        { name: 'd/y', content: 'y' },
        { name: 'e/', type: 'directory' },
        { name: 'e/f', content: 'f' },
      ]));
      await s.applyLayer(child, base, makeTar([
        { name: '.wh.a' },
        { name: 'd/', type: 'directory' },
        { name: 'd/.wh..wh..opq' },
        { name: 'd/z', content: 'zz' },
      ]));
    });

    after(() => {
      for (const m of mountPoints) { try { unmountAll(m); } catch { /* keep cleaning */ } }
      rmSync(dir, { recursive: true, force: true });
    });

    it('commits layers and reports them', async () => {
      assert.ok(s.hasLayer(base));
      assert.ok(s.hasLayer(child));
      assert.equal(await s.layerSize(base), 1 + 4 + 1 + 1 + 1);
      assert.equal(await s.layerSize(child), 2);
      assert.equal(s.hasLayer(sha256('absent')), false);
      // Re-applying is a no-op.
      assert.equal((await s.applyLayer(child, base, makeTar([]))).size, 2);
    });

    it('shows the merged view through the mount, with whiteouts and opaque dirs applied', async () => {
      await s.prepare('view', child);
      const m = mountAt('view');
      try {
        assert.deepEqual(readdirSync(m).sort(), ['d', 'e', 'keep']);
        assert.deepEqual(readdirSync(join(m, 'd')), ['z']);
        assert.equal(readFileSync(join(m, 'd/z'), 'utf8'), 'zz');
      } finally {
        unmountAll(m);
        await s.remove('view');
      }
      assert.equal(isMounted(m), false);
    });

    it('records writes, deletions and renames as changes and as an OCI diff', async () => {
      await s.prepare('rw', child);
      const m = mountAt('rw');
      try {
        writeFileSync(join(m, 'new'), 'new!');
        unlinkSync(join(m, 'keep'));
        writeFileSync(join(m, 'e/f'), 'changed');
        renameSync(join(m, 'd/z'), join(m, 'd/w'));
        mkdirSync(join(m, 'n/o'), { recursive: true });
      } finally {
        unmountAll(m);
      }
      const changes = await s.changes('rw');
      const byPath = new Map(changes.map((c) => [c.Path, c.Kind]));
      assert.equal(byPath.get('/new'), 1);
      assert.equal(byPath.get('/keep'), 2);
      assert.equal(byPath.get('/e/f'), 0);
      assert.equal(byPath.get('/d/z'), 2);
      assert.equal(byPath.get('/d/w'), 1);
      assert.equal(byPath.get('/n'), 1);
      assert.equal(byPath.get('/n/o'), 1);
      assert.ok(await s.usage('rw') >= 4 + 7 + 2);

      const names: string[] = [];
      const data = new Map<string, string>();
      for await (const { header, body } of readTar(s.diff('rw'))) {
        names.push(header.name);
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c);
        data.set(header.name, Buffer.concat(chunks).toString());
      }
      assert.ok(names.includes('.wh.keep'));
      assert.ok(names.includes('d/.wh.z'));
      assert.equal(data.get('d/w'), 'zz');
      assert.equal(data.get('new'), 'new!');
      assert.ok(names.includes('n/o/'));
      // The diff applies as a layer whose view equals the container's.
      const committed = sha256(`committed-${process.pid}`);
      await s.applyLayer(committed, child, s.diff('rw'));
      await s.prepare('check', committed);
      const c = mountAt('check');
      try {
        assert.deepEqual(readdirSync(c).sort(), ['d', 'e', 'n', 'new']);
        assert.deepEqual(readdirSync(join(c, 'd')), ['w']);
        assert.equal(readFileSync(join(c, 'e/f'), 'utf8'), 'changed');
      } finally {
        unmountAll(c);
        await s.remove('check');
        await s.removeLayer(committed);
        await s.remove('rw');
      }
      assert.equal(s.hasLayer(committed), false);
    });

    it('prepares a snapshot without a parent', async () => {
      await s.prepare('empty', null);
      const m = mountAt('empty');
      try {
        assert.deepEqual(readdirSync(m), []);
        writeFileSync(join(m, 'f'), 'f');
      } finally {
        unmountAll(m);
      }
      assert.deepEqual(await s.changes('empty'), [{ Path: '/f', Kind: 1 }]);
      await s.remove('empty');
    });

    it('fails with the right kinds', async () => {
      await s.prepare('dup', null);
      await assert.rejects(s.prepare('dup', null), (e) => isKind(e, 'AlreadyExists'));
      await s.remove('dup');
      await s.remove('dup'); // no-op when absent
      await assert.rejects(s.prepare('orphan', sha256('nope')), (e) => isKind(e, 'NotFound'));
      assert.throws(() => s.mounts('nope'), (e) => isKind(e, 'NotFound'));
      await assert.rejects(s.changes('nope'), (e) => isKind(e, 'NotFound'));
      await assert.rejects(s.applyLayer(sha256('p'), sha256('missing-parent'), makeTar([])), (e) => isKind(e, 'NotFound'));
    });

    it('commits a layer only once its tar stream ended: an error after the end-of-archive marker vetoes it', async () => {
      const vetoed = sha256(`vetoed-${process.pid}`);
      const tar = new PassThrough();
      const applied = s.applyLayer(vetoed, null, tar);
      for await (const c of makeTar([{ name: 'f', content: 'whole archive' }])) tar.write(c);
      await new Promise((r) => setTimeout(r, 50)); // the whole archive, end marker included, has been read
      assert.equal(s.hasLayer(vetoed), false);
      tar.destroy(new BerthError('InvalidArgument', 'content digest mismatch'));
      await assert.rejects(applied);
      assert.equal(s.hasLayer(vetoed), false);
    });

    it('leaves nothing behind for a hostile layer', async () => {
      const evil = sha256(`evil-${process.pid}`);
      await assert.rejects(s.applyLayer(evil, null, makeTar([
        { name: 'ok', content: 'fine' },
        { name: '../../escape', content: 'bad' },
      ])), (e) => isKind(e, 'InvalidArgument'));
      assert.equal(s.hasLayer(evil), false);
      assert.equal(existsSync(join(dir, 'escape')), false);
    });
  });
}
