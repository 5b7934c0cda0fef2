import type { Engine } from '../daemon/engine';
import type { NetworkRecord, EndpointConfig } from '../daemon/networks';
import { invalidArgument } from '../base/errors';
import { Router, jsonBody, qfilters, sendEmpty, sendJson } from './router';

const NETWORK_FILTERS = new Set(['driver', 'id', 'label', 'name', 'scope', 'type', 'dangling']);

/** Docker's Network JSON (list items have no Containers of their own; inspect fills them). */
export function networkShape(n: NetworkRecord, containers: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Name: n.name, Id: n.id, Created: n.created, Scope: 'local', Driver: n.driver, EnableIPv4: true, EnableIPv6: false,
    IPAM: { Driver: 'default', Options: null, Config: n.subnet ? [{ Subnet: n.subnet, Gateway: n.gateway, ...(n.ipRange ? { IPRange: n.ipRange } : {}) }] : [] },
    Internal: n.internal, Attachable: n.attachable, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false,
    Containers: containers, Options: n.options, Labels: n.labels,
  };
}

/** /networks: create, list, inspect, remove, prune, connect, disconnect. */
export function networkRoutes(r: Router, d: { engine: Engine }): void {
  const { engine } = d;
  const networks = engine.networks;

  const attached = (n: NetworkRecord): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const e of networks.endpointsOf(n.id)) {
      const c = engine.containers.get(e.containerId);
      out[e.containerId] = { Name: c?.name ?? '', EndpointID: e.endpointId, MacAddress: e.mac, IPv4Address: `${e.ip}/${n.subnet.split('/')[1]}`, IPv6Address: '' };
    }
    return out;
  };

  r.add('GET', '/networks', ({ res, query }) => {
    const f = qfilters(query);
    for (const k of Object.keys(f)) if (!NETWORK_FILTERS.has(k)) throw invalidArgument(`invalid filter '${k}'`);
    sendJson(res, 200, networks.filter(f).map((n) => networkShape(n, attached(n))));
  });

  r.add('GET', '/networks/:id', ({ res, params }) => {
    const n = networks.get(params.id);
    sendJson(res, 200, networkShape(n, attached(n)));
  });

  r.add('POST', '/networks/create', async ({ req, res }) => {
    const b = await jsonBody<{
      Name?: string; Driver?: string; Internal?: boolean; Attachable?: boolean; EnableIPv6?: boolean; CheckDuplicate?: boolean;
      IPAM?: { Driver?: string; Config?: Array<{ Subnet?: string; Gateway?: string; IPRange?: string }> | null } | null;
      Options?: Record<string, string> | null; Labels?: Record<string, string> | null;
    }>(req);
    if (typeof b.Name !== 'string') throw invalidArgument('network name must be a string');
    const cfg = b.IPAM?.Config ?? [];
    if (cfg.length > 1) throw invalidArgument('berth networks have one IPv4 subnet');
    if (b.EnableIPv6) throw invalidArgument('IPv6 networks are not supported by berth');
    if (b.IPAM?.Driver && b.IPAM.Driver !== 'default') throw invalidArgument(`IPAM driver ${b.IPAM.Driver} is not supported`);
    const out = networks.create({
      name: b.Name, driver: b.Driver, subnet: cfg[0]?.Subnet, gateway: cfg[0]?.Gateway, ipRange: cfg[0]?.IPRange,
      internal: !!b.Internal, attachable: !!b.Attachable, labels: b.Labels ?? {}, options: b.Options ?? {},
    });
    sendJson(res, 201, { Id: out.id, Warning: out.warning });
  });

  r.add('DELETE', '/networks/:id', async ({ res, params }) => {
    await networks.remove(params.id);
    sendEmpty(res, 204);
  });

  r.add('POST', '/networks/prune', async ({ res, query }) => {
    sendJson(res, 200, { NetworksDeleted: await networks.prune(qfilters(query)) });
  });

  r.add('POST', '/networks/:id/connect', async ({ req, res, params }) => {
    const b = await jsonBody<{ Container?: string; EndpointConfig?: EndpointConfig | null }>(req);
    if (!b.Container) throw invalidArgument('container is required');
    await engine.networkConnect(params.id, b.Container, b.EndpointConfig ?? {});
    sendEmpty(res, 200);
  });

  r.add('POST', '/networks/:id/disconnect', async ({ req, res, params }) => {
    const b = await jsonBody<{ Container?: string; Force?: boolean }>(req);
    if (!b.Container) throw invalidArgument('container is required');
    await engine.networkDisconnect(params.id, b.Container);
    sendEmpty(res, 200);
  });
}
