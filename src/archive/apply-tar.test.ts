import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync, linkSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isKind } from '../base/errors';
import { nativeSys } from '../sys/native';
import { applyTar, normalizeMemberName } from './apply-tar';
import { packDir } from './pack-dir';
import { readTar } from './tar-codec';
import { makeTar, type TestMember } from './testing/make-tar';

let box: string; // holds dest/ and outside/, so escapes are visible
let dest: string;
let outside: string;

beforeEach(() => {
  box = mkdtempSync(join(tmpdir(), 'berth-archive-'));
  dest = join(box, 'dest');
  outside = join(box, 'outside');
  mkdirSync(dest);
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'secret');
});
afterEach(() => rmSync(box, { recursive: true, force: true }));

const apply = (members: TestMember[], whiteouts: 'overlay' | 'delete' | 'none' = 'none') => applyTar(makeTar(members), dest, { whiteouts });
const invalid = (e: unknown) => isKind(e, 'InvalidArgument');

describe('applyTar rejects archives that escape', () => {
  it('../../etc/x', async () => {
    await assert.rejects(apply([{ name: '../../outside/x', content: 'x' }]), invalid);
    assert.equal(existsSync(join(outside, 'x')), false);
  });

  it('a/../../x', async () => {
    await assert.rejects(apply([{ name: 'a/../../outside/x', content: 'x' }]), invalid);
  });

  it('absolute /etc/x stays inside', async () => {
    await apply([{ name: '/etc/x', content: 'x' }]);
    assert.equal(readFileSync(join(dest, 'etc/x'), 'utf8'), 'x');
  });

  it('symlink a -> / then a/etc/x lands inside the root', async () => {
    await apply([{ name: 'a', type: 'symlink', linkname: '/' }, { name: 'a/etc/x', content: 'x' }]);
    assert.equal(readFileSync(join(dest, 'etc/x'), 'utf8'), 'x');
    assert.equal(readlinkSync(join(dest, 'a')), '/');
  });

  it('symlink to the real outside dir (absolute host path) then a write through it', async () => {
    // Resolved in scope: dest/<outside path> does not exist, so the member is refused.
    await apply([{ name: 'a', type: 'symlink', linkname: outside }, { name: 'a/secret', content: 'pwned' }]).catch((e) => assert.ok(invalid(e)));
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret');
  });

  it('symlink chains of .. are refused or kept inside', async () => {
    await assert.rejects(apply([{ name: 'up', type: 'symlink', linkname: '../..' }, { name: 'up/outside/x', content: 'x' }]), invalid);
    // a chain of in-scope links each climbing one level: resolved as if dest were /
    await apply([
      { name: 'd/', type: 'directory' },
      { name: 'd/l1', type: 'symlink', linkname: '..' },
      { name: 'd/l1/l2', type: 'symlink', linkname: '/d/l1' },
      { name: 'd/l1/l2/x', content: 'x' },
    ]);
    assert.equal(existsSync(join(outside, 'x')), false);
    assert.equal(readFileSync(join(dest, 'x'), 'utf8'), 'x');
  });

  it('a pre-existing symlink in the destination pointing outside is not followed out', async () => {
    symlinkSync(outside, join(dest, 'evil'));
    await apply([{ name: 'evil/secret', content: 'pwned' }]).catch(() => undefined);
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret');
  });

  it('hardlinks to /etc/passwd and ../outside', async () => {
    const before = statSync('/etc/passwd').nlink;
    await assert.rejects(apply([{ name: 'p', type: 'link', linkname: '/etc/passwd' }]), invalid);
    assert.equal(statSync('/etc/passwd').nlink, before);
    await assert.rejects(apply([{ name: 'q', type: 'link', linkname: '../outside/secret' }]), invalid);
    assert.equal(statSync(join(outside, 'secret')).nlink, 1);
  });

  it('hardlinks through a symlink are refused', async () => {
    symlinkSync(outside, join(dest, 'out'));
    await assert.rejects(apply([{ name: 'h', type: 'link', linkname: 'out/secret' }]), invalid);
    assert.equal(statSync(join(outside, 'secret')).nlink, 1);
  });

  it('whiteout names with ..', async () => {
    await assert.rejects(apply([{ name: '.wh...' }], 'overlay'), invalid);
    await assert.rejects(apply([{ name: '../.wh.outside' }], 'overlay'), invalid);
    assert.ok(existsSync(join(outside, 'secret')));
  });

  it('normalises names', () => {
    assert.equal(normalizeMemberName('./a/b/'), 'a/b');
    assert.equal(normalizeMemberName('/a//b'), 'a/b');
    assert.equal(normalizeMemberName('./'), '');
    assert.throws(() => normalizeMemberName('a/../../b'), invalid);
  });
});

describe('applyTar restores metadata', () => {
  it('owners, modes, mtimes, devices, fifos, xattrs, hardlinks', async () => {
    const { size } = await apply([
      { name: 'd/', type: 'directory', mode: 0o1777, uid: 1000, gid: 1001, mtime: new Date(1_500_000_000_000) },
      { name: 'd/suid', content: 'abc', mode: 0o4755, uid: 0, gid: 0 },
      { name: 'd/hl', type: 'link', linkname: 'd/suid' },
      { name: 'null', type: 'character-device', devmajor: 1, devminor: 3, mode: 0o666 },
      { name: 'fifo', type: 'fifo', mode: 0o600 },
      { name: 's', type: 'symlink', linkname: 'd/suid', uid: 5, gid: 6 },
    ]);
    assert.equal(size, 3);
    const d = lstatSync(join(dest, 'd'));
    assert.equal(d.mode & 0o7777, 0o1777);
    assert.equal(d.uid, 1000);
    assert.equal(d.gid, 1001);
    assert.equal(d.mtimeMs, 1_500_000_000_000);
    assert.equal(lstatSync(join(dest, 'd/suid')).mode & 0o7777, 0o4755);
    assert.equal(lstatSync(join(dest, 'd/hl')).ino, lstatSync(join(dest, 'd/suid')).ino);
    const n = lstatSync(join(dest, 'null'));
    assert.ok(n.isCharacterDevice());
    assert.equal(n.rdev, 259);
    assert.ok(lstatSync(join(dest, 'fifo')).isFIFO());
    assert.equal(lstatSync(join(dest, 's')).uid, 5);
  });

  it('overlay whiteouts and opaque dirs', async () => {
    await apply([{ name: 'gone/.wh..wh..opq' }, { name: '.wh.file' }], 'overlay');
    const w = lstatSync(join(dest, 'file'));
    assert.ok(w.isCharacterDevice());
    assert.equal(w.rdev, 0);
    assert.equal(nativeSys().lgetxattr(join(dest, 'gone'), 'trusted.overlay.opaque'), 'y');
  });

  it('whiteouts that delete (a layer applied onto a whole filesystem), never outside the root', async () => {
    mkdirSync(join(dest, 'dir/sub'), { recursive: true });
    writeFileSync(join(dest, 'dir/sub/x'), 'x');
    writeFileSync(join(dest, 'dir/y'), 'y');
    writeFileSync(join(dest, 'file'), 'f');
    mkdirSync(join(dest, 'opq/old'), { recursive: true });
    symlinkSync('../outside', join(dest, 'link'));
    await apply([{ name: '.wh.file' }, { name: 'dir/.wh.sub' }, { name: 'opq/.wh..wh..opq' }, { name: 'opq/new', content: 'n' }, { name: '.wh.link' }], 'delete');
    assert.equal(existsSync(join(dest, 'file')), false);
    assert.equal(existsSync(join(dest, 'dir/sub')), false);
    assert.equal(readFileSync(join(dest, 'dir/y'), 'utf8'), 'y');
    assert.equal(existsSync(join(dest, 'opq/old')), false);
    assert.equal(readFileSync(join(dest, 'opq/new'), 'utf8'), 'n');
    assert.equal(existsSync(join(dest, 'link')), false);
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret');
    // An opaque marker under a symlink to the outside empties nothing outside.
    symlinkSync('../outside', join(dest, 'link2'));
    await apply([{ name: 'link2/.wh..wh..opq' }], 'delete').catch(() => undefined);
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'secret');
  });
});

describe('packDir -> applyTar round trip', () => {
  it('preserves modes, owners, symlinks, hardlinks, devices and binary xattrs', async () => {
    const src = join(box, 'src');
    mkdirSync(join(src, 'd/e'), { recursive: true });
    writeFileSync(join(src, 'd/f'), 'hello');
    linkSync(join(src, 'd/f'), join(src, 'd/g'));
    symlinkSync('../f', join(src, 'd/e/s'));
    execFileSync('mknod', [join(src, 'null'), 'c', '1', '3']);
    execFileSync('mkfifo', [join(src, 'fifo')]);
    execFileSync('chown', ['1000:1000', join(src, 'd/e')]);
    execFileSync('chmod', ['4750', join(src, 'd/f')]);
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex'); // cap_net_raw+ep, v2
    nativeSys().lsetxattr(join(src, 'd/f'), 'security.capability', cap);
    nativeSys().lsetxattr(join(src, 'd/f'), 'user.note', 'hi');
    const tar1 = Buffer.concat(await (async () => { const c: Buffer[] = []; for await (const b of packDir(src, { whiteouts: 'none' })) c.push(b as Buffer); return c; })());
    const tar2 = Buffer.concat(await (async () => { const c: Buffer[] = []; for await (const b of packDir(src, { whiteouts: 'none' })) c.push(b as Buffer); return c; })());
    assert.ok(tar1.equals(tar2), 'deterministic');
    await applyTar(packDir(src, { whiteouts: 'none' }), dest, { whiteouts: 'none' });
    assert.equal(readFileSync(join(dest, 'd/f'), 'utf8'), 'hello');
    assert.equal(lstatSync(join(dest, 'd/f')).mode & 0o7777, 0o4750);
    assert.equal(lstatSync(join(dest, 'd/g')).ino, lstatSync(join(dest, 'd/f')).ino);
    assert.equal(readlinkSync(join(dest, 'd/e/s')), '../f');
    assert.equal(lstatSync(join(dest, 'd/e')).uid, 1000);
    assert.equal(lstatSync(join(dest, 'null')).rdev, 259);
    assert.ok(lstatSync(join(dest, 'fifo')).isFIFO());
    assert.ok(nativeSys().lgetxattrBuffer(join(dest, 'd/f'), 'security.capability')?.equals(cap));
    assert.equal(nativeSys().lgetxattr(join(dest, 'd/f'), 'user.note'), 'hi');
    // GNU tar reads what we write.
    const listing = execFileSync('tar', ['-tvf', '-'], { input: tar1 }).toString();
    assert.match(listing, /d\/g link to d\/f/);
  });

  it('converts overlay whiteouts to OCI ones and back', async () => {
    const src = join(box, 'src');
    mkdirSync(join(src, 'opq'), { recursive: true });
    writeFileSync(join(src, 'opq/in'), 'in');
    nativeSys().lsetxattr(join(src, 'opq'), 'trusted.overlay.opaque', 'y');
    nativeSys().mknod(join(src, 'gone'), 0o020000, 0, 0);
    const names: string[] = [];
    for await (const { header } of readTar(packDir(src, { whiteouts: 'overlay-to-oci' }))) names.push(header.name);
    assert.deepEqual(names, ['.wh.gone', 'opq/', 'opq/.wh..wh..opq', 'opq/in']);
    await applyTar(packDir(src, { whiteouts: 'overlay-to-oci' }), dest, { whiteouts: 'overlay' });
    assert.equal(lstatSync(join(dest, 'gone')).rdev, 0);
    assert.ok(lstatSync(join(dest, 'gone')).isCharacterDevice());
    assert.equal(nativeSys().lgetxattr(join(dest, 'opq'), 'trusted.overlay.opaque'), 'y');
    assert.equal(readFileSync(join(dest, 'opq/in'), 'utf8'), 'in');
  });
});
