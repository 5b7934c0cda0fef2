// The client's content-trust keys: <config dir>/trust/NAME.key (PKCS#8 PEM, 0600) and NAME.pub
// (SPKI PEM). Every NAME.pub there is a trusted key. With BERTH_CONTENT_TRUST=1 the CLI sends the
// trusted public keys to the engine in X-Berth-Trust on pull and create; the engine verifies
// (security/trust-policy.ts) and refuses unsigned or wrongly signed images.
import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { StatusError } from './cli';

export interface PublicKeyFile { name: string; path: string; pem: string; fingerprint: string }

export function trustDir(configDir: string): string {
  return join(configDir, 'trust');
}

export function fingerprint(key: KeyObject): string {
  return createHash('sha256').update(key.export({ type: 'spki', format: 'der' })).digest('hex');
}

/** The trusted public keys (NAME.pub), sorted by name; unreadable or foreign files are errors. */
export function trustedPublicKeys(configDir: string): PublicKeyFile[] {
  const dir = trustDir(configDir);
  let names: string[];
  try { names = readdirSync(dir).filter((n) => n.endsWith('.pub')).sort(); } catch { return []; }
  return names.map((n) => {
    const path = join(dir, n);
    const pem = readFileSync(path, 'utf8');
    let key: KeyObject;
    try { key = createPublicKey(pem); } catch { throw new StatusError(1, `${path}: not a PEM public key`); }
    return { name: n.slice(0, -4), path, pem, fingerprint: fingerprint(key) };
  });
}

/** BERTH_CONTENT_TRUST=1 (or true), unless the command's --disable-content-trust says otherwise. */
export function contentTrustOn(disabledByFlag: boolean): boolean {
  const v = (process.env.BERTH_CONTENT_TRUST ?? '').toLowerCase();
  return !disabledByFlag && (v === '1' || v === 'true');
}

/** X-Berth-Trust: base64url JSON {"keys": [PEM...]}; errors when trust is on and no key is trusted. */
export function trustHeader(configDir: string): Record<string, string> {
  const keys = trustedPublicKeys(configDir);
  if (!keys.length) throw new StatusError(1, `content trust is on (BERTH_CONTENT_TRUST) but ${trustDir(configDir)} holds no trusted public key (NAME.pub); see berth trust key generate`);
  return { 'X-Berth-Trust': Buffer.from(JSON.stringify({ keys: keys.map((k) => k.pem) })).toString('base64url') };
}
