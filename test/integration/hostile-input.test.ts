import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tarStream from 'tar-stream';
import { conmonsUnder, Daemon, startDaemon, dockerAsync, listDir } from './harness';

// Known attacks on a container engine, through the real docker CLI and the raw API. Each one
// asserts that the host is untouched: canary files outside every root keep their content, and no
// file appears outside the roots.
describe('hostile input', () => {
  let d: Daemon;
  // Made at once (not in before()): the test table below names paths inside it.
  const canary = mkdtempSync('/tmp/berth-canary-');
  /** The canary dir without its leading '/': a path that, joined onto the wrong root, hits the host. */
  const canaryRel = canary.slice(1);
  const work = mkdtempSync('/tmp/berth-hostile-');
  const token = randomBytes(4).toString('hex');
  const escapes = [`/tmp/berth-escape-${token}`, `/berth-escape-${token}`, `/tmp/escape-${token}`];
  const SECRET = `host secret ${token}\n`;

  before(async () => {
    d = await startDaemon();
    writeFileSync(join(canary, 'secret'), SECRET);
    mkdirSync(join(canary, 'sub'));
    writeFileSync(join(canary, 'sub', 'file'), SECRET);
  });
  after(async () => {
    try {
      const execRoot = d?.execRoot;
      await d?.stop();
      if (execRoot) await until(() => conmonsUnder(execRoot).length === 0, 5000);
    } finally {
      rmSync(canary, { recursive: true, force: true });
      rmSync(work, { recursive: true, force: true });
      for (const e of escapes) rmSync(e, { force: true, recursive: true });
    }
  });

  /** The host is untouched: canaries keep their content, nothing new in them, no escape file anywhere. */
  const assertHostUntouched = () => {
    assert.equal(readFileSync(join(canary, 'secret'), 'utf8'), SECRET, 'canary file changed');
    assert.equal(readFileSync(join(canary, 'sub', 'file'), 'utf8'), SECRET, 'canary file changed');
    assert.deepEqual(readdirSync(canary).sort(), ['secret', 'sub'], 'new file in the canary dir');
    assert.deepEqual(readdirSync(join(canary, 'sub')), ['file'], 'new file in the canary dir');
    for (const e of escapes) assert.ok(!existsSync(e) && !isSymlink(e), `${e} appeared on the host`);
    assert.ok(!existsSync('/etc/berth-escape') && !existsSync(join(d.dataRoot, '..', `escape-${token}`)));
  };

  const ok = (args: string[], input?: string) => {
    const r = d.docker(args, { input });
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };

  // ---- docker cp and symlinks ----------------------------------------------------------------------

  test('docker cp into a container through symlinks to / and ../../.. stays in the container', () => {
    // Inside the container the canary's path exists too, so a write that resolves in the container succeeds.
    ok(['run', '-d', '--name', 'cpin', 'busybox', 'sh', '-c',
      `mkdir -p /${canaryRel}/sub /d && ln -s / /abs && ln -s ../../.. /rel && ln -s / /d/up && ln -s ../../../../.. /d/back && ` +
      `ln -s /${canaryRel}/secret /d/secretlink && touch /ready && exec sleep 300`]);
    waitFor(() => d.docker(['exec', 'cpin', 'test', '-e', '/ready']).status === 0);
    const payload = join(work, 'payload');
    writeFileSync(payload, 'PWNED\n');

    for (const target of [`/abs/${canaryRel}/secret`, `/rel/${canaryRel}/secret`, `/d/up/${canaryRel}/secret`,
      `/d/back/${canaryRel}/secret`, '/d/secretlink']) {
      const r = d.docker(['cp', payload, `cpin:${target}`]);
      assertHostUntouched();
      if (r.status === 0) {
        // It landed in the container's own copy of the path.
        assert.equal(ok(['exec', 'cpin', 'cat', `/${canaryRel}/secret`]), 'PWNED\n', `cp to ${target}`);
        ok(['exec', 'cpin', 'rm', '-f', `/${canaryRel}/secret`]);
      }
    }
    // A directory whose entries walk through the symlinks in the target dir.
    const dir = join(work, 'tree');
    mkdirSync(join(dir, 'up', canaryRel, 'sub'), { recursive: true });
    writeFileSync(join(dir, 'up', canaryRel, 'sub', 'file'), 'PWNED\n');
    mkdirSync(join(dir, 'back', canaryRel), { recursive: true });
    writeFileSync(join(dir, 'back', canaryRel, 'new'), 'PWNED\n');
    const r = d.docker(['cp', `${dir}/.`, 'cpin:/d']);
    assertHostUntouched();
    if (r.status === 0) assert.equal(ok(['exec', 'cpin', 'cat', `/${canaryRel}/sub/file`]), 'PWNED\n');
    // The whole tree into a symlink to / as the destination directory.
    const r2 = d.docker(['cp', `${dir}/.`, 'cpin:/abs']);
    assertHostUntouched();
    if (r2.status === 0) assert.equal(ok(['exec', 'cpin', 'cat', `/up/${canaryRel}/sub/file`]), 'PWNED\n');
    ok(['rm', '-f', 'cpin']);
  });

  test('docker cp out of a container does not follow symlinks to host paths', async () => {
    ok(['run', '-d', '--name', 'cpout', 'busybox', 'sh', '-c',
      `ln -s /${canaryRel}/secret /hostfile && ln -s /${canaryRel} /hostdir && ln -s ../../../../../../.. /updir && touch /ready && exec sleep 300`]);
    waitFor(() => d.docker(['exec', 'cpout', 'test', '-e', '/ready']).status === 0);
    // A tar can carry an absolute symlink too (Docker refuses only relative ones that climb out).
    const put = d.docker(['cp', '-', 'cpout:/'], { input: await makeTar([{ name: 'viatar', type: 'symlink', linkname: `/${canaryRel}/sub` }]) });
    assert.equal(put.status, 0, put.stderr);
    const climbing = d.docker(['cp', '-', 'cpout:/'], { input: await makeTar([{ name: 'climb', type: 'symlink', linkname: '../../../../..' }]) });
    assert.equal(climbing.status, 1);
    assert.match(climbing.stderr, /Error response from daemon: .*(invalid symlink|outside)/);
    for (const [src, follow] of [['/hostfile', false], ['/hostfile', true], ['/hostdir/secret', false], ['/hostdir', true],
      [`/updir/${canaryRel}/secret`, false], ['/updir', true], ['/viatar/file', false], ['/viatar', true]] as const) {
      const out = join(work, `out-${randomBytes(3).toString('hex')}`);
      const r = d.docker(['cp', ...(follow ? ['-L'] : []), `cpout:${src}`, out]);
      if (r.status === 0) {
        assert.ok(!leaksSecret(out, SECRET), `docker cp ${follow ? '-L ' : ''}cpout:${src} read the host's file`);
      }
      rmSync(out, { recursive: true, force: true });
    }
    const raw = d.docker(['cp', 'cpout:/hostdir/secret', '-']);
    assert.ok(!raw.stdout.includes(SECRET.trim()));
    assertHostUntouched();
    ok(['rm', '-f', 'cpout']);
  });

  test('CVE-2018-15664: docker cp racing a symlink swap never touches the host', async () => {
    ok(['run', '-d', '--name', 'race', 'busybox', 'sh', '-c',
      `mkdir -p /dir/${canaryRel} /${canaryRel} && echo inside > /dir/${canaryRel}/secret && echo inside > /${canaryRel}/secret && ` +
      'touch /ready && while true; do mv /dir /dir.tmp; ln -s / /dir; rm /dir; mv /dir.tmp /dir; done']);
    waitFor(() => d.docker(['exec', 'race', 'test', '-e', '/ready']).status === 0);
    const payload = join(work, 'race-payload');
    writeFileSync(payload, 'PWNED\n');
    const deadline = Date.now() + 5000;
    let ins = 0;
    let outs = 0;
    const worker = async (n: number) => {
      while (Date.now() < deadline) {
        if (n % 2 === 0) {
          await dockerAsync(d, ['cp', payload, `race:/dir/${canaryRel}/secret`], 20_000);
          ins++;
        } else {
          const out = join(work, `race-out-${n}`);
          const r = await dockerAsync(d, ['cp', `race:/dir/${canaryRel}/secret`, out], 20_000);
          if (r.code === 0) assert.ok(!leaksSecret(out, SECRET), 'docker cp read the host file through the swapped symlink');
          rmSync(out, { recursive: true, force: true });
          outs++;
        }
      }
    };
    await Promise.all([0, 1, 2, 3].map(worker));
    assert.ok(ins > 5 && outs > 5, `too few attempts: ${ins} in, ${outs} out`);
    assertHostUntouched();
    ok(['rm', '-f', 'race']);
  });

  // ---- docker load / import of crafted archives ------------------------------------------------------

  const storeState = () => ({
    images: ok(['images', '-a', '-q', '--no-trunc']).split('\n').filter(Boolean).sort(),
    files: ['image/sha256', 'image/tmp', 'overlay/layers', 'overlay/l', 'overlay/tmp']
      .map((p) => `${p}: ${listDir(join(d.dataRoot, p)).join(',')}`),
  });

  /** The file is in the image (read back with docker cp from a container of it); then the image goes. */
  const assertInImage = (image: string, path: string) => {
    const c = ok(['create', image, 'true']).trim();
    try {
      const r = d.docker(['cp', `${c}:${path}`, '-']);
      assert.equal(r.status, 0, r.stderr);
      assert.ok(r.stdout.includes(path.split('/').pop()!), 'the member is in the image');
    } finally {
      ok(['rm', c]);
      ok(['rmi', image]);
    }
  };

  // Docker streams load/import errors as JSON messages; the CLI prints them as they are.
  const LAYER_ERROR = /escapes|outside|not inside|not a directory|invalid|Error response from daemon: /;

  const evilLayers: Array<{ what: string; entries: TarEntry[]; inside?: string }> = [
    { what: 'a ../../ member', entries: [{ name: `../../escape-${token}`, content: 'x' }] },
    { what: 'an absolute member', entries: [{ name: `/tmp/berth-escape-${token}`, content: 'x' }], inside: `/tmp/berth-escape-${token}` },
    // The link resolves in the image root, as Docker's chrooted unpack does: the file lands in the image.
    { what: 'a symlink to / then a write through it', entries: [
      { name: 'evil', type: 'symlink', linkname: '/' }, { name: `evil/tmp/berth-escape-${token}`, content: 'x' }], inside: `/tmp/berth-escape-${token}` },
    { what: 'a symlink to the canary dir then a write through it', entries: [
      { name: 'evil', type: 'symlink', linkname: `/${canaryRel}` }, { name: 'evil/secret', content: 'PWNED' }] },
    { what: 'a relative symlink out then a write through it', entries: [
      { name: 'evil', type: 'symlink', linkname: '../../../../../../../..' }, { name: `evil/${canaryRel}/secret`, content: 'PWNED' }] },
    { what: 'a hardlink to /etc/passwd', entries: [{ name: 'passwd', type: 'link', linkname: '/etc/passwd' }] },
    { what: 'a hardlink to ../x', entries: [{ name: 'x', type: 'link', linkname: '../x' }] },
    { what: 'a hardlink to the canary through ../', entries: [{ name: 'secret', type: 'link', linkname: `../../../../../../../${canaryRel}/secret` }] },
  ];

  for (const evil of evilLayers) {
    test(`docker import of a tar with ${evil.what} leaves the host and the store clean`, async () => {
      const before = storeState();
      const tar = await makeTar(evil.entries);
      const r = d.docker(['import', '-', `evil-import:${token}`], { input: tar });
      assertHostUntouched();
      if (r.status === 0) {
        assert.ok(evil.inside, `import of ${evil.what} succeeded`);
        assertInImage(`evil-import:${token}`, evil.inside!);
      } else {
        assert.equal(r.status, 1);
        assert.match(r.stderr, LAYER_ERROR);
        assert.equal(d.docker(['image', 'inspect', `evil-import:${token}`]).status, 1);
      }
      assert.deepEqual(storeState(), before, 'the failed import left something behind');
    });

    test(`docker load of an image whose layer has ${evil.what} leaves the host and the store clean`, async () => {
      const before = storeState();
      const archive = await imageArchive(await makeTar(evil.entries), `evil-load:${token}`);
      const r = d.docker(['load'], { input: archive });
      assertHostUntouched();
      if (r.status === 0) {
        assert.ok(evil.inside, `load of ${evil.what} succeeded`);
        assertInImage(`evil-load:${token}`, evil.inside!);
      } else {
        assert.equal(r.status, 1);
        assert.match(r.stderr, LAYER_ERROR);
        assert.equal(d.docker(['image', 'inspect', `evil-load:${token}`]).status, 1);
      }
      assert.deepEqual(storeState(), before, 'the failed load left something behind');
    });
  }

  test('docker load of archives whose manifest points outside the archive is refused', async () => {
    const before = storeState();
    for (const layerName of ['../../../etc/passwd', `/${canaryRel}/secret`, 'nope/layer.tar']) {
      const layer = await makeTar([{ name: 'ok', content: 'fine' }]);
      const archive = await imageArchive(layer, `evil-manifest:${token}`, layerName);
      const r = d.docker(['load'], { input: archive });
      assert.equal(r.status, 1, `load with layer ${layerName} succeeded`);
      assert.match(r.stderr, /invalid archive|Error response from daemon: /);
    }
    // Garbage and truncated archives.
    for (const junk of [Buffer.from('not a tar at all'), (await imageArchive(await makeTar([{ name: 'a', content: 'b' }]), 'x:y')).subarray(0, 1500)]) {
      const r = d.docker(['load'], { input: junk });
      assert.equal(r.status, 1);
    }
    assertHostUntouched();
    assert.deepEqual(storeState(), before);
    assert.equal((d.docker(['version'])).status, 0, 'the daemon keeps serving');
  });

  // ---- malformed API input -----------------------------------------------------------------------------

  test('malformed API requests get Docker status codes and {"message"} bodies; the daemon keeps serving', async () => {
    const running = ok(['run', '-d', '--name', 'target', 'busybox', 'sleep', '300']).trim();
    // Every case runs; the failures are reported together.
    const failures: string[] = [];
    const expectError = async (method: string, path: string, body: unknown, status: number, message?: RegExp) => {
      const r = await d.api(method, path, body);
      const what = `${method} ${path.slice(0, 80)} ${typeof body === 'string' ? body.slice(0, 40) : JSON.stringify(body)?.slice(0, 60)}`;
      let msg: unknown;
      try { msg = (JSON.parse(r.body) as { message?: unknown }).message; } catch { /* reported below */ }
      if (r.status !== status || typeof msg !== 'string' || msg === '' || (message && !message.test(msg))) {
        failures.push(`${what}: want ${status} ${message ?? ''}, got ${r.status} ${r.body.slice(0, 160)}`);
      }
      // Anything created by mistake must not linger.
      if (r.status === 201 && /"Id"/.test(r.body)) await d.api('DELETE', `/v1.50/containers/${JSON.parse(r.body).Id}?force=1`);
    };
    const create = '/v1.50/containers/create';
    for (const body of ['[]', '3', '"busybox"', 'null', '{"Image": "busybox"', '{not json']) await expectError('POST', create, body, 400);
    await expectError('POST', create, { Image: 'busybox', Cmd: 3 }, 400);
    await expectError('POST', create, { Image: 'busybox', Env: 'A=1' }, 400);
    await expectError('POST', create, { Image: 'busybox', Env: [1, 2] }, 400);
    await expectError('POST', create, { Image: 42 }, 400);
    await expectError('POST', create, { Image: 'busybox', HostConfig: 'yes' }, 400);
    await expectError('POST', create, { Image: 'busybox', HostConfig: { Binds: 'x' } }, 400);
    await expectError('POST', create, { Image: 'busybox', Labels: { a: 1 } }, 400);
    await expectError('POST', create, { Image: 'busybox', Tty: 'yes' }, 400);
    await expectError('POST', create, { Image: 'busybox', Entrypoint: { a: 1 } }, 400);
    // A huge body (64 MiB of JSON garbage) is refused without taking the daemon down.
    await expectError('POST', create, `{"Image": "busybox", "Cmd": ["${'a'.repeat(64 << 20)}`, 400);
    await expectError('POST', `${create}?name=${encodeURIComponent('bad name!')}`, { Image: 'busybox' }, 400, /Invalid container name/);
    await expectError('POST', `${create}?name=${encodeURIComponent('../../etc')}`, { Image: 'busybox' }, 400, /Invalid container name/);
    for (const ref of ['UPPER', 'a:b:c', '@sha256:short', 'busybox@sha256:short', 'a//b', ':tag', '-x']) {
      await expectError('POST', create, { Image: ref }, 400, /invalid reference format/);
      await expectError('GET', `/v1.50/images/${encodeURIComponent(ref)}/json`, undefined, ref === 'UPPER' || ref === '-x' ? 400 : 400);
      await expectError('POST', `/v1.50/images/busybox/tag?repo=${encodeURIComponent(ref)}`, undefined, 400);
    }
    await expectError('GET', '/v1.50/containers/no-such-container/json', undefined, 404, /No such container: no-such-container/);
    await expectError('POST', '/v1.50/containers/no-such-container/start', undefined, 404, /No such container/);
    await expectError('DELETE', '/v1.50/containers/no-such-container', undefined, 404, /No such container/);
    await expectError('GET', '/v1.50/images/no-such-image/json', undefined, 404, /No such image: no-such-image/);
    await expectError('DELETE', '/v1.50/images/no-such-image', undefined, 404, /No such image/);
    await expectError('GET', `/v1.50/exec/${'0'.repeat(64)}/json`, undefined, 404, /No such exec instance/);
    await expectError('POST', `/v1.50/exec/${'0'.repeat(64)}/start`, { Detach: true }, 404, /No such exec instance/);
    await expectError('POST', '/v1.50/containers/target/exec', { Cmd: 3 }, 400);
    await expectError('POST', '/v1.50/containers/target/exec', '[]', 400);
    for (const sig of ['FOO', 'SIGFOO', '-1', '0', '65', '9999999999', 'SIGKILL;rm']) {
      await expectError('POST', `/v1.50/containers/target/kill?signal=${encodeURIComponent(sig)}`, undefined, 400, /Invalid signal/);
    }
    await expectError('POST', '/v1.50/containers/target/attach?stream=1&stdout=1&detachKeys=ctrl-', undefined, 400, /Invalid detach keys/);
    await expectError('POST', '/v1.50/containers/target/attach?stream=1&stdout=1&detachKeys=notakey', undefined, 400, /Invalid detach keys/);
    await expectError('POST', '/v1.50/containers/target/wait?condition=bogus', undefined, 400, /invalid condition/);
    await expectError('POST', '/v1.50/containers/target/stop?t=abc', undefined, 400);
    await expectError('GET', '/v1.50/containers/json?filters=notjson', undefined, 400);
    await expectError('GET', '/v1.50/containers/target/logs?stdout=1&tail=-5x', undefined, 400);
    await expectError('POST', '/v1.50/containers/target/resize?h=abc&w=10', undefined, 400);
    // Regression: a GET archive of a missing path used to crash berthd (an 'error' event nobody listened to).
    await expectError('GET', '/v1.50/containers/target/archive?path=/no/such/path', undefined, 404);
    await expectError('GET', '/v1.50/containers/target/archive?path=/no/such/path', undefined, 404);
    assert.deepEqual(failures, []);
    // Docker's StrSlice: a single string is a one-element command, not an error.
    const single = await d.api('POST', create, { Image: 'busybox', Cmd: 'echo hi' });
    assert.equal(single.status, 201, single.body);
    const singleId = (JSON.parse(single.body) as { Id: string }).Id;
    assert.equal(ok(['inspect', '-f', '{{json .Config.Cmd}}', singleId]).trim(), '["echo hi"]');
    ok(['rm', singleId]);
    // After all of that the daemon still serves, and the target is untouched.
    assert.equal(ok(['inspect', '-f', '{{.State.Running}}', running]).trim(), 'true');
    assert.equal(ok(['run', '--rm', 'busybox', 'echo', 'still serving']), 'still serving\n');
    ok(['rm', '-f', 'target']);
    assertHostUntouched();
  });
});

// ---- helpers ------------------------------------------------------------------------------------------

interface TarEntry { name: string; type?: 'file' | 'symlink' | 'link' | 'directory'; linkname?: string; content?: string }

/** A tar built member by member (names kept exactly as given: tar-stream does not sanitize). */
function makeTar(entries: TarEntry[]): Promise<Buffer> {
  return packTar(entries.map((e) => {
    const type = e.type ?? 'file';
    const body = type === 'file' ? Buffer.from(e.content ?? '') : undefined;
    const header: tarStream.Header = { name: e.name, type, ...(e.linkname ? { linkname: e.linkname } : {}), mode: type === 'directory' ? 0o755 : 0o644, size: body?.length ?? 0, mtime: new Date(0) } as tarStream.Header;
    return { header, body };
  }));
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

/** A docker-archive (docker save layout) of one image with one layer. */
function imageArchive(layer: Buffer, tag: string, layerName?: string): Promise<Buffer> {
  const diffId = `sha256:${createHash('sha256').update(layer).digest('hex')}`;
  const config = Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'] }, created: '2024-01-01T00:00:00Z',
    rootfs: { type: 'layers', diff_ids: [diffId] }, history: [{ created: '2024-01-01T00:00:00Z' }],
  }));
  const configName = `blobs/sha256/${createHash('sha256').update(config).digest('hex')}`;
  const layerMember = `blobs/sha256/${diffId.slice(7)}`;
  const manifest = JSON.stringify([{ Config: configName, RepoTags: [tag], Layers: [layerName ?? layerMember] }]);
  return packTar([[configName, config], [layerMember, layer], ['manifest.json', Buffer.from(manifest)]]
    .map(([name, body]) => ({ header: { name: name as string, size: (body as Buffer).length, mode: 0o644, mtime: new Date(0) } as tarStream.Header, body: body as Buffer })));
}

function leaksSecret(path: string, secret: string): boolean {
  try {
    const st = lstatSync(path);
    if (st.isDirectory()) return readdirSync(path).some((n) => leaksSecret(join(path, n), secret));
    if (st.isFile()) return readFileSync(path, 'utf8').includes(secret.trim());
    return false; // a symlink copied as a symlink reads nothing
  } catch {
    return false;
  }
}

function isSymlink(p: string): boolean {
  try { return lstatSync(p).isSymbolicLink(); } catch { return false; }
}



async function until(cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail('conmon processes left running');
}

function waitFor(cond: () => boolean, ms = 5000): void {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return;
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 50);
  }
  assert.fail('condition not met in time');
}

