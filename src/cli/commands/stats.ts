// `berth stats` / `berth container stats`, as docker CLI 28 runs it (cli/command/container/stats.go,
// stats_helpers.go): one stats stream per container, a frame every 500 ms; without names, the
// running (or, with -a, all) containers, kept current from the engine's container events.
import type { IncomingMessage } from 'node:http';
import { jsonMessages } from '../../client/engine-client';
import type { EventMessage, StatsResponse } from '../../client/types';
import { StatusError, bool, str, type Cli, type Command } from '../cli';
import { DEFAULT_STATS_FORMAT, STATS_HEADERS, StatsContext, type StatsEntry } from '../format/contexts';
import { renderContextRows } from '../format/formatter';
import { FORMAT_HELP } from '../flags';
import { daemonMessage } from './shared';

/** How often a streaming `stats` redraws (docker's ticker). */
const FRAME_MS = 500;
/** A collector with no sample for this long shows "--" (docker's collect). */
const SAMPLE_TIMEOUT_MS = 2000;

/**
 * CPU % as the docker CLI computes it on Linux (calculateCPUPercentUnix): the container's CPU time
 * over the host's between the two samples of one answer (precpu_stats, cpu_stats), times the
 * online CPUs (the per-CPU list's length when the engine does not say).
 */
export function cpuPercent(v: StatsResponse): number {
  const cpu = v.cpu_stats ?? {}, pre = v.precpu_stats ?? {};
  const cpuDelta = (cpu.cpu_usage?.total_usage ?? 0) - (pre.cpu_usage?.total_usage ?? 0);
  const systemDelta = (cpu.system_cpu_usage ?? 0) - (pre.system_cpu_usage ?? 0);
  const online = cpu.online_cpus || cpu.cpu_usage?.percpu_usage?.length || 0;
  return systemDelta > 0 && cpuDelta > 0 ? (cpuDelta / systemDelta) * online * 100 : 0;
}

/**
 * Memory use without the page cache (calculateMemUsageUnixNoCache): usage minus
 * total_inactive_file on cgroup v1, minus inactive_file on v2, as cadvisor and containerd count it.
 */
export function memoryUsage(mem: StatsResponse['memory_stats'] = {}): number {
  const usage = mem.usage ?? 0;
  const stats = mem.stats ?? {};
  if ('total_inactive_file' in stats && stats.total_inactive_file < usage) return usage - stats.total_inactive_file;
  const inactive = stats.inactive_file ?? 0;
  return inactive < usage ? usage - inactive : usage;
}

/** A stats answer as the row docker shows (its collect loop, Linux daemon). */
export function statsEntry(v: StatsResponse, container: string): StatsEntry {
  let blkRead = 0, blkWrite = 0;
  for (const e of v.blkio_stats?.io_service_bytes_recursive ?? []) {
    const op = e.op?.[0];
    if (op === 'r' || op === 'R') blkRead += e.value;
    else if (op === 'w' || op === 'W') blkWrite += e.value;
  }
  let rx = 0, tx = 0;
  for (const n of Object.values(v.networks ?? {})) { rx += n.rx_bytes; tx += n.tx_bytes; }
  const memory = memoryUsage(v.memory_stats);
  const limit = v.memory_stats?.limit ?? 0;
  return {
    Container: container, Name: v.name ?? '', ID: v.id ?? '', CPUPercentage: cpuPercent(v), Memory: memory, MemoryLimit: limit,
    MemoryPercentage: limit ? (memory / limit) * 100 : 0, NetworkRx: rx, NetworkTx: tx, BlockRead: blkRead, BlockWrite: blkWrite,
    PidsCurrent: v.pids_stats?.current ?? 0, IsInvalid: false,
  };
}

function emptyEntry(container: string): StatsEntry {
  return {
    Container: container, Name: '', ID: '', CPUPercentage: 0, Memory: 0, MemoryLimit: 0, MemoryPercentage: 0,
    NetworkRx: 0, NetworkTx: 0, BlockRead: 0, BlockWrite: 0, PidsCurrent: 0, IsInvalid: false,
  };
}

/** One container's collector: its latest row, and the error that made it invalid. */
class Collector {
  entry: StatsEntry;
  err?: Error;
  readonly first: Promise<void>;
  private gotFirst!: () => void;
  private readonly ac = new AbortController();
  constructor(readonly container: string) {
    this.entry = emptyEntry(container);
    this.first = new Promise((resolve) => { this.gotFirst = resolve; });
  }

  private fail(err: Error, reset: boolean): void {
    this.err = err;
    if (reset) this.entry = { ...emptyEntry(this.container), Name: this.entry.Name, ID: this.entry.ID };
    this.entry.IsInvalid = true;
  }

  /** Reads the container's stats (one answer, or the stream) until it ends or stop() is called. */
  async run(cli: Cli, stream: boolean): Promise<void> {
    // As docker: no sample within 2 s zeroes the row (and counts as the first, so nobody waits longer).
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => { this.fail(new Error('timeout waiting for stats'), true); this.gotFirst(); if (stream) arm(); }, SAMPLE_TIMEOUT_MS);
    };
    arm();
    try {
      let res: IncomingMessage;
      try { res = await cli.client.containerStats(this.container, stream, this.ac.signal); } catch (e) {
        this.fail(new Error(daemonMessage(e)), false);
        return;
      }
      try {
        for await (const v of jsonMessages<StatsResponse>(res)) {
          this.entry = statsEntry(v, this.container);
          this.err = undefined;
          this.gotFirst();
          if (!stream) { res.destroy(); return; }
          arm();
        }
        this.fail(new Error('EOF'), false);
      } catch (e) {
        if (!this.ac.signal.aborted) this.fail(e as Error, false);
      }
    } finally {
      clearTimeout(timer);
      this.gotFirst();
    }
  }

  stop(): void { this.ac.abort(); }
}

/** The collectors in the order they were added (docker's `stats` list). */
class CollectorSet {
  readonly list: Collector[] = [];
  constructor(private readonly cli: Cli, private readonly stream: boolean) {}
  /** Starts collecting for a container not already collected. */
  add(container: string): void {
    if (this.list.some((c) => c.container === container)) return;
    const c = new Collector(container);
    this.list.push(c);
    void c.run(this.cli, this.stream);
  }
  remove(container: string): void {
    const i = this.list.findIndex((c) => c.container === container);
    if (i >= 0) this.list.splice(i, 1)[0].stop();
  }
  /** Resolves when every collector has its first sample or error (docker's waitFirst). */
  async firstOfAll(): Promise<void> {
    for (let seen = 0; seen < this.list.length;) {
      const pending = this.list.slice(seen);
      seen = this.list.length;
      await Promise.all(pending.map((c) => c.first));
    }
  }
  stopAll(): void { for (const c of this.list) c.stop(); }
}

/** A streaming frame as docker draws it: cursor home, each line erased to its end, the rest of the screen cleared. */
export function redrawFrame(text: string): string {
  return `\x1b[H${text.split('\n').map((l) => `${l}\x1b[K\n`).join('')}\x1b[J`;
}

/**
 * Container events that change what `stats` without names shows: start (and create, with -a) adds
 * the container, die (without -a) removes it. Resolves when the subscription is in place; `done`
 * settles when the stream ends (an error rejects it).
 */
async function watchContainerEvents(cli: Cli, set: CollectorSet, all: boolean, signal: AbortSignal): Promise<{ done: Promise<void> }> {
  const res = await cli.client.events({ filters: ['type=container'] }, signal);
  const done = (async () => {
    for await (const e of jsonMessages<EventMessage>(res)) {
      const id = e.Actor?.ID?.slice(0, 12);
      if (!id) continue;
      if (e.Action === 'start' || (all && e.Action === 'create')) set.add(id);
      else if (!all && e.Action === 'die') set.remove(id);
    }
  })();
  return { done: done.catch((err) => { if (!signal.aborted) throw err; }) };
}

const stats: Command = {
  spec: {
    name: 'stats', usage: 'stats [OPTIONS] [CONTAINER...]', description: 'Display a live stream of container(s) resource usage statistics',
    aliases: ['container stats', 'stats'],
    flags: [
      { long: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
      { long: 'format', type: 'string', help: FORMAT_HELP },
      { long: 'no-stream', type: 'bool', help: 'Disable streaming stats and only pull the first result' },
      { long: 'no-trunc', type: 'bool', help: 'Do not truncate output' },
    ],
  },
  async run(cli, p) {
    const stream = !bool(p, 'no-stream');
    const all = bool(p, 'all');
    const showAll = p.args.length === 0;
    const set = new CollectorSet(cli, stream);
    const ac = new AbortController();
    let events: Promise<void> | undefined;
    try {
      if (showAll) {
        // Subscribed before listing, so a container started in between is not missed (as docker).
        // A single snapshot needs no updates.
        if (stream) events = (await watchContainerEvents(cli, set, all, ac.signal)).done;
        for (const c of await cli.client.containerList({ all })) set.add(c.Id.slice(0, 12));
        await set.firstOfAll();
      } else {
        for (const name of p.args) set.add(name);
        await set.firstOfAll();
        const errs = set.list.filter((c) => c.err).map((c) => c.err!.message);
        if (errs.length) throw new StatusError(1, errs.join('\n'));
      }
      const trunc = !bool(p, 'no-trunc');
      const format = str(p, 'format') || 'table';
      const frame = () => renderContextRows(format, set.list.map((c) => new StatsContext(c.entry, trunc)), STATS_HEADERS, DEFAULT_STATS_FORMAT);
      if (!stream) { cli.out.write(frame()); return; }
      let failed: unknown;
      let ended = false;
      events?.then(() => { ended = true; }, (e) => { failed = e; });
      for (;;) {
        await new Promise((r) => setTimeout(r, FRAME_MS));
        // The whole frame in one write, so the terminal does not flicker.
        cli.out.write(redrawFrame(frame()));
        if (!set.list.length && !showAll) return;
        // An events stream that ends means the daemon went away: stop quietly, as docker does.
        if (failed) throw new StatusError(1, daemonMessage(failed));
        if (ended) return;
      }
    } finally {
      ac.abort();
      set.stopAll();
    }
  },
};

export const commands: Record<string, Command> = { stats };
