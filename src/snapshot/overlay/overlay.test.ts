import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
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
