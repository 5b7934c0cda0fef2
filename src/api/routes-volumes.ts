import type { Engine } from '../daemon/engine';
import { labelsOf } from '../daemon/volumes';
import type { VolumeInfo } from '../volume/volume-driver';
import { invalidArgument } from '../base/errors';
import { Router, jsonBody, qbool, qfilters, sendEmpty, sendJson } from './router';

/** Docker's Volume JSON (inspect, list and create answers). */
export function volumeShape(v: VolumeInfo, usage?: { size: number; refCount: number }): Record<string, unknown> {
  return {
    CreatedAt: v.createdAt, Driver: v.driver, Labels: labelsOf(v), Mountpoint: v.mountpoint, Name: v.name,
    Options: Object.keys(v.options).length ? v.options : null, Scope: 'local',
    ...(usage ? { UsageData: { Size: usage.size, RefCount: usage.refCount } } : {}),
  };
}

/** /volumes: create, list, inspect, remove, prune. */
export function volumeRoutes(r: Router, d: { engine: Engine }): void {
  const volumes = d.engine.volumes;

  r.add('POST', '/volumes/create', async ({ req, res }) => {
    const body = await jsonBody<{ Name?: string; Driver?: string; DriverOpts?: Record<string, string> | null; Labels?: Record<string, string> | null }>(req);
    if (body.Name !== undefined && typeof body.Name !== 'string') throw invalidArgument('invalid volume name');
    const v = volumes.create(body.Name ?? '', body.Driver || undefined, { labels: body.Labels ?? {}, options: body.DriverOpts ?? {} });
    sendJson(res, 201, volumeShape(v));
  });

  r.add('GET', '/volumes', ({ res, query }) => {
    sendJson(res, 200, { Volumes: volumes.filter(qfilters(query)).map((v) => volumeShape(v)), Warnings: [] });
  });

  r.add('POST', '/volumes/prune', ({ res, query }) => {
    sendJson(res, 200, volumes.prune(qfilters(query)));
  });

  r.add('GET', '/volumes/:name', ({ res, params }) => {
    sendJson(res, 200, volumeShape(volumes.get(params.name)));
  });

  r.add('DELETE', '/volumes/:name', ({ res, params, query }) => {
    volumes.remove(params.name, qbool(query, 'force'));
    sendEmpty(res, 204);
  });
}

/** `system df`'s Volumes list, with sizes. */
export function volumesDf(engine: Engine): Array<Record<string, unknown>> {
  return engine.volumes.list().map((v) => volumeShape(v, { size: engine.volumes.usage(v), refCount: engine.volumes.usedBy(v.name).length }));
}
