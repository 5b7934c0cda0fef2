/**
 * Bearer-token authentication (the distribution token spec, as Docker and skopeo speak it):
 *
 *   client --GET /v2/...------------------> registry: 401, WWW-Authenticate: Bearer realm,service,scope
 *   client --GET realm?service&scope (Basic)-> token endpoint: {"token": JWT granting the scopes allowed}
 *   client --GET /v2/... Bearer JWT--------> registry: checks signature, iss, aud, exp/nbf, scope
 *
 * `TokenAuth` is the registry's side. `TokenIssuer` is the token endpoint, which `berth registry
 * serve` also serves at the realm's path: users of the htpasswd file get what they ask for, anonymous
 * clients get pull only when `anonymousPull` is set (and nothing otherwise).
 */
import { randomUUID, type KeyObject } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basicCredentials, covers, formatScope, parseScopes, type Access, type AuthDecision, type Authenticator } from '../auth';
import type { Htpasswd } from './htpasswd';
import { signJwt, verifyJwt } from './jwt';

export interface TokenConfig {
  /** Token endpoint URL; a path (`/token`) means this server, at the host the client used. */
  realm: string;
  /** `iss` of issued tokens, checked on every token. */
  issuer: string;
  /** `aud` of issued tokens and the challenge's `service`. */
  service: string;
  /** Verifies tokens. */
  publicKey: KeyObject;
}

/** The realm URL to send a client: absolute as configured, or this server's own at `realm`'s path. */
export function realmUrl(realm: string, req: IncomingMessage, tls: boolean): string {
  if (!realm.startsWith('/')) return realm;
  return `${tls ? 'https' : 'http'}://${req.headers.host ?? '127.0.0.1'}${realm}`;
}

export class TokenAuth implements Authenticator {
  constructor(private readonly cfg: TokenConfig, private readonly tls: boolean, private readonly now: () => number = Date.now) {}

  async authorize(req: IncomingMessage, needs: Access[]): Promise<AuthDecision> {
    const challenge = (error?: string) => [
      `Bearer realm="${realmUrl(this.cfg.realm, req, this.tls)}"`, `service="${this.cfg.service}"`,
      ...(needs.length ? [`scope="${needs.map(formatScope).join(' ')}"`] : []),
      ...(error ? [`error="${error}"`] : []),
    ].join(',');
    const h = req.headers.authorization;
    if (!h || !/^bearer /i.test(h)) return { ok: false, status: 401, message: 'authentication required', challenge: challenge() };
    const claims = verifyJwt(h.slice(7).trim(), this.cfg.publicKey);
    const nowS = Math.floor(this.now() / 1000);
    const aud = claims?.aud;
    const invalid = !claims || claims.iss !== this.cfg.issuer
      || !(aud === this.cfg.service || (Array.isArray(aud) && aud.includes(this.cfg.service)))
      || typeof claims.exp !== 'number' || claims.exp <= nowS
      || (typeof claims.nbf === 'number' && claims.nbf > nowS + 60);
    if (invalid) return { ok: false, status: 401, message: 'invalid or expired token', challenge: challenge('invalid_token') };
    const granted = Array.isArray(claims.access) ? claims.access as Access[] : [];
    // As distribution does: a valid token without the scope gets 401 insufficient_scope, so that the
    // client fetches a token for the scope the challenge names.
    if (!covers(granted, needs)) return { ok: false, status: 401, message: 'token does not grant this access', challenge: challenge('insufficient_scope') };
    return { ok: true, user: typeof claims.sub === 'string' ? claims.sub : undefined };
  }
}

const KNOWN_ACTIONS = new Set(['pull', 'push', 'delete', '*']);

export class TokenIssuer {
  constructor(
    private readonly cfg: { issuer: string; service: string; privateKey: KeyObject; users?: Htpasswd; anonymousPull?: boolean; ttlSeconds?: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** What a user (undefined: anonymous) may have of what was asked. */
  grant(user: string | undefined, asked: Access[]): Access[] {
    const out: Access[] = [];
    for (const a of asked) {
      const actions = user !== undefined
        ? a.actions.filter((x) => KNOWN_ACTIONS.has(x))
        : (this.cfg.anonymousPull && a.type === 'repository' ? a.actions.filter((x) => x === 'pull' || x === '*').map(() => 'pull') : []);
      if (actions.length) out.push({ type: a.type, name: a.name, actions: [...new Set(actions)] });
    }
    return out;
  }

  issue(user: string | undefined, access: Access[]): { token: string; expiresIn: number; issuedAt: string } {
    const iat = Math.floor(this.now() / 1000);
    const ttl = this.cfg.ttlSeconds ?? 300;
    const token = signJwt({
      iss: this.cfg.issuer, sub: user ?? '', aud: this.cfg.service, exp: iat + ttl, nbf: iat - 10, iat, jti: randomUUID(), access,
    }, this.cfg.privateKey);
    return { token, expiresIn: ttl, issuedAt: new Date(iat * 1000).toISOString() };
  }

  /** `GET <realm>?service=&scope=...`: the token response, or 401 for wrong credentials. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://x');
    const reply = (status: number, value: unknown, headers: Record<string, string> = {}) => {
      const body = JSON.stringify(value);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store', ...headers });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const unauthorized = (message: string) => reply(401, { errors: [{ code: 'UNAUTHORIZED', message, detail: null }] }, { 'WWW-Authenticate': 'Basic realm="berth-registry-token"' });
    if (req.method !== 'GET') return reply(405, { errors: [{ code: 'UNSUPPORTED', message: `${req.method} is not supported by the token endpoint`, detail: null }] });
    const service = url.searchParams.get('service');
    if (service !== null && service !== this.cfg.service) return reply(400, { errors: [{ code: 'DENIED', message: `unknown service ${JSON.stringify(service)}`, detail: null }] });
    const creds = basicCredentials(req);
    let user: string | undefined;
    if (creds) {
      if (!this.cfg.users || !(await this.cfg.users.verify(creds.user, creds.password))) return unauthorized('invalid username or password');
      user = creds.user;
    } else if (req.headers.authorization) {
      return unauthorized('the token endpoint takes basic credentials');
    }
    const asked = url.searchParams.getAll('scope').flatMap(parseScopes);
    const t = this.issue(user, this.grant(user, asked));
    reply(200, { token: t.token, access_token: t.token, expires_in: t.expiresIn, issued_at: t.issuedAt });
  }
}
