import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import {
  chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync,
  writeFileSync, type Stats,
} from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { hexOf, isDigest, type Digest } from '../../base/digest';
import { alreadyExists, errnoCode, invalidArgument, notFound, wrap } from '../../base/errors';
import { OVERLAY_OPAQUE_XATTR, applyMembers, applyTar, type LayerMember } from '../../archive/apply-tar';
import { packDir } from '../../archive/pack-dir';
import { nativeSys } from '../../sys/native';
import { syncFs } from '../../sys/sync-fs';
import type { Change, LayerArchiver, Mount, Snapshotter, SnapshotCommitter } from '../snapshotter';

/**
 * Overlay snapshotter, laid out like Docker's overlay2:
 *
 *   <root>/
 *     l/<26 chars>                  -> ../layers/<chain hex>/diff   short names keep mount data < 1 page
 *     layers/<chain hex>/diff/      the layer's own content (overlay whiteouts)
 *                       /link       its short name
 *                       /lower      "l/A:l/B..." of its parents, top first ('' for a base layer)
 *                       /parent     parent chain ID ('' for a base layer)
 *                       /size       bytes unpacked
 *     snapshots/<key>/upper/ work/  a container's writable layer
 *                    /parent        the layer chain it sits on ('' for none)
 *     empty/                        lowerdir for snapshots without a parent
 *     tmp/                          in-progress unpacks; removed on construction
 *
 * A layer is committed by renaming its fully unpacked temp dir into layers/: it is there or not.
 * Mounts use redirect_dir=off,index=off,metacopy=off so the upper dir is a clean diff.
 */
export class OverlaySnapshotter implements Snapshotter, SnapshotCommitter, LayerArchiver {
  private readonly inflight = new Map<string, Promise<{ size: number }>>();

  constructor(readonly root: string) {
    for (const d of ['l', 'layers', 'snapshots', 'empty']) mkdirSync(join(root, d), { recursive: true });
    rmSync(join(root, 'tmp'), { recursive: true, force: true });
    mkdirSync(join(root, 'tmp'));
    // A crash between creating a short link and the commit rename leaves a dangling link.
    for (const name of readdirSync(join(root, 'l'))) {
      if (!existsSync(join(root, 'l', name))) rmSync(join(root, 'l', name), { force: true });
    }
  }

  private layerDir(chainId: Digest): string {
    if (!isDigest(chainId)) throw invalidArgument(`invalid chain ID ${JSON.stringify(chainId)}`);
    return join(this.root, 'layers', hexOf(chainId));
  }

  private snapshotDir(key: string): string {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(key)) throw invalidArgument(`invalid snapshot key ${JSON.stringify(key)}`);
    return join(this.root, 'snapshots', key);
  }

  hasLayer(chainId: Digest): boolean {
    return existsSync(join(this.layerDir(chainId), 'diff'));
  }

  private requireLayer(chainId: Digest): string {
    const dir = this.layerDir(chainId);
    if (!existsSync(join(dir, 'diff'))) throw notFound(`layer ${chainId}: not found`);
    return dir;
  }

  /** Short lower names ("l/X"), top first, of the chain ending at `chainId`. */
  private lowerChain(chainId: Digest | null): string[] {
    if (chainId === null) return [];
    const dir = this.requireLayer(chainId);
    const link = readFileSync(join(dir, 'link'), 'utf8');
    const lower = readFileSync(join(dir, 'lower'), 'utf8');
    return [`l/${link}`, ...(lower ? lower.split(':') : [])];
  }

  /** The diff dirs of the chain ending at `chainId`, top first. */
  private lowerDiffDirs(chainId: Digest | null): string[] {
    return this.lowerChain(chainId).map((l) => join(this.root, l));
  }

  async applyLayer(chainId: Digest, parent: Digest | null, tar: Readable, signal?: AbortSignal): Promise<{ size: number }> {
    const dir = this.layerDir(chainId);
    if (this.hasLayer(chainId)) return { size: await this.layerSize(chainId) };
    const running = this.inflight.get(chainId);
    if (running) return running;
    const p = this.unpack(chainId, dir, parent, tar, signal).finally(() => this.inflight.delete(chainId));
    this.inflight.set(chainId, p);
    return p;
  }

  private async unpack(chainId: Digest, dir: string, parent: Digest | null, tar: Readable, signal?: AbortSignal): Promise<{ size: number }> {
    const lower = this.lowerChain(parent); // NotFound for a missing parent, before touching anything
    if (lower.length >= 127) throw invalidArgument(`layer ${chainId}: more than 128 layers`);
    const tmp = join(this.root, 'tmp', randomBytes(8).toString('hex'));
    try {
      mkdirSync(join(tmp, 'diff'), { recursive: true });
      const { size } = await applyTar(tar, join(tmp, 'diff'), { whiteouts: 'overlay', signal });
      return await this.publishLayer(tmp, dir, chainId, lower, parent, size);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw wrap(err, `layer ${chainId}`);
    }
  }

  /**
   * Makes `tmp` (holding the layer's diff/) the committed layer `dir`: link, lower, parent and size
   * written beside the diff, the short link made, the whole renamed into layers/. When another berth
   * process committed the same layer first, theirs is as good as ours and is kept.
   */
  private async publishLayer(tmp: string, dir: string, chainId: Digest, lower: string[], parent: Digest | null, size: number): Promise<{ size: number }> {
    const link = shortLinkId();
    const linkPath = join(this.root, 'l', link);
    try {
      writeFileSync(join(tmp, 'link'), link);
      writeFileSync(join(tmp, 'lower'), lower.join(':'));
      writeFileSync(join(tmp, 'parent'), parent ?? '');
      writeFileSync(join(tmp, 'size'), String(size));
      symlinkSync(`../layers/${hexOf(chainId)}/diff`, linkPath);
      try {
        renameSync(tmp, dir);
      } catch (err) {
        if (errnoCode(err) !== 'ENOTEMPTY' && errnoCode(err) !== 'EEXIST') throw err;
        rmSync(linkPath, { force: true });
        rmSync(tmp, { recursive: true, force: true });
        return { size: await this.layerSize(chainId) };
      }
      return { size };
    } catch (err) {
      if (!existsSync(dir)) rmSync(linkPath, { force: true });
      throw err;
    }
  }

  /**
   * The snapshot's upper dir is renamed to be the layer's diff dir (an empty one takes its place),
   * then committed as unpack() commits: link, lower, parent and size written beside it, the whole
   * renamed into layers/. Its root gets the 0755 root:root a layer's diff dir has.
   */
  async commitSnapshot(key: string, chainId: Digest, parent: Digest | null): Promise<{ size: number }> {
    const dir = this.layerDir(chainId);
    if (this.hasLayer(chainId)) return { size: await this.layerSize(chainId) };
    if (this.parentOf(key) !== parent) throw invalidArgument(`snapshot ${key}: its parent is not ${parent ?? 'empty'}`);
    const lower = this.lowerChain(parent);
    if (lower.length >= 127) throw invalidArgument(`layer ${chainId}: more than 128 layers`);
    const upper = join(this.snapshotDir(key), 'upper');
    const tmp = join(this.root, 'tmp', randomBytes(8).toString('hex'));
    mkdirSync(tmp);
    try {
      renameSync(upper, join(tmp, 'diff'));
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw wrap(err, `snapshot ${key}`);
    }
    mkdirSync(upper, { mode: 0o755 });
    try {
      const diff = join(tmp, 'diff');
      chmodSync(diff, 0o755);
      chownSync(diff, 0, 0);
      return await this.publishLayer(tmp, dir, chainId, lower, parent, diskUsage(diff, { dropSockets: true }));
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw wrap(err, `layer ${chainId}`);
    }
  }

  async layerSize(chainId: Digest): Promise<number> {
    const dir = this.requireLayer(chainId);
    try {
      return Number(readFileSync(join(dir, 'size'), 'utf8'));
    } catch {
      return diskUsage(join(dir, 'diff'));
    }
  }

  async removeLayer(chainId: Digest): Promise<void> {
    const dir = this.layerDir(chainId);
    if (!existsSync(dir)) return;
    // Move it out of sight first, so a crash half-way never leaves a half-removed layer visible.
    const tmp = join(this.root, 'tmp', `rm-${randomBytes(8).toString('hex')}`);
    let link = '';
    try { link = readFileSync(join(dir, 'link'), 'utf8'); } catch { /* partial: no link */ }
    renameSync(dir, tmp);
    if (link) rmSync(join(this.root, 'l', link), { force: true });
    rmSync(tmp, { recursive: true, force: true });
  }

  async prepare(key: string, parent: Digest | null): Promise<Mount[]> {
    const dir = this.snapshotDir(key);
    if (parent !== null) this.requireLayer(parent);
    const tmp = join(this.root, 'tmp', `snap-${randomBytes(8).toString('hex')}`);
    mkdirSync(join(tmp, 'upper'), { recursive: true, mode: 0o755 });
    mkdirSync(join(tmp, 'work'), { mode: 0o700 });
    writeFileSync(join(tmp, 'parent'), parent ?? '');
    try {
      renameSync(tmp, dir);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      if (errnoCode(err) === 'ENOTEMPTY' || errnoCode(err) === 'EEXIST') throw alreadyExists(`snapshot ${key}: already exists`);
      throw wrap(err, `snapshot ${key}`);
    }
    return this.mounts(key);
  }

  private parentOf(key: string): Digest | null {
    const dir = this.snapshotDir(key);
    let parent: string;
    try {
      parent = readFileSync(join(dir, 'parent'), 'utf8');
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') throw notFound(`snapshot ${key}: not found`);
      throw err;
    }
    return parent === '' ? null : (parent as Digest);
  }

  /**
   * Ephemeral mounts are `volatile` (Linux 5.10): no sync of the upper filesystem, on unmount or
   * ever; overlay then marks the work dir so that it refuses to mount it again (after a crash the
   * upper dir may be incomplete). An unmount that syncs waits for every dirty page of the whole
   * filesystem the upper dir is on (~50 ms here idle, seconds while other work writes).
   */
  mounts(key: string, opts: { ephemeral?: boolean } = {}): Mount[] {
    const parent = this.parentOf(key);
    const dir = this.snapshotDir(key);
    const lowers = parent === null ? [join(this.root, 'empty')] : this.lowerDiffDirs(parent);
    return [{
      type: 'overlay',
      source: 'overlay',
      options: ['index=off', 'redirect_dir=off', 'metacopy=off', `lowerdir=${lowers.join(':')}`,
        `upperdir=${join(dir, 'upper')}`, `workdir=${join(dir, 'work')}`, ...(opts.ephemeral ? ['volatile'] : [])],
    }];
  }

  async remove(key: string): Promise<void> {
    const dir = this.snapshotDir(key);
    if (!existsSync(dir)) return;
    const tmp = join(this.root, 'tmp', `rm-${randomBytes(8).toString('hex')}`);
    renameSync(dir, tmp);
    // Out of sight now: removed on the thread pool. rmSync blocked berthd's event loop 10-50 ms per
    // build step's snapshot on a loaded host (rmdir of overlay's work dirs; cpu profile of cold
    // builds), while the next step waited for it.
    await fsp.rm(tmp, { recursive: true, force: true });
  }

  upperDir(key: string): string {
    this.parentOf(key);
    return join(this.snapshotDir(key), 'upper');
  }

  /**
   * Docker's overlay changes: walk the upper dir; a 0/0 char device or an opaque dir is a
   * deletion, anything else an addition unless a lower layer has the path (then a change; a
   * directory with equal size, mode and mtime in a lower layer is not reported by itself). The
   * parent of an addition or deletion is reported as changed (moby#13590).
   */
  async changes(key: string): Promise<Change[]> {
    const upper = this.upperDir(key);
    const lowers = this.lowerDiffDirs(this.parentOf(key));
    const changes: Change[] = [];
    const changedDirs = new Set<string>();
    const sys = nativeSys();
    const walk = (rel: string) => {
      for (const name of readdirSync(join(upper, rel)).sort()) {
        const childRel = `${rel}/${name}`;
        const hostPath = join(upper, childRel);
        const st = lstatSync(hostPath);
        let kind: 0 | 1 | 2 | undefined;
        const deleted = (st.isCharacterDevice() && st.rdev === 0) ||
          (st.isDirectory() && sys.lgetxattr(hostPath, OVERLAY_OPAQUE_XATTR) === 'y');
        if (deleted) kind = 2;
        else {
          kind = 1;
          for (const lower of lowers) {
            let ls: Stats;
            try { ls = statSync(join(lower, childRel)); } catch { continue; }
            if (ls.isDirectory() && st.isDirectory() && ls.size === st.size && ls.mode === st.mode &&
              Math.floor(ls.mtimeMs / 1000) === Math.floor(st.mtimeMs / 1000) && ls.mtimeMs === st.mtimeMs) {
              kind = undefined; // the same directory: only a parent of changes
            } else kind = 0;
            break;
          }
        }
        if (st.isDirectory()) changedDirs.add(childRel);
        if (kind !== undefined) {
          if (kind === 1 || kind === 2) {
            const parent = rel === '' ? '/' : rel;
            if (parent !== '/' && !changedDirs.has(parent)) {
              changes.push({ Path: parent, Kind: 0 });
              changedDirs.add(parent);
            }
          }
          changes.push({ Path: childRel, Kind: kind });
        }
        if (st.isDirectory()) walk(childRel);
      }
    };
    walk('');
    // Directories first seen as unchanged and later needed as parents appear once, in path order.
    const seen = new Set<string>();
    return changes.filter((c) => (seen.has(c.Path) ? false : (seen.add(c.Path), true)))
      .sort((a, b) => (a.Path < b.Path ? -1 : a.Path > b.Path ? 1 : 0));
  }

  diff(key: string, signal?: AbortSignal): Readable {
    return packDir(this.upperDir(key), { whiteouts: 'overlay-to-oci', signal });
  }

  async usage(key: string): Promise<number> {
    return diskUsage(this.upperDir(key));
  }

  async applyToSnapshot(key: string, layer: Readable | Iterable<LayerMember>, signal?: AbortSignal): Promise<void> {
    const opts = { whiteouts: 'overlay' as const, signal };
    await (layer instanceof Readable ? applyTar(layer, this.upperDir(key), opts) : applyMembers(layer, this.upperDir(key), opts));
  }

  /** The same packing as diff(): a committed layer's diff dir is the upper dir it was made from. */
  layerTar(chainId: Digest, signal?: AbortSignal): Readable {
    return packDir(join(this.requireLayer(chainId), 'diff'), { whiteouts: 'overlay-to-oci', signal });
  }

  async sync(): Promise<void> {
    await syncFs(join(this.root, 'layers'));
  }
}

/** Docker's overlay2 short link names: 26 characters of base32 (uppercase letters and digits). */
function shortLinkId(): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const bytes = randomBytes(26);
  let out = '';
  for (const b of bytes) out += alphabet[b & 31];
  return out;
}

/**
 * Sum of the sizes of the files below `dir` (hardlinks counted once), as Docker's directory.Size.
 * `dropSockets`: sockets are removed on the way (a layer tar never holds one).
 */
function diskUsage(dir: string, opts: { dropSockets?: boolean } = {}): number {
  const seen = new Set<string>();
  let total = 0;
  const walk = (d: string) => {
    let names: string[];
    try { names = readdirSync(d); } catch { return; }
    for (const name of names) {
      const p = join(d, name);
      let st: Stats;
      try { st = lstatSync(p); } catch { continue; }
      if (st.isDirectory()) { walk(p); continue; }
      if (opts.dropSockets && st.isSocket()) { rmSync(p, { force: true }); continue; }
      if (st.nlink > 1) {
        const k = `${st.dev}:${st.ino}`;
        if (seen.has(k)) continue;
        seen.add(k);
      }
      total += st.size;
    }
  };
  walk(dir);
  return total;
}

