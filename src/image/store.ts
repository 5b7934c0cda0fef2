import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, existsSync } from 'node:fs';
import { PassThrough, Readable, Transform, Writable, pipeline } from 'node:stream';
import * as tarStream from 'tar-stream';
import { Digest, hexOf, isDigest, sha256 } from '../base/digest';
import { BerthError, canceled, conflict, errnoCode, invalidArgument, isKind, notFound } from '../base/errors';
import { shortId } from '../base/ids';
import type { ImageConfigBlob, ImageRuntimeConfig, HistoryEntry } from '../oci/image';
import { Reference, familiarName, familiarString, fullString, parseReference, repositoryName } from '../oci/reference';
import type { Db } from '../sys/database';
import { decompressStream } from '../sys/decompress';
import { bootId } from '../sys/sync-fs';
import type { LayerArchiver, Snapshotter, SnapshotCommitter } from '../snapshot/snapshotter';
import { ContentStore } from './content-store';
import type { CommitInput, ImageRecord, ImageStore, ImageUsage, ImportInput, LayerUsage, RemoveResult } from './image-store';
import { KeyedMutex, Pins } from './keyed-mutex';
import {
  ANNOTATION_IMAGE_NAME, ANNOTATION_REF_NAME, ArchiveManifestEntry, EMPTY_LAYER_DIFF_ID, OciDescriptor, OciIndex, OciManifest,
  blobMemberName, chainIds as computeChainIds, checkDigest, cleanMemberName, hostArchitecture, linkTarget, ociManifestFor, parseJson,
} from './archive-format';
import { MEDIA_TYPES } from '../oci/image';

/**
 * Creates the image store's tables. Layers are recorded (size -1) *before* they are unpacked so a
 * crash leaves a row that garbage collection finds; an image and its references become visible in
 * one transaction, after all its blobs and layers exist.
 */
export function migrate(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS image_layers (
      chain_id TEXT PRIMARY KEY,
      diff_id  TEXT NOT NULL,
      parent   TEXT,
      depth    INTEGER NOT NULL,
      size     INTEGER NOT NULL DEFAULT -1
    );
    CREATE TABLE IF NOT EXISTS image_images (
      id       TEXT PRIMARY KEY,
      parent   TEXT NOT NULL DEFAULT '',
      created  TEXT NOT NULL DEFAULT '',
      size     INTEGER NOT NULL,
      added_at INTEGER NOT NULL
    );
    CREATE TABLE IF NOT EXISTS image_chains (
      image_id TEXT NOT NULL REFERENCES image_images(id) ON DELETE CASCADE,
      idx      INTEGER NOT NULL,
      chain_id TEXT NOT NULL REFERENCES image_layers(chain_id),
      PRIMARY KEY (image_id, idx)
    );
    CREATE INDEX IF NOT EXISTS image_chains_by_chain ON image_chains(chain_id);
    CREATE TABLE IF NOT EXISTS image_refs (
      name     TEXT PRIMARY KEY,            -- full reference: docker.io/library/busybox:latest or ...@sha256:..
      repo     TEXT NOT NULL,               -- docker.io/library/busybox
      kind     TEXT NOT NULL CHECK (kind IN ('tag', 'digest')),
      image_id TEXT NOT NULL REFERENCES image_images(id) ON DELETE CASCADE
    );
    CREATE INDEX IF NOT EXISTS image_refs_by_image ON image_refs(image_id);
    -- Layers committed with lazyTar: their tar is not in the content store (unless something asked
    -- for it since) but made from the layer; size is the tar's. Until synced, the layer's files may
    -- not be on disk: written under boot_id, without fsync (see LocalImageStore.checkLazyLayers).
    CREATE TABLE IF NOT EXISTS image_lazy_layers (
      chain_id TEXT PRIMARY KEY REFERENCES image_layers(chain_id) ON DELETE CASCADE,
      diff_id  TEXT NOT NULL,
      size     INTEGER NOT NULL,
      boot_id  TEXT NOT NULL,
      synced   INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX IF NOT EXISTS image_lazy_layers_by_diff ON image_lazy_layers(diff_id);
  `);
}

interface ImageRow { id: string; parent: string; created: string; size: number; added_at: number }
interface RefRow { name: string; repo: string; kind: 'tag' | 'digest'; image_id: string }
interface LayerRow { chain_id: string; diff_id: string; parent: string | null; depth: number; size: number }

/** An image to create from blobs already in the content store. */
export interface NewImage {
  /** Digest of the config blob (in the content store); becomes the image ID. */
  config: Digest;
  parent?: string;
  /** Full or familiar references to point at the image (tags and/or `name@digest`). */
  refs?: string[];
  /**
   * A snapshot holding the layer `diffId` unpacked, to commit in place (CommitInput.snapshot).
   * `lazyTar`: the size of the layer's tar, which is not in the content store (CommitInput.lazyTar).
   */
  adopt?: { diffId: Digest; snapshot: string; lazyTar?: number };
}

/**
 * The sync that makes lazy layers durable (see syncLayers) runs once commits have paused this
 * long, and at the latest this long after the first unsynced commit: a sync in the middle of the
 * next build forced its writes out too (the kernel leaves dirty pages up to 30 s), which made
 * back-to-back cold builds 0.78-1.08 s instead of ~0.8.
 */
const SYNC_DELAY_MS = 2000;
const SYNC_MAX_DELAY_MS = 30_000;

export type HistoryItem = { Id: string; Created: number; CreatedBy: string; Tags: string[] | null; Size: number; Comment: string };

const MAX_JSON_MEMBER = 16 << 20;
const JSON_MEMBERS = new Set(['manifest.json', 'index.json', 'repositories', 'oci-layout']);

/**
 * The local image store: configs and uncompressed layer tars (keyed by diffID, so `save` is a file
 * copy) in a ContentStore, metadata in SQLite, unpacked layers in the injected Snapshotter.
 * Construct with `LocalImageStore.open` to also repair what a crash left behind.
 */
export class LocalImageStore implements ImageStore {
  readonly content: ContentStore;
  private readonly configs = new Map<string, ImageConfigBlob>();
  private readonly layerLocks = new KeyedMutex();
  private readonly pins = new Pins();
  private syncTimer: NodeJS.Timeout | undefined;
  private firstUnsynced: number | undefined;

  constructor(private readonly db: Db, contentRoot: string, private readonly snapshotter: Snapshotter) {
    migrate(db);
    this.content = new ContentStore(contentRoot);
    this.repairMetadata();
  }

  /** Opens the store and garbage-collects what an interrupted operation left (layers, blobs). */
  static async open(db: Db, contentRoot: string, snapshotter: Snapshotter): Promise<LocalImageStore> {
    const store = new LocalImageStore(db, contentRoot, snapshotter);
    await store.gc();
    return store;
  }

  // ---- reading ----------------------------------------------------------------------------------

  find(refOrId: string): ImageRecord | undefined {
    const id = this.findId(refOrId);
    return id ? this.record(id) : undefined;
  }

  resolve(refOrId: string): ImageRecord {
    const rec = this.find(refOrId);
    if (!rec) throw notFound(`No such image: ${this.displayName(refOrId)}`);
    return rec;
  }

  layerUsage(): Map<Digest, LayerUsage> {
    const rows = this.db.prepare('SELECT chain_id, diff_id, size FROM image_layers WHERE size >= 0').all() as Array<{ chain_id: string; diff_id: string; size: number }>;
    const archives = new Map<string, number>();
    const out = new Map<Digest, LayerUsage>();
    for (const r of rows) {
      let archive = archives.get(r.diff_id);
      if (archive === undefined) {
        try { archive = this.content.size(r.diff_id as Digest); } catch { archive = 0; }
        archives.set(r.diff_id, archive);
      }
      out.set(r.chain_id as Digest, { diffId: r.diff_id as Digest, unpacked: r.size, archive });
    }
    return out;
  }

  list(): ImageRecord[] {
    const rows = this.db.prepare('SELECT id FROM image_images ORDER BY added_at, rowid').all() as Array<{ id: string }>;
    return rows.map((r) => this.record(r.id as Digest)).filter((r): r is ImageRecord => r !== undefined);
  }

  history(refOrId: string): HistoryItem[] {
    let rec = this.resolve(refOrId);
    const items: HistoryItem[] = [];
    let layer = 0;
    const history = rec.config.history ?? [];
    for (const h of history) {
      let size = 0;
      if (!h.empty_layer) {
        const chain = rec.chainIds[layer++];
        if (chain === undefined) throw invalidArgument(`image ${rec.id}: too many non-empty layers in History section`);
        size = this.layerRow(chain)?.size ?? 0;
      }
      items.unshift({ Id: '<missing>', Created: h.created ? Math.floor(Date.parse(h.created) / 1000) : 0,
        CreatedBy: h.created_by ?? '', Tags: null, Size: Math.max(size, 0), Comment: h.comment ?? '' });
    }
    // Fill in the IDs (and tags) of the image and of its locally known ancestors, newest first.
    for (const item of items) {
      item.Id = rec.id;
      item.Tags = rec.repoTags.length ? [...rec.repoTags] : null;
      const parent = rec.parent ? this.find(rec.parent) : undefined;
      if (!parent) break;
      rec = parent;
    }
    return items;
  }

  // ---- references -------------------------------------------------------------------------------

  tag(refOrId: string, newRef: string): void {
    const rec = this.resolve(refOrId);
    const ref = parseReference(newRef);
    if (ref.digest) throw invalidArgument('refusing to create a tag with a digest reference');
    this.setRefs(rec.id, [ref]);
  }

  /** Records `name@digest` references (a pull or push by digest) for an image. */
  addRepoDigest(refOrId: string, canonical: string): void {
    const rec = this.resolve(refOrId);
    const ref = parseReference(canonical);
    if (!ref.digest) throw invalidArgument(`${canonical}: not a digest reference`);
    this.setRefs(rec.id, [{ domain: ref.domain, path: ref.path, digest: ref.digest }]);
  }

  private setRefs(id: Digest, refs: Reference[]): void {
    const up = this.db.prepare(`INSERT INTO image_refs (name, repo, kind, image_id) VALUES (?, ?, ?, ?)
      ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id`);
    this.db.transaction(() => {
      for (const r of refs) up.run(fullString(r), repositoryName(r), r.digest && !r.tag ? 'digest' : 'tag', id);
    })();
  }

  // ---- creating images --------------------------------------------------------------------------

  async import(input: ImportInput, signal?: AbortSignal): Promise<ImageRecord> {
    const tagRef = input.tag ? parseReference(input.tag) : undefined;
    if (tagRef?.digest) throw invalidArgument('refusing to create a tag with a digest reference');
    const pinned: Digest[] = [];
    try {
      const layer = await this.putPinned(decompressStream(input.tar, signal), pinned, undefined, signal);
      const created = new Date().toISOString();
      const config: ImageConfigBlob = {
        architecture: hostArchitecture(),
        ...(input.message ? { comment: input.message } : {}),
        config: input.config ?? {},
        created,
        history: [{ created, ...(input.message ? { comment: input.message } : {}) }],
        os: 'linux',
        rootfs: { type: 'layers', diff_ids: [layer.digest] },
      };
      const cfg = await this.putPinned(Readable.from([Buffer.from(JSON.stringify(config))]), pinned);
      return await this.createImage({ config: cfg.digest, refs: tagRef ? [fullString(tagRef)] : [] }, signal);
    } finally {
      this.release(pinned);
      this.deleteUnreferencedBlobs(pinned);
    }
  }

  async commit(input: CommitInput, signal?: AbortSignal): Promise<ImageRecord> {
    const tagRef = input.tag ? parseReference(input.tag) : undefined;
    if (tagRef?.digest) throw invalidArgument('refusing to create a tag with a digest reference');
    const parent = input.parentImage ? this.resolve(input.parentImage) : undefined;
    const pinned: Digest[] = [];
    const archiver = input.lazyTar ? this.archiver() : undefined;
    let own: string | undefined; // a snapshot of ours that `layer` was unpacked into (lazyTar)
    try {
      let layer: { digest: Digest; size: number };
      let snapshot = input.snapshot;
      if (input.layer === null) layer = { digest: EMPTY_LAYER_DIFF_ID, size: 0 };
      else if (archiver) {
        // No tar is written: the layer's content is a snapshot, and its tar is only digested (the
        // diffID). A tar without a snapshot (COPY) is unpacked into one of ours first.
        let tar: Readable = input.layer;
        if (!snapshot) {
          own = `commit-${randomBytes(8).toString('hex')}`;
          await this.snapshotter.prepare(own, parent?.chainIds.at(-1) ?? null);
          await archiver.applyToSnapshot(own, input.members ?? input.layer, signal);
          snapshot = own;
          tar = this.snapshotter.diff(own, signal);
        }
        layer = await digestOf(tar, signal);
      } else layer = await this.putPinned(input.layer, pinned, undefined, signal);
      // Docker adds no layer for a commit without changes (layer.IsEmpty).
      const empty = layer.digest === EMPTY_LAYER_DIFF_ID || layer.size === 0;
      const created = new Date().toISOString();
      const entry: HistoryEntry = { created };
      if (input.author) entry.author = input.author;
      if (input.createdBy) entry.created_by = input.createdBy;
      if (input.comment) entry.comment = input.comment;
      if (empty) entry.empty_layer = true;
      const pc = parent?.config;
      const config: ImageConfigBlob = {
        architecture: pc?.architecture ?? hostArchitecture(),
        ...(pc?.variant ? { variant: pc.variant } : {}),
        ...(input.author ? { author: input.author } : {}),
        ...(input.comment ? { comment: input.comment } : {}),
        config: input.config,
        container: input.containerId,
        created,
        history: [...(pc?.history ?? []), entry],
        os: pc?.os ?? 'linux',
        rootfs: { type: 'layers', diff_ids: [...(pc?.rootfs.diff_ids ?? []), ...(empty ? [] : [layer.digest])] },
      };
      const cfg = await this.putPinned(Readable.from([Buffer.from(JSON.stringify(config))]), pinned);
      const adopt = snapshot && !empty ? { diffId: layer.digest, snapshot, ...(archiver ? { lazyTar: layer.size } : {}) } : undefined;
      return await this.createImage({ config: cfg.digest, parent: parent?.id ?? '', refs: tagRef ? [fullString(tagRef)] : [], adopt }, signal);
    } finally {
      this.release(pinned);
      this.deleteUnreferencedBlobs(pinned);
      if (own) await this.snapshotter.remove(own).catch(() => undefined);
    }
  }

  layer(diffId: Digest): Readable {
    if (this.content.has(diffId)) return this.content.get(diffId);
    const chain = this.lazySources(diffId)[0];
    if (chain === undefined) throw notFound(`layer ${diffId}: not found`);
    return verifying(this.archiver()!.layerTar(chain), diffId);
  }

  async layerBlobs(diffIds: Digest[], signal?: AbortSignal): Promise<void> {
    for (const d of new Set(diffIds)) {
      if (this.content.has(d)) continue;
      const chains = this.lazySources(d);
      if (!chains.length) throw notFound(`layer ${d}: not found`);
      let failed: unknown;
      for (const chain of chains) {
        // Pinned: neither the layer nor the new blob may be removed meanwhile (an image removal, gc).
        this.pins.pin(chain);
        this.pins.pin(d);
        try {
          await this.content.put(this.archiver()!.layerTar(chain, signal), d, signal);
          failed = undefined;
          break;
        } catch (e) {
          // Another layer with the same content may still pack right (this one lost data in a crash).
          if (!isKind(e, 'InvalidArgument') && !isKind(e, 'NotFound')) throw e;
          failed = e;
        } finally {
          this.pins.unpin(chain);
          this.pins.unpin(d);
        }
      }
      if (failed !== undefined) throw new BerthError('Internal', `layer ${d}: no layer with its content packs to it`, { cause: failed });
    }
  }

  /** Committed layers, by chain ID, that make the tar of `diffId` (lazyTar layers on disk). */
  private lazySources(diffId: Digest): Digest[] {
    const rows = this.db.prepare(`SELECT z.chain_id FROM image_lazy_layers z JOIN image_layers l ON l.chain_id = z.chain_id
      WHERE z.diff_id = ? AND l.size >= 0 ORDER BY z.synced DESC, z.rowid`).all(diffId) as Array<{ chain_id: string }>;
    return rows.map((r) => r.chain_id as Digest).filter((c) => this.snapshotter.hasLayer(c));
  }

  /** The snapshotter when it can commit snapshots and make layer tars again (lazyTar), else undefined. */
  private archiver(): (Snapshotter & SnapshotCommitter & LayerArchiver) | undefined {
    const s = this.snapshotter as Snapshotter & Partial<SnapshotCommitter & LayerArchiver>;
    return s.commitSnapshot && s.layerTar && s.applyToSnapshot && s.sync ? (s as Snapshotter & SnapshotCommitter & LayerArchiver) : undefined;
  }

  async squash(image: Digest, base: Digest | null, layerTar: Readable, signal?: AbortSignal): Promise<ImageRecord> {
    const img = this.resolve(image);
    const parent = base ? this.resolve(base) : undefined;
    const pinned: Digest[] = [];
    try {
      const layer = await this.putPinned(layerTar, pinned, undefined, signal);
      const empty = layer.digest === EMPTY_LAYER_DIFF_ID || layer.size === 0;
      const created = new Date().toISOString();
      const keep = parent?.config.history?.length ?? 0;
      const history = (img.config.history ?? []).map((h, i) => (i >= keep ? { ...h, empty_layer: true } : h));
      history.push({ created, comment: parent ? `merge ${image} to ${parent.id}` : `create new from ${image}`, ...(empty ? { empty_layer: true } : {}) });
      const config: ImageConfigBlob = {
        ...img.config, created, history,
        rootfs: { type: 'layers', diff_ids: [...(parent?.config.rootfs.diff_ids ?? []), ...(empty ? [] : [layer.digest])] },
      };
      const cfg = await this.putPinned(Readable.from([Buffer.from(JSON.stringify(config))]), pinned);
      return await this.createImage({ config: cfg.digest, parent: parent?.id ?? '' }, signal);
    } finally {
      this.release(pinned);
      this.deleteUnreferencedBlobs(pinned);
    }
  }

  /**
   * Makes an image visible from blobs already in the content store: its config, and each layer's
   * uncompressed tar under its diffID. Unpacks missing layers through the snapshotter, then records
   * the image and points `refs` at it in one transaction. Used by import, commit, load and pull.
   */
  async createImage(img: NewImage, signal?: AbortSignal): Promise<ImageRecord> {
    const refs = (img.refs ?? []).map((r) => parseReference(r));
    const id = img.config;
    this.pins.pin(id);
    const chainPins: Digest[] = [];
    try {
      const config = await this.content.readJson<ImageConfigBlob>(id);
      const diffIds = this.diffIdsOf(config, id);
      const chains = computeChainIds(diffIds);
      for (const c of chains) { this.pins.pin(c); chainPins.push(c); }
      let size = 0;
      for (let i = 0; i < chains.length; i++) {
        if (signal?.aborted) throw canceled('operation canceled');
        const adopt = i === chains.length - 1 && img.adopt?.diffId === diffIds[i] ? img.adopt : undefined;
        size += await this.ensureLayer(chains[i], diffIds[i], i === 0 ? null : chains[i - 1], i, signal, adopt?.snapshot, adopt?.lazyTar);
      }
      const insertImage = this.db.prepare(`INSERT INTO image_images (id, parent, created, size, added_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT(id) DO NOTHING`);
      const insertChain = this.db.prepare('INSERT OR IGNORE INTO image_chains (image_id, idx, chain_id) VALUES (?, ?, ?)');
      const up = this.db.prepare(`INSERT INTO image_refs (name, repo, kind, image_id) VALUES (?, ?, ?, ?)
        ON CONFLICT(name) DO UPDATE SET image_id = excluded.image_id`);
      this.db.transaction(() => {
        insertImage.run(id, img.parent ?? '', config.created ?? '', size, Date.now());
        chains.forEach((c, i) => insertChain.run(id, i, c));
        for (const r of refs) up.run(fullString(r), repositoryName(r), r.digest && !r.tag ? 'digest' : 'tag', id);
      })();
      this.configs.set(id, config);
      return this.record(id)!;
    } finally {
      this.pins.unpin(id);
      for (const c of chainPins) this.pins.unpin(c);
    }
  }

  private diffIdsOf(config: ImageConfigBlob, id: string): Digest[] {
    if (!config || typeof config !== 'object' || !config.rootfs || !Array.isArray(config.rootfs.diff_ids)) {
      throw invalidArgument(`image config ${id}: missing rootfs.diff_ids`);
    }
    return config.rootfs.diff_ids.map((d) => checkDigest(`config ${id} diff_ids`, d));
  }

  /**
   * Unpacks a layer unless present (one caller per chain at a time); returns its size. With
   * `adopt`, a snapshot holding it unpacked is committed in place when the snapshotter can; with
   * `lazyTar` (the size of its tar) too, and the layer is recorded as its tar's only source.
   */
  private ensureLayer(chain: Digest, diffId: Digest, parent: Digest | null, depth: number, signal?: AbortSignal, adopt?: string, lazyTar?: number): Promise<number> {
    return this.layerLocks.run(chain, async () => {
      const row = this.layerRow(chain);
      if (row && row.size >= 0 && this.snapshotter.hasLayer(chain)) return row.size;
      if (!adopt && !this.content.has(diffId)) throw notFound(`layer ${diffId}: blob not found`);
      // Record the intent first: a crash from here on leaves a row that gc() cleans up.
      this.db.prepare(`INSERT INTO image_layers (chain_id, diff_id, parent, depth, size) VALUES (?, ?, ?, ?, -1)
        ON CONFLICT(chain_id) DO UPDATE SET size = -1`).run(chain, diffId, parent, depth);
      let size: number;
      try {
        const committer = this.snapshotter as Snapshotter & Partial<SnapshotCommitter>;
        if (this.snapshotter.hasLayer(chain)) size = await this.snapshotter.layerSize(chain);
        else if (adopt && committer.commitSnapshot) {
          // Nothing changes when it cannot (e.g. another parent): then the tar is unpacked as usual,
          // if there is one (not with lazyTar).
          size = await committer.commitSnapshot(adopt, chain, parent).then((r) => r.size, async (e) => {
            if (!this.content.has(diffId)) throw e;
            return (await this.snapshotter.applyLayer(chain, parent, this.content.get(diffId), signal)).size;
          });
        } else ({ size } = await this.snapshotter.applyLayer(chain, parent, this.content.get(diffId), signal));
      } catch (e) {
        // Nothing was committed (applyLayer is atomic): forget the intent unless an image uses the layer.
        if (!this.db.prepare('SELECT 1 FROM image_chains WHERE chain_id = ? LIMIT 1').get(chain)) {
          this.db.prepare('DELETE FROM image_layers WHERE chain_id = ?').run(chain);
        }
        throw e;
      }
      // The layer and (lazyTar) the record that it is its tar's source become visible together,
      // before any image refers to them.
      const lazy = lazyTar !== undefined && !this.content.has(diffId);
      this.db.transaction(() => {
        this.db.prepare('UPDATE image_layers SET size = ? WHERE chain_id = ?').run(size, chain);
        if (lazy) {
          // REPLACE, not an update: a new rowid, which syncLayers orders writes by.
          this.db.prepare(`INSERT OR REPLACE INTO image_lazy_layers (chain_id, diff_id, size, boot_id) VALUES (?, ?, ?, ?)`)
            .run(chain, diffId, lazyTar, bootId());
        }
      })();
      if (lazy) this.scheduleSync();
      return size;
    });
  }

  private async putPinned(src: AsyncIterable<Buffer | Uint8Array>, pinned: Digest[], expected?: Digest, signal?: AbortSignal): Promise<{ digest: Digest; size: number }> {
    if (expected) { this.pins.pin(expected); pinned.push(expected); }
    const r = await this.content.put(src, expected, signal);
    if (r.digest !== expected) { this.pins.pin(r.digest); pinned.push(r.digest); }
    return r;
  }

  private release(pinned: Digest[]): void {
    for (const d of pinned) this.pins.unpin(d);
  }

  // ---- pull -------------------------------------------------------------------------------------

  /**
   * Stores a pulled layer (see PullTarget.putLayer): `tar` goes into the content store under the
   * last of `diffIds`, verified. When the layers below it are unpacked already (or there are none),
   * it is unpacked in the same pass: download, digest, store and unpack overlap instead of running
   * one after the other. Otherwise (a layer downloaded beside its parent) it is only stored, and
   * unpacked from the blob once its parent is (unpackLayer, or at the latest createImage).
   */
  async putLayer(tar: AsyncIterable<Buffer>, diffIds: Digest[], signal?: AbortSignal): Promise<void> {
    const diffId = diffIds[diffIds.length - 1];
    const chains = computeChainIds(diffIds);
    const chain = chains[chains.length - 1];
    const parent = chains.length > 1 ? chains[chains.length - 2] : null;
    const pinned = [diffId, chain];
    for (const p of pinned) this.pins.pin(p);
    try {
      const parentReady = parent === null || ((this.layerRow(parent)?.size ?? -1) >= 0 && this.snapshotter.hasLayer(parent));
      if (!parentReady || this.snapshotter.hasLayer(chain)) {
        await this.content.put(tar, diffId, signal);
        return;
      }
      await this.layerLocks.run(chain, async () => {
        if (this.snapshotter.hasLayer(chain)) {
          await this.content.put(tar, diffId, signal);
          return;
        }
        // As ensureLayer: the intent first, so that a crash leaves a row gc() cleans up.
        this.db.prepare(`INSERT INTO image_layers (chain_id, diff_id, parent, depth, size) VALUES (?, ?, ?, ?, -1)
          ON CONFLICT(chain_id) DO UPDATE SET size = -1`).run(chain, diffId, parent, chains.length - 1);
        let size: number;
        try {
          size = await this.storeAndUnpack(tar, diffId, chain, parent, signal);
        } catch (e) {
          if (!this.db.prepare('SELECT 1 FROM image_chains WHERE chain_id = ? LIMIT 1').get(chain)) {
            this.db.prepare('DELETE FROM image_layers WHERE chain_id = ?').run(chain);
          }
          throw e;
        }
        this.db.prepare('UPDATE image_layers SET size = ? WHERE chain_id = ?').run(size, chain);
      });
    } finally {
      this.release(pinned);
    }
  }

  /** See PullTarget.unpackLayer. */
  async unpackLayer(diffIds: Digest[], signal?: AbortSignal): Promise<void> {
    const chains = computeChainIds(diffIds);
    const chain = chains[chains.length - 1];
    this.pins.pin(chain);
    try {
      await this.ensureLayer(chain, diffIds[diffIds.length - 1], chains.length > 1 ? chains[chains.length - 2] : null, chains.length - 1, signal);
    } finally {
      this.pins.unpin(chain);
    }
  }

  /**
   * Feeds `src` to a content write and to the snapshotter at once. The snapshotter commits a layer
   * only after its tar stream ended cleanly (Snapshotter.applyLayer), and the stream is ended only
   * once the content hashed to `diffId`; otherwise it is destroyed with the error, and neither the
   * blob nor the layer is kept. Returns the unpacked size.
   */
  private async storeAndUnpack(src: AsyncIterable<Buffer>, diffId: Digest, chain: Digest, parent: Digest | null, signal?: AbortSignal): Promise<number> {
    const writer = this.content.writer();
    // Object mode: the unpack gets the chunks as they are. A byte-mode stream hands a reader that
    // lags everything it holds concatenated: a copy of the whole layer (~0.2 s per 200 MB here).
    const tar = new PassThrough({ objectMode: true, highWaterMark: 16 });
    let unpackSettled = false;
    const unpacked = this.snapshotter.applyLayer(chain, parent, tar, signal).finally(() => { unpackSettled = true; });
    unpacked.catch(() => undefined);
    const stopped = unpacked.then(() => undefined, () => undefined);
    try {
      for await (const c of src) {
        if (signal?.aborted) throw canceled('pull canceled');
        const chunk = Buffer.isBuffer(c) ? c : Buffer.from(c);
        const wait = writer.write(chunk);
        if (!unpackSettled && !tar.write(chunk)) await drained(tar, stopped);
        if (wait) await wait;
        if (unpackSettled) {
          // The unpack reads to the end of its stream: one that stopped early failed, and its error wins.
          await unpacked;
          throw new BerthError('Internal', `layer ${chain}: the snapshotter finished before the end of its tar`);
        }
      }
      const got = writer.digest();
      if (got !== diffId) throw invalidArgument(`content digest mismatch: expected ${diffId}, got ${got}`);
      tar.end();
      const [layer, blob] = await Promise.allSettled([unpacked, writer.commit(diffId)]);
      if (layer.status === 'rejected') throw layer.reason;
      if (blob.status === 'rejected') throw blob.reason;
      return layer.value.size;
    } catch (e) {
      tar.destroy(e instanceof Error ? e : new Error(String(e)));
      await stopped;
      await writer.abort();
      throw e;
    }
  }

  // ---- load -------------------------------------------------------------------------------------

  async load(tar: Readable, signal?: AbortSignal): Promise<Array<{ ref?: string; id: Digest }>> {
    const members = new Map<string, { digest: Digest; size: number }>();
    const links = new Map<string, string>();
    const json = new Map<string, Buffer>();
    const pinned: Digest[] = [];
    try {
      await this.readArchive(decompressStream(tar, signal), members, links, json, pinned, signal);
      const lookup = (name: string, what: string): Digest => {
        let n = cleanMemberName(name);
        for (let hops = 0; n !== undefined && links.has(n) && hops < 16; hops++) n = links.get(n);
        const m = n === undefined ? undefined : members.get(n);
        if (!m) throw invalidArgument(`invalid archive: ${what} ${JSON.stringify(name)} not found in archive`);
        return m.digest;
      };
      const plan: Array<{ config: Digest; layers: Digest[]; refs: string[] }> = [];
      if (json.has('manifest.json')) {
        const manifest = parseJson<ArchiveManifestEntry[]>('manifest.json', json.get('manifest.json')!);
        if (!Array.isArray(manifest)) throw invalidArgument('invalid archive: manifest.json is not a list');
        for (const m of manifest) {
          if (!m || typeof m.Config !== 'string' || !Array.isArray(m.Layers)) throw invalidArgument('invalid archive: bad manifest.json entry');
          plan.push({ config: lookup(m.Config, 'config'), layers: m.Layers.map((l) => lookup(String(l), 'layer')),
            refs: Array.isArray(m.RepoTags) ? m.RepoTags.map(String) : [] });
        }
      } else if (json.has('index.json')) {
        const have = new Set([...members.values()].map((m) => m.digest));
        const index = parseJson<OciIndex>('index.json', json.get('index.json')!);
        await this.planOciLayout(index, have, plan);
      } else {
        throw invalidArgument('invalid archive: neither manifest.json nor index.json found');
      }

      const results: Array<{ ref?: string; id: Digest }> = [];
      for (const p of plan) {
        const config = await this.content.readJson<ImageConfigBlob>(p.config);
        const diffIds = this.diffIdsOf(config, p.config);
        if (diffIds.length !== p.layers.length) {
          throw invalidArgument(`invalid archive: image ${p.config} has ${p.layers.length} layers, its config lists ${diffIds.length}`);
        }
        for (let i = 0; i < diffIds.length; i++) {
          if (p.layers[i] === diffIds[i]) continue; // stored uncompressed: hashed on the way in
          // A compressed layer: its uncompressed content must hash to the config's diffID.
          await this.putPinned(decompressStream(this.content.get(p.layers[i]), signal), pinned, diffIds[i], signal)
            .catch((e) => { throw isKind(e, 'InvalidArgument') ? invalidArgument(`invalid archive: layer ${i} of ${p.config} does not match diff_id ${diffIds[i]}`, e) : e; });
        }
        const refs = p.refs.map((r) => parseReference(r));
        const rec = await this.createImage({ config: p.config, refs: refs.map(fullString) }, signal);
        if (refs.length === 0) results.push({ id: rec.id });
        for (const r of refs) results.push({ ref: familiarString(r), id: rec.id });
      }
      return results;
    } finally {
      this.release(pinned);
      this.deleteUnreferencedBlobs(pinned);
    }
  }

  /** Streams every member of the archive into the content store (small JSON documents into memory). */
  private async readArchive(src: Readable, members: Map<string, { digest: Digest; size: number }>, links: Map<string, string>,
    json: Map<string, Buffer>, pinned: Digest[], signal?: AbortSignal): Promise<void> {
    const extract = tarStream.extract();
    let srcError: Error | undefined;
    pipeline(src, extract, (err) => { if (err) srcError = err; });
    try {
      for await (const entry of extract) {
        if (signal?.aborted) throw canceled('load canceled');
        const h = entry.header;
        const name = cleanMemberName(h.name);
        if (name === undefined) { entry.resume(); continue; }
        if (h.type === 'file' || h.type === 'contiguous-file') {
          if (JSON_MEMBERS.has(name)) {
            if ((h.size ?? 0) > MAX_JSON_MEMBER) throw invalidArgument(`invalid archive: ${name} too large`);
            const chunks: Buffer[] = [];
            for await (const c of entry) chunks.push(c as Buffer);
            json.set(name, Buffer.concat(chunks));
          } else {
            members.set(name, await this.putPinned(entry as unknown as AsyncIterable<Buffer>, pinned, undefined, signal));
          }
        } else if ((h.type === 'symlink' || h.type === 'link') && h.linkname) {
          const target = linkTarget(name, h.linkname, h.type === 'symlink');
          if (target !== undefined) links.set(name, target);
          entry.resume();
        } else {
          entry.resume();
        }
      }
    } catch (e) {
      src.destroy();
      if (e instanceof BerthError) throw e;
      throw invalidArgument(`invalid archive: ${(e as Error).message}`, e);
    }
    if (srcError) throw srcError instanceof BerthError ? srcError : invalidArgument(`invalid archive: ${srcError.message}`, srcError);
  }

  private async planOciLayout(index: OciIndex, have: Set<Digest>, plan: Array<{ config: Digest; layers: Digest[]; refs: string[] }>): Promise<void> {
    if (!index || !Array.isArray(index.manifests)) throw invalidArgument('invalid archive: index.json has no manifests');
    const byManifest = new Map<Digest, { config: Digest; layers: Digest[]; refs: string[] }>();
    const blob = (d: unknown, what: string): Digest => {
      const digest = checkDigest(what, d);
      if (!have.has(digest)) throw invalidArgument(`invalid archive: ${what} ${digest} not found in archive`);
      return digest;
    };
    const visit = async (desc: OciDescriptor, name: string | undefined, depth: number): Promise<void> => {
      if (depth > 4) throw invalidArgument('invalid archive: index nesting too deep');
      const d = blob(desc.digest, 'manifest');
      if (desc.mediaType === MEDIA_TYPES.ociIndex || desc.mediaType === MEDIA_TYPES.dockerManifestList) {
        const sub = await this.content.readJson<OciIndex>(d);
        const arch = hostArchitecture();
        const pick = (sub.manifests ?? []).find((m) => !m.platform || (m.platform.os === 'linux' && m.platform.architecture === arch));
        if (!pick) throw notFound(`invalid archive: no manifest for linux/${arch} in ${d}`);
        return visit(pick, name, depth + 1);
      }
      const manifest = await this.content.readJson<OciManifest>(d);
      if (!manifest || !manifest.config || !Array.isArray(manifest.layers)) throw invalidArgument(`invalid archive: bad manifest ${d}`);
      let entry = byManifest.get(d);
      if (!entry) {
        entry = { config: blob(manifest.config.digest, 'config'), layers: manifest.layers.map((l) => blob(l.digest, 'layer')), refs: [] };
        byManifest.set(d, entry);
        plan.push(entry);
      }
      if (name) entry.refs.push(name);
    };
    for (const desc of index.manifests) {
      const a = desc.annotations ?? {};
      // Docker and containerd name images with the full reference; a bare OCI ref.name ("latest",
      // as skopeo writes for oci:DIR:tag) names no repository and is ignored, as docker load does.
      let name = a[ANNOTATION_IMAGE_NAME];
      if (!name && a[ANNOTATION_REF_NAME] && /[/:]/.test(a[ANNOTATION_REF_NAME])) name = a[ANNOTATION_REF_NAME];
      if (name !== undefined) parseReference(name);
      await visit(desc, name, 0);
    }
  }

  // ---- save -------------------------------------------------------------------------------------

  async save(refsOrIds: string[], out: Writable, signal?: AbortSignal): Promise<void> {
    // Which images, and under which tags. A bare repository name saves all its tags, as docker does.
    const chosen = new Map<Digest, Reference[]>();
    const add = (id: Digest, ref?: Reference) => {
      const list = chosen.get(id) ?? [];
      if (ref && !list.some((r) => fullString(r) === fullString(ref))) list.push(ref);
      chosen.set(id, list);
    };
    for (const s of refsOrIds) {
      const bare = this.isIdLike(s) ? undefined : tryParse(s, false);
      if (bare && !bare.tag && !bare.digest) {
        const rows = this.db.prepare("SELECT * FROM image_refs WHERE repo = ? AND kind = 'tag' ORDER BY rowid").all(repositoryName(bare)) as RefRow[];
        if (rows.length) { for (const r of rows) add(r.image_id as Digest, parseReference(r.name)); continue; }
      }
      const rec = this.resolve(s);
      const named = this.isIdLike(s) && !this.refRow(s) ? undefined : tryParse(s, true);
      add(rec.id, named && named.tag ? named : undefined);
    }

    const pack = tarStream.pack();
    const done = new Promise<void>((resolve, reject) => pipeline(pack, out, (err) => (err ? reject(err) : resolve())));
    const dirs = ['blobs/', 'blobs/sha256/'];
    const mtime = new Date(0);
    const written = new Set<string>();
    const addBuffer = (name: string, data: Buffer) => new Promise<void>((resolve, reject) => {
      pack.entry({ name, size: data.length, mode: 0o644, mtime }, data, (err) => (err ? reject(err) : resolve()));
    });
    const addBlob = async (d: Digest) => {
      if (written.has(d)) return;
      written.add(d);
      const size = this.content.size(d);
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ name: blobMemberName(d), size, mode: 0o644, mtime }, (err) => (err ? reject(err) : resolve()));
        const src = this.content.get(d);
        pipeline(src, entry, (err) => { if (err) reject(err); });
      });
    };
    try {
      for (const name of dirs) {
        await new Promise<void>((resolve, reject) => pack.entry({ name, type: 'directory', mode: 0o755, mtime }, (err) => (err ? reject(err) : resolve())));
      }
      const index: OciIndex = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] };
      const manifestJson: ArchiveManifestEntry[] = [];
      const repositories: Record<string, Record<string, string>> = {};
      for (const [id, refs] of chosen) {
        if (signal?.aborted) throw canceled('save canceled');
        const rec = this.resolve(id);
        const diffIds = rec.config.rootfs.diff_ids as Digest[];
        await this.layerBlobs(diffIds, signal);
        await addBlob(id);
        for (const d of diffIds) await addBlob(d);
        const manifest = ociManifestFor(id, this.content.size(id), diffIds.map((d) => ({ digest: d, size: this.content.size(d) })));
        const mDigest = sha256(manifest);
        if (!written.has(mDigest)) { written.add(mDigest); await addBuffer(blobMemberName(mDigest), manifest); }
        const desc = { mediaType: MEDIA_TYPES.ociManifest, digest: mDigest, size: manifest.length };
        if (refs.length === 0) index.manifests.push(desc);
        for (const r of refs) {
          index.manifests.push({ ...desc, annotations: { [ANNOTATION_IMAGE_NAME]: fullString(r), [ANNOTATION_REF_NAME]: r.tag ?? '' } });
          if (diffIds.length) (repositories[familiarName(r)] ??= {})[r.tag ?? 'latest'] = hexOf(diffIds[diffIds.length - 1]);
        }
        manifestJson.push({ Config: blobMemberName(id), RepoTags: refs.length ? refs.map(familiarString) : null, Layers: diffIds.map(blobMemberName) });
      }
      await addBuffer('index.json', Buffer.from(JSON.stringify(index)));
      await addBuffer('manifest.json', Buffer.from(JSON.stringify(manifestJson)));
      await addBuffer('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
      if (Object.keys(repositories).length) await addBuffer('repositories', Buffer.from(JSON.stringify(repositories)));
      pack.finalize();
    } catch (e) {
      pack.destroy(e as Error);
      await done.catch(() => undefined);
      throw e;
    }
    await done;
  }

  // ---- removal ----------------------------------------------------------------------------------

  async remove(refOrId: string, opts: { force: boolean; noPrune: boolean }, usage: ImageUsage): Promise<RemoveResult[]> {
    const rec = this.resolve(refOrId);
    const id = rec.id;
    const records: RemoveResult[] = [];
    let quiet = false;
    if (!this.isIdPrefix(id, refOrId)) {
      // A reference was given: untag it first; the image goes only with its last reference.
      // Docker refuses only when this is the image's last reference: untagging one of several is fine.
      const user = !opts.force && isSingleReference(this.refsOf(id)) ? usage(id) : undefined;
      if (user) {
        throw conflict(`conflict: unable to remove repository reference "${refOrId}" (must force) - container ${shortId(user.containerId)} is using its referenced image ${shortId(id)}`);
      }
      const ref = parseReference(refOrId);
      const name = this.refRow(refOrId)?.name ?? fullString(ref);
      this.db.prepare('DELETE FROM image_refs WHERE name = ?').run(name);
      records.push({ Untagged: familiarString(parseReference(name)) });
      let remaining = this.refsOf(id);
      if (!parseReference(name).digest) {
        // Without a tag left in that repository, its digest references go too.
        const repo = repositoryName(ref);
        if (!remaining.some((r) => r.kind === 'tag' && r.repo === repo)) {
          for (const r of remaining.filter((x) => x.kind === 'digest' && x.repo === repo)) {
            this.db.prepare('DELETE FROM image_refs WHERE name = ?').run(r.name);
            records.push({ Untagged: familiarString(parseReference(r.name)) });
          }
          remaining = this.refsOf(id);
        }
      }
      if (remaining.length > 0) return records;
      quiet = true;
    } else if (isSingleReference(this.refsOf(id))) {
      // An ID with one tag (plus digests of the same repository): remove them all with the image.
      const c = this.deleteConflict(id, usage, { children: true, running: true, stopped: !opts.force });
      if (c) throw conflict(c.message);
      for (const r of this.refsOf(id)) {
        this.db.prepare('DELETE FROM image_refs WHERE name = ?').run(r.name);
        records.push({ Untagged: familiarString(parseReference(r.name)) });
      }
    }
    await this.deleteHelper(id, records, opts.force, !opts.noPrune, quiet, usage);
    return records;
  }

  async prune(opts: { all: boolean; labelFilters?: string[]; until?: number }, usage: ImageUsage): Promise<{ deleted: RemoveResult[]; spaceReclaimed: number }> {
    const deleted: RemoveResult[] = [];
    let spaceReclaimed = 0;
    const heads = (this.db.prepare(`SELECT id FROM image_images WHERE id NOT IN (SELECT parent FROM image_images)
      ORDER BY added_at, rowid`).all() as Array<{ id: string }>).map((r) => r.id as Digest);
    for (const id of heads) {
      const rec = this.find(id);
      if (!rec) continue;
      if (!opts.all && (rec.repoTags.length > 0 || rec.repoDigests.length > 0)) continue;
      if (usage(id)) continue;
      if (opts.until !== undefined && rec.created && Date.parse(rec.created) >= opts.until) continue;
      if (!matchLabels(rec.config.config?.Labels ?? {}, opts.labelFilters ?? [])) continue;
      for (const r of this.refsOf(id)) {
        this.db.prepare('DELETE FROM image_refs WHERE name = ?').run(r.name);
        deleted.push({ Untagged: familiarString(parseReference(r.name)) });
      }
      const before = deleted.length;
      try {
        spaceReclaimed += await this.deleteHelper(id, deleted, false, true, false, usage);
      } catch (e) {
        if (!isKind(e, 'Conflict')) throw e;
        deleted.length = before;
      }
    }
    return { deleted, spaceReclaimed };
  }

  /** Docker's imageDeleteHelper: deletes an image (no references left) and prunes dangling parents. Returns bytes freed. */
  private async deleteHelper(id: Digest, records: RemoveResult[], force: boolean, prune: boolean, quiet: boolean, usage: ImageUsage): Promise<number> {
    const c = this.deleteConflict(id, usage, { children: true, running: true, references: !force, stopped: !force });
    if (c) {
      if (quiet && (!this.isDangling(id) || c.used)) return 0;
      throw conflict(c.message);
    }
    const parent = this.imageRow(id)?.parent ?? '';
    const removed = this.deleteImageRows(id);
    records.push({ Deleted: id });
    let freed = 0;
    for (const layer of removed) {
      if (await this.removeLayerIfUnused(layer.chain_id as Digest)) {
        records.push({ Deleted: layer.chain_id });
        freed += Math.max(layer.size, 0);
      }
    }
    if (prune && parent && this.find(parent) && this.isDangling(parent as Digest)) {
      freed += await this.deleteHelper(parent as Digest, records, force, prune, true, usage);
    }
    return freed;
  }

  private deleteConflict(id: Digest, usage: ImageUsage, mask: { children?: boolean; running?: boolean; references?: boolean; stopped?: boolean }): { message: string; used: boolean } | undefined {
    const short = shortId(id);
    if (mask.children && this.db.prepare('SELECT 1 FROM image_images WHERE parent = ? LIMIT 1').get(id)) {
      return { message: `conflict: unable to delete ${short} (cannot be forced) - image has dependent child images`, used: false };
    }
    const user = usage(id);
    if (mask.running && user?.running) {
      return { message: `conflict: unable to delete ${short} (cannot be forced) - image is being used by running container ${shortId(user.containerId)}`, used: true };
    }
    if (mask.references && this.refsOf(id).length > 0) {
      return { message: `conflict: unable to delete ${short} (must be forced) - image is referenced in multiple repositories`, used: false };
    }
    if (mask.stopped && user && !user.running) {
      return { message: `conflict: unable to delete ${short} (must be forced) - image is being used by stopped container ${shortId(user.containerId)}`, used: true };
    }
    return undefined;
  }

  /** Deletes an image's rows (and its references) in one transaction; returns the layers it used, top first. */
  private deleteImageRows(id: Digest): LayerRow[] {
    const layers = this.db.prepare(`SELECT l.* FROM image_chains c JOIN image_layers l ON l.chain_id = c.chain_id
      WHERE c.image_id = ? ORDER BY c.idx DESC`).all(id) as LayerRow[];
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM image_refs WHERE image_id = ?').run(id);
      this.db.prepare('DELETE FROM image_images WHERE id = ?').run(id);
    })();
    this.configs.delete(id);
    if (!this.pins.has(id)) this.content.delete(id);
    return layers;
  }

  /** Removes a layer no image uses any more (snapshotter, row, diff blob). True when removed. */
  private removeLayerIfUnused(chain: Digest): Promise<boolean> {
    return this.layerLocks.run(chain, async () => {
      if (this.pins.has(chain)) return false;
      if (this.db.prepare('SELECT 1 FROM image_chains WHERE chain_id = ? LIMIT 1').get(chain)) return false;
      const row = this.layerRow(chain);
      if (!row) return false;
      try {
        await this.snapshotter.removeLayer(chain);
      } catch (e) {
        if (!isKind(e, 'NotFound')) throw e;
      }
      this.db.prepare('DELETE FROM image_layers WHERE chain_id = ?').run(chain);
      const diff = row.diff_id as Digest;
      if (!this.pins.has(diff) && !this.isBlobReferenced(diff)) this.content.delete(diff);
      return true;
    });
  }

  // ---- consistency ------------------------------------------------------------------------------

  /**
   * Drops images whose blobs or layer records are missing (a crash, a lost file): such an image can
   * neither run nor be saved. Runs synchronously on construction, before anyone reads the store.
   */
  private repairMetadata(): void {
    const images = this.db.prepare('SELECT id FROM image_images').all() as Array<{ id: string }>;
    const chainsOf = this.db.prepare(`SELECT c.chain_id, l.diff_id, l.size FROM image_chains c LEFT JOIN image_layers l ON l.chain_id = c.chain_id
      WHERE c.image_id = ? ORDER BY c.idx`);
    const lazy = this.db.prepare('SELECT 1 FROM image_lazy_layers WHERE diff_id = ? LIMIT 1');
    const drop: string[] = [];
    for (const { id } of images) {
      let config: ImageConfigBlob | undefined;
      try {
        if (!isDigest(id)) throw new Error('bad id');
        config = JSON.parse(readFileSync(this.content.path(id), 'utf8')) as ImageConfigBlob;
      } catch (e) {
        if (errnoCode(e) !== 'ENOENT' && !(e instanceof SyntaxError) && !(e instanceof Error && e.message === 'bad id')) throw e;
      }
      const rows = chainsOf.all(id) as Array<{ chain_id: string; diff_id: string | null; size: number | null }>;
      const ok = config !== undefined && Array.isArray(config.rootfs?.diff_ids) && rows.length === config.rootfs.diff_ids.length &&
        rows.every((r) => r.diff_id !== null && (r.size ?? -1) >= 0 && (existsSync(this.content.path(r.diff_id as Digest)) || !!lazy.get(r.diff_id)));
      if (ok) this.configs.set(id, config!);
      else drop.push(id);
    }
    if (drop.length) {
      this.db.transaction(() => {
        for (const id of drop) {
          this.db.prepare('DELETE FROM image_refs WHERE image_id = ?').run(id);
          this.db.prepare('DELETE FROM image_images WHERE id = ?').run(id);
        }
      })();
    }
  }

  /**
   * Garbage collection: re-unpacks layers the snapshotter lost, removes layers no image uses
   * (including half-applied ones a crash left) and blobs nothing references. Leaves alone whatever
   * a live operation has pinned. Safe to run at any time; `open` runs it.
   */
  async gc(): Promise<void> {
    await this.checkLazyLayers();
    // Layers of visible images that the snapshotter no longer has: unpack them again from their blob.
    // Without a blob (a lazyTar layer was its only copy), the images that use it go.
    const used = this.db.prepare(`SELECT DISTINCT l.* FROM image_layers l JOIN image_chains c ON c.chain_id = l.chain_id
      ORDER BY l.depth`).all() as LayerRow[];
    for (const l of used) {
      if (!this.snapshotter.hasLayer(l.chain_id as Digest)) {
        if (!this.content.has(l.diff_id as Digest)) {
          this.dropImagesUsing(l.chain_id as Digest);
          continue;
        }
        this.pins.pin(l.chain_id);
        try {
          await this.ensureLayer(l.chain_id as Digest, l.diff_id as Digest, l.parent as Digest | null, l.depth);
        } finally {
          this.pins.unpin(l.chain_id);
        }
      }
    }
    const unused = this.db.prepare(`SELECT * FROM image_layers WHERE chain_id NOT IN (SELECT chain_id FROM image_chains)
      ORDER BY depth DESC`).all() as LayerRow[];
    for (const l of unused) await this.removeLayerIfUnused(l.chain_id as Digest);
    this.deleteUnreferencedBlobs(this.content.list());
  }

  /**
   * Crash consistency of lazyTar layers. Their files are written without fsync (a layer per build
   * step: an fsync each was most of a cold build's time); `syncLayers` makes them durable a little
   * later, in one syncfs. A layer not marked synced yet after a crash of berthd alone (the same
   * boot) lost nothing (its pages were in the kernel's cache): sync it now. After a crash of the
   * machine (another boot ID) it may have lost data: its tar is made again and checked against its
   * diffID, and the images that use a layer that fails go (gc then removes the layer).
   */
  private async checkLazyLayers(): Promise<void> {
    const rows = this.db.prepare('SELECT chain_id, diff_id, boot_id FROM image_lazy_layers WHERE synced = 0')
      .all() as Array<{ chain_id: string; diff_id: string; boot_id: string }>;
    if (!rows.length) return;
    const archiver = this.archiver();
    const mark = this.db.prepare('UPDATE image_lazy_layers SET synced = 1 WHERE chain_id = ?');
    const boot = bootId();
    const same = rows.filter((r) => r.boot_id === boot);
    if (same.length && archiver) {
      await archiver.sync();
      for (const r of same) mark.run(r.chain_id);
    }
    for (const r of rows) {
      if (r.boot_id === boot && archiver) continue;
      const chain = r.chain_id as Digest;
      let ok = false;
      if (archiver && this.snapshotter.hasLayer(chain)) {
        try {
          ok = (await digestOf(archiver.layerTar(chain))).digest === r.diff_id;
        } catch {
          ok = false;
        }
      }
      if (ok) mark.run(chain); // read back from the disk: it is there
      else this.dropImagesUsing(chain);
    }
  }

  /**
   * Makes the lazyTar layers committed so far durable (one syncfs) and records that they are.
   * Runs when lazy commits pause for SYNC_DELAY_MS (one sync for a whole build, or a run of builds, off their path).
   */
  async syncLayers(): Promise<void> {
    const archiver = this.archiver();
    if (!archiver) return;
    // Rows written before the sync starts name layers whose files were written before it too.
    const last = (this.db.prepare('SELECT MAX(rowid) AS m FROM image_lazy_layers WHERE synced = 0').get() as { m: number | null }).m;
    if (last === null) return;
    await archiver.sync();
    this.db.prepare('UPDATE image_lazy_layers SET synced = 1 WHERE synced = 0 AND rowid <= ?').run(last);
  }

  private scheduleSync(): void {
    this.firstUnsynced ??= Date.now();
    clearTimeout(this.syncTimer);
    this.syncTimer = setTimeout(() => {
      this.syncTimer = undefined;
      this.firstUnsynced = undefined;
      // A failed sync leaves the layers unsynced: the next open syncs or checks them.
      this.syncLayers().catch(() => undefined);
    }, Math.max(0, Math.min(SYNC_DELAY_MS, this.firstUnsynced + SYNC_MAX_DELAY_MS - Date.now())));
    this.syncTimer.unref();
  }

  /** Removes every image that uses layer `chain`, with its references (deleteImageRows). */
  private dropImagesUsing(chain: Digest): void {
    const ids = this.db.prepare('SELECT DISTINCT image_id FROM image_chains WHERE chain_id = ?').all(chain) as Array<{ image_id: Digest }>;
    // One at a time: an interrupted drop leaves the rest unsynced, and the next open drops them.
    for (const { image_id: id } of ids) this.deleteImageRows(id);
  }

  private deleteUnreferencedBlobs(candidates: Iterable<Digest>): void {
    for (const d of new Set(candidates)) {
      if (!this.pins.has(d) && !this.isBlobReferenced(d)) this.content.delete(d);
    }
  }

  private isBlobReferenced(d: Digest): boolean {
    return !!this.db.prepare('SELECT 1 FROM image_images WHERE id = ?').get(d) ||
      !!this.db.prepare('SELECT 1 FROM image_layers WHERE diff_id = ? LIMIT 1').get(d);
  }

  // ---- lookups ----------------------------------------------------------------------------------

  private record(id: Digest): ImageRecord | undefined {
    const row = this.imageRow(id);
    if (!row) return undefined;
    let config = this.configs.get(id);
    if (!config) {
      config = JSON.parse(readFileSync(this.content.path(id), 'utf8')) as ImageConfigBlob;
      this.configs.set(id, config);
    }
    const refs = this.refsOf(id);
    const chains = (this.db.prepare('SELECT chain_id FROM image_chains WHERE image_id = ? ORDER BY idx').all(id) as Array<{ chain_id: string }>)
      .map((r) => r.chain_id as Digest);
    return {
      id,
      repoTags: refs.filter((r) => r.kind === 'tag').map((r) => familiarString(parseReference(r.name))),
      repoDigests: refs.filter((r) => r.kind === 'digest').map((r) => familiarString(parseReference(r.name))),
      parent: row.parent,
      created: row.created,
      size: row.size,
      config,
      chainIds: chains,
    };
  }

  private findId(refOrId: string): Digest | undefined {
    if (refOrId.startsWith('sha256:')) {
      const hex = refOrId.slice(7);
      if (!/^[a-f0-9]{1,64}$/.test(hex)) throw invalidArgument('invalid reference format');
      return this.searchPrefix(hex);
    }
    if (/^[a-f0-9]{64}$/.test(refOrId)) return this.imageRow(`sha256:${refOrId}`) ? `sha256:${refOrId}` : undefined;
    const ref = parseReference(refOrId); // InvalidArgument for a malformed reference
    const row = this.db.prepare('SELECT image_id FROM image_refs WHERE name = ?').get(fullString(ref)) as { image_id: string } | undefined;
    if (row) return row.image_id as Digest;
    if (/^[a-f0-9]+$/.test(refOrId)) return this.searchPrefix(refOrId);
    return undefined;
  }

  /** The image whose ID starts with `hex`, if exactly one does. */
  private searchPrefix(hex: string): Digest | undefined {
    const rows = this.db.prepare("SELECT id FROM image_images WHERE substr(id, 8, ?) = ? LIMIT 2").all(hex.length, hex) as Array<{ id: string }>;
    return rows.length === 1 ? (rows[0].id as Digest) : undefined;
  }

  private displayName(refOrId: string): string {
    if (this.isIdLike(refOrId)) return refOrId;
    const ref = tryParse(refOrId, true);
    return ref ? familiarString(ref) : refOrId;
  }

  private isIdLike(s: string): boolean {
    return s.startsWith('sha256:') || /^[a-f0-9]{64}$/.test(s);
  }

  /** Docker's isImageIDPrefix: the argument names the image by (a prefix of) its ID. */
  private isIdPrefix(id: Digest, s: string): boolean {
    if (this.refRow(s)) return false;
    return id.startsWith(s) || hexOf(id).startsWith(s);
  }

  private refRow(s: string): RefRow | undefined {
    const ref = tryParse(s, true);
    if (!ref || this.isIdLike(s)) return undefined;
    return this.db.prepare('SELECT * FROM image_refs WHERE name = ?').get(fullString(ref)) as RefRow | undefined;
  }

  private refsOf(id: string): RefRow[] {
    return this.db.prepare('SELECT * FROM image_refs WHERE image_id = ? ORDER BY rowid').all(id) as RefRow[];
  }

  private imageRow(id: string): ImageRow | undefined {
    return this.db.prepare('SELECT * FROM image_images WHERE id = ?').get(id) as ImageRow | undefined;
  }

  private layerRow(chain: string): LayerRow | undefined {
    return this.db.prepare('SELECT * FROM image_layers WHERE chain_id = ?').get(chain) as LayerRow | undefined;
  }

  private isDangling(id: Digest): boolean {
    return this.refsOf(id).length === 0 && !this.db.prepare('SELECT 1 FROM image_images WHERE parent = ? LIMIT 1').get(id);
  }
}

function tryParse(s: string, defaultTag: boolean): Reference | undefined {
  try {
    return parseReference(s, { defaultTag });
  } catch {
    return undefined;
  }
}

/** Docker's isSingleReference: at most one tag, and all references in that tag's repository. */
function isSingleReference(refs: RefRow[]): boolean {
  if (refs.length <= 1) return refs.length === 1;
  const tags = refs.filter((r) => r.kind === 'tag');
  if (tags.length > 1) return false;
  const repos = new Set(refs.map((r) => r.repo));
  return repos.size === 1;
}

/**
 * Label filters as `docker image prune --filter` gives them: `key`, `key=value`, and negations
 * `!key`, `!key=value` (from `label!=...`).
 */
function matchLabels(labels: Record<string, string>, filters: string[]): boolean {
  for (const f of filters) {
    const negate = f.startsWith('!');
    const body = negate ? f.slice(1) : f;
    const eq = body.indexOf('=');
    const key = eq === -1 ? body : body.slice(0, eq);
    const has = eq === -1 ? key in labels : labels[key] === body.slice(eq + 1);
    if (has === negate) return false;
  }
  return true;
}

/** The sha256 and size of a stream's bytes (a lazyTar layer's tar: digested, never written). */
async function digestOf(src: AsyncIterable<Buffer | Uint8Array>, signal?: AbortSignal): Promise<{ digest: Digest; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const c of src) {
    if (signal?.aborted) throw canceled('operation canceled');
    hash.update(c);
    size += c.length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** Passes `src` on; fails at its end (InvalidArgument) unless its bytes hash to `expected`. */
function verifying(src: Readable, expected: Digest): Readable {
  const hash = createHash('sha256');
  const check = new Transform({
    transform(chunk: Buffer, _enc, cb) { hash.update(chunk); cb(null, chunk); },
    flush(cb) {
      const got = `sha256:${hash.digest('hex')}`;
      cb(got === expected ? null : invalidArgument(`layer ${expected}: its snapshot packs to ${got}`));
    },
  });
  pipeline(src, check, () => undefined);
  return check;
}

/** Resolves when `stream` wants more data, or when `stop` settles (its reader went away). */
function drained(stream: PassThrough, stop: Promise<void>): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => { stream.off('drain', done); resolve(); };
    stream.on('drain', done);
    void stop.then(done);
  });
}
