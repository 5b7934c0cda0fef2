import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderContextRows } from '../format/formatter';
import { DEFAULT_DISK_USAGE_FORMAT, DISK_USAGE_HEADERS, diskUsageRows, sortBuildCache } from '../format/contexts';
import { systemPruneMessage } from './disk';
import type { BuildCacheRecord, ContainerSummary, DiskUsage, ImageSummary, Volume } from '../../client/types';

test('system prune: the prompt as docker words it, with the label and until filters sorted', () => {
  assert.equal(systemPruneMessage({ all: false, volumes: false, filters: [] }), [
    'WARNING! This will remove:', '  - all stopped containers', '  - all networks not used by at least one container',
    '  - all dangling images', '  - unused build cache', '', 'Are you sure you want to continue?',
  ].join('\n'));
  assert.equal(systemPruneMessage({ all: true, volumes: true, filters: ['until=1h', 'label=b', 'label!=a', 'label=b', 'dangling=true'] }), [
    'WARNING! This will remove:', '  - all stopped containers', '  - all networks not used by at least one container',
    '  - all anonymous volumes not used by at least one container', '  - all images without at least one container associated to them',
    '  - all build cache', '', '  Items to be pruned will be filtered with:', '  - label!=a', '  - label=b', '  - until=1h', '',
    'Are you sure you want to continue?',
  ].join('\n'));
});

test('system df: totals, active objects and what could be reclaimed, as docker computes them', () => {
  const img = (Size: number, SharedSize: number, Containers: number) => ({ Size, SharedSize, Containers }) as ImageSummary;
  const ctr = (State: string, SizeRw: number) => ({ State, SizeRw }) as ContainerSummary;
  const vol = (Size: number, RefCount: number) => ({ UsageData: { Size, RefCount } }) as Volume;
  const cache = (Size: number, InUse: boolean, Shared: boolean) => ({ Size, InUse, Shared }) as BuildCacheRecord;
  const du: DiskUsage = {
    LayersSize: 10_000_000,
    Images: [img(6_000_000, 2_000_000, 1), img(4_000_000, 2_000_000, 0)],
    Containers: [ctr('running', 1000), ctr('exited', 3000), ctr('paused', 0)],
    Volumes: [vol(5000, 1), vol(2000, 0), vol(-1, 0)],
    BuildCache: [cache(1000, true, false), cache(4000, false, false), cache(9000, false, true)],
  };
  assert.equal(renderContextRows('table', diskUsageRows(du), DISK_USAGE_HEADERS, DEFAULT_DISK_USAGE_FORMAT), [
    'TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE',
    'Images          2         1         10MB      6MB (60%)',
    'Containers      3         2         4kB       3kB (75%)',
    'Local Volumes   3         1         7kB       2kB (28%)',
    'Build Cache     3         1         5kB       4kB',
    '',
  ].join('\n'));
  const empty = diskUsageRows({ LayersSize: 0, Images: null, Containers: null, Volumes: null, BuildCache: null });
  assert.deepEqual(empty.map((r) => `${r.TotalCount} ${r.Size} ${r.Reclaimable}`), ['0 0B 0B', '0 0B 0B', '0 0B 0B', '0 0B 0B']);
});

test('build cache order: never used first, then least recently used, then ID', () => {
  const r = (ID: string, LastUsedAt?: string) => ({ ID, LastUsedAt }) as BuildCacheRecord;
  assert.deepEqual(sortBuildCache([r('c', '2026-01-02T00:00:00Z'), r('b', '2026-01-01T00:00:00Z'), r('z'), r('a', '2026-01-02T00:00:00Z')]).map((x) => x.ID),
    ['z', 'b', 'a', 'c']);
});
