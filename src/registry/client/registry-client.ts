import type { Readable } from 'node:stream';
import type { Digest } from '../../base/digest';
import type { ImageRecord } from '../../image/image-store';
import type { Credentials } from './transport';

/**
 * The engine's registry client: pull, push and login against OCI distribution registries.
 *
 * Lifecycle: one RegistryClient per daemon (stateless between operations; tokens live for one
 * operation). Every operation takes an AbortSignal: a client that hangs up cancels its pull/push.
 * Errors by kind: NotFound (unknown repository, tag or manifest), Unauthenticated (401 or bad
 * credentials), PermissionDenied, Unavailable (network, 5xx, docker.io which this host cannot
 * reach), InvalidArgument (digest mismatch, bad manifest). Errors before the first byte of an
 * image is written to the store are thrown before any progress event, so the API can answer them
 * with an HTTP status, as dockerd does.
 */
export interface RegistryClient {
  pull(req: PullRequest, progress: ProgressSink, signal?: AbortSignal): Promise<PullResult>;
  push(req: PushRequest, progress: ProgressSink, signal?: AbortSignal): Promise<PushResult>;
  /** Every tag of a repository (`127.0.0.1:5000/a/b`), following `Link` pagination. */
  tags(repository: string, creds?: Credentials, signal?: AbortSignal): Promise<string[]>;
  /** The manifest a reference names now: its digest (computed from the bytes), media type, size. */
  resolve(ref: string, creds?: Credentials, signal?: AbortSignal): Promise<ManifestDescriptor>;
  /**
   * The cosign signatures stored for a manifest of a repository: artifacts that refer to it
   * (referrers API, or the referrers tag schema on registries without it) and cosign's older
   * `sha256-<hex>.sig` tag. Payloads are digest-checked; nothing is verified cryptographically.
   */
  signatures(repository: string, digest: Digest, creds?: Credentials, signal?: AbortSignal): Promise<SignatureArtifact[]>;
  /** Pushes a cosign signature artifact whose subject is `subject`; returns the artifact's digest. */
  pushSignature(repository: string, subject: ManifestDescriptor, payload: Buffer, signature: string, creds?: Credentials, signal?: AbortSignal): Promise<Digest>;
  /** Checks credentials against the registry's `/v2/` (and its token realm). */
  login(serverAddress: string, creds: Credentials, signal?: AbortSignal): Promise<void>;
}

export interface ManifestDescriptor { digest: Digest; mediaType: string; size: number }

/** A signature as stored: where (artifact digest or tag), the payload bytes, the base64 signature. */
export interface SignatureArtifact { source: string; payload: Buffer; signature: string }

/** One progress event, in Docker's vocabulary (`Pulling fs layer`, `Downloading`, ...). */
export interface Progress {
  /** A layer's short ID or a tag; absent for whole-operation messages. */
  id?: string;
  status: string;
  current?: number;
  total?: number;
  /** A push's final record (Docker's `aux`). */
  aux?: { Tag: string; Digest: string; Size: number };
}

export type ProgressSink = (p: Progress) => void;

export interface PullRequest {
  /** A full reference with tag or digest (`127.0.0.1:5000/a/b:1`). */
  ref: string;
  creds?: Credentials;
  /** `os/arch[/variant]`; default the host's. A single-platform image must match it when given. */
  platform?: string;
  /**
   * Called with the digest of the manifest the reference names (the index when there is one),
   * before anything is stored or any progress is sent: content trust refuses here.
   */
  verify?: (manifestDigest: Digest) => Promise<void>;
}

export interface PullResult { image: ImageRecord; manifestDigest: Digest; upToDate: boolean }

export interface PushRequest {
  /** A full reference with tag (`127.0.0.1:5000/a/b:1`). */
  ref: string;
  creds?: Credentials;
}

export interface PushResult { manifestDigest: Digest; size: number }

/**
 * What the client needs from the image store (LocalImageStore provides it): blobs by digest, with
 * layers uncompressed under their diffIDs, and images made from blobs already stored.
 */
export interface PullTarget {
  readonly content: {
    has(d: Digest): boolean;
    size(d: Digest): number;
    get(d: Digest): Readable;
    put(src: AsyncIterable<Buffer | Uint8Array>, expected?: Digest, signal?: AbortSignal): Promise<{ digest: Digest; size: number }>;
  };
  /**
   * Stores a pulled layer, `tar` uncompressed, under the last of `diffIds` (the layer's own diffID;
   * those below it come first), verified against it: InvalidArgument ("content digest mismatch")
   * and nothing stored when it differs. The store may unpack the layer in the same pass; it commits
   * nothing of it unless the digest matched.
   */
  putLayer(tar: AsyncIterable<Buffer>, diffIds: Digest[], signal?: AbortSignal): Promise<void>;
  /**
   * Unpacks a stored layer (the last of `diffIds`) on top of the layers below it, which must be
   * unpacked already; no-op when it is. A pull unpacks each layer this way as soon as it and those
   * below are there, while later layers still download.
   */
  unpackLayer(diffIds: Digest[], signal?: AbortSignal): Promise<void>;
  /**
   * Makes sure `content` holds these layers' tars (ImageStore.layerBlobs: a built layer's tar is
   * written from its snapshot only when something needs it). A push calls it before it reads them.
   */
  layerBlobs(diffIds: Digest[], signal?: AbortSignal): Promise<void>;
  find(refOrId: string): ImageRecord | undefined;
  list(): ImageRecord[];
  resolve(refOrId: string): ImageRecord;
  createImage(img: { config: Digest; refs?: string[] }, signal?: AbortSignal): Promise<ImageRecord>;
  tag(refOrId: string, newRef: string): void;
  addRepoDigest(refOrId: string, canonical: string): void;
}
