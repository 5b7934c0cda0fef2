/**
 * Content trust: which images must be signed, by which keys, and whether a set of signatures
 * satisfies that. Pure (node:crypto verification only; key files are read by the caller).
 *
 * A policy (berthd --content-trust-policy FILE) maps scopes to requirements:
 *
 *   { "default": "accept",
 *     "scopes": { "127.0.0.1:5000/prod": { "keys": ["/etc/berth/trust/release.pub"] },
 *                 "127.0.0.1:5000":      "reject" } }
 *
 * A scope is a registry (`host[:port]`) or a repository prefix by whole path components; the
 * longest one that covers the repository wins, else `default` (accept when absent). A requirement
 * is "accept" (no check), "reject" (never), or {"keys": [...]} (at least one signature that
 * verifies against one of these keys). A client (berth CLI with BERTH_CONTENT_TRUST=1) can add a
 * requirement of its own for a request; both must then hold.
 *
 * A signature counts for repository R and manifest digest D when its payload is a cosign
 * simple-signing payload whose type is cosign's, whose docker-manifest-digest is D, whose
 * docker-reference names R (any tag), and whose signature verifies against the key. So a
 * signature copied to another repository, a different image pushed under a signed tag, and a key
 * nobody trusts are each refused with their own reason.
 */
import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import type { Digest } from '../base/digest';
import { invalidArgument } from '../base/errors';
import { parseReference, repositoryName } from '../oci/reference';
import { COSIGN_PAYLOAD_TYPE, parseSimpleSigning } from '../oci/signature';

export interface TrustedKey {
  /** sha256 of the public key's SubjectPublicKeyInfo (DER), hex. */
  fingerprint: string;
  key: KeyObject;
  /** Where it came from (file name), for messages. */
  name: string;
}

export type Requirement = { kind: 'accept' } | { kind: 'reject' } | { kind: 'signed'; keys: TrustedKey[] };

export interface TrustPolicy {
  default: Requirement;
  /** Scopes with their requirement, longest first. */
  scopes: Array<{ scope: string; requirement: Requirement }>;
}

export const ACCEPT_ALL: TrustPolicy = { default: { kind: 'accept' }, scopes: [] };

/** A public key (PEM, SPKI or a certificate's key) as a TrustedKey; only EC P-256 and Ed25519. */
export function trustedKey(pem: string, name: string): TrustedKey {
  let key: KeyObject;
  try { key = createPublicKey(pem); } catch (e) { throw invalidArgument(`trust key ${name}: not a PEM public key`, e); }
  const type = key.asymmetricKeyType;
  if (!(type === 'ed25519' || (type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1'))) {
    throw invalidArgument(`trust key ${name}: ${type}${type === 'ec' ? ` ${key.asymmetricKeyDetails?.namedCurve}` : ''} keys are not supported (ECDSA P-256 or Ed25519)`);
  }
  return { key, name, fingerprint: fingerprintOf(key) };
}

export function fingerprintOf(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

/**
 * Parses a policy document. `loadKey` turns one entry of a `keys` list (a file path, as the
 * caller resolves it, or an inline PEM) into PEM text. Throws InvalidArgument with the place.
 */
export function parseTrustPolicy(doc: unknown, loadKey: (entry: string) => string): TrustPolicy {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw invalidArgument('trust policy: not a JSON object');
  const o = doc as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'default' && k !== 'scopes') throw invalidArgument(`trust policy: unknown field ${JSON.stringify(k)}`);
  const requirement = (v: unknown, where: string): Requirement => {
    if (v === 'accept') return { kind: 'accept' };
    if (v === 'reject') return { kind: 'reject' };
    if (v && typeof v === 'object' && Array.isArray((v as { keys?: unknown }).keys)) {
      const entries = (v as { keys: unknown[] }).keys;
      if (!entries.length || entries.some((e) => typeof e !== 'string')) throw invalidArgument(`trust policy: ${where}: "keys" must list at least one key`);
      return { kind: 'signed', keys: (entries as string[]).map((e) => trustedKey(loadKey(e), e.includes('BEGIN') ? `${where} (inline)` : e)) };
    }
    throw invalidArgument(`trust policy: ${where}: want "accept", "reject" or {"keys": [...]}`);
  };
  const scopes: TrustPolicy['scopes'] = [];
  if (o.scopes !== undefined) {
    if (!o.scopes || typeof o.scopes !== 'object' || Array.isArray(o.scopes)) throw invalidArgument('trust policy: "scopes" must be an object');
    for (const [scope, v] of Object.entries(o.scopes as Record<string, unknown>)) {
      if (!/^[A-Za-z0-9.-]+(:\d+)?(\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/.test(scope)) throw invalidArgument(`trust policy: bad scope ${JSON.stringify(scope)} (want host[:port][/path])`);
      scopes.push({ scope, requirement: requirement(v, `scope ${scope}`) });
    }
  }
  scopes.sort((a, b) => b.scope.length - a.scope.length);
  return { default: o.default === undefined ? { kind: 'accept' } : requirement(o.default, 'default'), scopes };
}

/** The requirement for a full repository name (`127.0.0.1:5000/a/b`). */
export function requirementFor(policy: TrustPolicy, repository: string): Requirement {
  for (const s of policy.scopes) {
    if (repository === s.scope || repository.startsWith(`${s.scope}/`)) return s.requirement;
  }
  return policy.default;
}

/** One signature found for a manifest: where it is stored, its payload and base64 signature. */
export interface SignatureCandidate {
  /** The artifact manifest's digest, or cosign's `.sig` tag. */
  source: string;
  payload: Buffer;
  signature: string;
}

export interface SignatureCheck {
  source: string;
  /** The identity the payload claims (repository). */
  dockerReference?: string;
  /** Fingerprint of the trusted key it verified against. */
  verifiedBy?: string;
  verified: boolean;
  /** Why it does not count, when it does not. */
  problem?: string;
}

/** Verifies one signature over `payload` with a key (ECDSA P-256/SHA-256 DER, or Ed25519). */
export function verifyBytes(payload: Buffer, signatureB64: string, key: KeyObject): boolean {
  const sig = Buffer.from(signatureB64, 'base64');
  if (!sig.length) return false;
  try { return verify(key.asymmetricKeyType === 'ed25519' ? null : 'sha256', payload, key, sig); } catch { return false; }
}

function sameRepository(dockerReference: string, repository: string): boolean {
  try { return repositoryName(parseReference(dockerReference, { defaultTag: false })) === repository; } catch { return false; }
}

/** Checks every signature for (repository, digest) against the keys. */
export function checkSignatures(candidates: SignatureCandidate[], subject: { repository: string; digest: Digest }, keys: TrustedKey[]): SignatureCheck[] {
  return candidates.map((c) => {
    const p = parseSimpleSigning(c.payload);
    if (!p) return { source: c.source, verified: false, problem: 'payload is not a cosign simple-signing payload' };
    const base = { source: c.source, dockerReference: p.dockerReference };
    if (p.type !== COSIGN_PAYLOAD_TYPE) return { ...base, verified: false, problem: `payload type ${JSON.stringify(p.type)}` };
    if (p.manifestDigest !== subject.digest) return { ...base, verified: false, problem: `signs ${p.manifestDigest}, not ${subject.digest}` };
    if (!sameRepository(p.dockerReference, subject.repository)) return { ...base, verified: false, problem: `signs ${p.dockerReference}, not ${subject.repository}` };
    const key = keys.find((k) => verifyBytes(c.payload, c.signature, k.key));
    if (!key) return { ...base, verified: false, problem: keys.length ? 'not signed by a trusted key' : 'no trusted keys to verify with' };
    return { ...base, verified: true, verifiedBy: key.fingerprint };
  });
}

/**
 * Whether verified signatures (by key fingerprint) meet every requirement; the reason when not.
 * `describe` names the image in the reason.
 */
export function evaluate(requirements: Requirement[], verifiedBy: ReadonlySet<string>, describe: string, checks: SignatureCheck[] = []): { ok: true } | { ok: false; reason: string } {
  for (const r of requirements) {
    if (r.kind === 'accept') continue;
    if (r.kind === 'reject') return { ok: false, reason: `content trust: the policy rejects ${describe}` };
    if (r.keys.some((k) => verifiedBy.has(k.fingerprint))) continue;
    if (!checks.length) return { ok: false, reason: `content trust: ${describe} is not signed (no signatures found)` };
    const why = [...new Set(checks.map((c) => c.problem ?? 'signed by a key this requirement does not trust'))].join('; ');
    return { ok: false, reason: `content trust: ${describe} has no valid signature by a trusted key (${checks.length} signature${checks.length > 1 ? 's' : ''}: ${why})` };
  }
  return { ok: true };
}

/** True when no requirement asks for anything. */
export function acceptsAll(requirements: Requirement[]): boolean {
  return requirements.every((r) => r.kind === 'accept');
}
