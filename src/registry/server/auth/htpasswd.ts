/**
 * An htpasswd file with bcrypt entries (`htpasswd -B`), the only kind distribution accepts too:
 * MD5/SHA1/crypt entries are refused when the file is loaded rather than silently never matching.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import bcrypt from 'bcryptjs';
import { invalidArgument } from '../../../base/errors';

export class Htpasswd {
  /**
   * Passwords already verified, by sha256(user, password, hash): bcrypt costs milliseconds by design
   * and clients send basic credentials on every request.
   */
  private readonly verified = new Set<string>();

  private constructor(private readonly entries: Map<string, string>) {}

  static parse(text: string, source = 'htpasswd'): Htpasswd {
    const entries = new Map<string, string>();
    text.split('\n').forEach((line, i) => {
      const l = line.trim();
      if (!l || l.startsWith('#')) return;
      const colon = l.indexOf(':');
      const hash = l.slice(colon + 1);
      if (colon <= 0 || !/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) {
        throw invalidArgument(`${source}:${i + 1}: not a "user:bcrypt-hash" entry (create it with htpasswd -B)`);
      }
      entries.set(l.slice(0, colon), hash);
    });
    return new Htpasswd(entries);
  }

  static async load(path: string): Promise<Htpasswd> {
    return Htpasswd.parse(await readFile(path, 'utf8'), path);
  }

  /** Whether the password is the user's. */
  async verify(user: string, password: string): Promise<boolean> {
    const hash = this.entries.get(user);
    if (hash === undefined) return false;
    const key = createHash('sha256').update(`${user}\0${password}\0${hash}`).digest('hex');
    if (this.verified.has(key)) return true;
    // $2y$ (PHP/Apache) and $2b$ are the same algorithm as fixed $2a$.
    const ok = await bcrypt.compare(password, `$2b$${hash.slice(4)}`);
    if (ok) {
      if (this.verified.size > 1000) this.verified.clear();
      this.verified.add(key);
    }
    return ok;
  }
}
