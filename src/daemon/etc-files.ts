/**
 * The /etc files berth generates for a container (hostname, hosts, resolv.conf), as Docker writes
 * them. Pure: returns file contents; the engine writes and bind-mounts them.
 */
export function hostsFile(hostname: string, extraHosts: string[], ownAddress?: string): string {
  const lines = [
    '127.0.0.1\tlocalhost',
    '::1\tlocalhost ip6-localhost ip6-loopback',
    'fe00::0\tip6-localnet',
    'ff00::0\tip6-mcastprefix',
    'ff02::1\tip6-allnodes',
    'ff02::2\tip6-allrouters',
  ];
  for (const h of extraHosts) {
    // --add-host name:ip, where ip may itself contain colons (IPv6); Docker also accepts name=ip.
    const m = /^([^:=]+)[:=](.+)$/.exec(h);
    if (m) lines.push(`${m[2].replace(/^\[|\]$/g, '')}\t${m[1]}`);
  }
  if (ownAddress) lines.push(`${ownAddress}\t${hostname}`);
  return lines.join('\n') + '\n';
}

/**
 * resolv.conf from the host's, as Docker does: loopback nameservers are useless inside a container's
 * own network namespace, so they are dropped (Docker then falls back to public resolvers; berth
 * leaves none rather than point containers at addresses it was not told about). `networkDns` is the
 * DNS server of the container's network (aardvark-dns on its gateway), Docker's 127.0.0.11.
 */
export function resolvConf(hostResolv: string, dns: string[] = [], search: string[] = [], options: string[] = [], networkDns?: string): string {
  const out: string[] = [];
  const hostLines = hostResolv.split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  let servers = dns.length ? dns : hostLines.filter((l) => l.startsWith('nameserver')).map((l) => l.split(/\s+/)[1]).filter((ip) => ip && !/^127\.|^::1$/.test(ip));
  // The network's DNS server answers container names and forwards everything else to the host's
  // resolvers, so it replaces them; servers given with --dns stay after it.
  if (networkDns) servers = [networkDns, ...dns];
  const searches = search.length ? search : hostLines.filter((l) => l.startsWith('search')).flatMap((l) => l.split(/\s+/).slice(1));
  const opts = options.length ? options : hostLines.filter((l) => l.startsWith('options')).flatMap((l) => l.split(/\s+/).slice(1));
  for (const s of servers) out.push(`nameserver ${s}`);
  if (searches.length) out.push(`search ${searches.join(' ')}`);
  if (opts.length) out.push(`options ${opts.join(' ')}`);
  return out.join('\n') + '\n';
}
