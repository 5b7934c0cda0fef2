import { readFileSync, writeFileSync, rmSync } from 'node:fs';
import { run } from '../sys/exec';

/** Where the isolation chains live (see isolationRules). */
export const ISOLATION_TABLE = 'mangle';

/** A bridge berth has containers on, as the isolation rules need it. */
export interface ActiveBridge {
  name: string;
  internal: boolean;
}

/**
 * Docker's two-stage isolation between networks, as iptables-restore input (pure). The chains live
 * in the mangle table's FORWARD, which runs before the filter table's: netavark inserts its
 * NETAVARK_FORWARD jump (which accepts its subnets' traffic) at the top of filter FORWARD whenever it
 * remakes it, and would put itself in front of isolation rules kept there. Stage 1 sends
 * what leaves a bridge for another interface to stage 2, which drops it if that interface is another
 * bridge of ours; an internal network's traffic may not leave its bridge at all, nor enter it from
 * outside. netavark 1.4 accepts forwarding between any of its subnets, so without this a container
 * could reach every network.
 */
export function isolationRules(chain: string, bridges: readonly ActiveBridge[]): string {
  const s1 = `${chain}-1`;
  const s2 = `${chain}-2`;
  const lines = [`*${ISOLATION_TABLE}`, `:${s1} - [0:0]`, `:${s2} - [0:0]`];
  for (const b of bridges) {
    if (b.internal) {
      lines.push(`-A ${s1} -i ${b.name} ! -o ${b.name} -j DROP`, `-A ${s1} ! -i ${b.name} -o ${b.name} -j DROP`);
    } else {
      lines.push(`-A ${s1} -i ${b.name} ! -o ${b.name} -j ${s2}`);
    }
  }
  lines.push(`-A ${s1} -j RETURN`);
  for (const b of bridges) lines.push(`-A ${s2} -o ${b.name} -j DROP`);
  lines.push(`-A ${s2} -j RETURN`, 'COMMIT', '');
  return lines.join('\n');
}

/** netavark's chains that outlive its last network (it removes only per-network ones). */
const NETAVARK_GENERIC = {
  nat: { chains: ['NETAVARK-HOSTPORT-DNAT', 'NETAVARK-HOSTPORT-SETMARK', 'NETAVARK-HOSTPORT-MASQ'], emptyWhenUnused: ['NETAVARK-HOSTPORT-DNAT'] },
  filter: { chains: ['NETAVARK_FORWARD'], emptyWhenUnused: ['NETAVARK_FORWARD'] },
};

/** The jumps into netavark's generic chains from the built-in ones (as `iptables -S` prints them, minus `-A`). */
export function genericJumps(ruleLines: string, chains: readonly string[]): string[] {
  return ruleLines.split('\n').filter((l) => l.startsWith('-A ') && chains.some((c) => l.includes(`-j ${c}`)) && !chains.some((c) => l.startsWith(`-A ${c} `)));
}

/**
 * berth's own iptables state: the isolation chains while any of its bridges has containers, and,
 * when the last one goes, the generic chains netavark leaves behind and the ip_forward setting it
 * turned on, unless another netavark user (podman, a second berthd) still has networks up.
 */
export class Firewall {
  private applied = '';
  /** Nothing of berth's or netavark's generic state is left (unknown after a start: check once). */
  private clean = false;
  /** FORWARD jumps to the isolation chain (checked once, then known). */
  private jumped = false;
  private queue: Promise<unknown> = Promise.resolve();

  /** `chain` names this daemon's isolation chains; `stateFile` keeps ip_forward's value from before berth. */
  constructor(private readonly chain: string, private readonly stateFile: string) {}

  /** Makes the rules match `bridges` (serialized; a repeat of the same set does nothing). */
  update(bridges: readonly ActiveBridge[]): Promise<void> {
    const next = this.queue.then(() => this.apply(bridges));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** Records ip_forward before netavark turns it on (once: a berthd restart keeps the first value). */
  rememberForwarding(): void {
    try {
      readFileSync(this.stateFile);
    } catch {
      writeFileSync(this.stateFile, readFileSync('/proc/sys/net/ipv4/ip_forward', 'utf8').trim());
    }
  }

  private async apply(bridges: readonly ActiveBridge[]): Promise<void> {
    const sorted = [...bridges].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const rules = sorted.length ? isolationRules(this.chain, sorted) : '';
    const ipt = (args: string[]) => run('iptables', ['-w', '-t', ISOLATION_TABLE, ...args], { allowFailure: true, env: TOOL_ENV });
    if (sorted.length) {
      if (rules === this.applied) return;
      await run('iptables-restore', ['-w', '-n'], { input: rules, env: TOOL_ENV });
      if (!this.jumped) {
        const jump = ['FORWARD', '-j', `${this.chain}-1`];
        if ((await ipt(['-C', ...jump])).code !== 0) await ipt(['-I', ...jump]);
        this.jumped = true;
      }
      this.applied = rules;
      this.clean = false;
      return;
    }
    if (this.clean) return;
    await ipt(['-D', 'FORWARD', '-j', `${this.chain}-1`]);
    this.jumped = false;
    for (const c of [`${this.chain}-1`, `${this.chain}-2`]) await ipt(['-F', c]);
    for (const c of [`${this.chain}-1`, `${this.chain}-2`]) await ipt(['-X', c]);
    this.applied = '';
    // Clean only once nobody else's networks are up; until then, the next empty update tries again.
    this.clean = await this.removeNetavarkLeftovers();
  }

  private async removeNetavarkLeftovers(): Promise<boolean> {
    const listing: Record<string, string> = {};
    for (const table of ['nat', 'filter'] as const) {
      listing[table] = (await run('iptables', ['-w', '-t', table, '-S'], { allowFailure: true, env: TOOL_ENV })).stdout;
    }
    // Any other NETAVARK chain, or a generic chain with entries, means some network is still up.
    for (const [table, g] of Object.entries(NETAVARK_GENERIC)) {
      const text = listing[table];
      const chains = text.split('\n').filter((l) => l.startsWith('-N NETAVARK')).map((l) => l.slice(3));
      if (chains.some((c) => !g.chains.includes(c))) return false;
      if (g.emptyWhenUnused.some((c) => text.includes(`-A ${c} `))) return false;
    }
    // One atomic iptables-restore per table: the chains that must be empty are not flushed, so if a
    // netavark run elsewhere put a rule in them since the listing, the delete fails and all stays.
    for (const [table, g] of Object.entries(NETAVARK_GENERIC)) {
      if (!g.chains.some((c) => listing[table].split('\n').includes(`-N ${c}`))) continue;
      const restore = cleanupRestore(table, listing[table], g.chains, g.emptyWhenUnused);
      const r = await run('iptables-restore', ['-w', '-n'], { input: restore, env: TOOL_ENV, allowFailure: true });
      if (r.code !== 0) return false;
    }
    try {
      writeFileSync('/proc/sys/net/ipv4/ip_forward', readFileSync(this.stateFile, 'utf8').trim());
      rmSync(this.stateFile, { force: true });
    } catch { /* never recorded: berth did not turn it on */ }
    return true;
  }
}

/** iptables-restore input removing netavark's generic chains of one table and the jumps into them (pure). */
export function cleanupRestore(table: string, listing: string, chains: readonly string[], mustBeEmpty: readonly string[]): string {
  const present = chains.filter((c) => listing.split('\n').includes(`-N ${c}`));
  return [
    `*${table}`,
    ...genericJumps(listing, chains).map((j) => `-D ${j.slice(3)}`),
    ...present.filter((c) => !mustBeEmpty.includes(c)).map((c) => `-F ${c}`),
    ...present.map((c) => `-X ${c}`),
    'COMMIT', '',
  ].join('\n');
}

/** A short PATH for the network tools: netavark looks iptables up on every call. */
export const TOOL_ENV = { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' };
