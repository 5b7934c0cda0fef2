import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FdWriter } from './fd-writer';

test('FdWriter: chunks land in order at their offsets, however they were batched; write asks to wait past maxBuffered', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-fdw-'));
  try {
    const file = join(dir, 'f');
    writeFileSync(file, 'HEADER--');
    const fd = openSync(file, 'r+');
    const out = new FdWriter(fd, { position: 8, maxBuffered: 100_000, syncBehind: 50_000 });
    const chunks = Array.from({ length: 3000 }, (_, i) => Buffer.alloc(1 + (i % 97), i % 251));
    let waits = 0;
    for (const c of chunks) {
      const w = out.write(c);
      if (w) { waits++; await w; }
    }
    await out.sync();
    closeSync(fd);
    assert.ok(waits > 0);
    assert.equal(out.written, chunks.reduce((n, c) => n + c.length, 0));
    assert.ok(readFileSync(file).equals(Buffer.concat([Buffer.from('HEADER--'), ...chunks])));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('FdWriter: a write error is thrown by flush and by later writes; settle does not throw', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-fdw-'));
  try {
    writeFileSync(join(dir, 'ro'), '');
    const fd = openSync(join(dir, 'ro'), 'r'); // writes fail with EBADF
    try {
      const out = new FdWriter(fd);
      assert.equal(out.write(Buffer.from('x')), undefined);
      await out.settle();
      await assert.rejects(out.flush(), /EBADF/);
      await assert.rejects(out.write(Buffer.from('y'))!, /EBADF/);
    } finally {
      closeSync(fd);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
