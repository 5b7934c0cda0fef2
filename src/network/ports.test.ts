import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKind } from '../base/errors';
import { portMap, portRequests, portSummary, type PortBindings } from './ports';

test('portRequests reads PortBindings and -P, and refuses bad specs', () => {
  const reqs = portRequests({ '80/tcp': [{ HostIp: '', HostPort: '8080' }], '53/udp': [{ HostIp: '127.0.0.1', HostPort: '' }], '90': [{ HostPort: '9000-9010' }] },
    { '80/tcp': {}, '443/tcp': {} }, true);
  // Integer-like keys ('90') come first in a JS object.
  assert.deepEqual(reqs, [
    { hostIp: '', hostPorts: [9000, 9010], containerPort: 90, protocol: 'tcp' },
    { hostIp: '', hostPorts: [8080, 8080], containerPort: 80, protocol: 'tcp' },
    { hostIp: '127.0.0.1', hostPorts: undefined, containerPort: 53, protocol: 'udp' },
    { hostIp: '', containerPort: 443, protocol: 'tcp' },
  ]);
  assert.deepEqual(portRequests(null, { '80/tcp': {} }, false), []);
  const bads: PortBindings[] = [{ '80/xyz': [] }, { '0/tcp': [] }, { '80/tcp': [{ HostPort: 'abc' }] }, { '80/tcp': [{ HostIp: 'nope', HostPort: '1' }] }, { '80': [{ HostPort: '9-1' }] }];
  for (const bad of bads) {
    assert.throws(() => portRequests(bad, {}, false), (e) => isKind(e, 'InvalidArgument'));
  }
});

test('portMap and portSummary show published and merely exposed ports as Docker does', () => {
  const published = [{ hostIp: '', hostPort: 32768, containerPort: 80, protocol: 'tcp' as const }, { hostIp: '127.0.0.1', hostPort: 5353, containerPort: 53, protocol: 'udp' as const }];
  assert.deepEqual(portMap(published, { '80/tcp': {}, '443/tcp': {} }), {
    '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '32768' }], '443/tcp': null, '53/udp': [{ HostIp: '127.0.0.1', HostPort: '5353' }],
  });
  assert.deepEqual(portSummary(published, { '80/tcp': {}, '443/tcp': {} }), [
    { IP: '0.0.0.0', PrivatePort: 80, PublicPort: 32768, Type: 'tcp' },
    { IP: '127.0.0.1', PrivatePort: 53, PublicPort: 5353, Type: 'udp' },
    { PrivatePort: 443, Type: 'tcp' },
  ]);
});
