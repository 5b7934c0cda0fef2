import { isIP } from 'node:net';
import { invalidArgument, unavailable } from '../../base/errors';
import { DEFAULT_DOMAIN } from '../../oci/reference';

/** One way to reach a registry: a base URL and whether its TLS certificate is checked. */
export interface RegistryEndpoint {
  url: URL;
  /** false: HTTPS without certificate verification (an insecure registry). */
  verifyTls: boolean;
}

/**
 * Thrown for docker.io before any network access: this host has no route to Docker Hub, and a
 * connect attempt would only hang until a timeout.
 */
export function unreachableDockerHub(): Error {
  return unavailable(`berth: ${DEFAULT_DOMAIN} is not reachable from this host; use a registry on 127.0.0.1`);
}

/** True for `localhost`, 127.0.0.0/8 and ::1, with or without a port. */
export function isLoopbackDomain(domain: string): boolean {
  const host = hostOf(domain);
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

/** `[::1]:5000` -> `::1`, `reg:5000` -> `reg`. */
function hostOf(domain: string): string {
  return domain.startsWith('[') ? domain.slice(1, domain.indexOf(']')) : domain.replace(/:\d+$/, '');
}

interface Cidr { bytes: number[]; bits: number; v6: boolean }

function ipBytes(ip: string): number[] | undefined {
  const v = isIP(ip);
  if (v === 4) return ip.split('.').map(Number);
  if (v !== 6) return undefined;
  // Expand `::` and an embedded IPv4 tail into 16 bytes.
  let s = ip;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const b = v4[1].split('.').map(Number);
    s = s.slice(0, -v4[1].length) + `${((b[0] << 8) | b[1]).toString(16)}:${((b[2] << 8) | b[3]).toString(16)}`;
  }
  const [head, tail] = s.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.flatMap((g) => { const n = parseInt(g || '0', 16); return [n >> 8, n & 255]; });
}

function parseCidr(s: string): Cidr | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s);
  if (!m) return undefined;
  const bytes = ipBytes(m[1]);
  const bits = Number(m[2]);
  if (!bytes || bits > bytes.length * 8) return undefined;
  return { bytes, bits, v6: bytes.length === 16 };
}

function inCidr(ip: number[], c: Cidr): boolean {
  if (ip.length !== c.bytes.length) return false;
  for (let i = 0; i < c.bits; i++) {
    const bit = (b: number[]) => (b[i >> 3] >> (7 - (i & 7))) & 1;
    if (bit(ip) !== bit(c.bytes)) return false;
  }
  return true;
}

/**
 * Which scheme and TLS checks each registry gets: dockerd's registry rules with berth's loopback
 * default.
 *
 * - `docker.io` fails at once (unreachableDockerHub).
 * - A registry named in the insecure list (`--insecure-registry` / `insecure-registries`: a
 *   `host[:port]` matched exactly, or a CIDR matched against an IP-literal host) is tried as
 *   HTTPS without certificate verification, then as plain HTTP: what dockerd does for insecure
 *   registries (moby registry/service_v2.go).
 * - Any other loopback registry (127.0.0.0/8, localhost, ::1) is plain HTTP only: no TLS probe on
 *   every operation. A loopback registry that serves TLS is therefore listed as insecure (dockerd
 *   tries unverified TLS first for all of 127.0.0.0/8; berth does so only when told).
 * - Everything else is HTTPS with verification against Node's CA store.
 *
 * Pure apart from remembering, per registry, which endpoint answered last (so the fallback probe
 * runs once per daemon, not once per request).
 */
export class RegistryHosts {
  private readonly names = new Set<string>();
  private readonly cidrs: Cidr[] = [];
  private readonly working = new Map<string, number>();

  /** Throws InvalidArgument for an entry that is neither a CIDR nor a `host[:port]`. */
  constructor(insecure: readonly string[] = []) {
    for (const raw of insecure) {
      const e = raw.trim().replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '');
      if (e.includes('/')) {
        const c = parseCidr(e);
        if (!c) throw invalidArgument(`insecure registry ${JSON.stringify(raw)} is not a valid CIDR or host[:port]`);
        this.cidrs.push(c);
      } else {
        if (!/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/.test(e)) throw invalidArgument(`insecure registry ${JSON.stringify(raw)} is not a valid CIDR or host[:port]`);
        if (e === DEFAULT_DOMAIN || e === 'index.docker.io') throw invalidArgument(`insecure registry ${raw} is not allowed`);
        this.names.add(e.toLowerCase());
      }
    }
  }

  /** Whether `domain` (`host[:port]`) is named by the insecure list. */
  isInsecure(domain: string): boolean {
    const d = domain.toLowerCase();
    if (this.names.has(d) || this.names.has(hostOf(d))) return true;
    const ip = ipBytes(hostOf(d));
    return !!ip && this.cidrs.some((c) => inCidr(ip, c));
  }

  /** The endpoints to try, in order (the one that worked last first). */
  endpoints(domain: string): RegistryEndpoint[] {
    if (domain === DEFAULT_DOMAIN || domain === 'index.docker.io' || domain === 'registry-1.docker.io') throw unreachableDockerHub();
    let list: RegistryEndpoint[];
    if (this.isInsecure(domain)) list = [{ url: new URL(`https://${domain}`), verifyTls: false }, { url: new URL(`http://${domain}`), verifyTls: false }];
    else if (isLoopbackDomain(domain)) list = [{ url: new URL(`http://${domain}`), verifyTls: false }];
    else list = [{ url: new URL(`https://${domain}`), verifyTls: true }];
    const w = this.working.get(domain);
    if (w !== undefined && w > 0 && w < list.length) list = [list[w], ...list.filter((_, i) => i !== w)];
    return list;
  }

  /** Records which endpoint (by URL) answered, so the next operation starts there. */
  remember(domain: string, url: URL): void {
    const list = this.endpoints(domain);
    const original = this.isInsecure(domain) ? ['https:', 'http:'] : [list[0].url.protocol];
    this.working.set(domain, Math.max(0, original.indexOf(url.protocol)));
  }
}
