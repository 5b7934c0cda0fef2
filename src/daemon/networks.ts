import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { conflict, invalidArgument, notFound, permissionDenied } from '../base/errors';
import { newId, shortId } from '../base/ids';
import type { Db } from '../sys/database';
import { createNetns, hostRoutes, removeNetns } from '../sys/netns';
import { withFileLock } from '../sys/file-lock';
import { reservePort, type PortReservation } from '../sys/port-reservation';
import { AddressPool, formatCidr, lastFreeAddress, macForAddress, overlaps, nextFreeAddress, parseCidr, pickSubnet, planSubnet, staticAddressError, SubnetPlan } from '../network/ipam';
import type { Attachment, Endpoint, NetworkDriver, NetworkSpec, PortMapping } from '../network/network-driver';
import type { ActiveBridge, Firewall } from '../network/firewall';
import { portRequests, PublishedPort, PortBindings } from '../network/ports';
import type { ContainerRecord, EndpointConfig, HostOptions } from './container';
export type { EndpointConfig } from './container';
import type { EventBus } from './events';
import type { Filters } from './container-filters';

/** A network as berth keeps it. */
export interface NetworkRecord {
  id: string;
  name: string;
  /** bridge, or host / null for the two predefined non-bridge networks. */
  driver: string;
  created: string;
  /** Empty for host and none. */
  subnet: string;
  gateway: string;
  ipRange?: string;
  bridge: string;
  internal: boolean;
  attachable: boolean;
  /** Containers resolve each other by name (user-defined networks; not the default bridge, as in Docker). */
  dns: boolean;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** bridge, host and none: made by berthd, never removed. */
  predefined: boolean;
}

/** A container's live endpoint on a network (while it runs). */
export interface EndpointRecord {
  networkId: string;
  containerId: string;
  endpointId: string;
  ip: string;
  mac: string;
  iface: string;
  aliases: string[];
}

/** A container's networks for inspect: what it asked for and, while it runs, what it got. */
export interface ContainerNetworkView {
  networks: Array<{ name: string; network?: NetworkRecord; config: EndpointConfig; endpoint?: EndpointRecord }>;
  ports: PublishedPort[];
  netns?: string;
}

/** Where a started container's network lives, handed to the spec and the /etc files. */
export interface Sandbox {
  netns: string;
  /** Addresses and DNS of the container's endpoints, primary first. */
  endpoints: Array<{ network: NetworkRecord; ip: string }>;
  /** Resolves once the namespace is wired; the process must not start before. */
  ready: Promise<void>;
}

export interface NetworksOptions {
  db: Db;
  driver: NetworkDriver;
  firewall: Firewall;
  /** Where the namespace files live (a tmpfs: they mean nothing after a reboot). */
  netnsDir: string;
  pools: AddressPool[];
  /** The default bridge's interface and, if given, its address (dockerd's --bip). */
  defaultBridge: { name: string; bip?: string };
  /** A lock file shared by every netavark user on the host, held around each netavark run. */
  hostLock?: string;
  /** How long a network's bridge stays up after its last container goes (default 30 s; 0: not at all). */
  networkIdleMs?: number;
  /** How long the firewall stays after the last endpoint goes (default 2 s). */
  firewallIdleMs?: number;
  events: EventBus;
  containers: () => ContainerRecord[];
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
}

const BRIDGE_NAME_OPT = 'com.docker.network.bridge.name';
const MTU_OPT = 'com.docker.network.driver.mtu';
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** A container's network mode as Docker names it: `default` is the bridge. */
export function networkModeOf(h: HostOptions): string {
  const m = h.NetworkMode;
  return !m || m === 'default' ? 'bridge' : m;
}

function isSpecialMode(mode: string): boolean {
  return mode === 'host' || mode === 'none' || mode.startsWith('container:');
}

/**
 * Networks and container endpoints: berth's IPAM (addresses persisted, handed out once, freed when
 * a container stops), the namespace and published ports of each running container, and the driver
 * (netavark) that wires them. Records live in SQLite; a berthd restart finds every running
 * container's addresses and ports as they were.
 */
export class Networks {
  private readonly db: Db;
  /** Host ports held for running containers, by container ID. */
  private readonly reservations = new Map<string, PortReservation[]>();
  private cache?: NetworkRecord[];
  private serial: Promise<unknown> = Promise.resolve();
  private cleanupTimer?: NodeJS.Timeout;
  /** Pending removals of keepers whose network lost its last container, by network ID. */
  private readonly idleTimers = new Map<string, NodeJS.Timeout>();
  private readonly startingKeepers = new Set<string>();
  /** Keeper teardowns under way (shutdown waits for them). */
  private readonly dropping = new Set<Promise<unknown>>();
  private closing = false;

  constructor(private readonly o: NetworksOptions) {
    this.db = o.db;
    migrate(o.db);
    mkdirSync(o.netnsDir, { recursive: true });
    this.ensurePredefined();
  }

  // ---- networks -------------------------------------------------------------------------------

  /** All networks, oldest first (kept in memory: ps and inspect read them for every container). */
  list(): NetworkRecord[] {
    this.cache ??= (this.db.prepare('SELECT data FROM networks ORDER BY created, rowid').all() as Array<{ data: string }>).map((r) => JSON.parse(r.data) as NetworkRecord);
    return this.cache;
  }

  /** By full ID, name, or unique ID prefix (Docker's order). */
  find(ref: string): NetworkRecord | undefined {
    const all = this.list();
    const exact = all.find((n) => n.id === ref) ?? all.find((n) => n.name === ref);
    if (exact) return exact;
    const byPrefix = ref.length ? all.filter((n) => n.id.startsWith(ref)) : [];
    if (byPrefix.length > 1) throw invalidArgument(`network ${ref} is ambiguous (${byPrefix.length} matches found based on ID prefix)`);
    return byPrefix[0];
  }

  get(ref: string): NetworkRecord {
    const n = this.find(ref);
    if (!n) throw notFound(`network ${ref} not found`);
    return n;
  }

  create(req: { name: string; driver?: string; subnet?: string; gateway?: string; ipRange?: string; internal?: boolean; attachable?: boolean; labels?: Record<string, string>; options?: Record<string, string>; checkDuplicate?: boolean }): { id: string; warning: string } {
    const name = req.name;
    if (!name) throw invalidArgument('network name must not be empty');
    if (!NAME_RE.test(name)) throw invalidArgument(`invalid network name "${name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    const driver = req.driver || 'bridge';
    if (['host', 'none', 'null'].includes(driver) || ['host', 'none', 'bridge'].includes(name) && this.find(name)?.predefined) {
      throw permissionDenied(`${['host', 'none', 'bridge'].includes(name) ? name : driver} is a pre-defined network and cannot be created`);
    }
    if (driver !== 'bridge') throw notFound(`could not find plugin ${driver} in v1 plugin registry: plugin not found`);
    if (this.list().some((n) => n.name === name)) throw conflict(`network with name ${name} already exists`);
    const options = req.options ?? {};
    const id = newId();
    const bridge = options[BRIDGE_NAME_OPT] || `br-${id.slice(0, 12)}`;
    if (bridge.length > 15 || !/^[a-zA-Z0-9_.-]+$/.test(bridge)) throw invalidArgument(`invalid bridge name ${JSON.stringify(bridge)}`);
    if (this.list().some((n) => n.bridge === bridge)) throw conflict(`bridge name ${bridge} is used by another network`);
    if (options[MTU_OPT] && !/^\d+$/.test(options[MTU_OPT])) throw invalidArgument(`invalid mtu ${options[MTU_OPT]}`);
    const plan = req.subnet ? planSubnet(req.subnet, req.gateway, req.ipRange) : this.autoSubnet(req.gateway, req.ipRange);
    const clash = this.list().find((n) => n.subnet && overlaps(parseCidr(n.subnet)!, parseCidr(plan.subnet)!));
    if (clash) throw invalidArgument(`invalid pool request: Pool overlaps with other one on this address space`);
    const rec: NetworkRecord = {
      id, name, driver: 'bridge', created: new Date().toISOString(), subnet: plan.subnet, gateway: plan.gateway,
      ...(plan.ipRange ? { ipRange: plan.ipRange } : {}),
      bridge, internal: !!req.internal, attachable: !!req.attachable, dns: true, labels: req.labels ?? {}, options, predefined: false,
    };
    this.insert(rec);
    this.o.events.publish('network', 'create', id, { name, type: 'bridge' });
    return { id, warning: '' };
  }

  private autoSubnet(gateway?: string, ipRange?: string): SubnetPlan {
    if (gateway || ipRange) throw invalidArgument('a gateway or ip-range needs a subnet (--subnet)');
    const subnet = pickSubnet(this.o.pools, [...this.list().map((n) => n.subnet).filter(Boolean), ...hostRoutes()]);
    if (!subnet) throw invalidArgument('could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network');
    return planSubnet(subnet);
  }

  private insert(n: NetworkRecord): void {
    this.db.prepare('INSERT INTO networks (id, name, created, data) VALUES (?, ?, ?, ?)').run(n.id, n.name, n.created, JSON.stringify(n));
    this.cache = undefined;
  }

  async remove(ref: string): Promise<void> {
    const n = this.get(ref);
    if (n.predefined) throw permissionDenied(`${n.name} is a pre-defined network and cannot be removed`);
    if (this.endpointsOf(n.id).length) throw permissionDenied(`error while removing network: network ${n.name} id ${n.id} has active endpoints`);
    await this.dropKeeper(n.id);
    this.db.prepare('DELETE FROM networks WHERE id = ?').run(n.id);
    this.cache = undefined;
    this.o.events.publish('network', 'destroy', n.id, { name: n.name, type: n.driver });
  }

  /** Removes user networks no running container uses; returns their names. */
  async prune(filters: Filters): Promise<string[]> {
    const out: string[] = [];
    for (const n of this.list()) {
      if (n.predefined || this.endpointsOf(n.id).length || !matchesPruneFilters(n, filters)) continue;
      await this.remove(n.id);
      out.push(n.name);
    }
    return out;
  }

  filter(filters: Filters): NetworkRecord[] {
    return this.list().filter((n) => matchesFilters(n, filters, (id) => this.endpointsOf(id).length > 0));
  }

  /** The containers' endpoints on a network (not its keeper's). */
  endpointsOf(networkId: string): EndpointRecord[] {
    return (this.db.prepare('SELECT data FROM endpoints WHERE network_id = ?').all(networkId) as Array<{ data: string }>)
      .map((r) => JSON.parse(r.data) as EndpointRecord).filter((e) => !isKeeper(e.containerId));
  }

  containerEndpoints(containerId: string): EndpointRecord[] {
    return (this.db.prepare('SELECT data FROM endpoints WHERE container_id = ? ORDER BY iface').all(containerId) as Array<{ data: string }>).map((r) => JSON.parse(r.data) as EndpointRecord);
  }

  /** The published ports of a running container. */
  publishedPorts(containerId: string): PublishedPort[] {
    const row = this.db.prepare('SELECT ports FROM sandboxes WHERE container_id = ?').get(containerId) as { ports: string } | undefined;
    return row ? JSON.parse(row.ports) as PublishedPort[] : [];
  }

  netnsOf(containerId: string): string | undefined {
    const row = this.db.prepare('SELECT netns FROM sandboxes WHERE container_id = ?').get(containerId) as { netns: string } | undefined;
    return row?.netns;
  }

  /** What inspect and ps show of a container's networking. */
  viewOf(c: ContainerRecord): ContainerNetworkView {
    const live = this.containerEndpoints(c.id);
    const networks: ContainerNetworkView['networks'] = [];
    for (const [name, config] of Object.entries(this.configuredNetworks(c))) {
      const network = this.find(config.NetworkID ?? '') ?? this.find(name);
      networks.push({ name, network, config, endpoint: network && live.find((e) => e.networkId === network.id) });
    }
    return { networks, ports: this.publishedPorts(c.id), netns: this.netnsOf(c.id) };
  }

  // ---- containers -----------------------------------------------------------------------------

  /**
   * Checks a container's network request at create and returns the networks it joins (name ->
   * settings), the primary first. Unknown networks, bad addresses and bad port bindings fail here.
   */
  planContainer(h: HostOptions, endpointsConfig: Record<string, EndpointConfig> | null | undefined, exposed: Record<string, unknown> | undefined): Record<string, EndpointConfig> {
    const mode = networkModeOf(h);
    portRequests(h.PortBindings as PortBindings, exposed, !!h.PublishAllPorts);
    if (isSpecialMode(mode)) {
      if (mode.startsWith('container:') && (Object.keys(h.PortBindings ?? {}).length || h.PublishAllPorts)) {
        throw invalidArgument('conflicting options: port publishing and the container type network mode');
      }
      for (const name of Object.keys(endpointsConfig ?? {})) if (name !== mode) throw invalidArgument(`container cannot be disconnected from host network or connected to host network`);
      return {};
    }
    const out: Record<string, EndpointConfig> = {};
    // As dockerd, networks are looked up when the container starts: one unknown now is an error then.
    const primary = this.find(mode) ?? { name: mode, id: '' } as Partial<NetworkRecord> as NetworkRecord;
    // The docker CLI keys the default network's settings as `default`.
    const asked = Object.fromEntries(Object.entries(endpointsConfig ?? {}).map(([k, v]) => [k === 'default' ? 'bridge' : k, v]));
    const names = [mode, ...Object.keys(asked).filter((n) => n !== mode && n !== primary.name && (!primary.id || n !== primary.id))];
    for (const name of names) {
      const n = name === mode ? this.find(mode) : this.find(name);
      if (!n) {
        out[name] = { ...(asked[name] ?? {}) };
        continue;
      }
      if (!n.subnet) throw invalidArgument(`container cannot be disconnected from host network or connected to host network`);
      const cfg: EndpointConfig = { ...(asked[name] ?? asked[n.name] ?? {}), NetworkID: n.id };
      this.checkEndpointConfig(n, cfg);
      out[n.name] = cfg;
    }
    return out;
  }

  private checkEndpointConfig(n: NetworkRecord, cfg: EndpointConfig): void {
    const ip = cfg.IPAMConfig?.IPv4Address;
    if (ip) {
      if (n.predefined) throw invalidArgument('user specified IP address is supported on user defined networks only');
      const why = staticAddressError(this.plan(n), ip, new Set());
      if (why) throw invalidArgument(why);
    }
    if (cfg.Aliases?.length && n.predefined) throw invalidArgument('network-scoped alias is supported only for containers in user defined networks');
    if (cfg.MacAddress && !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(cfg.MacAddress)) throw invalidArgument(`invalid MAC address: ${cfg.MacAddress}`);
  }

  private plan(n: NetworkRecord): SubnetPlan {
    return { subnet: n.subnet, gateway: n.gateway, ...(n.ipRange ? { ipRange: n.ipRange } : {}) };
  }

  /** The networks a container joins when it starts (records made before networks: the default bridge). */
  private configuredNetworks(c: ContainerRecord): Record<string, EndpointConfig> {
    if (c.networks) return c.networks;
    const mode = networkModeOf(c.hostConfig);
    return isSpecialMode(mode) ? {} : { [mode]: {} };
  }

  /**
   * Gives a starting container its namespace, addresses and host ports, and starts wiring them
   * (the returned `ready`); undefined for host, none and container: modes. On any failure everything
   * made so far is undone.
   */
  async attach(c: ContainerRecord): Promise<Sandbox | undefined> {
    const wanted = Object.entries(this.configuredNetworks(c));
    if (!wanted.length) return undefined;
    await this.release(c.id);
    const nets = wanted.map(([name, cfg]) => ({ net: (cfg.NetworkID && this.find(cfg.NetworkID)) || this.get(name), cfg }));
    const endpoints = this.allocate(c, nets);
    const netns = join(this.o.netnsDir, c.id);
    let published: PublishedPort[] = [];
    try {
      published = await this.reservePorts(c);
      removeNetns(netns);
      createNetns(netns);
      this.db.prepare('INSERT OR REPLACE INTO sandboxes (container_id, netns, ports) VALUES (?, ?, ?)').run(c.id, netns, JSON.stringify(published));
    } catch (e) {
      this.dropAllocations(c.id);
      throw e;
    }
    const attachment = this.attachmentOf(c, netns, endpoints, published);
    const ready = (async () => {
      this.o.firewall.rememberForwarding();
      await this.serially(async () => {
        await this.o.driver.setup(attachment);
        await this.updateFirewall();
      });
      this.keepUp(nets.map((x) => x.net));
    })();
    ready.catch(() => undefined);
    return { netns, endpoints: endpoints.map((e) => ({ network: nets.find((x) => x.net.id === e.networkId)!.net, ip: e.ip })), ready };
  }

  /** Undoes attach: tears the wiring down, frees addresses and ports, removes the namespace. Idempotent. */
  async release(containerId: string): Promise<void> {
    const row = this.db.prepare('SELECT netns, ports FROM sandboxes WHERE container_id = ?').get(containerId) as { netns: string; ports: string } | undefined;
    const endpoints = this.containerEndpoints(containerId);
    if (!row && !endpoints.length) return;
    if (row && endpoints.length) {
      const att = this.attachmentOf({ id: containerId, name: '' }, row.netns, endpoints, JSON.parse(row.ports) as PublishedPort[]);
      await this.serially(() => this.o.driver.teardown(att)).catch((e) => this.o.log('warn', `network teardown of ${shortId(containerId)}: ${(e as Error).message}`));
    }
    if (row) removeNetns(row.netns);
    this.dropAllocations(containerId);
    if (!isKeeper(containerId)) for (const e of endpoints) this.idleCheck(e.networkId);
    await this.serially(() => this.updateFirewall()).catch((e) => this.o.log('warn', `firewall update: ${(e as Error).message}`));
  }

  private dropAllocations(containerId: string): void {
    for (const r of this.reservations.get(containerId) ?? []) r.release();
    this.reservations.delete(containerId);
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM endpoints WHERE container_id = ?').run(containerId);
      this.db.prepare('DELETE FROM sandboxes WHERE container_id = ?').run(containerId);
    })();
  }

  /** Allocates one address per network in one transaction: an address is never handed out twice. */
  private allocate(c: ContainerRecord, nets: Array<{ net: NetworkRecord; cfg: EndpointConfig }>): EndpointRecord[] {
    const out: EndpointRecord[] = [];
    this.db.transaction(() => {
      nets.forEach(({ net, cfg }, i) => out.push(this.allocateOne(c, net, cfg, `eth${i}`)));
    })();
    return out;
  }

  private allocateOne(c: Pick<ContainerRecord, 'id' | 'name'>, net: NetworkRecord, cfg: EndpointConfig, iface: string): EndpointRecord {
    const used = new Set((this.db.prepare('SELECT ip FROM endpoints WHERE network_id = ?').all(net.id) as Array<{ ip: string }>).map((r) => r.ip));
    const asked = cfg.IPAMConfig?.IPv4Address;
    let ip: string | undefined;
    if (asked) {
      const why = staticAddressError(this.plan(net), asked, used);
      if (why) throw invalidArgument(why);
      ip = asked;
    } else {
      ip = nextFreeAddress(this.plan(net), used);
      if (!ip) throw invalidArgument(`no available IPv4 addresses on network ${net.name}`);
    }
    const aliases = net.dns ? unique([c.name, c.id.slice(0, 12), ...(cfg.Aliases ?? [])]) : [];
    const ep: EndpointRecord = { networkId: net.id, containerId: c.id, endpointId: newId(), ip, mac: cfg.MacAddress || macForAddress(ip), iface, aliases };
    this.db.prepare('INSERT INTO endpoints (network_id, container_id, ip, iface, data) VALUES (?, ?, ?, ?, ?)').run(net.id, c.id, ip, iface, JSON.stringify(ep));
    return ep;
  }

  private async reservePorts(c: ContainerRecord): Promise<PublishedPort[]> {
    const reqs = portRequests(c.hostConfig.PortBindings as PortBindings, c.config.ExposedPorts, !!c.hostConfig.PublishAllPorts);
    const held: PortReservation[] = [];
    this.reservations.set(c.id, held);
    const out: PublishedPort[] = [];
    for (const r of reqs) {
      const candidates = r.hostPorts ? range(r.hostPorts[0], r.hostPorts[1]) : [0];
      let got: PortReservation | undefined;
      let lastError: unknown;
      for (const port of candidates) {
        try {
          got = await reservePort(r.hostIp, port, r.protocol);
          break;
        } catch (e) {
          lastError = e;
        }
      }
      if (!got) {
        const where = `${r.hostIp || '0.0.0.0'}:${r.hostPorts ? (r.hostPorts[0] === r.hostPorts[1] ? r.hostPorts[0] : `${r.hostPorts[0]}-${r.hostPorts[1]}`) : 0}`;
        const cause = (lastError as NodeJS.ErrnoException)?.code === 'EADDRINUSE' ? 'address already in use' : (lastError as Error)?.message;
        throw conflict(`driver failed programming external connectivity on endpoint ${c.name} (${c.id}): failed to bind port ${where}/${r.protocol}: Error starting userland proxy: listen ${r.protocol}4 ${where}: bind: ${cause}`);
      }
      held.push(got);
      out.push({ hostIp: r.hostIp, hostPort: got.port, containerPort: r.containerPort, protocol: r.protocol });
    }
    return out;
  }

  private attachmentOf(c: Pick<ContainerRecord, 'id' | 'name'>, netns: string, endpoints: EndpointRecord[], published: PublishedPort[]): Attachment {
    const eps: Endpoint[] = [];
    for (const e of endpoints) {
      const n = this.find(e.networkId);
      if (!n) continue;
      eps.push({ network: specOf(n), interfaceName: e.iface, ip: e.ip, prefixLength: parseCidr(n.subnet)!.prefix, mac: e.mac, aliases: e.aliases });
    }
    const ports: PortMapping[] = published.map((p) => ({ hostIp: p.hostIp, hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, range: 1 }));
    return { containerId: c.id, containerName: c.name, netns, endpoints: eps, ports };
  }

  /**
   * Runs wiring and firewall changes one at a time. The firewall reads which bridges are in use when
   * its turn comes, and a start's endpoint rows exist before its setup is queued: so the cleanup of
   * the last network never runs while another container's setup is under way. `hostLock` extends
   * that to other processes (another berthd, netavark's other users) that take the same lock.
   */
  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.serial.then(() => (this.o.hostLock ? withFileLock(this.o.hostLock, fn) : fn()));
    this.serial = next.catch(() => undefined);
    return next;
  }

  /** The bridges with containers on them now. */
  private activeBridges(): ActiveBridge[] {
    const ids = new Set((this.db.prepare('SELECT DISTINCT network_id FROM endpoints').all() as Array<{ network_id: string }>).map((r) => r.network_id));
    return this.list().filter((n) => ids.has(n.id) && n.bridge).map((n) => ({ name: n.bridge, internal: n.internal }));
  }

  /**
   * Makes the isolation rules follow the bridges in use (call through serially). When none is left,
   * the cleanup waits a moment: back-to-back `run --rm` would otherwise pay for removing and making
   * the chains again every time.
   */
  private async updateFirewall(): Promise<void> {
    const active = this.activeBridges();
    if (active.length) {
      clearTimeout(this.cleanupTimer);
      this.cleanupTimer = undefined;
      await this.o.firewall.update(active);
      return;
    }
    if (this.cleanupTimer) return;
    this.cleanupTimer = setTimeout(() => {
      this.cleanupTimer = undefined;
      this.serially(() => this.cleanupIfIdle()).catch((e) => this.o.log('warn', `firewall cleanup: ${(e as Error).message}`));
    }, this.o.firewallIdleMs ?? 2000);
    this.cleanupTimer.unref();
  }

  private async cleanupIfIdle(): Promise<void> {
    if (!this.activeBridges().length) await this.o.firewall.update([]);
  }

  /** berthd is stopping: a cleanup that was waiting runs now; host ports are let go (containers stay). */
  async shutdown(): Promise<void> {
    // Keepers of networks no container uses go now (and those going already finish); the others
    // stay with their containers.
    this.closing = true;
    for (const t of this.idleTimers.values()) clearTimeout(t);
    this.idleTimers.clear();
    await this.serially(async () => undefined).catch(() => undefined); // keepers being made are made
    await Promise.allSettled([...this.dropping]);
    const keepers = this.db.prepare("SELECT DISTINCT network_id FROM endpoints WHERE container_id LIKE 'keeper-%'").all() as Array<{ network_id: string }>;
    for (const { network_id: netId } of keepers) if (!this.endpointsOf(netId).length) await this.dropKeeper(netId);
    if (this.cleanupTimer) {
      clearTimeout(this.cleanupTimer);
      this.cleanupTimer = undefined;
      await this.serially(() => this.cleanupIfIdle()).catch((e) => this.o.log('warn', `firewall cleanup: ${(e as Error).message}`));
    }
    this.closePorts();
  }

  /**
   * `network connect`: records the network in the container's settings and, if it runs, wires a
   * new interface at once. Returns the updated settings for the caller to save.
   */
  async connect(c: ContainerRecord, ref: string, cfg: EndpointConfig, running: boolean): Promise<Record<string, EndpointConfig>> {
    const n = this.get(ref);
    const mode = networkModeOf(c.hostConfig);
    if (isSpecialMode(mode)) throw invalidArgument(`container sharing network namespace with another container or host cannot be connected to any other network`);
    if (!n.subnet) throw invalidArgument('container cannot be disconnected from host network or connected to host network');
    const current = this.configuredNetworks(c);
    if (current[n.name]) throw permissionDenied(`endpoint with name ${c.name} already exists in network ${n.name}`);
    const settings: EndpointConfig = { ...cfg, NetworkID: n.id };
    this.checkEndpointConfig(n, settings);
    if (running) {
      const netns = this.netnsOf(c.id);
      if (!netns) throw invalidArgument(`container ${c.id} has no network namespace of its own`);
      const taken = new Set(this.containerEndpoints(c.id).map((e) => e.iface));
      let i = 0;
      while (taken.has(`eth${i}`)) i++;
      let ep: EndpointRecord;
      this.db.transaction(() => { ep = this.allocateOne(c, n, settings, `eth${i}`); })();
      try {
        await this.serially(async () => {
          await this.o.driver.setup(this.attachmentOf(c, netns, [ep!], []));
          await this.updateFirewall();
        });
        this.keepUp([n]);
      } catch (e) {
        await this.serially(() => this.o.driver.teardown(this.attachmentOf(c, netns, [ep!], []))).catch(() => undefined);
        this.db.prepare('DELETE FROM endpoints WHERE network_id = ? AND container_id = ?').run(n.id, c.id);
        throw e;
      }
    }
    this.o.events.publish('network', 'connect', n.id, { container: c.id, name: n.name, type: n.driver });
    return { ...current, [n.name]: settings };
  }

  /** `network disconnect`: the reverse of connect. */
  async disconnect(c: ContainerRecord, ref: string, running: boolean): Promise<Record<string, EndpointConfig>> {
    const n = this.get(ref);
    const current = { ...this.configuredNetworks(c) };
    if (!current[n.name]) throw invalidArgument(`container ${c.id} is not connected to network ${n.name}`);
    const ep = this.containerEndpoints(c.id).find((e) => e.networkId === n.id);
    if (running && ep) {
      const netns = this.netnsOf(c.id);
      const primary = ep.iface === 'eth0';
      if (netns) await this.serially(() => this.o.driver.teardown(this.attachmentOf(c, netns, [ep], primary ? this.publishedPorts(c.id) : []))).catch((e) => this.o.log('warn', `disconnect ${shortId(c.id)}: ${(e as Error).message}`));
      this.db.prepare('DELETE FROM endpoints WHERE network_id = ? AND container_id = ?').run(n.id, c.id);
      this.idleCheck(n.id);
      await this.serially(() => this.updateFirewall());
    }
    delete current[n.name];
    this.o.events.publish('network', 'disconnect', n.id, { container: c.id, name: n.name, type: n.driver });
    return current;
  }

  /** After a berthd restart: hold the published ports of running containers again; free the rest. */
  async recover(running: Set<string>): Promise<void> {
    const rows = this.db.prepare('SELECT container_id FROM sandboxes').all() as Array<{ container_id: string }>;
    const ids = new Set([...rows.map((r) => r.container_id), ...(this.db.prepare('SELECT DISTINCT container_id FROM endpoints').all() as Array<{ container_id: string }>).map((r) => r.container_id)]);
    for (const id of ids) {
      if (!running.has(id)) {
        await this.release(id);
        continue;
      }
      const held: PortReservation[] = [];
      for (const p of this.publishedPorts(id)) {
        try {
          held.push(await reservePort(p.hostIp, p.hostPort, p.protocol));
        } catch (e) {
          this.o.log('warn', `port ${p.hostPort}/${p.protocol} of ${shortId(id)} is held by someone else: ${(e as Error).message}`);
        }
      }
      this.reservations.set(id, held);
    }
    await this.serially(() => this.updateFirewall()).catch((e) => this.o.log('warn', `firewall update: ${(e as Error).message}`));
  }

  /** Releases every host port berthd holds (shutdown: the containers and their DNAT rules stay). */
  closePorts(): void {
    for (const list of this.reservations.values()) for (const r of list) r.release();
    this.reservations.clear();
  }

  // ---- keepers --------------------------------------------------------------------------------
  //
  // netavark removes a bridge, its NAT rules and (for DNS networks) stops aardvark-dns when the last
  // container leaves, and makes them again for the next one: ~200 ms each way here, most of a
  // `run --rm`. A keeper is a namespace with no process, attached to the network like a container
  // (on the top free address, with no names), so a bridge stays up while it is used and for
  // `networkIdleMs` after, as Docker's bridges do. Keepers are never shown or counted as endpoints.

  /** Gives each of these bridge networks a keeper if it has none (queued after the current work). */
  private keepUp(nets: NetworkRecord[]): void {
    if ((this.o.networkIdleMs ?? 30_000) <= 0 || this.closing) return;
    for (const n of nets) {
      const t = this.idleTimers.get(n.id);
      if (t) { clearTimeout(t); this.idleTimers.delete(n.id); }
      if (this.containerEndpoints(keeperId(n.id)).length || this.startingKeepers.has(n.id)) continue;
      this.startingKeepers.add(n.id);
      this.serially(() => this.startKeeper(n))
        .catch((e) => this.o.log('warn', `keeper of network ${n.name}: ${(e as Error).message}`))
        .finally(() => this.startingKeepers.delete(n.id));
    }
  }

  private async startKeeper(n: NetworkRecord): Promise<void> {
    const id = keeperId(n.id);
    if (!this.find(n.id) || this.containerEndpoints(id).length) return;
    const netns = join(this.o.netnsDir, `keeper-${n.id.slice(0, 12)}`);
    let ep: EndpointRecord | undefined;
    this.db.transaction(() => { ep = this.allocateKeeper(n, id); })();
    if (!ep) return;
    try {
      removeNetns(netns);
      createNetns(netns);
      this.db.prepare('INSERT OR REPLACE INTO sandboxes (container_id, netns, ports) VALUES (?, ?, ?)').run(id, netns, '[]');
      await this.o.driver.setup(this.attachmentOf({ id, name: '' }, netns, [ep], []));
    } catch (e) {
      await this.o.driver.teardown(this.attachmentOf({ id, name: '' }, netns, [ep], [])).catch(() => undefined);
      removeNetns(netns);
      this.dropAllocations(id);
      throw e;
    }
    // The network may have emptied while the keeper was being made.
    this.idleCheck(n.id);
  }

  private allocateKeeper(n: NetworkRecord, id: string): EndpointRecord | undefined {
    const used = new Set((this.db.prepare('SELECT ip FROM endpoints WHERE network_id = ?').all(n.id) as Array<{ ip: string }>).map((r) => r.ip));
    const ip = lastFreeAddress(this.plan(n), used);
    if (!ip) return undefined;
    const ep: EndpointRecord = { networkId: n.id, containerId: id, endpointId: newId(), ip, mac: macForAddress(ip), iface: 'eth0', aliases: [] };
    this.db.prepare('INSERT INTO endpoints (network_id, container_id, ip, iface, data) VALUES (?, ?, ?, ?, ?)').run(n.id, id, ip, 'eth0', JSON.stringify(ep));
    return ep;
  }

  /** A network whose last container went keeps its keeper for a while, then lets it go. */
  private idleCheck(networkId: string): void {
    if (this.endpointsOf(networkId).length || this.idleTimers.has(networkId)) return;
    if (!this.containerEndpoints(keeperId(networkId)).length && !this.startingKeepers.has(networkId)) return;
    const t = setTimeout(() => {
      this.idleTimers.delete(networkId);
      if (!this.endpointsOf(networkId).length) {
        const drop = this.dropKeeper(networkId).catch((e) => this.o.log('warn', `keeper teardown: ${(e as Error).message}`));
        this.dropping.add(drop);
        void drop.finally(() => this.dropping.delete(drop));
      }
    }, this.o.networkIdleMs ?? 30_000);
    t.unref();
    this.idleTimers.set(networkId, t);
  }

  private async dropKeeper(networkId: string): Promise<void> {
    const t = this.idleTimers.get(networkId);
    if (t) { clearTimeout(t); this.idleTimers.delete(networkId); }
    await this.release(keeperId(networkId));
  }

  // ---- predefined networks --------------------------------------------------------------------

  private ensurePredefined(): void {
    const have = new Set(this.list().map((n) => n.name));
    const now = new Date().toISOString();
    const base = { created: now, internal: false, attachable: false, labels: {}, predefined: true, dns: false, subnet: '', gateway: '', bridge: '' };
    if (!have.has('bridge')) {
      const bip = this.o.defaultBridge.bip;
      let plan: SubnetPlan;
      if (bip) {
        const c = parseCidr(bip);
        if (!c) throw invalidArgument(`invalid --bip ${bip}`);
        plan = planSubnet(formatCidr(c), bip.split('/')[0]);
      } else {
        const subnet = pickSubnet(this.o.pools, hostRoutes());
        if (!subnet) throw invalidArgument('no free address pool for the default bridge network');
        plan = planSubnet(subnet);
      }
      this.insert({
        ...base, id: newId(), name: 'bridge', driver: 'bridge', subnet: plan.subnet, gateway: plan.gateway, bridge: this.o.defaultBridge.name,
        options: {
          'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.enable_icc': 'true',
          'com.docker.network.bridge.enable_ip_masquerade': 'true', 'com.docker.network.bridge.host_binding_ipv4': '0.0.0.0',
          [BRIDGE_NAME_OPT]: this.o.defaultBridge.name, [MTU_OPT]: '1500',
        },
      });
    }
    if (!have.has('host')) this.insert({ ...base, id: newId(), name: 'host', driver: 'host', options: {} });
    if (!have.has('none')) this.insert({ ...base, id: newId(), name: 'none', driver: 'null', options: {} });
  }
}

function migrate(db: Db): void {
  db.exec(`
    CREATE TABLE IF NOT EXISTS networks (id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, created TEXT NOT NULL, data TEXT NOT NULL);
    CREATE TABLE IF NOT EXISTS endpoints (
      network_id TEXT NOT NULL, container_id TEXT NOT NULL, ip TEXT NOT NULL, iface TEXT NOT NULL, data TEXT NOT NULL,
      PRIMARY KEY (network_id, container_id), UNIQUE (network_id, ip), UNIQUE (container_id, iface));
    CREATE TABLE IF NOT EXISTS sandboxes (container_id TEXT PRIMARY KEY, netns TEXT NOT NULL, ports TEXT NOT NULL);
  `);
}

function specOf(n: NetworkRecord): NetworkSpec {
  const mtu = Number(n.options[MTU_OPT] ?? 0);
  return { id: n.id, name: n.name, bridge: n.bridge, subnet: n.subnet, gateway: n.gateway, internal: n.internal, dns: n.dns, ...(mtu && mtu !== 1500 ? { mtu } : {}) };
}

function keeperId(networkId: string): string {
  return `keeper-${networkId}`;
}

function isKeeper(containerId: string): boolean {
  return containerId.startsWith('keeper-');
}

function unique(xs: string[]): string[] {
  return [...new Set(xs.filter(Boolean))];
}

function range(a: number, b: number): number[] {
  const out: number[] = [];
  for (let i = a; i <= b; i++) out.push(i);
  return out;
}

function labelMatch(labels: Record<string, string>, want: string): boolean {
  const [k, v] = want.split('=', 2);
  return v === undefined ? k in labels : labels[k] === v;
}

/** `network ls` filters: driver, id, label, name, scope, type (builtin/custom), dangling. */
function matchesFilters(n: NetworkRecord, f: Filters, inUse: (id: string) => boolean): boolean {
  const any = (key: string, pred: (v: string) => boolean) => !f[key]?.length || f[key].some(pred);
  return any('driver', (v) => n.driver === v)
    && any('id', (v) => n.id.startsWith(v))
    && any('name', (v) => n.name.includes(v))
    && (!f.label?.length || f.label.every((v) => labelMatch(n.labels, v)))
    && any('scope', (v) => v === 'local')
    && any('type', (v) => (v === 'builtin' ? n.predefined : v === 'custom' ? !n.predefined : false))
    && any('dangling', (v) => (['true', '1'].includes(v) ? !n.predefined && !inUse(n.id) : n.predefined || inUse(n.id)));
}

function matchesPruneFilters(n: NetworkRecord, f: Filters): boolean {
  const until = f.until?.[0];
  if (until) {
    const t = /^\d+$/.test(until) ? Number(until) * 1000 : Date.parse(until);
    if (!Number.isNaN(t) && Date.parse(n.created) >= t) return false;
  }
  for (const l of f.label ?? []) if (!labelMatch(n.labels, l)) return false;
  for (const l of f['label!'] ?? []) if (labelMatch(n.labels, l)) return false;
  return true;
}
