import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { readTar } from './tar-codec';
import { collect, makeTar } from './testing/make-tar';
import { isKind } from '../base/errors';

async function names(buf: Buffer): Promise<Array<[string, string]>> {
  const out: Array<[string, string]> = [];
  for await (const e of readTar(Readable.from([buf]))) {
    const chunks: Buffer[] = [];
    for await (const c of e.body) chunks.push(c);
    out.push([e.header.name, Buffer.concat(chunks).toString()]);
  }
  return out;
}

test('a stream that stops right after the last entry data ends cleanly (docker CLI build contexts)', async () => {
  const full = await collect(makeTar([{ name: 'a.txt', content: 'first\n' }, { name: '.dockerignore', content: 'x\n' }]));
  // Header, header, data of the second entry: cut after its 2 data bytes (no padding, no end blocks).
  const cut = full.subarray(0, 512 + 512 + 512 + 2);
  assert.deepEqual(await names(cut), [['a.txt', 'first\n'], ['.dockerignore', 'x\n']]);
});

test('an entry whose data is cut short is still an error', async () => {
  const full = await collect(makeTar([{ name: 'a.txt', content: 'first line\n' }]));
  await assert.rejects(names(full.subarray(0, 512 + 4)), (e) => isKind(e, 'InvalidArgument'));
});
