// Container commands that need no stdio streaming: ps, stop, kill, rm, logs, inspect, top, ...
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { StdcopyDemuxer } from '../../client/stdcopy';
import { StatusError, bool, int, list, str, type Command } from '../cli';
import { CONTAINER_HEADERS, ContainerContext, DEFAULT_PS_FORMAT } from '../format/contexts';
import { byteOrder, renderRows } from '../format/formatter';
import { tabwrite } from '../format/tabwriter';
import { confirm, daemonMessage, forEachArg, parseTimestamp, printInspect, refuseTerminal } from './shared';
import { printPruneResult, pruneContainers } from './prune';

const fmtFlag = { long: 'format', type: 'string' as const, help: 'Format output using a custom template' };
const filterFlag = { long: 'filter', short: 'f', type: 'list' as const, meta: 'filter', help: 'Filter output based on conditions provided' };

const ps: Command = {
  spec: {
    name: 'ps', usage: 'ps [OPTIONS]', description: 'List containers', maxArgs: 0, aliases: ['container ls', 'container list', 'container ps', 'ps'],
    flags: [
      { long: 'all', short: 'a', type: 'bool', help: 'Show all containers (default shows just running)' },
      filterFlag, fmtFlag,
      { long: 'last', short: 'n', type: 'int', def: -1, help: 'Show n last created containers (includes all states)' },
      { long: 'latest', short: 'l', type: 'bool', help: 'Show the latest created container (includes all states)' },
      { long: 'no-trunc', type: 'bool', help: "Don't truncate output" },
      { long: 'quiet', short: 'q', type: 'bool', help: 'Only display container IDs' },
      { long: 'size', short: 's', type: 'bool', help: 'Display total file sizes' },
    ],
  },
  async run(cli, p) {
    let format = str(p, 'format');
    const quiet = bool(p, 'quiet');
    let limit = int(p, 'last');
    if (bool(p, 'latest') && limit === -1) limit = 1;
    const size = bool(p, 'size') || (!quiet && format.includes('.Size'));
    const containers = await cli.client.containerList({ all: bool(p, 'all'), limit, size, filters: list(p, 'filter') });
    if (quiet && !format) format = '{{.ID}}';
    let def = DEFAULT_PS_FORMAT;
    if (size) def += '\t{{.Size}}';
    if (!format) format = def;
    const trunc = !bool(p, 'no-trunc');
    const now = Date.now();
    cli.out.write(renderRows(format, containers.map((c) => new ContainerContext(c, trunc, now)), CONTAINER_HEADERS, def));
  },
};

const stop: Command = {
  spec: {
    name: 'stop', usage: 'stop [OPTIONS] CONTAINER [CONTAINER...]', description: 'Stop one or more running containers', minArgs: 1,
    flags: [
      { long: 'signal', short: 's', type: 'string', help: 'Signal to send to the container' },
      { long: 'time', short: 't', type: 'int', help: 'Seconds to wait before killing the container' },
      { long: 'timeout', type: 'int', hidden: true },
    ],
  },
  async run(cli, p) {
    const timeout = p.changed.has('time') ? int(p, 'time') : p.changed.has('timeout') ? int(p, 'timeout') : undefined;
    await forEachArg(cli, p.args, (c) => cli.client.containerStop(c, { signal: str(p, 'signal') || undefined, timeout }));
  },
};

const restart: Command = {
  spec: { ...stop.spec, name: 'restart', usage: 'restart [OPTIONS] CONTAINER [CONTAINER...]', description: 'Restart one or more containers' },
  async run(cli, p) {
    const timeout = p.changed.has('time') ? int(p, 'time') : p.changed.has('timeout') ? int(p, 'timeout') : undefined;
    await forEachArg(cli, p.args, (c) => cli.client.containerRestart(c, { signal: str(p, 'signal') || undefined, timeout }));
  },
};

const kill: Command = {
  spec: {
    name: 'kill', usage: 'kill [OPTIONS] CONTAINER [CONTAINER...]', description: 'Kill one or more running containers', minArgs: 1,
    flags: [{ long: 'signal', short: 's', type: 'string', help: 'Signal to send to the container' }],
  },
  async run(cli, p) { await forEachArg(cli, p.args, (c) => cli.client.containerKill(c, str(p, 'signal') || undefined)); },
};

const pause: Command = {
  spec: { name: 'pause', usage: 'pause CONTAINER [CONTAINER...]', description: 'Pause all processes within one or more containers', minArgs: 1, flags: [] },
  async run(cli, p) { await forEachArg(cli, p.args, (c) => cli.client.containerPause(c)); },
};
const unpause: Command = {
  spec: { name: 'unpause', usage: 'unpause CONTAINER [CONTAINER...]', description: 'Unpause all processes within one or more containers', minArgs: 1, flags: [] },
  async run(cli, p) { await forEachArg(cli, p.args, (c) => cli.client.containerUnpause(c)); },
};

const rm: Command = {
  spec: {
    name: 'rm', usage: 'rm [OPTIONS] CONTAINER [CONTAINER...]', description: 'Remove one or more containers', minArgs: 1,
    flags: [
      { long: 'force', short: 'f', type: 'bool', help: 'Force the removal of a running container (uses SIGKILL)' },
      { long: 'link', short: 'l', type: 'bool', help: 'Remove the specified link' },
      { long: 'volumes', short: 'v', type: 'bool', help: 'Remove anonymous volumes associated with the container' },
    ],
  },
  async run(cli, p) {
    const force = bool(p, 'force');
    const errs: string[] = [];
    for (const c of p.args) {
      const name = c.replace(/^\/+/, '');
      if (!name) { errs.push('Error: container name cannot be empty'); continue; }
      try {
        await cli.client.containerRemove(name, { force, volumes: bool(p, 'volumes'), link: bool(p, 'link') });
        cli.print(c);
      } catch (e) {
        // `rm -f` of a missing container still prints the daemon's error, but exits 0 (docker 28).
        if (force && (e as { status?: number }).status === 404) { cli.printErr(daemonMessage(e)); continue; }
        errs.push(daemonMessage(e));
      }
    }
    if (errs.length) throw new StatusError(1, errs.join('\n'));
  },
};

const rename: Command = {
  spec: { name: 'rename', usage: 'rename CONTAINER NEW_NAME', description: 'Rename a container', minArgs: 2, maxArgs: 2, flags: [] },
  async run(cli, p) {
    const [old, name] = p.args.map((a) => a.trim());
    if (!old || !name) throw new StatusError(1, 'Error: neither old nor new names may be empty');
    try { await cli.client.containerRename(old, name); } catch (e) {
      throw new StatusError(1, `${daemonMessage(e)}\nError: failed to rename container named ${old}`);
    }
  },
};

const wait: Command = {
  spec: { name: 'wait', usage: 'wait CONTAINER [CONTAINER...]', description: 'Block until one or more containers stop, then print their exit codes', minArgs: 1, flags: [] },
  async run(cli, p) {
    await forEachArg(cli, p.args, async (c) => {
      const res = await cli.client.containerWait(c, 'not-running').result;
      cli.print(String(res.StatusCode));
    }, false);
  },
};

const logs: Command = {
  spec: {
    name: 'logs', usage: 'logs [OPTIONS] CONTAINER', description: 'Fetch the logs of a container', minArgs: 1, maxArgs: 1,
    flags: [
      { long: 'details', type: 'bool', help: 'Show extra details provided to logs' },
      { long: 'follow', short: 'f', type: 'bool', help: 'Follow log output' },
      { long: 'since', type: 'string', help: 'Show logs since timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
      { long: 'tail', short: 'n', type: 'string', def: 'all', help: 'Number of lines to show from the end of the logs' },
      { long: 'timestamps', short: 't', type: 'bool', help: 'Show timestamps' },
      { long: 'until', type: 'string', help: 'Show logs before a timestamp (e.g. "2013-01-02T13:23:37Z") or relative (e.g. "42m" for 42 minutes)' },
    ],
  },
  async run(cli, p) {
    const info = await cli.client.containerInspect(p.args[0]);
    const ac = new AbortController();
    const onSig = () => ac.abort();
    process.once('SIGINT', onSig);
    try {
      const res = await cli.client.containerLogs(info.Id, {
        follow: bool(p, 'follow'), since: parseTimestamp(str(p, 'since')), until: parseTimestamp(str(p, 'until')),
        timestamps: bool(p, 'timestamps'), tail: str(p, 'tail'), details: bool(p, 'details'),
      }, ac.signal);
      if (info.Config.Tty) await pipeline(res, passThroughTo(cli.out));
      else await pipeline(res, new StdcopyDemuxer(cli.out, cli.err));
    } catch (e) {
      if ((e as { name?: string }).name !== 'AbortError') throw e;
    } finally {
      process.off('SIGINT', onSig);
    }
  },
};

export function passThroughTo(out: NodeJS.WritableStream): NodeJS.WritableStream {
  // Don't let pipeline end the process's stdout.
  return new Writable({ write(chunk, _e, cb) { if (out.write(chunk)) cb(); else out.once('drain', () => cb()); } });
}

const inspect: Command = {
  spec: {
    name: 'container inspect', usage: 'container inspect [OPTIONS] CONTAINER [CONTAINER...]', description: 'Display detailed information on one or more containers', minArgs: 1,
    flags: [
      { long: 'format', short: 'f', type: 'string', help: 'Format output using a custom template' },
      { long: 'size', short: 's', type: 'bool', help: 'Display total file sizes' },
    ],
  },
  async run(cli, p) {
    const found: unknown[] = [];
    const errs: string[] = [];
    for (const c of p.args) {
      try { found.push(await cli.client.containerInspect(c, bool(p, 'size'))); } catch (e) { errs.push(daemonMessage(e)); }
    }
    printInspect(cli, found, str(p, 'format'));
    if (errs.length) throw new StatusError(1, errs.join('\n'));
  },
};

const top: Command = {
  spec: { name: 'top', usage: 'top CONTAINER [ps OPTIONS]', description: 'Display the running processes of a container', minArgs: 1, flags: [], interspersed: false },
  async run(cli, p) {
    const [c, ...psArgs] = p.args;
    const res = await cli.client.containerTop(c, psArgs.join(' '));
    const lines = [res.Titles.join('\t'), ...res.Processes.map((r) => r.join('\t'))];
    cli.out.write(tabwrite(lines.join('\n') + '\n', 20, 3));
  },
};

const diff: Command = {
  spec: { name: 'diff', usage: 'diff CONTAINER', description: "Inspect changes to files or directories on a container's filesystem", minArgs: 1, maxArgs: 1, flags: [] },
  async run(cli, p) {
    const changes = (await cli.client.containerChanges(p.args[0])) ?? [];
    for (const ch of changes) cli.print(`${['C', 'A', 'D'][ch.Kind] ?? '?'} ${ch.Path}`);
  },
};

const port: Command = {
  spec: { name: 'port', usage: 'port CONTAINER [PRIVATE_PORT[/PROTO]]', description: 'List port mappings or a specific mapping for the container', minArgs: 1, maxArgs: 2, flags: [] },
  async run(cli, p) {
    const info = await cli.client.containerInspect(p.args[0]);
    const ports = info.NetworkSettings.Ports ?? {};
    const hostPort = (b: { HostIp?: string; HostPort?: string }) => {
      const ip = b.HostIp ?? '';
      return `${ip.includes(':') ? `[${ip}]` : ip}:${b.HostPort ?? ''}`;
    };
    if (p.args[1]) {
      let [portNum, proto = 'tcp'] = p.args[1].split('/');
      proto = proto.toLowerCase();
      const key = `${portNum}/${proto}`;
      const bindings = ports[key];
      if (bindings?.length) { for (const b of bindings) cli.print(hostPort(b)); return; }
      throw new StatusError(1, `Error: No public port '${key}' published for ${p.args[0]}`);
    }
    const out: string[] = [];
    const keys = Object.keys(ports).sort((a, b) => parseInt(a) - parseInt(b) || byteOrder(a, b));
    for (const k of keys) for (const b of ports[k] ?? []) out.push(`${k} -> ${hostPort(b)}`);
    if (out.length) cli.print(out.join('\n'));
  },
};

const prune: Command = {
  spec: {
    name: 'container prune', usage: 'container prune [OPTIONS]', description: 'Remove all stopped containers', maxArgs: 0,
    flags: [{ long: 'filter', type: 'list', meta: 'filter', help: 'Provide filter values (e.g. "until=<timestamp>")' }, { long: 'force', short: 'f', type: 'bool', help: 'Do not prompt for confirmation' }],
  },
  async run(cli, p) {
    if (!bool(p, 'force') && !(await confirm(cli, 'WARNING! This will remove all stopped containers.'))) return 0;
    printPruneResult(cli, await pruneContainers(cli, list(p, 'filter')));
  },
};

const commit: Command = {
  spec: {
    name: 'commit', usage: 'commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]', description: "Create a new image from a container's changes", minArgs: 1, maxArgs: 2,
    flags: [
      { long: 'author', short: 'a', type: 'string', help: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")' },
      { long: 'change', short: 'c', type: 'list', help: 'Apply Dockerfile instruction to the created image' },
      { long: 'message', short: 'm', type: 'string', help: 'Commit message' },
      { long: 'pause', short: 'p', type: 'bool', def: true, help: 'Pause container during commit' },
    ],
  },
  async run(cli, p) {
    const [c, ref] = p.args;
    let repo: string | undefined, tag: string | undefined;
    if (ref) {
      const colon = ref.lastIndexOf(':');
      if (colon > ref.lastIndexOf('/')) { repo = ref.slice(0, colon); tag = ref.slice(colon + 1); } else repo = ref;
    }
    const res = await cli.client.containerCommit(c, { repo, tag, comment: str(p, 'message'), author: str(p, 'author'), changes: list(p, 'change'), pause: bool(p, 'pause') });
    cli.print(res.Id);
  },
};

const exportCmd: Command = {
  spec: {
    name: 'export', usage: 'export [OPTIONS] CONTAINER', description: "Export a container's filesystem as a tar archive", minArgs: 1, maxArgs: 1,
    flags: [{ long: 'output', short: 'o', type: 'string', help: 'Write to a file, instead of STDOUT' }],
  },
  async run(cli, p) {
    const out = str(p, 'output');
    if (!out) refuseTerminal(cli, 'export');
    const res = await cli.client.containerExport(p.args[0]);
    await pipeline(res, out ? createWriteStream(out) : passThroughTo(cli.out));
  },
};

export const commands: Record<string, Command> = {
  ps, stop, restart, kill, pause, unpause, rm, rename, wait, logs, inspect, top, diff, port, prune, commit, export: exportCmd,
};
