// `berth network ...`: create, ls, inspect, rm, prune, connect and disconnect, with docker CLI 28's
// grammar and output (cli/command/network).
import { ClientError } from '../../client/client-error';
import type { EndpointSettings, IPAMConfig, NetworkCreateRequest, NetworkInspect } from '../../client/types';
import { StatusError, bool, int, list, str, type Command } from '../cli';
import { DEFAULT_NETWORK_FORMAT, naturalOrder, NETWORK_HEADERS, NetworkContext } from '../format/contexts';
import { goMap, goStruct, GoTime } from '../format/go-values';
import { renderContextRows } from '../format/formatter';
import { FORMAT_HELP, INSPECT_FORMAT_HELP, type FlagSpec, type Parsed } from '../flags';
import { cidrContains, kvMap, parseCIDR, parseIP, validateFilter, validateLabel, validateLink } from '../opts';
import { endpointSettings } from './endpoint-settings';
import { confirm, daemonMessage, filters, inspectEach } from './shared';
import { pruneNetworks } from './prune';

const mapFlag = (long: string, help: string, short?: string): FlagSpec => ({ long, short, type: 'list', meta: 'map', defaultText: 'map[]', help });

/** docker's subnetMatches: does the CIDR `subnet` contain `data` (an address, or a CIDR's address)? */
function subnetMatches(subnet: string, data: string): boolean {
  let net;
  try { net = parseCIDR(subnet); } catch (e) { throw new StatusError(1, `invalid subnet: ${(e as Error).message}`); }
  let ip;
  if (data.includes('/')) {
    try { ip = parseCIDR(data).ip; } catch (e) { throw new StatusError(1, (e as Error).message); }
  } else ip = parseIP(data);
  return ip ? cidrContains(net, ip) : false;
}

/** docker's createIPAMConfig: one pool per --subnet, with the --ip-range, --gateway and --aux-address inside it. */
export function ipamConfig(o: { subnets: string[]; ipRanges: string[]; gateways: string[]; auxAddresses: Record<string, string> }): IPAMConfig[] {
  if (o.subnets.length < o.ipRanges.length || o.subnets.length < o.gateways.length) throw new StatusError(1, 'every ip-range or gateway must have a corresponding subnet');
  const pools = new Map<string, IPAMConfig & { AuxiliaryAddresses: Record<string, string> }>();
  for (const s of o.subnets) {
    for (const k of pools.keys()) {
      if (subnetMatches(s, k) || subnetMatches(k, s)) throw new StatusError(1, 'multiple overlapping subnet configuration is not supported');
    }
    pools.set(s, { Subnet: s, AuxiliaryAddresses: {} });
  }
  for (const r of o.ipRanges) {
    let match = false;
    for (const s of o.subnets) {
      try { parseCIDR(r); } catch (e) { throw new StatusError(1, (e as Error).message); }
      if (!subnetMatches(s, r)) continue;
      const pool = pools.get(s)!;
      if (pool.IPRange) throw new StatusError(1, `cannot configure multiple ranges (${r}, ${pool.IPRange}) on the same subnet (${s})`);
      pool.IPRange = r;
      match = true;
    }
    if (!match) throw new StatusError(1, `no matching subnet for range ${r}`);
  }
  for (const g of o.gateways) {
    let match = false;
    for (const s of o.subnets) {
      if (!subnetMatches(s, g)) continue;
      const pool = pools.get(s)!;
      if (pool.Gateway) throw new StatusError(1, `cannot configure multiple gateways (${g}, ${pool.Gateway}) for the same subnet (${s})`);
      pool.Gateway = g;
      match = true;
    }
    if (!match) throw new StatusError(1, `no matching subnet for gateway ${g}`);
  }
  for (const [key, aa] of Object.entries(o.auxAddresses)) {
    let match = false;
    for (const s of o.subnets) {
      if (!subnetMatches(s, aa)) continue;
      pools.get(s)!.AuxiliaryAddresses[key] = aa;
      match = true;
    }
    if (!match) throw new StatusError(1, `no matching subnet for aux-address ${aa}`);
  }
  // Go's json leaves out the empty fields of IPAMConfig (all omitempty).
  return [...pools.values()].map((p) => {
    const c: IPAMConfig = {};
    if (p.Subnet) c.Subnet = p.Subnet;
    if (p.IPRange) c.IPRange = p.IPRange;
    if (p.Gateway) c.Gateway = p.Gateway;
    if (Object.keys(p.AuxiliaryAddresses).length) c.AuxiliaryAddresses = p.AuxiliaryAddresses;
    return c;
  });
}

/** The NetworkCreate body from `network create` flags, as docker's runCreate builds it. */
export function networkCreateRequest(p: Parsed): NetworkCreateRequest {
  const config = ipamConfig({ subnets: list(p, 'subnet'), ipRanges: list(p, 'ip-range'), gateways: list(p, 'gateway'), auxAddresses: kvMap(list(p, 'aux-address')) });
  // Go's field order of network.CreateRequest; EnableIPv4/EnableIPv6 only when given (*bool, omitempty).
  return {
    Driver: str(p, 'driver'), Scope: str(p, 'scope'),
    ...(p.changed.has('ipv4') ? { EnableIPv4: bool(p, 'ipv4') } : {}),
    ...(p.changed.has('ipv6') ? { EnableIPv6: bool(p, 'ipv6') } : {}),
    IPAM: { Driver: str(p, 'ipam-driver'), Options: kvMap(list(p, 'ipam-opt')), Config: config },
    Internal: bool(p, 'internal'), Attachable: bool(p, 'attachable'), Ingress: bool(p, 'ingress'), ConfigOnly: bool(p, 'config-only'),
    ConfigFrom: str(p, 'config-from') ? { Network: str(p, 'config-from') } : null,
    Options: kvMap(list(p, 'opt')), Labels: kvMap(list(p, 'label')),
    Name: p.args[0],
  };
}

const create: Command = {
  spec: {
    name: 'network create', usage: 'network create [OPTIONS] NETWORK', description: 'Create a network', minArgs: 1, maxArgs: 1,
    flags: [
      { long: 'attachable', type: 'bool', help: 'Enable manual container attachment' },
      mapFlag('aux-address', 'Auxiliary IPv4 or IPv6 addresses used by Network driver'),
      { long: 'config-from', type: 'string', help: 'The network from which to copy the configuration' },
      { long: 'config-only', type: 'bool', help: 'Create a configuration only network' },
      { long: 'driver', short: 'd', type: 'string', def: 'bridge', help: 'Driver to manage the Network' },
      { long: 'gateway', type: 'strings', help: 'IPv4 or IPv6 Gateway for the master subnet' },
      { long: 'ingress', type: 'bool', help: 'Create swarm routing-mesh network' },
      { long: 'internal', type: 'bool', help: 'Restrict external access to the network' },
      { long: 'ip-range', type: 'strings', help: 'Allocate container ip from a sub-range' },
      { long: 'ipam-driver', type: 'string', def: 'default', help: 'IP Address Management Driver' },
      mapFlag('ipam-opt', 'Set IPAM driver specific options'),
      { long: 'ipv4', type: 'bool', def: true, help: 'Enable or disable IPv4 address assignment' },
      { long: 'ipv6', type: 'bool', help: 'Enable or disable IPv6 address assignment' },
      { long: 'label', type: 'list', help: 'Set metadata on a network', validate: validateLabel },
      mapFlag('opt', 'Set driver specific options', 'o'),
      { long: 'scope', type: 'string', help: "Control the network's scope" },
      { long: 'subnet', type: 'strings', help: 'Subnet in CIDR format that represents a network segment' },
    ],
  },
  async run(cli, p) {
    const res = await cli.client.networkCreate(networkCreateRequest(p));
    cli.print(res.Id);
  },
};

/** The rows and format of `network ls`: sorted by name as docker does (natural order). */
export function networkListing(networks: NetworkInspect[], opts: { format: string; quiet: boolean; trunc: boolean }): { rows: NetworkContext[]; format: string } {
  let format = opts.format || 'table';
  if (format === 'table') format = opts.quiet ? '{{.ID}}' : DEFAULT_NETWORK_FORMAT;
  else if (format === 'raw') format = opts.quiet ? 'network_id: {{.ID}}' : 'network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n';
  const sorted = [...networks].sort((a, b) => naturalOrder(a.Name, b.Name));
  return { rows: sorted.map((n) => new NetworkContext(n, opts.trunc)), format };
}

const ls: Command = {
  spec: {
    name: 'network ls', usage: 'network ls [OPTIONS]', description: 'List networks', maxArgs: 0, aliases: ['network ls', 'network list'],
    flags: [
      { long: 'filter', short: 'f', type: 'list', meta: 'filter', help: 'Provide filter values (e.g. "driver=bridge")', validate: validateFilter },
      { long: 'format', type: 'string', help: FORMAT_HELP },
      { long: 'no-trunc', type: 'bool', help: 'Do not truncate the output' },
      { long: 'quiet', short: 'q', type: 'bool', help: 'Only display network IDs' },
    ],
  },
  async run(cli, p) {
    const networks = await cli.client.networkList(filters(p));
    const { rows, format } = networkListing(networks ?? [], { format: str(p, 'format'), quiet: bool(p, 'quiet'), trunc: !bool(p, 'no-trunc') });
    cli.out.write(renderContextRows(format, rows, NETWORK_HEADERS, DEFAULT_NETWORK_FORMAT));
  },
};

/** moby's network.Inspect as the docker CLI decodes it, for templates (`{{.ID}}`, `{{.Created}}`, `{{.IPAM.Config}}`). */
export function networkView(n: NetworkInspect): unknown {
  const ipam = n.IPAM ?? { Driver: '', Options: null, Config: null };
  const containers: Record<string, unknown> = {};
  for (const [id, e] of Object.entries(n.Containers ?? {})) {
    containers[id] = goStruct('network.EndpointResource', {
      Name: e.Name ?? '', EndpointID: e.EndpointID ?? '', MacAddress: e.MacAddress ?? '', IPv4Address: e.IPv4Address ?? '', IPv6Address: e.IPv6Address ?? '',
    });
  }
  return goStruct('network.Inspect', {
    Name: n.Name ?? '',
    ID: n.Id ?? '',
    Created: new GoTime(n.Created ?? ''),
    Scope: n.Scope ?? '',
    Driver: n.Driver ?? '',
    EnableIPv4: !!n.EnableIPv4,
    EnableIPv6: !!n.EnableIPv6,
    IPAM: goStruct('network.IPAM', {
      Driver: ipam.Driver ?? '',
      Options: goMap(ipam.Options, ''),
      Config: (ipam.Config ?? []).map((c) => goStruct('network.IPAMConfig', {
        Subnet: c.Subnet ?? '', IPRange: c.IPRange ?? '', Gateway: c.Gateway ?? '', AuxAddress: goMap(c.AuxiliaryAddresses, ''),
      }, { json: { AuxAddress: 'AuxiliaryAddresses' }, omitempty: ['Subnet', 'IPRange', 'Gateway', 'AuxAddress'] })),
    }),
    Internal: !!n.Internal,
    Attachable: !!n.Attachable,
    Ingress: !!n.Ingress,
    ConfigFrom: goStruct('network.ConfigReference', { Network: n.ConfigFrom?.Network ?? '' }),
    ConfigOnly: !!n.ConfigOnly,
    Containers: goMap(n.Containers ? containers : null),
    Options: goMap(n.Options, ''),
    Labels: goMap(n.Labels, ''),
    Peers: (n.Peers ?? []).map((x) => goStruct('network.PeerInfo', { Name: x.Name ?? '', IP: x.IP ?? '' })),
    Services: goMap(n.Services ?? null),
  }, { json: { ID: 'Id' }, omitempty: ['Peers', 'Services'] });
}

const inspect: Command = {
  spec: {
    name: 'network inspect', usage: 'network inspect [OPTIONS] NETWORK [NETWORK...]', description: 'Display detailed information on one or more networks', minArgs: 1,
    flags: [
      { long: 'format', short: 'f', type: 'string', help: INSPECT_FORMAT_HELP },
      { long: 'verbose', short: 'v', type: 'bool', help: 'Verbose output for diagnostics' },
    ],
  },
  async run(cli, p) {
    // The JSON printed is the engine's own answer (docker's NetworkInspectWithRaw), re-indented.
    await inspectEach(cli, p.args, str(p, 'format'), async (name) => {
      const { network, raw } = await cli.client.networkInspectWithRaw(name, { verbose: bool(p, 'verbose') });
      return { typed: networkView(network), raw };
    });
  },
};

const INGRESS_WARNING = 'WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker engine version. '
  + 'Otherwise, removal may not be effective and functionality of newly create ingress networks will be impaired.';

const rm: Command = {
  spec: {
    name: 'network rm', usage: 'network rm NETWORK [NETWORK...]', description: 'Remove one or more networks', minArgs: 1, aliases: ['network rm', 'network remove'],
    flags: [{ long: 'force', short: 'f', type: 'bool', help: 'Do not error if the network does not exist' }],
  },
  async run(cli, p) {
    let status = 0;
    for (const name of p.args) {
      // The swarm routing-mesh network asks first; any other (or one that cannot be read) goes ahead.
      const nw = await cli.client.networkInspectWithRaw(name).catch(() => undefined);
      if (nw?.network.Ingress && !(await confirm(cli, INGRESS_WARNING))) continue;
      try {
        await cli.client.networkRemove(name);
      } catch (e) {
        if (bool(p, 'force') && e instanceof ClientError && e.isNotFound) continue;
        // docker prints each failure as it happens and ends with "exit status 1".
        cli.printErr(daemonMessage(e));
        status = 1;
        continue;
      }
      cli.print(name);
    }
    if (status) throw new StatusError(status, `exit status ${status}`);
  },
};

const prune: Command = {
  spec: {
    name: 'network prune', usage: 'network prune [OPTIONS]', description: 'Remove all unused networks', maxArgs: 0,
    flags: [
      { long: 'filter', type: 'list', meta: 'filter', help: 'Provide filter values (e.g. "until=<timestamp>")', validate: validateFilter },
      { long: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' },
    ],
  },
  async run(cli, p) {
    if (!bool(p, 'force') && !(await confirm(cli, 'WARNING! This will remove all custom networks not used by at least one container.'))) return 0;
    // docker prints no total here: removing networks frees no space.
    const r = await pruneNetworks(cli, filters(p));
    if (r.output) cli.out.write(`${r.output}\n`);
  },
};

/** docker's convertDriverOpt: "k=v" pairs, trimmed; a pair without "=" or key is an error. */
function driverOpts(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of values) {
    const i = kv.indexOf('=');
    const k = (i >= 0 ? kv.slice(0, i) : kv).trim();
    if (i < 0 || !k) throw new StatusError(1, 'invalid key/value pair format in driver options');
    out[k] = kv.slice(i + 1).trim();
  }
  return out;
}

/** The EndpointConfig of `network connect`, as docker's runConnect fills it. */
export function connectEndpoint(p: Parsed): EndpointSettings {
  return endpointSettings({
    ipam: true, ipv4: str(p, 'ip'), ipv6: str(p, 'ip6'), linkLocalIPs: list(p, 'link-local-ip'),
    links: list(p, 'link').length ? list(p, 'link') : null, aliases: list(p, 'alias'),
    driverOpts: driverOpts(list(p, 'driver-opt')), gwPriority: int(p, 'gw-priority'),
  });
}

const connect: Command = {
  spec: {
    name: 'network connect', usage: 'network connect [OPTIONS] NETWORK CONTAINER', description: 'Connect a container to a network', minArgs: 2, maxArgs: 2,
    flags: [
      { long: 'alias', type: 'strings', help: 'Add network-scoped alias for the container' },
      { long: 'driver-opt', type: 'strings', help: 'driver options for the network' },
      { long: 'gw-priority', type: 'int', help: 'Highest gw-priority provides the default gateway. Accepts positive and negative values.' },
      { long: 'ip', type: 'string', help: 'IPv4 address (e.g., "172.30.100.104")' },
      { long: 'ip6', type: 'string', help: 'IPv6 address (e.g., "2001:db8::33")' },
      { long: 'link', type: 'list', help: 'Add link to another container', validate: validateLink },
      { long: 'link-local-ip', type: 'strings', help: 'Add a link-local address for the container' },
    ],
  },
  async run(cli, p) {
    await cli.client.networkConnect(p.args[0], p.args[1], connectEndpoint(p));
  },
};

const disconnect: Command = {
  spec: {
    name: 'network disconnect', usage: 'network disconnect [OPTIONS] NETWORK CONTAINER', description: 'Disconnect a container from a network', minArgs: 2, maxArgs: 2,
    flags: [{ long: 'force', short: 'f', type: 'bool', help: 'Force the container to disconnect from a network' }],
  },
  async run(cli, p) {
    await cli.client.networkDisconnect(p.args[0], p.args[1], bool(p, 'force'));
  },
};

export const commands: Record<string, Command> = { create, ls, inspect, rm, prune, connect, disconnect };
