import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Digest } from '../base/digest';
import { invalidArgument, notFound } from '../base/errors';
import { humanSize } from '../base/units';
import type { EventBus } from '../daemon/events';
import type { ImageStore } from '../image/image-store';
import { familiarName, familiarString, fullString, parseReference } from '../oci/reference';
import type { Progress, RegistryClient } from '../registry/client/registry-client';
import type { Credentials } from '../registry/client/transport';
import { messageOf } from './errors';
import { Router, jsonBody, sendJson } from './router';
import { startOperation, type OperationObserver } from './server';

/**
 * Docker's registry endpoints: `POST /images/create?fromImage=` (pull), `POST /images/{name}/push`
 * and `POST /auth` (login). Pull and push stream Docker's JSON progress messages; an error found
 * before the first message (unknown manifest, missing image, docker.io) is an HTTP error, as dockerd
 * answers it, so `docker run` of a missing image still exits 125 at once.
 */
export interface RegistryRouteDeps {
  registry: RegistryClient;
  images: ImageStore;
  events: EventBus;
  /**
   * A gate for pulls (content trust): given the full reference and the request, the check to run
   * on the manifest digest before anything is stored, or undefined when none applies.
   */
  verifyPull?: (ref: string, req: IncomingMessage) => ((manifestDigest: Digest) => Promise<void>) | undefined;
  /** Told how each pull request ended and how long it took (metrics). */
  observePull?: OperationObserver;
}

/** Decodes `X-Registry-Auth` (base64url JSON AuthConfig); absent or empty means anonymous. */
export function registryAuth(req: IncomingMessage): Credentials {
  const h = req.headers['x-registry-auth'];
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return {};
  try {
    const doc = JSON.parse(Buffer.from(v, 'base64').toString()) as Record<string, unknown>;
    return authConfig(doc);
  } catch {
    return {};
  }
}

function authConfig(doc: Record<string, unknown>): Credentials {
  const s = (k: string) => (typeof doc[k] === 'string' && doc[k] !== '' ? (doc[k] as string) : undefined);
  const c: Credentials = {};
  if (s('username') !== undefined) c.username = s('username');
  if (s('password') !== undefined) c.password = s('password');
  if (s('registrytoken') !== undefined) c.registryToken = s('registrytoken');
  return c;
}

/** A JSON-lines writer whose headers go out with the first message. */
function progressWriter(res: ServerResponse): { write: (p: Progress) => void; started: () => boolean } {
  let started = false;
  return {
    started: () => started,
    write: (p) => {
      if (!started) {
        res.writeHead(200, { 'Content-Type': 'application/json' });
        started = true;
      }
      res.write(JSON.stringify(dockerMessage(p)) + '\n');
    },
  };
}

function dockerMessage(p: Progress): Record<string, unknown> {
  if (p.aux) return { progressDetail: {}, aux: p.aux };
  const m: Record<string, unknown> = { status: p.status };
  if (p.current !== undefined) {
    m.progressDetail = { current: p.current, total: p.total };
    m.progress = progressBar(p.current, p.total);
  } else if (p.id !== undefined) m.progressDetail = {};
  if (p.id !== undefined) m.id = p.id;
  return m;
}

/** Docker's `[=====>     ]  1.2MB/3.4MB` bar (the CLI prefers progressDetail on a terminal). */
function progressBar(current: number, total?: number): string {
  if (!total) return humanSize(current);
  const width = 50;
  const n = Math.min(width, Math.floor((current / total) * width));
  const bar = '='.repeat(Math.max(0, n - 1)) + (n > 0 ? (n === width ? '=' : '>') : '') + ' '.repeat(width - n);
  return `[${bar}] ${humanSize(current)}/${humanSize(total)}`;
}

function abortOnClose(req: IncomingMessage, res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  res.on('close', () => { if (!res.writableFinished) ac.abort(); });
  void req;
  return ac.signal;
}

/**
 * `POST /images/create?fromImage=X&tag=Y[&platform=os/arch]`. Without a tag (`pull -a`) every tag
 * of the repository is pulled in turn, and the final status names the repository, as dockerd.
 */
export async function pullHandler(d: RegistryRouteDeps, req: IncomingMessage, res: ServerResponse, query: URLSearchParams): Promise<void> {
  const finish = startOperation(d.observePull);
  const signal = abortOnClose(req, res);
  try {
    // An error streamed after the first message is a failure too, though the request "succeeded".
    const ok = await pull(d, req, res, query, signal);
    finish(ok ? 'success' : signal.aborted ? 'canceled' : 'failure');
  } catch (e) {
    finish(signal.aborted ? 'canceled' : 'failure');
    throw e;
  }
}

/** The pull itself; false when it failed after the answer had started. */
async function pull(d: RegistryRouteDeps, req: IncomingMessage, res: ServerResponse, query: URLSearchParams, signal: AbortSignal): Promise<boolean> {
  const fromImage = query.get('fromImage') ?? '';
  const tag = query.get('tag') ?? '';
  // The CLI sends a digest in `tag` for `name@sha256:...`, and no tag for `pull -a`.
  const parsed = parseReference(fromImage, { defaultTag: false });
  const repo = fullString({ domain: parsed.domain, path: parsed.path });
  const creds = registryAuth(req);
  const platform = query.get('platform') || undefined;
  let refs: string[];
  let statusName: string;
  if (tag) refs = [`${repo}${tag.includes(':') ? '@' : ':'}${tag}`];
  else if (parsed.tag || parsed.digest) refs = [fullString(parsed)];
  else {
    const tags = await d.registry.tags(repo, creds, signal);
    if (!tags.length) throw notFound(`no tags found for ${familiarName(parsed)}`);
    refs = tags.map((t) => `${repo}:${t}`);
  }
  if (refs.length === 1) statusName = familiarString(parseReference(refs[0]));
  else statusName = familiarName(parsed);
  const out = progressWriter(res);
  try {
    let newer = false;
    for (const refString of refs) {
      const r = await d.registry.pull({ ref: refString, creds, platform, verify: d.verifyPull?.(refString, req) }, out.write, signal);
      newer ||= !r.upToDate;
      d.events.publish('image', 'pull', familiarString(parseReference(refString)), {});
    }
    out.write({ status: newer ? `Status: Downloaded newer image for ${statusName}` : `Status: Image is up to date for ${statusName}` });
  } catch (e) {
    if (!out.started()) throw e;
    res.write(JSON.stringify({ errorDetail: { message: messageOf(e) }, error: messageOf(e) }) + '\n');
    res.end();
    return false;
  }
  res.end();
  return true;
}

/** `POST /images/{name}/push?tag=T`; without a tag every local tag of the repository is pushed. */
export async function pushHandler(d: RegistryRouteDeps, req: IncomingMessage, res: ServerResponse, name: string, query: URLSearchParams): Promise<void> {
  const tag = query.get('tag') ?? '';
  const repo = parseReference(name, { defaultTag: false });
  if (repo.digest) throw invalidArgument('cannot push a digest reference');
  let refs: string[];
  if (tag || repo.tag) {
    const full = fullString({ domain: repo.domain, path: repo.path, tag: tag || repo.tag });
    if (!d.images.find(full)) throw notFound(`An image does not exist locally with the tag: ${familiarName(repo)}`);
    refs = [full];
  } else {
    const prefix = `${familiarName(repo)}:`;
    refs = d.images.list().flatMap((i) => i.repoTags.filter((t) => t.startsWith(prefix) && !t.slice(prefix.length).includes('/')))
      .map((t) => fullString(parseReference(t)));
    if (!refs.length) throw notFound(`An image does not exist locally with the tag: ${familiarName(repo)}`);
  }
  const out = progressWriter(res);
  const signal = abortOnClose(req, res);
  const creds = registryAuth(req);
  try {
    for (const ref of refs) {
      await d.registry.push({ ref, creds }, out.write, signal);
      d.events.publish('image', 'push', familiarString(parseReference(ref)), {});
    }
  } catch (e) {
    if (!out.started()) throw e;
    res.write(JSON.stringify({ errorDetail: { message: messageOf(e) }, error: messageOf(e) }) + '\n');
  }
  res.end();
}

/** `POST /auth` (docker login): checks the credentials against the registry. */
export function registryRoutes(r: Router, d: RegistryRouteDeps): void {
  r.add('POST', '/auth', async ({ req, res }) => {
    const body = await jsonBody<Record<string, unknown>>(req);
    const server = typeof body.serveraddress === 'string' && body.serveraddress ? body.serveraddress : 'docker.io';
    await d.registry.login(server, authConfig(body));
    sendJson(res, 200, { Status: 'Login Succeeded', IdentityToken: '' });
  });
}
