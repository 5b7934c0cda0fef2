// The EndpointSettings the docker CLI sends (run/create --network, network connect): moby's
// network.EndpointSettings marshalled by Go, so every field is there, zero-valued when unset.
import type { EndpointSettings } from '../../client/types';

export interface EndpointOptions {
  ipv4?: string;
  ipv6?: string;
  linkLocalIPs?: string[] | null;
  links?: string[] | null;
  aliases?: string[] | null;
  macAddress?: string;
  driverOpts?: Record<string, string> | null;
  gwPriority?: number;
  /** IPAMConfig is null unless set; network connect always sends one (possibly empty). */
  ipam?: boolean;
}

/** An EndpointSettings body in Go's field order; IPAMConfig's fields are omitempty. */
export function endpointSettings(o: EndpointOptions): EndpointSettings {
  let ipam: EndpointSettings['IPAMConfig'] = null;
  if (o.ipam || o.ipv4 || o.ipv6 || o.linkLocalIPs?.length) {
    ipam = {};
    if (o.ipv4) ipam.IPv4Address = o.ipv4;
    if (o.ipv6) ipam.IPv6Address = o.ipv6;
    if (o.linkLocalIPs?.length) ipam.LinkLocalIPs = o.linkLocalIPs;
  }
  return {
    IPAMConfig: ipam,
    Links: o.links ?? null,
    Aliases: o.aliases ?? null,
    MacAddress: o.macAddress ?? '',
    DriverOpts: o.driverOpts ?? null,
    GwPriority: o.gwPriority ?? 0,
    NetworkID: '',
    EndpointID: '',
    Gateway: '',
    IPAddress: '',
    IPPrefixLen: 0,
    IPv6Gateway: '',
    GlobalIPv6Address: '',
    GlobalIPv6PrefixLen: 0,
    DNSNames: null,
  };
}
