/**
 * The distribution API over node:http: request parsing, headers and status codes of
 * distribution-spec v1.1. Decisions about content (validation, what a manifest needs) are made
 * here and in manifest.ts; storage only stores.
 */
import type { IncomingMessage, ServerResponse, OutgoingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { sha256, type Digest } from '../../base/digest';
import { requiredAccess, type Access, type Authenticator } from './auth';
import { AuthError, errorBody, registryError, toDistributionError } from './errors';
import { accepts, MANIFEST_MAX_BYTES, parseManifest, type Descriptor } from './manifest';
import { checkDigest, checkName, parseManifestRef, parseQuery, parseRoute, pathOf, type Route } from './names';
import type { RwLock } from './rw-lock';
import type { RegistryStorage } from './storage';
import { MEDIA_TYPES } from '../../oci/image';

export interface RegistryOptions {
  /** Refuse every write (405 UNSUPPORTED), as distribution's read-only maintenance mode does. */
  readOnly?: boolean;
  /** Who may do what; none: everyone may do everything. */
  auth?: Authenticator;
  /** Served outside /v2/ at `path` (the token endpoint), before and without authentication. */
  tokenEndpoint?: { path: string; handle: (req: IncomingMessage, res: ServerResponse) => Promise<void> };
  /** `POST /_berth/gc` runs this (online garbage collection); needs the `registry:gc:*` access. */
  gc?: () => Promise<unknown>;
  /** Held shared by manifest PUTs (see rw-lock.ts); the garbage collector holds it exclusively. */
  manifestLock?: RwLock;
}

/** The admin endpoint that runs garbage collection in a serving registry. */
export const GC_PATH = '/_berth/gc';
const GC_ACCESS: Access = { type: 'registry', name: 'gc', actions: ['*'] };

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

const API_VERSION = { 'Docker-Distribution-API-Version': 'registry/2.0' };

/** The request handler of a registry over `storage`. */
export function registryHandler(storage: RegistryStorage, opts: RegistryOptions = {}): Handler {
  return (req, res) => {
    const abort = new AbortController();
    res.on('close', () => { if (!res.writableFinished) abort.abort(); });
    handle(storage, opts, req, res, abort.signal).catch((err: unknown) => sendError(req, res, err));
  };
}

function sendError(req: IncomingMessage, res: ServerResponse, err: unknown): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const e = toDistributionError(err);
  if (e.status >= 500) process.stderr.write(`registry: ${req.method} ${req.url}: ${err instanceof Error ? err.stack : String(err)}\n`);
  const body = errorBody(e);
  if (e.challenge) res.setHeader('WWW-Authenticate', e.challenge);
  // An unread request body is drained by node after the response; the client sees the error first.
  res.writeHead(e.status, { ...API_VERSION, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(req.method === 'HEAD' ? undefined : body);
}

function send(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body?: Buffer | string): void {
  const len = body === undefined ? 0 : Buffer.byteLength(body);
  res.writeHead(status, { ...API_VERSION, 'Content-Length': len, ...headers });
  res.end(body);
}

function sendJson(req: IncomingMessage, res: ServerResponse, status: number, value: unknown, headers: OutgoingHttpHeaders = {}): void {
  const body = JSON.stringify(value);
  res.writeHead(status, { ...API_VERSION, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(req.method === 'HEAD' ? undefined : body);
}

const WRITES = new Set(['PUT', 'POST', 'PATCH', 'DELETE']);

async function handle(storage: RegistryStorage, opts: RegistryOptions, req: IncomingMessage, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const url = req.url ?? '/';
  const method = req.method ?? 'GET';
  const path = pathOf(url);
  if (opts.tokenEndpoint && path === opts.tokenEndpoint.path) return opts.tokenEndpoint.handle(req, res);
  if (opts.gc && path === GC_PATH) {
    await authorize(opts, req, [GC_ACCESS]);
    if (method !== 'POST') throw registryError('NotImplemented', 'operation', `${method} is not supported on ${path}`);
    if (opts.readOnly) throw registryError('NotImplemented', 'operation', 'the registry is in read-only mode');
    return sendJson(req, res, 200, await opts.gc());
  }
  const route = parseRoute(path);
  if (!route) throw registryError('NotFound', 'operation', `no route for ${path}`);
  const q = parseQuery(url);
  await authorize(opts, req, requiredAccess(route, method, q));
  if (opts.readOnly && WRITES.has(method)) throw registryError('NotImplemented', 'operation', 'the registry is in read-only mode');
  // The table is typed per route kind; `route.kind` picked the entry, so the route fits it.
  const table = ROUTES[route.kind] as Record<string, (c: Ctx) => Promise<void>>;
  const h = Object.hasOwn(table, method) ? table[method] : undefined;
  if (!h) throw registryError('NotImplemented', 'operation', `${method} is not supported on ${pathOf(url)}`);
  await h({ storage, req, res, route, q, signal, lock: opts.manifestLock });
}

async function authorize(opts: RegistryOptions, req: IncomingMessage, needs: Access[]): Promise<void> {
  if (!opts.auth) return;
  const d = await opts.auth.authorize(req, needs);
  if (!d.ok) throw new AuthError(d.status, d.message, d.challenge);
}

interface Ctx<R extends Route = Route> {
  storage: RegistryStorage;
  req: IncomingMessage;
  res: ServerResponse;
  route: R;
  q: URLSearchParams;
  signal: AbortSignal;
  lock?: RwLock;
}

type RouteHandlers = { [K in Route['kind']]: Record<string, (c: Ctx<Extract<Route, { kind: K }>>) => Promise<void>> };

const ROUTES: RouteHandlers = {
  base: {
    GET: async ({ req, res }) => sendJson(req, res, 200, {}),
    HEAD: async ({ req, res }) => sendJson(req, res, 200, {}),
  },
  catalog: {
    GET: async ({ storage, req, res, q }) => {
      const { items, link } = paginate(await storage.manifests.repositories(), q, '/v2/_catalog');
      sendJson(req, res, 200, { repositories: items }, link ? { Link: link } : {});
    },
  },
  tags: {
    GET: async ({ storage, req, res, route, q }) => {
      const { items, link } = paginate(await storage.manifests.tags(route.name), q, `/v2/${route.name}/tags/list`);
      sendJson(req, res, 200, { name: route.name, tags: items }, link ? { Link: link } : {});
    },
  },
  manifest: {
    GET: getManifest,
    HEAD: getManifest,
    PUT: putManifest,
    DELETE: async ({ storage, res, route }) => {
      await storage.manifests.delete(route.name, parseManifestRef(route.reference));
      send(res, 202, {});
    },
  },
  blob: {
    GET: getBlob,
    HEAD: getBlob,
    DELETE: async ({ storage, res, route }) => {
      await storage.blobs.delete(route.name, checkDigest(route.digest));
      send(res, 202, {});
    },
  },
  uploads: {
    POST: async ({ storage, req, res, route, q, signal }) => {
      const { name } = route;
      const mount = q.get('mount');
      const from = q.get('from');
      if (mount !== null) {
        const digest = checkDigest(mount);
        // Without `from` (or when `from` lacks the blob) the spec says: start an upload instead.
        if (from !== null && await storage.blobs.mount(name, digest, checkName(from))) {
          return send(res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
        }
      }
      const digestParam = q.get('digest');
      if (digestParam !== null) {
        const digest = checkDigest(digestParam);
        const up = await storage.uploads.start(name);
        try {
          await storage.uploads.finish(name, up.id, digest, { body: req, length: contentLength(req), signal });
        } catch (e) {
          await storage.uploads.cancel(name, up.id).catch(() => undefined);
          throw e;
        }
        return send(res, 201, { Location: `/v2/${name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
      }
      const up = await storage.uploads.start(name);
      send(res, 202, uploadHeaders(name, up.id, up.offset));
    },
  },
  upload: {
    GET: async ({ storage, res, route }) => {
      const st = await storage.uploads.status(route.name, route.id);
      send(res, 204, uploadHeaders(route.name, st.id, st.offset));
    },
    PATCH: async ({ storage, req, res, route, signal }) => {
      const st = await storage.uploads.append(route.name, route.id, { body: req, ...chunkRange(req), signal });
      send(res, 202, uploadHeaders(route.name, st.id, st.offset));
    },
    PUT: async ({ storage, req, res, route, q, signal }) => {
      const digestParam = q.get('digest');
      if (digestParam === null) throw registryError('InvalidArgument', 'digest', 'digest parameter missing');
      const digest = checkDigest(digestParam);
      // The last chunk may come with the PUT (berth's client sends the whole blob so).
      await storage.uploads.finish(route.name, route.id, digest, hasBody(req) ? { body: req, ...chunkRange(req), signal } : undefined);
      send(res, 201, { Location: `/v2/${route.name}/blobs/${digest}`, 'Docker-Content-Digest': digest });
    },
    DELETE: async ({ storage, res, route }) => {
      await storage.uploads.cancel(route.name, route.id);
      send(res, 204, {});
    },
  },
  referrers: {
    GET: async ({ storage, req, res, route, q }) => {
      const digest = checkDigest(route.digest);
      let manifests: Descriptor[] = await storage.manifests.referrers(route.name, digest);
      const artifactType = q.get('artifactType');
      const headers: OutgoingHttpHeaders = { 'Content-Type': MEDIA_TYPES.ociIndex };
      if (artifactType !== null) {
        manifests = manifests.filter((m) => m.artifactType === artifactType);
        headers['OCI-Filters-Applied'] = 'artifactType';
      }
      sendJson(req, res, 200, { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }, headers);
    },
  },
};

function uploadHeaders(name: string, id: string, offset: number): OutgoingHttpHeaders {
  return {
    Location: `/v2/${name}/blobs/uploads/${id}`,
    // "0-<last byte>"; distribution answers "0-0" for an empty upload, and clients expect that.
    Range: `0-${Math.max(offset - 1, 0)}`,
    'Docker-Upload-UUID': id,
  };
}

function contentLength(req: IncomingMessage): number | undefined {
  const v = req.headers['content-length'];
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw registryError('InvalidArgument', 'size', `invalid Content-Length ${JSON.stringify(v)}`);
  return Number(v);
}

function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || (contentLength(req) ?? 0) > 0;
}

/** The chunk a PATCH (or final PUT) carries: Content-Range "<start>-<end>" and Content-Length. */
function chunkRange(req: IncomingMessage): { start?: number; length?: number } {
  const length = contentLength(req);
  const cr = req.headers['content-range'];
  if (cr === undefined) return { length };
  const m = /^(?:bytes )?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(cr.trim());
  if (!m) throw registryError('InvalidArgument', 'range', `invalid Content-Range ${JSON.stringify(cr)}`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start || (length !== undefined && length !== end - start + 1)) {
    throw registryError('InvalidArgument', 'range', `Content-Range ${cr} does not match Content-Length ${length}`);
  }
  return { start, length: end - start + 1 };
}

async function getBlob({ storage, req, res, route }: Ctx<Extract<Route, { kind: 'blob' }>>): Promise<void> {
  const digest = checkDigest(route.digest);
  if (req.method === 'HEAD') return sendBlobHead(req, res, digest, await storage.blobs.stat(route.name, digest));
  const blob = await storage.blobs.open(route.name, digest);
  let range: { start: number; end: number } | undefined;
  try {
    range = parseRange(req.headers.range, blob.size);
  } catch (e) {
    await blob.close();
    throw e;
  }
  res.writeHead(range ? 206 : 200, blobHeaders(digest, blob.size, range));
  await pipeline(blob.read(range), res);
}

function sendBlobHead(req: IncomingMessage, res: ServerResponse, digest: Digest, size: number): void {
  const range = parseRange(req.headers.range, size);
  res.writeHead(range ? 206 : 200, blobHeaders(digest, size, range));
  res.end();
}

function blobHeaders(digest: Digest, size: number, range: { start: number; end: number } | undefined): OutgoingHttpHeaders {
  const headers: OutgoingHttpHeaders = {
    ...API_VERSION, 'Content-Type': 'application/octet-stream', 'Docker-Content-Digest': digest, 'Accept-Ranges': 'bytes',
    ETag: `"${digest}"`, 'Cache-Control': 'max-age=31536000',
  };
  if (range) {
    headers['Content-Range'] = `bytes ${range.start}-${range.end}/${size}`;
    headers['Content-Length'] = range.end - range.start + 1;
  } else {
    headers['Content-Length'] = size;
  }
  return headers;
}

/** One byte range of a `Range: bytes=...` header (several ranges: the whole blob, as RFC 9110 allows). */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined {
  if (!header) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m) return undefined;
  let start: number;
  let end: number;
  if (m[1] === '') {
    if (m[2] === '') return undefined;
    start = Math.max(size - Number(m[2]), 0);
    end = size - 1;
  } else {
    start = Number(m[1]);
    end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (start >= size || start > end) {
    throw registryError('InvalidArgument', 'range', `range ${header} not satisfiable for ${size} bytes`, { size });
  }
  return { start, end };
}

async function getManifest({ storage, req, res, route }: Ctx<Extract<Route, { kind: 'manifest' }>>): Promise<void> {
  const ref = parseManifestRef(route.reference);
  const m = await storage.manifests.get(route.name, ref);
  if (!accepts(req.headers.accept, m.mediaType)) {
    throw registryError('NotFound', 'manifest', `manifest ${route.reference} is a ${m.mediaType}, which the request does not accept`, { mediaType: m.mediaType });
  }
  res.writeHead(200, {
    ...API_VERSION, 'Content-Type': m.mediaType, 'Content-Length': m.content.length, 'Docker-Content-Digest': m.digest, ETag: `"${m.digest}"`,
  });
  res.end(req.method === 'HEAD' ? undefined : m.content);
}

async function putManifest(c: Ctx<Extract<Route, { kind: 'manifest' }>>): Promise<void> {
  // From the blob checks to the stored manifest, garbage collection must not sweep (rw-lock.ts).
  return c.lock ? c.lock.shared(() => putManifestLocked(c)) : putManifestLocked(c);
}

async function putManifestLocked({ storage, req, res, route }: Ctx<Extract<Route, { kind: 'manifest' }>>): Promise<void> {
  const { name } = route;
  const ref = parseManifestRef(route.reference);
  const body = await readLimited(req, MANIFEST_MAX_BYTES);
  const facts = parseManifest(req.headers['content-type'], body);
  const digest: Digest = sha256(body);
  if ('digest' in ref && ref.digest !== digest) {
    throw registryError('InvalidArgument', 'digest', `manifest has digest ${digest}, not ${ref.digest}`, { expected: ref.digest, actual: digest });
  }
  for (const b of facts.blobs) {
    try {
      await storage.blobs.stat(name, b);
    } catch (e) {
      throw registryError('FailedPrecondition', 'manifest', `manifest refers to blob ${b}, which repository ${name} does not have`, { digest: b });
    }
  }
  for (const m of facts.manifests) {
    if (!(await storage.manifests.has(name, m))) {
      throw registryError('FailedPrecondition', 'manifest', `index refers to manifest ${m}, which repository ${name} does not have`, { digest: m });
    }
  }
  const referrer = facts.subject && {
    subject: facts.subject.digest,
    descriptor: {
      mediaType: facts.mediaType, digest, size: body.length,
      ...(facts.artifactType !== undefined ? { artifactType: facts.artifactType } : {}),
      ...(facts.annotations !== undefined ? { annotations: facts.annotations } : {}),
    },
  };
  await storage.manifests.put(name, { digest, mediaType: facts.mediaType, content: body }, { tag: 'tag' in ref ? ref.tag : undefined, referrer });
  const headers: OutgoingHttpHeaders = { Location: `/v2/${name}/manifests/${digest}`, 'Docker-Content-Digest': digest };
  if (facts.subject) headers['OCI-Subject'] = facts.subject.digest;
  send(res, 201, headers);
}

async function readLimited(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooBig = () => registryError('InvalidArgument', 'manifest-size', `manifest larger than ${limit} bytes`, { limit });
  const declared = contentLength(req);
  if (declared !== undefined && declared > limit) throw tooBig();
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    n += chunk.length;
    if (n > limit) throw tooBig();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * `n`/`last` pagination of a sorted list (distribution-spec "Listing Tags"): entries after `last`,
 * at most `n`, and a Link header to the next page when entries remain.
 */
function paginate(all: string[], q: URLSearchParams, path: string): { items: string[]; link?: string } {
  const last = q.get('last');
  let items = last !== null ? all.filter((t) => t > last) : all;
  const nParam = q.get('n');
  if (nParam === null) return { items };
  if (!/^\d+$/.test(nParam)) throw registryError('InvalidArgument', 'size', `invalid page size n=${JSON.stringify(nParam)}`);
  const n = Number(nParam);
  const more = items.length > n;
  items = items.slice(0, n);
  if (!more || n === 0) return { items };
  const next = new URLSearchParams({ n: String(n), last: items[items.length - 1] });
  return { items, link: `<${path}?${next.toString()}>; rel="next"` };
}
