import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DockerIgnore } from '../base/dockerignore';
import { applyMembers } from '../archive/apply-tar';
import { FileDigestCache, readContextDir } from './context-dir';
import { LayerWriter } from './context';

describe('context directory files copied file to file', () => {
  const dir = mkdtempSync('/tmp/berth-ctxdir-');
  after(() => rmSync(dir, { recursive: true, force: true }));
  const big = Buffer.alloc(1 << 20, 'x');

  const contextOf = async (name: string) => {
    const path = join(dir, name);
    mkdirSync(path);
    writeFileSync(join(path, 'big.bin'), big);
    const st = statSync(path);
    return { path, ctx: await readContextDir({ path, dev: st.dev, ino: st.ino }, new DockerIgnore([]), new FileDigestCache()) };
  };

  test('a big file is applied by copy, with the layer\'s owner, mode and mtime', async () => {
    const { ctx } = await contextOf('copy');
    const w = new LayerWriter({ uid: 7, gid: 8, mode: () => 0o600 });
    w.source(ctx, 'big.bin', '/dst/', true);
    const dest = join(dir, 'copy-root');
    mkdirSync(dest);
    const { size } = await applyMembers(w.finish().members, dest, { whiteouts: 'overlay' });
    assert.equal(size, big.length);
    assert.deepEqual(readFileSync(join(dest, 'dst/big.bin')), big);
    const st = lstatSync(join(dest, 'dst/big.bin'));
    assert.deepEqual([st.uid, st.gid, st.mode & 0o7777], [7, 8, 0o600]);
    assert.equal(Math.floor(st.mtimeMs / 1000), Math.floor(statSync(join(dir, 'copy', 'big.bin')).mtimeMs / 1000));
  });

  test('a file changed after the walk fails the copy instead of copying other data', async () => {
    const { path, ctx } = await contextOf('changed');
    writeFileSync(join(path, 'big.bin'), Buffer.alloc(1 << 20, 'y'));
    const dest = join(dir, 'changed-root');
    mkdirSync(dest);
    await assert.rejects(ctx.entry('big.bin')!.copyTo!(join(dest, 'big.bin')), /big.bin changed during the build/);
  });

  test('the copy never writes through a symlink or over a file at its destination', async () => {
    const { ctx } = await contextOf('links');
    const outside = join(dir, 'outside');
    writeFileSync(outside, 'keep');
    symlinkSync(outside, join(dir, 'link'));
    await assert.rejects(ctx.entry('big.bin')!.copyTo!(join(dir, 'link')), /EEXIST/);
    await assert.rejects(ctx.entry('big.bin')!.copyTo!(outside), /EEXIST/);
    assert.equal(readFileSync(outside, 'utf8'), 'keep');
  });
});
