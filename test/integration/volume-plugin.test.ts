import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Daemon, startDaemon } from './harness';

const FIXTURE = join(__dirname, '..', 'fixtures', 'volume-plugin.mjs');

interface Plugin { proc: ChildProcess; addr: string; log: string; data: string }
interface Call { method: string; body: { Name?: string; ID?: string; Opts?: Record<string, string> }; err: string; contentType: string }

/** Starts the fixture plugin; it answers once it printed its address. */
async function startPlugin(dir: string, name: string, listen: string, extra: string[] = []): Promise<Plugin> {
  const log = join(dir, `${name}.calls`);
  const data = join(dir, `${name}-data`);
  const proc = spawn(process.execPath, [FIXTURE, '--listen', listen, '--root', data, '--log', log, ...extra], { stdio: ['ignore', 'pipe', 'inherit'] });
  const addr = await new Promise<string>((resolve, reject) => {
    let out = '';
    proc.stdout!.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening (\S+)\n/.exec(out);
      if (m) resolve(m[1]);
    });
    proc.once('exit', (code) => reject(new Error(`plugin ${name} exited with ${code}`)));
  });
  return { proc, addr, log, data };
}

/** Ends a plugin this test started, by its PID. */
async function stopPlugin(p: Plugin | undefined): Promise<void> {
  if (!p || p.proc.exitCode !== null || p.proc.signalCode !== null) return;
  const exited = once(p.proc, 'exit');
  p.proc.kill('SIGTERM');
  await exited;
}

function callsOf(p: Plugin): Call[] {
  if (!existsSync(p.log)) return [];
  return readFileSync(p.log, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Call);
}

/**
 * Every successful Mount is followed by exactly one Unmount with the same volume and ID before
 * that pair is mounted again; with `settled`, nothing is left mounted.
 */
function assertPaired(p: Plugin, settled = true): void {
  const open = new Map<string, boolean>();
  for (const c of callsOf(p)) {
    const key = `${c.body.Name} by ${c.body.ID}`;
    if (c.method === 'VolumeDriver.Mount' && !c.err) {
      assert.ok(!open.get(key), `second Mount of ${key} before its Unmount`);
      open.set(key, true);
    } else if (c.method === 'VolumeDriver.Unmount') {
      assert.ok(open.get(key), `Unmount of ${key} without a Mount`);
      assert.equal(c.err, '', `Unmount of ${key} failed: ${c.err}`);
      open.set(key, false);
    }
  }
  if (settled) assert.deepEqual([...open].filter(([, v]) => v).map(([k]) => k), [], 'left mounted');
}

// Docker's legacy volume plugin protocol (issue 4, plugins half) through the real docker CLI.
describe('volume plugins through the docker CLI', () => {
  let d: Daemon;
  let dir: string;
  let pluginDir: string;
  let plugin: Plugin;
  const extra: Plugin[] = [];

  before(async () => {
    dir = mkdtempSync('/tmp/berth-vplugin-');
    pluginDir = join(dir, 'plugins');
    mkdirSync(pluginDir);
    plugin = await startPlugin(dir, 'testplugin', `unix:${join(pluginDir, 'testplugin.sock')}`);
    d = await startDaemon({ args: ['--plugin-dir', pluginDir] });
  });
  after(async () => {
    await d?.stop();
    await stopPlugin(plugin);
    for (const p of extra) await stopPlugin(p);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ok = (args: string[]) => {
    const r = d.docker(args);
    assert.equal(r.status, 0, `docker ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const fails = (args: string[], status?: number) => {
    const r = d.docker(args);
    assert.notEqual(r.status, 0, `docker ${args.join(' ')} should fail: ${r.stdout}`);
    if (status !== undefined) assert.equal(r.status, status, `docker ${args.join(' ')}: ${r.stderr}`);
    return r.stderr;
  };
  const lsByDriver = () => ok(['volume', 'ls', '--format', '{{.Driver}} {{.Name}}']).split('\n').filter(Boolean).sort();

  test('volume create -d with options, ls, inspect, and data written by one container read by the next', () => {
    assert.equal(ok(['volume', 'create', '-d', 'testplugin', '--opt', 'k=v', 'v1']), 'v1\n');
    const calls = callsOf(plugin);
    assert.equal(calls[0].method, 'Plugin.Activate', 'the handshake comes first');
    assert.equal(calls[0].contentType, 'application/vnd.docker.plugins.v1.2+json');
    assert.deepEqual(calls.find((c) => c.method === 'VolumeDriver.Create')?.body, { Name: 'v1', Opts: { k: 'v' } });
    assert.deepEqual(lsByDriver(), ['testplugin v1']);
    const info = JSON.parse(ok(['volume', 'inspect', 'v1']))[0];
    assert.equal(info.Driver, 'testplugin');
    assert.equal(info.Mountpoint, join(plugin.data, 'v1'));
    assert.deepEqual(info.Options, { k: 'v' });
    assert.equal(info.Scope, 'local');
    assert.deepEqual(info.Status, { mounts: 0 });
    assert.match(ok(['info', '--format', '{{json .Plugins.Volume}}']), /"testplugin"/);

    ok(['run', '--rm', '-v', 'v1:/data', 'busybox', 'sh', '-c', 'echo x > /data/f']);
    assert.equal(readFileSync(join(plugin.data, 'v1', 'f'), 'utf8'), 'x\n');
    assert.equal(ok(['run', '--rm', '-v', 'v1:/data:ro', 'busybox', 'cat', '/data/f']), 'x\n');
    const mounts = callsOf(plugin).filter((c) => c.method === 'VolumeDriver.Mount');
    assert.equal(mounts.length, 2, 'one Mount per container start');
    assert.notEqual(mounts[0].body.ID, mounts[1].body.ID);
    assert.match(mounts[0].body.ID ?? '', /^[0-9a-f]{64}$/, 'the ID is the container ID');
    assertPaired(plugin);
  });

  test('--volume-driver and --mount volume-driver create volumes implicitly; a volume in use is refused by volume rm', () => {
    ok(['run', '--rm', '--volume-driver', 'testplugin', '-v', 'v2:/data', 'busybox', 'sh', '-c', 'echo y > /data/g']);
    assert.equal(readFileSync(join(plugin.data, 'v2', 'g'), 'utf8'), 'y\n');
    ok(['run', '--rm', '--mount', 'type=volume,src=v3,dst=/d,volume-driver=testplugin,volume-opt=size=1', 'busybox', 'true']);
    assert.deepEqual(callsOf(plugin).find((c) => c.method === 'VolumeDriver.Create' && c.body.Name === 'v3')?.body.Opts, { size: '1' });
    assert.deepEqual(lsByDriver(), ['testplugin v1', 'testplugin v2', 'testplugin v3']);

    ok(['create', '--name', 'holder', '-v', 'v2:/d', 'busybox', 'true']);
    assert.match(ok(['inspect', '--format', '{{range .Mounts}}{{.Driver}} {{.Name}}{{end}}', 'holder']), /^testplugin v2/);
    assert.match(fails(['volume', 'rm', 'v2']), /remove v2: volume is in use - \[[0-9a-f]{64}\]/);
    assert.ok(!callsOf(plugin).some((c) => c.method === 'VolumeDriver.Remove'), 'the plugin is not asked while in use');
    ok(['rm', 'holder']);
    ok(['volume', 'rm', 'v2', 'v3']);
    assert.ok(!existsSync(join(plugin.data, 'v2')));
    assert.deepEqual(lsByDriver(), ['testplugin v1']);
    // One name, one driver: the local driver cannot take a plugin's name.
    assert.match(fails(['volume', 'create', '-d', 'local', 'v1']), /driver 'testplugin' already has volume 'v1'/);
    assertPaired(plugin);
  });

  test('after a berthd restart plugin volumes are listed and a running container is unmounted once, with its ID', async () => {
    const id = ok(['run', '-d', '--name', 'keep', '-v', 'v1:/data', 'busybox', 'sleep', '300']).trim();
    await d.kill('SIGTERM');
    await d.restart();
    assert.deepEqual(lsByDriver(), ['testplugin v1']);
    assert.equal(ok(['exec', 'keep', 'cat', '/data/f']), 'x\n');
    ok(['stop', '-t', '1', 'keep']);
    ok(['start', 'keep']);
    ok(['rm', '-f', 'keep']);
    const mine = callsOf(plugin).filter((c) => c.body.ID === id).map((c) => c.method);
    assert.deepEqual(mine, ['VolumeDriver.Mount', 'VolumeDriver.Unmount', 'VolumeDriver.Mount', 'VolumeDriver.Unmount']);
    assertPaired(plugin);
  });

  test('errors: unknown plugin, the plugin\'s Err, an HTTP error, a failing Mount', () => {
    assert.match(fails(['volume', 'create', '-d', 'nosuch', 'xx'], 1), /create xx: error looking up volume plugin nosuch: plugin "nosuch" not found/);
    // --pull never: a 404 would otherwise make the CLI try to pull the image first (as with dockerd).
    assert.match(fails(['run', '--rm', '--pull', 'never', '--volume-driver', 'nosuch', '-v', 'xx:/d', 'busybox', 'true'], 125), /plugin "nosuch" not found/);
    assert.match(fails(['volume', 'create', '-d', 'testplugin', '--opt', 'fail=boom', 'bad'], 1), /create bad: boom/);
    assert.match(fails(['volume', 'create', '-d', 'testplugin', '--opt', 'httpfail=kaputt', 'bad2'], 1), /create bad2: VolumeDriver.Create: kaputt/);
    assert.deepEqual(lsByDriver(), ['testplugin v1']);

    ok(['volume', 'create', '-d', 'testplugin', '-o', 'failmount=no disk today', 'vm']);
    assert.match(fails(['run', '--rm', '-v', 'vm:/d', 'busybox', 'true'], 125), /error while mounting volume '.*': no disk today/);
    assert.ok(!callsOf(plugin).some((c) => c.method === 'VolumeDriver.Unmount' && c.body.Name === 'vm'), 'a failed Mount is not unmounted');
    ok(['volume', 'rm', 'vm']);
    assertPaired(plugin);
  });

  test('plugins found through .spec (tcp://) and .json files, and one that is no volume driver', async () => {
    const tcp = await startPlugin(dir, 'tcpplugin', 'tcp:127.0.0.1:0', ['--scope', 'global']);
    extra.push(tcp);
    writeFileSync(join(pluginDir, 'tcpplugin.spec'), `${tcp.addr}\n`);
    const other = await startPlugin(dir, 'jsonplugin', `unix:${join(dir, 'elsewhere.sock')}`);
    extra.push(other);
    mkdirSync(join(pluginDir, 'jsonplugin'));
    writeFileSync(join(pluginDir, 'jsonplugin', 'jsonplugin.json'), JSON.stringify({ Name: 'jsonplugin', Addr: other.addr }));
    const net = await startPlugin(dir, 'netonly', `unix:${join(pluginDir, 'netonly.sock')}`, ['--implements', 'NetworkDriver']);
    extra.push(net);

    ok(['volume', 'create', '-d', 'tcpplugin', 't1']);
    ok(['volume', 'create', '-d', 'jsonplugin', 'j1']);
    assert.equal(ok(['volume', 'inspect', '--format', '{{.Driver}} {{.Scope}}', 't1']), 'tcpplugin global\n');
    assert.equal(ok(['volume', 'inspect', '--format', '{{.Driver}} {{.Scope}}', 'j1']), 'jsonplugin local\n');
    ok(['run', '--rm', '-v', 't1:/t', '-v', 'j1:/j', 'busybox', 'sh', '-c', 'echo t > /t/f && echo j > /j/f']);
    assert.equal(readFileSync(join(tcp.data, 't1', 'f'), 'utf8'), 't\n');
    assert.equal(readFileSync(join(other.data, 'j1', 'f'), 'utf8'), 'j\n');
    assert.match(fails(['volume', 'create', '-d', 'netonly', 'n1'], 1), /error looking up volume plugin netonly: legacy plugin: Plugin does not implement the requested driver/);
    ok(['volume', 'rm', 't1', 'j1']);
    assertPaired(tcp);
    assertPaired(other);
  });
});
