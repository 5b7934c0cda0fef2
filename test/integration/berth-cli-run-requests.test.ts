import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeEngine, startFakeEngine } from './fake-engine';

// `berth create` and `docker create` with the same networking flags against a Docker API stand-in:
// the POST /containers/create bodies must agree on ports, DNS, hosts and network endpoints, and
// invalid values must fail with docker's message and status.

const CASES: string[][] = [
  [], ['--network', 'mynet'], ['--network', 'host'], ['--network', 'bridge'], ['--network', 'default'], ['--network', 'container:abc'],
  ['--network', 'none', '--network-alias', 'x'], ['--network', 'mynet', '--ip', '10.0.0.5'], ['--network', 'name=mynet,alias=x,ip=10.1.1.1'],
  ['--network', 'name=mynet'], ['--network', 'name=MyNet,driver-opt=a=b,gw-priority=3,mac-address=02:42:ac:11:00:02,link-local-ip=169.254.1.1'],
  ['--network', 'name=mynet,foo=bar'], ['--network', 'alias=x'], ['--network', 'name=mynet,gw-priority=x'],
  ['--network', 'mynet', '--network', 'other'], ['--network', 'mynet', '--network', 'mynet'], ['--network', 'host', '--network', 'other'],
  ['--net', 'mynet', '--net-alias', 'a'], ['--mac-address', '02:42:ac:11:00:02'], ['--mac-address', 'zz'], ['--ip', '10.0.0.5'],
  ['--ip6', 'fd00::5', '--link-local-ip', '169.254.0.1'], ['--network', 'name=mynet,ip=10.0.0.1', '--ip', '10.0.0.2'],
  ['--network', 'name=mynet,alias=y', '--network-alias', 'x'], ['--network', 'mynet', '--network-alias', 'a1', '--network-alias', 'a2', '--ip', '10.0.0.9', '--ip6', 'fd00::9', '--mac-address', '02:42:ac:11:00:09'],
  ['--dns', '0:0::1', '--dns', '8.8.8.8'], ['--dns', '127.0.0.53'], ['--dns', 'nope'], ['--dns', '010.0.0.1'], ['--dns-search', 'example.com'],
  ['--dns-search', '-bad'], ['--dns-search', '.'], ['--dns-search', 'a.b.'], ['--dns-opt', 'ndots:1', '--dns-option', 'timeout:2'],
  ['--add-host', 'db=10.0.0.1', '--add-host', 'h:[::1]', '--add-host', 'gw:host-gateway'], ['--add-host', 'bad'], ['--add-host', 'a:b:c'], ['--add-host', 'h:1.2.3.4.5'],
  ['-p', '80'], ['-p', '8080:80'], ['-p', '127.0.0.1:8080:80'], ['-p', '127.0.0.1::80'], ['-p', '8000-8001:80-81/udp'], ['-p', '8000-8010:80'],
  ['-p', '8000:80-81'], ['-p', '[::1]:8080:80'], ['-p', '::1:8080:80'], ['-p', 'published=8080,target=80'], ['-p', 'published=8080,target=80,protocol=udp'],
  ['-p', 'target=80'], ['-p', 'published=8080,bogus'], ['-p', '80/sctp'], ['-p', '80/UDP'], ['-p', '80/xyz'], ['-p', 'abc'], ['-p', '99999'], ['-p', ':80'],
  ['-p', '/tcp'], ['-p', '1.2.3.4:80'], ['-p', '1.2.3:80:80'], ['-p', '[1.2.3.4]:80:80'], ['-p', '80-79'], ['-p', '08080:0080'],
  ['-p', '80', '-p', '8080:80', '-p', '90'], ['-P', '--expose', '80', '--expose', '90-91/udp'], ['--expose', '80:90'], ['--expose', 'a-b'],
  ['--expose', '80/xyz'], ['--expose', '90-80'], ['--link', 'c1:alias', '--network', 'mynet'], ['--link', 'c1:alias'], ['--link', 'a:b:c'],
  ['--network', 'container:abc', '--ip', '1.2.3.4'],
];

describe('berth create sends docker\'s networking fields', () => {
  let f: FakeEngine;
  before(async () => { f = await startFakeEngine([(r) => (r.path === '/containers/create' ? { status: 201, body: { Id: 'a'.repeat(64), Warnings: [] } } : undefined)]); });
  after(async () => { await f?.close(); });

  const networking = (b: Record<string, unknown> | undefined) => {
    if (!b) return undefined;
    const hc = b.HostConfig as Record<string, unknown>;
    return {
      ExposedPorts: b.ExposedPorts, AttachStdout: b.AttachStdout, AttachStderr: b.AttachStderr,
      HostConfig: Object.fromEntries(['NetworkMode', 'PortBindings', 'PublishAllPorts', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'Links'].map((k) => [k, hc[k]])),
      NetworkingConfig: b.NetworkingConfig,
    };
  };

  for (const flags of CASES) {
    test(`create ${flags.join(' ') || '(no flags)'}`, async () => {
      const args = ['create', ...flags, 'busybox'];
      const k = await f.capture('docker', args), b = await f.capture('berth', args);
      assert.equal(b.status, k.status, b.stderr);
      assert.equal(b.stderr, k.stderr.replace(/\bdocker\b/g, 'berth'));
      assert.equal(b.stdout, k.stdout);
      // Byte for byte, key order included (Go marshals maps sorted; berth sends them sorted too).
      assert.equal(JSON.stringify(networking(b.requests[0]?.body as Record<string, unknown>)), JSON.stringify(networking(k.requests[0]?.body as Record<string, unknown>)));
    });
  }
});
