import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, leakedMounts, startDaemon } from './harness';
import { RunningRegistry, startRegistry, stopChild } from './registry-helpers';

// dockerd (Debian docker.io) and podman against `berth registry serve`, and images crossing between
// them and berthd. Each peer is private: dockerd with its own roots and socket, no bridge, no
// iptables; podman with its own root and runroot. Skipped with a message when a peer is missing
// (bench/install-peers.sh installs both).
const haveDockerd = spawnSync('dockerd', ['--version']).status === 0 && spawnSync('containerd', ['--version']).status === 0;
const havePodman = spawnSync('podman', ['--version']).status === 0;
const skipDockerd = haveDockerd ? false : 'dockerd/containerd are not installed (Debian docker.io; bench/install-peers.sh)';
const skipPodman = havePodman ? false : 'podman is not installed (Debian podman; bench/install-peers.sh)';

describe('registry interop: dockerd and podman push to and pull from berth registry serve', () => {
  let tmp: string;
  let reg: RunningRegistry;
  let d: Daemon;
  let dockerd: ChildProcess | undefined;
  let dockerSock = '';
  let archive = '';

  before(async () => {
    tmp = mkdtempSync('/tmp/berth-test-interop-');
    reg = await startRegistry(join(tmp, 'registry'));
    d = await startDaemon();
    writeFileSync(join(tmp, 'podman-auth.json'), '{}');
    archive = join(tmp, 'busybox.tar');
    const save = d.docker(['save', '-o', archive, 'busybox:latest']);
    assert.equal(save.status, 0, save.stderr);
    if (haveDockerd) {
      const root = join(tmp, 'dockerd');
      // The exec root holds containerd's sockets: short path.
      const exec = mkdtempSync('/run/bti-');
      dockerSock = join(exec, 'docker.sock');
      mkdirSync(root, { recursive: true });
      dockerd = spawn('dockerd', ['--data-root', join(root, 'data'), '--exec-root', exec, '-H', `unix://${dockerSock}`, '--pidfile', join(exec, 'dockerd.pid'),
        '--bridge=none', '--iptables=false', '--ip6tables=false', '--ip-masq=false', '--ip-forward=false', '--storage-driver', 'overlay2'], { stdio: ['ignore', 'ignore', 'ignore'] });
      (dockerd as ChildProcess & { execRoot?: string }).execRoot = exec;
      for (let i = 0; i < 120; i++) {
        if (dockerd.exitCode !== null) throw new Error(`dockerd exited with ${dockerd.exitCode}`);
        if (existsSync(dockerSock) && peer(['version', '--format', '{{.Server.Version}}']).status === 0) break;
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  });

  after(async () => {
    if (dockerd) {
      const exec = (dockerd as ChildProcess & { execRoot?: string }).execRoot!;
      await stopChild(dockerd);
      for (const m of leakedMounts(join(tmp, 'dockerd')).reverse()) spawnSync('umount', ['-l', m]);
      for (const m of leakedMounts(exec).reverse()) spawnSync('umount', ['-l', m]);
      rmSync(exec, { recursive: true, force: true });
    }
    await d?.stop();
    await reg?.stop();
    if (tmp) {
      for (const m of leakedMounts(tmp).reverse()) spawnSync('umount', ['-l', m]);
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  /** The docker CLI against the private dockerd. */
  function peer(args: string[], input?: string) {
    return spawnSync('docker', args, { env: { ...process.env, DOCKER_HOST: `unix://${dockerSock}`, DOCKER_CONFIG: join(tmp, 'peer-docker-config') }, encoding: 'utf8', input, timeout: 120_000 });
  }
  const okPeer = (args: string[]) => {
    const r = peer(args);
    assert.equal(r.status, 0, `docker(dockerd) ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  const okBerthd = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker(berthd) ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  function podman(args: string[]) {
    return spawnSync('podman', ['--root', join(tmp, 'podman', 'root'), '--runroot', join(tmp, 'podman', 'run'), '--tmpdir', join(tmp, 'podman', 'tmp'),
      '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', '--storage-driver', 'overlay', ...args],
    { env: { ...process.env, REGISTRY_AUTH_FILE: join(tmp, 'podman-auth.json') }, encoding: 'utf8', timeout: 120_000 });
  }
  const okPodman = (args: string[]) => {
    const r = podman(args);
    assert.equal(r.status, 0, `podman ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };

  test('dockerd pushes (gzip, schema 2); berthd pulls and runs it; dockerd pulls what berthd pushed', { skip: skipDockerd }, () => {
    okPeer(['load', '-i', archive]);
    const ref = `${reg.addr}/interop/from-dockerd:1`;
    okPeer(['tag', 'busybox:latest', ref]);
    const push = okPeer(['push', ref]);
    assert.match(push, /1: digest: sha256:[0-9a-f]{64}/);
    okPeer(['rmi', ref]);
    assert.match(okPeer(['pull', ref]), /Status: (Downloaded newer image|Image is up to date)/);
    assert.equal(okPeer(['run', '--rm', '--network', 'none', ref, 'echo', 'dockerd']), 'dockerd\n');
    // berthd pulls dockerd's push.
    const pull = okBerthd(['pull', ref]);
    assert.match(pull, /Status: /);
    assert.equal(okBerthd(['run', '--rm', '--network', 'none', ref, 'echo', 'berthd got it']), 'berthd got it\n');
    // dockerd pulls berthd's push (uncompressed OCI layers, OCI manifest).
    const fromBerth = `${reg.addr}/interop/from-berthd:1`;
    okBerthd(['tag', 'busybox:latest', fromBerth]);
    okBerthd(['push', fromBerth]);
    assert.match(okPeer(['pull', fromBerth]), /Digest: sha256:/);
    assert.equal(okPeer(['run', '--rm', '--network', 'none', fromBerth, 'echo', 'from berthd']), 'from berthd\n');
    // docker pull -a and an unknown tag through dockerd.
    const missing = peer(['pull', `${reg.addr}/interop/from-berthd:nope`]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /manifest unknown|not found/);
  });

  test('podman pulls what berthd pushed and pushes it back; berthd pulls and runs podman\'s push', { skip: skipPodman }, () => {
    const fromBerth = `${reg.addr}/interop/for-podman:1`;
    okBerthd(['tag', 'busybox:latest', fromBerth]);
    okBerthd(['push', fromBerth]);
    okPodman(['pull', '--tls-verify=false', fromBerth]);
    const inspected = JSON.parse(okPodman(['image', 'inspect', fromBerth]))[0];
    assert.equal(inspected.Architecture, 'amd64');
    const back = `${reg.addr}/interop/from-podman:1`;
    okPodman(['tag', fromBerth, back]);
    okPodman(['push', '--tls-verify=false', back]);
    // And with gzip compression, to another tag.
    okPodman(['push', '--tls-verify=false', '--compression-format', 'gzip', fromBerth, `${reg.addr}/interop/from-podman:gzip`]);
    for (const tag of ['1', 'gzip']) {
      const ref = `${reg.addr}/interop/from-podman:${tag}`;
      okBerthd(['pull', ref]);
      assert.equal(okBerthd(['run', '--rm', '--network', 'none', ref, 'echo', `podman ${tag}`]), `podman ${tag}\n`);
    }
    const tags = JSON.parse(spawnSync('skopeo', ['list-tags', '--tls-verify=false', `docker://${reg.addr}/interop/from-podman`], { encoding: 'utf8' }).stdout || '{"Tags":[]}').Tags;
    assert.deepEqual(tags.sort(), ['1', 'gzip']);
  });
});
