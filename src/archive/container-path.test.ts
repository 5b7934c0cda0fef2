import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isKind } from '../base/errors';
import { archiveFromRoot, extractIntoRoot, resolveInRoot, statInRoot } from './container-path';
import { readTar } from './tar-codec';
import { collect, makeTar } from './testing/make-tar';

let box: string;
let root: string;
let outside: string;
beforeEach(() => {
  box = mkdtempSync(join(tmpdir(), 'berth-cp-'));
  root = join(box, 'root');
  outside = join(box, 'outside');
  mkdirSync(join(root, 'etc'), { recursive: true });
  mkdirSync(outside);
  writeFileSync(join(outside, 'secret'), 'TOP-SECRET');
  writeFileSync(join(root, 'etc/hosts'), 'hosts');
  symlinkSync('/etc', join(root, 'link'));
  symlinkSync('../../..', join(root, 'up'));
});
afterEach(() => rmSync(box, { recursive: true, force: true }));

describe('docker cp helpers', () => {
  it('resolveInRoot never leaves the root', () => {
    assert.equal(resolveInRoot(root, '/link/hosts'), join(root, 'etc/hosts'));
    assert.equal(resolveInRoot(root, '/up/etc'), join(root, 'etc'));
    assert.equal(resolveInRoot(root, '../../..'), root);
  });

  it('statInRoot reports Docker file modes and link targets', () => {
    const d = statInRoot(root, '/etc');
    assert.equal(d.name, 'etc');
    assert.equal(d.mode, 2 ** 31 + 0o755);
    const l = statInRoot(root, '/link');
    assert.equal(l.mode, 2 ** 27 + 0o777);
    assert.equal(l.linkTarget, '/etc');
    assert.match(l.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/);
    assert.throws(() => statInRoot(root, '/nope'), (e) => isKind(e, 'NotFound'));
  });

  it('archiveFromRoot names entries by the base name and does not follow a final symlink', async () => {
    const names: string[] = [];
    for await (const { header } of readTar(archiveFromRoot(root, '/link/'))) names.push(header.name);
    assert.deepEqual(names, ['link/', 'link/hosts']);
    const names2: string[] = [];
    for await (const { header } of readTar(archiveFromRoot(root, '/link'))) names2.push(`${header.name}:${header.type}`);
    assert.deepEqual(names2, ['link:symlink']);
    assert.throws(() => archiveFromRoot(root, '/missing'), (e) => isKind(e, 'NotFound'));
    const up = await collect(archiveFromRoot(root, '/up/'));
    assert.ok(!up.includes('TOP-SECRET'));
  });

  it('extractIntoRoot checks the destination and keeps members inside', async () => {
    await assert.rejects(extractIntoRoot(root, '/nope', makeTar([]), { noOverwriteDirNonDir: true }), (e) => isKind(e, 'NotFound'));
    await assert.rejects(extractIntoRoot(root, '/etc/hosts', makeTar([]), { noOverwriteDirNonDir: true }), (e) => isKind(e, 'InvalidArgument'));
    await assert.rejects(extractIntoRoot(root, '/', makeTar([{ name: 'etc', content: 'x' }]), { noOverwriteDirNonDir: true }), (e) => isKind(e, 'InvalidArgument'));
    await extractIntoRoot(root, '/up', makeTar([{ name: 'x', content: 'x' }]), { noOverwriteDirNonDir: true }).catch(() => undefined);
    await extractIntoRoot(root, '/up/', makeTar([{ name: 'y', content: 'y' }]), { noOverwriteDirNonDir: true });
    assert.equal(readFileSync(join(root, 'y'), 'utf8'), 'y');
    await extractIntoRoot(root, '/link/', makeTar([{ name: 'z', content: 'z', uid: 7 }]), { noOverwriteDirNonDir: true, chown: { uid: 0, gid: 0 } });
    assert.equal(readFileSync(join(root, 'etc/z'), 'utf8'), 'z');
    assert.equal(existsSync(join(outside, 'x')), false);
    assert.equal(existsSync(join(outside, 'y')), false);
  });

  it('CVE-2018-15664: a directory swapped for a symlink to / during cp reads and writes nothing outside', async () => {
    // The attacker flips root/w between a real directory and a symlink to the host's `outside`
    // (as an absolute host path and as '/'), as fast as it can, while we copy in and out.
    mkdirSync(join(root, 'w'));
    mkdirSync(join(root, 'w-dir'));
    writeFileSync(join(root, 'w-dir/inner'), 'inner');
    symlinkSync(outside, join(root, 'w-link'));
    let stop = false;
    const flipper = (async () => {
      while (!stop) {
        try { renameSync(join(root, 'w'), join(root, 'w-tmp')); } catch { /* racing */ }
        try { renameSync(join(root, 'w-link'), join(root, 'w')); } catch { /* racing */ }
        await new Promise((r) => setImmediate(r));
        try { renameSync(join(root, 'w'), join(root, 'w-link')); } catch { /* racing */ }
        try { renameSync(join(root, 'w-tmp'), join(root, 'w')); } catch { /* racing */ }
        await new Promise((r) => setImmediate(r));
      }
    })();
    try {
      for (let i = 0; i < 60; i++) {
        await extractIntoRoot(root, '/w/', makeTar([{ name: 'secret', content: 'pwned' }, { name: 'new', content: 'new' }]), { noOverwriteDirNonDir: true })
          .catch(() => undefined);
        try {
          const data = await collect(archiveFromRoot(root, '/w/'));
          assert.ok(!data.includes('TOP-SECRET'), 'read outside the root');
        } catch (e) {
          if (e instanceof assert.AssertionError) throw e;
        }
      }
    } finally {
      stop = true;
      await flipper;
    }
    assert.equal(readFileSync(join(outside, 'secret'), 'utf8'), 'TOP-SECRET');
    assert.equal(existsSync(join(outside, 'new')), false);
  });
});
