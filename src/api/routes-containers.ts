import type { Engine, CreateRequest } from '../daemon/engine';
import type { ImageRuntimeConfig } from '../oci/image';
import { invalidArgument } from '../base/errors';
import { Router, jsonBody, qbool, qfilters, qint, sendEmpty, sendJson } from './router';
import { checkContainerConfig, checkExecConfig } from './request-shapes';
import { containerInspect, containerSummary } from './shapes';
import { hijack, parseDetachKeys, pipeAttach } from './hijack';
import { frame } from './stdcopy';
import type { Snapshotter } from '../snapshot/snapshotter';
import type { ContentTrust } from '../daemon/content-trust';
import { trustRequest } from './routes-trust';

export interface ContainerRouteDeps {
  engine: Engine;
  snapshotter: Snapshotter;
  /** Content trust: may refuse (or count as absent) the image of a create. */
  trust?: ContentTrust;
}

/** Docker's `since`/`until` for logs: Unix seconds with optional fraction, or RFC3339. */
function parseTime(v: string | null): Date | undefined {
  if (!v || v === '0') return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return new Date(Number(v) * 1000);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidArgument(`invalid time value: ${v}`);
  return new Date(t);
}

export function containerRoutes(r: Router, d: ContainerRouteDeps): void {
  const { engine } = d;

  r.add('GET', '/containers/json', async ({ res, query }) => {
    const list = engine.list({ all: qbool(query, 'all'), limit: qint(query, 'limit') ?? (qbool(query, 'latest') ? 1 : 0), filters: qfilters(query) });
    const withSize = qbool(query, 'size');
    const out = [];
    for (const c of list) {
      const size = withSize ? await engine.sizesOf(c) : undefined;
      out.push(containerSummary(c, engine.networks.viewOf(c), size));
    }
    sendJson(res, 200, out);
  });

  r.add('POST', '/containers/create', async ({ req, res, query }) => {
    const body = await jsonBody<CreateRequest>(req);
    checkContainerConfig(body);
    if (d.trust && body.Image) d.trust.checkCreate(body.Image, trustRequest(req));
    const created = await engine.create(body, query.get('name') ?? undefined);
    sendJson(res, 201, created);
  });

  r.add('GET', '/containers/:id/json', async ({ res, params, query }) => {
    const c = engine.containers.resolve(params.id);
    // Docker shows the file of json-file only: the local driver's files are not an API (moby's StartLogger).
    const logPath = c.hostConfig.LogConfig?.Type === 'local' ? '' : engine.logPathOf(c) ?? '';
    const out = containerInspect(c, { logPath, rootfs: engine.rootfsOf(c.id), upperDir: d.snapshotter.upperDir(c.id) }, engine.networks.viewOf(c));
    if (qbool(query, 'size')) {
      const size = await engine.sizesOf(c);
      out.SizeRw = size.rw;
      out.SizeRootFs = size.rootFs;
    }
    sendJson(res, 200, out);
  });

  r.add('POST', '/containers/:id/start', async ({ res, params }) => {
    const started = await engine.start(params.id);
    sendEmpty(res, started ? 204 : 304);
  });

  r.add('POST', '/containers/:id/stop', async ({ res, params, query }) => {
    const stopped = await engine.stop(params.id, { timeout: qint(query, 't') ?? qint(query, 'timeout'), signal: query.get('signal') ?? undefined });
    sendEmpty(res, stopped ? 204 : 304);
  });

  r.add('POST', '/containers/:id/restart', async ({ res, params, query }) => {
    await engine.restart(params.id, { timeout: qint(query, 't') ?? qint(query, 'timeout'), signal: query.get('signal') ?? undefined });
    sendEmpty(res, 204);
  });

  r.add('POST', '/containers/:id/kill', async ({ res, params, query }) => {
    await engine.kill(params.id, query.get('signal') || 'SIGKILL');
    sendEmpty(res, 204);
  });

  r.add('POST', '/containers/:id/pause', async ({ res, params }) => {
    await engine.pause(params.id);
    sendEmpty(res, 204);
  });

  r.add('POST', '/containers/:id/unpause', async ({ res, params }) => {
    await engine.unpause(params.id);
    sendEmpty(res, 204);
  });

  r.add('POST', '/containers/:id/rename', ({ res, params, query }) => {
    const name = query.get('name');
    if (!name) throw invalidArgument('name cannot be empty');
    engine.rename(params.id, name);
    sendEmpty(res, 204);
  });

  r.add('DELETE', '/containers/:id', async ({ res, params, query }) => {
    if (qbool(query, 'link')) throw invalidArgument('links are not supported');
    await engine.remove(params.id, { force: qbool(query, 'force'), volumes: qbool(query, 'v') });
    sendEmpty(res, 204);
  });

  r.add('POST', '/containers/prune', async ({ res, query }) => {
    sendJson(res, 200, await engine.prune(qfilters(query)));
  });

  r.add('POST', '/containers/:id/wait', async ({ req, res, params, query }) => {
    const condition = (query.get('condition') || 'not-running') as 'not-running' | 'next-exit' | 'removed';
    if (!['not-running', 'next-exit', 'removed'].includes(condition)) throw invalidArgument(`invalid condition: "${condition}"`);
    engine.containers.resolve(params.id);
    const abort = new AbortController();
    const p = engine.wait(params.id, condition, abort.signal);
    // The docker CLI starts the container only after wait's headers arrive: send them now.
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    req.socket.on('close', () => abort.abort());
    try {
      const result = await p;
      res.end(JSON.stringify(result) + '\n');
    } catch {
      res.destroy();
    }
  });

  r.add('POST', '/containers/:id/attach', async (ctx) => {
    const { params, query } = ctx;
    const c = engine.containers.resolve(params.id);
    const detachKeys = parseDetachKeysOrThrow(query.get('detachKeys'));
    // Before the upgrade: a driver that cannot be read fails the request (Docker's 501).
    const history = qbool(query, 'logs') ? engine.logs(c.id, { follow: false }).entries : undefined;
    const { conn } = await engine.attach(c.id);
    const client = hijack(ctx);
    const tty = !!c.config.Tty;
    if (history) {
      for await (const e of history) client.socket.write(tty ? e.data : frame(e.stream, e.data));
    }
    if (!qbool(query, 'stream', true)) {
      client.socket.end();
      return;
    }
    pipeAttach(client, conn, {
      tty, stdin: qbool(query, 'stdin'), stdout: qbool(query, 'stdout'), stderr: qbool(query, 'stderr'), detachKeys,
    });
  });

  r.add('POST', '/containers/:id/resize', ({ res, params, query }) => {
    engine.resize(params.id, qint(query, 'h') ?? 0, qint(query, 'w') ?? 0);
    sendEmpty(res, 200);
  });

  r.add('GET', '/containers/:id/logs', async ({ req, res, params, query }) => {
    const stdout = qbool(query, 'stdout');
    const stderr = qbool(query, 'stderr');
    if (!stdout && !stderr) throw invalidArgument('You must choose at least one stream');
    const tailRaw = query.get('tail');
    const tail = !tailRaw || tailRaw === 'all' ? undefined : Number(tailRaw);
    if (tail !== undefined && (!Number.isInteger(tail) || tail < 0)) throw invalidArgument(`invalid tail value: ${tailRaw}`);
    const abort = new AbortController();
    req.socket.on('close', () => abort.abort());
    const { container, entries } = engine.logs(params.id, {
      follow: qbool(query, 'follow'), since: parseTime(query.get('since')), until: parseTime(query.get('until')), tail, signal: abort.signal,
    });
    const tty = !!container.config.Tty;
    const timestamps = qbool(query, 'timestamps');
    res.writeHead(200, { 'Content-Type': tty ? 'application/vnd.docker.raw-stream' : 'application/vnd.docker.multiplexed-stream' });
    res.flushHeaders();
    try {
      for await (const e of entries) {
        if ((e.stream === 'stdout' && !stdout) || (e.stream === 'stderr' && !stderr)) continue;
        const data = timestamps ? Buffer.concat([Buffer.from(rfc3339Nano(e.time) + ' '), e.data]) : e.data;
        if (!res.write(tty ? data : frame(e.stream, data))) await new Promise((r2) => res.once('drain', r2));
      }
    } catch (e) {
      if (!abort.signal.aborted) throw e;
    }
    res.end();
  });

  r.add('GET', '/containers/:id/top', async ({ res, params, query }) => {
    sendJson(res, 200, await engine.top(params.id, query.get('ps_args') ?? ''));
  });

  r.add('GET', '/containers/:id/changes', async ({ res, params }) => {
    const changes = await engine.changes(params.id);
    sendJson(res, 200, changes.length ? changes : null);
  });

  r.add('GET', '/containers/:id/export', async ({ res, params }) => {
    const tar = await engine.export(params.id);
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    tar.pipe(res);
  });

  r.add('GET', '/containers/:id/archive', async ({ req, res, params, query }) => {
    if (req.method === 'HEAD') {
      const stat = await engine.archiveStat(params.id, requirePath(query));
      res.writeHead(200, { 'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(stat)).toString('base64') });
      res.end();
      return;
    }
    const { stat, tar } = await engine.archiveGet(params.id, requirePath(query));
    res.writeHead(200, { 'X-Docker-Container-Path-Stat': Buffer.from(JSON.stringify(stat)).toString('base64'), 'Content-Type': 'application/x-tar' });
    tar.on('error', () => res.destroy());
    tar.pipe(res);
  });

  r.add('PUT', '/containers/:id/archive', async ({ req, res, params, query }) => {
    await engine.archivePut(params.id, requirePath(query), req, {
      noOverwriteDirNonDir: qbool(query, 'noOverwriteDirNonDir'),
    });
    sendEmpty(res, 200);
  });

  r.add('POST', '/commit', async ({ req, res, query }) => {
    const container = query.get('container');
    if (!container) throw invalidArgument('container is required');
    const config = await jsonBody<ImageRuntimeConfig>(req);
    checkContainerConfig(config);
    const img = await engine.commit(container, {
      repo: query.get('repo') || undefined, tag: query.get('tag') || undefined, comment: query.get('comment') || undefined,
      author: query.get('author') || undefined, changes: query.getAll('changes').filter(Boolean), pause: qbool(query, 'pause', true),
      config: Object.keys(config).length ? config : undefined,
    });
    sendJson(res, 201, { Id: img.id });
  });

  // ---- exec ---------------------------------------------------------------------------------------

  r.add('POST', '/containers/:id/exec', async ({ req, res, params }) => {
    const body = await jsonBody<Parameters<Engine['execCreate']>[1]>(req);
    checkExecConfig(body);
    if (body.DetachKeys) parseDetachKeysOrThrow(body.DetachKeys);
    sendJson(res, 201, { Id: engine.execCreate(params.id, body) });
  });

  r.add('POST', '/exec/:id/start', async (ctx) => {
    const body = await jsonBody<{ Detach?: boolean; Tty?: boolean }>(ctx.req);
    const e = engine.execGet(ctx.params.id);
    if (body.Detach) {
      await engine.execStart(e.id, { detach: true });
      sendEmpty(ctx.res, 200);
      return;
    }
    let started;
    try {
      started = await engine.execStart(e.id, { detach: false });
    } catch (err) {
      // A process that failed to start (exit code recorded) is reported inside the stream, as dockerd
      // does: the CLI prints the message and exits with the exec's 126/127. Other errors stay HTTP errors.
      if (engine.execGet(e.id).exitCode === null) throw err;
      const failed = hijack(ctx);
      const msg = Buffer.from(`${(err as Error).message}\r\n`);
      failed.socket.end(e.tty ? msg : frame('stdout', msg));
      return;
    }
    const client = hijack(ctx);
    const session = started.session!;
    pipeAttach(client, Promise.resolve(session.attach!), {
      tty: e.tty, stdin: e.attachStdin, stdout: e.attachStdout, stderr: e.attachStderr, detachKeys: parseDetachKeys(e.detachKeys),
      // The CLI asks for the exit code as soon as the stream ends: have it by then.
      beforeClose: () => session.exit.then(() => undefined),
    });
  });

  r.add('POST', '/exec/:id/resize', ({ res, params, query }) => {
    engine.execResize(params.id, qint(query, 'h') ?? 0, qint(query, 'w') ?? 0);
    sendEmpty(res, 200);
  });

  r.add('GET', '/exec/:id/json', ({ res, params }) => {
    const e = engine.execGet(params.id);
    sendJson(res, 200, {
      ID: e.id, Running: e.running, ExitCode: e.exitCode, OpenStdin: e.attachStdin, OpenStdout: e.attachStdout, OpenStderr: e.attachStderr,
      CanRemove: false, ContainerID: e.containerId, DetachKeys: '', Pid: e.pid,
      ProcessConfig: { tty: e.tty, entrypoint: e.args[0], arguments: e.args.slice(1), privileged: e.privileged, user: e.user },
    });
  });

}

function requirePath(q: URLSearchParams): string {
  const p = q.get('path');
  if (!p) throw invalidArgument('path is required');
  return p;
}

function parseDetachKeysOrThrow(spec: string | null): Buffer {
  try {
    return parseDetachKeys(spec);
  } catch (e) {
    throw invalidArgument(`Invalid detach keys (${spec}) provided: ${(e as Error).message}`);
  }
}

/**
 * dockerd's log timestamps: jsonmessage.RFC3339NanoFixed, always nine fraction digits (so columns
 * line up), here from the millisecond clock.
 */
function rfc3339Nano(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, (_, ms: string) => `.${ms}000000Z`);
}
