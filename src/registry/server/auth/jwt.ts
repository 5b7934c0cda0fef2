/**
 * Compact JWS (RFC 7515) signing and verification for registry tokens with node:crypto: ES256 for
 * EC P-256 keys, RS256 for RSA keys. Pure apart from the key objects it is given.
 */
import { sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { invalidArgument } from '../../../base/errors';

export type JwtAlg = 'ES256' | 'RS256';

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/** The algorithm a key signs with; InvalidArgument for other key types. */
export function algOf(key: KeyObject): JwtAlg {
  if (key.asymmetricKeyType === 'rsa') return 'RS256';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ES256';
  throw invalidArgument(`token key must be RSA or EC P-256, not ${key.asymmetricKeyType}`);
}

const dsa = (alg: JwtAlg) => (alg === 'ES256' ? { dsaEncoding: 'ieee-p1363' as const } : {});

export function signJwt(claims: object, privateKey: KeyObject): string {
  const alg = algOf(privateKey);
  const input = `${b64url(JSON.stringify({ typ: 'JWT', alg }))}.${b64url(JSON.stringify(claims))}`;
  const sig = cryptoSign('sha256', Buffer.from(input), { key: privateKey, ...dsa(alg) });
  return `${input}.${b64url(sig)}`;
}

/**
 * The claims of a token whose signature `publicKey` verifies, with the algorithm the key dictates
 * (never the one the header names: "alg": "none" and key confusion stay impossible). Undefined for
 * a malformed or wrongly signed token.
 */
export function verifyJwt(token: string, publicKey: KeyObject): Record<string, unknown> | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const alg = algOf(publicKey);
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString()) as { alg?: string };
    if (header.alg !== alg) return undefined;
    const ok = cryptoVerify('sha256', Buffer.from(`${parts[0]}.${parts[1]}`), { key: publicKey, ...dsa(alg) }, Buffer.from(parts[2], 'base64url'));
    if (!ok) return undefined;
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString()) as unknown;
    return typeof claims === 'object' && claims !== null && !Array.isArray(claims) ? claims as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}
