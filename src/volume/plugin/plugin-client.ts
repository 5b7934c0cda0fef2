import { request, RequestOptions } from 'node:http';
import { BerthError, canceled, errnoCode, internal, unavailable } from '../../base/errors';

/** The media type of Docker's plugin protocol (moby pkg/plugins/transport: VersionMimetype). */
export const PLUGIN_MEDIA_TYPE = 'application/vnd.docker.plugins.v1.2+json';

/** dockerd retries a plugin that is not listening yet for 30 s (docs/extend/plugin_api.md). */
export const DEFAULT_RETRY_WINDOW_MS = 30_000;

/** No plugin call is expected to take longer; a mount of network storage gets this much time. */
export const DEFAULT_CALL_TIMEOUT_MS = 120_000;

export interface CallOptions {
  /** Retry connection failures with back-off (1 s, 2 s, 4 s, ..) within the retry window. */
  retry?: boolean;
  signal?: AbortSignal;
}

/** A plugin's error answer: its `Err` (or body), with the method, as dockerd's statusError prints it. */
export class PluginCallError extends BerthError {
  constructor(readonly method: string, readonly status: number, readonly remote: string) {
    super('Internal', `${method}: ${remote}`);
  }
}

/**
 * Docker's legacy plugin protocol on the wire: every call is `POST /<Method>` with a JSON body and
 * a JSON answer, over a unix socket or TCP. A non-200 answer is an error carrying the plugin's
 * `Err` (or its body). Connection failures are Unavailable; with `retry` they are retried as
 * dockerd does while a plugin starts. What the answer means (including a 200 with `Err`) is the
 * caller's business.
 */
export class PluginClient {
  private readonly target: { socketPath: string } | { host: string; port: number };
  private readonly base: string;

  constructor(readonly addr: string, private readonly o: { retryWindowMs?: number; timeoutMs?: number } = {}) {
    const m = /^([a-z]+):\/\/(.*)$/i.exec(addr);
    if (!m) throw internal(`plugin address ${addr}: no scheme`);
    if (m[1].toLowerCase() === 'unix') {
      this.target = { socketPath: m[2] };
      this.base = '';
    } else {
      const u = new URL(`http://${m[2]}`);
      this.target = { host: u.hostname.replace(/^\[|\]$/g, ''), port: Number(u.port) };
      this.base = u.pathname.replace(/\/+$/, '');
    }
  }

  /** Calls `method` with `body` (no body when undefined) and returns the parsed answer. */
  async call<T>(method: string, body: unknown, opts: CallOptions = {}): Promise<T> {
    const window = this.o.retryWindowMs ?? DEFAULT_RETRY_WINDOW_MS;
    const start = Date.now();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.once<T>(method, body, opts.signal);
      } catch (e) {
        if (!opts.retry || !(e instanceof ConnectError)) throw e instanceof ConnectError ? e.error : e;
        const wait = Math.min(2 ** attempt, 30) * 1000;
        if (Date.now() - start + wait >= window) throw e.error;
        await sleep(wait, opts.signal);
      }
    }
  }

  private once<T>(method: string, body: unknown, signal?: AbortSignal): Promise<T> {
    const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body));
    const options: RequestOptions = {
      ...this.target, method: 'POST', path: `${this.base}/${method}`, signal,
      timeout: this.o.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS,
      headers: { Accept: PLUGIN_MEDIA_TYPE, 'Content-Type': PLUGIN_MEDIA_TYPE, 'Content-Length': payload.length },
    };
    return new Promise<T>((resolve, reject) => {
      let connected = false;
      const req = request(options, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(unavailable(`${method}: ${e.message}`, e)));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status !== 200) {
            reject(new PluginCallError(method, status, errText(text) || `HTTP ${status}`));
            return;
          }
          if (!text.trim()) { resolve({} as T); return; }
          try { resolve(JSON.parse(text) as T); } catch (e) { reject(internal(`${method}: error reading plugin resp: ${(e as Error).message}`, e)); }
        });
      });
      req.on('socket', (s) => {
        // A kept-alive socket is connected already; only a new one emits 'connect'.
        if (s.connecting) s.once('connect', () => { connected = true; });
        else connected = true;
      });
      req.on('timeout', () => req.destroy(unavailable(`${method}: plugin did not answer in ${options.timeout} ms`)));
      req.on('error', (e) => {
        if (signal?.aborted) { reject(canceled(`${method}: canceled`, e)); return; }
        if (e instanceof BerthError) { reject(e); return; }
        const err = unavailable(`${method}: ${e.message}`, e);
        // Only a failure to reach the plugin at all is worth a retry; a reset mid-call is not.
        const code = errnoCode(e);
        reject(!connected && (code === 'ECONNREFUSED' || code === 'ENOENT' || code === 'EAGAIN') ? new ConnectError(err) : err);
      });
      req.end(payload);
    });
  }
}

class ConnectError {
  constructor(readonly error: BerthError) {}
}

/** The `Err` of an error answer, else its body (dockerd's fallback for plugins that send text). */
function errText(body: string): string {
  try {
    const o = JSON.parse(body) as { Err?: unknown };
    if (o && typeof o.Err === 'string' && o.Err) return o.Err;
  } catch { /* not JSON */ }
  return body.trim();
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) { reject(canceled('canceled')); return; }
    const t = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve(); }, ms);
    const onAbort = () => { clearTimeout(t); reject(canceled('canceled')); };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
