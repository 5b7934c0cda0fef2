import { test } from 'node:test';
import assert from 'node:assert/strict';
import { netavarkError, netavarkInput } from './netavark-driver';

test('netavarkInput is podman\'s NetworkOptions for the endpoints and ports berth chose', () => {
  const network = { id: 'n'.repeat(64), name: 'web', bridge: 'br-x', subnet: '10.9.0.0/24', gateway: '10.9.0.1', internal: false, dns: true };
  const input = netavarkInput({
    containerId: 'c'.repeat(64), containerName: 'app', netns: '/run/x',
    endpoints: [{ network, interfaceName: 'eth0', ip: '10.9.0.2', prefixLength: 24, mac: '02:42:0a:09:00:02', aliases: ['app', 'db'] }],
    ports: [{ hostIp: '127.0.0.1', hostPort: 8080, containerPort: 80, protocol: 'tcp', range: 1 }],
  });
  assert.deepEqual(input, {
    container_id: 'c'.repeat(64), container_name: 'app',
    port_mappings: [{ host_ip: '127.0.0.1', container_port: 80, host_port: 8080, range: 1, protocol: 'tcp' }],
    networks: { 'berth-nnnnnnnnnnnn': { static_ips: ['10.9.0.2'], static_mac: '02:42:0a:09:00:02', aliases: ['app', 'db'], interface_name: 'eth0' } },
    network_info: { 'berth-nnnnnnnnnnnn': {
      name: 'berth-nnnnnnnnnnnn', id: 'n'.repeat(64), driver: 'bridge', network_interface: 'br-x', subnets: [{ subnet: '10.9.0.0/24', gateway: '10.9.0.1' }],
      ipv6_enabled: false, internal: false, dns_enabled: true, ipam_options: { driver: 'host-local' },
    } },
  });
});

test('netavarkError prefers its JSON error and drops the syslog complaint', () => {
  assert.equal(netavarkError('{"error":"IO error: bad"}\n', 'failed to connect to syslog: x'), 'IO error: bad');
  assert.equal(netavarkError('', 'failed to connect to syslog: x\nreal problem'), 'real problem');
});
