import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tarStream from 'tar-stream';
import { conmonsUnder, Daemon, leakedMounts, startDaemon, dockerAsync, listDir } from './harness';

// Crash consistency: berthd is killed with SIGKILL in the middle of an operation that writes the
// image or container store, then started again. It must open cleanly and show either the old or
// the new state (never a half-made image or container), and the operation must succeed on retry.
describe('crash consistency (kill -9 mid-operation)', () => {
  let d: Daemon;
  let work: string;
  let archive: string;
  let baseline: StoreState;
  const LAYERS = 4;

  before(async () => {
    d = await startDaemon();
    work = mkdtempSync('/tmp/berth-crash-');
    archive = join(work, 'big.tar');
    writeFileSync(archive, await bigArchive('big:1', LAYERS, 6 << 20));
    baseline = storeState();
  });
  after(async () => {
    const execRoot = d?.execRoot;
    try {
      await d?.stop();
      if (execRoot) await until(() => conmonsUnder(execRoot).length === 0, 5000, 'conmon processes to exit');
    } finally {
      if (work) rmSync(work, { recursive: true, force: true });
    }
  });

  interface StoreState { images: string[]; blobs: string[]; layers: string[]; containers: string[] }
  const storeState = (): StoreState => ({
    images: ok(['images', '-a', '--no-trunc', '--format', '{{.ID}} {{.Repository}}:{{.Tag}}']).split('\n').filter(Boolean).sort(),
    blobs: listDir(join(d.dataRoot, 'image', 'sha256')),
    layers: listDir(join(d.dataRoot, 'overlay', 'layers')),
    containers: ok(['ps', '-a', '--no-trunc', '--format', '{{.ID}} {{.Names}}']).split('\n').filter(Boolean).sort(),
  });

  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };

  /** Runs `args`, kills berthd after `delay` ms, restarts it; resolves with whether the command had finished. */
  const killDuring = async (args: string[], delay: number): Promise<boolean> => {
    const cmd = dockerAsync(d, args);
    let finished = false;
    void cmd.then(() => { finished = true; });
    await new Promise((r) => setTimeout(r, delay));
    await d.kill('SIGKILL');
    await cmd;
    await d.restart();
    return finished;
  };

  /** Nothing half-made: no temp files left, every blob and layer belongs to a listed image. */
  const assertClean = () => {
    assert.deepEqual(listDir(join(d.dataRoot, 'image', 'tmp')), [], 'content store temp files left');
    assert.deepEqual(listDir(join(d.dataRoot, 'overlay', 'tmp')), [], 'snapshotter temp dirs left');
  };

  /** The big image is either absent (the old state) or complete (the new one). */
  const assertBigAllOrNothing = (): boolean => {
    const s = storeState();
    const present = s.images.some((i) => i.endsWith(' big:1'));
    if (!present) {
      assert.deepEqual(s.images, baseline.images);
      assert.deepEqual(s.blobs, baseline.blobs, 'blobs of a half-loaded image left behind');
      assert.deepEqual(s.layers, baseline.layers, 'layers of a half-loaded image left behind');
      return false;
    }
    assert.equal(s.images.length, baseline.images.length + 1);
    assert.equal(s.blobs.length, baseline.blobs.length + LAYERS + 1, 'config and every layer blob');
    assert.equal(s.layers.length, baseline.layers.length + LAYERS, 'every layer unpacked');
    assert.equal(ok(['image', 'inspect', '-f', '{{len .RootFS.Layers}}', 'big:1']).trim(), String(LAYERS));
    // The content is there: the top layer's file reads back.
    const c = ok(['create', 'big:1', 'x']).trim();
    const r = d.docker(['cp', `${c}:/layer${LAYERS - 1}/marker`, '-']);
    ok(['rm', c]);
    assert.equal(r.status, 0, r.stderr);
    assert.ok(r.stdout.includes(`layer ${LAYERS - 1}`));
    return true;
  };

  test('docker load killed at several points: all or nothing, and a retry succeeds', async () => {
    const t0 = Date.now();
    ok(['load', '-i', archive]);
    const full = Date.now() - t0;
    assert.ok(assertBigAllOrNothing());
    ok(['rmi', 'big:1']);
    assert.deepEqual(storeState(), baseline);
    for (const frac of [0.05, 0.3, 0.6, 0.9]) {
      await killDuring(['load', '-i', archive], Math.max(5, Math.round(full * frac)));
      assertClean();
      const present = assertBigAllOrNothing();
      const retry = d.docker(['load', '-i', archive]);
      assert.equal(retry.status, 0, `retry after a kill at ${frac}: ${retry.stderr}`);
      assert.match(retry.stdout, /Loaded image: big:1/);
      assert.ok(assertBigAllOrNothing(), `after the retry (image was ${present ? 'present' : 'absent'})`);
      ok(['rmi', 'big:1']);
      assert.deepEqual(storeState(), baseline);
    }
  });

  test('docker commit killed midway: no half image, the container is intact (and not left frozen)', async () => {
    ok(['run', '--name', 'big-change', 'busybox', 'sh', '-c', 'dd if=/dev/urandom of=/big bs=1M count=24 2>/dev/null; echo done > /marker']);
    ok(['run', '-d', '--name', 'live', 'busybox', 'sh', '-c', 'dd if=/dev/urandom of=/big bs=1M count=24 2>/dev/null; touch /ready; exec sleep 300']);
    await until(() => d.docker(['exec', 'live', 'test', '-e', '/ready']).status === 0, 10_000, 'live container to write its data');
    const before = storeState();
    for (const name of ['big-change', 'live']) {
      const t0 = Date.now();
      const id = ok(['commit', name, `snap-${name}:1`]).trim();
      const full = Date.now() - t0;
      ok(['rmi', id]);
      assert.deepEqual(storeState(), before);
      for (const frac of [0.2, 0.6, 0.95]) {
        await killDuring(['commit', name, `snap-${name}:1`], Math.max(5, Math.round(full * frac)));
        assertClean();
        const s = storeState();
        assert.deepEqual(s.containers, before.containers, 'the container survives');
        const present = s.images.some((i) => i.endsWith(` snap-${name}:1`));
        if (!present) {
          assert.deepEqual(s, before, `a commit killed at ${frac} left something behind`);
        } else {
          assert.equal(s.images.length, before.images.length + 1);
          assert.equal(ok(['run', '--rm', `snap-${name}:1`, 'wc', '-c', '/big']).trim(), `${24 << 20} /big`);
          ok(['rmi', `snap-${name}:1`]); // the retry below makes a new image (a new created time)
        }
        if (name === 'live') {
          // The commit paused it; after the crash it must run again, not stay frozen while reported running.
          assert.equal(ok(['inspect', '-f', '{{.State.Status}}', 'live']).trim(), 'running');
          const r = d.docker(['exec', 'live', 'echo', 'alive'], { timeout: 5000 });
          assert.equal(r.stdout, 'alive\n', `exec in live after a commit killed at ${frac}: ${r.status} ${r.stderr} ${r.error ?? ''}`);
        }
        const retry = d.docker(['commit', name, `snap-${name}:1`]);
        assert.equal(retry.status, 0, retry.stderr);
        ok(['rmi', `snap-${name}:1`]);
        assert.deepEqual(storeState(), before);
      }
    }
    ok(['rm', '-f', 'big-change', 'live']);
  });

  test('docker rm and docker rmi killed midway: old or new state, retry succeeds, nothing leaks', async () => {
    for (const delay of [5, 30, 80]) {
      const id = ok(['run', '-d', 'busybox', 'sleep', '300']).trim();
      await killDuring(['rm', '-f', id], delay);
      const r = d.docker(['inspect', '-f', '{{.State.Status}}', id]);
      if (r.status === 0) {
        // Still there: it is a whole container that docker can remove.
        assert.match(r.stdout.trim(), /^(running|exited|dead|removing)$/);
        ok(['rm', '-f', id]);
      }
      assert.equal(d.docker(['inspect', id]).status, 1);
      assert.deepEqual(leakedMounts(join(d.dataRoot, 'containers', id)), [], 'rootfs left mounted');
      assert.deepEqual(listDir(join(d.dataRoot, 'containers')).filter((n) => n === id), [], 'container dir left behind');
      await until(() => conmonsUnder(id).length === 0, 5000, 'conmon of the removed container to exit');
    }
    assert.deepEqual(storeState(), baseline);

    ok(['load', '-i', archive]);
    for (const delay of [10, 60, 150]) {
      if (!storeState().images.some((i) => i.endsWith(' big:1'))) ok(['load', '-i', archive]);
      await killDuring(['rmi', 'big:1'], delay);
      assertClean();
      if (assertBigAllOrNothing()) ok(['rmi', 'big:1']);
      assert.deepEqual(storeState(), baseline);
    }
  });
});

// ---- helpers ------------------------------------------------------------------------------------------

/** A docker-archive with `layers` layers of `size` random bytes each (incompressible: real work to load). */
async function bigArchive(tag: string, layers: number, size: number): Promise<Buffer> {
  const layerTars: Buffer[] = [];
  for (let i = 0; i < layers; i++) {
    layerTars.push(await packTar([
      { header: { name: `layer${i}/`, type: 'directory', mode: 0o755 } as tarStream.Header },
      { header: { name: `layer${i}/data`, size, mode: 0o644 } as tarStream.Header, body: randomBytes(size) },
      { header: { name: `layer${i}/marker`, size: `layer ${i}\n`.length, mode: 0o644 } as tarStream.Header, body: Buffer.from(`layer ${i}\n`) },
    ]));
  }
  const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const diffIds = layerTars.map((l) => `sha256:${sha(l)}`);
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Cmd: ['x'] }, created: '2024-01-01T00:00:00Z',
    rootfs: { type: 'layers', diff_ids: diffIds }, history: diffIds.map(() => ({ created: '2024-01-01T00:00:00Z' })),
  }));
  const members: Array<{ header: tarStream.Header; body: Buffer }> = [];
  const add = (name: string, body: Buffer) => members.push({ header: { name, size: body.length, mode: 0o644 } as tarStream.Header, body });
  add(`blobs/sha256/${sha(config)}`, config);
  layerTars.forEach((l, i) => add(`blobs/sha256/${diffIds[i].slice(7)}`, l));
  add('manifest.json', Buffer.from(JSON.stringify([{ Config: `blobs/sha256/${sha(config)}`, RepoTags: [tag], Layers: diffIds.map((d) => `blobs/sha256/${d.slice(7)}`) }])));
  return packTar(members);
}

function packTar(members: Array<{ header: tarStream.Header; body?: Buffer }>): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c: unknown) => { chunks.push(c as Buffer); });
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const m of members) if (m.body) pack.entry(m.header, m.body); else pack.entry(m.header);
  pack.finalize();
  return done;
}



async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}
