/**
 * HTTP basic authentication against an htpasswd file: every known user may do everything;
 * anonymous clients may pull when `anonymousPull` is set.
 */
import type { IncomingMessage } from 'node:http';
import { basicCredentials, type Access, type AuthDecision, type Authenticator } from '../auth';
import type { Htpasswd } from './htpasswd';

export class BasicAuth implements Authenticator {
  constructor(private readonly users: Htpasswd, private readonly opts: { realm?: string; anonymousPull?: boolean } = {}) {}

  async authorize(req: IncomingMessage, needs: Access[]): Promise<AuthDecision> {
    const challenge = `Basic realm="${this.opts.realm ?? 'berth-registry'}"`;
    const creds = basicCredentials(req);
    if (!creds) {
      if (this.opts.anonymousPull && needs.every((n) => n.type === 'repository' && n.actions.every((a) => a === 'pull'))) return { ok: true };
      return { ok: false, status: 401, message: 'authentication required', challenge };
    }
    if (!(await this.users.verify(creds.user, creds.password))) {
      return { ok: false, status: 401, message: 'invalid username or password', challenge };
    }
    return { ok: true, user: creds.user };
  }
}
