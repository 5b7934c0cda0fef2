/**
 * Manifest validation, pure: which media types the registry stores, and what a manifest refers to
 * (the blobs and child manifests that must already be in the repository, and its subject for the
 * referrers API). The routes check the references against storage.
 */
import type { Digest } from '../../base/digest';
import { isDigest } from '../../base/digest';
import { MEDIA_TYPES } from '../../oci/image';
import { registryError } from './errors';

/** Largest manifest accepted (distribution-spec: registries SHOULD accept at least 4 MiB). */
export const MANIFEST_MAX_BYTES = 4 * 1024 * 1024;

export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MEDIA_TYPES.ociManifest, MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifest, MEDIA_TYPES.dockerManifestList,
];

const INDEX_TYPES: readonly string[] = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList];

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  platform?: unknown;
}

/** What the registry needs to know about a manifest it stores. */
export interface ManifestFacts {
  mediaType: string;
  /** Blobs (config and layers) that must be in the repository. */
  blobs: Digest[];
  /** Manifests an index lists, which must be in the repository. */
  manifests: Digest[];
  subject?: Descriptor;
  /** For the referrers API: `artifactType`, or else the config's media type (image-spec 1.1). */
  artifactType?: string;
  annotations?: Record<string, string>;
}

const invalid = (msg: string) => registryError('InvalidArgument', 'manifest', msg);

function descriptor(v: unknown, where: string): Descriptor {
  if (typeof v !== 'object' || v === null) throw invalid(`${where}: not a descriptor`);
  const d = v as Record<string, unknown>;
  if (typeof d.mediaType !== 'string') throw invalid(`${where}: mediaType missing`);
  if (typeof d.digest !== 'string' || !isDigest(d.digest)) throw invalid(`${where}: invalid or unsupported digest ${JSON.stringify(d.digest)}`);
  if (typeof d.size !== 'number' || !Number.isSafeInteger(d.size) || d.size < 0) throw invalid(`${where}: invalid size`);
  return d as unknown as Descriptor;
}

/**
 * Parses and checks a manifest pushed with Content-Type `contentType`. Throws NotImplemented
 * (media-type) for a type the registry does not store, InvalidArgument (manifest) for a body that
 * is not a well-formed manifest of that type.
 */
export function parseManifest(contentType: string | undefined, body: Buffer): ManifestFacts {
  const type = (contentType ?? '').split(';')[0].trim().toLowerCase();
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    throw invalid('manifest is not valid JSON');
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw invalid('manifest is not a JSON object');
  // A client that sends no Content-Type (or a generic one) still names the type in the body.
  const mediaType = type && type !== 'application/json' && type !== 'application/octet-stream' ? type : String(doc.mediaType ?? '');
  if (!MANIFEST_MEDIA_TYPES.includes(mediaType)) {
    throw registryError('NotImplemented', 'media-type', `manifest media type ${JSON.stringify(mediaType)} is not supported`, { mediaType });
  }
  if (doc.schemaVersion !== 2) throw invalid('schemaVersion must be 2');
  if (doc.mediaType !== undefined && doc.mediaType !== mediaType) {
    throw invalid(`mediaType ${JSON.stringify(doc.mediaType)} does not match Content-Type ${JSON.stringify(mediaType)}`);
  }
  const facts: ManifestFacts = { mediaType, blobs: [], manifests: [] };
  if (INDEX_TYPES.includes(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw invalid('index without manifests');
    doc.manifests.forEach((m, i) => facts.manifests.push(descriptor(m, `manifests[${i}]`).digest));
    if (typeof doc.artifactType === 'string') facts.artifactType = doc.artifactType;
  } else {
    const config = descriptor(doc.config, 'config');
    if (!Array.isArray(doc.layers)) throw invalid('manifest without layers');
    facts.blobs.push(config.digest);
    doc.layers.forEach((l, i) => {
      const d = descriptor(l, `layers[${i}]`);
      // Non-distributable layers live elsewhere (image-spec: `urls`); they need not be pushed.
      if (!d.urls?.length) facts.blobs.push(d.digest);
    });
    facts.artifactType = typeof doc.artifactType === 'string' ? doc.artifactType : config.mediaType;
  }
  if (doc.subject !== undefined) facts.subject = descriptor(doc.subject, 'subject');
  if (doc.annotations !== undefined) {
    if (typeof doc.annotations !== 'object' || doc.annotations === null) throw invalid('annotations must be an object');
    facts.annotations = doc.annotations as Record<string, string>;
  }
  return facts;
}

/**
 * Picks what to answer a GET with for a stored manifest of `mediaType`, given the Accept header:
 * true when the client accepts it (no Accept, `*\/*`, or the type listed).
 */
export function accepts(acceptHeader: string | string[] | undefined, mediaType: string): boolean {
  const values = (Array.isArray(acceptHeader) ? acceptHeader.join(',') : acceptHeader ?? '')
    .split(',').map((v) => v.split(';')[0].trim().toLowerCase()).filter(Boolean);
  if (values.length === 0) return true;
  return values.some((v) => v === '*/*' || v === 'application/*' || v === mediaType);
}
