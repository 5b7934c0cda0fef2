import { Agent as HttpAgent, IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { BerthError, ErrorKind, canceled, isKind, unavailable } from '../../base/errors';
import { parseChallenges } from './auth-challenge';
import { rawGet, type BodyResponse } from './raw-get';
import { RegistryHosts, isLoopbackDomain, unreachableDockerHub, type RegistryEndpoint } from './registry-hosts';

export { isLoopbackDomain, unreachableDockerHub };
export type { BodyResponse };

/** Docker's AuthConfig, as the CLI sends it in X-Registry-Auth and POST /auth. */
export interface Credentials {
  username?: string;
  password?: string;
  /** A bearer token to use as is (Docker's `registrytoken`). */
  registryToken?: string;
}

/** The default rules (no insecure registries): the first endpoint of a registry. Throws for docker.io. */
export function registryBase(domain: string, hosts: RegistryHosts = DEFAULT_HOSTS): URL {
  return hosts.endpoints(domain)[0].url;
}

const DEFAULT_HOSTS = new RegistryHosts();
const USER_AGENT = 'berth/0.1 (docker compatible)';

const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 16 });
/** For insecure registries only: TLS without certificate verification. */
const insecureHttpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 16, rejectUnauthorized: false });

export interface RequestOptions {
  headers?: Record<string, string | number>;
  /** The body; a factory so the request can be repeated after an auth challenge. */
  body?: () => Buffer | Readable;
  /** Token scopes this request needs (`repository:a/b:pull,push`). */
  scopes?: string[];
  signal?: AbortSignal;
}

/**
 * HTTP to one registry with Docker's auth dance: a request goes out with the credentials known so
 * far; a 401 carrying `WWW-Authenticate: Bearer realm=..,service=..,scope=..` fetches a token from
 * the realm (with basic credentials when we have them) and repeats the request once; `Basic`
 * repeats it with basic credentials. Tokens are cached per scope set for the transport's life (one
 * pull or push). Redirects are followed for GET/HEAD; credentials are not sent to another host.
 */
export class RegistryTransport {
  private readonly tokens = new Map<string, string>();
  private basic = false;
  private bearerChallenge: Record<string, string> | undefined;
  private readonly endpoints: RegistryEndpoint[];
  private endpoint = 0;
  /** Set once a request got any HTTP answer: the endpoint is then fixed for this transport. */
  private pinned = false;

  /**
   * `hosts` says which endpoints to try (see RegistryHosts): for an insecure registry, unverified
   * HTTPS and then plain HTTP; the first that answers at all is kept. Throws for docker.io.
   */
  constructor(readonly domain: string, private readonly creds: Credentials = {}, private readonly hosts: RegistryHosts = DEFAULT_HOSTS) {
    this.endpoints = hosts.endpoints(domain);
  }

  /** The registry's base URL (the endpoint in use). */
  get base(): URL { return this.endpoints[this.endpoint].url; }

  /** Sends a request and returns the response (any status; callers check). */
  async request(method: string, pathOrUrl: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
    const scopeKey = (opts.scopes ?? []).slice().sort().join(' ');
    let res = await this.sendToRegistry(method, pathOrUrl, opts, this.authHeader(scopeKey));
    if (res.statusCode === 401 && (this.creds.username || this.creds.registryToken || res.headers['www-authenticate'])) {
      const challenges = parseChallenges(res.headers['www-authenticate']);
      const bearer = challenges.find((c) => c.scheme === 'bearer');
      const basicCh = challenges.find((c) => c.scheme === 'basic');
      let retry = false;
      if (bearer && bearer.params.realm) {
        this.bearerChallenge = bearer.params;
        const scopes = new Set(opts.scopes ?? []);
        if (bearer.params.scope) for (const s of bearer.params.scope.split(' ')) scopes.add(s);
        const token = await this.fetchToken([...scopes], opts.signal);
        this.tokens.set(scopeKey, token);
        retry = true;
      } else if (basicCh && this.creds.username !== undefined && !this.basic) {
        this.basic = true;
        retry = true;
      }
      if (retry) {
        res.resume();
        res = await this.sendToRegistry(method, pathOrUrl, opts, this.authHeader(scopeKey));
      }
    }
    return res;
  }

  /**
   * A GET of a blob's bytes. On a plain-HTTP endpoint that has answered before, the body is read
   * straight off the socket (rawGet: no parser copy, large reads); what rawGet does not take (an
   * auth challenge, a redirect, an error, chunked encoding, a failed connection) is asked again
   * through request(), which deals with it. Elsewhere this is request().
   */
  async getBody(pathOrUrl: string, opts: RequestOptions = {}): Promise<BodyResponse> {
    const url = new URL(pathOrUrl, this.base);
    if (this.pinned && url.protocol === 'http:' && url.host === this.base.host) {
      const scopeKey = (opts.scopes ?? []).slice().sort().join(' ');
      const headers: Record<string, string | number> = { 'User-Agent': USER_AGENT, ...opts.headers, ...this.authHeader(scopeKey) };
      if (Object.values(headers).every((v) => !/[\r\n]/.test(String(v)))) {
        try {
          const res = await rawGet(url, headers, opts.signal);
          if (res.bodyFramed && (res.statusCode === 200 || res.statusCode === 206)) return res;
          res.destroy();
        } catch (e) {
          if (opts.signal?.aborted) throw canceled('operation canceled', e);
        }
      }
    }
    return this.request('GET', pathOrUrl, opts);
  }

  /**
   * Sends to the endpoint in use; before any endpoint has answered, a connection or TLS failure
   * moves on to the next one (unverified HTTPS -> HTTP for insecure registries, as dockerd).
   */
  private async sendToRegistry(method: string, pathOrUrl: string, opts: RequestOptions, auth: Record<string, string>): Promise<IncomingMessage> {
    for (;;) {
      try {
        const res = await this.send(method, new URL(pathOrUrl, this.base), opts, auth);
        if (!this.pinned) {
          this.pinned = true;
          this.hosts.remember(this.domain, this.base);
        }
        return res;
      } catch (e) {
        if (this.pinned || isKind(e, 'Canceled') || this.endpoint + 1 >= this.endpoints.length) throw this.withHint(e);
        this.endpoint++;
      }
    }
  }

  /** A loopback registry spoken to in plain HTTP that hangs up is most likely a TLS one. */
  private withHint(e: unknown): unknown {
    if (this.base.protocol === 'http:' && !this.hosts.isInsecure(this.domain) && isLoopbackDomain(this.domain) && e instanceof BerthError && /socket hang up|ECONNRESET/.test(e.message)) {
      return unavailable(`${e.message} (berth speaks plain HTTP to loopback registries; if ${this.domain} serves TLS, add it to berthd's --insecure-registry)`, e);
    }
    return e;
  }

  /** Fetches a bearer token for scopes from the last challenge's realm (without scopes: login). */
  async fetchToken(scopes: string[], signal?: AbortSignal, challenge = this.bearerChallenge): Promise<string> {
    if (this.creds.registryToken) return this.creds.registryToken;
    if (!challenge?.realm) throw new BerthError('Unauthenticated', `${this.domain}: no token realm`);
    const url = new URL(challenge.realm);
    if (challenge.service) url.searchParams.set('service', challenge.service);
    for (const s of scopes) url.searchParams.append('scope', s);
    const headers: Record<string, string> = {};
    if (this.creds.username !== undefined) headers.Authorization = basicAuth(this.creds);
    const res = await this.send('GET', url, { signal }, headers);
    const body = await readBody(res, 1 << 20);
    if (res.statusCode !== 200) throw registryError(res.statusCode ?? 0, body, `fetching token from ${url.origin}`);
    let doc: { token?: string; access_token?: string };
    try { doc = JSON.parse(body.toString()) as typeof doc; } catch { doc = {}; }
    const token = doc.token ?? doc.access_token;
    if (!token) throw new BerthError('Unauthenticated', `${url.origin}: the token endpoint answered without a token`);
    return token;
  }

  /** The challenge seen last (login uses it to check credentials against the realm). */
  get lastBearerChallenge(): Record<string, string> | undefined { return this.bearerChallenge; }

  private authHeader(scopeKey: string): Record<string, string> {
    const token = this.tokens.get(scopeKey) ?? this.tokens.get('');
    if (token) return { Authorization: `Bearer ${token}` };
    if (this.basic && this.creds.username !== undefined) return { Authorization: basicAuth(this.creds) };
    return {};
  }

  private async send(method: string, url: URL, opts: RequestOptions, auth: Record<string, string>, redirects = 0): Promise<IncomingMessage> {
    if (opts.signal?.aborted) throw canceled('operation canceled');
    const body = opts.body?.();
    const headers: Record<string, string | number> = { 'User-Agent': USER_AGENT, ...opts.headers, ...auth };
    if (Buffer.isBuffer(body)) headers['Content-Length'] = body.length;
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const isHttps = url.protocol === 'https:';
      // Certificates are checked except for registries (and their token realms) listed as insecure.
      const agent = !isHttps ? httpAgent : this.hosts.isInsecure(url.host) ? insecureHttpsAgent : httpsAgent;
      const req = (isHttps ? httpsRequest : httpRequest)(url, { method, headers, agent, signal: opts.signal }, resolve);
      req.on('error', (e) => reject(opts.signal?.aborted ? canceled('operation canceled', e) : unavailable(`${method} ${url.origin}${url.pathname}: ${e.message}`, e)));
      if (body === undefined) req.end();
      else if (Buffer.isBuffer(body)) req.end(body);
      else {
        body.on('error', (e) => req.destroy(e));
        body.pipe(req);
      }
    });
    const status = res.statusCode ?? 0;
    if ([301, 302, 303, 307, 308].includes(status) && res.headers.location && (method === 'GET' || method === 'HEAD') && redirects < 5) {
      res.resume();
      const next = new URL(res.headers.location, url);
      return this.send(method, next, opts, next.host === url.host ? auth : {}, redirects + 1);
    }
    return res;
  }
}

export function basicAuth(c: Credentials): string {
  return `Basic ${Buffer.from(`${c.username ?? ''}:${c.password ?? ''}`).toString('base64')}`;
}

/** Reads a whole response body, refusing more than `limit` bytes. */
export async function readBody(res: BodyResponse, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of res) {
    n += (c as Buffer).length;
    if (n > limit) {
      res.destroy();
      throw new BerthError('InvalidArgument', `response from registry larger than ${limit} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}

const KIND_BY_STATUS: Record<number, ErrorKind> = { 400: 'InvalidArgument', 401: 'Unauthenticated', 403: 'PermissionDenied', 404: 'NotFound', 405: 'NotImplemented', 409: 'Conflict', 416: 'InvalidArgument' };

/**
 * An error for a registry's non-success answer, worded as Docker does (`manifest unknown:
 * manifest unknown`, from the spec's `{"errors":[{"code","message"}]}` body).
 */
export function registryError(status: number, body: Buffer, context: string): BerthError {
  let detail = '';
  try {
    const doc = JSON.parse(body.toString()) as { errors?: Array<{ code?: string; message?: string }> };
    detail = (doc.errors ?? []).map((e) => [e.code?.toLowerCase().replace(/_/g, ' '), e.message].filter(Boolean).join(': ')).join('; ');
  } catch { /* not JSON */ }
  if (!detail) detail = status === 401 ? 'unauthorized: authentication required' : `unexpected status ${status}`;
  const kind: ErrorKind = KIND_BY_STATUS[status] ?? (status >= 500 ? 'Unavailable' : 'Internal');
  return new BerthError(kind, `${context}: ${detail}`);
}
