// run, create, start, attach, exec: the commands that create containers or stream their stdio.
import { writeFileSync } from 'node:fs';
import { ClientError } from '../../client/client-error';
import type { ContainerCreateRequest } from '../../client/types';
import { Cli, StatusError, bool, list, str, type Command } from '../cli';
import { byteOrder } from '../format/formatter';
import type { FlagSpec, Parsed } from '../flags';
import { UsageError } from '../flags';
import { DEFAULT_DETACH_KEYS, monitorTtySize, parseDetachKeys, pumpStreams } from '../streams';
import { contentTrustOn, trustHeader } from '../trust-keys';
import { buildCreateRequest, CREATE_FLAGS, localhostDNSWarning, readKVFile, RUN_ONLY_FLAGS } from './container-opts';

/** Docker's exit status for a failed start: 127 not found, 126 cannot invoke, else 125. */
export function startErrorStatus(message: string): number {
  if (/executable file (`[^`]*` |"[^"]*" )?not found|no such file or directory|system cannot find the file specified/i.test(message)) return 127;
  if (/permission denied|is a directory/i.test(message)) return 126;
  return 125;
}

const daemonMessage = (e: unknown) => (e instanceof ClientError ? (e.status ? `Error response from daemon: ${e.message}` : e.message) : (e as Error).message);

/** Reports like docker's reportError: "berth: MSG\n\nRun 'berth run --help' for more information". */
function runFailure(cli: Cli, cmd: string, e: unknown, status = 125): StatusError {
  if (e instanceof StatusError) return e;
  if (e instanceof UsageError) return new StatusError(e.status, `${cli.prog}: ${e.message}\n\nRun '${cli.prog} ${cmd} --help' for more information`);
  const msg = daemonMessage(e);
  return new StatusError(status, `${cli.prog}: ${msg}\n\nRun '${cli.prog} ${cmd} --help' for more information`);
}

/** Adds ":latest" to a reference without tag or digest, as docker's messages show it. */
export function withDefaultTag(ref: string): string {
  if (ref.includes('@')) return ref;
  const slash = ref.lastIndexOf('/');
  return ref.slice(slash + 1).includes(':') ? ref : `${ref}:latest`;
}

/**
 * Pulls an image with the config file's credentials for its registry, printing docker-style
 * progress (bars on a terminal). `run`/`create` pull missing images through it onto stderr;
 * `pull` prints on stdout. `allTags` pulls every tag of a repository (pull -a).
 */
export async function pullImage(cli: Cli, ref: string, quiet: boolean, platform?: string, o: { out?: NodeJS.WritableStream; allTags?: boolean; trust?: boolean } = {}): Promise<void> {
  let image = ref, tag = '';
  if (!o.allTags) {
    const full = withDefaultTag(ref);
    const at = full.indexOf('@');
    if (at >= 0) { image = full.slice(0, at); tag = full.slice(at + 1); }
    else { const c = full.lastIndexOf(':'); image = full.slice(0, c); tag = full.slice(c + 1); }
  }
  const { registryAuthFor } = await import('./registry');
  const { displayJSONMessages } = await import('../json-progress');
  // Content trust: the engine verifies the manifest against these keys before storing anything.
  const headers = o.trust ? trustHeader(cli.configDir) : undefined;
  const res = await cli.client.imagePull(image, tag, platform || undefined, { registryAuth: registryAuthFor(cli, image), headers });
  await displayJSONMessages(res, { out: o.out ?? cli.err, quiet });
}

async function createContainer(cli: Cli, p: Parsed, detach: boolean): Promise<{ id: string; body: ContainerCreateRequest }> {
  const { body, name, platform } = buildCreateRequest(p, detach);
  const image = body.Image!;
  const pull = str(p, 'pull');
  if (!['always', 'missing', 'never'].includes(pull)) throw new UsageError(`invalid pull option: '${pull}': must be one of "always", "missing" or "never"`, 125);
  const trust = contentTrustOn(bool(p, 'disable-content-trust'));
  const headers = trust ? trustHeader(cli.configDir) : undefined;
  if (pull === 'always') await pullImage(cli, image, bool(p, 'quiet'), platform, { trust });
  let res;
  try {
    res = await cli.client.containerCreate(body, { name, platform, headers });
  } catch (e) {
    if (!(e instanceof ClientError) || e.status !== 404 || !/no such image/i.test(e.message) || pull === 'never') throw e;
    cli.printErr(`Unable to find image '${withDefaultTag(image)}' locally`);
    await pullImage(cli, image, bool(p, 'quiet'), platform, { trust });
    res = await cli.client.containerCreate(body, { name, platform, headers });
  }
  const warnings = [...(res.Warnings ?? [])];
  const dns = localhostDNSWarning(body.HostConfig?.Dns);
  if (dns) warnings.push(dns);
  for (const w of warnings) cli.printErr(`WARNING: ${w}`);
  if (str(p, 'cidfile')) writeFileSync(str(p, 'cidfile'), res.Id, { flag: 'wx' });
  return { id: res.Id, body };
}

/** Forwards the usual terminating signals to the container (docker's --sig-proxy). */
function proxySignals(cli: Cli, id: string): () => void {
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];
  const handler = (sig: NodeJS.Signals) => { cli.client.containerKill(id, sig).catch(() => undefined); };
  for (const s of signals) process.on(s, handler);
  return () => { for (const s of signals) process.off(s, handler); };
}

const run: Command = {
  spec: {
    name: 'run', usage: 'run [OPTIONS] IMAGE [COMMAND] [ARG...]', description: 'Create and run a new container from an image',
    flags: [...CREATE_FLAGS, ...RUN_ONLY_FLAGS].sort((a, b) => byteOrder(a.long, b.long)), interspersed: false, minArgs: 1,
  },
  async run(cli, p) {
    const detach = bool(p, 'detach');
    let detachKeys: number[];
    try {
      detachKeys = parseDetachKeys(str(p, 'detach-keys') || DEFAULT_DETACH_KEYS);
      if (bool(p, 'tty') && bool(p, 'interactive') && !detach && !process.stdin.isTTY) {
        throw new UsageError('the input device is not a TTY', 1);
      }
    } catch (e) { throw runFailure(cli, 'run', e, (e as UsageError).status ?? 125); }

    let created;
    try { created = await createContainer(cli, p, detach); } catch (e) { throw runFailure(cli, 'run', e); }
    const { id, body } = created;
    const client = cli.client;
    const tty = !!body.Tty;
    const attach = !!(body.AttachStdin || body.AttachStdout || body.AttachStderr);

    let pump: Promise<'done' | 'detached'> | undefined;
    if (attach) {
      try {
        const conn = await client.containerAttach(id, {
          stream: true, stdin: body.AttachStdin, stdout: body.AttachStdout, stderr: body.AttachStderr,
          detachKeys: str(p, 'detach-keys') || undefined,
        });
        pump = pumpStreams(conn, {
          tty, stdin: body.AttachStdin ? process.stdin : undefined,
          stdout: body.AttachStdout ? process.stdout : devNull, stderr: body.AttachStderr ? process.stderr : devNull,
          detachKeys,
        });
      } catch (e) { throw runFailure(cli, 'run', e); }
    }
    // Wait is registered before start so that a fast exit is not missed.
    let wait: ReturnType<typeof client.containerWait> | undefined;
    if (!detach) {
      wait = client.containerWait(id, body.HostConfig?.AutoRemove ? 'removed' : 'next-exit');
      try { await wait.ready; } catch (e) { throw runFailure(cli, 'run', e); }
    }
    try {
      await client.containerStart(id);
    } catch (e) {
      const status = startErrorStatus((e as Error).message);
      if (body.HostConfig?.AutoRemove && wait) await wait.result.catch(() => undefined);
      throw runFailure(cli, 'run', e, status);
    }
    if (!attach || !body.AttachStdout && !body.AttachStderr) {
      if (!attach) cli.print(id);
      if (!pump) return 0;
    }
    const stopResize = attach && tty ? monitorTtySize((h, w) => client.containerResize(id, h, w)) : () => undefined;
    const stopProxy = attach && !tty && p.opts['sig-proxy'] !== false ? proxySignals(cli, id) : () => undefined;
    try {
      if (pump && (await pump) === 'detached') return 0;
      if (!wait) return 0;
      const res = await wait.result;
      return res.StatusCode;
    } catch (e) {
      throw runFailure(cli, 'run', e);
    } finally {
      stopResize();
      stopProxy();
    }
  },
};

/** What docker attach and docker exec print (exiting 1) when the user types the detach keys. */
const DETACHED_MESSAGE = 'read escape sequence';

const devNull = { write: () => true } as unknown as NodeJS.WritableStream;

const create: Command = {
  spec: { name: 'create', usage: 'create [OPTIONS] IMAGE [COMMAND] [ARG...]', description: 'Create a new container', flags: CREATE_FLAGS, interspersed: false, minArgs: 1 },
  async run(cli, p) {
    try {
      // docker create attaches stdout and stderr (and stdin with -i) in the config, as run without -d.
      const { id } = await createContainer(cli, p, false);
      cli.print(id);
    } catch (e) { throw runFailure(cli, 'create', e); }
  },
};

/** Attaches to a running container and streams until it ends; resolves with its exit code. */
async function attachAndStart(cli: Cli, id: string, opts: { stdin: boolean; detachKeys?: string; start: boolean; sigProxy: boolean }): Promise<number> {
  const client = cli.client;
  const info = await client.containerInspect(id);
  const tty = !!info.Config.Tty;
  const stdin = opts.stdin && !!info.Config.OpenStdin;
  if (stdin && tty && !process.stdin.isTTY) throw new StatusError(1, 'the input device is not a TTY');
  const keys = parseDetachKeys(opts.detachKeys || DEFAULT_DETACH_KEYS);
  const conn = await client.containerAttach(info.Id, { stream: true, stdin, stdout: true, stderr: true, detachKeys: opts.detachKeys });
  const pump = pumpStreams(conn, { tty, stdin: stdin ? process.stdin : undefined, detachKeys: keys });
  const wait = client.containerWait(info.Id, info.HostConfig?.AutoRemove ? 'removed' : opts.start ? 'next-exit' : 'not-running');
  await wait.ready;
  if (opts.start) {
    try { await client.containerStart(info.Id); } catch (e) { throw new StatusError(startErrorStatus((e as Error).message), daemonMessage(e)); }
  }
  if (tty && !opts.start && process.stdout.isTTY) {
    // As docker's resizeTTY: a shell redraws its prompt only when the size changes, so a second
    // attach would show nothing. Resize one larger, then monitorTtySize sends the real size.
    const [w, h] = process.stdout.getWindowSize();
    await client.containerResize(info.Id, h + 1, w + 1).catch(() => undefined);
  }
  const stopResize = tty ? monitorTtySize((h, w) => client.containerResize(info.Id, h, w)) : () => undefined;
  const stopProxy = !tty && opts.sigProxy ? proxySignals(cli, info.Id) : () => undefined;
  try {
    if ((await pump) === 'detached') {
      // docker start -a detaches quietly; docker attach reports the escape as an error (exit 1).
      if (opts.start) return 0;
      throw new StatusError(1, DETACHED_MESSAGE);
    }
    return (await wait.result).StatusCode;
  } finally { stopResize(); stopProxy(); }
}

const start: Command = {
  spec: {
    name: 'start', usage: 'start [OPTIONS] CONTAINER [CONTAINER...]', description: 'Start one or more stopped containers', minArgs: 1,
    flags: [
      { long: 'attach', short: 'a', type: 'bool', help: 'Attach STDOUT/STDERR and forward signals' },
      { long: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container' },
      { long: 'interactive', short: 'i', type: 'bool', help: "Attach container's STDIN" },
    ],
  },
  async run(cli, p) {
    if (bool(p, 'attach') || bool(p, 'interactive')) {
      if (p.args.length > 1) throw new StatusError(1, 'you cannot start and attach multiple containers at once');
      return attachAndStart(cli, p.args[0], { stdin: bool(p, 'interactive'), detachKeys: str(p, 'detach-keys'), start: true, sigProxy: true });
    }
    const failed: string[] = [];
    for (const c of p.args) {
      try { await cli.client.containerStart(c); cli.print(c); } catch (e) { cli.printErr(daemonMessage(e)); failed.push(c); }
    }
    if (failed.length) throw new StatusError(1, `Error: failed to start containers: ${failed.join(', ')}`);
  },
};

const attach: Command = {
  spec: {
    name: 'attach', usage: 'attach [OPTIONS] CONTAINER', description: "Attach local standard input, output, and error streams to a running container", minArgs: 1, maxArgs: 1,
    flags: [
      { long: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container' },
      { long: 'no-stdin', type: 'bool', help: 'Do not attach STDIN' },
      { long: 'sig-proxy', type: 'bool', def: true, help: 'Proxy all received signals to the process' },
    ],
  },
  async run(cli, p) {
    const info = await cli.client.containerInspect(p.args[0]);
    if (!info.State.Running) throw new StatusError(1, 'You cannot attach to a stopped container, start it first');
    if (info.State.Paused) throw new StatusError(1, 'You cannot attach to a paused container, unpause it first');
    if (info.State.Restarting) throw new StatusError(1, 'You cannot attach to a restarting container, wait until it is running');
    return attachAndStart(cli, info.Id, { stdin: !bool(p, 'no-stdin'), detachKeys: str(p, 'detach-keys'), start: false, sigProxy: p.opts['sig-proxy'] as boolean });
  },
};

const EXEC_FLAGS: FlagSpec[] = [
  { long: 'detach', short: 'd', type: 'bool', help: 'Detached mode: run command in the background' },
  { long: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container' },
  { long: 'env', short: 'e', type: 'list', help: 'Set environment variables' },
  { long: 'env-file', type: 'list', help: 'Read in a file of environment variables' },
  { long: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open even if not attached' },
  { long: 'privileged', type: 'bool', help: 'Give extended privileges to the command' },
  { long: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
  { long: 'user', short: 'u', type: 'string', help: 'Username or UID (format: "<name|uid>[:<group|gid>]")' },
  { long: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container' },
];

const exec: Command = {
  spec: { name: 'exec', usage: 'exec [OPTIONS] CONTAINER COMMAND [ARG...]', description: 'Execute a command in a running container', flags: EXEC_FLAGS, interspersed: false, minArgs: 2 },
  async run(cli, p) {
    const [container, ...cmd] = p.args;
    const client = cli.client;
    const detach = bool(p, 'detach');
    const tty = bool(p, 'tty');
    const interactive = bool(p, 'interactive');
    if (tty && interactive && !detach && !process.stdin.isTTY) throw new StatusError(1, 'the input device is not a TTY');
    const env: string[] = [];
    for (const f of list(p, 'env-file')) env.push(...readKVFile(f, true));
    for (const e of list(p, 'env')) env.push(e.includes('=') || process.env[e] === undefined ? e : `${e}=${process.env[e]}`);
    const out = process.stdout;
    const consoleSize: [number, number] | undefined = tty && out.isTTY ? [out.rows, out.columns] : undefined;
    const { Id: execId } = await client.execCreate(container, {
      User: str(p, 'user'), Privileged: bool(p, 'privileged'), Tty: tty, ConsoleSize: consoleSize ?? null,
      AttachStdin: interactive && !detach, AttachStdout: !detach, AttachStderr: !detach,
      DetachKeys: str(p, 'detach-keys') || undefined, Env: env.length ? env : null, WorkingDir: str(p, 'workdir'), Cmd: cmd,
    });
    if (detach) {
      await client.execStartDetached(execId, tty);
      return 0;
    }
    let conn;
    try { conn = await client.execStartAttached(execId, tty, consoleSize); } catch (e) {
      throw new StatusError(startErrorStatus((e as Error).message), daemonMessage(e));
    }
    const keys = parseDetachKeys(str(p, 'detach-keys') || DEFAULT_DETACH_KEYS);
    const stopResize = tty ? monitorTtySize((h, w) => client.execResize(execId, h, w)) : () => undefined;
    try {
      if ((await pumpStreams(conn, { tty, stdin: interactive ? process.stdin : undefined, detachKeys: keys })) === 'detached') {
        throw new StatusError(1, DETACHED_MESSAGE);
      }
    } finally { stopResize(); }
    const info = await client.execInspect(execId);
    return info.ExitCode ?? 0;
  },
};

export const commands: Record<string, Command> = { run, create, start, attach, exec };
