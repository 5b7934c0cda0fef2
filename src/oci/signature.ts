/**
 * Image signatures in cosign's format (sigstore/cosign, specs/SIGNATURE_SPEC.md), stored as OCI
 * artifacts that refer to the signed manifest (OCI distribution v1.1 `subject`, listed by the
 * referrers API):
 *
 *   artifact manifest  application/vnd.oci.image.manifest.v1+json
 *     artifactType     application/vnd.dev.cosign.artifact.sig.v1+json
 *     config           the OCI empty descriptor ({} , application/vnd.oci.empty.v1+json)
 *     layers[0]        application/vnd.dev.cosign.simplesigning.v1+json: the payload below
 *                        annotations["dev.cosignproject.cosign/signature"] = base64(signature)
 *     subject          the signed image manifest (or index)
 *
 *   payload (Red Hat "simple signing", cosign flavour):
 *     {"critical":{"identity":{"docker-reference":"127.0.0.1:5000/app"},
 *      "image":{"docker-manifest-digest":"sha256:..."},"type":"cosign container image signature"},
 *      "optional":null}
 *
 * The signature is over the payload bytes exactly as stored: ECDSA P-256 with SHA-256 (ASN.1 DER,
 * cosign's default) or Ed25519. cosign's older tag scheme (`sha256-<hex>.sig` holding the same
 * layers) is read too. Pure: types, constants and (de)serialisation; no keys, no I/O.
 */
import { isDigest, type Digest } from '../base/digest';

export const COSIGN_SIGNATURE_ARTIFACT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
export const SIMPLE_SIGNING_MEDIA_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json';
export const COSIGN_SIGNATURE_ANNOTATION = 'dev.cosignproject.cosign/signature';
export const COSIGN_PAYLOAD_TYPE = 'cosign container image signature';
export const OCI_EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
/** sha256 of `{}`, the OCI empty descriptor's content. */
export const OCI_EMPTY_DIGEST: Digest = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

export interface SimpleSigningPayload {
  critical: {
    identity: { 'docker-reference': string };
    image: { 'docker-manifest-digest': string };
    type: string;
  };
  optional: Record<string, unknown> | null;
}

/** The payload bytes to sign for a manifest digest and a repository (`127.0.0.1:5000/app`). */
export function simpleSigningPayload(dockerReference: string, manifestDigest: Digest, optional: Record<string, unknown> | null = null): Buffer {
  const doc: SimpleSigningPayload = {
    critical: { identity: { 'docker-reference': dockerReference }, image: { 'docker-manifest-digest': manifestDigest }, type: COSIGN_PAYLOAD_TYPE },
    optional,
  };
  return Buffer.from(JSON.stringify(doc));
}

/** Parses a payload; undefined when it is not a well-formed cosign simple-signing payload. */
export function parseSimpleSigning(payload: Buffer): { dockerReference: string; manifestDigest: Digest; type: string; optional: Record<string, unknown> | null } | undefined {
  let doc: SimpleSigningPayload;
  try { doc = JSON.parse(payload.toString('utf8')) as SimpleSigningPayload; } catch { return undefined; }
  const c = doc?.critical;
  const ref = c?.identity?.['docker-reference'];
  const digest = c?.image?.['docker-manifest-digest'];
  if (typeof ref !== 'string' || typeof digest !== 'string' || !isDigest(digest) || typeof c.type !== 'string') return undefined;
  return { dockerReference: ref, manifestDigest: digest, type: c.type, optional: doc.optional && typeof doc.optional === 'object' ? doc.optional : null };
}

/** cosign's tag for the signatures of a digest in its older tag scheme. */
export function cosignSignatureTag(d: Digest): string {
  return `${d.replace(':', '-')}.sig`;
}
