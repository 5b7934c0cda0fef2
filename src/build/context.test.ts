import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { BuildContext, isTarHeader, LayerWriter } from './context';
import { DockerIgnore } from '../base/dockerignore';
import { encodeTarHeader, readTar, TAR_END, type TarHeader } from '../archive/tar-codec';

const hdr = (name: string, type: TarHeader['type'], extra: Partial<TarHeader> = {}): TarHeader => ({
  name, type, mode: type === 'directory' ? 0o755 : 0o644, uid: 0, gid: 0, size: 0, mtime: 0, linkname: '', devmajor: 0, devminor: 0, xattrs: new Map(), ...extra,
});

function ctxOf(files: Record<string, string>): BuildContext {
  const c = new BuildContext();
  for (const [k, v] of Object.entries(files)) c.addFile(k, Buffer.from(v), 0o644);
  return c;
}

async function members(tar: Iterable<Buffer>): Promise<string[]> {
  const out: string[] = [];
  for await (const e of readTar(Readable.from(tar))) {
    for await (const _ of e.body) { /* drain */ }
    out.push(`${e.header.name.replace(/\/$/, '')}${e.header.type === 'directory' ? '/' : ''} ${e.header.mode.toString(8)} ${e.header.uid}:${e.header.gid}`);
  }
  return out;
}

describe('COPY layers', () => {
  test('--exclude is matched below each directory source, and on a file source\'s base name', async () => {
    const c = ctxOf({ 'd/a.txt': '', 'd/b.md': '', 'd/sub/c.md': '', 'top.md': '', 'top.txt': '' });
    const w = new LayerWriter();
    const ex = new DockerIgnore(['*.md']);
    w.source(c, 'd', '/dst', false, ex);
    w.source(c, 'top.md', '/dst/', true, ex);
    w.source(c, 'top.txt', '/dst/', true, ex);
    const names = (await members(w.finish().chunks)).map((m) => m.split(' ')[0]);
    assert.deepEqual(names, ['dst/', 'dst/a.txt', 'dst/sub/', 'dst/sub/c.md', 'dst/top.txt']);
  });
  test('--parents keeps paths below the pivot', () => {
    const c = ctxOf({ 'x/y/a.txt': '', 'x/y/b.txt': '', 'x/z/c.txt': '' });
    assert.deepEqual(c.parentsSources('x/y/a.txt').map((p) => p.rel), ['x/y/a.txt']);
    assert.deepEqual(c.parentsSources('x/./y/a.txt').map((p) => [p.pivot, p.rel]), [['x', 'y/a.txt']]);
    assert.deepEqual(c.parentsSources('x/*/*.txt').map((p) => p.rel), ['x/y/a.txt', 'x/y/b.txt', 'x/z/c.txt']);
    assert.deepEqual(c.parentsSources('./x/./*/b.txt').map((p) => p.rel), ['y/b.txt']);
    assert.throws(() => c.parentsSources('../x/./y'), /outside the build context/);
  });
  test('--chmod and --chown apply to what is copied, not to the parents made for it; hardlinks become copies', async () => {
    const c = ctxOf({ 'f': 'data' });
    c.entries.set('h', { header: hdr('h', 'link', { linkname: 'f' }), data: Buffer.alloc(0) });
    const w = new LayerWriter({ uid: 7, gid: 8, mode: () => 0o600 });
    w.source(c, 'f', '/a/b/f', false);
    w.source(c, 'h', '/a/b/h', false);
    assert.deepEqual(await members(w.finish().chunks), ['a/ 755 0:0', 'a/b/ 755 0:0', 'a/b/f 600 7:8', 'a/b/h 600 7:8']);
  });
  test('the digest names the content: data and metadata count, where the data came from does not', () => {
    const digest = (files: Record<string, string>, mtime = 0) => {
      const c = ctxOf(files);
      for (const e of c.entries.values()) e.header.mtime = mtime;
      const w = new LayerWriter();
      w.source(c, '', '/', true);
      return w.finish().digest;
    };
    const a = digest({ 'x/f': 'one', g: 'two' });
    assert.equal(digest({ 'x/f': 'one', g: 'two' }), a);
    assert.notEqual(digest({ 'x/f': 'onE', g: 'two' }), a);
    assert.notEqual(digest({ 'x/f': 'one', g: 'two' }, 5), a);
    assert.notEqual(digest({ 'x/f': 'one', h: 'two' }), a);
  });
  test('tar headers are recognised by their checksum', () => {
    const block = encodeTarHeader(hdr('x', 'file', { size: 0 }));
    assert.ok(isTarHeader(block.subarray(0, 512)));
    assert.ok(!isTarHeader(Buffer.alloc(512)));
    assert.ok(!isTarHeader(Buffer.alloc(512, 'a')));
    assert.ok(!isTarHeader(TAR_END.subarray(0, 512)));
  });
});
