import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { bufferSource, LogSource, seekSince, tailStart, timeKey, dateKey, backOverPartials } from './log-seek';
import { markLog, readLogs, readSinceMark, rotatedLogNames } from './logs';
import type { LogReadOptions } from './runtime';

const T0 = Date.parse('2024-05-01T10:00:00Z');

/** conmon's timestamp text for T0 + i ms, with a nanosecond part and the +00:00 offset it writes. */
function ts(ms: number, ns = 0): string {
  const d = new Date(T0 + ms);
  const frac = String(d.getUTCMilliseconds()).padStart(3, '0') + String(ns).padStart(6, '0');
  return `${d.toISOString().slice(0, 19)}.${frac}+00:00`;
}

function line(ms: number, text: string, o: { stream?: string; partial?: boolean } = {}): string {
  return `${ts(ms)} ${o.stream ?? 'stdout'} ${o.partial ? 'P' : 'F'} ${text}\n`;
}

/** A LogSource that counts the bytes read through it. */
function counting(data: Buffer): LogSource & { bytes: number } {
  const inner = bufferSource(data);
  const src = { bytes: 0, size: inner.size, read: async (b: Buffer, pos: number) => { const n = await inner.read(b, pos); src.bytes += n; return n; } };
  return src;
}

async function collect(path: string, o: Partial<LogReadOptions> = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readLogs(path, { follow: false, ...o })) out.push(e.data.toString());
  return out;
}

test('log seek: since finds the first record at or after the time by binary search, reading little', async () => {
  // 300k records, ~17 MB; times 10 ms apart with runs of equal times (conmon stamps a whole read alike).
  const parts: string[] = [];
  for (let i = 0; i < 300_000; i++) parts.push(line(Math.floor(i / 3) * 10, `line ${i} ${'x'.repeat(i % 37)}`));
  const data = Buffer.from(parts.join(''));
  const offsets: number[] = [];
  for (let i = 0, off = 0; i < parts.length; off += Buffer.byteLength(parts[i]), i++) offsets.push(off);
  for (const target of [0, 5, 10, 123_450, 999_990, 999_995, 2_000_000]) {
    const src = counting(data);
    const since = dateKey(new Date(T0 + target));
    const got = await seekSince(src, since);
    const want = parts.findIndex((_, i) => Math.floor(i / 3) * 10 >= target);
    assert.equal(got, want < 0 ? data.length : offsets[want], `since +${target}ms`);
    assert.ok(src.bytes < 300_000, `since +${target}ms read ${src.bytes} of ${data.length} bytes`);
  }
  // nanoseconds count
  const fine = Buffer.from(`${ts(0, 100)} stdout F a\n${ts(0, 200)} stdout F b\n`);
  assert.equal(await seekSince(bufferSource(fine), timeKey(ts(0, 150))!), fine.indexOf('\n') + 1);
  // malformed lines are stepped over
  const messy = Buffer.from(`garbage\n${line(0, 'a')}\n\n${line(20, 'b')}`);
  assert.equal(await seekSince(bufferSource(messy), dateKey(new Date(T0 + 10))), messy.indexOf(ts(20)));
});

test('log seek: a split line is read whole from its first part', async () => {
  const data = Buffer.from(line(0, 'a') + line(10, 'par', { partial: true }) + line(20, 'tial') + line(30, 'b'));
  const at = await seekSince(bufferSource(data), dateKey(new Date(T0 + 15)));
  assert.equal(at, data.indexOf(ts(20)));
  assert.equal(await backOverPartials(bufferSource(data), at), data.indexOf(ts(10)));
});

test('log seek: tail counts whole entries backwards and says how many the older file owes', async () => {
  const data = Buffer.from(line(0, 'one') + line(1, 'tw', { partial: true }) + line(2, 'o') + line(3, 'three'));
  const src = bufferSource(data);
  assert.deepEqual(await tailStart(src, 0), { offset: data.length, remaining: 0, complete: true });
  assert.deepEqual(await tailStart(src, 1), { offset: data.indexOf(ts(3)), remaining: 0, complete: true });
  assert.deepEqual(await tailStart(src, 2), { offset: data.indexOf(ts(1)), remaining: 0, complete: true });
  assert.deepEqual(await tailStart(src, 3), { offset: 0, remaining: 0, complete: false });
  assert.deepEqual(await tailStart(src, 5), { offset: 0, remaining: 2, complete: false });
  // a 200k-line file: the last 10 without reading it all
  const big = counting(Buffer.from(Array.from({ length: 200_000 }, (_, i) => line(i, `n${i}`)).join('')));
  const r = await tailStart(big, 10);
  assert.equal(r.complete, true);
  assert.ok(big.bytes <= 64 * 1024 + 640, `read ${big.bytes}`);
});

test('logs: rotated files are read oldest first; tail and since span files; .gz files too', async () => {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'brt-logrot-'));
  const path = join(dir, 'c-json.log');
  try {
    const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => line((from + i) * 10, `l${from + i}`)).join('');
    await fsp.writeFile(`${path}.3.gz`, gzipSync(lines(0, 10)));
    await fsp.writeFile(`${path}.2`, lines(10, 20));
    // a line split across a rotation
    await fsp.writeFile(`${path}.1`, lines(20, 30) + line(300, 'spl', { partial: true }));
    await fsp.writeFile(path, line(301, 'it') + lines(31, 40));
    await fsp.writeFile(join(dir, 'unrelated.1'), 'x');
    assert.deepEqual(rotatedLogNames('c-json.log', await fsp.readdir(dir)), ['c-json.log.3.gz', 'c-json.log.2', 'c-json.log.1']);
    const all = await collect(path);
    assert.equal(all.length, 40);
    assert.deepEqual(all.slice(0, 2), ['l0\n', 'l1\n']);
    assert.equal(all[30], 'split\n');
    assert.deepEqual(await collect(path, { tail: 12 }), all.slice(28));
    assert.deepEqual(await collect(path, { tail: 10 }), all.slice(30));
    assert.deepEqual(await collect(path, { tail: 25 }), all.slice(15));
    assert.deepEqual(await collect(path, { tail: 1000 }), all);
    assert.deepEqual(await collect(path, { since: new Date(T0 + 55) }), all.slice(6));
    assert.deepEqual(await collect(path, { since: new Date(T0 + 301) }), all.slice(31), 'the split line began before since');
    assert.deepEqual(await collect(path, { since: new Date(T0 + 95), until: new Date(T0 + 125) }), ['l10\n', 'l11\n', 'l12\n']);
    assert.deepEqual(await collect(path, { since: new Date(T0 + 150), tail: 30 }), all.slice(15));
    assert.deepEqual(await collect(path, { since: new Date(T0 + 150), tail: 3 }), all.slice(37));
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('logs: a large generated log: --since and --tail start at the right lines', async () => {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'brt-logbig-'));
  const path = join(dir, 'big.log');
  try {
    // ~64 MB in one file: 1M records 1 ms apart.
    const fh = await fsp.open(path, 'w');
    const N = 1_000_000;
    for (let i = 0; i < N; i += 50_000) {
      await fh.write(Array.from({ length: 50_000 }, (_, j) => line(i + j, `record ${i + j} ${'.'.repeat(20)}`)).join(''));
    }
    await fh.close();
    const first = async (o: Partial<LogReadOptions>, n: number) => {
      const out: string[] = [];
      for await (const e of readLogs(path, { follow: false, ...o })) { out.push(e.data.toString().split(' ')[1]); if (out.length === n) break; }
      return out;
    };
    assert.deepEqual(await first({ since: new Date(T0 + 876_543) }, 3), ['876543', '876544', '876545']);
    assert.deepEqual(await first({ since: new Date(T0 + 1) }, 2), ['1', '2']);
    assert.deepEqual(await first({ tail: 3 }, 3), ['999997', '999998', '999999']);
    assert.deepEqual(await first({ since: new Date(T0 + N + 5) }, 1), []);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('logs: without follow, the log is read as it was when asked (a fast writer cannot keep it going)', async () => {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'brt-logsnap-'));
  const path = join(dir, 's.log');
  try {
    await fsp.writeFile(path, line(0, 'a') + line(1, 'b') + line(2, 'c'));
    const got: string[] = [];
    for await (const e of readLogs(path, { follow: false, tail: 2 })) {
      got.push(e.data.toString());
      await fsp.appendFile(path, line(3, 'more'.repeat(100_000)));
    }
    assert.deepEqual(got, ['b\n', 'c\n']);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('logs: follow goes on across rotations, also when it fell two rotations behind', async () => {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'brt-logfol-'));
  const path = join(dir, 'f.log');
  try {
    await fsp.writeFile(path, line(0, 'a'));
    let stop!: () => void;
    const stopWhen = new Promise<void>((r) => { stop = r; });
    const got: string[] = [];
    const follower = (async () => { for await (const e of readLogs(path, { follow: true, stopWhen })) got.push(e.data.toString()); })();
    await new Promise((r) => setTimeout(r, 100));
    await fsp.appendFile(path, line(10, 'b'));
    // one rotation: rename away, conmon makes a new file
    await fsp.rename(path, `${path}.1`);
    await fsp.writeFile(path, line(20, 'c'));
    await new Promise((r) => setTimeout(r, 400));
    // two at once, the middle one compressed before the follower looks
    await fsp.appendFile(path, line(30, 'd'));
    await fsp.rename(`${path}.1`, `${path}.2`);
    await fsp.rename(path, `${path}.1`);
    await fsp.writeFile(path, line(40, 'e'));
    await fsp.rename(`${path}.2`, `${path}.3`);
    await fsp.rename(`${path}.1`, `${path}.2`);
    await fsp.writeFile(`${path}.2.gz`, gzipSync(await fsp.readFile(`${path}.2`)));
    await fsp.rm(`${path}.2`);
    await fsp.rename(path, `${path}.1`);
    await fsp.writeFile(path, line(50, 'f'));
    await new Promise((r) => setTimeout(r, 400));
    stop();
    await follower;
    assert.deepEqual(got, ['a\n', 'b\n', 'c\n', 'd\n', 'e\n', 'f\n']);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});

test('logs: attach recovery reads what was written since a mark, across one rotation', async () => {
  const dir = await fsp.mkdtemp(join(tmpdir(), 'brt-logmark-'));
  const path = join(dir, 'm.log');
  try {
    await fsp.writeFile(path, line(0, 'before'));
    const mark = (await markLog(path))!;
    await fsp.appendFile(path, line(1, 'after'));
    assert.equal((await readSinceMark(mark))!.toString(), line(1, 'after'));
    await fsp.rename(path, `${path}.1`);
    await fsp.writeFile(path, line(2, 'new'));
    assert.equal((await readSinceMark(mark))!.toString(), line(1, 'after') + line(2, 'new'));
    await fsp.rename(`${path}.1`, `${path}.2`);
    assert.equal(await readSinceMark(mark), undefined);
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
});
