import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, leakedMounts, startDaemon } from './harness';

// Volumes (issue 4, volumes half) through the real docker CLI.
describe('volumes through the docker CLI', () => {
  let d: Daemon;
  let hostDir: string;
  before(async () => {
    d = await startDaemon();
    hostDir = mkdtempSync('/tmp/berth-test-bind-');
    writeFileSync(join(hostDir, 'hello.txt'), 'from the host\n');
  });
  after(async () => {
    await d?.stop();
    rmSync(hostDir, { recursive: true, force: true });
  });

  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const fails = (args: string[]) => {
    const r = d.docker(args);
    assert.notEqual(r.status, 0, `docker ${args.join(' ')} should fail: ${r.stdout}`);
    return r.stderr;
  };
  const volumeNames = (filter: string[] = []) => ok(['volume', 'ls', '-q', ...filter]).split('\n').filter(Boolean).sort();

  test('data written through -v name:/data survives the container and the next one sees it', () => {
    ok(['run', '--rm', '-v', 'data1:/data', 'busybox', 'sh', '-c', 'echo kept > /data/f']);
    assert.equal(ok(['run', '--rm', '-v', 'data1:/data:ro', 'busybox', 'cat', '/data/f']), 'kept\n');
    fails(['run', '--rm', '-v', 'data1:/data:ro', 'busybox', 'touch', '/data/g']);
    assert.ok(volumeNames().includes('data1'));
    const mp = ok(['volume', 'inspect', '--format', '{{.Mountpoint}}', 'data1']).trim();
    assert.equal(mp, join(d.dataRoot, 'volumes', 'data1', '_data'));
    ok(['volume', 'rm', 'data1']);
  });

  test('volume create/ls/inspect/rm/prune with labels and filters', () => {
    ok(['volume', 'create', '--label', 'team=a', 'va']);
    ok(['volume', 'create', '--label', 'team=b', '--label', 'x', 'vb']);
    assert.equal(ok(['volume', 'create', 'va']), 'va\n', 'creating an existing volume returns it');
    assert.deepEqual(volumeNames(['--filter', 'label=team=a']), ['va']);
    assert.deepEqual(volumeNames(['--filter', 'label=x']), ['vb']);
    assert.deepEqual(volumeNames(['--filter', 'name=v', '--filter', 'driver=local']), ['va', 'vb']);
    assert.equal(ok(['volume', 'inspect', '--format', '{{.Driver}} {{.Labels.team}} {{.Scope}}', 'vb']), 'local b local\n');
    ok(['create', '--name', 'user', '-v', 'va:/x', 'busybox', 'true']);
    assert.deepEqual(volumeNames(['--filter', 'dangling=true']), ['vb']);
    const inUse = fails(['volume', 'rm', 'va']);
    assert.match(inUse, /in use/);
    // Named volumes survive a default prune; --all removes the unused ones.
    ok(['volume', 'prune', '-f']);
    assert.deepEqual(volumeNames(), ['va', 'vb']);
    ok(['volume', 'prune', '-f', '--all', '--filter', 'label!=x']);
    assert.deepEqual(volumeNames(), ['va', 'vb'], 'label!= keeps the volumes with that label');
    ok(['volume', 'prune', '-f', '--all', '--filter', 'label=team']);
    assert.deepEqual(volumeNames(), ['va']);
    ok(['rm', 'user']);
    ok(['volume', 'rm', 'va']);
    assert.match(fails(['volume', 'inspect', 'va']), /no such volume/i);
    assert.match(fails(['volume', 'rm', 'va']), /no such volume/i);
    ok(['volume', 'rm', '-f', 'va']);
  });

  test('a volume name with a slash is an error, on create and on run', () => {
    assert.match(fails(['volume', 'create', 'a/b']), /invalid characters for a local volume name/);
    assert.match(fails(['run', '--rm', '-v', 'a/b:/data', 'busybox', 'true']), /invalid characters for a local volume name|invalid/);
    assert.deepEqual(volumeNames(), []);
  });

  test('anonymous volumes from -v /x and from an image VOLUME are removed by rm -v', () => {
    ok(['create', '--name', 'base', 'busybox', 'sh', '-c', 'mkdir -p /v && echo img > /v/f']);
    ok(['start', '-a', 'base']);
    ok(['commit', '--change', 'VOLUME /v', 'base', 'withvol:1']);
    ok(['rm', 'base']);
    ok(['create', '--name', 'anon', '-v', '/x', 'withvol:1', 'true']);
    const mounts = ok(['inspect', '--format', '{{range .Mounts}}{{.Type}} {{.Destination}} {{.Driver}} {{.RW}};{{end}}', 'anon']);
    assert.match(mounts, /volume \/x local true;/);
    assert.match(mounts, /volume \/v local true;/);
    assert.equal(volumeNames().length, 2);
    // The image VOLUME is filled with the image's content.
    ok(['start', '-a', 'anon']);
    const vname = ok(['inspect', '--format', '{{range .Mounts}}{{if eq .Destination "/v"}}{{.Name}}{{end}}{{end}}', 'anon']).trim();
    assert.equal(ok(['run', '--rm', '-v', `${vname}:/m`, 'busybox', 'cat', '/m/f']), 'img\n');
    assert.match(ok(['volume', 'inspect', '--format', '{{json .Labels}}', vname]), /com\.docker\.volume\.anonymous/);
    ok(['rm', '-v', 'anon']);
    assert.deepEqual(volumeNames(), []);
    // Without -v they stay, and a default prune removes anonymous ones.
    ok(['create', '--name', 'anon2', '-v', '/y', 'busybox', 'true']);
    ok(['rm', 'anon2']);
    assert.equal(volumeNames().length, 1);
    ok(['volume', 'prune', '-f']);
    assert.deepEqual(volumeNames(), []);
  });

  test('a new named volume over a non-empty image path gets the image content (unless volume-nocopy)', () => {
    assert.match(ok(['run', '--rm', '-v', 'etcvol:/etc', 'busybox', 'cat', '/etc/passwd']), /^root:/);
    assert.match(ok(['run', '--rm', '-v', 'etcvol:/mnt', 'busybox', 'cat', '/mnt/passwd']), /^root:/);
    ok(['run', '--rm', '--mount', 'type=volume,src=nocopy,dst=/etc,volume-nocopy', 'busybox', 'sh', '-c', 'test ! -e /etc/passwd']);
    ok(['volume', 'rm', 'etcvol', 'nocopy']);
  });

  test('--mount type=tmpfs with tmpfs-size, type=bind readonly, and a missing bind source', () => {
    const df = ok(['run', '--rm', '--mount', 'type=tmpfs,dst=/t,tmpfs-size=1m,tmpfs-mode=1770', 'busybox', 'sh', '-c', 'df -k /t | tail -1; stat -c %a /t']);
    assert.match(df, /tmpfs\s+1024\s/);
    assert.match(df, /\n1770\n$/);
    assert.equal(ok(['run', '--rm', '--mount', `type=bind,src=${hostDir},dst=/h,readonly`, 'busybox', 'cat', '/h/hello.txt']), 'from the host\n');
    fails(['run', '--rm', '--mount', `type=bind,src=${hostDir},dst=/h,readonly`, 'busybox', 'touch', '/h/new']);
    assert.equal(ok(['run', '--rm', '-v', `${hostDir}:/h:ro,z`, 'busybox', 'cat', '/h/hello.txt']), 'from the host\n');
    assert.match(fails(['run', '--rm', '-v', '/no/such/dir:/h', 'busybox', 'true']), /bind source path does not exist: \/no\/such\/dir/);
    assert.match(fails(['run', '--rm', '--mount', 'type=bind,src=/no/such/dir,dst=/h', 'busybox', 'true']), /bind source path does not exist/);
    assert.deepEqual(leakedMounts(join(d.dataRoot, 'volumes')), []);
  });

  test('--volumes-from shares volumes and binds, :ro makes them read-only', () => {
    ok(['create', '--name', 'src', '-v', 'shared:/s', '-v', `${hostDir}:/h`, 'busybox', 'true']);
    ok(['run', '--rm', '--volumes-from', 'src', 'busybox', 'sh', '-c', 'echo hi > /s/f && cat /h/hello.txt']);
    assert.equal(ok(['run', '--rm', '--volumes-from', 'src:ro', 'busybox', 'cat', '/s/f']), 'hi\n');
    fails(['run', '--rm', '--volumes-from', 'src:ro', 'busybox', 'touch', '/s/g']);
    ok(['rm', 'src']);
    ok(['volume', 'rm', 'shared']);
  });

  test('a local volume with -o type=tmpfs is mounted while used and unmounted after', () => {
    ok(['volume', 'create', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '-o', 'o=size=2m', 'tv']);
    ok(['run', '-d', '--name', 'tu', '-v', 'tv:/t', 'busybox', 'sleep', '60']);
    assert.match(ok(['exec', 'tu', 'sh', '-c', 'df -k /t | tail -1']), /tmpfs\s+2048\s/);
    assert.equal(leakedMounts(join(d.dataRoot, 'volumes', 'tv')).length, 1);
    ok(['rm', '-f', 'tu']);
    assert.deepEqual(leakedMounts(join(d.dataRoot, 'volumes')), []);
    ok(['volume', 'rm', 'tv']);
    assert.match(fails(['volume', 'create', '-o', 'bogus=1', 'bad']), /invalid option key/);
  });

  test('system df lists volumes with their sizes', () => {
    ok(['run', '--rm', '-v', 'sized:/d', 'busybox', 'sh', '-c', 'head -c 10000 /dev/zero > /d/z']);
    const out = ok(['system', 'df', '-v', '--format', '{{range .Volumes}}{{.Name}} {{.Size}};{{end}}']);
    assert.match(out, /sized 10kB;/);
    ok(['volume', 'rm', 'sized']);
  });
});
