import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseFlags } from '../flags';
import { goMarshal } from '../format/go-values';
import { renderContextRows } from '../format/formatter';
import { VOLUME_HEADERS, DEFAULT_VOLUME_FORMAT } from '../format/contexts';
import { commands, volumeCreateRequest, volumeListing, volumePrunePlan, volumeView } from './volume';
import type { Volume } from '../../client/types';

const parse = (cmd: string, argv: string[]) => parseFlags(commands[cmd].spec, argv);

// The bodies below are what docker CLI 28 sends for the same flags (captured from its requests).
test('volume create: flags to the VolumeCreate body', () => {
  assert.deepEqual(volumeCreateRequest(parse('create', [])), { Driver: 'local' });
  assert.deepEqual(JSON.stringify(volumeCreateRequest(parse('create', ['-d', 'local', '--label', 'a=b', '-o', 'type=tmpfs', '-o', 'device=tmpfs', '--label', 'c', 'v1']))),
    '{"Driver":"local","DriverOpts":{"type":"tmpfs","device":"tmpfs"},"Labels":{"a":"b","c":""},"Name":"v1"}');
  assert.deepEqual(volumeCreateRequest(parse('create', ['--name', 'n'])), { Driver: 'local', Name: 'n' });
  assert.throws(() => volumeCreateRequest(parse('create', ['--name', 'n', 'm'])), /conflicting options: cannot specify a volume-name through both --name and as a positional arg/);
  assert.throws(() => parse('create', ['--label', '=x']), /invalid argument "=x" for "--label" flag: invalid label '=x': empty name/);
  // Cluster options make a ClusterVolumeSpec (a swarm engine's); --secret alone does not (docker checks "secrets").
  const cluster = volumeCreateRequest(parse('create', ['--group', 'g', '--type', 'mount', '--required-bytes', '1k', '--secret', 'b=2', '--secret', 'a=1', '--topology-required', 'region=r1,zone=z', 'cv']));
  assert.deepEqual(cluster.ClusterVolumeSpec, {
    Group: 'g', AccessMode: { Scope: 'single', Sharing: 'none', MountVolume: {} }, AccessibilityRequirements: { Requisite: [{ Segments: { region: 'r1', zone: 'z' } }] },
    CapacityRange: { RequiredBytes: 1024 }, Secrets: [{ Key: 'a', Secret: '1' }, { Key: 'b', Secret: '2' }], Availability: 'active',
  });
  assert.equal(volumeCreateRequest(parse('create', ['--secret', 'a=1'])).ClusterVolumeSpec, undefined);
});

const vol = (name: string, over: Partial<Volume> = {}): Volume => ({ Name: name, Driver: 'local', Mountpoint: `/v/${name}`, Scope: 'local', Labels: {}, Options: null, CreatedAt: '2026-01-01T00:00:00Z', ...over });

test('volume ls: natural name order, default table, -q, raw, custom formats', () => {
  const vols = [vol('v10'), vol('v9'), vol('a')];
  const out = (format: string, quiet = false) => { const l = volumeListing(vols, { format, quiet, cluster: false }); return renderContextRows(l.format, l.rows, VOLUME_HEADERS, DEFAULT_VOLUME_FORMAT); };
  assert.equal(out(''), 'DRIVER    VOLUME NAME\nlocal     a\nlocal     v9\nlocal     v10\n');
  assert.equal(out('', true), 'a\nv9\nv10\n');
  assert.equal(out('{{.Driver}}', true), 'local\nlocal\nlocal\n', 'a format wins over -q');
  assert.equal(out('raw', true), 'name: a\nname: v9\nname: v10\n');
  assert.equal(volumeListing(vols, { format: '', quiet: false, cluster: true }).rows.length, 0);
});

test('volume inspect: the Go volume.Volume, marshalled with its tags', () => {
  const v = volumeView(vol('v', { Labels: { b: '<2>', a: '1' }, Options: null }));
  assert.equal(goMarshal([v], '    '), `[
    {
        "CreatedAt": "2026-01-01T00:00:00Z",
        "Driver": "local",
        "Labels": {
            "a": "1",
            "b": "\\u003c2\\u003e"
        },
        "Mountpoint": "/v/v",
        "Name": "v",
        "Options": null,
        "Scope": "local"
    }
]`);
  assert.equal(goMarshal(volumeView(vol('u', { UsageData: { Size: 5, RefCount: 1 } }))), '{"CreatedAt":"2026-01-01T00:00:00Z","Driver":"local","Labels":{},"Mountpoint":"/v/u","Name":"u","Options":null,"Scope":"local","UsageData":{"RefCount":1,"Size":5}}');
});

test('volume prune: -a is the all=true filter; a conflicting all filter is refused', () => {
  assert.deepEqual(volumePrunePlan(parse('prune', [])), { filters: [], warning: 'WARNING! This will remove anonymous local volumes not used by at least one container.' });
  assert.deepEqual(volumePrunePlan(parse('prune', ['-a', '--filter', 'label=x'])), { filters: ['label=x', 'all=true'], warning: 'WARNING! This will remove all local volumes not used by at least one container.' });
  assert.throws(() => volumePrunePlan(parse('prune', ['-a', '--filter', 'all=0'])), /conflicting options: cannot specify both --all and --filter all=1/);
  assert.throws(() => parse('prune', ['--filter', 'x']), /invalid argument "x" for "--filter" flag: bad format of filter \(expected name=value\)/);
});
