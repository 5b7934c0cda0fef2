import type { Engine } from '../daemon/engine';
import { labelsOf } from '../daemon/volumes';
import type { VolumeInfo } from '../volume/volume-driver';
import { invalidArgument } from '../base/errors';
import { Router, jsonBody, qbool, qfilters, sendEmpty, sendJson } from './router';

/** Docker's Volume JSON (inspect, list and create answers). */
export function volumeShape(v: VolumeInfo, usage?: { size: number; refCount: number }): Record<string, unknown> {
  return {
    CreatedAt: v.createdAt, Driver: v.driver, Labels: labelsOf(v), Mountpoint: v.mountpoint, Name: v.name,
    Options: Object.keys(v.options).length ? v.options : null, Scope: v.scope ?? 'local',
    ...(v.status ? { Status: v.status } : {}),
    ...(usage ? { UsageData: { Size: usage.size, RefCount: usage.refCount } } : {}),
  };
}

/** /volumes: create, list, inspect, remove, prune. */
export function volumeRoutes(r: Router, d: { engine: Engine }): void {
  const volumes = d.engine.volumes;

  r.add('POST', '/volumes/create', async ({ req, res }) => {
    const body = await jsonBody<{ Name?: string; Driver?: string; DriverOpts?: Record<string, string> | null; Labels?: Record<string, string> | null }>(req);
    if (body.Name !== undefined && typeof body.Name !== 'string') throw invalidArgument('invalid volume name');
    const v = await volumes.create(body.Name ?? '', body.Driver || undefined, { labels: body.Labels ?? {}, options: body.DriverOpts ?? {} });
    sendJson(res, 201, volumeShape(v));
  });

  r.add('GET', '/volumes', async ({ res, query }) => {
    const warnings: string[] = [];
    const list = await volumes.filter(qfilters(query), warnings);
    sendJson(res, 200, { Volumes: list.map((v) => volumeShape(v)), Warnings: warnings });
  });

  r.add('POST', '/volumes/prune', async ({ res, query }) => {
    sendJson(res, 200, await volumes.prune(qfilters(query)));
  });

  r.add('GET', '/volumes/:name', async ({ res, params }) => {
    sendJson(res, 200, volumeShape(await volumes.get(params.name)));
  });

  r.add('DELETE', '/volumes/:name', async ({ res, params, query }) => {
    await volumes.remove(params.name, qbool(query, 'force'));
    sendEmpty(res, 204);
  });
}

/** `system df`'s Volumes list, with sizes: local volumes only, as dockerd (LocalVolumesSize). */
export async function volumesDf(engine: Engine): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for (const v of await engine.volumes.list()) {
    if (v.driver !== 'local') continue;
    out.push(volumeShape(v, { size: await engine.volumes.usage(v), refCount: engine.volumes.usedBy(v.name).length }));
  }
  return out;
}
