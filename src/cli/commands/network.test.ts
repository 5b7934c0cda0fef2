import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from '../flags';
import { Template } from '../template/template';
import { commands, connectEndpoint, ipamConfig, networkCreateRequest, networkListing, networkView } from './network';
import type { NetworkInspect } from '../../client/types';

const parse = (cmd: string, argv: string[]) => parseFlags(commands[cmd].spec, argv);
const err = (fn: () => unknown) => { try { fn(); } catch (e) { return (e as Error).message; } return 'no error'; };

// The bodies below are what docker CLI 28 sends for the same flags (captured from its requests).
test('network create: flags to the NetworkCreate body, in Go\'s field order', () => {
  assert.equal(JSON.stringify(networkCreateRequest(parse('create', ['n1']))),
    '{"Driver":"bridge","Scope":"","IPAM":{"Driver":"default","Options":{},"Config":[]},"Internal":false,"Attachable":false,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{},"Labels":{},"Name":"n1"}');
  assert.equal(JSON.stringify(networkCreateRequest(parse('create', ['-d', 'macvlan', '--subnet', '10.1.0.0/16', '--gateway', '10.1.0.1', '--ip-range', '10.1.1.0/24',
    '--aux-address', 'host1=10.1.0.5', '--internal', '--attachable', '--label', 'a=b', '--label', 'c', '-o', 'com.x=y', '--ipv6', '--ipam-opt', 'q=r', '--scope', 'local', 'n2']))),
  '{"Driver":"macvlan","Scope":"local","EnableIPv6":true,"IPAM":{"Driver":"default","Options":{"q":"r"},"Config":[{"Subnet":"10.1.0.0/16","IPRange":"10.1.1.0/24","Gateway":"10.1.0.1","AuxiliaryAddresses":{"host1":"10.1.0.5"}}]},"Internal":true,"Attachable":true,"Ingress":false,"ConfigOnly":false,"ConfigFrom":null,"Options":{"com.x":"y"},"Labels":{"a":"b","c":""},"Name":"n2"}');
  const n3 = networkCreateRequest(parse('create', ['--ipv4=false', '--config-only', '--config-from', 'other', 'n3']));
  assert.equal(n3.EnableIPv4, false);
  assert.deepEqual(n3.ConfigFrom, { Network: 'other' });
  assert.deepEqual(networkCreateRequest(parse('create', ['--subnet', '10.2.0.0/16,fd00::/64', '--gateway', 'fd00::1', 'n4'])).IPAM?.Config,
    [{ Subnet: '10.2.0.0/16' }, { Subnet: 'fd00::/64', Gateway: 'fd00::1' }]);
});

test('network create: docker\'s IPAM errors', () => {
  const ipam = (o: Partial<Parameters<typeof ipamConfig>[0]>) => err(() => ipamConfig({ subnets: [], ipRanges: [], gateways: [], auxAddresses: {}, ...o }));
  assert.equal(ipam({ gateways: ['10.0.0.1'] }), 'every ip-range or gateway must have a corresponding subnet');
  assert.equal(ipam({ subnets: ['10.0.0.0/8', '10.1.0.0/16'] }), 'multiple overlapping subnet configuration is not supported');
  assert.equal(ipam({ subnets: ['10.0.0.0/8'], gateways: ['192.168.0.1'] }), 'no matching subnet for gateway 192.168.0.1');
  assert.equal(ipam({ subnets: ['10.0.0.0/8'], ipRanges: ['11.0.0.0/24'] }), 'no matching subnet for range 11.0.0.0/24');
  assert.equal(ipam({ subnets: ['10.0.0.0/8'], ipRanges: ['bogus'] }), 'invalid CIDR address: bogus');
  assert.equal(ipam({ subnets: ['10.0.0.0/33'] }), 'no error', 'a lone bad subnet is the engine\'s to refuse');
  assert.equal(ipam({ subnets: ['10.0.0.0/33'], gateways: ['10.0.0.1'] }), 'invalid subnet: invalid CIDR address: 10.0.0.0/33');
  assert.equal(ipam({ subnets: ['10.0.0.0/8', '192.168.0.0/16'], ipRanges: ['10.1.0.0/16', '10.2.0.0/16'] }), 'cannot configure multiple ranges (10.2.0.0/16, 10.1.0.0/16) on the same subnet (10.0.0.0/8)');
  assert.equal(ipam({ subnets: ['10.0.0.0/8'], auxAddresses: { a: '11.0.0.1' } }), 'no matching subnet for aux-address 11.0.0.1');
});

test('network connect: the EndpointConfig docker sends', () => {
  assert.deepEqual(connectEndpoint(parse('connect', ['n', 'c'])), {
    IPAMConfig: {}, Links: null, Aliases: [], MacAddress: '', DriverOpts: {}, GwPriority: 0, NetworkID: '', EndpointID: '', Gateway: '', IPAddress: '',
    IPPrefixLen: 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0, DNSNames: null,
  });
  const ep = connectEndpoint(parse('connect', ['--alias', 'a,b', '--alias', 'c', '--ip', '10.0.0.2', '--ip6', 'fd00::2', '--link', 'x:y', '--link-local-ip', '169.254.0.5',
    '--driver-opt', 'k=v', '--gw-priority', '5', 'n', 'c']));
  assert.deepEqual([ep.IPAMConfig, ep.Links, ep.Aliases, ep.DriverOpts, ep.GwPriority],
    [{ IPv4Address: '10.0.0.2', IPv6Address: 'fd00::2', LinkLocalIPs: ['169.254.0.5'] }, ['x:y'], ['a', 'b', 'c'], { k: 'v' }, 5]);
  assert.equal(err(() => connectEndpoint(parse('connect', ['--driver-opt', 'novalue', 'n', 'c']))), 'invalid key/value pair format in driver options');
});

const nw = (name: string, over: Partial<NetworkInspect> = {}) => ({
  Name: name, Id: name.padEnd(64, '0'), Created: '2026-01-02T03:04:05.5Z', Scope: 'local', Driver: 'bridge', EnableIPv4: true, EnableIPv6: false,
  IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '10.0.0.0/24', Gateway: '10.0.0.1' }] }, Internal: false, Attachable: false, Ingress: false,
  ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {}, Options: {}, Labels: {}, ...over,
}) as NetworkInspect;

test('network ls and inspect: natural order, -q, the Go network.Inspect for templates', () => {
  const l = networkListing([nw('n10'), nw('n9'), nw('bridge')], { format: '', quiet: true, trunc: true });
  assert.equal(l.format, '{{.ID}}');
  assert.deepEqual(l.rows.map((r) => r.Name), ['bridge', 'n9', 'n10']);
  const v = networkView(nw('app', { Labels: null }));
  assert.equal(Template.compile('{{.ID}} {{.Created}} {{.Labels}} {{range .IPAM.Config}}{{.Subnet}}/{{.Gateway}}{{end}} {{.Peers}}').execute(v),
    `${'app'.padEnd(64, '0')} 2026-01-02 03:04:05.5 +0000 UTC map[] 10.0.0.0/24/10.0.0.1 []`);
  assert.throws(() => Template.compile('{{.Id}}').execute(v), /can't evaluate field Id in type network.Inspect/);
});
