/**
 * The contract between the engine and what wires a container's network namespace to its networks
 * (netavark here). The engine decides everything (addresses, MACs, aliases, host ports); a driver
 * only makes the kernel state match and undoes it.
 *
 * Lifecycle: setup(attachment) once the namespace exists and before the container's process starts;
 * setup again with further endpoints to connect a running container; teardown with the endpoints to
 * remove (all of them when the container stops). Errors: a failed setup leaves nothing of itself
 * behind (the engine still calls teardown to be sure); teardown of something already gone succeeds.
 */
export interface NetworkDriver {
  setup(a: Attachment): Promise<void>;
  teardown(a: Attachment): Promise<void>;
}

/** A network as a driver needs it. */
export interface NetworkSpec {
  id: string;
  name: string;
  /** The host's bridge interface. */
  bridge: string;
  subnet: string;
  gateway: string;
  /** No route out, no masquerading: containers reach only each other. */
  internal: boolean;
  /** Containers resolve each other's names through a DNS server on the gateway address. */
  dns: boolean;
  mtu?: number;
}

/** One interface of the container on one network. */
export interface Endpoint {
  network: NetworkSpec;
  /** Name inside the container: eth0, eth1, ... */
  interfaceName: string;
  ip: string;
  prefixLength: number;
  mac: string;
  /** Names that resolve to `ip` on this network (container name, its short ID, --network-alias). */
  aliases: string[];
}

export interface PortMapping {
  /** '' for every host address. */
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: 'tcp' | 'udp' | 'sctp';
  /** How many consecutive ports from hostPort/containerPort. */
  range: number;
}

export interface Attachment {
  containerId: string;
  containerName: string;
  /** Path of the container's network namespace file. */
  netns: string;
  endpoints: Endpoint[];
  /** Published ports; forwarded to the first endpoint's address. */
  ports: PortMapping[];
}
