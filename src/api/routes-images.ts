import type { Engine } from '../daemon/engine';
import type { ImageRecord, ImageStore } from '../image/image-store';
import type { ImageRuntimeConfig } from '../oci/image';
import { applyConfigChanges } from '../daemon/config-changes';
import { parseUntil } from '../daemon/engine';
import { invalidArgument, notFound, notImplemented } from '../base/errors';
import { Router, qbool, qfilters, sendJson } from './router';
import { imageInspect, imageSummary } from './shapes';
import { messageOf } from './errors';
import { matchLabels } from '../daemon/container-filters';
import type { RegistryClient } from '../registry/client/registry-client';
import { pullHandler, pushHandler, type RegistryRouteDeps } from './routes-registry';

export interface ImageRouteDeps {
  engine: Engine;
  images: ImageStore;
  /** Pull and push; without it they answer NotImplemented. */
  registry?: RegistryClient;
  /** The content-trust gate for pulls (see RegistryRouteDeps.verifyPull). */
  verifyPull?: RegistryRouteDeps['verifyPull'];
  /** Told how each pull ended (metrics). */
  observePull?: RegistryRouteDeps['observePull'];
}

/** Docker's reference filter: a glob over `name` or `name:tag` (familiar form). */
function referenceMatches(img: ImageRecord, pattern: string): boolean {
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*') + '$');
  return img.repoTags.some((t) => re.test(t) || re.test(t.replace(/:[^:/]+$/, '')));
}

export function imageRoutes(r: Router, d: ImageRouteDeps): void {
  const { images, engine } = d;

  r.add('GET', '/images/json', ({ res, query }) => {
    const f = qfilters(query);
    for (const k of Object.keys(f)) {
      if (!['dangling', 'label', 'reference', 'before', 'since', 'until'].includes(k)) throw invalidArgument(`invalid filter '${k}'`);
    }
    let list = images.list();
    // As dockerd: an untagged image that is the parent of another (a legacy build's intermediate
    // step) is listed only with all=1, and is never "dangling" (only heads are).
    const parents = new Set(list.map((i) => i.parent).filter(Boolean));
    const untagged = (i: ImageRecord) => i.repoTags.length === 0 && i.repoDigests.length === 0;
    let danglingOnly = false;
    if (f.dangling?.length) {
      const want = f.dangling[0];
      if (!['true', 'false', '1', '0'].includes(want)) throw invalidArgument(`invalid filter 'dangling=${want}'`);
      danglingOnly = want === 'true' || want === '1';
      list = list.filter((i) => (i.repoTags.length === 0) === danglingOnly);
    }
    if (danglingOnly) list = list.filter((i) => !parents.has(i.id));
    else if (!qbool(query, 'all')) list = list.filter((i) => !(untagged(i) && parents.has(i.id)));
    if (f.label) list = list.filter((i) => matchLabels(i.config.config?.Labels, f.label));
    if (f.reference) {
      // Docker lists only the tags that matched, so `images -q --filter reference=x` prints x's rows.
      list = list.filter((i) => f.reference.some((p) => referenceMatches(i, p)))
        .map((i) => ({ ...i, repoTags: i.repoTags.filter((t) => f.reference.some((p) => referenceMatches({ ...i, repoTags: [t] }, p))) }));
    }
    if (f.before?.length) {
      const b = images.resolve(f.before[0]);
      list = list.filter((i) => i.created < b.created);
    }
    if (f.since?.length) {
      const s = images.resolve(f.since[0]);
      list = list.filter((i) => i.created > s.created);
    }
    const counts = new Map<string, number>();
    for (const c of engine.containers.list()) counts.set(c.image, (counts.get(c.image) ?? 0) + 1);
    const out = list
      .sort((a, b) => (a.created < b.created ? 1 : -1))
      .map((i) => imageSummary(i, counts.get(i.id) ?? 0));
    sendJson(res, 200, out);
  });

  r.add('GET', '/images/get', async ({ res, query }) => {
    const names = query.getAll('names');
    if (!names.length) throw invalidArgument('no images specified');
    for (const n of names) images.resolve(n);
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await images.save(names, res);
    res.end();
  });

  r.add('POST', '/images/load', async ({ req, res, query }) => {
    const quiet = qbool(query, 'quiet');
    res.writeHead(200, { 'Content-Type': 'application/json' });
    try {
      const loaded = await images.load(req);
      for (const l of loaded) {
        const line = l.ref ? `Loaded image: ${l.ref}\n` : `Loaded image ID: ${l.id}\n`;
        res.write(JSON.stringify({ stream: line }) + '\n');
        engine.events.publish('image', 'load', l.ref ?? l.id, {});
      }
    } catch (e) {
      res.write(JSON.stringify({ errorDetail: { message: messageOf(e) }, error: messageOf(e) }) + '\n');
    }
    void quiet;
    res.end();
  });

  r.add('POST', '/images/create', async ({ req, res, query }) => {
    const fromSrc = query.get('fromSrc');
    const fromImage = query.get('fromImage');
    if (fromImage && d.registry) return pullHandler({ registry: d.registry, images, events: engine.events, verifyPull: d.verifyPull, observePull: d.observePull }, req, res, query);
    if (fromImage) {
      const ref = `${fromImage}${query.get('tag') ? `:${query.get('tag')}` : ''}`;
      throw notImplemented(`cannot pull ${ref}: berth has no registry client yet (use docker load or docker import)`);
    }
    if (fromSrc !== '-') throw invalidArgument('import from a URL is not supported; send the tarball in the request body (fromSrc=-)');
    const repo = query.get('repo') || '';
    const tag = query.get('tag') || '';
    const changes = query.getAll('changes').filter(Boolean);
    const config: ImageRuntimeConfig = applyConfigChanges({}, changes);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    try {
      const img = await images.import({ tar: req, config, message: query.get('message') || undefined, tag: repo ? `${repo}${tag ? `:${tag}` : ''}` : undefined });
      res.write(JSON.stringify({ status: img.id }) + '\n');
      engine.events.publish('image', 'import', img.id, {});
    } catch (e) {
      res.write(JSON.stringify({ errorDetail: { message: messageOf(e) }, error: messageOf(e) }) + '\n');
    }
    res.end();
  });

  r.add('POST', '/images/prune', async ({ res, query }) => {
    const f = qfilters(query);
    const all = f.dangling?.[0] === 'false' || f.dangling?.[0] === '0';
    const out = await images.prune({ all, labelFilters: f.label, until: f.until?.[0] ? parseUntil(f.until[0]) : undefined }, (id) => engine.imageUsage(id));
    sendJson(res, 200, { ImagesDeleted: out.deleted.length ? out.deleted : null, SpaceReclaimed: out.spaceReclaimed });
  });

  r.add('GET', '/images/:name*/json', ({ res, params }) => {
    sendJson(res, 200, imageInspect(resolveImage(images, params.name)));
  });

  r.add('GET', '/images/:name*/history', ({ res, params }) => {
    resolveImage(images, params.name);
    sendJson(res, 200, images.history(params.name));
  });

  r.add('GET', '/images/:name*/get', async ({ res, params }) => {
    resolveImage(images, params.name);
    res.writeHead(200, { 'Content-Type': 'application/x-tar' });
    await images.save([params.name], res);
    res.end();
  });

  r.add('POST', '/images/:name*/tag', ({ res, params, query }) => {
    const repo = query.get('repo');
    if (!repo) throw invalidArgument('repository name must have at least one component');
    const img = resolveImage(images, params.name);
    const ref = `${repo}${query.get('tag') ? `:${query.get('tag')}` : ''}`;
    images.tag(img.id, ref);
    engine.events.publish('image', 'tag', img.id, { name: ref });
    res.writeHead(201);
    res.end();
  });

  r.add('POST', '/images/:name*/push', ({ req, res, params, query }) => {
    if (d.registry) return pushHandler({ registry: d.registry, images, events: engine.events }, req, res, params.name, query);
    throw notImplemented(`cannot push ${params.name}: berth has no registry client yet`);
  });

  r.add('DELETE', '/images/:name*', async ({ res, params, query }) => {
    const out = await engine.removeImage(params.name, { force: qbool(query, 'force'), noPrune: qbool(query, 'noprune') });
    sendJson(res, 200, out);
  });

}

function resolveImage(images: ImageStore, name: string): ImageRecord {
  const img = images.find(name);
  if (!img) throw notFound(`No such image: ${name}`);
  return img;
}
