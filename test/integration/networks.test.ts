import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readlinkSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createServer, request } from 'node:http';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { Daemon, startDaemon } from './harness';

// Networks (issue 4, networking half) through the real docker CLI: netavark + aardvark-dns wire
// real bridges, namespaces and DNAT rules. Traffic goes only to 127.0.0.1 and to addresses of the
// networks these tests create.
describe('networks through the docker CLI', () => {
  let d: Daemon;
  let base: string; // the daemon's private /16, e.g. "10.123"
  before(async () => {
    // A short idle time: a network's bridge stays up that long after its last container.
    d = await startDaemon({ args: ['--network-idle-timeout', '1s'] });
    base = d.pool.split('.').slice(0, 2).join('.');
  });
  after(async () => { await d?.stop(); });

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
  const ipOf = (name: string, net?: string) => ok(['inspect', '-f', net ? `{{(index .NetworkSettings.Networks "${net}").IPAddress}}` : '{{.NetworkSettings.IPAddress}}', name]).trim();
  // Containers' namespace files (not the keepers' that hold idle bridges up).
  const netnsFiles = () => { try { return readdirSync(join(d.execRoot, 'netns')).filter((f) => /^[0-9a-f]{64}$/.test(f)); } catch { return []; } };
  // The server in a just-started container may not listen yet: retry a refused connection a while.
  const httpGet = async (port: number, path = '/'): Promise<{ status: number; body: string }> => {
    for (let i = 0; ; i++) {
      try {
        return await httpGetOnce(port, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || i >= 50) throw e;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const httpGetOnce = (port: number, path: string) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    r.on('error', reject);
    r.end();
  });
  const web = (name: string, args: string[] = [], text = name) =>
    ok(['run', '-d', '--name', name, ...args, 'busybox', 'sh', '-c', `mkdir -p /www && echo ${text} > /www/index.html && exec httpd -f -p 80 -h /www`]);

  test('the default bridge: an address from the pool, reachable by IP, /etc/hosts, Docker\'s inspect fields', async () => {
    ok(['run', '-d', '--name', 'b1', 'busybox', 'sleep', '300']);
    ok(['run', '-d', '--name', 'b2', 'busybox', 'sleep', '300']);
    const ip1 = ipOf('b1');
    const ip2 = ipOf('b2');
    assert.match(ip1, new RegExp(`^${base.replace('.', '\\.')}\\.\\d+\\.\\d+$`));
    assert.notEqual(ip1, ip2);
    assert.equal(ok(['inspect', '-f', '{{.NetworkSettings.Gateway}} {{.NetworkSettings.IPPrefixLen}}', 'b1']).trim(), `${ip1.replace(/\.\d+$/, '.1')} 24`);
    assert.match(ok(['inspect', '-f', '{{.NetworkSettings.MacAddress}}', 'b1']), /^02:42:/);
    assert.match(ok(['exec', 'b1', 'ping', '-c', '1', '-W', '2', ip2]), /1 packets received/);
    assert.match(ok(['exec', 'b1', 'cat', '/etc/hosts']), new RegExp(`${ip1.replace(/\./g, '\\.')}\\t[0-9a-f]{12}`));
    assert.match(ok(['exec', 'b1', 'ip', '-4', 'addr', 'show', 'eth0']), new RegExp(`inet ${ip1.replace(/\./g, '\\.')}/24`));
    // As in Docker, names do not resolve on the default bridge.
    fails(['exec', 'b1', 'ping', '-c', '1', '-W', '1', 'b2']);
    const net = JSON.parse(ok(['network', 'inspect', 'bridge']))[0];
    assert.equal(net.Options['com.docker.network.bridge.name'], d.bridge);
    assert.ok(net.Containers[ok(['inspect', '-f', '{{.Id}}', 'b1']).trim()]);
    assert.ok(existsSync(`/sys/class/net/${d.bridge}`));
    ok(['rm', '-f', 'b1', 'b2']);
    // The last container gone, so are its namespace and address; the bridge stays a moment for the
    // next container, and goes after the idle time.
    assert.deepEqual(netnsFiles(), []);
    assert.deepEqual(JSON.parse(ok(['network', 'inspect', 'bridge']))[0].Containers, {});
    assert.ok(existsSync(`/sys/class/net/${d.bridge}`));
    const b3 = ok(['run', '-d', '--name', 'b3', 'busybox', 'sleep', '300']).trim();
    assert.equal(ipOf('b3'), ip1, 'the freed first address is handed out again');
    ok(['rm', '-f', b3]);
    await waitFor(() => !existsSync(`/sys/class/net/${d.bridge}`) && readdirSync(join(d.execRoot, 'netns')).length === 0, 10_000,
      'the idle bridge and its keeper namespace to go');
  });

  test('network create/ls/inspect/rm/prune with subnets, labels, options and filters', () => {
    const id = ok(['network', 'create', '--subnet', `${base}.50.0/24`, '--gateway', `${base}.50.254`, '--ip-range', `${base}.50.128/25`,
      '--label', 'team=a', '-o', 'com.docker.network.bridge.name=btn-test', '--attachable', 'n1']).trim();
    assert.match(id, /^[0-9a-f]{64}$/);
    const n = JSON.parse(ok(['network', 'inspect', 'n1']))[0];
    assert.deepEqual(n.IPAM.Config, [{ Subnet: `${base}.50.0/24`, Gateway: `${base}.50.254`, IPRange: `${base}.50.128/25` }]);
    assert.equal(n.Labels.team, 'a');
    assert.equal(n.Attachable, true);
    ok(['network', 'create', '--internal', 'n2']);
    assert.deepEqual(ok(['network', 'ls', '--format', '{{.Name}}']).split('\n').filter(Boolean).sort(), ['bridge', 'host', 'n1', 'n2', 'none']);
    assert.equal(ok(['network', 'ls', '-q', '--filter', 'label=team=a']).trim(), id.slice(0, 12));
    assert.deepEqual(ok(['network', 'ls', '--filter', 'type=custom', '--format', '{{.Name}} {{.Driver}} {{.Scope}}']).split('\n').filter(Boolean).sort(), ['n1 bridge local', 'n2 bridge local']);
    assert.equal(ok(['network', 'inspect', '-f', '{{.Internal}}', 'n2']).trim(), 'true');
    ok(['run', '-d', '--name', 'r1', '--network', 'n1', 'busybox', 'sleep', '300']);
    assert.equal(ipOf('r1', 'n1'), `${base}.50.128`);
    assert.ok(existsSync('/sys/class/net/btn-test'));
    assert.match(fails(['network', 'rm', 'n1']), /has active endpoints/);
    assert.match(fails(['network', 'rm', 'bridge']), /pre-defined network and cannot be removed/);
    assert.deepEqual(ok(['network', 'prune', '-f']).split('\n').filter((l) => l && !l.startsWith('Deleted')), ['n2']);
    ok(['rm', '-f', 'r1']);
    assert.ok(existsSync('/sys/class/net/btn-test'), 'an idle network keeps its bridge a moment');
    ok(['network', 'rm', 'n1']);
    assert.ok(!existsSync('/sys/class/net/btn-test'), 'network rm takes the bridge down at once');
  });

  test('bad network requests get Docker\'s errors and leave nothing behind', () => {
    ok(['network', 'create', '--subnet', `${base}.60.0/24`, 'e1']);
    assert.match(fails(['network', 'create', '--subnet', `${base}.60.128/25`, 'e2']), /overlaps/);
    assert.match(fails(['network', 'create', '--subnet', `${base}.61.5/24`, 'e2']), /invalid subnet/);
    assert.match(fails(['network', 'create', '--subnet', `${base}.61.0/24`, '--gateway', `${base}.62.1`, 'e2']), /gateway/);
    assert.match(fails(['network', 'create', 'e1']), /already exists/);
    assert.match(fails(['network', 'create', '-d', 'nosuchdriver', 'e2']), /plugin not found/);
    assert.match(fails(['network', 'inspect', 'nosuchnet']), /not found/);
    assert.match(fails(['run', '--rm', '--network', 'nosuchnet', 'busybox', 'true']), /network nosuchnet not found/);
    assert.match(fails(['run', '--rm', '--network', 'e1', '--ip', `${base}.99.2`, 'busybox', 'true']), /not in subnet/);
    ok(['run', '-d', '--name', 's1', '--network', 'e1', '--ip', `${base}.60.10`, 'busybox', 'sleep', '300']);
    const r = d.docker(['run', '-d', '--name', 's2', '--network', 'e1', '--ip', `${base}.60.10`, 'busybox', 'sleep', '300']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /already in use/);
    assert.equal(ok(['inspect', '-f', '{{.State.Status}}', 's2']).trim(), 'created');
    assert.deepEqual(netnsFiles().length, 1, 'a failed start leaves no namespace behind');
    ok(['rm', '-f', 's1', 's2']);
    ok(['network', 'rm', 'e1']);
    assert.match(fails(['network', 'rm', 'e1']), /not found/);
  });

  test('on a user network, containers resolve names, aliases (round-robin) and short IDs; networks are isolated', () => {
    ok(['network', 'create', 'app']);
    ok(['network', 'create', 'other']);
    web('api1', ['--network', 'app', '--network-alias', 'api']);
    web('api2', ['--network', 'app', '--network-alias', 'api']);
    web('lonely', ['--network', 'other']);
    const ips = [ipOf('api1', 'app'), ipOf('api2', 'app')].sort();
    const gw = ok(['network', 'inspect', '-f', '{{(index .IPAM.Config 0).Gateway}}', 'app']).trim();
    const client = ['run', '--rm', '--network', 'app', 'busybox'];
    assert.equal(ok([...client, 'wget', '-qO-', 'http://api1/']).trim(), 'api1');
    assert.equal(ok([...client, 'wget', '-qO-', `http://${ok(['inspect', '-f', '{{.Id}}', 'api2']).trim().slice(0, 12)}/`]).trim(), 'api2');
    const answer = ok([...client, 'nslookup', 'api']);
    for (const ip of ips) assert.ok(answer.includes(ip), `alias api should resolve to ${ip}: ${answer}`);
    assert.match(ok([...client, 'cat', '/etc/resolv.conf']), new RegExp(`^nameserver ${gw.replace(/\./g, '\\.')}$`, 'm'));
    const dnsNames = JSON.parse(ok(['inspect', '-f', '{{json (index .NetworkSettings.Networks "app").DNSNames}}', 'api1']));
    assert.deepEqual(dnsNames.slice(0, 1).concat(dnsNames.slice(2)), ['api1', 'api']);
    // Names do not cross networks, and neither do packets.
    fails(['run', '--rm', '--network', 'other', 'busybox', 'nslookup', 'api1']);
    const lonelyIp = ipOf('lonely', 'other');
    fails([...client, 'ping', '-c', '1', '-W', '1', lonelyIp]);
    assert.match(ok(['run', '--rm', '--network', 'other', 'busybox', 'ping', '-c', '1', '-W', '2', lonelyIp]), /1 packets received/);
    ok(['rm', '-f', 'api1', 'api2', 'lonely']);
    ok(['network', 'rm', 'app', 'other']);
  });

  test('an internal network reaches only itself', () => {
    ok(['network', 'create', '--internal', 'inside']);
    ok(['network', 'create', 'outside']);
    web('in1', ['--network', 'inside']);
    web('out1', ['--network', 'outside']);
    assert.equal(ok(['run', '--rm', '--network', 'inside', 'busybox', 'wget', '-qO-', 'http://in1/']).trim(), 'in1');
    fails(['run', '--rm', '--network', 'inside', 'busybox', 'wget', '-T', '2', '-qO-', `http://${ipOf('out1', 'outside')}/`]);
    ok(['rm', '-f', 'in1', 'out1']);
    ok(['network', 'rm', 'inside', 'outside']);
  });

  test('connect and disconnect a running container, with --alias and --ip', () => {
    ok(['network', 'create', '--subnet', `${base}.70.0/24`, 'front']);
    ok(['network', 'create', 'back']);
    web('svc', ['--network', 'back']);
    ok(['network', 'connect', '--alias', 'entry', '--ip', `${base}.70.7`, 'front', 'svc']);
    assert.match(ok(['exec', 'svc', 'ip', '-4', 'addr', 'show', 'eth1']), new RegExp(`inet ${base.replace('.', '\\.')}\\.70\\.7/24`));
    assert.equal(ok(['run', '--rm', '--network', 'front', 'busybox', 'wget', '-qO-', 'http://entry/']).trim(), 'svc');
    assert.match(fails(['network', 'connect', 'front', 'svc']), /already exists/);
    ok(['network', 'disconnect', 'front', 'svc']);
    fails(['exec', 'svc', 'ip', 'link', 'show', 'eth1']);
    fails(['run', '--rm', '--network', 'front', 'busybox', 'nslookup', 'entry']);
    assert.deepEqual(Object.keys(JSON.parse(ok(['inspect', '-f', '{{json .NetworkSettings.Networks}}', 'svc']))), ['back']);
    // A stopped container keeps the connection for its next start.
    ok(['stop', '-t', '0', 'svc']);
    ok(['network', 'connect', 'front', 'svc']);
    ok(['start', 'svc']);
    assert.match(ok(['exec', 'svc', 'ip', '-4', 'addr', 'show', 'eth1']), new RegExp(`inet ${base.replace('.', '\\.')}\\.70\\.`));
    assert.match(fails(['network', 'connect', 'front', 'nosuchcontainer']), /No such container/);
    ok(['rm', '-f', 'svc']);
    ok(['network', 'rm', 'front', 'back']);
  });

  test('published ports: fixed, random, -P from EXPOSE, udp, docker port, and a port already taken', async () => {
    web('p1', ['-p', '127.0.0.1:0:80', '-p', '127.0.0.1::80/udp', '--expose', '9999'], 'p1-body');
    const port = Number(ok(['port', 'p1', '80/tcp']).trim().split(':').at(-1));
    assert.ok(port > 0);
    assert.equal((await httpGet(port, '/index.html')).body.trim(), 'p1-body');
    assert.match(ok(['ps', '--filter', 'name=p1', '--format', '{{.Ports}}']), new RegExp(`127\\.0\\.0\\.1:${port}->80/tcp`));
    assert.equal(ok(['inspect', '-f', '{{json (index .NetworkSettings.Ports "9999/tcp")}}', 'p1']).trim(), 'null');
    // A fixed port that a host program holds: Docker's error, the container stays created, nothing half made.
    const holder = createServer();
    await new Promise<void>((r) => holder.listen(0, '127.0.0.1', r));
    const taken = (holder.address() as { port: number }).port;
    const r = d.docker(['run', '-d', '--name', 'p2', '-p', `127.0.0.1:${taken}:80`, 'busybox', 'sleep', '300']);
    holder.close();
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /address already in use/);
    assert.equal(netnsFiles().length, 1);
    ok(['rm', '-f', 'p2']);
    // -P publishes every EXPOSEd port on a random host port.
    ok(['run', '-d', '--name', 'p3', '-P', '--expose', '80', 'busybox', 'sh', '-c', 'mkdir /w; echo p3 > /w/index.html; exec httpd -f -p 80 -h /w']);
    const p3 = Number(ok(['port', 'p3', '80']).trim().split('\n')[0].split(':').at(-1));
    assert.equal((await httpGet(p3, '/index.html')).body.trim(), 'p3');
    // udp: a container echo server through a published udp port.
    ok(['run', '-d', '--name', 'u1', '-p', '127.0.0.1::5353/udp', '-v', `${udpEchoBinary()}:/udp-echo:ro`, 'busybox', '/udp-echo', '5353']);
    const up = Number(ok(['port', 'u1', '5353/udp']).trim().split(':').at(-1));
    const reply = await udpEcho(up, 'ping-udp');
    assert.equal(reply, 'ping-udp');
    ok(['rm', '-f', 'p1', 'p3', 'u1']);
    // The ports are free again.
    const again = createServer();
    await new Promise<void>((res, rej) => { again.once('error', rej); again.listen(port, '127.0.0.1', res); });
    again.close();
  });

  test('--hostname, --dns, --dns-search, --add-host, --mac-address and --network container:', () => {
    ok(['network', 'create', 'opts']);
    ok(['run', '-d', '--name', 'o1', '--network', 'opts', '--hostname', 'box', '--dns', '10.255.0.9', '--dns-search', 'example.test',
      '--add-host', 'gateway.test:10.1.1.1', '--mac-address', '02:42:aa:bb:cc:dd', 'busybox', 'sleep', '300']);
    assert.equal(ok(['exec', 'o1', 'hostname']).trim(), 'box');
    const resolv = ok(['exec', 'o1', 'cat', '/etc/resolv.conf']);
    assert.match(resolv, /nameserver 10\.255\.0\.9/);
    assert.match(resolv, /search example\.test/);
    assert.match(ok(['exec', 'o1', 'cat', '/etc/hosts']), /10\.1\.1\.1\tgateway\.test/);
    assert.match(ok(['exec', 'o1', 'ip', 'link', 'show', 'eth0']), /02:42:aa:bb:cc:dd/);
    ok(['run', '-d', '--name', 'o2', '--network', 'container:o1', 'busybox', 'sleep', '300']);
    assert.equal(ok(['exec', 'o2', 'ip', '-4', '-o', 'addr', 'show', 'eth0']).split(/\s+/)[3], ok(['exec', 'o1', 'ip', '-4', '-o', 'addr', 'show', 'eth0']).split(/\s+/)[3]);
    assert.match(fails(['run', '--rm', '--network', 'container:o1', '-p', '80', 'busybox', 'true']), /conflicting options/);
    ok(['rm', '-f', 'o2', 'o1']);
    ok(['network', 'rm', 'opts']);
  });

  test('a berthd restart keeps addresses, DNS and published ports; new containers get new addresses', async () => {
    ok(['network', 'create', 'keep']);
    web('k1', ['--network', 'keep', '-p', '127.0.0.1::80'], 'k1-body');
    const ip = ipOf('k1', 'keep');
    const port = Number(ok(['port', 'k1', '80']).trim().split(':').at(-1));
    await d.kill('SIGKILL');
    await d.restart();
    assert.equal(ipOf('k1', 'keep'), ip);
    assert.equal((await httpGet(port, '/index.html')).body.trim(), 'k1-body');
    assert.equal(ok(['run', '--rm', '--network', 'keep', 'busybox', 'wget', '-qO-', 'http://k1/']).trim(), 'k1-body');
    ok(['run', '-d', '--name', 'k2', '--network', 'keep', 'busybox', 'sleep', '300']);
    assert.notEqual(ipOf('k2', 'keep'), ip);
    // The published port is held again: a second container cannot take it.
    assert.match(fails(['run', '--rm', '-p', `127.0.0.1:${port}:80`, 'busybox', 'true']), /already in use/);
    ok(['rm', '-f', 'k1', 'k2']);
    ok(['network', 'rm', 'keep']);
  });

  test('ps filters by network, publish and expose', () => {
    ok(['network', 'create', 'filt']);
    ok(['run', '-d', '--name', 'f1', '--network', 'filt', '-p', '127.0.0.1::80', 'busybox', 'sleep', '300']);
    ok(['run', '-d', '--name', 'f2', '--expose', '53/udp', 'busybox', 'sleep', '300']);
    const names = (filter: string) => ok(['ps', '--filter', filter, '--format', '{{.Names}}']).split('\n').filter(Boolean).sort();
    assert.deepEqual(names('network=filt'), ['f1']);
    assert.deepEqual(names('network=bridge'), ['f2']);
    assert.deepEqual(names('publish=80'), ['f1']);
    assert.deepEqual(names('publish=70-90/tcp'), ['f1']);
    assert.deepEqual(names('expose=53/udp'), ['f2']);
    assert.deepEqual(names('expose=53'), []);
    ok(['rm', '-f', 'f1', 'f2']);
    ok(['network', 'rm', 'filt']);
  });

  test('--network none and host', () => {
    assert.doesNotMatch(ok(['run', '--rm', '--network', 'none', 'busybox', 'ip', 'link']), /eth0/);
    // --network host: the host's own namespace (compared by inode; the host's links may change meanwhile).
    assert.equal(ok(['run', '--rm', '--network', 'host', 'busybox', 'readlink', '/proc/self/ns/net']).trim(), readlinkSync('/proc/self/ns/net'));
    assert.deepEqual(netnsFiles(), []);
  });
});

async function waitFor(cond: () => boolean, ms: number, what: string): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) if (cond()) return;
  assert.fail(`timed out waiting for ${what}`);
}

/** A static UDP echo server built from test/fixtures (busybox has no UDP listener). */
function udpEchoBinary(): string {
  const out = '/tmp/berth-test-udp-echo';
  if (!existsSync(out)) {
    const r = spawnSync('cc', ['-static', '-O2', '-o', out, join(__dirname, '..', 'fixtures', 'udp-echo.c')], { encoding: 'utf8' });
    assert.equal(r.status, 0, `cc: ${r.stderr}`);
  }
  return out;
}

function udpEcho(port: number, text: string): Promise<string> {
  // Datagrams sent before the server in the container has bound are lost: send again until it answers.
  return new Promise((resolve, reject) => {
    const s = createSocket('udp4');
    const resend = setInterval(() => s.send(text, port, '127.0.0.1'), 250);
    const timer = setTimeout(() => { clearInterval(resend); s.close(); reject(new Error('no udp reply')); }, 10_000);
    s.on('message', (m) => { clearInterval(resend); clearTimeout(timer); s.close(); resolve(m.toString()); });
    s.send(text, port, '127.0.0.1');
  });
}
