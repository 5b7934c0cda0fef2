import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cleanupRestore, genericJumps, isolationRules } from './firewall';

test('isolation rules: traffic between two bridges is dropped, an internal bridge is closed both ways', () => {
  const rules = isolationRules('BI', [{ name: 'br-a', internal: false }, { name: 'br-b', internal: true }]);
  assert.equal(rules, [
    '*mangle', ':BI-1 - [0:0]', ':BI-2 - [0:0]',
    '-A BI-1 -i br-a ! -o br-a -j BI-2',
    '-A BI-1 -i br-b ! -o br-b -j DROP', '-A BI-1 ! -i br-b -o br-b -j DROP',
    '-A BI-1 -j RETURN',
    '-A BI-2 -o br-a -j DROP', '-A BI-2 -o br-b -j DROP', '-A BI-2 -j RETURN',
    'COMMIT', '',
  ].join('\n'));
});

test('cleanup of netavark\'s generic chains: the jumps into them, flush only those that keep fixed rules, then delete', () => {
  const listing = [
    '-P PREROUTING ACCEPT',
    '-N NETAVARK-HOSTPORT-DNAT',
    '-A PREROUTING -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT',
    '-A POSTROUTING -j NETAVARK-HOSTPORT-MASQ',
    '-A NETAVARK-HOSTPORT-MASQ -m comment --comment "netavark portfw masq mark" -m mark --mark 0x2000/0x2000 -j MASQUERADE',
    '-A POSTROUTING -j OTHER',
  ].join('\n');
  assert.deepEqual(genericJumps(listing, ['NETAVARK-HOSTPORT-DNAT', 'NETAVARK-HOSTPORT-MASQ']), [
    '-A PREROUTING -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT',
    '-A POSTROUTING -j NETAVARK-HOSTPORT-MASQ',
  ]);
  assert.equal(cleanupRestore('nat', listing + '\n-N NETAVARK-HOSTPORT-MASQ', ['NETAVARK-HOSTPORT-DNAT', 'NETAVARK-HOSTPORT-MASQ'], ['NETAVARK-HOSTPORT-DNAT']), [
    '*nat',
    '-D PREROUTING -m addrtype --dst-type LOCAL -j NETAVARK-HOSTPORT-DNAT',
    '-D POSTROUTING -j NETAVARK-HOSTPORT-MASQ',
    '-F NETAVARK-HOSTPORT-MASQ',
    '-X NETAVARK-HOSTPORT-DNAT', '-X NETAVARK-HOSTPORT-MASQ',
    'COMMIT', '',
  ].join('\n'));
});
