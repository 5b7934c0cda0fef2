import type { ContainerRecord } from './container';
import { invalidArgument } from '../base/errors';

export type Filters = Record<string, string[]>;

const KNOWN = new Set(['id', 'name', 'label', 'status', 'exited', 'ancestor', 'before', 'since', 'health', 'isolation', 'network', 'publish', 'expose', 'volume', 'is-task']);
const HEALTH = new Set(['starting', 'healthy', 'unhealthy', 'none']);
const STATUSES = new Set(['created', 'restarting', 'running', 'removing', 'paused', 'exited', 'dead']);

/** Docker's label filter: `key` (present) or `key=value`. */
export function matchLabels(labels: Record<string, string> | null | undefined, wanted: string[]): boolean {
  const have = labels ?? {};
  return wanted.every((w) => {
    const i = w.indexOf('=');
    if (i < 0) return w in have;
    return have[w.slice(0, i)] === w.slice(i + 1);
  });
}

export function validateContainerFilters(f: Filters): void {
  for (const k of Object.keys(f)) if (!KNOWN.has(k)) throw invalidArgument(`invalid filter '${k}'`);
  for (const s of f.status ?? []) {
    if (!STATUSES.has(s)) throw invalidArgument(`invalid filter 'status=${s}'`);
  }
  for (const h of f.health ?? []) if (!HEALTH.has(h)) throw invalidArgument(`Unrecognised filter value for health: ${h}`);
  for (const e of f.exited ?? []) if (!/^-?\d+$/.test(e)) throw invalidArgument(`invalid filter 'exited=${e}'`);
}

/**
 * Applies `ps` filters. Values of one key are ORed, keys are ANDed (labels are ANDed, as Docker).
 * `imageMatches(rec, ancestor)` answers the ancestor filter (it needs the image store).
 */
export function filterContainers(
  all: ContainerRecord[],
  f: Filters,
  opts: { all: boolean; limit: number; resolve: (ref: string) => ContainerRecord | undefined; imageMatches: (rec: ContainerRecord, ancestor: string) => boolean },
): ContainerRecord[] {
  validateContainerFilters(f);
  let list = all;
  const beforeRec = f.before?.length ? opts.resolve(f.before[0]) : undefined;
  const sinceRec = f.since?.length ? opts.resolve(f.since[0]) : undefined;
  if (f.before?.length && !beforeRec) throw invalidArgument(`No such container: ${f.before[0]}`);
  if (f.since?.length && !sinceRec) throw invalidArgument(`No such container: ${f.since[0]}`);
  list = list.filter((c) => {
    if (f.id && !f.id.some((v) => c.id.startsWith(v))) return false;
    if (f.name && !f.name.some((v) => new RegExp(v.replace(/^\//, '')).test(c.name))) return false;
    if (f.label && !matchLabels(c.config.Labels, f.label)) return false;
    if (f.status && !f.status.includes(c.state.status)) return false;
    if (f.exited && !(c.state.status === 'exited' && f.exited.some((e) => Number(e) === c.state.exitCode))) return false;
    if (f.health && !f.health.includes(c.state.health && c.config.Healthcheck?.Test?.[0] !== 'NONE' ? c.state.health.status : 'none')) return false;
    if (f.ancestor && !f.ancestor.some((a) => opts.imageMatches(c, a))) return false;
    if (f.network && !f.network.some((v) => networkMatches(c, v))) return false;
    if (f.publish && !f.publish.some((v) => portMatches(Object.keys(c.hostConfig.PortBindings ?? {}), v))) return false;
    if (f.expose && !f.expose.some((v) => portMatches([...Object.keys(c.config.ExposedPorts ?? {}), ...Object.keys(c.hostConfig.PortBindings ?? {})], v))) return false;
    if (f.volume && !f.volume.some((v) => (c.mounts ?? []).some((m) => m.destination === v || m.name === v || m.source === v))) return false;
    if (beforeRec && !(c.created < beforeRec.created)) return false;
    if (sinceRec && !(c.created > sinceRec.created)) return false;
    return true;
  });
  // Without -a only running containers show, unless a filter asks for others by state.
  const showAll = opts.all || !!f.status || !!f.exited || opts.limit > 0 || !!beforeRec || !!sinceRec;
  if (!showAll) list = list.filter((c) => c.state.status === 'running' || c.state.status === 'paused' || c.state.status === 'restarting');
  if (opts.limit > 0) list = list.slice(0, opts.limit);
  return list;
}

/** `network=` matches a network the container is on, by name or (a prefix of) its ID. */
function networkMatches(c: ContainerRecord, v: string): boolean {
  const mode = !c.hostConfig.NetworkMode || c.hostConfig.NetworkMode === 'default' ? 'bridge' : c.hostConfig.NetworkMode;
  if (mode === v) return true;
  return Object.entries(c.networks ?? {}).some(([name, cfg]) => name === v || (!!cfg.NetworkID && cfg.NetworkID.startsWith(v)));
}

/** `publish=`/`expose=` values: `80`, `80/udp`, or a range `8000-8080/tcp`, against `80/tcp` style keys. */
function portMatches(keys: string[], v: string): boolean {
  const m = /^(\d+)(?:-(\d+))?(?:\/(\w+))?$/.exec(v);
  if (!m) throw invalidArgument(`invalid filter value ${JSON.stringify(v)}`);
  const lo = Number(m[1]);
  const hi = m[2] ? Number(m[2]) : lo;
  const proto = m[3] ?? 'tcp';
  return keys.some((k) => {
    const [port, p = 'tcp'] = k.split('/');
    return p === proto && Number(port) >= lo && Number(port) <= hi;
  });
}
