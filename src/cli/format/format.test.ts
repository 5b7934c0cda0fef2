import { test } from 'node:test';
import assert from 'node:assert/strict';
import { humanDuration, humanSizeWithPrecision, humanSize, bytesSize, parseGoDuration, parseRAM } from '../../base/units';
import { tabwrite } from './tabwriter';
import { ellipsis, renderRows, FormatError } from './formatter';
import { ContainerContext, CONTAINER_HEADERS, DEFAULT_PS_FORMAT, displayablePorts, imageRows, IMAGE_HEADERS, DEFAULT_IMAGES_FORMAT } from './contexts';
import type { ContainerSummary, ImageSummary } from '../../client/types';

test('humanDuration matches go-units', () => {
  const s = 1000, m = 60 * s, h = 60 * m, d = 24 * h;
  const cases: [number, string][] = [
    [0, 'Less than a second'], [999, 'Less than a second'], [s, '1 second'], [2 * s, '2 seconds'], [59 * s, '59 seconds'],
    [60 * s, 'About a minute'], [119 * s, 'About a minute'], [2 * m, '2 minutes'], [59 * m, '59 minutes'],
    [60 * m, 'About an hour'], [89 * m, 'About an hour'], [90 * m, '2 hours'], [47 * h, '47 hours'], [48 * h, '2 days'],
    [13 * d, '13 days'], [14 * d, '2 weeks'], [59 * d, '8 weeks'], [60 * d, '2 months'], [729 * d, '24 months'], [700 * d, '23 months'], [730 * d, '2 years'],
  ];
  for (const [ms, want] of cases) assert.equal(humanDuration(ms), want, `${ms}`);
});

test('sizes match go-units HumanSizeWithPrecision / BytesSize', () => {
  assert.equal(humanSizeWithPrecision(0, 3), '0B');
  assert.equal(humanSizeWithPrecision(1000, 3), '1kB');
  assert.equal(humanSizeWithPrecision(4_261_000, 3), '4.26MB');
  assert.equal(humanSizeWithPrecision(1_234_567_890, 3), '1.23GB');
  assert.equal(humanSizeWithPrecision(123_400, 3), '123kB');
  assert.equal(humanSizeWithPrecision(999_600, 3), '1e+03kB');
  assert.equal(humanSize(1_234_567), '1.235MB');
  assert.equal(bytesSize(1024 * 1024 * 1.5), '1.5MiB');
});

test('duration and RAM parsing', () => {
  assert.equal(parseGoDuration('1h30m'), 90 * 60_000);
  assert.equal(parseGoDuration('500ms'), 500);
  assert.throws(() => parseGoDuration('10x'));
  assert.equal(parseRAM('512m'), 512 * 1024 * 1024);
  assert.equal(parseRAM('1g'), 1024 ** 3);
});

test('tabwriter aligns like Go with minwidth 10 and padding 3', () => {
  assert.equal(tabwrite('A\tBB\tC\nlonger-cell-x\ty\tz'), 'A               BB        C\nlonger-cell-x   y         z');
  assert.equal(tabwrite('x\ty\n'), 'x         y\n');
});

test('ellipsis', () => {
  assert.equal(ellipsis('abcdef', 4), 'abc…');
  assert.equal(ellipsis('abc', 4), 'abc');
});

const summary = (over: Partial<ContainerSummary> = {}): ContainerSummary => ({
  Id: 'a'.repeat(64), Names: ['/web'], Image: 'busybox', ImageID: 'sha256:' + 'b'.repeat(64), Command: 'sh -c "sleep 1000 && echo done"',
  Created: Math.floor(Date.now() / 1000) - 5, Ports: [], Labels: { b: '2', a: '1' }, State: 'running', Status: 'Up 5 seconds', Mounts: [], ...over,
});

test('ps table: header names, truncation, quoting, created', () => {
  const out = renderRows(DEFAULT_PS_FORMAT, [new ContainerContext(summary(), true)], CONTAINER_HEADERS, DEFAULT_PS_FORMAT);
  const [head, row] = out.split('\n');
  assert.equal(head, "CONTAINER ID   IMAGE     COMMAND                   CREATED         STATUS         PORTS     NAMES");
  assert.equal(row, 'aaaaaaaaaaaa   busybox   "sh -c \\"sleep 1000 &…"   5 seconds ago   Up 5 seconds             web');
});

test('ps --format json, plain templates and Label', () => {
  const c = new ContainerContext(summary(), true);
  const json = JSON.parse(renderRows('json', [c], CONTAINER_HEADERS, DEFAULT_PS_FORMAT));
  assert.equal(json.ID, 'aaaaaaaaaaaa');
  assert.equal(json.Labels, 'a=1,b=2');
  assert.deepEqual(Object.keys(json), [...Object.keys(json)].sort());
  assert.equal(renderRows('{{.Names}} {{.Label "a"}}', [c], CONTAINER_HEADERS, ''), 'web 1\n');
  assert.equal(renderRows('table {{.Names}}\\t{{.State}}', [c], CONTAINER_HEADERS, ''), 'NAMES     STATE\nweb       running\n');
  assert.throws(() => renderRows('{{.Nope', [c], CONTAINER_HEADERS, ''), FormatError);
});

test('displayable ports group ranges and host mappings', () => {
  assert.equal(displayablePorts([
    { PrivatePort: 80, PublicPort: 8080, IP: '0.0.0.0', Type: 'tcp' },
    { PrivatePort: 443, Type: 'tcp' }, { PrivatePort: 444, Type: 'tcp' },
    { PrivatePort: 53, PublicPort: 53, IP: '0.0.0.0', Type: 'udp' },
  ]), '0.0.0.0:53->53/udp, 443-444/tcp, 0.0.0.0:8080->80/tcp');
});

test('images rows: one per tag, <none> for dangling, sizes and ids', () => {
  const img = (o: Partial<ImageSummary>): ImageSummary => ({ Id: 'sha256:' + 'c'.repeat(64), ParentId: '', RepoTags: [], RepoDigests: [], Created: Math.floor(Date.now() / 1000) - 120, Size: 4_261_000, SharedSize: -1, Labels: null, Containers: -1, ...o });
  const rows = imageRows([img({ RepoTags: ['busybox:latest', 'busybox:1'] }), img({ RepoTags: null, RepoDigests: null })], { digests: false, trunc: true });
  const out = renderRows(DEFAULT_IMAGES_FORMAT, rows, IMAGE_HEADERS, DEFAULT_IMAGES_FORMAT).split('\n');
  assert.equal(out[0], 'REPOSITORY   TAG       IMAGE ID       CREATED         SIZE');
  assert.equal(out[1], 'busybox      latest    cccccccccccc   2 minutes ago   4.26MB');
  assert.equal(out[2], 'busybox      1         cccccccccccc   2 minutes ago   4.26MB');
  assert.equal(out[3], '<none>       <none>    cccccccccccc   2 minutes ago   4.26MB');
});

test('table headers as docker\'s: Label "a.b-c" titles "b c", header functions leave titles alone, header errors keep what came before', () => {
  const rows = [{ Name: 'x', Label: (k: string) => (k === 'a.b-c' ? 'v' : '') }];
  assert.equal(renderRows('table {{.Name}}\t{{.Label "a.b-c"}}', rows, { Name: 'NAME' }, ''), 'NAME      b c\nx         v\n');
  assert.equal(renderRows('table {{lower .Name}}\t{{json .Name}}', [{ Name: 'X' }], { Name: 'NAME' }, ''), 'NAME      NAME\nx         "X"\n');
  assert.equal(renderRows('table {{.Name}}\t{{.Obj.Foo}}', [{ Name: 'X', Obj: { Foo: 'f' } }], { Name: 'NAME' }, ''), 'NAME      \nX         f\n');
});
