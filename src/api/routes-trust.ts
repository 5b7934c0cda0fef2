import type { IncomingMessage } from 'node:http';
import { invalidArgument } from '../base/errors';
import type { ContentTrust, TrustRequest } from '../daemon/content-trust';
import { trustedKey } from '../security/trust-policy';
import { registryAuth } from './routes-registry';
import { Router, jsonBody, sendJson } from './router';

/**
 * berth's content-trust endpoints (no Docker equivalent: the docker CLI does Notary itself):
 *
 *   GET  /berth/trust/inspect?image=REF   the digest REF names in its registry and its cosign
 *                                         signatures, each checked against the trusted keys
 *   POST /berth/trust/sign?image=REF      {"Payload": base64, "Signature": base64}: stores a
 *                                         signature the client made (the private key stays there)
 *
 * Trusted keys come from the daemon's policy and from `X-Berth-Trust` (base64url JSON
 * `{"keys": [PEM, ...]}`), which the berth CLI also sends on pull and create when
 * BERTH_CONTENT_TRUST=1. X-Registry-Auth carries registry credentials as for pull.
 */
export const TRUST_HEADER = 'x-berth-trust';

/** Decodes X-Berth-Trust; undefined when absent. A malformed header or key is InvalidArgument. */
export function trustRequest(req: IncomingMessage): TrustRequest | undefined {
  const h = req.headers[TRUST_HEADER];
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  let doc: { keys?: unknown };
  try { doc = JSON.parse(Buffer.from(v, 'base64').toString()) as typeof doc; } catch { throw invalidArgument('X-Berth-Trust: not base64 JSON'); }
  if (!Array.isArray(doc.keys) || doc.keys.some((k) => typeof k !== 'string')) throw invalidArgument('X-Berth-Trust: want {"keys": [PEM, ...]}');
  if (!doc.keys.length) throw invalidArgument('content trust is on but no trusted public keys were sent (berth trust key generate, or put NAME.pub in the trust directory)');
  return { keys: (doc.keys as string[]).map((pem, i) => trustedKey(pem, `key ${i + 1} of the request`)) };
}

export function trustRoutes(r: Router, d: { trust: ContentTrust }): void {
  r.add('GET', '/berth/trust/inspect', async ({ req, res, query }) => {
    const image = query.get('image');
    if (!image) throw invalidArgument('image is required');
    const out = await d.trust.inspect(image, trustRequest(req), registryAuth(req));
    sendJson(res, 200, {
      Reference: out.reference, Repository: out.repository, Digest: out.digest,
      Signatures: out.signatures.map((s) => ({ Source: s.source, Identity: s.dockerReference ?? '', Verified: s.verified, VerifiedBy: s.verifiedBy ?? '', Problem: s.problem ?? '' })),
    });
  });

  r.add('POST', '/berth/trust/sign', async ({ req, res, query }) => {
    const image = query.get('image');
    if (!image) throw invalidArgument('image is required');
    const body = await jsonBody<{ Payload?: string; Signature?: string }>(req);
    if (typeof body.Payload !== 'string' || typeof body.Signature !== 'string') throw invalidArgument('Payload and Signature (base64) are required');
    const out = await d.trust.sign(image, Buffer.from(body.Payload, 'base64'), body.Signature, registryAuth(req));
    sendJson(res, 201, { Digest: out.digest, Signature: out.signature });
  });
}
