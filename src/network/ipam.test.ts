import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isKind } from '../base/errors';
import { macForAddress, nextFreeAddress, parseCidr, parsePool, pickSubnet, planSubnet, staticAddressError } from './ipam';

test('planSubnet completes the gateway and refuses what Docker refuses', () => {
  assert.deepEqual(planSubnet('10.1.2.0/24'), { subnet: '10.1.2.0/24', gateway: '10.1.2.1' });
  assert.deepEqual(planSubnet('10.1.0.0/16', '10.1.255.254', '10.1.7.0/24'), { subnet: '10.1.0.0/16', gateway: '10.1.255.254', ipRange: '10.1.7.0/24' });
  for (const bad of [() => planSubnet('10.1.2.3/24'), () => planSubnet('nonsense'), () => planSubnet('10.1.2.0/24', '10.9.9.9'),
    () => planSubnet('10.1.2.0/24', undefined, '10.2.0.0/24'), () => planSubnet('10.1.2.0/31')]) {
    assert.throws(bad, (e) => isKind(e, 'InvalidArgument'));
  }
});

test('nextFreeAddress skips network, gateway, broadcast and used addresses, within the range', () => {
  const plan = planSubnet('10.1.2.0/29');
  assert.equal(nextFreeAddress(plan, new Set()), '10.1.2.2');
  assert.equal(nextFreeAddress(plan, new Set(['10.1.2.2', '10.1.2.3'])), '10.1.2.4');
  assert.equal(nextFreeAddress(plan, new Set(['10.1.2.2', '10.1.2.3', '10.1.2.4', '10.1.2.5', '10.1.2.6'])), undefined);
  const ranged = planSubnet('10.1.0.0/16', undefined, '10.1.5.0/30');
  assert.equal(nextFreeAddress(ranged, new Set()), '10.1.5.0');
  assert.equal(nextFreeAddress(ranged, new Set(['10.1.5.0', '10.1.5.1', '10.1.5.2', '10.1.5.3'])), undefined);
});

test('a static address must lie in the subnet and be free', () => {
  const plan = planSubnet('10.1.2.0/24');
  assert.equal(staticAddressError(plan, '10.1.2.9', new Set()), undefined);
  assert.match(staticAddressError(plan, '10.1.2.9', new Set(['10.1.2.9']))!, /already in use/);
  assert.match(staticAddressError(plan, '10.1.2.1', new Set())!, /already in use/);
  assert.match(staticAddressError(plan, '10.1.3.9', new Set())!, /not in subnet/);
  assert.match(staticAddressError(plan, '10.1.2.255', new Set())!, /not in subnet/);
  assert.match(staticAddressError(plan, 'x', new Set())!, /invalid/);
});

test('pickSubnet takes the first pool subnet that overlaps nothing taken', () => {
  const pools = [parsePool('base=10.50.0.0/16,size=24')];
  assert.equal(pickSubnet(pools, []), '10.50.0.0/24');
  assert.equal(pickSubnet(pools, ['10.50.0.0/24', '10.50.1.128/25']), '10.50.2.0/24');
  assert.equal(pickSubnet(pools, ['10.0.0.0/8']), undefined);
  assert.throws(() => parsePool('base=10.50.0.0/16'), (e) => isKind(e, 'InvalidArgument'));
  assert.throws(() => parsePool('base=10.50.0.0/16,size=8'), (e) => isKind(e, 'InvalidArgument'));
});

test('parseCidr and Docker-style MACs', () => {
  assert.deepEqual(parseCidr('10.1.2.3/24'), { base: (10 << 24 | 1 << 16 | 2 << 8) >>> 0, prefix: 24 });
  assert.equal(parseCidr('10.1.2.3/24', true), undefined);
  assert.equal(parseCidr('300.1.2.3/24'), undefined);
  assert.equal(macForAddress('172.17.0.2'), '02:42:ac:11:00:02');
});
