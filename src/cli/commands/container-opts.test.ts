import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from '../flags';
import { buildCreateRequest, CREATE_FLAGS, localhostDNSWarning, parseNetworkOpt, parsePortSpec, RUN_ONLY_FLAGS } from './container-opts';
import { endpointSettings } from './endpoint-settings';
import { startErrorStatus } from './container-run';

const spec = { name: 'run', usage: '', description: '', flags: [...CREATE_FLAGS, ...RUN_ONLY_FLAGS], interspersed: false };
const build = (argv: string[]) => { const p = parseFlags(spec, argv); return buildCreateRequest(p, p.opts.detach as boolean); };

test('run flags map to the ContainerCreate body the docker CLI sends', () => {
  const { body, name } = build(['-it', '--rm', '--name', 'web', '-e', 'A=1', '-u', '1000', '-w', '/srv', '-h', 'box', '-l', 'k=v',
    '--read-only', '--init', '--stop-signal', 'SIGINT', '--stop-timeout', '5', '--privileged', '--cap-add', 'NET_ADMIN', '--cap-drop', 'ALL',
    '--security-opt', 'no-new-privileges', '--tmpfs', '/run:size=1m', '--add-host', 'db:10.0.0.2', '--restart', 'no', '--log-opt', 'max-size=1m',
    '-v', '/data', '-v', '/host:/ctr:ro', '--network', 'mynet', 'busybox', 'sh', '-c', 'echo']);
  assert.equal(name, 'web');
  assert.equal(body.Image, 'busybox');
  assert.deepEqual(body.Cmd, ['sh', '-c', 'echo']);
  assert.equal(body.Tty, true);
  assert.equal(body.OpenStdin, true);
  assert.equal(body.AttachStdin, true);
  assert.equal(body.StdinOnce, true);
  assert.deepEqual(body.Env, ['A=1']);
  assert.equal(body.User, '1000');
  assert.equal(body.WorkingDir, '/srv');
  assert.equal(body.Hostname, 'box');
  assert.deepEqual(body.Labels, { k: 'v' });
  assert.equal(body.StopSignal, 'SIGINT');
  assert.equal(body.StopTimeout, 5);
  assert.deepEqual(body.Volumes, { '/data': {} });
  const hc = body.HostConfig!;
  assert.equal(hc.AutoRemove, true);
  assert.equal(hc.ReadonlyRootfs, true);
  assert.equal(hc.Init, true);
  assert.equal(hc.Privileged, true);
  assert.deepEqual(hc.CapAdd, ['NET_ADMIN']);
  assert.deepEqual(hc.CapDrop, ['ALL']);
  assert.deepEqual(hc.SecurityOpt, ['no-new-privileges']);
  assert.deepEqual(hc.Tmpfs, { '/run': 'size=1m' });
  assert.deepEqual(hc.ExtraHosts, ['db:10.0.0.2']);
  assert.deepEqual(hc.LogConfig?.Config, { 'max-size': '1m' });
  assert.deepEqual(hc.Binds, ['/host:/ctr:ro']);
  assert.equal(hc.NetworkMode, 'mynet');
  // One network and no endpoint options: docker sends no endpoint for it (the engine makes one).
  assert.deepEqual(body.NetworkingConfig?.EndpointsConfig, {});
});

test('detached runs attach nothing; --entrypoint "" resets it; defaults', () => {
  const { body } = build(['-d', '--entrypoint', '', 'img']);
  assert.equal(body.AttachStdout, false);
  assert.equal(body.AttachStderr, false);
  assert.deepEqual(body.Entrypoint, ['']);
  assert.equal(body.Cmd, null);
  assert.equal(body.HostConfig?.NetworkMode, 'default');
  assert.equal(body.HostConfig?.Init, null);
  assert.deepEqual(body.HostConfig?.RestartPolicy, { Name: 'no', MaximumRetryCount: 0 });
  assert.equal(build(['img']).body.AttachStdout, true);
});

test('invalid combinations are rejected', () => {
  assert.throws(() => build(['--rm', '--restart', 'always', 'img']));
  assert.throws(() => build(['--restart', 'sometimes', 'img']));
  assert.throws(() => build(['-d', '-a', 'stdout', 'img']));
});

test('port specs like nat.ParsePortSpec', () => {
  assert.deepEqual(parsePortSpec('8080:80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '8080' } }]);
  assert.deepEqual(parsePortSpec('127.0.0.1:53:53/udp'), [{ port: '53/udp', binding: { HostIp: '127.0.0.1', HostPort: '53' } }]);
  assert.deepEqual(parsePortSpec('80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '' } }]);
  assert.deepEqual(parsePortSpec('8000-8001:80-81').map((x) => [x.port, x.binding.HostPort]), [['80/tcp', '8000'], ['81/tcp', '8001']]);
  assert.deepEqual(parsePortSpec('[::1]:8080:80'), [{ port: '80/tcp', binding: { HostIp: '::1', HostPort: '8080' } }]);
  assert.deepEqual(parsePortSpec('::1:8080:80'), [{ port: '80/tcp', binding: { HostIp: '::1', HostPort: '8080' } }]);
  assert.deepEqual(parsePortSpec('127.0.0.1::80'), [{ port: '80/tcp', binding: { HostIp: '127.0.0.1', HostPort: '' } }]);
  // A host range for one container port is kept as a range (the engine picks a free port in it).
  assert.deepEqual(parsePortSpec('8000-8010:80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '8000-8010' } }]);
  assert.deepEqual(parsePortSpec('08080:0080/UDP'), [{ port: '80/udp', binding: { HostIp: '', HostPort: '8080' } }]);
  const err = (spec: string) => { try { parsePortSpec(spec); } catch (e) { return (e as Error).message; } return 'no error'; };
  assert.equal(err('80/xyz'), 'invalid proto: xyz');
  assert.equal(err('99999'), 'invalid containerPort: 99999');
  assert.equal(err('1.2.3.4:80'), 'invalid hostPort: 1.2.3.4');
  assert.equal(err('8000:80-81'), 'invalid ranges specified for container and host Ports: 80-81 and 8000');
  assert.equal(err('1.2.3:80:80'), 'invalid IP address: 1.2.3');
  assert.equal(err('/tcp'), 'no port specified: /tcp<empty>');
  assert.equal(err('80-79'), 'invalid containerPort: 80-79');
});

// What docker CLI 28 sends for these flags, captured from its POST /containers/create.
test('-p, -P and --expose build ExposedPorts and PortBindings as docker does', () => {
  const { body } = build(['-p', '80', '-p', '8080:80', '-p', '127.0.0.1:8081:81', '-p', '127.0.0.1::82', '-p', '8000-8001:90-91/udp',
    '-p', 'published=7000,target=70,protocol=udp', '-P', '--expose', '6000-6001', '--expose', '5000/udp', 'img']);
  assert.deepEqual(body.ExposedPorts, {
    '5000/udp': {}, '6000/tcp': {}, '6001/tcp': {}, '70/udp': {}, '80/tcp': {}, '81/tcp': {}, '82/tcp': {}, '90/udp': {}, '91/udp': {},
  });
  assert.deepEqual(body.HostConfig?.PortBindings, {
    '70/udp': [{ HostIp: '', HostPort: '7000' }],
    '80/tcp': [{ HostIp: '', HostPort: '' }, { HostIp: '', HostPort: '8080' }],
    '81/tcp': [{ HostIp: '127.0.0.1', HostPort: '8081' }],
    '82/tcp': [{ HostIp: '127.0.0.1', HostPort: '' }],
    '90/udp': [{ HostIp: '', HostPort: '8000' }],
    '91/udp': [{ HostIp: '', HostPort: '8001' }],
  });
  assert.equal(body.HostConfig?.PublishAllPorts, true);
  assert.deepEqual(Object.keys(body.ExposedPorts!), Object.keys(body.ExposedPorts!).sort(), 'keys in Go map order');
  assert.deepEqual(build(['img']).body.HostConfig?.PortBindings, {});
  assert.throws(() => build(['--expose', '80:90', 'img']), /invalid port format for --expose: 80:90/);
  assert.throws(() => build(['--expose', 'a-b', 'img']), /invalid range format for --expose: a-b, error: strconv.ParseUint: parsing "a": invalid syntax/);
  assert.throws(() => build(['-p', 'published=8080,bogus', 'img']), /invalid publish opts format \(should be name=value but got 'bogus'\)/);
});

test('--network, --ip, --ip6, --network-alias, --mac-address, --link fill the endpoint as docker does', () => {
  const eps = (argv: string[]) => build([...argv, 'img']).body.NetworkingConfig?.EndpointsConfig;
  // Without --network the "default" endpoint is always sent; the per-container options go on it.
  assert.deepEqual(eps([]), { default: endpointSettings({}) });
  assert.deepEqual(eps(['--ip', '10.0.0.5', '--mac-address', '02:42:ac:11:00:02']), {
    default: endpointSettings({ ipv4: '10.0.0.5', macAddress: '02:42:ac:11:00:02' }),
  });
  assert.deepEqual(eps(['--network', 'mynet']), {});
  assert.deepEqual(eps(['--network', 'name=mynet']), {});
  const full = eps(['--network', 'mynet', '--ip', '10.0.0.5', '--ip6', 'fd00::5', '--network-alias', 'a1', '--net-alias', 'a2',
    '--mac-address', '02:42:ac:11:00:02', '--link', 'c1:db', '--link-local-ip', '169.254.0.9']);
  assert.deepEqual(full, { mynet: endpointSettings({ ipv4: '10.0.0.5', ipv6: 'fd00::5', linkLocalIPs: ['169.254.0.9'], aliases: ['a1', 'a2'], links: ['c1:db'], macAddress: '02:42:ac:11:00:02' }) });
  assert.deepEqual(full!.mynet.IPAMConfig, { IPv4Address: '10.0.0.5', IPv6Address: 'fd00::5', LinkLocalIPs: ['169.254.0.9'] });
  // --link on the default bridge is a legacy link (HostConfig.Links), not an endpoint option.
  const linked = build(['--link', 'c1:alias', 'img']).body;
  assert.deepEqual(linked.HostConfig?.Links, ['c1:alias']);
  assert.equal(linked.NetworkingConfig?.EndpointsConfig?.default.Links, null);
  // The long form, lower-cased as docker reads it; several networks each get an endpoint.
  assert.deepEqual(eps(['--network', 'name=MyNet,alias=X,ip=10.1.1.1,driver-opt=k=v,gw-priority=3']), {
    mynet: endpointSettings({ aliases: ['x'], ipv4: '10.1.1.1', driverOpts: { k: 'v' }, gwPriority: 3 }),
  });
  assert.equal(build(['--network', 'name=MyNet', 'img']).body.HostConfig?.NetworkMode, 'mynet');
  assert.deepEqual(Object.keys(eps(['--network', 'a', '--net', 'b'])!), ['a', 'b']);
  assert.equal(build(['--network', 'a', '--network', 'b', 'img']).body.HostConfig?.NetworkMode, 'a');
  assert.equal(build(['--network', 'host', 'img']).body.HostConfig?.NetworkMode, 'host');
});

test('network option errors are docker\'s', () => {
  const err = (argv: string[]) => { try { build([...argv, 'img']); } catch (e) { return (e as Error).message; } return 'no error'; };
  assert.equal(err(['--network', 'none', '--network-alias', 'x']), 'network-scoped aliases are only supported for user-defined networks');
  assert.equal(err(['--network', 'host', '--network', 'other']), 'conflicting options: cannot attach both user-defined and non-user-defined network-modes');
  assert.equal(err(['--network', 'a', '--network', 'a']), 'network "a" is specified multiple times');
  assert.equal(err(['--network', 'name=n,ip=10.0.0.1', '--ip', '10.0.0.2']), 'conflicting options: cannot specify both --ip and per-network IPv4 address');
  assert.equal(err(['--network', 'name=n,alias=y', '--network-alias', 'x']), 'conflicting options: cannot specify both --network-alias and per-network alias');
  assert.equal(err(['--mac-address', 'zz']), 'zz is not a valid mac address');
  assert.equal(err(['--network', 'name=n,foo=bar']), 'invalid argument "name=n,foo=bar" for "--network" flag: invalid field key foo');
  assert.equal(err(['--network', 'alias=x']), 'invalid argument "alias=x" for "--network" flag: network name/id is not specified');
  assert.deepEqual(parseNetworkOpt('container:abc'), { target: 'container:abc' });
});

test('--dns, --dns-search, --dns-option and --add-host are validated and rewritten like docker\'s opts', () => {
  const hc = build(['--dns', '0:0::1', '--dns', '8.8.8.8', '--dns-search', 'example.com.', '--dns-search', '.', '--dns-opt', 'ndots:1',
    '--dns-option', 'timeout:2', '--add-host', 'db=10.0.0.1', '--add-host', 'h:[::1]', '--add-host', 'gw:host-gateway', 'img']).body.HostConfig!;
  assert.deepEqual(hc.Dns, ['::1', '8.8.8.8']);
  assert.deepEqual(hc.DnsSearch, ['example.com', '.']);
  assert.deepEqual(hc.DnsOptions, ['ndots:1', 'timeout:2']);
  assert.deepEqual(hc.ExtraHosts, ['db:10.0.0.1', 'h:::1', 'gw:host-gateway']);
  const err = (argv: string[]) => { try { build([...argv, 'img']); } catch (e) { return (e as Error).message; } return 'no error'; };
  assert.equal(err(['--dns', 'nope']), 'invalid argument "nope" for "--dns" flag: IP address is not correctly formatted: nope');
  assert.equal(err(['--dns', '010.0.0.1']), 'invalid argument "010.0.0.1" for "--dns" flag: IP address is not correctly formatted: 010.0.0.1');
  assert.equal(err(['--dns-search', '-bad']), 'invalid argument "-bad" for "--dns-search" flag: -bad is not a valid domain');
  assert.equal(err(['--add-host', 'bad']), 'invalid argument "bad" for "--add-host" flag: bad format for add-host: "bad"');
  assert.equal(err(['--add-host', 'h:1.2.3.4.5']), 'invalid argument "h:1.2.3.4.5" for "--add-host" flag: invalid IP address in add-host: "1.2.3.4.5"');
  assert.equal(localhostDNSWarning(['8.8.8.8', '127.0.0.53']), 'Localhost DNS (127.0.0.53) may fail in containers.');
  assert.equal(localhostDNSWarning(['::1']), 'Localhost DNS (::1) may fail in containers.');
  assert.equal(localhostDNSWarning(['8.8.8.8']), undefined);
});

test('regression: create attaches stdout/stderr like docker create; run -d -a is docker\'s plain error', () => {
  const p = parseFlags({ ...spec, name: 'create' }, ['-i', 'img']);
  const { body } = buildCreateRequest(p, false);
  assert.deepEqual([body.AttachStdin, body.AttachStdout, body.AttachStderr, body.StdinOnce], [true, true, true, true]);
  assert.throws(() => build(['-d', '-a', 'stdout', 'img']), (e: Error & { status?: number }) => e.message === 'conflicting options: cannot specify both --attach and --detach' && e.status === 1);
});

test('start failures map to docker exit codes', () => {
  assert.equal(startErrorStatus('exec: "nope": executable file not found in $PATH'), 127);
  assert.equal(startErrorStatus('open /x: no such file or directory'), 127);
  assert.equal(startErrorStatus('exec /etc: permission denied'), 126);
  assert.equal(startErrorStatus('cgroup error'), 125);
});
