import type { Engine } from '../daemon/engine';
import type { DockerResources } from '../daemon/resources';
import { invalidArgument } from '../base/errors';
import { Router, jsonBody, qbool, sendJson } from './router';
import { dockerStats, StatsSample } from './stats-shape';

/** How often streaming stats send a sample (dockerd's collector interval). */
const STATS_INTERVAL_MS = 1000;

/** POST /containers/{id}/update and GET /containers/{id}/stats. */
export function resourceRoutes(r: Router, d: { engine: Engine }): void {
  const { engine } = d;

  r.add('POST', '/containers/:id/update', async ({ req, res, params }) => {
    const body = await jsonBody<DockerResources & { RestartPolicy?: { Name: string; MaximumRetryCount?: number } }>(req);
    if (body === null || typeof body !== 'object' || Array.isArray(body)) throw invalidArgument('invalid update config');
    const out = await engine.update(params.id, body);
    sendJson(res, 200, out);
  });

  r.add('GET', '/containers/:id/stats', async ({ req, res, params, query }) => {
    const c = engine.containers.resolve(params.id);
    const stream = qbool(query, 'stream', true);
    const oneShot = qbool(query, 'one-shot');
    const who = { id: c.id, name: c.name };
    const sample = async (): Promise<StatsSample | undefined> => {
      const s = await engine.statsSample(c.id).catch(() => undefined);
      return s ? { ...s, read: new Date() } : undefined;
    };
    const closed = new Promise<void>((resolve) => { res.on('close', resolve); req.on('aborted', resolve); });
    let gone = false;
    void closed.then(() => { gone = true; });
    const sleep = () => new Promise<void>((resolve) => {
      const t = setTimeout(resolve, STATS_INTERVAL_MS);
      void closed.then(() => { clearTimeout(t); resolve(); });
    });
    res.writeHead(200, { 'Content-Type': 'application/json' });
    let prev: StatsSample | undefined;
    let cur = await sample();
    if (!stream) {
      // Without one-shot, dockerd waits for a second sample so precpu_stats is filled (CPU % needs two).
      if (!oneShot && cur) { await sleep(); prev = cur; cur = await sample(); }
      res.end(`${JSON.stringify(dockerStats(cur, prev, who))}\n`);
      return;
    }
    res.flushHeaders();
    for (;;) {
      if (gone) return;
      res.write(`${JSON.stringify(dockerStats(cur, prev, who))}\n`);
      // A container that is not running gets one zeroed sample, as dockerd sends.
      if (!cur) { res.end(); return; }
      await sleep();
      if (gone) return;
      prev = cur;
      cur = await sample();
    }
  });
}
