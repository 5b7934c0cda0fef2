import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Digest } from '../base/digest';
import type { ImageRecord, LayerUsage } from '../image/image-store';
import { imageDiskUsage } from './disk-usage';

const d = (s: string) => `sha256:${s.padEnd(64, '0')}` as Digest;
const img = (id: string, chains: string[]): ImageRecord =>
  ({ id: d(id), repoTags: [], repoDigests: [], parent: '', created: '', size: 0, config: {} as ImageRecord['config'], chainIds: chains.map(d) });

test('imageDiskUsage: shared parts once in LayersSize; SharedSize is what other images use too', () => {
  const layers = new Map<Digest, LayerUsage>([
    [d('c1'), { diffId: d('f1'), unpacked: 2000, archive: 2100 }],
    [d('c2'), { diffId: d('f2'), unpacked: 1000, archive: 1100 }],
    [d('c3'), { diffId: d('f3'), unpacked: 500, archive: 0 }],
    // The same layer content on another base: its own snapshot, the one tar of f2.
    [d('c4'), { diffId: d('f2'), unpacked: 1000, archive: 1100 }],
  ]);
  const base = img('a', ['c1']);
  const derived = img('b', ['c1', 'c2']);
  const other = img('c', ['c3', 'c4']);
  const u = imageDiskUsage([base, derived, other], layers);
  assert.deepEqual(u.images.get(base.id), { size: 4100, sharedSize: 4100 });
  assert.deepEqual(u.images.get(derived.id), { size: 6200, sharedSize: 5200 });
  assert.deepEqual(u.images.get(other.id), { size: 2600, sharedSize: 1100 });
  assert.equal(u.layersSize, 2000 + 2100 + 1000 + 1100 + 500 + 1000);
  // An image alone shares nothing; a layer the store no longer has counts for nothing.
  const alone = imageDiskUsage([img('x', ['c3', 'gone'])], layers);
  assert.deepEqual(alone.images.get(d('x')), { size: 500, sharedSize: 0 });
  assert.equal(alone.layersSize, 500);
});
