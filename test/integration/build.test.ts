import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { BERTH, Daemon, startDaemon } from './harness';

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
  const berth = (args: string[], input?: string | Buffer) => d.berth(['build', ...args], { timeout: 30_000, input });
  const inspect = (ref: string, f = '{{json .Config}}') => ok(['image', 'inspect', '-f', f, ref]).trim();

  test('berth build gives the same config as docker build; --label, --build-arg, several -t, --progress plain, --network', () => {
    const ctx = context('same', {
      Dockerfile: 'FROM busybox\nARG WHO\nENV A=1 B="two words"\nLABEL x=y\nWORKDIR /w\nCOPY f ./\nRUN echo $WHO > who\nUSER 1:1\nEXPOSE 80/udp 90\nENTRYPOINT ["sh", "-c"]\nCMD ["echo $A"]\n',
      f: 'f\n',
    });
    const a = build(['--label', 'l=1', '--build-arg', 'WHO=me', '-t', 'same:docker', ctx]);
    assert.equal(a.status, 0, env(a));
    const b = berth(['--label', 'l=1', '--build-arg', 'WHO=me', '--progress', 'plain', '--network', 'none', '-t', 'same:berth', '-t', 'same:two', ctx]);
    assert.equal(b.status, 0, env(b));
    assert.match(b.stdout, /Step 1\/12 : FROM busybox/);
    assert.match(b.stdout, /Successfully tagged same:two/);
    assert.equal(inspect('same:berth'), inspect('same:docker'));
    assert.equal(ok(['run', '--rm', '--entrypoint', 'cat', 'same:two', '/w/who']), 'me\n');
  });

  test('.dockerignore with ! exceptions and **, in both CLIs; <Dockerfile>.dockerignore wins', () => {
    const ctx = context('ignore', {
      Dockerfile: 'FROM busybox\nCOPY . /c/\nCMD ["sh", "-c", "cd /c && find . -type f | sort"]\n',
      '.dockerignore': '# comment\n*.log\n!keep.log\nsecret\n**/*.tmp\nother.*\n',
      'a.log': '', 'keep.log': '', 'secret/s': '', 'deep/x/y.tmp': '', 'deep/x/z.txt': '', 'ok.txt': '',
      'other.Dockerfile': 'FROM busybox\nCOPY . /c/\nCMD ["sh", "-c", "cd /c && find . -type f | sort"]\n',
      'other.Dockerfile.dockerignore': 'ok.txt\ndeep\n',
    });
    const want = './.dockerignore\n./Dockerfile\n./deep/x/z.txt\n./keep.log\n./ok.txt\n';
    for (const [name, run] of [['docker', build], ['berth', berth]] as const) {
      const r = run(['-t', `ignore:${name}`, ctx]);
      assert.equal(r.status, 0, env(r));
      assert.equal(ok(['run', '--rm', `ignore:${name}`]), want, name);
    }
    const o = berth(['-f', join(ctx, 'other.Dockerfile'), '-t', 'ignore:own', ctx]);
    assert.equal(o.status, 0, env(o));
    assert.doesNotMatch(ok(['run', '--rm', 'ignore:own']), /ok\.txt|deep/);
  });

  test('-f with a Dockerfile outside the context, and -f - (both CLIs); a Dockerfile alone on stdin', () => {
    const ctx = context('outside/ctx', { 'data.txt': 'data\n' });
    writeFileSync(join(dir, 'outside', 'Build.df'), 'FROM busybox\nCOPY . /c/\nCMD ["sh", "-c", "ls -A /c; cat /c/data.txt"]\n');
    // The docker CLI's context with a Dockerfile added from outside ends without tar padding or end
    // blocks (regression: berthd answered "tar: unexpected end of archive").
    for (const [name, run] of [['docker', build], ['berth', berth]] as const) {
      const r = run(['-f', join(dir, 'outside', 'Build.df'), '-t', `outside:${name}`, ctx]);
      assert.equal(r.status, 0, env(r));
      assert.equal(ok(['run', '--rm', `outside:${name}`]), 'data.txt\ndata\n', name);
    }
    const s = berth(['-f', '-', '-t', 'outside:stdin', ctx], 'FROM busybox\nCOPY data.txt /\nCMD ["cat", "/data.txt"]\n');
    assert.equal(s.status, 0, env(s));
    assert.equal(ok(['run', '--rm', 'outside:stdin']), 'data\n');
    const only = berth(['-t', 'outside:only', '-'], 'FROM busybox\nCMD ["echo", "only"]\n');
    assert.equal(only.status, 0, env(only));
    assert.equal(ok(['run', '--rm', 'outside:only']), 'only\n');
  });

  test('a context tar on stdin', () => {
    const ctx = context('tarstdin', { Dockerfile: 'FROM busybox\nCOPY t.txt /\nCMD ["cat", "/t.txt"]\n', 't.txt': 'from tar\n' });
    const tarball = join(dir, 'ctx.tar');
    assert.equal(spawnSync('tar', ['-C', ctx, '-cf', tarball, '.']).status, 0);
    const r = berth(['-t', 'tarstdin:1', '-'], readFileSync(tarball));
    assert.equal(r.status, 0, env(r));
    assert.equal(ok(['run', '--rm', 'tarstdin:1']), 'from tar\n');
  });

  test('RUN and COPY heredocs', () => {
    const ctx = context('heredoc', {
      Dockerfile: [
        'FROM busybox', 'ENV NAME=world',
        'RUN <<EOF', 'echo "script $NAME" > /script.txt', 'echo second >> /script.txt', 'EOF',
        'RUN cat <<EOT > /cat.txt', 'cat $NAME', 'EOT',
        'COPY <<EOF /copied.txt', 'hello ${NAME}', 'EOF',
        'COPY <<-"RAW" /raw.txt', '\tliteral $NAME', '\tRAW',
        'CMD ["cat", "/script.txt", "/cat.txt", "/copied.txt", "/raw.txt"]', '',
      ].join('\n'),
    });
    const r = berth(['-t', 'heredoc:1', ctx]);
    assert.equal(r.status, 0, env(r));
    assert.equal(ok(['run', '--rm', 'heredoc:1']), 'script world\nsecond\ncat world\nhello world\nliteral $NAME\n');
  });

  test('COPY --from an image; COPY --chown by name through the image /etc/passwd', () => {
    const ctx = context('fromimage', {
      Dockerfile: 'FROM scratch\nCOPY --from=busybox / /\nCOPY --chown=nobody:nogroup f /f\nCOPY --chown=nobody g /g\nCMD ["sh", "-c", "stat -c \'%u:%g\' /f /g"]\n',
      f: 'f', g: 'g',
    });
    const r = berth(['-t', 'fromimage:1', ctx]);
    assert.equal(r.status, 0, env(r));
    const passwd = ok(['run', '--rm', 'fromimage:1', 'grep', '^nobody:', '/etc/passwd']).split(':');
    const grp = ok(['run', '--rm', 'fromimage:1', 'grep', '^nogroup:', '/etc/group']).split(':');
    assert.equal(ok(['run', '--rm', 'fromimage:1']), `${passwd[2]}:${grp[2]}\n${passwd[2]}:${passwd[2]}\n`);
    const bad = berth(['-t', 'fromimage:2', context('badchown', { Dockerfile: 'FROM busybox\nCOPY --chown=nosuchuser Dockerfile /\n' })]);
    assert.equal(bad.status, 1, env(bad));
    assert.match(bad.stderr, /unable to find user nosuchuser/);
  });

  test('ONBUILD triggers run in a child image and are not inherited', () => {
    const parent = context('onbuild/parent', { Dockerfile: 'FROM busybox\nONBUILD COPY trigger.txt /\nONBUILD RUN echo ran > /ran.txt\n' });
    assert.equal(berth(['-t', 'onbuild:parent', parent]).status, 0);
    const child = context('onbuild/child', { Dockerfile: 'FROM onbuild:parent\nCMD ["cat", "/trigger.txt", "/ran.txt"]\n', 'trigger.txt': 'trig\n' });
    const r = build(['-t', 'onbuild:child', child]);
    assert.equal(r.status, 0, env(r));
    assert.match(r.stdout, /# Executing 2 build triggers/);
    assert.equal(ok(['run', '--rm', 'onbuild:child']), 'trig\nran\n');
    assert.equal(inspect('onbuild:child', '{{json .Config.OnBuild}}'), '[]');
  });

  test('--iidfile and -q (both CLIs)', () => {
    const ctx = context('iid', { Dockerfile: 'FROM busybox\nRUN echo quiet-run-output\nLABEL q=1\n' });
    for (const [name, run] of [['docker', build], ['berth', berth]] as const) {
      const iid = join(dir, `iid-${name}`);
      const r = run(['-q', '--iidfile', iid, '-t', `iid:${name}`, ctx]);
      assert.equal(r.status, 0, env(r));
      // With -q docker writes the quiet output (the ID and a newline) to the iidfile.
      const id = readFileSync(iid, 'utf8').trim();
      assert.match(id, /^sha256:[0-9a-f]{64}$/, name);
      assert.equal(r.stdout, `${id}\n`, name);
      assert.equal(inspect(`iid:${name}`, '{{.Id}}'), id);
    }
  });

  test('berth build on berthd\'s host: berthd reads the context directory; a file rewritten in place is copied again; the tar gives the same keys; a directory berthd does not see falls back to the tar', () => {
    const ctx = context('localdir', { Dockerfile: 'FROM busybox\nCOPY f /f\nCMD ["cat", "/f"]\n', f: 'one\n', 'sub/g': 'g\n' });
    const b1 = berth(['-t', 'local:1', ctx]);
    assert.equal(b1.status, 0, env(b1));
    assert.equal(ok(['run', '--rm', 'local:1']), 'one\n');
    // Same size and mtime: only the content (and the ctime, which nothing sets back) changed.
    const { atime, mtime } = statSync(join(ctx, 'f'));
    writeFileSync(join(ctx, 'f'), 'two\n');
    utimesSync(join(ctx, 'f'), atime, mtime);
    const b2 = berth(['--progress', 'plain', '-t', 'local:2', ctx]);
    assert.equal(b2.status, 0, env(b2));
    assert.doesNotMatch(b2.stdout.split('COPY f /f')[1], /^ ---> Using cache/m);
    assert.equal(ok(['run', '--rm', 'local:2']), 'two\n');
    // The tar of the same directory gives the same cache keys (the same headers, the same digests).
    const b3 = spawnSync(BERTH, ['build', '--progress', 'plain', '-t', 'local:3', ctx], { env: { ...d.env, BERTH_BUILD_CONTEXT: 'tar' }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(b3.status, 0, env(b3));
    assert.equal(b3.stdout.match(/---> Using cache/g)?.length, 2, b3.stdout);
    assert.equal(ok(['image', 'inspect', '-f', '{{.Id}}', 'local:3']), ok(['image', 'inspect', '-f', '{{.Id}}', 'local:2']));
    // In a mount namespace of its own the CLI sees another directory there than berthd does: 409, then the tar.
    const hidden = join(dir, 'hidden');
    mkdirSync(hidden);
    const ns = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c',
      `mount -t tmpfs tmpfs ${hidden} && printf 'FROM busybox\\nCOPY h /h\\nCMD ["cat", "/h"]\\n' > ${hidden}/Dockerfile && echo hidden > ${hidden}/h && exec ${BERTH} build -q -t local:ns ${hidden}`,
    ], { env: d.env, encoding: 'utf8', timeout: 60_000 });
    assert.equal(ns.status, 0, env(ns));
    assert.equal(ok(['run', '--rm', 'local:ns']), 'hidden\n');
  });

  test('berth build copies a big context file file to file: the same layers as from the tar, with --chown, --chmod, hardlinks and mtimes', () => {
    const big = Buffer.alloc(3 << 20);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i * 2654435761 >>> 0, i);
    const ctx = context('bigcopy', {
      Dockerfile: 'FROM busybox\nCOPY big.bin /a/big.bin\nCOPY --chown=5:6 --chmod=640 big.bin sub /b/\nCOPY big.bin twin.bin /c/\n',
      'sub/g': 'g\n',
    });
    writeFileSync(join(ctx, 'big.bin'), big);
    utimesSync(join(ctx, 'big.bin'), 1_600_000_000, 1_600_000_000);
    linkSync(join(ctx, 'big.bin'), join(ctx, 'twin.bin'));
    const fromDir = berth(['--no-cache', '-t', 'bigcopy:dir', ctx]);
    assert.equal(fromDir.status, 0, env(fromDir));
    const fromTar = spawnSync(BERTH, ['build', '--no-cache', '-t', 'bigcopy:tar', ctx], { env: { ...d.env, BERTH_BUILD_CONTEXT: 'tar' }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(fromTar.status, 0, env(fromTar));
    const layers = (ref: string) => ok(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', ref]);
    assert.equal(layers('bigcopy:dir'), layers('bigcopy:tar'));
    const want = createHash('sha256').update(big).digest('hex');
    assert.equal(ok(['run', '--rm', 'bigcopy:dir', 'sh', '-c', 'sha256sum /a/big.bin /b/big.bin /c/twin.bin | cut -d" " -f1; stat -c "%u:%g %a %Y" /a/big.bin /b/big.bin /b/g']),
      `${want}\n${want}\n${want}\n0:0 644 1600000000\n5:6 640 1600000000\n5:6 640 ${Math.floor(statSync(join(ctx, 'sub/g')).mtimeMs / 1000)}\n`);
    ok(['rmi', 'bigcopy:dir', 'bigcopy:tar']);
  });

  test('a missing stage or image and a COPY --from cycle fail before any step runs', () => {
    const cases: Array<[string, RegExp]> = [
      ['FROM busybox AS a\nRUN echo STEP-RAN\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n', /circular dependency detected on stage: [ab]/],
      ['FROM busybox\nRUN echo STEP-RAN\nCOPY --from=nosuchstage /x /x\n', /nosuchstage/],
      ['FROM busybox\nRUN echo STEP-RAN\nFROM nosuchimage:1\n', /nosuchimage/],
    ];
    for (const [i, [df, re]] of cases.entries()) {
      const ctx = context(`early${i}`, { Dockerfile: df });
      for (const run of [build, berth]) {
        const r = run(['-t', `early:${i}`, ctx]);
        assert.equal(r.status, 1, env(r));
        assert.match(r.stderr, re);
        assert.doesNotMatch(r.stdout, /Step 1|STEP-RAN/);
      }
      assert.notEqual(d.docker(['image', 'inspect', `early:${i}`]).status, 0);
    }
  });

  test('intermediate step images are listed only with -a, are not dangling, and go with the image (both CLIs)', () => {
    const ctx = context('intermediate', { Dockerfile: 'FROM busybox\nRUN echo one > /one\nRUN echo two > /two\nLABEL step=three\n' });
    const r = build(['--no-cache', '-t', 'inter:1', ctx]);
    assert.equal(r.status, 0, env(r));
    const id = ok(['image', 'inspect', '-f', '{{.Id}}', 'inter:1']).trim();
    // The chain of parents down to busybox: the untagged ones are the build's intermediate images.
    const chain: string[] = [];
    for (let p = ok(['image', 'inspect', '-f', '{{.Parent}}', id]).trim(); p; p = ok(['image', 'inspect', '-f', '{{.Parent}}', p]).trim()) {
      if (ok(['image', 'inspect', '-f', '{{len .RepoTags}}', p]).trim() !== '0') break;
      chain.push(p);
    }
    assert.ok(chain.length >= 2, `intermediate images: ${chain.join(' ')}`);
    const berthOk = (args: string[]) => {
      const b = d.berth(args);
      assert.equal(b.status, 0, `berth ${args.join(' ')}: ${b.stderr}`);
      return b.stdout;
    };
    for (const cli of [ok, berthOk]) {
      const plain = cli(['images', '-q', '--no-trunc']).split('\n');
      const all = cli(['images', '-a', '-q', '--no-trunc']).split('\n');
      const dangling = cli(['images', '-q', '--no-trunc', '--filter', 'dangling=true']).split('\n');
      assert.ok(plain.includes(id) && all.includes(id));
      for (const p of chain) {
        assert.ok(!plain.includes(p), `${p} hidden without -a`);
        assert.ok(all.includes(p), `${p} listed with -a`);
        assert.ok(!dangling.includes(p), `${p} is no dangling image`);
      }
    }
    const rmi = ok(['rmi', 'inter:1']);
    for (const p of chain) assert.match(rmi, new RegExp(`Deleted: ${p}`));
    assert.equal(ok(['images', '-a', '-q', '--no-trunc']).split('\n').filter((i) => chain.includes(i)).length, 0);
  });
});
