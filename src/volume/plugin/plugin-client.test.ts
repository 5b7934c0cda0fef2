import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isKind } from '../../base/errors';
import { PLUGIN_MEDIA_TYPE, PluginCallError, PluginClient } from './plugin-client';

type Seen = { url: string; contentType: string; accept: string; body: string };

function serve(handler: (req: IncomingMessage, body: string, res: ServerResponse) => void): { server: Server; seen: Seen[] } {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => {
      seen.push({ url: req.url ?? '', contentType: String(req.headers['content-type']), accept: String(req.headers.accept), body });
      handler(req, body, res);
    });
  });
  return { server, seen };
}

const listen = (s: Server, where: string | number) => new Promise<void>((resolve) => s.listen(where as string, resolve));
const close = (s: Server) => new Promise((resolve) => { s.close(resolve); s.closeAllConnections(); });

describe('PluginClient', () => {
  test('POSTs JSON with Docker\'s plugin media type over a unix socket; an empty body for no arguments', async () => {
    const dir = mkdtempSync('/tmp/berth-pclient-');
    const { server, seen } = serve((_req, _body, res) => { res.writeHead(200); res.end('{"Implements":["VolumeDriver"]}'); });
    await listen(server, join(dir, 'p.sock'));
    try {
      const c = new PluginClient(`unix://${join(dir, 'p.sock')}`);
      assert.deepEqual(await c.call('Plugin.Activate', undefined), { Implements: ['VolumeDriver'] });
      await c.call('VolumeDriver.Create', { Name: 'v', Opts: {} });
      assert.deepEqual(seen.map((s) => [s.url, s.body]), [['/Plugin.Activate', ''], ['/VolumeDriver.Create', '{"Name":"v","Opts":{}}']]);
      assert.equal(seen[0].contentType, PLUGIN_MEDIA_TYPE);
      assert.equal(seen[0].accept, PLUGIN_MEDIA_TYPE);
    } finally {
      await close(server);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('a non-200 answer is an error with the method and the plugin\'s Err, or its body', async () => {
    const { server } = serve((req, _body, res) => {
      res.writeHead(req.url === '/A' ? 500 : 404);
      res.end(req.url === '/A' ? '{"Err":"disk full"}' : '404 page not found\n');
    });
    await listen(server, 0);
    try {
      const port = (server.address() as { port: number }).port;
      const c = new PluginClient(`tcp://127.0.0.1:${port}`);
      await assert.rejects(c.call('A', {}), (e) => e instanceof PluginCallError && e.message === 'A: disk full' && e.status === 500);
      await assert.rejects(c.call('B', {}), (e) => e instanceof PluginCallError && e.message === 'B: 404 page not found');
    } finally {
      await close(server);
    }
  });

  test('nobody listening is Unavailable at once; with retry, a plugin that comes up in time is reached', async () => {
    const dir = mkdtempSync('/tmp/berth-pclient-');
    const sock = join(dir, 'late.sock');
    const { server } = serve((_req, _body, res) => { res.writeHead(200); res.end('{}'); });
    try {
      const c = new PluginClient(`unix://${sock}`, { retryWindowMs: 5000 });
      await assert.rejects(c.call('X', {}), (e) => isKind(e, 'Unavailable'));
      setTimeout(() => void listen(server, sock), 300);
      assert.deepEqual(await c.call('X', {}, { retry: true }), {});
      const quick = new PluginClient(`unix://${join(dir, 'never.sock')}`, { retryWindowMs: 500 });
      await assert.rejects(quick.call('X', {}, { retry: true }), (e) => isKind(e, 'Unavailable'));
    } finally {
      await close(server);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
