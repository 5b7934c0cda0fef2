import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Daemon, startDaemon } from './harness';

// `berth volume ...` and `berth network ...` against berthd, compared with the real docker CLI on the
// same daemon: byte for byte where the state is the same for both; for commands that change state,
// each CLI acts on its own twin object and the outputs are compared with the names swapped.
describe('berth volume and network commands against berthd, like docker', () => {
  let d: Daemon;
  let base: string; // the daemon's private /16, e.g. "10.123"
  before(async () => {
    d = await startDaemon();
    base = d.pool.split('.').slice(0, 2).join('.');
  });
  after(async () => { await d?.stop(); });

  const ok = (cli: 'berth' | 'docker', args: string[], input?: string) => {
    const r = cli === 'berth' ? d.berth(args, { input }) : d.docker(args, { input });
    assert.equal(r.status, 0, `${cli} ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
    return r.stdout;
  };
  const norm = (s: string) => s.replace(/\bdocker\b(?!\.com)/g, 'berth');
  /** Both CLIs, the same arguments and state: the same status, stdout and stderr (the program name aside). */
  const same = (args: string[], input?: string) => {
    const b = d.berth(args, { input }), k = d.docker(args, { input });
    const what = `berth ${args.join(' ')}`;
    assert.equal(b.status, k.status, `${what}: status ${b.status} (docker ${k.status}): ${b.stderr}`);
    assert.equal(b.stdout, args.includes('--help') ? norm(k.stdout) : k.stdout, `${what}: stdout`);
    assert.equal(b.stderr, norm(k.stderr), `${what}: stderr`);
    return b;
  };
  /** Each CLI on its own twin (`b-…` for berth, `d-…` for docker): the same output once the prefixes are swapped. */
  const twins = (args: (p: string) => string[], input?: string) => {
    const b = d.berth(args('b-'), { input }), k = d.docker(args('d-'), { input });
    // Object IDs differ between the twins.
    const swap = (s: string) => norm(s).replace(/\bd-/g, 'b-').replace(/[0-9a-f]{64}/g, '<id>');
    const what = `berth ${args('b-').join(' ')}`;
    assert.equal(b.status, k.status, `${what}: status ${b.status} (docker ${k.status}): ${b.stderr}`);
    assert.equal(swap(b.stdout), swap(k.stdout), `${what}: stdout`);
    assert.equal(swap(b.stderr), swap(k.stderr), `${what}: stderr`);
    return b;
  };

  test('volume create, ls, inspect', () => {
    for (const p of ['b-', 'd-']) {
      const cli = p === 'b-' ? 'berth' : 'docker';
      // One label: docker prints several in Go's random map order.
      assert.equal(ok(cli, ['volume', 'create', '--label', 'tier=<web&x>', '-o', 'type=tmpfs', '-o', 'device=tmpfs', `${p}v1`]), `${p}v1\n`);
      assert.equal(ok(cli, ['volume', 'create', '--name', `${p}v2`]), `${p}v2\n`);
      assert.equal(ok(cli, ['volume', 'create', '-d', 'local', `${p}v10`]), `${p}v10\n`);
      assert.match(ok(cli, ['volume', 'create']), /^[0-9a-f]{64}\n$/);
    }
    twins((p) => ['volume', 'create', '--name', `${p}x`, `${p}y`]);
    twins((p) => ['volume', 'create', `${p}a`, `${p}b`]);
    twins((p) => ['volume', 'create', '--label', '=x', `${p}z`]);
    twins((p) => ['volume', 'create', '-d', 'nosuchdriver', `${p}z`]);

    const table = same(['volume', 'ls']).stdout;
    assert.match(table, /^DRIVER {4}VOLUME NAME\n/);
    const names = table.split('\n').slice(1, -1).map((l) => l.split(/\s+/)[1]).filter((n) => n.startsWith('b-'));
    assert.deepEqual(names, ['b-v1', 'b-v2', 'b-v10'], 'natural name order');
    same(['volume', 'ls', '-q']);
    same(['volume', 'list', '--format', 'json']);
    same(['volume', 'ls', '--format', '{{.Name}}\t{{.Driver}} {{.Scope}} {{.Mountpoint}} {{.Label "tier"}} {{.Links}} {{.Size}} {{.Status}}']);
    same(['volume', 'ls', '--format', 'table {{.Name}}\t{{.Label "tier"}}\t{{.Mountpoint}}']);
    same(['volume', 'ls', '--format', 'table {{lower .Name}}\t{{json .Driver}}\t{{upper .Scope}}']);
    same(['volume', 'ls', '--format', 'raw']);
    same(['volume', 'ls', '-f', 'label=tier', '-f', 'name=v1']);
    same(['volume', 'ls', '--filter', 'dangling=true', '-q']);
    same(['volume', 'ls', '-f', 'driver=local', '--format', '{{.Name}}']);
    same(['volume', 'ls', '-f', 'dangling']);
    same(['volume', 'ls', '--format', '{{.Nope}}']);
    same(['volume', 'ls', '--format', '{{.Name']);
    same(['volume', 'ls', 'extra']);

    same(['volume', 'inspect', 'b-v1']);
    same(['volume', 'inspect', 'b-v1', 'd-v2', '--format', 'json']);
    same(['volume', 'inspect', '-f', '{{.Name}} {{.Driver}} {{.Labels}} {{.Options}} {{json .Labels}} {{index .Labels "tier"}} {{.Scope}}', 'b-v1', 'b-v2']);
    same(['volume', 'inspect', '-f', '{{.Nope}}', 'b-v1']);
    same(['volume', 'inspect', '-f', '{{.Name', 'b-v1']);
    same(['volume', 'inspect', 'nope', 'b-v2', 'nope2']);
    same(['volume', 'inspect', '-f', '{{.Name}}', 'nope']);
    same(['volume', 'inspect']);
  });

  test('volume rm and prune: in-use refusals, prompts, -a, filters', () => {
    const anonymous: string[] = [];
    for (const cli of ['berth', 'docker'] as const) {
      const p = cli === 'berth' ? 'b-' : 'd-';
      ok(cli, ['volume', 'create', `${p}r1`]);
      ok(cli, ['volume', 'create', `${p}r2`]);
      ok(cli, ['create', '--name', `${p}user`, '-v', `${p}r2:/data`, 'busybox', 'true']);
      // Anonymous volumes of a removed container are what plain prune removes.
      ok(cli, ['create', '--name', `${p}anon`, '-v', '/scratch', 'busybox', 'true']);
      anonymous.push(ok(cli, ['inspect', '-f', '{{range .Mounts}}{{.Name}}{{end}}', `${p}anon`]).trim());
      ok(cli, ['rm', `${p}anon`]);
    }
    twins((p) => ['volume', 'rm', `${p}r1`, 'nope']);
    twins((p) => ['volume', 'rm', `${p}r2`]);
    same(['volume', 'rm', '-f', 'nope']);
    same(['volume', 'rm']);
    same(['volume', 'remove', '--help']);

    same(['volume', 'prune'], 'n\n');
    same(['volume', 'prune'], '');
    same(['volume', 'prune', '-a', '--filter', 'all=1']);
    same(['volume', 'prune', '--filter', 'bad']);
    same(['volume', 'prune', 'extra']);
    // One prune removes both CLIs' anonymous volumes (not the unnamed ones `volume create` made); a second finds none.
    const first = ok('berth', ['volume', 'prune'], 'y\n');
    const m = /^WARNING! This will remove anonymous local volumes not used by at least one container\.\nAre you sure you want to continue\? \[y\/N\] Deleted Volumes:\n((?:[0-9a-f]{64}\n)+)\nTotal reclaimed space: \d+(\.\d+)?[kMG]?B\n$/.exec(first);
    assert.ok(m, first);
    assert.deepEqual(m[1].trim().split('\n').sort(), anonymous.sort());
    same(['volume', 'prune', '-f']);
    // -a with a label filter: each CLI prunes its own labelled volume.
    for (const cli of ['berth', 'docker'] as const) ok(cli, ['volume', 'create', '--label', `owner=${cli === 'berth' ? 'b-' : 'd-'}x`, `${cli === 'berth' ? 'b-' : 'd-'}p1`]);
    twins((p) => ['volume', 'prune', '-a', '-f', '--filter', `label=owner=${p}x`]);
    twins((p) => ['volume', 'prune', '-a', '--filter', `label=owner=${p}x`], 'y\n');
    for (const cli of ['berth', 'docker'] as const) ok(cli, ['rm', cli === 'berth' ? 'b-user' : 'd-user']);
    twins((p) => ['volume', 'rm', `${p}r2`]);
  });

  test('volume help and group usage', () => {
    same(['volume', '--help']);
    same(['volume']);
    same(['volume', 'bogus']);
    for (const sub of ['create', 'ls', 'inspect', 'rm', 'prune']) same(['volume', sub, '--help']);
  });

  test('network create, ls, inspect', () => {
    for (const cli of ['berth', 'docker'] as const) {
      const p = cli === 'berth' ? 'b-' : 'd-';
      const third = cli === 'berth' ? 80 : 81;
      assert.match(ok(cli, ['network', 'create', '--subnet', `${base}.${third}.0/24`, '--gateway', `${base}.${third}.254`, '--ip-range', `${base}.${third}.128/25`,
        '--label', 'tier=web', '--internal', '-o', 'com.docker.network.driver.mtu=1400', `${p}n1`]), /^[0-9a-f]{64}\n$/);
      assert.match(ok(cli, ['network', 'create', `${p}n10`]), /^[0-9a-f]{64}\n$/);
      assert.match(ok(cli, ['network', 'create', '--attachable', `${p}n2`]), /^[0-9a-f]{64}\n$/);
    }
    twins((p) => ['network', 'create', `${p}n1`]);
    twins((p) => ['network', 'create', '--subnet', `${base}.90.0/24`, '--gateway', `${base}.91.1`, `${p}e1`]);
    twins((p) => ['network', 'create', '--subnet', '10.0.0.0/33', `${p}e2`]);
    twins((p) => ['network', 'create', '-d', 'nosuchdriver', `${p}e3`]);
    twins((p) => ['network', 'create', '--label', '=x', `${p}e4`]);
    same(['network', 'create']);

    const table = same(['network', 'ls']).stdout;
    assert.match(table, /^NETWORK ID {5}NAME {6}DRIVER {4}SCOPE\n/);
    assert.deepEqual(table.split('\n').slice(1, -1).map((l) => l.split(/\s+/)[1]).filter((n) => n.startsWith('b-')), ['b-n1', 'b-n2', 'b-n10']);
    same(['network', 'ls', '-q']);
    same(['network', 'ls', '--no-trunc']);
    same(['network', 'list', '--format', 'json']);
    same(['network', 'ls', '--format', '{{.Name}} {{.ID}} {{.Driver}} {{.Scope}} {{.IPv4}} {{.IPv6}} {{.Internal}} {{.Labels}} {{.Label "tier"}} {{.CreatedAt}}']);
    same(['network', 'ls', '--format', 'table {{.Name}}\t{{.Internal}}\t{{.CreatedAt}}']);
    same(['network', 'ls', '-f', 'driver=bridge', '-f', 'label=tier=web']);
    same(['network', 'ls', '--filter', 'type=custom', '-q']);
    same(['network', 'ls', '-f', 'name=n1', '--format', '{{.Name}}']);
    same(['network', 'ls', '-f', 'bogus']);
    same(['network', 'ls', '--format', '{{.Nope}}']);

    same(['network', 'inspect', 'b-n1']);
    same(['network', 'inspect', 'bridge', 'host', 'none']);
    same(['network', 'inspect', '--format', 'json', 'b-n1', 'd-n2']);
    same(['network', 'inspect', '-v', 'b-n10']);
    same(['network', 'inspect', '-f', '{{.Name}} {{.ID}} {{.Created}} {{.Driver}} {{.Internal}} {{.IPAM.Config}} {{.Labels}} {{.Options}} {{.Containers}}', 'b-n1', 'bridge']);
    same(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.IPRange}}{{end}} {{json .IPAM}} {{.Id}}', 'b-n1']);
    same(['network', 'inspect', '-f', '{{.Nope}}', 'b-n1']);
    same(['network', 'inspect', '-f', '{{.Name', 'b-n1']);
    same(['network', 'inspect', 'nope', 'b-n2']);
    same(['network', 'inspect']);
  });

  test('network connect, disconnect, rm, prune', () => {
    for (const cli of ['berth', 'docker'] as const) {
      const p = cli === 'berth' ? 'b-' : 'd-';
      ok(cli, ['run', '-d', '--name', `${p}c1`, '--network', `${p}n10`, 'busybox', 'sleep', '300']);
    }
    const third = (p: string) => (p === 'b-' ? 80 : 81);
    twins((p) => ['network', 'connect', '--alias', 'a1,a2', '--alias', 'a3', '--ip', `${base}.${third(p)}.200`, `${p}n1`, `${p}c1`]);
    for (const p of ['b-', 'd-']) {
      const ep = JSON.parse(ok('docker', ['inspect', '-f', `{{json (index .NetworkSettings.Networks "${p}n1")}}`, `${p}c1`]));
      assert.deepEqual([ep.IPAMConfig.IPv4Address, ep.Aliases.slice(0, 3), ep.IPAddress], [`${base}.${third(p)}.200`, ['a1', 'a2', 'a3'], `${base}.${third(p)}.200`], p);
    }
    twins((p) => ['network', 'connect', `${p}n1`, `${p}c1`]);
    twins((p) => ['network', 'connect', `${p}n1`, 'nosuchcontainer']);
    twins((p) => ['network', 'connect', '--driver-opt', 'novalue', `${p}n1`, `${p}c1`]);
    same(['network', 'connect', 'nosuchnet', 'b-c1']);
    same(['network', 'connect', 'b-n1']);
    // A network in use is refused; the twins' names sort the same way, so the errors line up.
    twins((p) => ['network', 'rm', `${p}n1`, 'nope', 'bridge']);
    twins((p) => ['network', 'disconnect', `${p}n1`, `${p}c1`]);
    twins((p) => ['network', 'disconnect', `${p}n1`, `${p}c1`]);
    twins((p) => ['network', 'disconnect', '-f', `${p}n10`, `${p}c1`]);
    same(['network', 'disconnect', 'nosuchnet', 'b-c1']);
    twins((p) => ['network', 'rm', `${p}n1`, `${p}n2`]);
    twins((p) => ['network', 'remove', '-f', `${p}n1`]);
    same(['network', 'rm']);

    same(['network', 'prune'], 'n\n');
    same(['network', 'prune', '--filter', 'bad']);
    same(['network', 'prune', 'extra']);
    // b-n10/d-n10 have no container any more; prune removes both, whichever CLI asks.
    for (const p of ['b-', 'd-']) ok('docker', ['rm', '-f', `${p}c1`]);
    const pruned = ok('berth', ['network', 'prune', '--filter', 'label=nope'], 'y\n');
    assert.equal(pruned, 'WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] ');
    assert.equal(ok('berth', ['network', 'prune', '-f']), 'Deleted Networks:\nb-n10\nd-n10\n\n');
    same(['network', 'prune', '-f']);
  });

  test('run: --network, --ip, --network-alias, --mac-address, --dns, --add-host and -p reach the container as with docker', () => {
    for (const cli of ['berth', 'docker'] as const) {
      const p = cli === 'berth' ? 'b-' : 'd-';
      const third = cli === 'berth' ? 82 : 83;
      ok(cli, ['network', 'create', '--subnet', `${base}.${third}.0/24`, `${p}rn`]);
      ok(cli, ['run', '-d', '--name', `${p}r1`, '--network', `${p}rn`, '--ip', `${base}.${third}.9`, '--network-alias', 'web', '--network-alias', 'www',
        '--mac-address', `02:42:ac:11:00:${third}`, '--dns', '192.0.2.53', '--dns-search', 'example.com', '--dns-option', 'ndots:2',
        '--add-host', 'db=192.0.2.10', '-p', '127.0.0.1::80', '-p', '127.0.0.1::81/udp', '--expose', '9000-9001', 'busybox', 'sleep', '300']);
    }
    const fmt = '{{json .HostConfig.PortBindings}} {{json .Config.ExposedPorts}} {{.HostConfig.Dns}} {{.HostConfig.DnsSearch}} {{.HostConfig.DnsOptions}} {{.HostConfig.ExtraHosts}} {{.HostConfig.NetworkMode}}';
    assert.equal(ok('docker', ['inspect', '-f', fmt, 'b-r1']), ok('docker', ['inspect', '-f', fmt, 'd-r1']).replace(/d-rn/g, 'b-rn'));
    for (const [p, third] of [['b-', 82], ['d-', 83]] as const) {
      const ep = JSON.parse(ok('docker', ['inspect', '-f', `{{json (index .NetworkSettings.Networks "${p}rn")}}`, `${p}r1`]));
      assert.deepEqual([ep.IPAMConfig.IPv4Address, ep.IPAddress, ep.Aliases.slice(0, 2), ep.MacAddress], [`${base}.${third}.9`, `${base}.${third}.9`, ['web', 'www'], `02:42:ac:11:00:${third}`], p);
    }
    const hosts = (p: string) => ok('docker', ['exec', `${p}r1`, 'cat', '/etc/hosts']);
    assert.match(hosts('b-'), /^192\.0\.2\.10\tdb$/m);
    assert.match(ok('docker', ['exec', 'b-r1', 'cat', '/etc/resolv.conf']), /^search example\.com$/m);
    for (const p of ['b-', 'd-']) ok('docker', ['rm', '-f', `${p}r1`]);
    for (const p of ['b-', 'd-']) ok('docker', ['network', 'rm', `${p}rn`]);
  });

  test('network help and group usage', () => {
    same(['network', '--help']);
    same(['network']);
    same(['network', 'bogus']);
    for (const sub of ['create', 'ls', 'inspect', 'rm', 'prune', 'connect', 'disconnect']) same(['network', sub, '--help']);
  });
});
