import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { invalidArgument } from '../base/errors';

export const API_VERSION = '1.50';
export const MIN_API_VERSION = '1.24';

/** A request as handlers see it: path params, query, and the negotiated API version. */
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  params: Record<string, string>;
  query: URLSearchParams;
  version: string;
  /** Present when the client asked to upgrade the connection (attach, exec start). */
  upgrade?: { socket: Duplex; head: Buffer };
}

export type Handler = (ctx: Ctx) => Promise<void> | void;

interface Route {
  method: string;
  re: RegExp;
  names: string[];
  pattern: string;
  handler: Handler;
}

/**
 * Routes `/v1.xx/path` and unversioned paths. Path patterns use `:name` for one segment and
 * `:name*` for the rest of the path (image names contain slashes).
 */
export class Router {
  private readonly routes: Route[] = [];

  add(method: string, pattern: string, handler: Handler): void {
    const names: string[] = [];
    const re = new RegExp('^' + pattern.replace(/:(\w+)(\*)?/g, (_, name: string, star: string) => {
      names.push(name);
      return star ? '(.+)' : '([^/]+)';
    }) + '$');
    this.routes.push({ method, re, names, pattern, handler });
  }

  match(method: string, rawUrl: string): { handler: Handler; pattern: string; params: Record<string, string>; query: URLSearchParams; version: string } | 'no-route' | 'bad-method' {
    const url = new URL(rawUrl, 'http://berth');
    let path = url.pathname;
    let version = API_VERSION;
    const vm = /^\/v(\d+\.\d+)(\/.*)$/.exec(path);
    if (vm) {
      version = vm[1];
      path = vm[2];
      if (compareVersions(version, MIN_API_VERSION) < 0) {
        throw invalidArgument(`client version ${version} is too old. Minimum supported API version is ${MIN_API_VERSION}, please upgrade your client to a newer version`);
      }
      if (compareVersions(version, API_VERSION) > 0) {
        throw invalidArgument(`client version ${version} is too new. Maximum supported API version is ${API_VERSION}`);
      }
    }
    let pathMatched = false;
    for (const r of this.routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== method && !(method === 'HEAD' && r.method === 'GET')) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => { params[n] = decodeURIComponent(m[i + 1]); });
      return { handler: r.handler, pattern: r.pattern, params, query: url.searchParams, version };
    }
    return pathMatched ? 'bad-method' : 'no-route';
  }
}

export function compareVersions(a: string, b: string): number {
  const [am, an] = a.split('.').map(Number);
  const [bm, bn] = b.split('.').map(Number);
  return am !== bm ? am - bm : an - bn;
}

// ---- query and body helpers ---------------------------------------------------------------------

/** Docker's boolean query values: 1/true/True are true; absent or 0/false are false. */
export function qbool(q: URLSearchParams, name: string, dflt = false): boolean {
  const v = q.get(name);
  if (v === null || v === '') return dflt;
  return !['0', 'false', 'False', 'FALSE', 'no'].includes(v);
}

export function qint(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw invalidArgument(`invalid value for ${name}: ${v}`);
  return n;
}

/** Docker's `filters` parameter: `{"k":["v"]}` or the legacy `{"k":{"v":true}}`. */
export function qfilters(q: URLSearchParams): Record<string, string[]> {
  const raw = q.get('filters');
  if (!raw) return {};
  let parsed: unknown;
  try { parsed = JSON.parse(raw); } catch { throw invalidArgument(`invalid filter: ${raw}`); }
  if (typeof parsed !== 'object' || parsed === null) throw invalidArgument(`invalid filter: ${raw}`);
  const out: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (v && typeof v === 'object') out[k] = Object.entries(v as Record<string, unknown>).filter(([, on]) => on).map(([x]) => x);
    else throw invalidArgument(`invalid filter: ${raw}`);
  }
  return out;
}

const MAX_BODY = 16 * 1024 * 1024;

/** Reads a JSON body; an empty body is `{}`. Malformed JSON is a 400 as in Docker. */
export async function jsonBody<T>(req: IncomingMessage): Promise<T> {
  const chunks: Buffer[] = [];
  let size = 0;
  const upgradeBody = (req as IncomingMessage & { upgradeBody?: Buffer }).upgradeBody;
  for await (const c of upgradeBody ? [upgradeBody] : req) {
    size += (c as Buffer).length;
    if (size > MAX_BODY) throw invalidArgument('request body too large');
    chunks.push(c as Buffer);
  }
  const text = Buffer.concat(chunks).toString().trim();
  if (!text) return {} as T;
  try {
    const v = JSON.parse(text);
    if (v === null || typeof v !== 'object') throw new Error('not an object');
    return v as T;
  } catch (e) {
    throw invalidArgument(`invalid JSON: ${(e as Error).message}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}
