// The flags of `run` and `create`, and their translation into the ContainerCreate body exactly as
// the docker CLI builds it (cli/command/container/opts.go).
import { readFileSync } from 'node:fs';
import type { ContainerCreateRequest, EndpointSettings, HostConfig, PortBinding } from '../../client/types';
import type { FlagSpec, Parsed } from '../flags';
import { readCSVRecord, UsageError } from '../flags';
import { StatusError } from '../cli';
import { isMACAddress, memBytes, memSwapBytes, nanoCPUs, parseIP, validateDNSSearch, validateExtraHost, validateIPAddress, validateLink } from '../opts';
import { parseGoDuration, parseRAM } from '../../base/units';
import { endpointSettings } from './endpoint-settings';

export const CREATE_FLAGS: FlagSpec[] = [
  { long: 'add-host', type: 'list', help: 'Add a custom host-to-IP mapping (host:ip)', validate: validateExtraHost },
  { long: 'attach', short: 'a', type: 'list', help: 'Attach to STDIN, STDOUT or STDERR' },
  { long: 'cap-add', type: 'list', help: 'Add Linux capabilities' },
  { long: 'cap-drop', type: 'list', help: 'Drop Linux capabilities' },
  { long: 'cidfile', type: 'string', help: 'Write the container ID to the file' },
  { long: 'cpus', type: 'string', meta: 'decimal', help: 'Number of CPUs', validate: nanoCPUs },
  { long: 'cpu-shares', short: 'c', type: 'int', help: 'CPU shares (relative weight)' },
  { long: 'device', type: 'list', help: 'Add a host device to the container' },
  { long: 'dns', type: 'list', help: 'Set custom DNS servers', validate: validateIPAddress },
  { long: 'dns-opt', type: 'list', help: 'Set DNS options', hidden: true, dest: 'dns-option' },
  { long: 'dns-option', type: 'list', help: 'Set DNS options' },
  { long: 'dns-search', type: 'list', help: 'Set custom DNS search domains', validate: validateDNSSearch },
  { long: 'domainname', type: 'string', help: 'Container NIS domain name' },
  { long: 'entrypoint', type: 'string', help: 'Overwrite the default ENTRYPOINT of the image' },
  { long: 'env', short: 'e', type: 'list', help: 'Set environment variables' },
  { long: 'env-file', type: 'list', help: 'Read in a file of environment variables' },
  { long: 'expose', type: 'list', help: 'Expose a port or a range of ports' },
  { long: 'group-add', type: 'list', help: 'Add additional groups to join' },
  { long: 'health-cmd', type: 'string', help: 'Command to run to check health' },
  { long: 'health-interval', type: 'string', meta: 'duration', help: 'Time between running the check' },
  { long: 'health-on-failure', type: 'string', help: 'Action when the container becomes unhealthy: none, kill, restart, stop (berth; label berth.health-on-failure)' },
  { long: 'health-retries', type: 'int', help: 'Consecutive failures needed to report unhealthy' },
  { long: 'health-start-interval', type: 'string', meta: 'duration', help: 'Time between running the check during the start period' },
  { long: 'health-start-period', type: 'string', meta: 'duration', help: 'Start period for the container to initialize before starting health-retries countdown' },
  { long: 'health-timeout', type: 'string', meta: 'duration', help: 'Maximum time to allow one check to run' },
  { long: 'hostname', short: 'h', type: 'string', help: 'Container host name' },
  { long: 'init', type: 'bool', help: 'Run an init inside the container that forwards signals and reaps processes' },
  { long: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open even if not attached' },
  { long: 'ip', type: 'string', help: 'IPv4 address (e.g., 172.30.100.104)' },
  { long: 'ip6', type: 'string', help: 'IPv6 address (e.g., 2001:db8::33)' },
  { long: 'ipc', type: 'string', help: 'IPC mode to use' },
  { long: 'label', short: 'l', type: 'list', help: 'Set meta data on a container' },
  { long: 'label-file', type: 'list', help: 'Read in a line delimited file of labels' },
  { long: 'link', type: 'list', help: 'Add link to another container', validate: validateLink },
  { long: 'link-local-ip', type: 'list', help: 'Container IPv4/IPv6 link-local addresses' },
  { long: 'log-driver', type: 'string', help: 'Logging driver for the container' },
  { long: 'log-opt', type: 'list', help: 'Log driver options' },
  { long: 'mac-address', type: 'string', help: 'Container MAC address (e.g., 92:d0:c6:0a:29:33)' },
  { long: 'memory', short: 'm', type: 'string', meta: 'bytes', help: 'Memory limit', validate: memBytes },
  { long: 'memory-swap', type: 'string', meta: 'bytes', help: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap", validate: memSwapBytes },
  { long: 'mount', type: 'list', meta: 'mount', help: 'Attach a filesystem mount to the container' },
  { long: 'name', type: 'string', help: 'Assign a name to the container' },
  { long: 'net', type: 'list', meta: 'network', help: 'Connect a container to a network', hidden: true, dest: 'network', validate: validateNetworkOpt },
  { long: 'net-alias', type: 'list', help: 'Add network-scoped alias for the container', hidden: true, dest: 'network-alias' },
  { long: 'network', type: 'list', meta: 'network', help: 'Connect a container to a network', validate: validateNetworkOpt },
  { long: 'network-alias', type: 'list', help: 'Add network-scoped alias for the container' },
  { long: 'no-healthcheck', type: 'bool', help: 'Disable any container-specified HEALTHCHECK' },
  { long: 'oom-score-adj', type: 'int', help: "Tune host's OOM preferences (-1000 to 1000)" },
  { long: 'pid', type: 'string', help: 'PID namespace to use' },
  { long: 'pids-limit', type: 'int', help: 'Tune container pids limit (set -1 for unlimited)' },
  { long: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable' },
  { long: 'privileged', type: 'bool', help: 'Give extended privileges to this container' },
  { long: 'publish', short: 'p', type: 'list', help: "Publish a container's port(s) to the host" },
  { long: 'publish-all', short: 'P', type: 'bool', help: 'Publish all exposed ports to random ports' },
  { long: 'pull', type: 'string', def: 'missing', help: 'Pull image before creating ("always", "missing", "never")' },
  // With BERTH_CONTENT_TRUST=1, turns verification off for this command (docker's flag).
  { long: 'disable-content-trust', type: 'bool', help: 'Skip image verification', hidden: true },
  { long: 'quiet', short: 'q', type: 'bool', help: 'Suppress the pull output' },
  { long: 'read-only', type: 'bool', help: "Mount the container's root filesystem as read only" },
  { long: 'restart', type: 'string', def: 'no', help: 'Restart policy to apply when a container exits' },
  { long: 'rm', type: 'bool', help: 'Automatically remove the container and its associated anonymous volumes when it exits' },
  { long: 'runtime', type: 'string', help: 'Runtime to use for this container' },
  { long: 'security-opt', type: 'list', help: 'Security Options' },
  { long: 'shm-size', type: 'string', meta: 'bytes', help: 'Size of /dev/shm', validate: memBytes },
  { long: 'stop-signal', type: 'string', help: 'Signal to stop the container' },
  { long: 'stop-timeout', type: 'int', help: 'Timeout (in seconds) to stop a container' },
  { long: 'sysctl', type: 'list', meta: 'map', help: 'Sysctl options' },
  { long: 'tmpfs', type: 'list', help: 'Mount a tmpfs directory' },
  { long: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
  { long: 'ulimit', type: 'list', meta: 'ulimit', help: 'Ulimit options' },
  { long: 'user', short: 'u', type: 'string', help: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { long: 'userns', type: 'string', help: 'User namespace to use' },
  { long: 'uts', type: 'string', help: 'UTS namespace to use' },
  { long: 'volume', short: 'v', type: 'list', help: 'Bind mount a volume' },
  { long: 'volumes-from', type: 'list', help: 'Mount volumes from the specified container(s)' },
  { long: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container' },
];

export const RUN_ONLY_FLAGS: FlagSpec[] = [
  { long: 'detach', short: 'd', type: 'bool', help: 'Run container in background and print container ID' },
  { long: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container' },
  { long: 'sig-proxy', type: 'bool', def: true, help: 'Proxy received signals to the process' },
];

/** Reads KEY=VALUE lines like docker's env files: comments and blank lines skipped; a bare KEY takes the local value. */
export function readKVFile(path: string, fromEnv: boolean): string[] {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new UsageError(`open ${path}: no such file or directory`, 125); void e; }
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, n) => {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq >= 0 ? line.slice(0, eq) : line;
    if (/\s/.test(key)) throw new UsageError(`variable '${key.trim()}' contains whitespaces`, 125);
    if (!key) throw new UsageError(`no variable name on line '${line}'`, 125);
    void n;
    if (eq >= 0) out.push(line);
    else if (fromEnv) { if (process.env[key] !== undefined) out.push(`${key}=${process.env[key]}`); }
    else out.push(line);
  });
  return out;
}

/** -e KEY (no "=") takes KEY from the local environment, as docker's ValidateEnv. */
function envValue(e: string): string {
  if (e.includes('=')) return e;
  const v = process.env[e];
  return v === undefined ? e : `${e}=${v}`;
}

/** strconv.ParseUint(s, 10, 16) as nat uses it, with Go's error text. */
function parseUint16(s: string): number {
  if (!/^\d+$/.test(s)) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: invalid syntax`);
  const n = Number(s);
  if (n > 65535) throw new Error(`strconv.ParseUint: parsing ${JSON.stringify(s)}: value out of range`);
  return n;
}

/** nat.ParsePortRange: "80" or "80-90" (anything after a second "-" is ignored, as in nat). */
function parsePortRange(ports: string): [number, number] {
  if (ports === '') throw new Error('empty string specified for ports');
  if (!ports.includes('-')) { const n = parseUint16(ports); return [n, n]; }
  const parts = ports.split('-');
  const start = parseUint16(parts[0]), end = parseUint16(parts[1]);
  if (end < start) throw new Error(`invalid range specified for port: ${ports}`);
  return [start, end];
}

/** nat.SplitProtoPort: "80/udp" -> ["udp", "80"]; no protocol is tcp; "" or "/x" is nothing. */
function splitProtoPort(raw: string): [string, string] {
  const parts = raw.split('/');
  if (!raw || !parts[0]) return ['', ''];
  if (parts.length === 1) return ['tcp', raw];
  if (!parts[1]) return ['tcp', parts[0]];
  return [parts[1], parts[0]];
}

/** nat.ParsePortSpec: "[ip:][hostPort:]containerPort[/proto]", ranges on both sides, "[v6]" addresses. */
export function parsePortSpec(spec: string): { port: string; binding: PortBinding }[] {
  const parts = spec.split(':');
  const n = parts.length;
  let ip = n > 2 ? parts.slice(0, n - 2).join(':') : '';
  let hostPort = n > 1 ? parts[n - 2] : '';
  const [proto, containerPort] = splitProtoPort(parts[n - 1]);
  if (ip && ip[0] === '[') {
    const m = /^\[([^\]]*)\]$/.exec(ip);
    if (!m) throw new UsageError(`invalid IP address ${ip}: address ${ip}:: missing ']' in address`, 125);
    ip = m[1];
  }
  if (ip && !parseIP(ip)) throw new UsageError(`invalid IP address: ${ip}`, 125);
  if (!containerPort) throw new UsageError(`no port specified: ${spec}<empty>`, 125);
  let start: number, end: number;
  try { [start, end] = parsePortRange(containerPort); } catch { throw new UsageError(`invalid containerPort: ${containerPort}`, 125); }
  let hostStart = 0, hostEnd = 0;
  if (hostPort) {
    try { [hostStart, hostEnd] = parsePortRange(hostPort); } catch { throw new UsageError(`invalid hostPort: ${hostPort}`, 125); }
  }
  if (hostPort && end - start !== hostEnd - hostStart && end !== start) {
    throw new UsageError(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`, 125);
  }
  if (!['tcp', 'udp', 'sctp'].includes(proto.toLowerCase())) throw new UsageError(`invalid proto: ${proto}`, 125);
  const out: { port: string; binding: PortBinding }[] = [];
  for (let i = 0; i <= end - start; i++) {
    if (hostPort) hostPort = String(hostStart + i);
    // One container port and a host range: the engine picks a free port in the range.
    if (start === end && hostStart !== hostEnd) hostPort = `${hostPort}-${hostEnd}`;
    out.push({ port: `${start + i}/${proto.toLowerCase()}`, binding: { HostIp: ip, HostPort: hostPort } });
  }
  return out;
}

/** docker's convertToStandardNotation: "published=8080,target=80[,protocol=udp]" -> "8080:80/udp". */
function standardPortNotation(spec: string): string {
  if (!spec.includes('=')) return spec;
  const params: Record<string, string> = { protocol: 'tcp' };
  for (const param of spec.split(',')) {
    const eq = param.indexOf('=');
    if (eq <= 0) throw new UsageError(`invalid publish opts format (should be name=value but got '${param}')`, 125);
    params[param.slice(0, eq)] = param.slice(eq + 1);
  }
  return `${params.published ?? ''}:${params.target ?? ''}/${params.protocol}`;
}

/** Ports: -p (published, hence exposed) and --expose, as docker's parse builds ExposedPorts and PortBindings. */
export function parsePorts(publish: string[], expose: string[]): { exposed: Record<string, object>; bindings: Record<string, PortBinding[]> } {
  const exposed: Record<string, object> = {};
  const bindings: Record<string, PortBinding[]> = {};
  for (const spec of publish.map(standardPortNotation)) {
    for (const { port, binding } of parsePortSpec(spec)) {
      exposed[port] = {};
      (bindings[port] ??= []).push(binding);
    }
  }
  for (const e of expose) {
    if (e.includes(':')) throw new UsageError(`invalid port format for --expose: ${e}`, 125);
    const [proto, port] = splitProtoPort(e);
    let range: [number, number];
    try { range = parsePortRange(port); } catch (err) { throw new UsageError(`invalid range format for --expose: ${e}, error: ${(err as Error).message}`, 125); }
    for (let n = range[0]; n <= range[1]; n++) exposed[`${n}/${proto}`] = {};
  }
  // Go marshals maps with sorted keys: send them in the same order.
  const sorted = <T>(m: Record<string, T>) => Object.fromEntries(Object.keys(m).sort().map((k) => [k, m[k]]));
  return { exposed: sorted(exposed), bindings: sorted(bindings) };
}

/** One --network value (docker's NetworkAttachmentOpts): a name, or "name=n,alias=a,ip=...,driver-opt=k=v,...". */
export interface NetworkAttachment {
  target: string;
  aliases?: string[];
  driverOpts?: Record<string, string>;
  links?: string[];
  ipv4?: string;
  ipv6?: string;
  linkLocalIPs?: string[];
  macAddress?: string;
  gwPriority?: number;
}

/** opts.NetworkOpt.Set: the long form is recognised by any "word=word" in the value; it is read lower-cased. */
export function parseNetworkOpt(value: string): NetworkAttachment {
  if (!/\w+=\w+(,\w+=\w+)*/.test(value)) return { target: value };
  const n: NetworkAttachment = { target: '', aliases: [] };
  for (const field of readCSVRecord(value)) {
    const lower = field.toLowerCase();
    const eq = lower.indexOf('=');
    if (eq <= 0) throw new Error(`invalid field ${field}`);
    const key = lower.slice(0, eq).trim(), val = lower.slice(eq + 1).trim();
    switch (key) {
      case 'name': n.target = val; break;
      case 'alias': n.aliases!.push(val); break;
      case 'ip': n.ipv4 = val; break;
      case 'ip6': n.ipv6 = val; break;
      case 'mac-address': n.macAddress = val; break;
      case 'link-local-ip': (n.linkLocalIPs ??= []).push(val); break;
      case 'driver-opt': {
        const i = val.indexOf('=');
        const k = i >= 0 ? val.slice(0, i).trim() : '';
        if (i < 0 || !k) throw new Error('invalid key value pair format in driver options');
        (n.driverOpts ??= {})[k] = val.slice(i + 1).trim();
        break;
      }
      case 'gw-priority': {
        if (!/^[+-]?\d+$/.test(val)) throw new Error(`invalid gw-priority (${val}): invalid syntax`);
        n.gwPriority = Number(val);
        break;
      }
      default: throw new Error(`invalid field key ${key}`);
    }
  }
  if (!n.target) throw new Error('network name/id is not specified');
  return n;
}

function validateNetworkOpt(value: string): string {
  parseNetworkOpt(value);
  return value;
}

/** container.NetworkMode.IsUserDefined: not default, bridge, host, none or container:<id>. */
export const isUserDefinedNetwork = (n: string) => !['default', 'bridge', 'host', 'none'].includes(n) && !n.startsWith('container:');

/**
 * docker's parseNetworkOpts: the endpoint settings per network. --network-alias, --link, --ip,
 * --ip6, --mac-address and --link-local-ip apply to the first network; without --network they apply
 * to "default", whose endpoint is always sent. A single network given without options gets none
 * (the engine makes it).
 */
export function networkEndpoints(o: {
  networks: NetworkAttachment[]; aliases: string[]; links: string[]; ipv4: string; ipv6: string; macAddress: string; linkLocalIPs: string[];
}): Record<string, EndpointSettings> {
  const apply = (n: NetworkAttachment): NetworkAttachment => {
    const conflict = (what: string) => new UsageError(`conflicting options: cannot specify both ${what}`, 125);
    if (n.aliases?.length && o.aliases.length) throw conflict('--network-alias and per-network alias');
    if (n.links?.length && o.links.length) throw conflict('--link and per-network links');
    if (n.ipv4 && o.ipv4) throw conflict('--ip and per-network IPv4 address');
    if (n.ipv6 && o.ipv6) throw conflict('--ip6 and per-network IPv6 address');
    if (n.macAddress && o.macAddress) throw conflict('--mac-address and per-network MAC address');
    if (n.linkLocalIPs?.length && o.linkLocalIPs.length) throw conflict('--link-local-ip and per-network link-local IP addresses');
    const r = { ...n };
    if (o.aliases.length) r.aliases = [...o.aliases];
    // On a user-defined network --link makes an alias; on the default bridge it is a legacy link.
    if (isUserDefinedNetwork(n.target) && o.links.length) r.links = [...o.links];
    if (o.ipv4) r.ipv4 = o.ipv4;
    if (o.ipv6) r.ipv6 = o.ipv6;
    if (o.macAddress) r.macAddress = o.macAddress;
    if (o.linkLocalIPs.length) r.linkLocalIPs = [...o.linkLocalIPs];
    return r;
  };
  const endpoint = (n: NetworkAttachment): { ep: EndpointSettings; empty: boolean } => {
    if (!n.target.trim()) throw new UsageError('no name set for network', 125);
    if (!isUserDefinedNetwork(n.target)) {
      if (n.aliases?.length) throw new UsageError('network-scoped aliases are only supported for user-defined networks', 125);
      if (n.links?.length) throw new UsageError('links are only supported for user-defined networks', 125);
    }
    if (n.macAddress && !isMACAddress(n.macAddress)) throw new UsageError(`${n.macAddress} is not a valid mac address`, 125);
    const aliases = n.aliases?.length ? n.aliases : null;
    const driverOpts = n.driverOpts && Object.keys(n.driverOpts).length ? n.driverOpts : null;
    const links = n.links?.length ? n.links : null;
    const ep = endpointSettings({ aliases, driverOpts, links, ipv4: n.ipv4, ipv6: n.ipv6, linkLocalIPs: n.linkLocalIPs, macAddress: n.macAddress, gwPriority: n.gwPriority });
    const empty = !aliases && !driverOpts && !links && !ep.IPAMConfig && !n.macAddress && !n.gwPriority;
    return { ep, empty };
  };
  const out: Record<string, EndpointSettings> = {};
  if (!o.networks.length) {
    out.default = endpoint(apply({ target: 'default' })).ep;
    return out;
  }
  let userDefined = false, other = false;
  o.networks.forEach((n, i) => {
    if (isUserDefinedNetwork(n.target)) userDefined = true; else other = true;
    const { ep, empty } = endpoint(i === 0 ? apply(n) : n);
    if (out[n.target]) throw new UsageError(`network "${n.target}" is specified multiple times`, 125);
    if (i === 0 && o.networks.length === 1 && empty) return;
    out[n.target] = ep;
  });
  if (userDefined && other) throw new UsageError('conflicting options: cannot attach both user-defined and non-user-defined network-modes', 125);
  return out;
}

/** docker's localhostDNSWarning: the first loopback --dns server, which may not work inside a container. */
export function localhostDNSWarning(dns: string[] | undefined): string | undefined {
  for (const d of dns ?? []) {
    const ip = parseIP(d);
    if (!ip) continue;
    const loopback = ip.length === 4 ? ip[0] === 127 : ip.every((b, k) => b === (k === 15 ? 1 : 0)) || (ip.slice(0, 10).every((b) => b === 0) && ip[10] === 0xff && ip[11] === 0xff && ip[12] === 127);
    if (loopback) return `Localhost DNS (${d}) may fail in containers.`;
  }
  return undefined;
}

function parseMountFlag(spec: string): NonNullable<HostConfig['Mounts']>[number] {
  const m: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    m[(eq >= 0 ? part.slice(0, eq) : part).toLowerCase()] = eq >= 0 ? part.slice(eq + 1) : 'true';
  }
  const type = (m.type ?? 'volume') as 'bind' | 'volume' | 'tmpfs';
  const target = m.target ?? m.destination ?? m.dst;
  if (!target) throw new UsageError('target is required', 125);
  const ro = m.readonly ?? m.ro;
  const mount: NonNullable<HostConfig['Mounts']>[number] = { Type: type, Source: m.source ?? m.src, Target: target };
  if (ro !== undefined) mount.ReadOnly = ro === 'true' || ro === '1';
  if (type === 'bind' && m['bind-propagation']) mount.BindOptions = { Propagation: m['bind-propagation'] };
  if (type === 'tmpfs' && (m['tmpfs-size'] || m['tmpfs-mode'])) mount.TmpfsOptions = { SizeBytes: m['tmpfs-size'] ? parseRAM(m['tmpfs-size']) : undefined, Mode: m['tmpfs-mode'] ? parseInt(m['tmpfs-mode'], 8) : undefined };
  return mount;
}

/** Builds the ContainerCreate body from parsed run/create flags; args = [IMAGE, COMMAND...]. */
export function buildCreateRequest(p: Parsed, detach: boolean): { body: ContainerCreateRequest; name: string; platform: string } {
  const o = p.opts as Record<string, never>;
  const s = (k: string) => p.opts[k] as string;
  const l = (k: string) => p.opts[k] as string[];
  const b = (k: string) => p.opts[k] as boolean;
  void o;
  const [image, ...cmd] = p.args;

  const attach = l('attach').map((x) => x.toLowerCase());
  for (const a of attach) if (!['stdin', 'stdout', 'stderr'].includes(a)) throw new UsageError(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`, 125);
  // `run -d -a` (docker's run.go, after parsing): a plain error, status 1.
  if (detach && attach.length) throw new StatusError(1, 'conflicting options: cannot specify both --attach and --detach');
  // docker parse() validates the MAC address before anything else it reads.
  if (s('mac-address') && !isMACAddress(s('mac-address'))) throw new UsageError(`${s('mac-address')} is not a valid mac address`, 125);
  let attachStdin = attach.includes('stdin'), attachStdout = attach.includes('stdout'), attachStderr = attach.includes('stderr');
  if (!attach.length && !detach) { attachStdout = true; attachStderr = true; if (b('interactive')) attachStdin = true; }

  const env: string[] = [];
  for (const f of l('env-file')) env.push(...readKVFile(f, true));
  for (const e of l('env')) env.push(envValue(e));
  const labels: Record<string, string> = {};
  for (const f of l('label-file')) for (const kv of readKVFile(f, false)) { const i = kv.indexOf('='); labels[i >= 0 ? kv.slice(0, i) : kv] = i >= 0 ? kv.slice(i + 1) : ''; }
  if (s('health-on-failure')) {
    if (!['none', 'kill', 'restart', 'stop'].includes(s('health-on-failure'))) throw new UsageError(`invalid argument "${s('health-on-failure')}" for "--health-on-failure" flag: use none, kill, restart or stop`, 125);
    labels['berth.health-on-failure'] = s('health-on-failure');
  }
  for (const kv of l('label')) { const i = kv.indexOf('='); labels[i >= 0 ? kv.slice(0, i) : kv] = i >= 0 ? kv.slice(i + 1) : ''; }

  const { exposed, bindings: portBindings } = parsePorts(l('publish'), l('expose'));

  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const v of l('volume')) {
    // "src:dst[:mode]" is a bind or named volume; a lone "/dst" is an anonymous volume.
    const parts = v.split(':');
    if (parts.length === 1) volumes[parts[0]] = {};
    else binds.push(v);
  }

  const tmpfs: Record<string, string> = {};
  for (const t of l('tmpfs')) { const i = t.indexOf(':'); tmpfs[i >= 0 ? t.slice(0, i) : t] = i >= 0 ? t.slice(i + 1) : ''; }

  const restart = s('restart');
  let restartPolicy: HostConfig['RestartPolicy'] = { Name: 'no', MaximumRetryCount: 0 };
  if (restart && restart !== 'no') {
    const [name, count] = restart.split(':');
    if (!['always', 'unless-stopped', 'on-failure'].includes(name)) throw new UsageError(`invalid restart policy '${name}'`, 125);
    if (count !== undefined && name !== 'on-failure') throw new UsageError(`invalid restart policy format: maximum retry count can only be used with 'on-failure'`, 125);
    restartPolicy = { Name: name as 'always', MaximumRetryCount: count ? Number(count) : 0 };
  }
  if (b('rm') && restart && restart !== 'no') throw new UsageError('Conflicting options: --restart and --rm', 125);

  const logOpts: Record<string, string> = {};
  for (const kv of l('log-opt')) { const i = kv.indexOf('='); if (i < 0) throw new UsageError(`invalid key value pair format in log-opt: ${kv}`, 125); logOpts[kv.slice(0, i)] = kv.slice(i + 1); }

  let entrypoint: string[] | undefined;
  if (s('entrypoint')) entrypoint = [s('entrypoint')];
  else if (p.changed.has('entrypoint')) entrypoint = [''];

  const networks = l('network').map(parseNetworkOpt);
  const network = networks[0]?.target ?? 'default';
  const endpoints = networkEndpoints({
    networks, aliases: l('network-alias'), links: l('link'), ipv4: s('ip'), ipv6: s('ip6'), macAddress: s('mac-address'), linkLocalIPs: l('link-local-ip'),
  });

  const hostConfig: HostConfig = {
    Binds: binds.length ? binds : null,
    ContainerIDFile: s('cidfile'),
    LogConfig: { Type: s('log-driver'), Config: logOpts },
    NetworkMode: network,
    PortBindings: portBindings,
    RestartPolicy: restartPolicy,
    AutoRemove: b('rm'),
    VolumeDriver: '',
    VolumesFrom: l('volumes-from').length ? l('volumes-from') : null,
    CapAdd: l('cap-add').length ? l('cap-add') : null,
    CapDrop: l('cap-drop').length ? l('cap-drop') : null,
    Dns: l('dns'), DnsOptions: l('dns-option'), DnsSearch: l('dns-search'),
    ExtraHosts: l('add-host').length ? l('add-host') : null,
    GroupAdd: l('group-add').length ? l('group-add') : null,
    IpcMode: s('ipc'), PidMode: s('pid'), UTSMode: s('uts'), UsernsMode: s('userns'),
    Links: l('link').length ? l('link') : null,
    OomScoreAdj: p.opts['oom-score-adj'] as number,
    Privileged: b('privileged'),
    PublishAllPorts: b('publish-all'),
    ReadonlyRootfs: b('read-only'),
    SecurityOpt: l('security-opt').length ? l('security-opt') : null,
    Runtime: s('runtime') || undefined,
    Init: p.changed.has('init') ? b('init') : null,
  };
  if (Object.keys(tmpfs).length) hostConfig.Tmpfs = tmpfs;
  if (l('mount').length) hostConfig.Mounts = l('mount').map(parseMountFlag);
  // The flags' validators (docker's opts.MemBytes, MemSwapBytes, NanoCPUs) left byte and nano counts.
  if (s('memory')) hostConfig.Memory = Number(s('memory'));
  if (s('memory-swap')) hostConfig.MemorySwap = Number(s('memory-swap'));
  if (s('cpus')) hostConfig.NanoCpus = Number(s('cpus'));
  if (p.changed.has('cpu-shares')) hostConfig.CpuShares = p.opts['cpu-shares'] as number;
  if (s('shm-size')) hostConfig.ShmSize = Number(s('shm-size'));
  if (p.changed.has('pids-limit')) hostConfig.PidsLimit = p.opts['pids-limit'] as number;
  if (l('sysctl').length) hostConfig.Sysctls = Object.fromEntries(l('sysctl').map((kv) => { const i = kv.indexOf('='); return [kv.slice(0, i), kv.slice(i + 1)]; }));
  if (l('ulimit').length) {
    hostConfig.Ulimits = l('ulimit').map((u) => {
      const [name, limits] = u.split('=');
      const [soft, hard = soft] = (limits ?? '').split(':');
      if (!name || soft === '' || Number.isNaN(Number(soft))) throw new UsageError(`invalid ulimit argument: ${u}`, 125);
      return { Name: name, Soft: Number(soft), Hard: Number(hard) };
    });
  }
  if (l('device').length) {
    hostConfig.Devices = l('device').map((d) => {
      const [host, cont = host, perms = 'rwm'] = d.split(':');
      return { PathOnHost: host, PathInContainer: cont, CgroupPermissions: perms };
    });
  }

  const body: ContainerCreateRequest = {
    Hostname: s('hostname'),
    Domainname: s('domainname'),
    User: s('user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
    Tty: b('tty'),
    OpenStdin: b('interactive'),
    StdinOnce: false,
    Env: env,
    Cmd: cmd.length ? cmd : null,
    Image: image,
    Volumes: Object.keys(volumes).length ? volumes : null,
    WorkingDir: s('workdir'),
    Entrypoint: entrypoint ?? null,
    Labels: labels,
    StopSignal: s('stop-signal') || undefined,
    StopTimeout: p.changed.has('stop-timeout') ? (p.opts['stop-timeout'] as number) : undefined,
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: endpoints },
  };
  // run: a container with stdin attached closes it on the first detach (docker's StdinOnce).
  if (body.OpenStdin && body.AttachStdin) body.StdinOnce = true;
  if (b('no-healthcheck')) body.Healthcheck = { Test: ['NONE'] };
  else if (s('health-cmd') || s('health-interval') || s('health-timeout') || s('health-start-period') || s('health-start-interval') || p.changed.has('health-retries')) {
    body.Healthcheck = {
      Test: s('health-cmd') ? ['CMD-SHELL', s('health-cmd')] : undefined,
      Interval: s('health-interval') ? parseGoDuration(s('health-interval')) * 1e6 : undefined,
      Timeout: s('health-timeout') ? parseGoDuration(s('health-timeout')) * 1e6 : undefined,
      StartPeriod: s('health-start-period') ? parseGoDuration(s('health-start-period')) * 1e6 : undefined,
      StartInterval: s('health-start-interval') ? parseGoDuration(s('health-start-interval')) * 1e6 : undefined,
      Retries: p.changed.has('health-retries') ? (p.opts['health-retries'] as number) : undefined,
    };
  }
  return { body, name: s('name'), platform: s('platform') };
}
