import assert from 'node:assert/strict';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { it } from 'node:test';
import { sha256, type Digest } from '../../base/digest';
import { isKind } from '../../base/errors';
import { makeTar } from '../../archive/testing/make-tar';
import { mountAll, unmountAll } from '../../sys/mount';
import { snapshotterSuite } from '../snapshotter-suite';
import { OverlaySnapshotter } from './overlay-snapshotter';

snapshotterSuite('overlay', (root) => new OverlaySnapshotter(root));

it('overlay: removes leftover temp dirs on construction', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ovl-'));
  try {
    mkdirSync(join(dir, 'tmp', 'half-unpacked'), { recursive: true });
    writeFileSync(join(dir, 'tmp', 'half-unpacked', 'f'), 'x');
    new OverlaySnapshotter(dir);
    assert.deepEqual(readdirSync(join(dir, 'tmp')), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('overlay: commitSnapshot makes a snapshot\'s changes a layer in place, as unpacking its diff would', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-ovl-'));
  const s = new OverlaySnapshotter(join(dir, 'root'));
  const mnt = join(dir, 'mnt');
  mkdirSync(mnt);
  const base = sha256(`commit-base-${process.pid}`);
  const adopted = sha256(`commit-adopted-${process.pid}`);
  const unpacked = sha256(`commit-unpacked-${process.pid}`);
  // Each view of a layer: every path below the mount with its type, mode and content.
  const view = async (chain: Digest) => {
    await s.prepare('view', chain);
    mountAll(s.mounts('view'), mnt);
    try {
      const out: string[] = [];
      const walk = (rel: string) => {
        for (const n of readdirSync(join(mnt, rel)).sort()) {
          const p = join(rel, n);
          const st = lstatSync(join(mnt, p));
          out.push(`${p} ${st.mode.toString(8)} ${st.isFile() ? readFileSync(join(mnt, p), 'utf8') : ''}`);
          if (st.isDirectory()) walk(p);
        }
      };
      walk('');
      return `/ ${lstatSync(mnt).mode.toString(8)}\n${out.join('\n')}`;
    } finally {
      unmountAll(mnt);
      await s.remove('view');
    }
  };
  try {
    await s.applyLayer(base, null, makeTar([
      { name: 'gone', content: 'g' }, { name: 'd/', type: 'directory' }, { name: 'd/old', content: 'o' }, { name: 'keep', content: 'k' },
    ]));
    await s.prepare('run', base);
    // Mounted as a build step's container is: ephemeral (overlay's volatile), never synced.
    assert.ok(s.mounts('run', { ephemeral: true })[0].options.includes('volatile'));
    assert.ok(!s.mounts('run')[0].options.includes('volatile'));
    mountAll(s.mounts('run', { ephemeral: true }), mnt);
    try {
      writeFileSync(join(mnt, 'new'), 'n');
      rmSync(join(mnt, 'gone'));
      rmSync(join(mnt, 'd'), { recursive: true });
      mkdirSync(join(mnt, 'd'));
      writeFileSync(join(mnt, 'd', 'fresh'), 'f');
      chmodSync(mnt, 0o700);
      await new Promise<void>((resolve) => { const srv = createServer().listen(join(mnt, 'sock'), () => srv.close(() => resolve())); });
    } finally {
      unmountAll(mnt);
    }
    const tar = await collect(s.diff('run'));
    await assert.rejects(s.commitSnapshot('run', adopted, sha256('not-its-parent')), (e) => isKind(e, 'InvalidArgument'));
    assert.equal((await s.commitSnapshot('run', adopted, base)).size, 2);
    assert.deepEqual(readdirSync(s.upperDir('run')), []);
    await s.applyLayer(unpacked, base, Readable.from([tar]));
    assert.equal(await view(adopted), await view(unpacked));
    assert.match(await view(adopted), /^\/ 40755\n/);
    // The layer exists: nothing to do, the snapshot keeps what it has.
    writeFileSync(join(s.upperDir('run'), 'later'), 'l');
    await s.commitSnapshot('run', adopted, base);
    assert.deepEqual(readdirSync(s.upperDir('run')), ['later']);
    await s.remove('run');
  } finally {
    try { unmountAll(mnt); } catch { /* not mounted */ }
    rmSync(dir, { recursive: true, force: true });
  }
});

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
