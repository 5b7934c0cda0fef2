import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import type { Builder, RegistryAuth } from '../build/builder';
import type { ImageStore } from '../image/image-store';
import type { EventBus } from '../daemon/events';
import { invalidArgument } from '../base/errors';
import { decompressStream } from '../sys/decompress';
import { familiarString, parseReference, withTag } from '../oci/reference';
import { Router, qbool, qfilters, qint, sendJson } from './router';
import { messageOf } from './errors';
import type { CacheMountStore } from '../daemon/build-cache-mounts';
import { buildCacheRecords, pruneBuildCache, type StepCache } from '../daemon/build-cache-usage';
import { checkContextDir, type ContextDir } from '../build/context-dir';
import { startOperation, type OperationObserver, type OperationResult } from './server';

export interface BuildRouteDeps {
  builder: Builder;
  images: ImageStore;
  events: EventBus;
  /** The step cache and the cache mounts `POST /build/prune` clears. */
  cache: StepCache;
  cacheMounts: CacheMountStore;
  /** Told how each build ended and how long it took (metrics). */
  observeBuild?: OperationObserver;
}

/** The build cache as `GET /system/df` lists it: Docker's build.CacheRecord objects. */
export function buildCacheJson(cache: StepCache, cacheMounts: CacheMountStore): object[] {
  return buildCacheRecords(cache, cacheMounts).map((c) => ({
    ID: c.id, Parents: null, Type: c.type, Description: c.description, InUse: c.inUse, Shared: c.shared, Size: c.size,
    CreatedAt: c.createdAt.toISOString(), LastUsedAt: c.lastUsedAt.toISOString(), UsageCount: c.usageCount,
  }));
}

function jsonMap(v: string | null, what: string): Record<string, string> {
  if (!v) return {};
  try {
    const o = JSON.parse(v) as Record<string, string | null>;
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(o ?? {})) if (x !== null && x !== undefined) out[k] = String(x);
    return out;
  } catch {
    throw invalidArgument(`invalid ${what}: ${v}`);
  }
}

/**
 * X-Registry-Config, the credentials the docker CLI sends with a build: base64url JSON of
 * registry address -> AuthConfig. Unreadable or absent: none.
 */
function registryConfig(h: string | string[] | undefined): Record<string, RegistryAuth> | undefined {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return undefined;
  let doc: Record<string, Record<string, unknown>>;
  try { doc = JSON.parse(Buffer.from(v, 'base64').toString()) as typeof doc; } catch { return undefined; }
  const out: Record<string, RegistryAuth> = {};
  for (const [k, a] of Object.entries(doc ?? {})) {
    if (!a || typeof a !== 'object') continue;
    const s = (f: string) => (typeof a[f] === 'string' && a[f] !== '' ? (a[f] as string) : undefined);
    let username = s('username');
    let password = s('password');
    const auth = s('auth');
    if (!username && auth) {
      const plain = Buffer.from(auth, 'base64').toString();
      const colon = plain.indexOf(':');
      if (colon > 0) { username = plain.slice(0, colon); password = plain.slice(colon + 1); }
    }
    out[k] = { username, password, registryToken: s('registrytoken') ?? s('identitytoken') };
  }
  return out;
}

/** BuildKit's limit on one secret (session/secrets/secretsprovider). */
const MAX_SECRET_SIZE = 500 * 1024;

/**
 * berth build's session document (secrets, SSH agent sockets), in front of the context when the
 * `X-Berth-Build-Session` header gives its length. The buffer it was read from is wiped.
 */
function readSession(header: string | string[] | undefined, body: Buffer): {
  secrets: Map<string, Buffer>; ssh: Map<string, string>; length: number; context?: { dir: ContextDir; ignore: string[] };
} | undefined {
  if (header === undefined) return undefined;
  const length = Number(header);
  if (!Number.isInteger(length) || length < 0 || length > body.length) throw invalidArgument(`invalid X-Berth-Build-Session: ${String(header)}`);
  const raw = body.subarray(0, length);
  let doc: { secrets?: Record<string, unknown>; ssh?: Record<string, unknown>; context?: { path?: unknown; dev?: unknown; ino?: unknown; ignore?: unknown } };
  try {
    doc = JSON.parse(raw.toString('utf8')) as typeof doc;
  } catch {
    throw invalidArgument('invalid build session document');
  } finally {
    raw.fill(0);
  }
  const secrets = new Map<string, Buffer>();
  for (const [id, v] of Object.entries(doc.secrets ?? {})) {
    if (typeof v !== 'string') throw invalidArgument(`secret ${id}: not base64 text`);
    const data = Buffer.from(v, 'base64');
    if (data.length > MAX_SECRET_SIZE) throw invalidArgument(`secret ${id} too big. max size 500KiB`);
    secrets.set(id, data);
  }
  const ssh = new Map<string, string>();
  for (const [id, v] of Object.entries(doc.ssh ?? {})) {
    if (typeof v !== 'string' || !v.startsWith('/')) throw invalidArgument(`ssh ${id}: the agent socket must be an absolute path on the daemon's host`);
    ssh.set(id, v);
  }
  let context: { dir: ContextDir; ignore: string[] } | undefined;
  if (doc.context !== undefined) {
    const c = doc.context;
    if (typeof c.path !== 'string' || !c.path.startsWith('/') || typeof c.dev !== 'number' || typeof c.ino !== 'number' ||
      !Array.isArray(c.ignore) || !c.ignore.every((x) => typeof x === 'string')) throw invalidArgument('invalid build session document: context');
    context = { dir: { path: c.path, dev: c.dev, ino: c.ino }, ignore: c.ignore as string[] };
  }
  return { secrets, ssh, length, context };
}

/**
 * The request body as a stream the build reads while it arrives (the context is parsed and its
 * files hashed meanwhile), after berth build's session document when the header announces one:
 * that document is read first, parsed and wiped. Destroying the returned stream leaves the
 * request alone; `drain` reads what nobody read, so that the answer still reaches the client.
 */
async function requestBody(req: IncomingMessage, header: string | string[] | undefined): Promise<{
  session?: ReturnType<typeof readSession>; body: Readable; drain: () => Promise<void>;
}> {
  const it = req[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let ended = false;
  const next = async (): Promise<Buffer | undefined> => {
    if (ended) return undefined;
    const r = await it.next();
    if (r.done) { ended = true; return undefined; }
    return r.value;
  };
  const drain = async () => { while (await next()); };
  let first: Buffer | undefined;
  let session: ReturnType<typeof readSession>;
  if (header !== undefined) {
    try {
      const length = Number(header);
      if (!Number.isInteger(length) || length < 0 || length > 64 << 20) throw invalidArgument(`invalid X-Berth-Build-Session: ${String(header)}`);
      const parts: Buffer[] = [];
      for (let have = 0; have < length;) {
        const c = await next();
        if (!c) throw invalidArgument(`invalid X-Berth-Build-Session: ${String(header)}`);
        parts.push(c);
        have += c.length;
      }
      const doc = Buffer.concat(parts);
      first = doc.subarray(length);
      try {
        session = readSession(header, doc);
      } finally {
        // The pieces the document came in hold secrets too.
        let left = length;
        for (const p of parts) {
          if (left <= 0) break;
          p.fill(0, 0, Math.min(left, p.length));
          left -= p.length;
        }
      }
    } catch (e) {
      await drain().catch(() => undefined);
      throw e;
    }
  }
  const body = Readable.from((async function* () {
    if (first?.length) yield first;
    for (let c = await next(); c; c = await next()) yield c;
  })(), { objectMode: false });
  return { session, body, drain };
}

/**
 * POST /build: the legacy builder protocol. The body is the context tar (maybe compressed); the
 * answer streams `{"stream":...}` progress, `{"aux":{"ID":...}}` and, on failure,
 * `{"errorDetail":{"message":...},"error":...}` (the status is already 200 by then, as in Docker).
 * A client that hangs up cancels the build; tags are applied only after the build succeeded.
 */
export function buildRoutes(r: Router, d: BuildRouteDeps): void {
  // docker system prune / builder prune.
  r.add('POST', '/build/prune', ({ res, query }) => {
    const r = pruneBuildCache(d.cache, d.cacheMounts, d.images, { all: qbool(query, 'all'), keepStorage: qint(query, 'keep-storage') ?? 0, filters: qfilters(query) });
    sendJson(res, 200, { CachesDeleted: r.deleted, SpaceReclaimed: r.reclaimed });
  });
  r.add('POST', '/build', async ({ req, res, query }) => {
    const finish = startOperation(d.observeBuild);
    try {
      await buildHandler(d, req, res, query, finish);
    } catch (e) {
      finish('failure');
      throw e;
    }
  });
}

/** One `POST /build`; `finish` is told how it ended (an error streamed after the 200 is a failure too). */
async function buildHandler(d: BuildRouteDeps, req: IncomingMessage, res: ServerResponse, query: URLSearchParams, finish: (r: OperationResult) => void): Promise<void> {
  if (query.get('remote')) throw invalidArgument('remote build contexts are not supported yet');
  const tags = query.getAll('t').filter(Boolean).map((t) => {
    const ref = parseReference(t);
    if (ref.digest) throw invalidArgument(`invalid reference format: ${t}: tags cannot carry a digest`);
    return familiarString(ref.tag ? ref : withTag(ref, 'latest'));
  });
  const quiet = qbool(query, 'q');
  // The context streams into the build as it arrives; a request stream left half-read would take
  // the connection (and our answer) down with it, so what the build did not read is drained.
  // Before the 200: a context directory berthd does not see as the client does is a 409 the
  // client answers by sending the context as a tar.
  const got = await requestBody(req, req.headers['x-berth-build-session']);
  const session = got.session;
  const secrets = session?.secrets;
  if (session?.context) {
    try {
      checkContextDir(session.context.dir);
    } catch (e) {
      for (const v of secrets?.values() ?? []) v.fill(0);
      await got.drain().catch(() => undefined);
      throw e;
    }
  }
  const drain = got.drain;
  const ac = new AbortController();
  const onClose = () => { if (!res.writableFinished) ac.abort(new Error('client disconnected')); };
  res.on('close', onClose);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  const send = (o: unknown) => { if (!res.destroyed) res.write(JSON.stringify(o) + '\n'); };
  try {
    const img = await d.builder.build({
      context: decompressStream(got.body, ac.signal),
      contextDir: session?.context,
      secrets: session?.secrets, ssh: session?.ssh,
      dockerfile: query.get('dockerfile') || 'Dockerfile',
      tags,
      buildArgs: jsonMap(query.get('buildargs'), 'build args'),
      labels: jsonMap(query.get('labels'), 'labels'),
      target: query.get('target') || undefined,
      noCache: qbool(query, 'nocache'),
      squash: qbool(query, 'squash'),
      pull: qbool(query, 'pull'),
      registryAuth: registryConfig(req.headers['x-registry-config']),
      // berth build's extension: each step's time on its ` ---> id` line.
      stepTimes: qbool(query, 'steptimes'),
      networkMode: query.get('networkmode') || 'default',
      out: (text) => { if (!quiet) send({ stream: text }); },
      signal: ac.signal,
    });
    send({ aux: { ID: img.id } });
    if (!quiet) send({ stream: `Successfully built ${img.id.replace(/^sha256:/, '').slice(0, 12)}\n` });
    // -q: the image ID is the whole output (moby's postBuild writes it to the stdout stream).
    else send({ stream: `${img.id}\n` });
    for (const t of tags) {
      d.images.tag(img.id, t);
      d.events.publish('image', 'tag', img.id, { name: t });
      if (!quiet) send({ stream: `Successfully tagged ${t}\n` });
    }
    finish('success');
  } catch (e) {
    finish(ac.signal.aborted ? 'canceled' : 'failure');
    send({ errorDetail: { message: messageOf(e) }, error: messageOf(e) });
  } finally {
    // The build's secrets are gone with it: wiped, not left for the garbage collector.
    for (const v of secrets?.values() ?? []) v.fill(0);
    await drain().catch(() => undefined);
    res.off('close', onClose);
    res.end();
  }
}
