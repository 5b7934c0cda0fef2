import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, startDaemon } from './harness';

/** A file list's total size. */
function sizeOf(dir: string, names: string[]): number {
  return names.reduce((a, n) => a + statSync(join(dir, n)).size, 0);
}

// `docker system df` and `df -v` with what is really on disk: images with their shared and unique
// parts (unpacked layers and the layer tars kept beside them), containers with their writable
// layer and their logs (rotated files included), volumes, and the build cache's cache mounts.
describe('system df: true sizes', () => {
  let d: Daemon;
  let tmp: string;
  before(async () => {
    d = await startDaemon();
    tmp = mkdtempSync('/tmp/berth-test-df-');
  });
  after(async () => {
    await d?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };

  test('images, containers, logs, volumes and the build cache, through the API and the docker CLI', async () => {
    const ctx = join(tmp, 'ctx');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'Dockerfile'), [
      'FROM busybox',
      // One step, so no intermediate image shares derived's layer.
      'RUN --mount=type=cache,target=/cache head -c 200000 /dev/urandom > /cache/blob && head -c 1000000 /dev/urandom > /big',
      '',
    ].join('\n'));
    ok(['build', '-q', '-t', 'derived', ctx]);
    // c1: 300 kB in its writable layer, 10000 lines of log; c2: running, a volume with 50 kB;
    // c3: a log rotated at 50 kB, three files at most.
    ok(['run', '--name', 'c1', 'busybox', 'sh', '-c', 'head -c 300000 /dev/urandom > /f; seq 1 10000']);
    ok(['run', '-d', '--name', 'c2', '-v', 'vol1:/data', 'derived', 'sh', '-c', 'head -c 50000 /dev/zero > /data/z; exec sleep 100']);
    ok(['run', '--name', 'c3', '--log-opt', 'max-size=50k', '--log-opt', 'max-file=3', 'busybox', 'sh', '-c',
      'i=0; while [ $i -lt 200 ]; do seq 1 100; i=$((i+1)); done']);
    for (let i = 0; i < 50 && !ok(['exec', 'c2', 'ls', '/data']).includes('z'); i++) await new Promise((r) => setTimeout(r, 100));

    const df = JSON.parse((await d.api('GET', '/system/df')).body);
    const img = (tag: string) => df.Images.find((i: { RepoTags: string[] }) => i.RepoTags.includes(tag));
    const busybox = img('busybox:latest');
    const derived = img('derived:latest');
    // busybox's layer is derived's bottom layer: all of busybox is shared; derived's own part is
    // the 1 MB file unpacked. A built layer's tar is not kept (made when save or push needs it).
    assert.equal(busybox.SharedSize, busybox.Size);
    assert.equal(derived.SharedSize, busybox.Size);
    const unique = derived.Size - derived.SharedSize;
    assert.ok(unique >= 1_000_000 && unique < 1_100_000, `derived's unique size ${unique}`);
    // Each part once: what the images take together.
    assert.equal(df.LayersSize, busybox.Size + unique);
    assert.ok(busybox.Size > 2 * 1_000_000, 'busybox counts its unpacked layer and its tar');
    assert.equal(busybox.Containers, 2);
    assert.equal(derived.Containers, 1);

    const ctr = (name: string) => df.Containers.find((c: { Names: string[] }) => c.Names[0] === `/${name}`);
    const dirOf = (name: string) => join(d.dataRoot, 'containers', ctr(name).Id);
    const logFiles = (name: string) => readdirSync(dirOf(name)).filter((n) => n.startsWith(`${ctr(name).Id}-json.log`));
    const c1 = ctr('c1');
    assert.equal(c1.SizeLogs, sizeOf(dirOf('c1'), logFiles('c1')));
    assert.ok(c1.SizeLogs > 48_894, 'the log holds at least the 10000 lines');
    assert.ok(c1.SizeRw - c1.SizeLogs >= 300_000 && c1.SizeRw - c1.SizeLogs < 310_000, `c1's writable layer ${c1.SizeRw - c1.SizeLogs}`);
    // The virtual size is the root filesystem: the layer and the image's unpacked layers (no logs, no tars).
    assert.equal(c1.SizeRootFs, c1.SizeRw - c1.SizeLogs + Number(ok(['image', 'inspect', '-f', '{{.Size}}', 'busybox']).trim()));
    const c3 = ctr('c3');
    assert.ok(logFiles('c3').some((n) => n.endsWith('.1')), `c3 rotated: ${logFiles('c3').join(' ')}`);
    assert.equal(c3.SizeLogs, sizeOf(dirOf('c3'), logFiles('c3')));
    assert.ok(c3.SizeLogs > 50_000, 'rotated files count');
    const c2 = ctr('c2');
    assert.equal(c2.State, 'running');
    assert.equal(c2.Command, 'sh -c \'head -c 50000 /dev/zero > /data/z; exec sleep 100\'');
    assert.deepEqual(c2.Mounts.map((m: { Name: string }) => m.Name), ['vol1']);
    const vol = df.Volumes.find((v: { Name: string }) => v.Name === 'vol1');
    assert.deepEqual(vol.UsageData, { Size: 50_000, RefCount: 1 });
    const caches = df.BuildCache.filter((b: { Type: string }) => b.Type === 'exec.cachemount');
    assert.equal(caches.length, 1);
    assert.ok(caches[0].Size >= 200_000 && !caches[0].Shared && !caches[0].InUse, JSON.stringify(caches[0]));

    // The docker CLI's summary: its sizes are the API's numbers as go-units prints them.
    const rows = Object.fromEntries(ok(['system', 'df', '--format', '{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}']).trim().split('\n')
      .map((l) => [l.split('|')[0], l.split('|').slice(1)]));
    const mb = (n: number) => `${(n / 1e6).toPrecision(4).replace(/\.?0+$/, '')}MB`;
    assert.deepEqual(rows.Images.slice(0, 3), ['2', '2', mb(df.LayersSize)]);
    assert.deepEqual(rows.Containers.slice(0, 2), ['3', '1']);
    const stoppedBytes = c1.SizeRw + c3.SizeRw;
    assert.match(rows.Containers[2], /^[\d.]+[kM]B$/);
    assert.equal(rows.Containers[3], `${rows.Containers[2]} (${Math.round((stoppedBytes / (stoppedBytes + c2.SizeRw)) * 100)}%)`);
    assert.deepEqual(rows['Local Volumes'].slice(0, 3), ['1', '1', '50kB']);
    assert.deepEqual(rows['Build Cache'].slice(1, 2), ['0']);
    assert.match(rows['Build Cache'][2], /^2\d\dkB$/);

    // -v: each image's shared and unique size, each container's volumes, size and command.
    const images = ok(['system', 'df', '-v', '--format', '{{range .Images}}{{.Repository}} {{.UniqueSize}} {{.Containers}};{{end}}']);
    assert.match(images, /busybox 0B 2;/);
    assert.match(images, /derived 1(\.0\d+)?MB 1;/);
    const containers = ok(['system', 'df', '-v', '--format', '{{range .Containers}}{{.Names}} {{.LocalVolumes}} {{.Size}};{{end}}']);
    assert.match(containers, /c2 1 \d+B;/);
    assert.match(containers, /c1 0 [\d.]+kB;/);
    const table = ok(['system', 'df', '-v']);
    assert.match(table, /^Images space usage:$/m);
    assert.match(table, /^REPOSITORY +TAG +IMAGE ID +CREATED +SIZE +SHARED SIZE +UNIQUE SIZE +CONTAINERS$/m);
    assert.match(table, /^CONTAINER ID +IMAGE +COMMAND +LOCAL VOLUMES +SIZE +CREATED +STATUS +NAMES$/m);
    assert.match(table, /derived +"sh -c 'head -c 5000…" +1 /);
    assert.match(table, /exec\.cachemount/);

    // docker ps -s and inspect -s: the writable layer alone, and the virtual size with the image.
    const ps = ok(['ps', '-a', '-s', '--filter', 'name=c1', '--format', '{{.Size}}']).trim();
    assert.match(ps, /^30\dkB \(virtual 2\.\d+MB\)$/);
    const [rw, rootFs] = ok(['inspect', '-s', '-f', '{{.SizeRw}} {{.SizeRootFs}}', 'c1']).trim().split(' ').map(Number);
    assert.equal(rw, c1.SizeRw - c1.SizeLogs);
    assert.equal(rootFs, c1.SizeRootFs);
    ok(['rm', '-f', 'c1', 'c2', 'c3']);
    ok(['volume', 'rm', 'vol1']);
  });
});
