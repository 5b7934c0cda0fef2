import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { Daemon, startDaemon } from './harness';

// COPY/ADD flags (--link, --parents, --exclude, --chmod), ADD of local archives and of URLs (from a
// server this test starts on 127.0.0.1), and --squash, through docker build and berth build.
describe('COPY/ADD flags, ADD archives and URLs, --squash', () => {
  let d: Daemon;
  let dir: string;
  let server: ChildProcess;
  let base: string;
  const served = 'served over http\n';
  before(async () => {
    // --experimental: the docker CLI sends --squash only to an experimental daemon.
    d = await startDaemon({ args: ['--experimental'] });
    d.env.DOCKER_BUILDKIT = '0';
    dir = mkdtempSync('/tmp/berth-build-copy-');
    // The server runs in a process of its own: this one blocks in spawnSync while berthd fetches.
    server = spawn(process.execPath, ['-e', `
      const http = require('node:http');
      const s = http.createServer((req, res) => {
        if (req.url === '/file.txt') {
          res.writeHead(200, { 'Content-Type': 'text/plain', 'Last-Modified': 'Wed, 21 Oct 2015 07:28:00 GMT' });
          res.end(${JSON.stringify(served)});
        } else if (req.url === '/redirect') { res.writeHead(302, { Location: '/file.txt' }); res.end(); }
        else if (req.url === '/') res.end('root');
        else { res.writeHead(404); res.end('nope'); }
      });
      s.listen(0, '127.0.0.1', () => process.stdout.write(String(s.address().port) + '\\n'));
    `], { stdio: ['ignore', 'pipe', 'inherit'] });
    const port = await new Promise<string>((resolve, reject) => {
      server.stdout!.once('data', (b: Buffer) => resolve(b.toString().trim()));
      server.once('exit', () => reject(new Error('http server exited')));
    });
    base = `http://127.0.0.1:${port}`;
  });
  after(async () => {
    if (server.exitCode === null) {
      const exited = new Promise((r) => server.once('exit', r));
      server.kill('SIGTERM');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
    await d?.stop();
  });

  const context = (name: string, files: Record<string, string | Buffer>): string => {
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
  const docker = (args: string[]) => d.docker(['build', '--network', 'none', ...args], { timeout: 60_000 });
  const berth = (args: string[]) => d.berth(['build', '--network', 'none', ...args], { timeout: 60_000 });
  const built = (r: { status: number | null; stdout: string; stderr: string }) => { assert.equal(r.status, 0, env(r)); return r.stdout; };
  const sh = (image: string, script: string) => ok(['run', '--rm', image, 'sh', '-c', script]);

  test('COPY --parents, --exclude, --link, --chmod (octal and symbolic)', () => {
    const ctx = context('flags', {
      Dockerfile: [
        'FROM busybox',
        'COPY --parents src/a/one.txt src/b/*.txt /p1/',
        'COPY --parents ./src/./a/one.txt /p2/',
        'COPY --exclude=*.md --exclude=b/*.md --exclude=skip src/ /ex/',
        'COPY --link src/a/one.txt /linked/one.txt',
        'COPY --chmod=0751 src/a/one.txt /m/octal',
        'COPY --chmod=u=rw,go=r src/b/ /m/sym/',
        'ADD --chmod=600 src/a/one.txt /m/add',
        '',
      ].join('\n'),
      'src/a/one.txt': '1', 'src/b/two.txt': '2', 'src/b/three.md': '3', 'src/skip/x.txt': 'x', 'src/README.md': 'r',
    });
    built(docker(['-t', 'flags:1', ctx]));
    assert.equal(sh('flags:1', 'cd /p1 && find . | sort'), '.\n./src\n./src/a\n./src/a/one.txt\n./src/b\n./src/b/two.txt\n');
    assert.equal(sh('flags:1', 'cd /p2 && find . | sort'), '.\n./a\n./a/one.txt\n');
    assert.equal(sh('flags:1', 'cd /ex && find . | sort'), '.\n./a\n./a/one.txt\n./b\n./b/two.txt\n');
    assert.equal(sh('flags:1', 'cat /linked/one.txt'), '1');
    assert.equal(sh('flags:1', 'stat -c %a /m/octal /m/sym/two.txt /m/sym/three.md /m/add'), '751\n644\n644\n600\n');
    // --link gives the same layer whatever the base: the same content digest in another image.
    writeFileSync(join(dir, 'other.Dockerfile'), 'FROM busybox\nRUN echo other > /other\nCOPY --link src/a/one.txt /linked/one.txt\n');
    built(berth(['-f', join(dir, 'other.Dockerfile'), '-t', 'flags:2', ctx]));
    const lastLayer = (img: string) => JSON.parse(ok(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', img])).at(-1);
    const layers1 = JSON.parse(ok(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', 'flags:1'])) as string[];
    assert.ok(layers1.includes(lastLayer('flags:2')));

    const bad = context('badchmod', { Dockerfile: 'FROM busybox\nCOPY --chmod=999 Dockerfile /x\n' });
    const r = docker(['-t', 'bad:1', bad]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /invalid chmod parameter: '999'. it should be octal string and between 0 and 07777/);
  });

  test('COPY --from reads only what it copies: through symlinks, with globs and --parents; cached by the stage image', () => {
    const ctx = context('fromstage', {
      Dockerfile: [
        'FROM busybox AS base',
        'ARG V=1',
        'RUN mkdir -p /opt/real/sub /opt/real/other && echo $V > /opt/real/sub/f && echo o > /opt/real/other/g && chmod 700 /opt/real && ln -s real /opt/link && ln -s /opt/real/sub /top && echo b > /big',
        'FROM busybox',
        'COPY --from=base /opt/link/sub/f /via-relative-link',
        'COPY --from=base /top/ /via-absolute-link/',
        'COPY --from=base /opt/real/*/g /glob/',
        'COPY --from=base --parents /opt/./real/sub/f /parents/',
        'COPY --from=base --parents /opt/real/other /kept/',
        '',
      ].join('\n'),
    });
    const out = built(berth(['--progress', 'plain', '-t', 'fromstage:1', ctx]));
    assert.doesNotMatch(out, /Using cache/);
    assert.equal(sh('fromstage:1', 'cat /via-relative-link /via-absolute-link/f /glob/g /parents/real/sub/f'), '1\n1\no\n1\n');
    // --parents keeps the parents' own metadata (0700 from the stage), not made-up directories.
    assert.equal(sh('fromstage:1', 'stat -c %a /parents/real /kept/opt/real'), '700\n700\n');
    assert.equal(sh('fromstage:1', 'test -e /big || echo absent'), 'absent\n');
    // Rebuilt as it is: every COPY --from from the cache; a changed stage copies again.
    const again = built(berth(['--progress', 'plain', '-t', 'fromstage:2', ctx]));
    assert.equal(again.match(/Using cache/g)?.length, 7, again);
    assert.equal(ok(['image', 'inspect', '-f', '{{.Id}}', 'fromstage:2']), ok(['image', 'inspect', '-f', '{{.Id}}', 'fromstage:1']));
    built(berth(['--progress', 'plain', '--build-arg', 'V=2', '-t', 'fromstage:3', ctx]));
    assert.equal(sh('fromstage:3', 'cat /via-relative-link /via-absolute-link/f /glob/g /parents/real/sub/f'), '2\n2\no\n2\n');
  });
  test('ADD extracts local tar archives (plain and compressed), keeps other files, honours --chown', () => {
    const src = join(dir, 'tarsrc');
    mkdirSync(join(src, 'inner'), { recursive: true });
    writeFileSync(join(src, 'inner', 'f.txt'), 'in the tar\n');
    const tarball = (name: string, flags: string[]) => {
      const out = join(dir, name);
      assert.equal(spawnSync('tar', [...flags, '-cf', out, '--owner=1234', '--group=5678', '-C', src, 'inner']).status, 0);
      return readFileSync(out);
    };
    const ctx = context('archives', {
      Dockerfile: [
        'FROM busybox',
        'ADD plain.tar /plain/',
        'ADD packed.tar.gz /gz',
        'ADD packed.tar.xz /xz/',
        'ADD --chown=7:8 packed.tar.gz /owned/',
        'ADD notatar.gz /files/',
        'COPY plain.tar /copied/',
        '',
      ].join('\n'),
      'plain.tar': tarball('plain.tar', []),
      'packed.tar.gz': tarball('packed.tar.gz', ['-z']),
      'packed.tar.xz': tarball('packed.tar.xz', ['-J']),
      'notatar.gz': 'just text',
    });
    built(berth(['-t', 'archives:1', ctx]));
    assert.equal(sh('archives:1', 'cat /plain/inner/f.txt /gz/inner/f.txt /xz/inner/f.txt'), 'in the tar\n'.repeat(3));
    assert.equal(sh('archives:1', 'stat -c %u:%g /plain/inner/f.txt /owned/inner/f.txt'), '1234:5678\n7:8\n');
    assert.equal(sh('archives:1', 'cat /files/notatar.gz; ls /copied'), 'just textplain.tar\n');
  });

  test('ADD of a URL: mode 0600, Last-Modified, redirects, --checksum; errors for 404, a bad checksum, COPY of a URL', () => {
    const sum = `sha256:${createHash('sha256').update(served).digest('hex')}`;
    const ctx = context('url', {
      Dockerfile: [
        'FROM busybox',
        `ADD ${base}/file.txt /dl/`,
        `ADD ${base}/redirect /dl/renamed.txt`,
        `ADD --checksum=${sum} ${base}/file.txt /dl/checked.txt`,
        `ADD ${base}/ /dl/`,
        '',
      ].join('\n'),
    });
    built(docker(['-t', 'url:1', ctx]));
    assert.equal(sh('url:1', 'cat /dl/file.txt /dl/renamed.txt /dl/checked.txt /dl/__unnamed__; echo; stat -c "%a %Y" /dl/file.txt'), `${served.repeat(3)}root\n600 1445412480\n`);
    const cases: Array<[string, RegExp]> = [
      [`ADD ${base}/missing /x`, /invalid response status 404/],
      [`ADD --checksum=sha256:${'0'.repeat(64)} ${base}/file.txt /x`, /digest mismatch sha256:0{64}: sha256:[0-9a-f]{64}/],
      [`ADD --checksum=sha256:${'0'.repeat(64)} Dockerfile /x`, /checksum requires HTTP\(S\) or Git sources/],
      [`COPY ${base}/file.txt /x`, /source can't be a URL for COPY/],
      [`COPY --checksum=${sum} Dockerfile /x`, /unknown flag: --checksum/],
    ];
    for (const [i, [line, re]] of cases.entries()) {
      const c = context(`badurl${i}`, { Dockerfile: `FROM busybox\n${line}\n` });
      const r = berth(['-t', `badurl:${i}`, c]);
      assert.equal(r.status, 1, `${line}\n${env(r)}`);
      assert.match(r.stderr, re, line);
      assert.notEqual(d.docker(['image', 'inspect', `badurl:${i}`]).status, 0);
    }
  });

  test('--squash: one layer on the base image, history kept, deletions and short-lived files squashed away (both CLIs)', () => {
    const ctx = context('squash', {
      Dockerfile: [
        'FROM busybox AS base',
        'RUN mkdir /keep && echo k > /keep/k && mkdir /gone-dir && echo g > /gone-dir/g',
        'FROM base',
        'RUN dd if=/dev/urandom of=/big bs=1024 count=2048 2>/dev/null && echo one > /one',
        'RUN rm /big /bin/vi && rm -r /gone-dir',
        'COPY f.txt /f.txt',
        'ENV SQUASHED=yes',
        'CMD ["cat", "/one", "/f.txt", "/keep/k"]',
        '',
      ].join('\n'),
      'f.txt': 'f\n',
    });
    const layers = (img: string) => JSON.parse(ok(['image', 'inspect', '-f', '{{json .RootFS.Layers}}', img])) as string[];
    const history = (img: string) => ok(['history', '--no-trunc', '--format', '{{.CreatedBy}}|{{.Comment}}|{{.Size}}', img]).trim().split('\n');
    built(berth(['-t', 'squash:plain', ctx]));
    for (const [name, run] of [['berth', berth], ['docker', docker]] as const) {
      const out = built(run(['--squash', '-t', `squash:${name}`, ctx]));
      assert.match(out, /Successfully built/);
      assert.equal(ok(['run', '--rm', `squash:${name}`]), 'one\nf\nk\n', name);
      assert.equal(sh(`squash:${name}`, 'ls /big /bin/vi /gone-dir 2>&1 | wc -l; echo $SQUASHED'), '3\nyes\n');
      // The base (busybox + the base stage's layer) and one layer on top.
      const base = layers('squash:plain').slice(0, 2);
      assert.deepEqual(layers(`squash:${name}`).slice(0, 2), base, name);
      assert.equal(layers(`squash:${name}`).length, 3, name);
      // History: every step is still listed, plus Docker's merge entry.
      const h = history(`squash:${name}`);
      assert.equal(h.length, history('squash:plain').length + 1, h.join('\n'));
      assert.match(h[0], /^\|merge sha256:[0-9a-f]{64} to sha256:[0-9a-f]{64}\|/);
      assert.ok(h.some((l) => l.startsWith('/bin/sh -c rm /big')), name);
      // The squashed layer holds no trace of the 2 MB file made and removed within the build.
      const size = Number(ok(['image', 'inspect', '-f', '{{.Size}}', `squash:${name}`]));
      const plainSize = Number(ok(['image', 'inspect', '-f', '{{.Size}}', 'squash:plain']));
      assert.ok(size < plainSize - 1_000_000, `${size} vs ${plainSize}`);
    }
  });
});
