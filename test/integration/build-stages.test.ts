import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, startDaemon } from './harness';

// Independent stages run side by side (their output still one legacy stream in the plan's order),
// only the stages the target needs are built, and berth build's --progress modes.
describe('build stages in parallel; --progress', () => {
  let d: Daemon;
  let dir: string;
  before(async () => {
    d = await startDaemon();
    d.env.DOCKER_BUILDKIT = '0';
    dir = mkdtempSync('/tmp/berth-build-stages-');
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
  const env = (r: { status: number | null; stdout: string; stderr: string }) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;
  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const timed = <T>(f: () => T): [T, number] => { const t0 = Date.now(); const r = f(); return [r, (Date.now() - t0) / 1000]; };

  const parallel = [
    'FROM busybox AS a', 'RUN sleep 2 && echo A-DONE && echo a > /a',
    'FROM busybox AS b', 'RUN sleep 2 && echo B-DONE && echo b > /b',
    'FROM busybox AS c', 'RUN sleep 2 && echo C-DONE && echo c > /c',
    'FROM busybox AS unused', 'RUN echo UNUSED-RAN',
    'FROM busybox', 'COPY --from=a /a /a', 'COPY --from=b /b /b', 'RUN --mount=type=bind,from=c,source=/c,target=/mnt/c cat /mnt/c > /c',
    'CMD ["cat", "/a", "/b", "/c"]', '',
  ].join('\n');

  test('independent stages build side by side; the output stays in order; unused stages are not built', () => {
    const ctx = context('parallel', { Dockerfile: parallel });
    const [r, secs] = timed(() => d.docker(['build', '--network', 'none', '-t', 'par:1', ctx], { timeout: 60_000 }));
    assert.equal(r.status, 0, env(r));
    assert.equal(ok(['run', '--rm', 'par:1']), 'a\nb\nc\n');
    // Three 2-second stages one after the other would take over 6 s.
    assert.ok(secs < 5.5, `took ${secs}s`);
    assert.doesNotMatch(r.stdout, /UNUSED-RAN/);
    const steps = [...r.stdout.matchAll(/^Step (\d+)\/(\d+) : (.*)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(steps, steps.slice().sort((x, y) => x - y));
    assert.ok(r.stdout.indexOf('A-DONE') < r.stdout.indexOf('Step 3/'), r.stdout);
    assert.ok(r.stdout.indexOf('B-DONE') < r.stdout.indexOf('Step 5/'), r.stdout);
    assert.ok(r.stdout.indexOf('C-DONE') < r.stdout.indexOf('Step 7/'), r.stdout);
  });

  test('a failing stage stops the others at once and is the error reported; nothing is tagged or left running', () => {
    const ctx = context('fail', {
      Dockerfile: 'FROM busybox AS slow\nRUN sleep 30\nFROM busybox AS bad\nRUN echo failing && exit 3\nFROM busybox\nCOPY --from=slow /etc/hostname /s\nCOPY --from=bad /etc/hostname /b\n',
    });
    const [r, secs] = timed(() => d.docker(['build', '--network', 'none', '-t', 'fail:1', ctx], { timeout: 60_000 }));
    assert.equal(r.status, 1, env(r));
    assert.match(r.stderr, /The command '\/bin\/sh -c echo failing && exit 3' returned a non-zero code: 3/);
    assert.ok(secs < 15, `took ${secs}s`);
    assert.notEqual(d.docker(['image', 'inspect', 'fail:1']).status, 0);
    assert.equal(ok(['ps', '-aq']), '');
  });

  test('berth build --progress plain|tty|rawjson', () => {
    const ctx = context('progress', { Dockerfile: 'FROM busybox\nRUN echo progress-output\nCMD ["true"]\n' });
    const berth = (args: string[]) => d.berth(['build', '--network', 'none', ...args, ctx], { timeout: 60_000 });
    const plain = berth(['--progress', 'plain', '-t', 'prog:1']);
    assert.equal(plain.status, 0, env(plain));
    assert.match(plain.stdout, /^Step 2\/3 : RUN echo progress-output\n ---> Running in [0-9a-f]{12}\nprogress-output\n ---> Removed intermediate container [0-9a-f]{12}\n ---> [0-9a-f]{12} \(\d+\.\d\ds\)$/m);
    // Forced without a terminal: the redraws' escapes are dropped to read the lines.
    const screen = (t: string) => t.replace(/\x1b\[\d+A\x1b\[J|\x1b\[[0-9;]*m/g, '');
    const tty = berth(['--progress', 'tty', '--no-cache', '-t', 'prog:2']);
    tty.stdout = screen(tty.stdout);
    assert.equal(tty.status, 0, env(tty));
    assert.match(tty.stdout, /^\[2\/3\] RUN echo progress-output +\d+\.\ds$/m);
    assert.doesNotMatch(tty.stdout, /Running in/);
    assert.match(tty.stdout, /Successfully tagged prog:2/);
    const cached = berth(['--progress', 'tty', '-t', 'prog:3']);
    cached.stdout = screen(cached.stdout);
    assert.match(cached.stdout, /^\[2\/3\] RUN echo progress-output +CACHED$/m);
    const raw = berth(['--progress', 'rawjson', '-t', 'prog:4']);
    assert.equal(raw.status, 0, env(raw));
    const msgs = raw.stdout.trim().split('\n').map((l) => JSON.parse(l) as { stream?: string; aux?: { ID?: string } });
    assert.ok(msgs.some((m) => m.aux?.ID?.startsWith('sha256:')));
    assert.ok(msgs.some((m) => m.stream?.startsWith('Step 1/3')));
    const bad = berth(['--progress', 'fancy']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /invalid progress mode: fancy/);
    // The docker CLI gets Docker's own text: no times on the result lines.
    const docker = d.docker(['build', '--network', 'none', '-t', 'prog:5', ctx]);
    assert.match(docker.stdout, /^ ---> [0-9a-f]{12}$/m);
    assert.doesNotMatch(docker.stdout, / ---> [0-9a-f]{12} \(/);
  });
});
