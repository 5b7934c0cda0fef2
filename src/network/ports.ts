import { invalidArgument } from '../base/errors';
import { parseIPv4 } from './ipam';

export type Protocol = 'tcp' | 'udp' | 'sctp';

/** One container port to publish, before a host port is chosen. */
export interface PortRequest {
  /** '' for every host address. */
  hostIp: string;
  /** The host ports that may be used, inclusive; undefined for one the kernel picks. */
  hostPorts?: [number, number];
  containerPort: number;
  protocol: Protocol;
}

/** Docker's `HostConfig.PortBindings`. */
export type PortBindings = Record<string, Array<{ HostIp?: string; HostPort?: string }> | null>;

/** `80/tcp` (or `80`) as Docker's port keys are written. */
export function parsePortKey(key: string): { port: number; protocol: Protocol } {
  const m = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(key);
  const port = m ? Number(m[1]) : NaN;
  if (!m || port < 1 || port > 65535) throw invalidArgument(`invalid port specification: "${key}"`);
  return { port, protocol: (m[2]?.toLowerCase() ?? 'tcp') as Protocol };
}

function parseHostPorts(s: string, key: string): [number, number] | undefined {
  if (!s || s === '0') return undefined;
  const m = /^(\d+)(?:-(\d+))?$/.exec(s);
  const a = m ? Number(m[1]) : NaN;
  const b = m?.[2] ? Number(m[2]) : a;
  if (!m || a < 1 || b > 65535 || b < a) throw invalidArgument(`invalid port specification: "${s}" for ${key}`);
  return [a, b];
}

/**
 * What to publish: every binding, plus (with `publishAll`, docker run -P) each exposed port not bound
 * explicitly, on a port the kernel picks. Validates, so create can refuse bad bindings early.
 */
export function portRequests(bindings: PortBindings | null | undefined, exposed: Record<string, unknown> | null | undefined, publishAll: boolean): PortRequest[] {
  const out: PortRequest[] = [];
  const bound = new Set<string>();
  for (const [key, list] of Object.entries(bindings ?? {})) {
    const { port, protocol } = parsePortKey(key);
    bound.add(`${port}/${protocol}`);
    for (const b of list ?? []) {
      const hostIp = b.HostIp === '0.0.0.0' ? '' : (b.HostIp ?? '');
      if (hostIp && parseIPv4(hostIp) === undefined) throw invalidArgument(`invalid IP address: ${hostIp}`);
      out.push({ hostIp, hostPorts: parseHostPorts(b.HostPort ?? '', key), containerPort: port, protocol });
    }
  }
  if (publishAll) {
    for (const key of Object.keys(exposed ?? {})) {
      const { port, protocol } = parsePortKey(key);
      if (!bound.has(`${port}/${protocol}`)) out.push({ hostIp: '', containerPort: port, protocol });
    }
  }
  return out;
}

/** A published port once its host port is chosen. */
export interface PublishedPort {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: Protocol;
}

/** Docker's `NetworkSettings.Ports`: every exposed or published port, null when only exposed. */
export function portMap(published: readonly PublishedPort[], exposed: Record<string, unknown> | null | undefined): Record<string, Array<{ HostIp: string; HostPort: string }> | null> {
  const out: Record<string, Array<{ HostIp: string; HostPort: string }> | null> = {};
  for (const key of Object.keys(exposed ?? {})) {
    const { port, protocol } = parsePortKey(key);
    out[`${port}/${protocol}`] = null;
  }
  for (const p of published) {
    const key = `${p.containerPort}/${p.protocol}`;
    (out[key] ??= []).push({ HostIp: p.hostIp || '0.0.0.0', HostPort: String(p.hostPort) });
  }
  return out;
}

/** `docker ps`'s Ports items. */
export function portSummary(published: readonly PublishedPort[], exposed: Record<string, unknown> | null | undefined): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = published.map((p) => ({ IP: p.hostIp || '0.0.0.0', PrivatePort: p.containerPort, PublicPort: p.hostPort, Type: p.protocol }));
  for (const key of Object.keys(exposed ?? {})) {
    const { port, protocol } = parsePortKey(key);
    if (!published.some((p) => p.containerPort === port && p.protocol === protocol)) out.push({ PrivatePort: port, Type: protocol });
  }
  return out;
}
