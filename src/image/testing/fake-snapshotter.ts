import { createWriteStream, existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Digest, hexOf } from '../../base/digest';
import { notFound, notImplemented } from '../../base/errors';
import type { Change, Mount, Snapshotter } from '../../snapshot/snapshotter';

/**
 * Test double for the Snapshotter's layer half: a "layer" is its tar kept as a file, committed
 * atomically by rename. Used only where the real OverlaySnapshotter is not available.
 */
export class FakeSnapshotter implements Snapshotter {
  applied = 0;
  constructor(readonly root: string) {
    mkdirSync(root, { recursive: true });
  }
  private file(chainId: Digest): string {
    return join(this.root, `${hexOf(chainId)}.tar`);
  }
  hasLayer(chainId: Digest): boolean {
    return existsSync(this.file(chainId));
  }
  async applyLayer(chainId: Digest, parent: Digest | null, tar: Readable): Promise<{ size: number }> {
    if (parent && !this.hasLayer(parent)) throw notFound(`parent layer ${parent}: not found`);
    if (this.hasLayer(chainId)) { tar.resume(); return { size: await this.layerSize(chainId) }; }
    const tmp = `${this.file(chainId)}.tmp`;
    await pipeline(tar, createWriteStream(tmp));
    renameSync(tmp, this.file(chainId));
    this.applied++;
    return { size: statSync(this.file(chainId)).size };
  }
  async layerSize(chainId: Digest): Promise<number> {
    if (!this.hasLayer(chainId)) throw notFound(`layer ${chainId}: not found`);
    return statSync(this.file(chainId)).size;
  }
  async removeLayer(chainId: Digest): Promise<void> {
    if (!this.hasLayer(chainId)) throw notFound(`layer ${chainId}: not found`);
    rmSync(this.file(chainId));
  }
  prepare(): Promise<Mount[]> { throw notImplemented('fake'); }
  mounts(): Mount[] { throw notImplemented('fake'); }
  remove(): Promise<void> { throw notImplemented('fake'); }
  upperDir(): string { throw notImplemented('fake'); }
  changes(): Promise<Change[]> { throw notImplemented('fake'); }
  diff(): Readable { throw notImplemented('fake'); }
  usage(): Promise<number> { throw notImplemented('fake'); }
}
