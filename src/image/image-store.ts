import type { Readable, Writable } from 'node:stream';
import type { Digest } from '../base/digest';
import type { ImageConfigBlob, ImageRuntimeConfig } from '../oci/image';
import type { LayerMember } from '../archive/apply-tar';

/** What the engine knows of one image. `id` is the digest of its config blob. */
export interface ImageRecord {
  id: Digest;
  /** Familiar references, e.g. `busybox:latest`, `127.0.0.1:5000/x/y:1`. */
  repoTags: string[];
  /** `name@sha256:...` of manifests this image was pulled by or pushed as. */
  repoDigests: string[];
  parent: string;
  created: string;
  /** Sum of the unpacked sizes of its layers, in bytes. */
  size: number;
  config: ImageConfigBlob;
  /** Chain IDs of the layers, bottom first; the last is the parent of a container's snapshot. */
  chainIds: Digest[];
}

/** Bytes a layer takes on disk. */
export interface LayerUsage {
  diffId: Digest;
  /** The unpacked snapshot (Docker's layer size). */
  unpacked: number;
  /** The layer's tar in the content store; 0 when it is not kept. */
  archive: number;
}

export interface RemoveResult {
  Untagged?: string;
  Deleted?: string;
}

export interface CommitInput {
  /** Image the container was created from (null for scratch). */
  parentImage: Digest | null;
  /** Uncompressed layer tar of the container's changes; null for none (a metadata step). */
  layer: Readable | null;
  config: ImageRuntimeConfig;
  containerId: string;
  comment?: string;
  author?: string;
  /** Reference to tag the new image with. */
  tag?: string;
  /** created_by for the history entry. */
  createdBy?: string;
  /**
   * The snapshot `layer` was made from, when nothing has mounted or written it since (a stopped
   * build step's container): the store may make its changes the new layer in place (when the
   * snapshotter can) instead of unpacking the tar again. Its changes are then gone from it.
   */
  snapshot?: string;
  /**
   * The store need not keep the layer's tar: it may commit the layer as a snapshot (`snapshot`, or
   * one it unpacks `layer` into), digest the snapshot's tar for the diffID without writing it, and
   * make the tar again from the layer when something needs its bytes (save, push, `layer`). The
   * diffID is then the digest of the snapshotter's packing of the layer, not of `layer`'s bytes
   * (same content, maybe another order or other headers). For builds: their layers are rarely
   * saved or pushed, and writing and fsyncing each step's tar was most of a cold build's time.
   */
  lazyTar?: boolean;
  /**
   * `layer`'s members as made in-process, for a lazyTar commit to apply without the tar (a COPY's
   * big files are then copied file to file, in the kernel): the same content, and never both read.
   */
  members?: Iterable<LayerMember>;
}

export interface ImportInput {
  /** A tar (optionally gzip/bzip2/xz compressed) of a root filesystem. */
  tar: Readable;
  config?: ImageRuntimeConfig;
  message?: string;
  tag?: string;
}

/** Answers whether an image is in use by a container, and by which (for Docker's conflict errors). */
export type ImageUsage = (id: Digest) => { containerId: string; running: boolean } | undefined;

/**
 * ImageStore: images, their tags and layers. Blobs live in a content store (verified digests,
 * atomic writes); metadata in SQLite; layers are unpacked through the Snapshotter.
 *
 * Name resolution (`resolve`) follows Docker: a reference (`busybox`, `busybox:latest`,
 * `docker.io/library/busybox:latest`, `name@sha256:...`), a full ID (`sha256:<64>` or `<64>`), or a
 * unique ID prefix. Errors: NotFound ("No such image: x"), InvalidArgument (bad reference),
 * Conflict (removal of an image in use or referenced by several tags without force).
 * Every mutation is atomic: a crash leaves either nothing or a whole image visible.
 */
export interface ImageStore {
  resolve(refOrId: string): ImageRecord;
  /** Like resolve but undefined instead of NotFound. */
  find(refOrId: string): ImageRecord | undefined;
  list(): ImageRecord[];
  tag(refOrId: string, newRef: string): void;
  remove(refOrId: string, opts: { force: boolean; noPrune: boolean }, usage: ImageUsage): Promise<RemoveResult[]>;
  /** Image history, newest first, in Docker's API shape. */
  history(refOrId: string): Array<{ Id: string; Created: number; CreatedBy: string; Tags: string[] | null; Size: number; Comment: string }>;
  import(input: ImportInput, signal?: AbortSignal): Promise<ImageRecord>;
  commit(input: CommitInput, signal?: AbortSignal): Promise<ImageRecord>;
  /**
   * A layer's uncompressed tar, by its diffID (NotFound when the store lacks it). A layer committed
   * with `lazyTar` is packed from its snapshot as it is read; the stream fails at its end if that
   * does not hash to the diffID.
   */
  layer(diffId: Digest): Readable;
  /**
   * Makes sure the content store holds these layers' tars (under their diffIDs), writing those of
   * layers committed with `lazyTar` from their snapshots, verified; for readers of the content
   * store (save, push). NotFound when a layer can be made from nowhere.
   */
  layerBlobs(diffIds: Digest[], signal?: AbortSignal): Promise<void>;
  /**
   * What each layer holds on disk, by chain ID (system df): its unpacked snapshot, and the layer
   * tar the store keeps by diffID for save and push (one file for every chain with that diffID).
   */
  layerUsage(): Map<Digest, LayerUsage>;
  /**
   * Docker's SquashImage: a new image with the config of `image` whose layers above those of
   * `base` (null: all) are replaced by `layer`, their merged diff. History is kept, the entries
   * above the base marked empty_layer, plus a "merge <image> to <base>" entry; the parent is `base`.
   */
  squash(image: Digest, base: Digest | null, layer: Readable, signal?: AbortSignal): Promise<ImageRecord>;
  /** Reads a docker-archive (or OCI layout) tar; returns "Loaded image: x" lines' subjects. */
  load(tar: Readable, signal?: AbortSignal): Promise<Array<{ ref?: string; id: Digest }>>;
  /** Writes a docker-archive tar of the images (with repositories/manifest.json) to out. */
  save(refsOrIds: string[], out: Writable, signal?: AbortSignal): Promise<void>;
  /** Removes dangling images (or all unused with all=true); returns what was removed and bytes reclaimed. */
  prune(opts: { all: boolean; labelFilters?: string[]; until?: number }, usage: ImageUsage): Promise<{ deleted: RemoveResult[]; spaceReclaimed: number }>;
}
