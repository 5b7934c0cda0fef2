import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKind } from '../../base/errors';
import { RegistryHosts } from './registry-hosts';

const schemes = (h: RegistryHosts, d: string) => h.endpoints(d).map((e) => `${e.url.protocol}${e.verifyTls ? 'verify' : ''}`);

test('RegistryHosts: loopback is plain HTTP, others verified HTTPS, insecure ones unverified HTTPS then HTTP', () => {
  const h = new RegistryHosts(['reg.example:5000', '10.1.0.0/16', '127.0.0.5:443', 'fd00::/8']);
  assert.deepEqual(schemes(h, '127.0.0.1:5000'), ['http:']);
  assert.deepEqual(schemes(h, 'localhost'), ['http:']);
  assert.deepEqual(schemes(h, 'other.example'), ['https:verify']);
  assert.deepEqual(schemes(h, 'reg.example:5000'), ['https:', 'http:']);
  assert.deepEqual(schemes(h, 'reg.example:5001'), ['https:verify']);
  assert.deepEqual(schemes(h, '10.1.2.3:5000'), ['https:', 'http:']);
  assert.deepEqual(schemes(h, '10.2.0.1'), ['https:verify']);
  assert.deepEqual(schemes(h, '127.0.0.5:443'), ['https:', 'http:']);
  assert.deepEqual(schemes(h, '[fd12::1]:5000'), ['https:', 'http:']);
  assert.throws(() => h.endpoints('docker.io'), (e) => isKind(e, 'Unavailable'));
});

test('RegistryHosts: the endpoint that answered comes first next time', () => {
  const h = new RegistryHosts(['127.0.0.2/32']);
  h.remember('127.0.0.2:5000', new URL('http://127.0.0.2:5000'));
  assert.deepEqual(schemes(h, '127.0.0.2:5000'), ['http:', 'https:']);
  h.remember('127.0.0.2:5000', new URL('https://127.0.0.2:5000'));
  assert.deepEqual(schemes(h, '127.0.0.2:5000'), ['https:', 'http:']);
});

test('RegistryHosts: malformed entries are InvalidArgument', () => {
  for (const bad of ['not a host', '10.0.0.0/33', 'x/y', '1.2.3.4/abc', 'docker.io']) {
    assert.throws(() => new RegistryHosts([bad]), (e) => isKind(e, 'InvalidArgument'), bad);
  }
});
