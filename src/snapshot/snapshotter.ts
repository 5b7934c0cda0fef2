import type { Readable } from 'node:stream';
import type { Digest } from '../base/digest';
import type { LayerMember } from '../archive/apply-tar';

/** A mount to make, as data: the caller (through sys/) mounts it on a target of its choosing. */
export interface Mount {
  type: string;
  source: string;
  options: string[];
}

/** One entry of `docker diff`: Kind 0 = changed, 1 = added, 2 = deleted (Docker's numbering). */
export interface Change {
  Path: string;
  Kind: 0 | 1 | 2;
}

/**
 * Snapshotter: the filesystem layers of images and the writable layers of containers.
 *
 * Lifecycle: a read-only *layer* is created once by `applyLayer` (atomically: it is either fully
 * there, under its chain ID, or absent) and removed by `removeLayer`. A writable *snapshot* for a
 * container is created by `prepare(key, parentChainId)`, used through the mounts it returns, and
 * removed by `remove(key)`. Keys are container IDs.
 *
 * Invariants: layers are immutable once committed; a crash during applyLayer leaves no layer
 * visible (only a temp dir that the next start of the snapshotter removes).
 * Errors: NotFound for unknown keys/layers, AlreadyExists for a duplicate prepare key,
 * InvalidArgument for a hostile tar (path escape), which leaves nothing behind.
 */
export interface Snapshotter {
  hasLayer(chainId: Digest): boolean;
  /**
   * Unpacks an uncompressed layer tar on top of `parent` (OCI whiteouts `.wh.NAME` and
   * `.wh..wh..opq` become overlay whiteouts) and commits it under `chainId`. No-op when present.
   * Returns the unpacked size in bytes. `tar` is read to its end (bytes after the end-of-archive
   * marker are dropped) and the layer committed only after it ended cleanly: a caller vetoes the
   * layer by destroying the stream with an error (a digest computed over it did not match).
   */
  applyLayer(chainId: Digest, parent: Digest | null, tar: Readable, signal?: AbortSignal): Promise<{ size: number }>;
  /** Size in bytes of a committed layer's own content. */
  layerSize(chainId: Digest): Promise<number>;
  removeLayer(chainId: Digest): Promise<void>;

  /** Creates the writable snapshot `key` over the layer chain ending at `parent` (null = empty). */
  prepare(key: string, parent: Digest | null): Promise<Mount[]>;
  /**
   * The mounts of an existing snapshot (stable across restarts). `ephemeral`: the snapshot is
   * mounted this once, and what is written through the mount need not survive a crash (a build
   * step, a throwaway view); the snapshotter may then skip syncing it, which makes the unmount
   * cheap (overlay syncs the whole upper filesystem on unmount otherwise). Such a snapshot may not
   * be mountable again: commit (SnapshotCommitter) or remove it.
   */
  mounts(key: string, opts?: { ephemeral?: boolean }): Mount[];
  /** Removes the snapshot; its mounts must already be unmounted. No-op when absent. */
  remove(key: string): Promise<void>;
  /** The directory holding the snapshot's own changes (overlay upperdir). */
  upperDir(key: string): string;
  /** The snapshot's changes against its parent, as `docker diff` reports them. */
  changes(key: string): Promise<Change[]>;
  /** The snapshot's changes as an uncompressed layer tar with OCI whiteouts (for commit). */
  diff(key: string, signal?: AbortSignal): Readable;
  /** Bytes used by the snapshot's own changes (`ps -s`). */
  usage(key: string): Promise<number>;
}

/**
 * An optional ability of a Snapshotter: make a snapshot's own changes the committed layer
 * `chainId` on `parent` without copying them (containerd's Commit). For a caller that knows they
 * are exactly that layer's content: the layer tar it stored was made from this snapshot, which
 * nothing has mounted or written since. The layer then holds what unpacking that tar would give
 * (the snapshot's root directory's own metadata and sockets, which a tar does not carry, are
 * dropped). The snapshot stays, without changes; remove it as usual. No-op (the snapshot keeps its
 * changes) when the layer exists. Errors: NotFound for an unknown snapshot, InvalidArgument when
 * its parent is not `parent` (nothing is changed then); after an I/O error no layer is committed
 * and the snapshot's changes may be gone.
 */
export interface SnapshotCommitter {
  commitSnapshot(key: string, chainId: Digest, parent: Digest | null): Promise<{ size: number }>;
}

/**
 * An optional ability of a Snapshotter, for an image store that keeps a built layer's tar only as
 * the layer itself and makes the tar again when something needs its bytes (save, push):
 *
 * - `applyToSnapshot` unpacks a layer tar, or members made in-process (applyMembers: no tar, files
 *   maybe copied file to file), into a writable snapshot that nothing has mounted (as applyLayer
 *   unpacks one), so that it can be committed in place (SnapshotCommitter) after its `diff` was
 *   digested;
 * - `layerTar` is the tar of a committed layer's own content: byte for byte what `diff(key)` gave
 *   for the snapshot it was committed from (both are the same deterministic packing of the same
 *   directory; a layer is immutable), so the digest taken then stays the layer's diffID. Callers
 *   still check it: a layer that lost data in a machine crash packs to other bytes. NotFound for
 *   an unknown layer;
 * - `sync` makes every layer committed so far durable (layers are written without fsync: a crash
 *   of the machine, not of the process, may lose them) and resolves when it is.
 */
export interface LayerArchiver {
  applyToSnapshot(key: string, layer: Readable | Iterable<LayerMember>, signal?: AbortSignal): Promise<void>;
  layerTar(chainId: Digest, signal?: AbortSignal): Readable;
  sync(): Promise<void>;
}
