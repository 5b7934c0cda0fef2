import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { chmodSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { notFound } from '../base/errors';
import { Router, Ctx } from './router';
import { sendError, messageOf, statusOf } from './errors';

export type ApiLogger = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

/** Told of every finished request: the route pattern (not the URL, to bound cardinality), status and duration. */
export type RequestObserver = (method: string, route: string, status: number, seconds: number) => void;

/** How a long operation (a pull, a build) ended: `canceled` when the client hung up first. */
export type OperationResult = 'success' | 'failure' | 'canceled';

/** Told of every finished pull or build, with its whole duration (metrics). */
export type OperationObserver = (result: OperationResult, seconds: number) => void;

/** Starts timing an operation; the returned function reports it once (later calls do nothing). */
export function startOperation(observe: OperationObserver | undefined): (result: OperationResult) => void {
  const started = process.hrtime.bigint();
  let done = false;
  return (result) => {
    if (done) return;
    done = true;
    observe?.(result, Number(process.hrtime.bigint() - started) / 1e9);
  };
}

/**
 * The Docker Engine API over HTTP/1.1. Requests and connection upgrades (attach, exec start) go
 * through one router; every error becomes Docker's `{"message"}` with the status of its kind.
 */
export function createApiServer(router: Router, log: ApiLogger, observe?: RequestObserver): Server {
  const server = createServer({ keepAliveTimeout: 60_000 }, (req, res) => void dispatch(router, log, req, res, undefined, observe));
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    // An upgrade request has no ServerResponse; give handlers one bound to the socket for errors
    // that happen before the switch.
    const res = new ServerResponse(req);
    res.assignSocket(socket as import('node:net').Socket);
    // Node does not parse the body of an upgrade request: its first Content-Length bytes are the
    // JSON body (exec start's {"Detach":false,...}); what follows is already the client's stdin.
    const length = Number(req.headers['content-length'] ?? 0);
    void readExactly(socket, head, length).then(({ body, rest }) => {
      (req as UpgradeRequest).upgradeBody = body;
      return dispatch(router, log, req, res, { socket, head: rest }, observe);
    }, () => socket.destroy());
  });
  return server;
}

async function dispatch(router: Router, log: ApiLogger, req: IncomingMessage, res: ServerResponse, upgrade?: Ctx['upgrade'], observe?: RequestObserver): Promise<void> {
  const started = process.hrtime.bigint();
  let route = 'unmatched';
  let status: number | undefined;
  try {
    const m = router.match(req.method ?? 'GET', req.url ?? '/');
    if (m === 'no-route') throw notFound(`page not found`);
    if (m === 'bad-method') throw Object.assign(notFound('page not found'), {});
    route = m.pattern;
    await m.handler({ req, res, params: m.params, query: m.query, version: m.version, upgrade });
  } catch (err) {
    status = statusOf(err);
    log(status >= 500 ? 'error' : 'debug', `${req.method} ${req.url}: ${status} ${messageOf(err)}`);
    sendError(res, err);
  } finally {
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    // Streams (logs -f, events, attach) count when the handler returns, which may be long after
    // the headers went out: their latency is their duration.
    observe?.(req.method ?? 'GET', route, status ?? (upgrade ? 101 : res.statusCode), seconds);
    log('debug', `${req.method} ${req.url} ${(seconds * 1e3).toFixed(1)}ms`);
  }
}

/** An upgrade request carries its body here (see createApiServer). */
export type UpgradeRequest = IncomingMessage & { upgradeBody?: Buffer };

function readExactly(socket: Duplex, head: Buffer, length: number): Promise<{ body: Buffer; rest: Buffer }> {
  if (head.length >= length) return Promise.resolve({ body: head.subarray(0, length), rest: head.subarray(length) });
  return new Promise((resolve, reject) => {
    let buf = head;
    const onData = (d: Buffer) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < length) return;
      socket.off('data', onData);
      socket.off('error', reject);
      socket.pause();
      resolve({ body: buf.subarray(0, length), rest: buf.subarray(length) });
    };
    socket.on('data', onData);
    socket.on('error', reject);
  });
}

/** Listens on `unix:///path` (mode 0660, stale socket replaced) or `tcp://host:port`. */
export function listen(server: Server, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    if (host.startsWith('unix://')) {
      const path = host.slice('unix://'.length);
      mkdirSync(dirname(path), { recursive: true });
      rmSync(path, { force: true });
      server.listen(path, () => {
        chmodSync(path, 0o660);
        listening.set(server, statSync(path).ino);
        resolve();
      });
    } else if (host.startsWith('tcp://')) {
      const u = new URL(host.replace(/^tcp:/, 'http:'));
      server.listen(Number(u.port || 2375), u.hostname, () => resolve());
    } else reject(new Error(`unsupported host ${host}: use unix:// or tcp://`));
  });
}

const listening = new WeakMap<Server, number>();

/**
 * Closes a server and removes its unix socket, but only while the path is still its own socket: a
 * berthd started meanwhile on the same path must not lose its socket to the old one's shutdown.
 */
export function closeServer(server: Server, host: string): void {
  server.close();
  if (!host.startsWith('unix://')) return;
  const path = host.slice('unix://'.length);
  try {
    if (statSync(path).ino === listening.get(server)) rmSync(path, { force: true });
  } catch { /* already gone */ }
}
