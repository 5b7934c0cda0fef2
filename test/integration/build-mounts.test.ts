import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, startDaemon } from './harness';

// RUN --mount=type=cache|tmpfs|bind through `docker build` (the legacy protocol: the daemon reads
// the flags from the Dockerfile) and `berth build`.
describe('RUN --mount', () => {
  let d: Daemon;
  let dir: string;
  before(async () => {
    d = await startDaemon();
    d.env.DOCKER_BUILDKIT = '0';
    dir = mkdtempSync('/tmp/berth-build-mounts-');
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await d?.stop();
  });

  const context = (name: string, files: Record<string, string>): string => {
    const root = join(dir, name);
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(join(root, p, '..'), { recursive: true });
      writeFileSync(join(root, p), c);
    }
    return root;
  };
  // No network needed: RUN containers stay off the bridge (faster, and independent of netavark).
  const build = (args: string[]) => d.docker(['build', '--network', 'none', ...args], { timeout: 60_000 });
  const env = (r: { status: number | null; stdout: string; stderr: string }) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;
  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const built = (args: string[]) => {
    const r = build(args);
    assert.equal(r.status, 0, env(r));
    return r.stdout;
  };
  /** Paths in an image: `ls -d` of each, prints only those that exist. */
  const existing = (image: string, paths: string[]) =>
    ok(['run', '--rm', image, 'sh', '-c', `for p in ${paths.join(' ')}; do [ -e "$p" ] && echo "$p"; done; true`]);

  test('a cache mount persists between builds, keeps no mount point in the image, and takes id, sharing, uid/gid/mode', () => {
    const ctx = context('cache', {
      Dockerfile: [
        'FROM busybox',
        'ARG N',
        'RUN --mount=type=cache,target=/var/cache/app echo "run $N" >> /var/cache/app/log && cat /var/cache/app/log > /seen',
        'RUN --mount=type=cache,id=shared-id,target=/a,sharing=locked --mount=type=cache,id=shared-id,target=/b,sharing=private echo "$N" > /a/n && cat /a/n > /from-a',
        'RUN --mount=type=cache,target=/owned,uid=123,gid=456,mode=0750 stat -c "%u:%g:%a" /owned > /owned-stat',
        'RUN --mount=type=cache,id=shared-id,target=/again,ro cat /again/n > /ro-read',
        // One cache twice in one run is one directory (a locked one must not wait for itself).
        'RUN --mount=type=cache,id=twice,target=/m1,sharing=locked --mount=type=cache,id=twice,target=/m2,sharing=locked sh -c "touch /m1/foo && test -f /m2/foo && echo same > /twice"',
        'CMD ["cat", "/seen"]', '',
      ].join('\n'),
    });
    built(['--build-arg', 'N=1', '-t', 'cache:1', ctx]);
    assert.equal(ok(['run', '--rm', 'cache:1']), 'run 1\n');
    built(['--build-arg', 'N=2', '-t', 'cache:2', ctx]);
    assert.equal(ok(['run', '--rm', 'cache:2']), 'run 1\nrun 2\n');
    assert.equal(ok(['run', '--rm', 'cache:2', 'cat', '/from-a', '/owned-stat', '/ro-read', '/twice']), '2\n123:456:750\n2\nsame\n');
    // The mount points (and /var/cache, which busybox lacks) were made for the run only.
    assert.equal(existing('cache:2', ['/var/cache', '/var/cache/app', '/a', '/b', '/owned', '/again', '/m1', '/m2']), '');

    assert.match(ok(['system', 'df']), /^Build Cache\s+\d+\s+0\s+/m);
    assert.match(ok(['system', 'df', '-v']), /exec\.cachemount/);
  });

  test('builder prune frees cache mounts; the next build starts from an empty cache', async () => {
    const ctx = context('prune', { Dockerfile: 'FROM busybox\nARG N\nRUN --mount=type=cache,target=/c sh -c \'echo $N >> /c/log; dd if=/dev/zero of=/c/blob bs=1024 count=64 2>/dev/null; cat /c/log > /log\'\nCMD ["cat", "/log"]\n' });
    built(['--build-arg', 'N=a', '-t', 'prune:1', ctx]);
    const before = await d.api('GET', '/system/df');
    const caches = (JSON.parse(before.body).BuildCache as Array<{ Type: string; Size: number; InUse: boolean }>).filter((c) => c.Type === 'exec.cachemount');
    assert.ok(caches.some((c) => c.Size >= 65536 && !c.InUse), before.body);
    const pr = d.docker(['builder', 'prune', '-f']);
    assert.equal(pr.status, 0, env(pr));
    assert.match(pr.stdout, /Total reclaimed space: \d/);
    const afterDf = JSON.parse((await d.api('GET', '/system/df')).body).BuildCache as Array<{ Type: string }>;
    assert.equal(afterDf.filter((c) => c.Type === 'exec.cachemount').length, 0);
    built(['--build-arg', 'N=b', '-t', 'prune:2', ctx]);
    assert.equal(ok(['run', '--rm', 'prune:2']), 'b\n');
  });

  test('builder prune: without -a only caches of its own and steps of removed images; --keep-storage, filters, -a', async () => {
    const ctx = context('prune-kinds', { Dockerfile: 'FROM busybox\nRUN --mount=type=cache,target=/c sh -c \'dd if=/dev/zero of=/c/blob bs=1024 count=64 2>/dev/null; echo ran > /ran\'\nRUN echo two > /two\n' });
    const df = async () => JSON.parse((await d.api('GET', '/system/df')).body).BuildCache as Array<{ ID: string; Type: string }>;
    const earlier = new Set((await df()).map((c) => c.ID));
    built(['-t', 'prunekinds:1', ctx]);
    const prune = async (q: string) => {
      const r = await d.api('POST', `/build/prune?${q}`);
      assert.equal(r.status, 200, r.body);
      return JSON.parse(r.body) as { CachesDeleted: string[] | null; SpaceReclaimed: number };
    };
    const regular = (await df()).filter((c) => c.Type === 'regular' && !earlier.has(c.ID)).map((c) => c.ID);
    assert.ok(regular.length >= 2, 'the two steps are cached');
    // The steps' images live: their entries are shared (they cost nothing) and stay without -a.
    assert.deepEqual((await prune(`filters=${encodeURIComponent('{"type":{"regular":true}}')}`)).CachesDeleted ?? [], []);
    // 64 KiB of cache mounts fit in 1 GiB: nothing goes.
    assert.deepEqual((await prune('keep-storage=1073741824')).CachesDeleted ?? [], []);
    assert.ok((await df()).some((c) => c.Type === 'exec.cachemount'));
    // Once the image is gone its step entries are dangling: plain prune takes them.
    ok(['rmi', 'prunekinds:1']);
    const gone = (await prune(`filters=${encodeURIComponent('{"type":{"regular":true}}')}`)).CachesDeleted ?? [];
    assert.ok(regular.every((id) => gone.includes(id)), `${gone} has ${regular}`);
    const cachemounts = (await df()).filter((c) => c.Type === 'exec.cachemount').length;
    assert.ok(cachemounts > 0);
    // -a takes everything not in use; the next build runs every step again.
    built(['-t', 'prunekinds:2', ctx]);
    const all = d.docker(['builder', 'prune', '-a', '-f']);
    assert.equal(all.status, 0, env(all));
    assert.deepEqual((await df()).filter((c) => c.Type === 'regular' || c.Type === 'exec.cachemount'), []);
    assert.doesNotMatch(built(['-t', 'prunekinds:3', ctx]), /Using cache/);
    const bad = await d.api('POST', `/build/prune?filters=${encodeURIComponent('{"bogus":{"x":true}}')}`);
    assert.equal(bad.status, 400);
    assert.match(JSON.parse(bad.body).message, /invalid filter 'bogus'/);
  });

  test('tmpfs mounts: writable, executable, sized, gone after the run', () => {
    const ctx = context('tmpfs', {
      Dockerfile: [
        'FROM busybox',
        'RUN --mount=type=tmpfs,target=/scratch,size=2m printf \'#!/bin/sh\\necho from-tmpfs\\n\' > /scratch/x && chmod +x /scratch/x && /scratch/x > /out && df -k /scratch | tail -1 | awk \'{print $2}\' > /size',
        '', '',
      ].join('\n'),
    });
    built(['-t', 'tmpfs:1', ctx]);
    assert.equal(ok(['run', '--rm', 'tmpfs:1', 'cat', '/out', '/size']), 'from-tmpfs\n2048\n');
    assert.equal(existing('tmpfs:1', ['/scratch']), '');
  });

  test('bind mounts from the context, a stage and an image; rw writes are dropped; the bound content is in the cache key', () => {
    const files = {
      Dockerfile: [
        'FROM busybox AS stage',
        'RUN echo from-stage > /made && mkdir /seed && echo seeded > /seed/s',
        'FROM busybox',
        'WORKDIR /work',
        'RUN --mount=type=bind,source=src,target=/src cat /src/a.txt > /from-context',
        'RUN --mount=target=ctx cat ctx/src/a.txt > /from-default',
        'RUN --mount=type=bind,from=stage,source=/made,target=/m cat /m > /from-stage',
        'RUN --mount=type=bind,from=busybox,source=/bin,target=/imgbin ls /imgbin/busybox > /from-image',
        'RUN --mount=type=bind,target=/rw,rw touch /rw/written && ls /rw > /rw-list',
        'RUN --mount=type=bind,source=src/a.txt,target=/one.txt cat /one.txt > /from-file',
        'RUN --mount=type=cache,target=/cached,from=stage,source=/seed cat /cached/s > /from-seeded-cache',
        '',
      ].join('\n'),
      'src/a.txt': 'one\n',
    };
    const ctx = context('bind', files);
    built(['-t', 'bind:1', ctx]);
    assert.equal(ok(['run', '--rm', 'bind:1', 'cat', '/from-context', '/from-default', '/from-stage', '/from-image', '/from-file', '/from-seeded-cache']), 'one\none\nfrom-stage\n/imgbin/busybox\none\nseeded\n');
    assert.match(ok(['run', '--rm', 'bind:1', 'cat', '/rw-list']), /written/);
    assert.equal(existing('bind:1', ['/src', '/work/ctx', '/m', '/imgbin', '/rw', '/rw/written', '/one.txt', '/cached']), '');
    // Unchanged: everything cached. Changed bound file: the RUNs that bind it run again.
    assert.equal(built(['-t', 'bind:1', ctx]).match(/Using cache/g)?.length, 9);
    writeFileSync(join(ctx, 'src/a.txt'), 'two\n');
    const again = built(['-t', 'bind:2', ctx]);
    assert.equal(ok(['run', '--rm', 'bind:2', 'cat', '/from-context', '/from-file']), 'two\ntwo\n');
    assert.ok((again.match(/Using cache/g)?.length ?? 0) < 9, again);
  });

  test('berth build runs the same mounts', () => {
    const ctx = context('berth', { Dockerfile: 'FROM busybox\nRUN --mount=type=cache,target=/c --mount=type=tmpfs,target=/t --mount=type=bind,target=/ctx ls /ctx > /ls\n', x: 'x' });
    const r = d.berth(['build', '--network', 'none', '-t', 'berthmounts:1', ctx], { timeout: 60_000 });
    assert.equal(r.status, 0, env(r));
    assert.equal(ok(['run', '--rm', 'berthmounts:1', 'cat', '/ls']), 'Dockerfile\nx\n');
  });

  test('bad --mount values fail with BuildKit\'s messages at their line, tagging nothing', () => {
    const cases: Array<[string, RegExp]> = [
      ['RUN --mount=type=cahce,target=/x true', /line 3: unsupported mount type "cahce" \(did you mean cache\?\)/],
      ['RUN --mount=type=cache,taget=/x true', /line 3: unexpected key 'taget' in 'taget=\/x' \(did you mean target\?\)/],
      ['RUN --mount=type=cache,target=/x,size=1m true', /unexpected key 'size' for mount type 'cache'/],
      ['RUN --mount=type=bind,target=/x,uid=1 true', /uid not allowed for "bind" type mounts/],
      ['RUN --mount=type=tmpfs,target=/x,sharing=locked true', /invalid cache sharing set for tmpfs mount/],
      ['RUN --mount=type=cache,target=/x,sharing=everyone true', /unsupported sharing value "everyone"/],
      ['RUN --mount=type=cache,target=/x,mode=999 true', /invalid value 999 for mode/],
      ['RUN --mount=type=secret,id=a,src=b true', /both source and id can't be set/],
      ['RUN --mount=type=secret,from=x,id=a true', /secret mount should not have a from/],
      ['RUN --mount=type=cache,target=/x,ro=maybe true', /invalid value for ro: maybe/],
      ['RUN --mount=type=bind,from=$X,target=/x true', /'from' doesn't support variable expansion, define alias stage instead/],
      ['RUN --mount true', /missing a value on flag: --mount/],
      ['RUN --mount=type=tmpfs,target=/ true', /invalid mount target "\/"/],
      ['RUN --mount=type=bind,source=nope,target=/x true', /"\/nope": not found/],
      ['RUN --mount=type=bind,from=nosuchstage,target=/x true', /no build stage and no image named "nosuchstage"/],
      ['RUN --mount=type=secret,id=absent,required true', /secret absent: not found/],
      ['RUN --mount=type=ssh,required=true true', /no SSH key "default" forwarded from the client/],
    ];
    for (const [i, [line, re]] of cases.entries()) {
      const ctx = context(`bad${i}`, { Dockerfile: `FROM busybox\nRUN echo STEP-RAN\n${line}\n` });
      const r = build(['-t', `bad:${i}`, ctx]);
      assert.equal(r.status, 1, `${line}\n${env(r)}`);
      assert.match(r.stderr, re, line);
      assert.notEqual(d.docker(['image', 'inspect', `bad:${i}`]).status, 0);
    }
  });
});
