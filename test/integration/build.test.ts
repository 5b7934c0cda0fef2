import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, startDaemon } from './harness';

// `docker build` (CLI 28 without buildx, DOCKER_BUILDKIT=0) posts the context to POST /build.
describe('docker build against berthd (legacy builder protocol)', () => {
  let d: Daemon;
  let dir: string;
  before(async () => {
    d = await startDaemon();
    // Without buildx CLI 28 uses the legacy builder anyway; say so explicitly (and silence its notice check).
    d.env.DOCKER_BUILDKIT = '0';
    dir = mkdtempSync('/tmp/berth-build-');
  });
  after(async () => {
    rmSync(dir, { recursive: true, force: true });
    await d?.stop();
  });

  /** A context directory with files; returns its path. */
  const context = (name: string, files: Record<string, string>): string => {
    const root = join(dir, name);
    for (const [p, c] of Object.entries(files)) {
      mkdirSync(join(root, p, '..'), { recursive: true });
      writeFileSync(join(root, p), c);
    }
    return root;
  };
  const build = (args: string[]) => d.docker(['build', ...args], { timeout: 30_000 });
  const env = (r: { status: number | null; stdout: string; stderr: string }) => `exit ${r.status}\n${r.stdout}\n${r.stderr}`;
  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  test('ENV/WORKDIR/RUN/COPY/CMD build; run shows the file, the RUN effect and CMD; -t twice; history', () => {
    const ctx = context('basic', {
      Dockerfile: 'FROM busybox\nENV GREETING=hello\nWORKDIR /app\nRUN echo "$GREETING from run" > /app/ran.txt && echo building\nCOPY hello.txt sub/ ./\nCMD ["sh", "-c", "cat /app/hello.txt /app/ran.txt /app/inner.txt; pwd"]\n',
      'hello.txt': 'hello file\n',
      'sub/inner.txt': 'inner\n',
    });
    const r = build(['-t', 'basic:1', '-t', 'basic:2', ctx]);
    assert.equal(r.status, 0, env(r));
    assert.match(r.stdout, /Step 1\/6 : FROM busybox/);
    assert.match(r.stdout, /Step 4\/6 : RUN echo/);
    assert.match(r.stdout, /^building$/m);
    assert.match(r.stdout, /Successfully built [0-9a-f]{12}/);
    assert.match(r.stdout, /Successfully tagged basic:1/);
    assert.match(r.stdout, /Successfully tagged basic:2/);
    assert.equal(ok(['run', '--rm', 'basic:2']), 'hello file\nhello from run\ninner\n/app\n');
    const id1 = ok(['image', 'inspect', '-f', '{{.Id}}', 'basic:1']);
    assert.equal(ok(['image', 'inspect', '-f', '{{.Id}}', 'basic:2']), id1);
    assert.equal(ok(['image', 'inspect', '-f', '{{.Config.WorkingDir}} {{.Config.Env}}', 'basic:1']).trim().split(' ')[0], '/app');

    // A rebuild is fully cached and gives the same image.
    const again = build(['-t', 'basic:1', ctx]);
    assert.equal(again.status, 0, env(again));
    assert.equal(again.stdout.match(/---> Using cache/g)?.length, 5, again.stdout);
    assert.equal(ok(['image', 'inspect', '-f', '{{.Id}}', 'basic:1']), id1);

    const hist = ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}', 'basic:1']);
    assert.match(hist, /CMD \["sh","-c"/);
    assert.match(hist, /COPY/);
    assert.match(hist, /\/bin\/sh -c echo "\$GREETING from run"/);
    assert.match(hist, /WORKDIR \/app/);
    assert.match(hist, /ENV GREETING=hello/);
  });

  test('--build-arg', () => {
    const ctx = context('args', { Dockerfile: 'ARG BASE=busybox\nFROM ${BASE}\nARG WHO=nobody\nRUN echo "hi $WHO" > /who\nCMD ["cat", "/who"]\n' });
    const r = build(['--build-arg', 'WHO=berth', '-t', 'args:1', ctx]);
    assert.equal(r.status, 0, env(r));
    assert.equal(ok(['run', '--rm', 'args:1']), 'hi berth\n');
  });

  test('multi-stage with COPY --from and --target', () => {
    const ctx = context('multi', {
      Dockerfile: [
        'FROM busybox AS builder', 'RUN mkdir -p /out && echo built > /out/artifact',
        'FROM busybox AS unused', 'RUN echo UNUSED-STAGE-RAN',
        'FROM busybox', 'COPY --from=builder /out/artifact /artifact', 'CMD ["cat", "/artifact"]', '',
      ].join('\n'),
    });
    const r = build(['-t', 'multi:final', ctx]);
    assert.equal(r.status, 0, env(r));
    assert.doesNotMatch(r.stdout, /UNUSED-STAGE-RAN/);
    assert.equal(ok(['run', '--rm', 'multi:final']), 'built\n');
    const t = build(['--target', 'builder', '-t', 'multi:builder', ctx]);
    assert.equal(t.status, 0, env(t));
    assert.equal(ok(['run', '--rm', 'multi:builder', 'cat', '/out/artifact']), 'built\n');
    assert.equal(d.docker(['run', '--rm', 'multi:builder', 'cat', '/artifact']).status, 1);
  });

  test('a failing RUN fails the build with its exit code and tags nothing', () => {
    const ctx = context('fail', { Dockerfile: 'FROM busybox\nRUN echo before && exit 3\n' });
    const r = build(['-t', 'fail:1', ctx]);
    assert.equal(r.status, 1, env(r));
    assert.match(r.stderr + r.stdout, /The command '\/bin\/sh -c echo before && exit 3' returned a non-zero code: 3/);
    assert.notEqual(d.docker(['image', 'inspect', 'fail:1']).status, 0);
    assert.equal(ok(['ps', '-aq']), '');
  });

  test('COPY of a path outside the context fails', () => {
    const ctx = context('escape/ctx', { Dockerfile: 'FROM busybox\nCOPY ../secret /secret\n' });
    writeFileSync(join(dir, 'escape', 'secret'), 'nope');
    const r = build(['-t', 'escape:1', ctx]);
    assert.equal(r.status, 1, env(r));
    assert.match(r.stderr, /outside the build context/);
    assert.notEqual(d.docker(['image', 'inspect', 'escape:1']).status, 0);
  });

  test('an unknown instruction is rejected with its line', () => {
    const ctx = context('unknown', { Dockerfile: 'FROM busybox\n\nFROB x\n' });
    const r = build([ctx]);
    assert.equal(r.status, 1, env(r));
    assert.match(r.stderr, /line 3: unknown instruction: FROB/);
  });
});
