/**
 * The registry server's storage contract: what the HTTP routes need from the place content lives.
 * Three narrow parts, one per family of endpoints. Every method takes a repository name already
 * checked by names.ts, and throws `RegistryError`s (errors.ts) by kind and subject:
 *   NotFound/blob, NotFound/upload, NotFound/manifest, NotFound/name, InvalidArgument/digest,
 *   InvalidArgument/size, Conflict/range.
 *
 * Invariants every implementation keeps:
 * - A blob is visible (stat/open) only once its whole content is stored and its digest verified;
 *   a crash at any moment leaves every complete blob intact and no partial blob visible.
 * - Blobs are content addressed and shared between repositories; a repository sees a blob only
 *   once it was pushed or mounted there (so a pull never leaks content across repositories).
 * - Pushing the same blob concurrently, from one or many repositories, is safe.
 * - Tags, manifests and links are replaced atomically: a reader sees the old or the new value.
 */
import type { Readable } from 'node:stream';
import type { Digest } from '../../base/digest';
import type { Descriptor } from './manifest';

export interface BlobStore {
  /** The size of a blob the repository has; NotFound/blob otherwise. */
  stat(repo: string, digest: Digest): Promise<number>;
  /**
   * Opens a blob the repository has (NotFound/blob otherwise) for reading: its size, then its bytes
   * through `read`, whole or [start, end] inclusive (the caller checked the range against `size`).
   * Call `read` or `close` exactly once; the stream closes the blob when it ends or is destroyed.
   */
  open(repo: string, digest: Digest): Promise<OpenBlob>;
  /** Removes the blob from the repository (the content goes when nothing else refers to it). */
  delete(repo: string, digest: Digest): Promise<void>;
  /** Links a blob that `from` has into `repo`; false (nothing changed) if `from` does not have it. */
  mount(repo: string, digest: Digest, from: string): Promise<boolean>;
}

export interface OpenBlob {
  size: number;
  read(range?: { start: number; end: number }): Readable;
  close(): Promise<void>;
}

/** A chunk of an upload: the request body, and what Content-Range / Content-Length said of it. */
export interface UploadChunk {
  body: Readable;
  /** Must equal the session's offset, or Conflict/range. */
  start?: number;
  /** The body must be exactly this long, or InvalidArgument/size (and nothing of it is kept). */
  length?: number;
  signal?: AbortSignal;
}

export interface UploadState {
  id: string;
  /** Bytes received so far. */
  offset: number;
}

/**
 * Upload sessions. Lifecycle: start -> append* -> finish | cancel. The session survives a
 * restart of the server at its last completed append (a chunk cut off midway is dropped whole).
 */
export interface UploadStore {
  start(repo: string): Promise<UploadState>;
  status(repo: string, id: string): Promise<UploadState>;
  /**
   * Appends a chunk. `start`, when given (Content-Range), must equal the current offset, or
   * Conflict/range. A body that ends early (a dropped connection) or is aborted through `signal`
   * changes nothing.
   */
  append(repo: string, id: string, chunk: UploadChunk): Promise<UploadState>;
  /**
   * Verifies the upload's content against `digest` and makes it a blob of `repo`; the session ends
   * either way. InvalidArgument/digest when the content does not match. `last`: a final chunk
   * (a PUT with a body, a monolithic POST), appended as `append` would, except that the offset it
   * reaches is not recorded first (the session ends right after); when that chunk fails as an
   * append fails, the session stays where it was.
   */
  finish(repo: string, id: string, digest: Digest, last?: UploadChunk): Promise<number>;
  cancel(repo: string, id: string): Promise<void>;
}

export interface StoredManifest {
  digest: Digest;
  mediaType: string;
  content: Buffer;
}

export interface ManifestStore {
  /**
   * Stores a manifest (already validated) under its digest and, when `tag` is given, points the
   * tag at it. `referrer`, when given, files the manifest in the referrers of `referrer.subject`.
   */
  put(repo: string, manifest: StoredManifest, opts: { tag?: string; referrer?: { subject: Digest; descriptor: Descriptor } }): Promise<void>;
  /** Whether the repository has this manifest (for index validation). */
  has(repo: string, digest: Digest): Promise<boolean>;
  get(repo: string, ref: { digest: Digest } | { tag: string }): Promise<StoredManifest>;
  /** By digest: the manifest and every tag pointing at it. By tag: only the tag. */
  delete(repo: string, ref: { digest: Digest } | { tag: string }): Promise<void>;
  /** Tags sorted lexically; NotFound/name for a repository that does not exist. */
  tags(repo: string): Promise<string[]>;
  /** Descriptors of the manifests whose subject is `digest` (empty when none). */
  referrers(repo: string, digest: Digest): Promise<Descriptor[]>;
  /** Every repository name, sorted. */
  repositories(): Promise<string[]>;
}

export interface RegistryStorage {
  blobs: BlobStore;
  uploads: UploadStore;
  manifests: ManifestStore;
}
