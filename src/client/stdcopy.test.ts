import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { frame, StdcopyDemuxer, STDERR, STDOUT, SYSTEMERR } from './stdcopy';

async function demux(chunks: Buffer[]): Promise<{ out: string; err: string; sys: string }> {
  const out = new PassThrough(), err = new PassThrough();
  let o = '', e = '', sys = '';
  out.on('data', (d) => { o += d; });
  err.on('data', (d) => { e += d; });
  const d = new StdcopyDemuxer(out, err, (t) => { sys += t; });
  for (const c of chunks) d.write(c);
  await new Promise<void>((resolve) => d.end(resolve));
  return { out: o, err: e, sys };
}

test('demultiplexes stdout and stderr frames', async () => {
  const r = await demux([Buffer.concat([frame(STDOUT, 'hello '), frame(STDERR, 'oops'), frame(STDOUT, 'world')])]);
  assert.deepEqual(r, { out: 'hello world', err: 'oops', sys: '' });
});

test('frames split across chunks at any byte, including inside the header', async () => {
  const all = Buffer.concat([frame(STDOUT, 'abc'), frame(STDERR, ''), frame(STDERR, 'de'), frame(SYSTEMERR, 'bad')]);
  for (let cut = 1; cut < all.length; cut++) {
    const r = await demux([all.subarray(0, cut), all.subarray(cut)]);
    assert.deepEqual(r, { out: 'abc', err: 'de', sys: 'bad' }, `cut at ${cut}`);
  }
  const bytes = [...all].map((b) => Buffer.from([b]));
  assert.deepEqual(await demux(bytes), { out: 'abc', err: 'de', sys: 'bad' });
});

test('large payloads (> 64 KiB) pass intact', async () => {
  const big = 'x'.repeat(200_000);
  assert.equal((await demux([frame(STDOUT, big)])).out.length, big.length);
});
