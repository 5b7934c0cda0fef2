import { posix } from 'node:path';
import { Digest, hexOf, isDigest, sha256 } from '../base/digest';
import { invalidArgument } from '../base/errors';
import { MEDIA_TYPES } from '../oci/image';

/**
 * The image archive formats `docker save` writes and `docker load` reads, as data.
 *
 * Docker 25+ writes an OCI image layout that is also a docker-archive:
 *
 *   oci-layout                 {"imageLayoutVersion":"1.0.0"}
 *   index.json                 OCI index; one manifest per tag, named by annotations
 *   manifest.json              docker-archive: [{Config, RepoTags, Layers}] with blob paths
 *   repositories               legacy {"name":{"tag":"<top layer hex>"}}
 *   blobs/sha256/<hex>         configs, OCI manifests, uncompressed layer tars
 *
 * Older Docker and skopeo write `<id>/layer.tar`, `<hex>.json`, `<hex>.tar` and symlinks between
 * them; the loader follows names (and links) through manifest.json, so the layout does not matter.
 */

/** One entry of a docker-archive manifest.json. */
export interface ArchiveManifestEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

export interface OciDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture?: string; os?: string; variant?: string };
}

export interface OciManifest {
  schemaVersion: number;
  mediaType?: string;
  config: OciDescriptor;
  layers: OciDescriptor[];
}

export interface OciIndex {
  schemaVersion: number;
  mediaType?: string;
  manifests: OciDescriptor[];
}

export const ANNOTATION_IMAGE_NAME = 'io.containerd.image.name';
export const ANNOTATION_REF_NAME = 'org.opencontainers.image.ref.name';

/** The diffID of an empty tar (1024 zero bytes): a commit without changes adds no layer. */
export const EMPTY_LAYER_DIFF_ID: Digest = sha256(Buffer.alloc(1024));

/**
 * Normalises a member name of an archive to a clean relative path, or undefined for names that
 * could escape (`..`) or are empty. Names are only ever map keys: nothing is written by name.
 */
export function cleanMemberName(name: string): string | undefined {
  const n = posix.normalize(`/${name}`).slice(1).replace(/\/+$/, '');
  if (n === '' || n === '.' || n.split('/').includes('..')) return undefined;
  return n;
}

/** Resolves a symlink or hardlink member's target to a member name. */
export function linkTarget(member: string, linkname: string, symbolic: boolean): string | undefined {
  return cleanMemberName(symbolic && !linkname.startsWith('/') ? posix.join(posix.dirname(member), linkname) : linkname);
}

/** OCI chain IDs: chain[0] = diff[0], chain[i] = sha256(chain[i-1] + " " + diff[i]). */
export function chainIds(diffIds: readonly Digest[]): Digest[] {
  const out: Digest[] = [];
  for (const d of diffIds) out.push(out.length === 0 ? d : sha256(`${out[out.length - 1]} ${d}`));
  return out;
}

export function blobMemberName(d: Digest): string {
  return `blobs/sha256/${hexOf(d)}`;
}

/** The OCI manifest Docker 25+ writes for a saved image (uncompressed layers). */
export function ociManifestFor(configDigest: Digest, configSize: number, layers: Array<{ digest: Digest; size: number }>): Buffer {
  const manifest: OciManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: configDigest, size: configSize },
    layers: layers.map((l) => ({ mediaType: MEDIA_TYPES.ociLayer, digest: l.digest, size: l.size })),
  };
  return Buffer.from(JSON.stringify(manifest));
}

export function parseJson<T>(what: string, data: Buffer | string): T {
  try {
    return JSON.parse(data.toString()) as T;
  } catch (e) {
    throw invalidArgument(`invalid archive: ${what} is not valid JSON`, e);
  }
}

export function checkDigest(what: string, s: unknown): Digest {
  if (typeof s !== 'string' || !isDigest(s)) throw invalidArgument(`invalid archive: ${what}: bad digest ${JSON.stringify(s)}`);
  return s;
}

/** Docker's platform name for this host's architecture. */
export function hostArchitecture(): string {
  switch (process.arch) {
    case 'x64': return 'amd64';
    case 'ia32': return '386';
    case 'arm': return 'arm';
    case 'arm64': return 'arm64';
    case 'ppc64': return 'ppc64le';
    case 's390x': return 's390x';
    case 'riscv64': return 'riscv64';
    default: return process.arch;
  }
}
