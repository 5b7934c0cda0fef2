import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cidrContains, ipString, isMACAddress, memBytes, memSwapBytes, nanoCPUs, parseCIDR, parseIP, parseRestartPolicy, uint16, validateDNSSearch, validateExtraHost, validateFilter, validateIPAddress, validateLabel, validateLink } from './opts';

const canon = (s: string) => { const ip = parseIP(s); return ip ? ipString(ip) : undefined; };

test('IP addresses parse and print as Go net.ParseIP(...).String()', () => {
  assert.equal(canon('10.0.0.1'), '10.0.0.1');
  assert.equal(canon('0:0::1'), '::1');
  assert.equal(canon('::'), '::');
  assert.equal(canon('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
  assert.equal(canon('2001:db8:0:1:0:0:0:1'), '2001:db8:0:1::1');
  assert.equal(canon('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1', 'a single zero group is not "::"');
  assert.equal(canon('1:0:0:2:0:0:0:3'), '1:0:0:2::3', 'the longest zero run');
  assert.equal(canon('1:0:0:2:0:0:3:4'), '1::2:0:0:3:4', 'the first of equal runs');
  assert.equal(canon('::ffff:1.2.3.4'), '1.2.3.4', 'IPv4-mapped prints as IPv4');
  assert.equal(canon('::1.2.3.4'), '::102:304');
  for (const bad of ['010.0.0.1', '1.2.3', '1.2.3.4.5', '256.0.0.1', '1::2::3', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', '', 'x', '1.2.3.4:80', ':::']) {
    assert.equal(parseIP(bad), undefined, bad);
  }
});

test('CIDRs like net.ParseCIDR and IPNet.Contains', () => {
  const n = parseCIDR('10.1.0.0/16');
  assert.equal(cidrContains(n, parseIP('10.1.255.1')!), true);
  assert.equal(cidrContains(n, parseIP('10.2.0.1')!), false);
  assert.equal(cidrContains(n, parseIP('::ffff:10.1.0.9')!), true);
  assert.equal(cidrContains(parseCIDR('10.1.2.3/8'), parseIP('10.200.0.0')!), true, 'host bits are masked');
  assert.equal(cidrContains(parseCIDR('fd00::/64'), parseIP('fd00::5')!), true);
  assert.equal(cidrContains(parseCIDR('fd00::/64'), parseIP('10.0.0.1')!), false);
  assert.throws(() => parseCIDR('10.0.0.0/33'), /^Error: invalid CIDR address: 10.0.0.0\/33$/);
  assert.throws(() => parseCIDR('10.0.0.0'), /invalid CIDR address: 10.0.0.0$/);
  assert.throws(() => parseCIDR('bogus/8'), /invalid CIDR address: bogus\/8/);
});

test('docker opts validators', () => {
  assert.equal(validateIPAddress(' 0:0::1 '), '::1');
  assert.throws(() => validateIPAddress('nope'), /^Error: IP address is not correctly formatted: nope$/);
  assert.equal(validateDNSSearch('example.com.'), 'example.com');
  assert.equal(validateDNSSearch('.'), '.');
  assert.throws(() => validateDNSSearch('-bad'), /-bad is not a valid domain/);
  assert.throws(() => validateDNSSearch('123'), /123 is not a valid domain/, 'a domain needs a letter');
  assert.equal(validateExtraHost('db=10.0.0.1'), 'db:10.0.0.1');
  assert.equal(validateExtraHost('h:[::1]'), 'h:::1');
  assert.equal(validateExtraHost('h:::1'), 'h:::1');
  assert.equal(validateExtraHost('gw:host-gateway'), 'gw:host-gateway');
  assert.throws(() => validateExtraHost('bad'), /^Error: bad format for add-host: "bad"$/);
  assert.throws(() => validateExtraHost(':1.2.3.4'), /bad format for add-host/);
  assert.throws(() => validateExtraHost('h:x'), /^Error: invalid IP address in add-host: "x"$/);
  assert.ok(isMACAddress('02:42:ac:11:00:02') && isMACAddress('02-42-AC-11-00-02') && isMACAddress('0242.ac11.0002'));
  assert.ok(!isMACAddress('zz') && !isMACAddress('02:42:ac:11:00') && !isMACAddress('02:42-ac:11:00:02'));
  assert.equal(validateLabel('a=b'), 'a=b');
  assert.throws(() => validateLabel('=b'), /invalid label '=b': empty name/);
  assert.throws(() => validateLabel('a b=c'), /label 'a b' contains whitespaces/);
  assert.throws(() => validateLink('a:b:c'), /bad format for links: a:b:c/);
  assert.equal(validateFilter(' Driver = bridge '), 'driver=bridge');
  assert.throws(() => validateFilter('dangling'), /bad format of filter \(expected name=value\)/);
});

test('update flag values as docker parses them: sizes, CPUs, uint16, restart policies', () => {
  assert.equal(memBytes('64m'), String(64 * 1024 * 1024));
  assert.equal(memBytes('1.5KiB'), '1536');
  assert.equal(memBytes('10'), '10');
  assert.throws(() => memBytes('bogus'), /^Error: invalid size: 'bogus'$/);
  assert.throws(() => memBytes('1x'), /^Error: invalid suffix: 'x'$/);
  assert.throws(() => memBytes('1kbb'), /^Error: invalid suffix: 'kbb'$/);
  assert.equal(memSwapBytes('-1'), '-1');
  assert.equal(nanoCPUs('0.5'), '500000000');
  assert.equal(nanoCPUs('2'), '2000000000');
  assert.throws(() => nanoCPUs('1.x'), /failed to parse 1.x as a rational number/);
  assert.throws(() => nanoCPUs('0.0000000001'), /value is too precise/);
  assert.equal(uint16('500'), '500');
  assert.equal(uint16('0x10'), '16');
  assert.throws(() => uint16('70000'), /strconv.ParseUint: parsing "70000": value out of range/);
  assert.throws(() => uint16('-1'), /invalid syntax/);
  assert.deepEqual(parseRestartPolicy(''), { Name: '', MaximumRetryCount: 0 });
  assert.deepEqual(parseRestartPolicy('on-failure:3'), { Name: 'on-failure', MaximumRetryCount: 3 });
  assert.throws(() => parseRestartPolicy(':3'), /no policy provided before colon/);
  assert.throws(() => parseRestartPolicy('always:x'), /maximum retry count must be an integer/);
});
