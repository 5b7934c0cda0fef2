import * as http from 'node:http';
import * as https from 'node:https';
import { canceled, invalidArgument, unavailable } from '../base/errors';
import type { UrlFetcher } from './builder';

/** At most this many redirects, as Go's http.Client. */
const MAX_REDIRECTS = 10;
/** ADD of a URL is held in memory (as the context is): refuse bodies beyond this. */
const MAX_BYTES = 1 << 30;

/**
 * `ADD http(s)://...`: fetches the whole body, following redirects. A status other than 200 is an
 * error in BuildKit's words ("invalid response status 404"). Honours the build's AbortSignal.
 */
export class HttpFetcher implements UrlFetcher {
  async fetch(url: string, signal: AbortSignal): Promise<{ data: Buffer; lastModified?: number; finalUrl: string }> {
    let cur = url;
    for (let i = 0; i <= MAX_REDIRECTS; i++) {
      const res = await get(cur, signal);
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        cur = new URL(res.headers.location, cur).toString();
        continue;
      }
      if (status !== 200) {
        res.resume();
        throw invalidArgument(`invalid response status ${status}`);
      }
      const chunks: Buffer[] = [];
      let n = 0;
      for await (const c of res) {
        n += (c as Buffer).length;
        if (n > MAX_BYTES) { res.destroy(); throw invalidArgument(`${url}: more than ${MAX_BYTES} bytes`); }
        chunks.push(c as Buffer);
      }
      const lm = res.headers['last-modified'];
      const t = lm ? Date.parse(lm) : NaN;
      return { data: Buffer.concat(chunks), lastModified: Number.isNaN(t) ? undefined : t / 1000, finalUrl: cur };
    }
    throw invalidArgument(`${url}: stopped after ${MAX_REDIRECTS} redirects`);
  }
}

function get(url: string, signal: AbortSignal): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    let u: URL;
    try { u = new URL(url); } catch { reject(invalidArgument(`invalid URL ${url}`)); return; }
    const mod = u.protocol === 'https:' ? https : u.protocol === 'http:' ? http : undefined;
    if (!mod) { reject(invalidArgument(`unsupported URL scheme ${u.protocol}`)); return; }
    const req = mod.get(u, { signal, headers: { 'User-Agent': 'berth-builder' } }, resolve);
    req.on('error', (e) => reject(signal.aborted ? canceled('build canceled') : unavailable(`failed to GET ${url}: ${e.message}`, e)));
  });
}
