// The docker CLI's option validators (its opts package): they run when a flag is set (FlagSpec.validate),
// so a bad value fails as pflag reports it, and some rewrite the value (--dns and --add-host).
// IP addresses follow Go's net package: docker canonicalises them with net.ParseIP(...).String().
import { goQuote } from './template/go-fmt';
import { parseRAM } from '../base/units';

/** An IP address as Go's net.IP: 4 bytes for IPv4, 16 for IPv6. */
export type IPBytes = number[];

function parseIPv4(s: string): IPBytes | undefined {
  const parts = s.split('.');
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    // Go 1.17+ rejects leading zeros ("010.0.0.1") as ambiguous.
    if (!/^\d{1,3}$/.test(p) || (p.length > 1 && p[0] === '0')) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseIPv6(s: string): IPBytes | undefined {
  const ip: number[] = [];
  let ellipsis = -1;
  let rest = s;
  if (rest.startsWith('::')) { ellipsis = 0; rest = rest.slice(2); if (!rest) return new Array(16).fill(0); }
  while (ip.length < 16) {
    const m = /^[0-9a-fA-F]{1,4}/.exec(rest);
    if (!m) return undefined;
    // An embedded IPv4 address at the end ("::ffff:1.2.3.4").
    if (rest[m[0].length] === '.') {
      if (ellipsis < 0 && ip.length !== 12) return undefined;
      if (ip.length + 4 > 16) return undefined;
      const v4 = parseIPv4(rest);
      if (!v4) return undefined;
      ip.push(...v4);
      rest = '';
      break;
    }
    const n = parseInt(m[0], 16);
    ip.push(n >> 8, n & 0xff);
    rest = rest.slice(m[0].length);
    if (!rest) break;
    if (rest[0] !== ':' || rest.length === 1) return undefined;
    rest = rest.slice(1);
    if (rest[0] === ':') {
      if (ellipsis >= 0) return undefined;
      ellipsis = ip.length;
      rest = rest.slice(1);
      if (!rest) break;
    }
  }
  if (rest) return undefined;
  if (ip.length < 16) {
    if (ellipsis < 0) return undefined;
    const n = 16 - ip.length;
    ip.splice(ellipsis, 0, ...new Array(n).fill(0));
  } else if (ellipsis >= 0) return undefined;
  return ip;
}

/** Go's net.ParseIP: undefined when `s` is not an IPv4 or IPv6 address (zones are not accepted). */
export function parseIP(s: string): IPBytes | undefined {
  if (s.includes('.') && !s.includes(':')) return parseIPv4(s);
  if (s.includes(':')) return parseIPv6(s);
  return undefined;
}

const isV4Mapped = (ip: IPBytes) => ip.length === 16 && ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff;

/** Go's net.IP.String(): dotted IPv4 (also for IPv4-mapped IPv6), else RFC 5952 with the longest zero run as "::". */
export function ipString(ip: IPBytes): string {
  if (ip.length === 4) return ip.join('.');
  if (isV4Mapped(ip)) return ip.slice(12).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((ip[i] << 8) | ip[i + 1]);
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) { out += '::'; i += bestLen - 1; continue; }
    if (out && !out.endsWith(':')) out += ':';
    out += groups[i].toString(16);
  }
  return out;
}

/** A network from Go's net.ParseCIDR; throws "invalid CIDR address: S" as Go's ParseError. */
export function parseCIDR(s: string): { ip: IPBytes; network: IPBytes; bits: number } {
  const slash = s.indexOf('/');
  const ip = slash >= 0 ? parseIP(s.slice(0, slash)) : undefined;
  const len = slash >= 0 ? s.slice(slash + 1) : '';
  const max = ip?.length === 4 ? 32 : 128;
  if (!ip || !/^\d+$/.test(len) || (len.length > 1 && len[0] === '0') || Number(len) > max) throw new Error(`invalid CIDR address: ${s}`);
  const bits = Number(len);
  const network = ip.map((b, i) => {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    return b & ((0xff << (8 - keep)) & 0xff);
  });
  return { ip, network, bits };
}

/** net.IPNet.Contains: IPv4 and IPv4-mapped IPv6 addresses compare as IPv4. */
export function cidrContains(net: { network: IPBytes; bits: number }, ip: IPBytes): boolean {
  const v4 = (x: IPBytes) => (x.length === 4 ? x : isV4Mapped(x) ? x.slice(12) : undefined);
  const a = net.network;
  let b = ip;
  if (a.length === 4) { const m = v4(b); if (!m) return false; b = m; } else if (b.length === 4) return false;
  for (let i = 0; i < a.length; i++) {
    const keep = Math.max(0, Math.min(8, net.bits - i * 8));
    const mask = (0xff << (8 - keep)) & 0xff;
    if ((a[i] & mask) !== (b[i] & mask)) return false;
  }
  return true;
}

/** opts.ValidateIPAddress: the address in Go's canonical form. */
export function validateIPAddress(value: string): string {
  const ip = parseIP(value.trim());
  if (!ip) throw new Error(`IP address is not correctly formatted: ${value}`);
  return ipString(ip);
}

const DOMAIN = /^(:?(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))(:?\.(:?[a-zA-Z0-9]|(:?[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])))*)\.?\s*$/;

/** opts.ValidateDNSSearch: a domain, or "." for none. */
export function validateDNSSearch(value: string): string {
  const v = value.replace(/^ +| +$/g, '');
  if (v === '.') return v;
  const m = /[a-zA-Z]/.test(v) ? DOMAIN.exec(v) : null;
  if (m && m[1].length < 255) return m[1];
  throw new Error(`${v} is not a valid domain`);
}

/**
 * opts.ValidateExtraHost: "host:ip" or "host=ip", the address optionally in brackets, or
 * "host-gateway". Returns "host:ip", the only form the daemon reads.
 */
export function validateExtraHost(value: string): string {
  let sep = value.indexOf('=');
  if (sep < 0) sep = value.indexOf(':');
  const k = sep >= 0 ? value.slice(0, sep) : value;
  let v = sep >= 0 ? value.slice(sep + 1) : '';
  if (sep < 0 || !k || k.includes(':')) throw new Error(`bad format for add-host: ${goQuote(value)}`);
  if (v !== 'host-gateway') {
    if (v.length > 2 && v[0] === '[' && v[v.length - 1] === ']') v = v.slice(1, -1);
    if (!parseIP(v.trim())) throw new Error(`invalid IP address in add-host: ${goQuote(v)}`);
  }
  return `${k}:${v}`;
}

/** Go's net.ParseMAC formats: 6, 8 or 20 octets separated by ':' or '-', or dotted groups of four hex digits. */
export function isMACAddress(value: string): boolean {
  const s = value.trim();
  const n = (groups: number) => groups === 6 || groups === 8 || groups === 20;
  if (/^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2})+$/.test(s)) {
    const sep = s[2];
    return !s.includes(sep === ':' ? '-' : ':') && n(s.split(sep).length);
  }
  if (/^[0-9a-fA-F]{4}(\.[0-9a-fA-F]{4})+$/.test(s)) return n(s.split('.').length * 2);
  return false;
}

/** opts.ValidateLabel: a key without whitespace; the value is optional. */
export function validateLabel(value: string): string {
  const key = value.split('=')[0].replace(/^[ \t]+/, '');
  if (!key) throw new Error(`invalid label '${value}': empty name`);
  if (/[ \t]/.test(key)) throw new Error(`label '${key}' contains whitespaces`);
  return value;
}

/** opts.ValidateLink: "name" or "name:alias". */
export function validateLink(value: string): string {
  if (!value) throw new Error('empty string specified for links');
  if (value.split(':').length > 2) throw new Error(`bad format for links: ${value}`);
  return value;
}

/** opts.FilterOpt: "name=value", the name lower-cased and both trimmed ("" is ignored: drop it). */
export function validateFilter(value: string): string {
  if (value === '') return '';
  const eq = value.indexOf('=');
  if (eq < 0) throw new Error('bad format of filter (expected name=value)');
  return `${value.slice(0, eq).trim().toLowerCase()}=${value.slice(eq + 1).trim()}`;
}

/** opts.ConvertKVStringsToMap: "k=v" pairs to a map; a bare "k" maps to "". */
export function kvMap(values: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of values) {
    const i = kv.indexOf('=');
    out[i >= 0 ? kv.slice(0, i) : kv] = i >= 0 ? kv.slice(i + 1) : '';
  }
  return out;
}

/** opts.MemBytes: a RAM size ("1g", "512m") as a byte count, as the flag stores it. */
export function memBytes(v: string): string {
  return String(parseRAM(v));
}

/** opts.MemSwapBytes: a RAM size, or -1 for unlimited swap. */
export function memSwapBytes(v: string): string {
  return v === '-1' ? '-1' : memBytes(v);
}

/** opts.NanoCPUs: a decimal number of CPUs ("1.5") as billionths of a CPU. */
export function nanoCPUs(v: string): string {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(v);
  if (!m || (m[2] === '' && (m[3] ?? '') === '')) throw new Error(`failed to parse ${v} as a rational number`);
  const frac = m[3] ?? '';
  if (/[1-9]/.test(frac.slice(9))) throw new Error('value is too precise');
  const nano = BigInt(`${m[2] || '0'}${frac.slice(0, 9).padEnd(9, '0')}`);
  return String(m[1] === '-' ? -nano : nano);
}

/** pflag's Uint16 flag value: strconv.ParseUint(s, 0, 16). */
export function uint16(v: string): string {
  const n = /^(0[xX][0-9a-fA-F]+|0[oO]?[0-7]+|0[bB][01]+|[1-9]\d*|0)$/.test(v.replace(/_/g, '')) ? Number(v.replace(/^0([0-7])/, '0o$1').replace(/_/g, '')) : NaN;
  if (Number.isNaN(n)) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(v)}: invalid syntax`);
  if (n > 0xffff) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(v)}: value out of range`);
  return String(n);
}

/**
 * opts.ParseRestartPolicy (docker update): "name[:count]"; the daemon checks the name. Empty is
 * the zero policy, which leaves the container's as it is.
 */
export function parseRestartPolicy(policy: string): { Name: string; MaximumRetryCount: number } {
  if (!policy) return { Name: '', MaximumRetryCount: 0 };
  const i = policy.indexOf(':');
  const name = i >= 0 ? policy.slice(0, i) : policy, count = i >= 0 ? policy.slice(i + 1) : '';
  if (i >= 0 && !name) throw new Error('invalid restart policy format: no policy provided before colon');
  if (count && !/^[+-]?\d+$/.test(count)) throw new Error('invalid restart policy format: maximum retry count must be an integer');
  return { Name: name, MaximumRetryCount: count ? Number(count) : 0 };
}
