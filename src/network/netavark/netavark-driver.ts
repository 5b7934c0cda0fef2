import { mkdirSync } from 'node:fs';
import { run } from '../../sys/exec';
import { TOOL_ENV } from '../firewall';
import { internal } from '../../base/errors';
import type { Attachment, NetworkDriver } from '../network-driver';

export interface NetavarkOptions {
  /** The netavark and aardvark-dns programs (Debian ships them in /usr/lib/podman). */
  binary: string;
  aardvarkBinary: string;
  /** netavark's state directory (aardvark's name tables live here): a tmpfs under berthd's exec root. */
  configDir: string;
}

/** The name netavark knows a network by: unique per network, whatever its user-facing name. */
export function netavarkName(n: { id: string }): string {
  return `berth-${n.id.slice(0, 12)}`;
}

/** netavark's NetworkOptions JSON (podman's wire format, read on netavark's stdin). */
export function netavarkInput(a: Attachment): object {
  const networks: Record<string, object> = {};
  const info: Record<string, object> = {};
  for (const e of a.endpoints) {
    const n = e.network;
    // netavark names its iptables chains and aardvark's table after the network's name: two daemons'
    // `bridge` networks (or berth's and podman's `web`) would share and tear down each other's.
    const key = netavarkName(n);
    networks[key] = { static_ips: [e.ip], static_mac: e.mac, aliases: e.aliases, interface_name: e.interfaceName };
    info[key] = {
      name: key, id: n.id, driver: 'bridge', network_interface: n.bridge,
      subnets: [{ subnet: n.subnet, gateway: n.gateway }], ipv6_enabled: false, internal: n.internal, dns_enabled: n.dns,
      ipam_options: { driver: 'host-local' }, ...(n.mtu ? { options: { mtu: String(n.mtu) } } : {}),
    };
  }
  return {
    container_id: a.containerId, container_name: a.containerName,
    port_mappings: a.ports.map((p) => ({ host_ip: p.hostIp, container_port: p.containerPort, host_port: p.hostPort, range: p.range, protocol: p.protocol })),
    networks, network_info: info,
  };
}

/**
 * Runs netavark. Calls are serialized: concurrent netavark runs race on creating the same bridge
 * and on iptables (podman holds a lock around them for the same reason).
 */
export class NetavarkDriver implements NetworkDriver {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: NetavarkOptions) {
    mkdirSync(o.configDir, { recursive: true });
  }

  async setup(a: Attachment): Promise<void> {
    try {
      await this.netavark('setup', a);
    } catch (e) {
      // Another netavark user (podman, a second berthd) removed the generic chains while this run
      // used them: undo the half-made setup and do it again once; netavark recreates the chains.
      if (!/No chain|does not exist|already exists/.test((e as Error).message)) throw e;
      await this.netavark('teardown', a).catch(() => undefined);
      await this.netavark('setup', a);
    }
  }

  teardown(a: Attachment): Promise<void> {
    return this.netavark('teardown', a);
  }

  private netavark(cmd: 'setup' | 'teardown', a: Attachment): Promise<void> {
    if (!a.endpoints.length) return Promise.resolve();
    const args = ['--config', this.o.configDir, '--aardvark-binary', this.o.aardvarkBinary, cmd, a.netns];
    const next = this.queue.then(async () => {
      const r = await run(this.o.binary, args, { input: JSON.stringify(netavarkInput(a)), env: TOOL_ENV, allowFailure: true });
      if (r.code !== 0) throw internal(`netavark ${cmd}: ${netavarkError(r.stdout, r.stderr) || `exit status ${r.code}`}`);
    });
    this.queue = next.catch(() => undefined);
    return next;
  }
}

/** netavark's message from its output: `{"error": ...}` JSON, else stderr without its syslog complaint. */
export function netavarkError(stdout: string, stderr: string): string {
  for (const text of [stdout, stderr]) {
    for (const line of text.split('\n')) {
      try {
        const j = JSON.parse(line) as { error?: string };
        if (j && typeof j.error === 'string') return j.error;
      } catch { /* not JSON */ }
    }
  }
  return stderr.split('\n').filter((l) => l.trim() && !l.includes('syslog')).join('; ');
}
