import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Daemon, startDaemon } from './harness';
import { RunningRegistry, startRegistry } from './registry-helpers';

// A built layer's tar is not written at commit (CommitInput.lazyTar): the image store digests the
// layer's snapshot for the diffID and makes the tar from the layer when save or push needs it.
// These break if that tar differs from what was digested, or if a reader of layer blobs reads the
// content store without asking for the tar first.
describe('build: layer tars made on demand (save, push, pull into another daemon, restart)', () => {
  let d: Daemon;
  let d2: Daemon;
  let reg: RunningRegistry;
  let dir: string;

  before(async () => {
    dir = mkdtempSync('/tmp/berth-build-lazy-');
    reg = await startRegistry(join(dir, 'registry'));
    d = await startDaemon();
    d.env.DOCKER_BUILDKIT = '0';
    d2 = await startDaemon({ withBusybox: false });
  });
  after(async () => {
    await d?.stop();
    await d2?.stop();
    await reg?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const ok = (dd: Daemon, args: string[], input?: string) => {
    const r = dd.docker(args, { timeout: 60_000, input });
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
    return r.stdout;
  };
  const sha = (b: Buffer) => `sha256:${createHash('sha256').update(b).digest('hex')}`;

  /** A multi-stage build with RUN, COPY and COPY --from layers; returns the image ID. */
  const build = (tag: string): string => {
    const ctx = join(dir, 'ctx');
    mkdirSync(join(ctx, 'sub'), { recursive: true });
    writeFileSync(join(ctx, 'big.bin'), Buffer.alloc(3 << 20, 7));
    writeFileSync(join(ctx, 'sub', 'a.txt'), 'a\n');
    writeFileSync(join(ctx, 'Dockerfile'), [
      'FROM busybox AS base',
      'RUN mkdir -p /data && for i in $(seq 1 20); do echo "file $i" > /data/f$i; done && ln /data/f1 /data/hard && ln -s f2 /data/soft',
      'COPY big.bin /big.bin',
      'COPY sub /sub',
      'RUN rm /data/f3 && sha256sum /big.bin > /big.sha',
      'FROM busybox',
      'COPY --from=base /data /data',
      'COPY --from=base /big.sha /',
      'CMD ["cat", "/big.sha"]',
    ].join('\n'));
    ok(d, ['build', '-q', '--no-cache', '-t', tag, ctx]);
    return ok(d, ['image', 'inspect', '-f', '{{.Id}}', tag]).trim();
  };

  const diffIds = (dd: Daemon, ref: string): string[] => JSON.parse(ok(dd, ['image', 'inspect', '-f', '{{json .RootFS.Layers}}', ref]));

  test('docker save of a built image: every layer tar hashes to its diff_id; load into another daemon runs', () => {
    build('lazy:1');
    // The base stage's layers too: an intermediate image (its parent chain) is saved by ID.
    const ids = ok(d, ['images', '-aq', '--no-trunc']).split('\n').filter(Boolean);
    const out = join(dir, 'save');
    mkdirSync(out);
    const archive = join(dir, 'lazy.tar');
    ok(d, ['save', '-o', archive, 'lazy:1', ...ids]);
    assert.equal(spawnSync('tar', ['-xf', archive, '-C', out]).status, 0);
    const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Array<{ Config: string; Layers: string[] }>;
    let layers = 0;
    for (const m of manifest) {
      const config = JSON.parse(readFileSync(join(out, m.Config), 'utf8')) as { rootfs: { diff_ids: string[] } };
      assert.deepEqual(m.Layers.map((l) => `sha256:${l.split('/').pop()}`), config.rootfs.diff_ids);
      for (const l of m.Layers) {
        assert.equal(sha(readFileSync(join(out, l))), `sha256:${l.split('/').pop()}`, l);
        layers++;
      }
    }
    assert.ok(layers >= 6, `${layers} layers`);
    for (const f of readdirSync(join(out, 'blobs', 'sha256'))) assert.equal(sha(readFileSync(join(out, 'blobs', 'sha256', f))), `sha256:${f}`);

    ok(d2, ['load', '-i', archive]);
    assert.deepEqual(diffIds(d2, 'lazy:1'), diffIds(d, 'lazy:1'));
    assert.match(ok(d2, ['run', '--rm', 'lazy:1']), /^[0-9a-f]{64} {2}\/big.bin\n$/);
    ok(d2, ['rmi', 'lazy:1']);
  });

  test('push of a freshly built image to berth registry serve, pull into another daemon: same diff_ids, runs', () => {
    build('lazy:2');
    const ref = `${reg.addr}/lazy/img:2`;
    ok(d, ['tag', 'lazy:2', ref]);
    ok(d, ['push', ref]);
    ok(d2, ['pull', ref]);
    assert.deepEqual(diffIds(d2, ref), diffIds(d, 'lazy:2'));
    const run = ok(d2, ['run', '--rm', ref]);
    assert.equal(run, ok(d, ['run', '--rm', 'lazy:2']));
    assert.equal(ok(d2, ['run', '--rm', ref, 'sh', '-c', 'cat /data/hard; readlink /data/soft; ls /data | wc -l']), 'file 1\nf2\n21\n');
  });

  test('after a kill -9 and a restart the built image is whole: save still makes its layers', async () => {
    build('lazy:3');
    await d.kill('SIGKILL');
    await d.restart();
    const archive = join(dir, 'lazy3.tar');
    ok(d, ['save', '-o', archive, 'lazy:3']);
    const out = join(dir, 'save3');
    mkdirSync(out);
    assert.equal(spawnSync('tar', ['-xf', archive, '-C', out]).status, 0);
    const [m] = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as Array<{ Layers: string[] }>;
    for (const l of m.Layers) assert.equal(sha(readFileSync(join(out, l))), `sha256:${l.split('/').pop()}`, l);
    assert.match(ok(d, ['run', '--rm', 'lazy:3']), /\/big.bin\n$/);
  });
});
