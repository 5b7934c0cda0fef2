import * as http from 'node:http';
import * as net from 'node:net';
import { Readable, type Duplex } from 'node:stream';
import { ClientError } from './client-error';
import { parseHost, type EngineHost } from './host';
import type * as T from './types';

/** The newest API version this client speaks; the used one is min(this, the engine's). */
export const CLIENT_API_VERSION = '1.50';

export type Query = Record<string, string | number | boolean | undefined | null | string[]>;

export interface RequestOptions {
  method?: string;
  path: string;
  query?: Query;
  /** A JSON value (sent as application/json), a Buffer, or a stream sent as the raw body. */
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

/** A connection taken over after `101 Switching Protocols` (attach, exec start). */
export interface HijackedConnection {
  /** Raw duplex stream: framed with stdcopy unless the container or exec has a TTY. */
  readonly socket: Duplex;
  /** Half-closes the write side (stdin EOF) and keeps reading until the engine closes. */
  closeWrite(): void;
}

/** What `berth build` lends berthd for one build: secrets by ID, SSH agent sockets by ID. */
export interface BuildSession {
  secrets: Record<string, Buffer>;
  /** Agent sockets on the daemon's host (absolute paths). */
  ssh: Record<string, string>;
  /**
   * A context directory on the daemon's host, which berthd reads itself (the body's tar then holds
   * only files added to it): its path, device and inode, and the .dockerignore patterns to apply.
   * berthd answers 409 when it does not see that directory there; send the tar then.
   */
  context?: { path: string; dev: number; ino: number; ignore: string[] };
}

export interface PingResult { apiVersion?: string; osType?: string; experimental: boolean; builderVersion?: string; swarm?: string }

/** Docker's filter map (`{"status":{"running":true}}`) from `key=value` strings. */
export function filtersToJSON(filters: string[]): string | undefined {
  if (!filters.length) return undefined;
  const out: Record<string, Record<string, boolean>> = {};
  for (const f of filters) {
    const i = f.indexOf('=');
    if (i <= 0) throw new ClientError(0, `bad format of filter (expected name=value)`);
    const k = f.slice(0, i).trim().toLowerCase(), v = f.slice(i + 1);
    (out[k] ??= {})[v] = true;
  }
  return JSON.stringify(out);
}

function encodeQuery(q: Query | undefined): string {
  if (!q) return '';
  const parts: string[] = [];
  for (const [k, v] of Object.entries(q)) {
    if (v === undefined || v === null) continue;
    const values = Array.isArray(v) ? v : [v];
    for (const x of values) {
      const s = typeof x === 'boolean' ? (x ? '1' : '0') : String(x);
      parts.push(`${encodeURIComponent(k)}=${encodeURIComponent(s)}`);
    }
  }
  return parts.length ? `?${parts.join('&')}` : '';
}

function isReadable(x: unknown): x is Readable {
  return typeof x === 'object' && x !== null && typeof (x as Readable).pipe === 'function';
}

export async function readBody(res: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of res) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

function authHeaders(o: { registryAuth?: string; headers?: Record<string, string> }): Record<string, string> {
  return { ...(o.headers ?? {}), ...(o.registryAuth ? { 'X-Registry-Auth': o.registryAuth } : {}) };
}

/** Yields each JSON message of a newline-delimited JSON stream (pull, load, import progress; stats, events). */
export async function* jsonMessages<M = T.JSONMessage>(res: Readable): AsyncGenerator<M> {
  for await (const line of jsonLines(res)) yield JSON.parse(line) as M;
}

/** The non-empty lines of a newline-delimited JSON stream, as text (for numbers beyond 2^53). */
export async function* jsonLines(res: Readable): AsyncGenerator<string> {
  let buf = '';
  for await (const chunk of res) {
    buf += chunk.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i).trim();
      buf = buf.slice(i + 1);
      if (line) yield line;
    }
  }
  if (buf.trim()) yield buf.trim();
}

/**
 * A typed Docker Engine API client over HTTP/1.1 on a unix socket or TCP. It knows nothing of the
 * engine's implementation, so it works against berthd and against dockerd alike.
 * The API version is negotiated lazily with `HEAD /_ping` on the first versioned call.
 */
export class EngineClient {
  readonly host: EngineHost;
  private version?: Promise<string>;

  constructor(host: string, options: { apiVersion?: string } = {}) {
    this.host = parseHost(host);
    if (options.apiVersion) this.version = Promise.resolve(options.apiVersion);
  }

  // ---- transport ----

  private connectionError(err: unknown): ClientError {
    const where = this.host.url;
    return new ClientError(0, `Cannot connect to the Docker daemon at ${where}. Is the docker daemon running?`, { cause: err });
  }

  private async fullPath(path: string, query: Query | undefined, versioned: boolean): Promise<string> {
    const prefix = versioned ? `/v${await this.apiVersion()}` : '';
    return `${prefix}${path}${encodeQuery(query)}`;
  }

  private raw(opts: RequestOptions, path: string, extraHeaders: Record<string, string> = {}): http.ClientRequest {
    const headers: Record<string, string> = { 'User-Agent': 'berth-cli', ...opts.headers, ...extraHeaders };
    // The docker CLI's Host for unix sockets.
    if (this.host.socketPath) headers.Host ??= 'api.moby.localhost';
    let payload: Buffer | undefined;
    if (opts.body !== undefined && !isReadable(opts.body)) {
      if (Buffer.isBuffer(opts.body)) payload = opts.body;
      else { payload = Buffer.from(JSON.stringify(opts.body)); headers['Content-Type'] ??= 'application/json'; }
      headers['Content-Length'] = String(payload.length);
    }
    // A unix socket is connected directly rather than through an http.Agent: an Agent checks the
    // host name for IPv6, which compiles a large regex on every CLI start (~6-9 ms here).
    const socketPath = this.host.socketPath;
    const req = http.request({
      host: this.host.hostname, port: this.host.port, method: opts.method ?? 'GET', path, headers, signal: opts.signal,
      ...(socketPath ? { createConnection: () => net.connect(socketPath) } : { agent: false }),
    });
    if (isReadable(opts.body)) opts.body.pipe(req);
    else req.end(payload);
    return req;
  }

  private async errorFrom(res: http.IncomingMessage): Promise<ClientError> {
    const body = (await readBody(res)).toString();
    let message = body.trim();
    try {
      const j = JSON.parse(body) as { message?: string };
      if (typeof j.message === 'string') message = j.message;
    } catch { /* plain text error */ }
    if (!message) message = `${res.statusCode} ${res.statusMessage ?? ''}`.trim();
    return new ClientError(res.statusCode ?? 500, message);
  }

  /** Sends a request; resolves with the response when its status is below 400, else rejects with ClientError. */
  async request(opts: RequestOptions, versioned = true): Promise<http.IncomingMessage> {
    const path = await this.fullPath(opts.path, opts.query, versioned);
    return new Promise((resolve, reject) => {
      const req = this.raw(opts, path);
      req.on('error', (err) => reject((err as { code?: string }).code === 'ABORT_ERR' ? err : this.connectionError(err)));
      req.on('response', (res) => {
        if ((res.statusCode ?? 500) >= 400) this.errorFrom(res).then(reject, reject);
        else resolve(res);
      });
    });
  }

  /** A request whose response is JSON (or empty: resolves undefined). */
  async json<R>(method: string, path: string, query?: Query, body?: unknown, headers?: Record<string, string>): Promise<R> {
    const res = await this.request({ method, path, query, body, headers });
    const buf = await readBody(res);
    if (!buf.length || res.statusCode === 204) return undefined as R;
    return JSON.parse(buf.toString()) as R;
  }

  /**
   * Takes over the connection for attach and exec start: sends `Connection: Upgrade`, `Upgrade: tcp`
   * and expects `101 Switching Protocols`. An engine that answers 200 instead gets a read-only stream.
   */
  async hijack(opts: RequestOptions): Promise<HijackedConnection> {
    const path = await this.fullPath(opts.path, opts.query, true);
    return new Promise((resolve, reject) => {
      const req = this.raw({ ...opts, method: opts.method ?? 'POST' }, path, { Connection: 'Upgrade', Upgrade: 'tcp' });
      req.on('error', (err) => reject(this.connectionError(err)));
      req.on('upgrade', (_res, socket, head) => {
        if (head.length) socket.unshift(head);
        socket.setNoDelay?.(true);
        resolve({ socket, closeWrite: () => { if (!socket.writableEnded) socket.end(); } });
      });
      req.on('response', (res) => {
        if ((res.statusCode ?? 500) >= 400) { this.errorFrom(res).then(reject, reject); return; }
        const socket = res as unknown as Duplex;
        resolve({ socket, closeWrite: () => undefined });
      });
    });
  }

  // ---- system ----

  async ping(): Promise<PingResult> {
    const res = await this.request({ method: 'HEAD', path: '/_ping' }, false).catch(async (err) => {
      // Old engines answer HEAD with 404 / 405: retry with GET like the docker CLI.
      if (err instanceof ClientError && err.status > 0) return this.request({ path: '/_ping' }, false);
      throw err;
    });
    res.resume();
    const h = res.headers;
    return {
      apiVersion: h['api-version'] as string | undefined,
      osType: h['ostype'] as string | undefined,
      experimental: h['docker-experimental'] === 'true',
      builderVersion: h['builder-version'] as string | undefined,
      swarm: h['swarm'] as string | undefined,
    };
  }

  /** The negotiated API version: min(CLIENT_API_VERSION, the engine's). */
  apiVersion(): Promise<string> {
    this.version ??= this.ping().then((p) => {
      const server = p.apiVersion || '1.24';
      return compareVersions(server, CLIENT_API_VERSION) < 0 ? server : CLIENT_API_VERSION;
    });
    return this.version;
  }

  systemVersion(): Promise<T.VersionResponse> { return this.json('GET', '/version'); }
  info(): Promise<T.SystemInfo> { return this.json('GET', '/info'); }
  systemDf(): Promise<T.DiskUsage> { return this.json('GET', '/system/df'); }
  /**
   * GET /events: newline-delimited JSON messages until `until` (or the caller aborts). `since` and
   * `until` are API timestamps (unix seconds, fractions allowed); `filters` "key=value" strings.
   * The body is a raw stream: a caller that needs exact `timeNano` reads it from the text.
   */
  events(opts: { since?: string; until?: string; filters?: string[] }, signal?: AbortSignal): Promise<http.IncomingMessage> {
    return this.request({ path: '/events', signal, query: { since: opts.since || undefined, until: opts.until || undefined, filters: filtersToJSON(opts.filters ?? []) } });
  }

  // ---- containers ----

  /** `headers`: X-Berth-Trust when the berth CLI has content trust on. */
  containerCreate(body: T.ContainerCreateRequest, opts: { name?: string; platform?: string; headers?: Record<string, string> } = {}): Promise<T.ContainerCreateResponse> {
    return this.json('POST', '/containers/create', { name: opts.name || undefined, platform: opts.platform || undefined }, body, opts.headers);
  }
  containerInspect(id: string, size = false): Promise<T.ContainerInspect> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/json`, { size: size || undefined });
  }
  containerList(opts: { all?: boolean; limit?: number; size?: boolean; filters?: string[] } = {}): Promise<T.ContainerSummary[]> {
    return this.json('GET', '/containers/json', {
      all: opts.all || undefined, limit: opts.limit && opts.limit > 0 ? opts.limit : undefined,
      size: opts.size || undefined, filters: filtersToJSON(opts.filters ?? []),
    });
  }
  containerStart(id: string, opts: { detachKeys?: string } = {}): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/start`, { detachKeys: opts.detachKeys });
  }
  containerStop(id: string, opts: { signal?: string; timeout?: number } = {}): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/stop`, { signal: opts.signal, t: opts.timeout });
  }
  containerRestart(id: string, opts: { signal?: string; timeout?: number } = {}): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/restart`, { signal: opts.signal, t: opts.timeout });
  }
  containerKill(id: string, signal?: string): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/kill`, { signal });
  }
  containerPause(id: string): Promise<void> { return this.json('POST', `/containers/${encodeURIComponent(id)}/pause`); }
  containerUnpause(id: string): Promise<void> { return this.json('POST', `/containers/${encodeURIComponent(id)}/unpause`); }
  containerRemove(id: string, opts: { force?: boolean; volumes?: boolean; link?: boolean } = {}): Promise<void> {
    return this.json('DELETE', `/containers/${encodeURIComponent(id)}`, { force: opts.force || undefined, v: opts.volumes || undefined, link: opts.link || undefined });
  }
  containerRename(id: string, name: string): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/rename`, { name });
  }
  containerResize(id: string, height: number, width: number): Promise<void> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/resize`, { h: height, w: width });
  }
  containerTop(id: string, psArgs?: string): Promise<T.ContainerTopResponse> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/top`, { ps_args: psArgs || undefined });
  }
  containerChanges(id: string): Promise<T.FilesystemChange[] | null> {
    return this.json('GET', `/containers/${encodeURIComponent(id)}/changes`);
  }
  containerPrune(filters: string[] = []): Promise<T.PruneReport> {
    return this.json('POST', '/containers/prune', { filters: filtersToJSON(filters) });
  }
  /** GET /containers/{id}/stats: one sample (`stream` false: dockerd fills precpu_stats first) or one per second. */
  containerStats(id: string, stream: boolean, signal?: AbortSignal): Promise<http.IncomingMessage> {
    return this.request({ path: `/containers/${encodeURIComponent(id)}/stats`, query: { stream }, signal });
  }
  containerUpdate(id: string, body: T.ContainerUpdateRequest): Promise<T.ContainerUpdateResponse> {
    return this.json('POST', `/containers/${encodeURIComponent(id)}/update`, undefined, body);
  }
  containerCommit(id: string, opts: { repo?: string; tag?: string; comment?: string; author?: string; changes?: string[]; pause?: boolean; config?: T.ContainerConfig }): Promise<{ Id: string }> {
    return this.json('POST', '/commit', {
      container: id, repo: opts.repo, tag: opts.tag, comment: opts.comment, author: opts.author,
      changes: opts.changes?.length ? opts.changes : undefined, pause: opts.pause,
    }, opts.config ?? {});
  }

  /**
   * Starts waiting for a container. `ready` resolves once the engine has accepted the wait (its
   * headers arrived), so a caller can start the container without missing the exit; `result`
   * resolves with the exit status.
   */
  containerWait(id: string, condition: 'next-exit' | 'removed' | 'not-running' = 'not-running'): { ready: Promise<void>; result: Promise<T.ContainerWaitResponse> } {
    const res = this.request({ method: 'POST', path: `/containers/${encodeURIComponent(id)}/wait`, query: { condition } });
    const result = res.then(async (r) => {
      const body = (await readBody(r)).toString();
      const parsed = JSON.parse(body) as T.ContainerWaitResponse;
      if (parsed.Error?.Message) throw new ClientError(500, parsed.Error.Message);
      return parsed;
    });
    result.catch(() => undefined);
    return { ready: res.then(() => undefined), result };
  }

  containerLogs(id: string, opts: { follow?: boolean; stdout?: boolean; stderr?: boolean; since?: string; until?: string; timestamps?: boolean; tail?: string; details?: boolean }, signal?: AbortSignal): Promise<http.IncomingMessage> {
    return this.request({
      path: `/containers/${encodeURIComponent(id)}/logs`, signal,
      query: {
        stdout: opts.stdout ?? true, stderr: opts.stderr ?? true, follow: opts.follow || undefined,
        since: opts.since || undefined, until: opts.until || undefined, timestamps: opts.timestamps || undefined,
        tail: opts.tail, details: opts.details || undefined,
      },
    });
  }

  containerAttach(id: string, opts: { stdin?: boolean; stdout?: boolean; stderr?: boolean; stream?: boolean; logs?: boolean; detachKeys?: string }): Promise<HijackedConnection> {
    return this.hijack({
      path: `/containers/${encodeURIComponent(id)}/attach`,
      query: {
        stream: opts.stream ?? true, stdin: opts.stdin ?? false, stdout: opts.stdout ?? true, stderr: opts.stderr ?? true,
        logs: opts.logs || undefined, detachKeys: opts.detachKeys || undefined,
      },
    });
  }

  containerExport(id: string): Promise<http.IncomingMessage> {
    return this.request({ path: `/containers/${encodeURIComponent(id)}/export` });
  }

  /** Stats a path in a container (HEAD archive); undefined when the path does not exist. */
  async containerStatPath(id: string, path: string): Promise<T.PathStat> {
    const res = await this.request({ method: 'HEAD', path: `/containers/${encodeURIComponent(id)}/archive`, query: { path } });
    res.resume();
    return decodePathStat(res.headers['x-docker-container-path-stat']);
  }
  /** A tar stream of `path` in the container, with its stat. */
  async containerGetArchive(id: string, path: string): Promise<{ stat: T.PathStat; body: http.IncomingMessage }> {
    const body = await this.request({ path: `/containers/${encodeURIComponent(id)}/archive`, query: { path } });
    return { stat: decodePathStat(body.headers['x-docker-container-path-stat']), body };
  }
  async containerPutArchive(id: string, path: string, tar: Readable | Buffer, opts: { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean } = {}): Promise<void> {
    const res = await this.request({
      method: 'PUT', path: `/containers/${encodeURIComponent(id)}/archive`, body: tar,
      headers: { 'Content-Type': 'application/x-tar' },
      query: { path, noOverwriteDirNonDir: opts.noOverwriteDirNonDir ?? true, copyUIDGID: opts.copyUIDGID || undefined },
    });
    res.resume();
  }

  // ---- exec ----

  execCreate(container: string, body: T.ExecCreateRequest): Promise<{ Id: string }> {
    return this.json('POST', `/containers/${encodeURIComponent(container)}/exec`, undefined, body);
  }
  execStartDetached(id: string, tty = false): Promise<void> {
    return this.json('POST', `/exec/${encodeURIComponent(id)}/start`, undefined, { Detach: true, Tty: tty });
  }
  execStartAttached(id: string, tty: boolean, consoleSize?: [number, number]): Promise<HijackedConnection> {
    return this.hijack({ path: `/exec/${encodeURIComponent(id)}/start`, body: { Detach: false, Tty: tty, ConsoleSize: consoleSize } });
  }
  execResize(id: string, height: number, width: number): Promise<void> {
    return this.json('POST', `/exec/${encodeURIComponent(id)}/resize`, { h: height, w: width });
  }
  execInspect(id: string): Promise<T.ExecInspect> { return this.json('GET', `/exec/${encodeURIComponent(id)}/json`); }

  // ---- images ----

  imageList(opts: { all?: boolean; digests?: boolean; filters?: string[] } = {}): Promise<T.ImageSummary[]> {
    return this.json('GET', '/images/json', { all: opts.all || undefined, digests: opts.digests || undefined, filters: filtersToJSON(opts.filters ?? []) });
  }
  imageInspect(name: string): Promise<T.ImageInspect> { return this.json('GET', `/images/${encodeURIComponent(name)}/json`); }
  imageHistory(name: string): Promise<T.ImageHistoryItem[]> { return this.json('GET', `/images/${encodeURIComponent(name)}/history`); }
  imageRemove(name: string, opts: { force?: boolean; noprune?: boolean } = {}): Promise<T.ImageDeleteItem[]> {
    return this.json('DELETE', `/images/${encodeURIComponent(name)}`, { force: opts.force || undefined, noprune: opts.noprune || undefined });
  }
  imageTag(source: string, repo: string, tag?: string): Promise<void> {
    return this.json('POST', `/images/${encodeURIComponent(source)}/tag`, { repo, tag: tag || undefined });
  }
  imagePrune(filters: string[] = []): Promise<T.PruneReport> {
    return this.json('POST', '/images/prune', { filters: filtersToJSON(filters) });
  }
  /** POST /build/prune. `all` and `keepStorage` are sent as the docker CLI sends them (an engine may ignore them). */
  buildCachePrune(opts: { all?: boolean; keepStorage?: number; filters?: string[] } = {}): Promise<T.BuildCachePruneReport> {
    return this.json('POST', '/build/prune', {
      all: opts.all || undefined, 'keep-storage': opts.keepStorage || undefined, filters: filtersToJSON(opts.filters ?? []) ?? '{}',
    });
  }
  imageSave(names: string[]): Promise<http.IncomingMessage> { return this.request({ path: '/images/get', query: { names } }); }
  imageLoad(tar: Readable, quiet = false): Promise<http.IncomingMessage> {
    return this.request({ method: 'POST', path: '/images/load', query: { quiet }, body: tar, headers: { 'Content-Type': 'application/x-tar' } });
  }
  /** Imports a filesystem tarball (`source` "-" means the body stream, else a URL). */
  imageImport(body: Readable | undefined, opts: { source: string; repo?: string; tag?: string; message?: string; changes?: string[]; platform?: string }): Promise<http.IncomingMessage> {
    return this.request({
      method: 'POST', path: '/images/create', body: body ?? Buffer.alloc(0),
      headers: { 'Content-Type': 'application/x-tar' },
      query: { fromSrc: opts.source, repo: opts.repo, tag: opts.tag, message: opts.message, changes: opts.changes?.length ? opts.changes : undefined, platform: opts.platform },
    });
  }
  /**
   * POST /build (legacy builder protocol): `context` is the context tar; the response is a JSON
   * progress stream. `session` (berthd only) carries build secrets and SSH agent sockets: a JSON
   * document sent in front of the tar, its length in the `X-Berth-Build-Session` header, so the
   * secrets travel in the request body only (never in the URL or a header a log might keep).
   */
  imageBuild(context: Readable, opts: {
    tags?: string[]; dockerfile?: string; buildArgs?: Record<string, string>; labels?: Record<string, string>; target?: string;
    noCache?: boolean; quiet?: boolean; networkMode?: string; squash?: boolean;
    /** `--pull`: pull every image the build uses first, even those the daemon has. */
    pull?: boolean;
    session?: BuildSession;
    /** berthd: each step's time on its result line (another engine ignores it). */
    stepTimes?: boolean;
    /** Credentials by registry, for the images the build pulls (X-Registry-Config, as the docker CLI sends its config file's). */
    registryConfig?: Record<string, object>;
  }): Promise<http.IncomingMessage> {
    const json = (o: Record<string, string> | undefined) => (o && Object.keys(o).length ? JSON.stringify(o) : undefined);
    const headers: Record<string, string> = { 'Content-Type': 'application/x-tar' };
    if (opts.registryConfig && Object.keys(opts.registryConfig).length) {
      headers['X-Registry-Config'] = Buffer.from(JSON.stringify(opts.registryConfig)).toString('base64url');
    }
    let body: Readable = context;
    if (opts.session) {
      const doc = Buffer.from(JSON.stringify({
        secrets: Object.fromEntries(Object.entries(opts.session.secrets).map(([k, v]) => [k, v.toString('base64')])),
        ssh: opts.session.ssh,
        ...(opts.session.context ? { context: opts.session.context } : {}),
      }));
      headers['X-Berth-Build-Session'] = String(doc.length);
      body = Readable.from((async function* () { yield doc; for await (const c of context) yield c as Buffer; })());
    }
    return this.request({
      method: 'POST', path: '/build', body, headers,
      query: {
        t: opts.tags?.length ? opts.tags : undefined, dockerfile: opts.dockerfile, buildargs: json(opts.buildArgs), labels: json(opts.labels),
        target: opts.target || undefined, nocache: opts.noCache || undefined, q: opts.quiet || undefined, networkmode: opts.networkMode || undefined,
        squash: opts.squash || undefined, pull: opts.pull || undefined, rm: true, steptimes: opts.stepTimes || undefined,
      },
    });
  }
  /**
   * Pulls an image; the response is a JSON progress stream (see jsonMessages). `registryAuth` is
   * X-Registry-Auth (base64url JSON AuthConfig); `headers` adds others (content trust).
   */
  imagePull(image: string, tag: string, platform?: string, opts: { registryAuth?: string; headers?: Record<string, string> } = {}): Promise<http.IncomingMessage> {
    return this.request({ method: 'POST', path: '/images/create', query: { fromImage: image, tag, platform }, headers: authHeaders(opts) });
  }
  /** Pushes a repository's tag (every tag without one); a JSON progress stream, ending with `aux`. */
  imagePush(name: string, tag: string | undefined, opts: { registryAuth?: string } = {}): Promise<http.IncomingMessage> {
    // The docker CLI always sends X-Registry-Auth on push; "{}" is anonymous.
    return this.request({ method: 'POST', path: `/images/${encodeURIComponent(name)}/push`, query: { tag }, headers: authHeaders({ registryAuth: opts.registryAuth ?? 'e30=' }) });
  }
  /** berth only: the digest an image reference names in its registry and its signatures, checked. */
  trustInspect(image: string, opts: { registryAuth?: string; headers?: Record<string, string> } = {}): Promise<T.TrustInspect> {
    return this.json('GET', '/berth/trust/inspect', { image }, undefined, authHeaders(opts));
  }
  /** berth only: stores a cosign signature (payload and signature, base64) for what `image` names. */
  trustSign(image: string, payload: Buffer, signature: string, opts: { registryAuth?: string } = {}): Promise<{ Digest: string; Signature: string }> {
    return this.json('POST', '/berth/trust/sign', { image }, { Payload: payload.toString('base64'), Signature: signature }, authHeaders(opts));
  }
  /** POST /auth: checks credentials with the registry (docker login). */
  registryLogin(auth: T.AuthConfig): Promise<{ Status: string; IdentityToken?: string }> {
    return this.json('POST', '/auth', undefined, auth);
  }

  // ---- volumes ----

  volumeCreate(body: T.VolumeCreateRequest): Promise<T.Volume> { return this.json('POST', '/volumes/create', undefined, body); }
  volumeList(filters: string[] = []): Promise<T.VolumeListResponse> {
    return this.json('GET', '/volumes', { filters: filtersToJSON(filters) });
  }
  volumeInspect(name: string): Promise<T.Volume> { return this.json('GET', `/volumes/${encodeURIComponent(name)}`); }
  volumeRemove(name: string, force = false): Promise<void> {
    return this.json('DELETE', `/volumes/${encodeURIComponent(name)}`, { force: force || undefined });
  }
  volumePrune(filters: string[] = []): Promise<T.VolumePruneReport> {
    return this.json('POST', '/volumes/prune', { filters: filtersToJSON(filters) });
  }
  /** Updates a cluster volume's spec (swarm only); `version` is the object version it was read at. */
  volumeUpdate(id: string, version: number, spec: Record<string, unknown>): Promise<void> {
    return this.json('PUT', `/volumes/${encodeURIComponent(id)}`, { version }, { Spec: spec });
  }

  // ---- networks ----

  networkCreate(body: T.NetworkCreateRequest): Promise<T.NetworkCreateResponse> { return this.json('POST', '/networks/create', undefined, body); }
  networkList(filters: string[] = []): Promise<T.NetworkInspect[]> {
    return this.json('GET', '/networks', { filters: filtersToJSON(filters) });
  }
  /** The network and the engine's JSON as sent (docker prints inspect output from the raw JSON, keeping its field order). */
  async networkInspectWithRaw(id: string, opts: { verbose?: boolean; scope?: string } = {}): Promise<{ network: T.NetworkInspect; raw: string }> {
    const res = await this.request({ path: `/networks/${encodeURIComponent(id)}`, query: { verbose: opts.verbose ? 'true' : undefined, scope: opts.scope || undefined } });
    const raw = (await readBody(res)).toString();
    return { network: JSON.parse(raw) as T.NetworkInspect, raw };
  }
  networkRemove(id: string): Promise<void> { return this.json('DELETE', `/networks/${encodeURIComponent(id)}`); }
  networkPrune(filters: string[] = []): Promise<T.NetworkPruneReport> {
    return this.json('POST', '/networks/prune', { filters: filtersToJSON(filters) });
  }
  networkConnect(id: string, container: string, endpoint?: T.EndpointSettings): Promise<void> {
    return this.json('POST', `/networks/${encodeURIComponent(id)}/connect`, undefined, { Container: container, EndpointConfig: endpoint });
  }
  networkDisconnect(id: string, container: string, force = false): Promise<void> {
    return this.json('POST', `/networks/${encodeURIComponent(id)}/disconnect`, undefined, { Container: container, Force: force });
  }
}

function decodePathStat(header: string | string[] | undefined): T.PathStat {
  const h = Array.isArray(header) ? header[0] : header;
  if (!h) throw new ClientError(500, 'unable to get resource stat from response');
  return JSON.parse(Buffer.from(h, 'base64').toString()) as T.PathStat;
}

/** Compares dotted versions numerically: -1, 0 or 1. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number), pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? 0, y = pb[i] ?? 0;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}
