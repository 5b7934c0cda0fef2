import { invalidArgument } from '../base/errors';

/**
 * IPv4 address management, pure: subnets, gateways, ranges and the choice of a free address. The
 * engine keeps the allocations (in its database) and asks here which address comes next.
 */

/** An IPv4 network: its first address and prefix length (host bits of `base` are zero). */
export interface Cidr {
  base: number;
  prefix: number;
}

export function parseIPv4(s: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

export function formatIPv4(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/** Parses `a.b.c.d/n`; `strict` refuses host bits set (Docker's subnet rule), otherwise they are cleared. */
export function parseCidr(s: string, strict = false): Cidr | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(s);
  if (!m) return undefined;
  const ip = parseIPv4(m[1]);
  const prefix = Number(m[2]);
  if (ip === undefined || prefix > 32) return undefined;
  const base = (ip & mask(prefix)) >>> 0;
  if (strict && base !== ip) return undefined;
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${formatIPv4(c.base)}/${c.prefix}`;
}

export function size(c: Cidr): number {
  return 2 ** (32 - c.prefix);
}

export function contains(c: Cidr, ip: number): boolean {
  return ((ip & mask(c.prefix)) >>> 0) === c.base;
}

export function overlaps(a: Cidr, b: Cidr): boolean {
  return contains(a, b.base) || contains(b, a.base);
}

/** The last address of `c` (its broadcast address for prefixes below 31). */
export function lastAddress(c: Cidr): number {
  return c.base + size(c) - 1;
}

/** A network's address plan as the user asked for it (`network create --subnet --gateway --ip-range`). */
export interface SubnetPlan {
  subnet: string;
  gateway: string;
  /** The part of the subnet containers get addresses from (the whole subnet when absent). */
  ipRange?: string;
}

/** Checks and completes a user's subnet, gateway and range (Docker's messages); the gateway defaults to the first host. */
export function planSubnet(subnet: string, gateway?: string, ipRange?: string): SubnetPlan {
  const net = parseCidr(subnet);
  if (!net) throw invalidArgument(`invalid subnet ${subnet}: invalid CIDR address: ${subnet}`);
  if (net.prefix > 30) throw invalidArgument(`invalid subnet ${subnet}: subnet too small`);
  const normalized = formatCidr(net);
  if (normalized !== subnet) throw invalidArgument(`invalid subnet ${subnet}: it should be ${normalized}`);
  let gw = net.base + 1;
  if (gateway) {
    const g = parseIPv4(gateway);
    if (g === undefined) throw invalidArgument(`invalid gateway address ${gateway}`);
    if (!contains(net, g)) throw invalidArgument(`no matching subnet for gateway ${gateway}`);
    gw = g;
  }
  let range: string | undefined;
  if (ipRange) {
    const r = parseCidr(ipRange);
    if (!r) throw invalidArgument(`invalid ip-range ${ipRange}: invalid CIDR address: ${ipRange}`);
    if (!contains(net, r.base) || r.prefix < net.prefix) throw invalidArgument(`no matching subnet for range ${ipRange}`);
    range = formatCidr(r);
  }
  return { subnet: normalized, gateway: formatIPv4(gw), ...(range ? { ipRange: range } : {}) };
}

/**
 * The next free address of a network: the lowest address of its range that is not the network or
 * broadcast address, not the gateway, and not in `used`. Sequential from the bottom, like Docker's
 * bitmap allocator, so addresses are predictable in tests and logs.
 */
export function nextFreeAddress(plan: SubnetPlan, used: ReadonlySet<string>): string | undefined {
  const net = parseCidr(plan.subnet)!;
  const range = plan.ipRange ? parseCidr(plan.ipRange)! : net;
  const gw = parseIPv4(plan.gateway);
  const first = Math.max(range.base, net.base + 1);
  const last = Math.min(lastAddress(range), lastAddress(net) - 1);
  for (let ip = first; ip <= last; ip++) {
    if (ip === gw) continue;
    const s = formatIPv4(ip);
    if (!used.has(s)) return s;
  }
  return undefined;
}

/** The highest free address of a network's range (for berth's own use, away from containers'). */
export function lastFreeAddress(plan: SubnetPlan, used: ReadonlySet<string>): string | undefined {
  const net = parseCidr(plan.subnet)!;
  const range = plan.ipRange ? parseCidr(plan.ipRange)! : net;
  const gw = parseIPv4(plan.gateway);
  const first = Math.max(range.base, net.base + 1);
  for (let ip = Math.min(lastAddress(range), lastAddress(net) - 1); ip >= first; ip--) {
    if (ip === gw) continue;
    const s = formatIPv4(ip);
    if (!used.has(s)) return s;
  }
  return undefined;
}

/** Why `ip` cannot be asked for on this network (Docker's wording), or undefined when it can. */
export function staticAddressError(plan: SubnetPlan, ip: string, used: ReadonlySet<string>): string | undefined {
  const n = parseIPv4(ip);
  if (n === undefined) return `invalid IPv4 address: ${ip}`;
  const net = parseCidr(plan.subnet)!;
  if (!contains(net, n) || n === net.base || n === lastAddress(net)) return `no available IPv4 addresses on this network's address pools: ${ip} is not in subnet ${plan.subnet}`;
  if (ip === plan.gateway || used.has(ip)) return `Address already in use`;
  return undefined;
}

/** A pool subnets are carved from (dockerd's `--default-address-pool base=...,size=...`). */
export interface AddressPool {
  base: string;
  size: number;
}

/** Docker's default pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s. */
export const DEFAULT_POOLS: AddressPool[] = [
  { base: '172.17.0.0/16', size: 16 },
  { base: '172.18.0.0/15', size: 16 },
  { base: '172.20.0.0/14', size: 16 },
  { base: '172.24.0.0/14', size: 16 },
  { base: '172.28.0.0/14', size: 16 },
  { base: '192.168.0.0/16', size: 20 },
];

export function parsePool(s: string): AddressPool {
  const kv = Object.fromEntries(s.split(',').map((p) => p.split('=') as [string, string]));
  const base = parseCidr(kv.base ?? '', true);
  const sz = Number(kv.size);
  if (!base || !Number.isInteger(sz) || sz < base.prefix || sz > 30) throw invalidArgument(`invalid default address pool ${JSON.stringify(s)}: want base=CIDR,size=N`);
  return { base: formatCidr(base), size: sz };
}

/** The first subnet of the pools that overlaps none of `taken` (other networks' and the host's routes). */
export function pickSubnet(pools: readonly AddressPool[], taken: readonly string[]): string | undefined {
  const busy = taken.map((t) => parseCidr(t)).filter((c): c is Cidr => !!c);
  for (const pool of pools) {
    const base = parseCidr(pool.base)!;
    const step = 2 ** (32 - pool.size);
    for (let s = base.base; s <= lastAddress(base); s += step) {
      const cand = { base: s, prefix: pool.size };
      if (!busy.some((b) => overlaps(b, cand))) return formatCidr(cand);
    }
  }
  return undefined;
}

/** Docker's MAC for an address: 02:42 followed by the IPv4 bytes. */
export function macForAddress(ip: string): string {
  const n = parseIPv4(ip)!;
  return ['02', '42', ...[n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}
