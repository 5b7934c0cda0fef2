// login, logout, push: registry commands. Credentials live in the config dir's config.json in
// Docker's format and go to the engine as X-Registry-Auth, as the docker CLI sends them.
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { ClientError } from '../../client/client-error';
import { StatusError, bool, str, type Cli, type Command } from '../cli';
import { DOCKER_HUB_SERVER, encodeAuthHeader, registryKey, registryOfImage } from '../config-file';
import { displayJSONMessages } from '../json-progress';
import { daemonMessage } from './shared';

/** Reads one line from the terminal, echoing it or not. */
async function prompt(cli: Cli, question: string, echo: boolean): Promise<string> {
  cli.out.write(question);
  const muted = new Writable({ write(_c, _e, cb) { cb(); } });
  const rl = createInterface({ input: cli.input, output: echo ? cli.out : muted, terminal: !!cli.input.isTTY });
  const line: string = await new Promise((resolve) => { rl.once('line', resolve); rl.once('close', () => resolve('')); });
  rl.close();
  cli.input.pause();
  if (!echo) cli.out.write('\n');
  return line;
}

async function readStdin(cli: Cli): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of cli.input) chunks.push(c as Buffer);
  // docker trims one trailing newline (and \r) from --password-stdin.
  return Buffer.concat(chunks).toString().replace(/\r?\n$/, '');
}

const login: Command = {
  spec: {
    name: 'login', usage: 'login [OPTIONS] [SERVER]', description: 'Authenticate to a registry', maxArgs: 1,
    long: 'Authenticate to a registry.\nDefaults to Docker Hub if no server is specified.',
    flags: [
      { long: 'password', short: 'p', type: 'string', help: 'Password or Personal Access Token (PAT)' },
      { long: 'password-stdin', type: 'bool', help: 'Take the Password or Personal Access Token (PAT) from stdin' },
      { long: 'username', short: 'u', type: 'string', help: 'Username' },
    ],
  },
  async run(cli, p) {
    const server = p.args[0] ? registryKey(p.args[0]) : DOCKER_HUB_SERVER;
    let username = str(p, 'username').trim();
    let password = str(p, 'password');
    if (password) cli.printErr('WARNING! Using --password via the CLI is insecure. Use --password-stdin.');
    if (bool(p, 'password-stdin')) {
      if (password) throw new StatusError(1, '--password and --password-stdin are mutually exclusive');
      if (!username) throw new StatusError(1, 'Must provide --username with --password-stdin');
      password = await readStdin(cli);
    }
    const interactive = !!cli.input.isTTY;
    if (!username) {
      if (!interactive) throw new StatusError(1, 'Error: Cannot perform an interactive login from a non TTY device');
      username = (await prompt(cli, 'Username: ', true)).trim();
      if (!username) throw new StatusError(1, 'Error: Non-null Username Required');
    }
    if (!password) {
      if (!interactive) throw new StatusError(1, 'Error: Cannot perform an interactive login from a non TTY device');
      password = await prompt(cli, 'Password: ', false);
      if (!password) throw new StatusError(1, 'Error: Password Required');
    }
    let res;
    try {
      res = await cli.client.registryLogin({ username, password, serveraddress: server });
    } catch (e) { throw new StatusError(1, daemonMessage(e)); }
    const file = cli.configFile;
    if (res.IdentityToken) file.store(server, { identitytoken: res.IdentityToken });
    else file.store(server, { username, password });
    cli.printErr(`WARNING! Your credentials are stored unencrypted in '${file.path}'.`);
    cli.print(res.Status || 'Login Succeeded');
  },
};

const logout: Command = {
  spec: {
    name: 'logout', usage: 'logout [SERVER]', description: 'Log out from a registry', maxArgs: 1,
    long: 'Log out from a registry.\nIf no server is specified, the default is defined by the daemon.',
    flags: [],
  },
  async run(cli, p) {
    const server = p.args[0] ? registryKey(p.args[0]) : DOCKER_HUB_SERVER;
    cli.print(`Removing login credentials for ${server === DOCKER_HUB_SERVER ? 'https://index.docker.io/v1/' : server}`);
    cli.configFile.remove(server);
  },
};

/** The X-Registry-Auth for an image reference, from the config file. */
export function registryAuthFor(cli: Cli, ref: string): string | undefined {
  return encodeAuthHeader(cli.configFile.auth(registryOfImage(ref)));
}

const push: Command = {
  spec: {
    name: 'push', usage: 'push [OPTIONS] NAME[:TAG]', description: 'Upload an image to a registry', minArgs: 1, maxArgs: 1,
    flags: [
      { long: 'all-tags', short: 'a', type: 'bool', help: 'Push all tags of an image to the repository' },
      { long: 'disable-content-trust', type: 'bool', def: true, help: 'Skip image signing', hidden: true },
      { long: 'platform', type: 'string', help: 'Push a platform-specific manifest as a single-platform image to the registry.' },
      { long: 'quiet', short: 'q', type: 'bool', help: 'Suppress verbose output' },
    ],
  },
  async run(cli, p) {
    const ref = p.args[0];
    let name = ref, tag: string | undefined;
    if (ref.includes('@')) throw new StatusError(1, `invalid reference format: push by digest is not supported`);
    const colon = ref.lastIndexOf(':');
    if (colon > ref.lastIndexOf('/')) { name = ref.slice(0, colon); tag = ref.slice(colon + 1); }
    if (bool(p, 'all-tags') && tag !== undefined) throw new StatusError(1, 'tag can\'t be used with --all-tags/-a');
    if (!bool(p, 'all-tags') && tag === undefined) {
      tag = 'latest';
      if (!bool(p, 'quiet')) cli.print('Using default tag: latest');
    }
    try {
      const res = await cli.client.imagePush(name, tag, { registryAuth: registryAuthFor(cli, name) });
      await displayJSONMessages(res, { out: cli.out, quiet: bool(p, 'quiet') });
    } catch (e) {
      throw new StatusError(1, e instanceof ClientError && e.status !== 500 ? daemonMessage(e) : (e as Error).message);
    }
    if (bool(p, 'quiet')) cli.print(tag ? `${name}:${tag}` : name);
  },
};

export const commands: Record<string, Command> = { login, logout, push };
