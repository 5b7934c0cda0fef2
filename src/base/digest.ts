import { createHash } from 'node:crypto';
import { invalidArgument } from './errors';

/** An OCI content digest, always `sha256:<64 lowercase hex>` in berth. */
export type Digest = `sha256:${string}`;

const DIGEST_RE = /^sha256:[a-f0-9]{64}$/;

export function isDigest(s: string): s is Digest {
  return DIGEST_RE.test(s);
}

export function parseDigest(s: string): Digest {
  if (!isDigest(s)) throw invalidArgument(`invalid digest ${JSON.stringify(s)}: expected sha256:<64 hex digits>`);
  return s;
}

export function sha256(data: string | Buffer): Digest {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The 64 hex digits of a digest. */
export function hexOf(d: Digest): string {
  return d.slice(7);
}
