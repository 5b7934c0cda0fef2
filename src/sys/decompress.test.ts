import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { isKind } from '../base/errors';
import { decompressStream, detectCompression } from './decompress';

async function collect(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('decompresses gzip, bzip2, xz, zstd and passes plain data through', async () => {
  const data = randomBytes(200_000);
  const inputs: Array<[string, Buffer]> = [
    ['none', data], ['gzip', gzipSync(data)], ['bzip2', execFileSync('bzip2', ['-c'], { input: data })],
    ['xz', execFileSync('xz', ['-c'], { input: data })], ['zstd', execFileSync('zstd', ['-c', '-q'], { input: data })],
  ];
  for (const [kind, input] of inputs) {
    assert.equal(detectCompression(input), kind === 'none' ? detectCompression(data) : kind);
    // Many small chunks: the magic-byte sniffing must cope with a split header.
    const chunks = [...Array(Math.ceil(input.length / 3000)).keys()].map((i) => input.subarray(i * 3000, (i + 1) * 3000));
    chunks.unshift(chunks[0].subarray(0, 1)); chunks[1] = chunks[1].subarray(1);
    assert.ok((await collect(decompressStream(Readable.from(chunks)))).equals(data), kind);
  }
  assert.equal((await collect(decompressStream(Readable.from([Buffer.from('ab')])))).toString(), 'ab');
  assert.equal((await collect(decompressStream(Readable.from([])))).length, 0);
});

test('corrupt input is InvalidArgument; input errors propagate', async () => {
  const xz = execFileSync('xz', ['-c'], { input: randomBytes(100_000) });
  await assert.rejects(collect(decompressStream(Readable.from([xz.subarray(0, 2000)]))), (e) => isKind(e, 'InvalidArgument'));
  await assert.rejects(collect(decompressStream(Readable.from([Buffer.from([0x1f, 0x8b, 9, 9, 9, 9, 9])]))), (e) => isKind(e, 'InvalidArgument'));
  const failing = new Readable({ read() { this.destroy(new Error('boom')); } });
  await assert.rejects(collect(decompressStream(failing)), /boom/);
});
