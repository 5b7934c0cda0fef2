import { test } from 'node:test';
import assert from 'node:assert/strict';
import { goMap, goMarshal, goStruct, GoTime, indentJSON } from './go-values';
import { Template } from '../template/template';
import { naturalLess, NetworkContext, VolumeContext } from './contexts';
import { renderContextRows } from './formatter';

test('goMarshal: structs in field order with tags, maps sorted, nil maps null, HTML escaped; indent like MarshalIndent', () => {
  const v = goStruct('t.T', { Z: 'a<b>&', ID: 'x', M: { b: 1, a: 2, '10': 3, '9': 4 }, N: goMap(null), E: '', L: [] as unknown[] }, { json: { ID: 'Id' }, omitempty: ['E'] });
  assert.equal(goMarshal(v), '{"Z":"a\\u003cb\\u003e\\u0026","Id":"x","M":{"10":3,"9":4,"a":2,"b":1},"N":null,"L":[]}');
  assert.equal(goMarshal([goStruct('t.U', { A: {}, B: [1] })], '    '), '[\n    {\n        "A": {},\n        "B": [\n            1\n        ]\n    }\n]');
});

test('indentJSON keeps order and escapes as json.Indent; "" compacts', () => {
  const raw = '{"b":1, "a":[ ],"s":"x, y: {z}\\"","o":{}}\n';
  assert.equal(indentJSON(`[${raw},${raw}]`, ''), '[{"b":1,"a":[],"s":"x, y: {z}\\"","o":{}},{"b":1,"a":[],"s":"x, y: {z}\\"","o":{}}]');
  assert.equal(indentJSON(raw, '  '), '{\n  "b": 1,\n  "a": [],\n  "s": "x, y: {z}\\"",\n  "o": {}\n}');
});

test('templates see Go values: struct field errors name the Go type, nil maps print map[], time.Time prints like Go', () => {
  const v = goStruct('volume.Volume', { Name: 'v', Labels: goMap(null), Options: goMap({ b: '2', a: '1' }) });
  assert.equal(Template.compile('{{.Name}} {{.Labels}} {{.Options}} {{json .Labels}} {{len .Labels}}').execute(v), 'v map[] map[a:1 b:2] null 0');
  assert.throws(() => Template.compile('{{.Nope}}').execute(v), /can't evaluate field Nope in type volume.Volume/);
  assert.equal(String(new GoTime('2026-01-02T03:04:05.120000000Z')), '2026-01-02 03:04:05.12 +0000 UTC');
  assert.equal(String(new GoTime('2026-01-02T03:04:05Z')), '2026-01-02 03:04:05 +0000 UTC');
  assert.equal(String(new GoTime('2026-01-02T03:04:05.5+05:30')), '2026-01-02 03:04:05.5 +0530 +0530');
  assert.equal(JSON.stringify({ t: new GoTime('2026-01-02T03:04:05Z') }), '{"t":"2026-01-02T03:04:05Z"}');
});

test('naturalLess is sortorder.NaturalLess', () => {
  const sorted = ['v10', 'v9', 'v09', 'a', 'B', 'v1a', 'v1', '10', '9x', '_x'].sort((a, b) => (naturalLess(a, b) ? -1 : naturalLess(b, a) ? 1 : 0));
  assert.deepEqual(sorted, ['9x', '10', 'B', '_x', 'a', 'v1', 'v1a', 'v9', 'v09', 'v10']);
});

test('volume and network rows: columns, N/A without usage data, JSON keys sorted, errors name the Go type', () => {
  const vol = { Name: 'v', Driver: 'local', Mountpoint: '/m', Scope: 'local', Labels: { b: '2', a: '1' }, Options: null };
  const vc = new VolumeContext(vol);
  assert.deepEqual([vc.Labels, vc.Label('b'), vc.Links, vc.Size, vc.Group, vc.Status], ['a=1,b=2', '2', 'N/A', 'N/A', 'N/A', 'N/A']);
  assert.deepEqual([new VolumeContext({ ...vol, UsageData: { Size: 1234567, RefCount: 2 } }).Size, new VolumeContext({ ...vol, UsageData: { Size: 0, RefCount: 2 } }).Links], ['1.235MB', '2']);
  assert.equal(renderContextRows('json', [vc], {}, ''), '{"Availability":"N/A","Driver":"local","Group":"N/A","Labels":"a=1,b=2","Links":"N/A","Mountpoint":"/m","Name":"v","Scope":"local","Size":"N/A","Status":"N/A"}\n');
  assert.throws(() => renderContextRows('{{.X}}', [vc], {}, ''), /^Error: template parsing error: template: :1:2: executing "" at <.X>: can't evaluate field X in type \*formatter.volumeContext$/);
  const n = { Name: 'n', Id: 'f'.repeat(64), Created: '2026-01-02T03:04:05Z', Scope: 'local', Driver: 'bridge', EnableIPv4: true, EnableIPv6: false, Internal: true, Labels: null } as never;
  const nc = new NetworkContext(n, true);
  assert.deepEqual([nc.ID, nc.IPv4, nc.IPv6, nc.Internal, nc.Labels, nc.CreatedAt], ['f'.repeat(12), 'true', 'false', 'true', '', '2026-01-02 03:04:05 +0000 UTC']);
  assert.equal(new NetworkContext(n, false).ID, 'f'.repeat(64));
  assert.deepEqual(Object.keys(JSON.parse(renderContextRows('json', [nc], {}, ''))), ['CreatedAt', 'Driver', 'ID', 'IPv4', 'IPv6', 'Internal', 'Labels', 'Name', 'Scope']);
});
