import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, dockerAsync, startDaemon } from './harness';
import { RunningRegistry, cuttingProxy, randomLayerTar, selfSignedCert, startRegistry } from './registry-helpers';
import { call, digestOf, pushBlob } from '../../src/registry/server/testing/fixtures';

// The engine's registry client through the docker CLI: pull -a, platforms and manifest lists,
// progress bars, resumed downloads, cross-repository mounts, insecure registries.
describe('registry client: pull -a, platforms, progress, resume, mounts', () => {
  let d: Daemon;
  let reg: RunningRegistry;
  let tmp: string;

  before(async () => {
    tmp = mkdtempSync('/tmp/berth-test-regclient-');
    reg = await startRegistry(join(tmp, 'root'));
    d = await startDaemon();
  });
  after(async () => {
    await d?.stop();
    await reg?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };

  test('pull -a pulls every tag; the status names the repository', () => {
    const repo = `${reg.addr}/all/bb`;
    for (const t of ['1', '2', 'latest']) ok(['tag', 'busybox', `${repo}:${t}`]);
    ok(['push', '-a', repo]);
    ok(['rmi', `${repo}:1`, `${repo}:2`, `${repo}:latest`]);
    const out = ok(['pull', '-a', repo]);
    for (const t of ['1', '2', 'latest']) assert.match(out, new RegExp(`^${t}: Pulling from all/bb`, 'm'));
    assert.match(out, new RegExp(`Status: Image is up to date for ${repo}\\n`));
    const tags = ok(['images', '--format', '{{.Repository}}:{{.Tag}}', repo]).trim().split('\n').sort();
    assert.deepEqual(tags, [`${repo}:1`, `${repo}:2`, `${repo}:latest`]);
    const none = d.docker(['pull', '-a', `${reg.addr}/no/such`]);
    assert.equal(none.status, 1);
    assert.match(none.stderr, /name unknown|not found/);
  });

  test('--platform: a single-platform image must match; a manifest list resolves to the host', async () => {
    const ref = `${reg.addr}/plat/bb:1`;
    ok(['tag', 'busybox', ref]);
    const push = ok(['push', ref]);
    const digest = /digest: (sha256:[0-9a-f]{64}) size: (\d+)/.exec(push)!;
    const wrong = d.docker(['pull', '--platform', 'linux/s390x', ref]);
    assert.equal(wrong.status, 1);
    assert.match(wrong.stderr, /does not match the specified platform: wanted linux\/s390x, actual: linux\/amd64/);
    ok(['pull', '--platform', 'linux/amd64', ref]);
    // An index with this host's manifest and one for another platform (its image is never fetched).
    const other = await pushBlob(reg.addr, 'plat/bb', '{"architecture":"s390x","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
    const otherManifest = JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: other, size: 84 }, layers: [] });
    const om = await call(reg.addr, 'PUT', `/v2/plat/bb/manifests/${digestOf(otherManifest)}`, { body: otherManifest, headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' } });
    assert.equal(om.status, 201);
    const index = JSON.stringify({
      schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digestOf(otherManifest), size: otherManifest.length, platform: { os: 'linux', architecture: 's390x' } },
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: digest[1], size: Number(digest[2]), platform: { os: 'linux', architecture: 'amd64' } },
      ],
    });
    const put = await call(reg.addr, 'PUT', '/v2/plat/bb/manifests/multi', { body: index, headers: { 'Content-Type': 'application/vnd.oci.image.index.v1+json' } });
    assert.equal(put.status, 201);
    const pulled = await dockerAsync(d, ['pull', `${reg.addr}/plat/bb:multi`]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stdout, new RegExp(`Digest: ${digestOf(index)}`));
    assert.equal(ok(['run', '--rm', `${reg.addr}/plat/bb:multi`, 'echo', 'multi']), 'multi\n');
    const none = await dockerAsync(d, ['pull', '--platform', 'linux/arm64', `${reg.addr}/plat/bb:multi`]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no matching manifest for linux\/arm64/);
  });

  test('a dropped connection mid-blob is resumed with a Range request; the image is intact', async () => {
    const tar = randomLayerTar(tmp, 6 << 20);
    const ref = `${reg.addr}/big/rand:1`;
    ok(['import', tar, ref]);
    const push = ok(['push', ref]);
    assert.match(push, /Pushed/);
    const layer = JSON.parse(ok(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', ref]))[0] as string;
    ok(['rmi', ref]);
    const proxy = await cuttingProxy(reg.addr, `/blobs/${layer}`, 2 << 20);
    try {
      const via = `${proxy.addr}/big/rand:1`;
      const r = await dockerAsync(d, ['pull', via]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(proxy.cuts, 1);
      const resumed = proxy.log.filter((l) => l.includes(`/blobs/${layer}`));
      assert.equal(resumed.length, 2, proxy.log.join('\n'));
      assert.match(resumed[1], /Range: bytes=\d+-$/);
      assert.ok(Number(/bytes=(\d+)-/.exec(resumed[1])![1]) > 0);
      // The layer is the one pushed: same diffID, and its content reads back whole.
      assert.equal(JSON.parse(ok(['image', 'inspect', '--format', '{{json .RootFS.Layers}}', via]))[0], layer);
      ok(['rmi', via]);
    } finally {
      await proxy.close();
    }
  });

  test('the docker CLI draws progress bars on a terminal; present layers are skipped', async () => {
    const ref = `${reg.addr}/big/rand:1`;
    // `script` gives the CLI a pseudo-terminal, so it renders jsonmessage progress; the bar itself
    // is drawn only on terminals wider than 110 columns.
    const r = spawnSync('script', ['-qec', `stty cols 160 rows 40; docker pull ${ref}`, '/dev/null'], { env: { ...d.env, TERM: 'xterm' }, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Downloading \s*\[=*>? *\]/);
    assert.match(r.stdout, /Pull complete/);
    // Everything present: the layer is skipped.
    ok(['tag', ref, `${reg.addr}/big/again:1`]);
    ok(['push', `${reg.addr}/big/again:1`]);
    ok(['rmi', `${reg.addr}/big/again:1`]);
    const again = ok(['pull', `${reg.addr}/big/again:1`]);
    assert.match(again, /Already exists/);
    assert.doesNotMatch(again, /Pull complete/);
  });

  test('a push mounts layers the registry has in another repository', () => {
    ok(['tag', 'busybox', `${reg.addr}/base/bb:1`]);
    ok(['push', `${reg.addr}/base/bb:1`]);
    ok(['run', '--name', 'child-src', 'busybox', 'sh', '-c', 'echo child > /child']);
    ok(['commit', 'child-src', `${reg.addr}/apps/child:1`]);
    ok(['rm', 'child-src']);
    const push = ok(['push', `${reg.addr}/apps/child:1`]);
    assert.match(push, /Mounted from (base|all|plat)\/bb/);
    assert.match(push, /Pushed/);
    ok(['rmi', `${reg.addr}/apps/child:1`]);
    assert.equal(ok(['run', '--rm', `${reg.addr}/apps/child:1`, 'cat', '/child']), 'child\n');
  });
});

describe('registry client: insecure registries (--insecure-registry, insecure-registries)', () => {
  let plain: Daemon;
  let configured: Daemon;
  let tlsReg: RunningRegistry;
  let otherTls: RunningRegistry;
  let httpOn2: RunningRegistry;
  let tmp: string;

  before(async () => {
    tmp = mkdtempSync('/tmp/berth-test-insecure-');
    const a = selfSignedCert(join(tmp, 'certs'), '127.0.0.1');
    const b = selfSignedCert(join(tmp, 'certs'), '127.0.0.3');
    tlsReg = await startRegistry(join(tmp, 'tls'), { args: ['--tls-cert', a.cert, '--tls-key', a.key] });
    otherTls = await startRegistry(join(tmp, 'tls3'), { host: '127.0.0.3', args: ['--tls-cert', b.cert, '--tls-key', b.key] });
    httpOn2 = await startRegistry(join(tmp, 'http2'), { host: '127.0.0.2' });
    const config = join(tmp, 'daemon.json');
    writeFileSync(config, JSON.stringify({ 'insecure-registries': [tlsReg.addr, '127.0.0.2/32'] }));
    plain = await startDaemon();
    configured = await startDaemon({ args: ['--config-file', config] });
  });
  after(async () => {
    await plain?.stop();
    await configured?.stop();
    for (const r of [tlsReg, otherTls, httpOn2]) await r?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('a TLS registry with a self-signed certificate fails without the setting, with a hint', () => {
    plain.docker(['tag', 'busybox', `${tlsReg.addr}/sec/bb:1`]);
    const r = plain.docker(['push', `${tlsReg.addr}/sec/bb:1`]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /--insecure-registry/);
  });

  test('listed in insecure-registries: unverified TLS works for that registry only', () => {
    const ref = `${tlsReg.addr}/sec/bb:1`;
    assert.equal(configured.docker(['tag', 'busybox', ref]).status, 0);
    const push = configured.docker(['push', ref]);
    assert.equal(push.status, 0, push.stderr);
    assert.equal(configured.docker(['rmi', ref]).status, 0);
    const pull = configured.docker(['pull', ref]);
    assert.equal(pull.status, 0, pull.stderr);
    // The other TLS registry is not listed: its certificate is checked, and fails.
    configured.docker(['tag', 'busybox', `${otherTls.addr}/sec/bb:1`]);
    const other = configured.docker(['push', `${otherTls.addr}/sec/bb:1`]);
    assert.notEqual(other.status, 0);
    assert.match(other.stderr, /certificate|plain HTTP/);
    const info = configured.docker(['info', '--format', '{{json .RegistryConfig}}']);
    const rc = JSON.parse(info.stdout);
    assert.deepEqual(rc.InsecureRegistryCIDRs, ['127.0.0.0/8', '127.0.0.2/32']);
    assert.equal(rc.IndexConfigs[tlsReg.addr].Secure, false);
  });

  test('a plain HTTP registry in an insecure CIDR is reached after the TLS attempt fails', () => {
    const ref = `${httpOn2.addr}/plain/bb:1`;
    configured.docker(['tag', 'busybox', ref]);
    const push = configured.docker(['push', ref]);
    assert.equal(push.status, 0, push.stderr);
    configured.docker(['rmi', ref]);
    const pull = configured.docker(['pull', ref]);
    assert.equal(pull.status, 0, pull.stderr);
    assert.match(pull.stdout, new RegExp(`Digest: sha256:`));
  });

  test('berthd refuses a malformed --insecure-registry', () => {
    const r = spawnSync(process.execPath, [join(__dirname, '..', '..', 'bin', 'berthd'), '--insecure-registry', 'not a host/99', '-H', 'unix:///nonexistent/x.sock'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /insecure registry "not a host\/99" is not a valid CIDR or host\[:port\]/);
  });
});
