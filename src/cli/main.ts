// The berth CLI's dispatcher. It stays small: command implementations are loaded on demand, so
// `berth --version` and every command start without evaluating the others.
import { Cli, StatusError, type Command } from './cli';
import { checkArgs, helpText, parseFlags, UsageError, useLine, type CommandSpec } from './flags';
import { isatty } from 'node:tty';
import { resolveHost } from '../client/host';

import { VERSION } from './version';
const PROG = 'berth';

type Loader = () => Promise<{ commands: Record<string, Command> }>;
const containerRun: Loader = () => import('./commands/container-run');
const container: Loader = () => import('./commands/container');
const cp: Loader = () => import('./commands/cp');
const image: Loader = () => import('./commands/image');
const system: Loader = () => import('./commands/system');
const buildCmd: Loader = () => import('./commands/build');
const volume: Loader = () => import('./commands/volume');
const network: Loader = () => import('./commands/network');
const registry: Loader = () => import('./commands/registry');
const trust: Loader = () => import('./commands/trust');
const stats: Loader = () => import('./commands/stats');
const update: Loader = () => import('./commands/update');
const events: Loader = () => import('./commands/events');
const disk: Loader = () => import('./commands/disk');

// command path -> [module, key in its `commands`]
const TABLE: Record<string, [Loader, string]> = {};
const add = (loader: Loader, names: Record<string, string>) => { for (const [n, k] of Object.entries(names)) TABLE[n] = [loader, k]; };
for (const prefix of ['', 'container ']) {
  add(containerRun, { [`${prefix}run`]: 'run', [`${prefix}create`]: 'create', [`${prefix}start`]: 'start', [`${prefix}attach`]: 'attach', [`${prefix}exec`]: 'exec' });
  add(container, {
    [`${prefix}stop`]: 'stop', [`${prefix}kill`]: 'kill', [`${prefix}restart`]: 'restart', [`${prefix}pause`]: 'pause',
    [`${prefix}unpause`]: 'unpause', [`${prefix}rm`]: 'rm', [`${prefix}rename`]: 'rename', [`${prefix}wait`]: 'wait',
    [`${prefix}logs`]: 'logs', [`${prefix}top`]: 'top', [`${prefix}diff`]: 'diff', [`${prefix}port`]: 'port',
    [`${prefix}commit`]: 'commit', [`${prefix}export`]: 'export',
  });
  add(cp, { [`${prefix}cp`]: 'cp' });
  add(stats, { [`${prefix}stats`]: 'stats' });
  add(update, { [`${prefix}update`]: 'update' });
}
add(events, { events: 'events', 'system events': 'events' });
add(disk, { 'system df': 'df', 'system prune': 'system prune', 'builder prune': 'builder prune' });
add(buildCmd, { 'builder build': 'build' });
add(container, { ps: 'ps', 'container ls': 'ps', 'container ps': 'ps', 'container list': 'ps', 'container prune': 'prune', 'container inspect': 'inspect', 'container remove': 'rm' });
add(image, {
  images: 'images', 'image ls': 'images', 'image list': 'images', rmi: 'rmi', 'image rm': 'rmi', 'image remove': 'rmi',
  tag: 'tag', 'image tag': 'tag', history: 'history', 'image history': 'history', save: 'save', 'image save': 'save',
  load: 'load', 'image load': 'load', import: 'import', 'image import': 'import', 'image inspect': 'inspect', 'image prune': 'prune',
  pull: 'pull', 'image pull': 'pull',
});
add(buildCmd, { build: 'build', 'image build': 'build' });
add(registry, { login: 'login', logout: 'logout', push: 'push', 'image push': 'push' });
add(trust, { 'trust key generate': 'generate', 'trust key ls': 'ls', 'trust sign': 'sign', 'trust inspect': 'inspect' });
add(system, { version: 'version', info: 'info', 'system info': 'info', 'system version': 'version', inspect: 'inspect' });
add(volume, {
  'volume create': 'create', 'volume ls': 'ls', 'volume list': 'ls', 'volume inspect': 'inspect', 'volume rm': 'rm', 'volume remove': 'rm',
  'volume prune': 'prune', 'volume update': 'update',
});
add(network, {
  'network create': 'create', 'network ls': 'ls', 'network list': 'ls', 'network inspect': 'inspect', 'network rm': 'rm', 'network remove': 'rm',
  'network prune': 'prune', 'network connect': 'connect', 'network disconnect': 'disconnect',
});

/**
 * cobra's command path for what was typed: under the same group, the command's first name
 * (`volume remove` -> `volume rm`, `image list` -> `image ls`), which usage lines and errors show.
 */
function canonicalPath(path: string): string {
  const groupOf = (p: string) => p.slice(0, Math.max(0, p.lastIndexOf(' ')));
  const [mod, key] = TABLE[path];
  return Object.keys(TABLE).find((k) => TABLE[k][0] === mod && TABLE[k][1] === key && groupOf(k) === groupOf(path)) ?? path;
}

const GROUPS: Record<string, string> = {
  builder: 'Manage builds', container: 'Manage containers', image: 'Manage images', network: 'Manage networks', system: 'Manage Docker', volume: 'Manage volumes',
  trust: 'Manage trust on images (cosign signatures)',
};

const GLOBAL: CommandSpec = {
  name: '', usage: '[OPTIONS] COMMAND', description: 'A self-sufficient runtime for containers', interspersed: false,
  flags: [
    { long: 'host', short: 'H', type: 'list', help: 'Daemon socket to connect to' },
    { long: 'version', short: 'v', type: 'bool', help: 'Print version information and quit' },
    { long: 'debug', short: 'D', type: 'bool', help: 'Enable debug mode' },
    { long: 'log-level', short: 'l', type: 'string', help: 'Set the logging level', def: 'info' },
    { long: 'config', type: 'string', help: 'Location of client config files' },
    { long: 'context', short: 'c', type: 'string', help: 'Name of the context to use' },
    { long: 'tls', type: 'bool', help: 'Use TLS', hidden: true },
    { long: 'tlsverify', type: 'bool', help: 'Use TLS and verify the remote', hidden: true },
    { long: 'tlscacert', type: 'string', hidden: true }, { long: 'tlscert', type: 'string', hidden: true }, { long: 'tlskey', type: 'string', hidden: true },
  ],
};

function usage(): string {
  const cmds = Object.keys(TABLE).filter((k) => !k.includes(' ')).sort();
  return `Usage:  ${PROG} [OPTIONS] COMMAND\n\nA self-sufficient runtime for containers\n\nCommands:\n${cmds.map((c) => `  ${c}`).join('\n')}\n\nManagement Commands:\n${Object.entries(GROUPS).map(([g, d]) => `  ${g.padEnd(12)}${d}`).join('\n')}\n\nGlobal Options:\n  -H, --host list      Daemon socket to connect to\n  -v, --version        Print version information and quit\n\nRun '${PROG} COMMAND --help' for more information on a command.\n`;
}

/** Runs the CLI; resolves with the process exit status. */
export async function main(argv: string[]): Promise<number> {
  let global;
  try {
    global = parseFlags(GLOBAL, argv);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\nSee '${PROG} --help'.\n`);
    return 125;
  }
  if (global.opts.version) { process.stdout.write(`Berth version ${VERSION}, build berth\n`); return 0; }
  const args = global.args;
  if (global.help || !args.length) { process.stdout.write(usage()); return 0; }
  const hosts = global.opts.host as string[];
  if (hosts.length > 1) { process.stderr.write('Please specify only one -H\n'); return 1; }
  // A reader that went away (`berth events | head -1`): docker dies of SIGPIPE there (status 141
  // in the shell); node ignores SIGPIPE and would report the EPIPE with a stack trace instead.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(141);
    throw e;
  });
  const cli = new Cli(PROG, resolveHost(hosts[0]));
  if (global.opts.config) cli.configDir = global.opts.config as string;

  let path = args[0];
  let rest = args.slice(1);
  if (GROUPS[path]) {
    // docker: `--help` prints the group's help on stdout; no subcommand prints it on stderr.
    if (rest[0] === '--help' || rest[0] === '-h') { process.stdout.write(await groupUsage(path)); return 0; }
    if (!rest.length) { process.stderr.write(await groupUsage(path)); return 0; }
    if (!TABLE[`${path} ${rest[0]}`] && !Object.keys(TABLE).some((k) => k.startsWith(`${path} ${rest[0]} `))) {
      // cobra's use line: "volume COMMAND" is the only group whose Use names the COMMAND.
      const use = path === 'volume' ? `${path} COMMAND` : path;
      process.stderr.write(`${PROG}: unknown command: ${PROG} ${path} ${rest[0]}\n\nUsage:  ${PROG} ${use}\n\nRun '${PROG} ${path} --help' for more information\n`);
      return 1;
    }
    path = `${args[0]} ${args[1]}`;
    rest = args.slice(2);
    // Three-word commands (trust key generate).
    if (!TABLE[path]) {
      if (rest[0] && TABLE[`${path} ${rest[0]}`]) { path = `${path} ${rest[0]}`; rest = rest.slice(1); }
      else {
        const subs = Object.keys(TABLE).filter((k) => k.startsWith(`${path} `)).map((k) => `  ${k.slice(path.length + 1)}`);
        process.stderr.write(`Usage:  ${PROG} ${path} COMMAND\n\nCommands:\n${subs.join('\n')}\n`);
        return rest[0] ? 1 : 0;
      }
    }
  }
  const entry = TABLE[path];
  if (!entry) {
    process.stderr.write(`${PROG}: unknown command: ${PROG} ${path}\n\nRun '${PROG} --help' for more information\n`);
    return 1;
  }
  const mod = await entry[0]();
  const cmd = mod.commands[entry[1]];
  const spec = { ...cmd.spec, name: canonicalPath(path) };
  try {
    const parsed = parseFlags(spec, rest);
    if (parsed.help) { process.stdout.write(helpText(spec, PROG, helpWidth())); return 0; }
    checkArgs(spec, PROG, parsed.args);
    return (await cmd.run(cli, parsed)) ?? 0;
  } catch (e) {
    return report(cli, spec, e);
  }
}

/** The width docker wraps help at: the terminal's width minus one, or 79 when stdin is not a terminal. */
function helpWidth(): number {
  return isatty(0) ? (process.stdout.columns || process.stderr.columns || 80) - 1 : 79;
}

/** A group's help as cobra prints it: each command once (under its first name), with its description. */
async function groupUsage(group: string): Promise<string> {
  const seen = new Set<Command>();
  const rows: [string, string][] = [];
  for (const [path, [loader, key]] of Object.entries(TABLE)) {
    if (!path.startsWith(`${group} `)) continue;
    const cmd = (await loader()).commands[key];
    if (seen.has(cmd)) continue;
    seen.add(cmd);
    if (!cmd.spec.hidden) rows.push([path.slice(group.length + 1), cmd.spec.description]);
  }
  rows.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  // cobra pads names to the longest one, at least 11, then a space.
  const pad = Math.max(11, ...rows.map(([n]) => n.length));
  return `Usage:  ${PROG} ${group} COMMAND\n\n${GROUPS[group]}\n\nCommands:\n${rows.map(([n, d]) => `  ${n.padEnd(pad)} ${d}`).join('\n')}\n\nRun '${PROG} ${group} COMMAND --help' for more information on a command.\n`;
}

function report(cli: Cli, spec: CommandSpec, e: unknown): number {
  if (e instanceof UsageError) {
    // docker's flag errors: "unknown flag: --x", a blank line, the usage line, and where to get help.
    cli.printErr(e.status === 125 ? `${e.message}\n\nUsage:  ${useLine(spec, PROG)}\n\nRun '${PROG} ${spec.name} --help' for more information` : e.message);
    return e.status;
  }
  if (e instanceof StatusError) {
    if (e.message) cli.printErr(e.message);
    return e.status;
  }
  const ce = e as { name?: string; status?: number; message?: string };
  if (ce?.name === 'ClientError') {
    cli.printErr(ce.status ? `Error response from daemon: ${ce.message}` : String(ce.message));
    return 1;
  }
  if (ce?.name === 'FormatError' || ce?.name === 'TemplateError' || e instanceof Error) {
    cli.printErr(String(ce.message));
    return 1;
  }
  cli.printErr(String(e));
  return 1;
}
