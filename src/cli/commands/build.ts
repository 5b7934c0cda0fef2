// `berth build`: docker's legacy-builder client (cli/command/image/build.go). The context (a
// directory, a tar on stdin, or a Dockerfile alone on stdin) is sent as a tar filtered by
// .dockerignore; a Dockerfile from outside the context or from stdin travels inside the tar under a
// generated `.dockerfile.<random>` name, which the sent .dockerignore lists so it is never copied.
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { jsonMessages, type BuildSession } from '../../client/engine-client';
import { ClientError } from '../../client/client-error';
import { chooseDockerignore, DockerIgnore, keepBuildFiles } from '../../base/dockerignore';
import { csvFields } from '../../base/csv';
import { StatusError, bool, list, str, type Cli, type Command } from '../cli';
import { TtyBuildProgress } from '../build-progress';

/** `K=V` list -> map; a bare `K` takes the environment's value (and is dropped when unset), as docker does. */
function kvMap(items: string[], fromEnv: boolean): Record<string, string> {
  const out: Record<string, string> = {};
  for (const it of items) {
    const eq = it.indexOf('=');
    if (eq >= 0) out[it.slice(0, eq)] = it.slice(eq + 1);
    else if (!fromEnv) out[it] = '';
    else if (process.env[it] !== undefined) out[it] = process.env[it]!;
  }
  return out;
}

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as string));
  return Buffer.concat(chunks);
}

function isArchive(b: Buffer): boolean {
  if (b.length >= 262 && b.toString('latin1', 257, 262) === 'ustar') return true;
  // gzip, bzip2, xz, zstd
  return (b[0] === 0x1f && b[1] === 0x8b) || b.toString('latin1', 0, 3) === 'BZh' || b.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) ||
    b.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
}

interface ExtraFile { name: string; data: Buffer }

/**
 * Tars `dir` (entries sorted, owners 0:0 as docker's build context) leaving out what `ignore`
 * excludes; an excluded directory is still walked when `!` exceptions could re-include below it.
 * `extra` files are added at the root (they replace context files of the same name).
 */
function tarContext(dir: string, ignore: DockerIgnore, extra: ExtraFile[]): Readable {
  const pack = tar.pack();
  const extraNames = new Set(extra.map((e) => e.name));
  const walk = async (rel: string): Promise<void> => {
    const names = (await fs.readdir(path.join(dir, rel))).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      if (extraNames.has(r)) continue;
      const st: Stats = await fs.lstat(path.join(dir, r));
      const excluded = ignore.excludes(r);
      const base = { name: r, mode: st.mode & 0o7777, uid: 0, gid: 0, mtime: st.mtime };
      if (st.isDirectory()) {
        if (!excluded) await entry({ ...base, type: 'directory' });
        if (!excluded || ignore.hasExceptions) await walk(r);
        continue;
      }
      if (excluded) continue;
      if (st.isSymbolicLink()) await entry({ ...base, type: 'symlink', linkname: await fs.readlink(path.join(dir, r)) });
      else if (st.isFile()) await entry({ ...base, type: 'file', size: st.size }, await fs.readFile(path.join(dir, r)));
      // Sockets, fifos and devices are left out, as docker's archive walker leaves sockets out.
    }
  };
  const entry = (h: Parameters<tar.Pack['entry']>[0], data?: Buffer) => new Promise<void>((resolve, reject) => {
    pack.entry(h, data ?? Buffer.alloc(0), (err) => (err ? reject(err) : resolve()));
  });
  (async () => {
    await walk('');
    for (const e of extra) await entry({ name: e.name, mode: 0o644, uid: 0, gid: 0, mtime: new Date(), type: 'file' }, e.data);
    pack.finalize();
  })().catch((err: Error) => pack.destroy(err));
  const out = new PassThrough();
  pack.on('error', (err) => out.destroy(err));
  return pack.pipe(out);
}

const build: Command = {
  spec: {
    name: 'build', usage: 'build [OPTIONS] PATH | URL | -', description: 'Build an image from a Dockerfile', minArgs: 1, maxArgs: 1,
    flags: [
      { long: 'tag', short: 't', type: 'list', help: 'Name and optionally a tag in the "name:tag" format' },
      { long: 'file', short: 'f', type: 'string', help: 'Name of the Dockerfile (Default is "PATH/Dockerfile")' },
      { long: 'build-arg', type: 'list', help: 'Set build-time variables' },
      { long: 'target', type: 'string', help: 'Set the target build stage to build.' },
      { long: 'no-cache', type: 'bool', help: 'Do not use cache when building the image' },
      { long: 'label', type: 'list', help: 'Set metadata for an image' },
      { long: 'iidfile', type: 'string', help: 'Write the image ID to the file' },
      { long: 'quiet', short: 'q', type: 'bool', help: 'Suppress the build output and print image ID on success' },
      { long: 'network', type: 'string', help: 'Set the networking mode for the RUN instructions during build', def: 'default' },
      { long: 'progress', type: 'string', help: 'Set type of progress output (auto, plain, tty)', def: 'auto' },
      { long: 'squash', type: 'bool', help: 'Squash newly built layers into a single new layer' },
      { long: 'rm', type: 'bool', help: 'Remove intermediate containers after a successful build', def: true },
      { long: 'force-rm', type: 'bool', help: 'Always remove intermediate containers' },
      { long: 'pull', type: 'bool', help: 'Always attempt to pull a newer version of the image' },
      { long: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable' },
      { long: 'secret', type: 'list', help: 'Secret to expose to the build (format: "id=mysecret[,src=/local/secret]")' },
      { long: 'ssh', type: 'list', help: 'SSH agent socket to expose to the build (format: "default|<id>[=<socket>]")' },
    ],
  },
  async run(cli, p) {
    const spec = p.args[0];
    const file = str(p, 'file');
    const progress = str(p, 'progress');
    if (progress && !['auto', 'plain', 'tty', 'quiet', 'rawjson'].includes(progress)) throw new StatusError(1, `invalid progress mode: ${progress}`);
    if (spec === '-' && file === '-') throw new StatusError(1, "invalid argument: can't use stdin for both build context and dockerfile");
    const iidfile = str(p, 'iidfile');
    if (iidfile) await fs.rm(iidfile, { force: true });

    let body: Readable;
    /** A context directory berthd may read itself (the same host): its identity and patterns, the files added to it. */
    let local: { context: NonNullable<BuildSession['context']>; tar: () => Readable } | undefined;
    let dockerfile: string | undefined = file && file !== '-' ? file : undefined;
    const generated = () => `.dockerfile.${randomBytes(10).toString('hex')}`;
    if (spec === '-') {
      const input = await readAll(cli.input);
      if (isArchive(input)) body = Readable.from([input]);
      else {
        // A Dockerfile on stdin and no context (docker's GetContextFromReader).
        dockerfile = 'Dockerfile';
        body = tarOf([{ name: 'Dockerfile', data: input }]);
      }
    } else {
      const dir = path.resolve(spec);
      const st = await fs.stat(dir).catch(() => undefined);
      if (!st?.isDirectory()) throw new StatusError(1, `unable to prepare context: path ${JSON.stringify(spec)} not found`);
      const extra: ExtraFile[] = [];
      // `-f` is relative to the current directory, not the context (docker's GetContextFromLocalDir).
      let dfPath: string | undefined;
      if (file === '-') dfPath = undefined;
      else if (file) dfPath = path.resolve(file);
      else {
        dfPath = path.join(dir, 'Dockerfile');
        if (!(await exists(dfPath)) && (await exists(path.join(dir, 'dockerfile')))) dfPath = path.join(dir, 'dockerfile');
      }
      let rel = dfPath ? path.relative(dir, dfPath).split(path.sep).join('/') : undefined;
      if (dfPath && !(await exists(dfPath))) throw new StatusError(1, `unable to prepare context: unable to evaluate symlinks in Dockerfile path: lstat ${dfPath}: no such file or directory`);
      // The patterns: <Dockerfile>.dockerignore next to the Dockerfile, else the context's .dockerignore.
      const ownIgnore = dfPath !== undefined && syncRead(`${dfPath}.dockerignore`) !== undefined;
      const patterns = chooseDockerignore((p2) => syncRead(p2 === '.dockerignore' ? path.join(dir, p2) : p2), dfPath);
      let outside: Buffer | undefined;
      if (file === '-') outside = await readAll(cli.input);
      else if (rel !== undefined && (rel === '..' || rel.startsWith('../'))) outside = await fs.readFile(dfPath!);
      let sent: string[];
      if (outside) {
        rel = generated();
        extra.push({ name: rel, data: outside });
        // As docker's AddDockerfileToBuildContext: the sent .dockerignore also lists itself and the
        // generated Dockerfile, so the daemon drops both from what COPY sees.
        extra.push({ name: '.dockerignore', data: Buffer.from(`${[...patterns, '.dockerignore', rel].join('\n')}\n`) });
        sent = patterns;
      } else {
        sent = keepBuildFiles(patterns, rel ?? 'Dockerfile');
        // The daemon applies the patterns again: a Dockerfile's own ignore file goes as .dockerignore.
        if (ownIgnore) extra.push({ name: '.dockerignore', data: Buffer.from(`${patterns.join('\n')}\n`) });
      }
      const ignore = new DockerIgnore(sent);
      dockerfile = rel;
      body = tarContext(dir, ignore, extra);
      // On berthd's own host, berthd reads the directory (no tar of it through the socket, and an
      // unchanged file is not even read again): see docs/builder.md. BERTH_BUILD_CONTEXT=tar sends the tar.
      if (cli.client.host.socketPath && process.env.BERTH_BUILD_CONTEXT !== 'tar') {
        const real = await fs.realpath(dir);
        const dst = await fs.stat(real);
        // The extra files (in the body's tar) replace the directory's files of the same name.
        local = { context: { path: real, dev: dst.dev, ino: dst.ino, ignore: sent }, tar: () => tarContext(dir, ignore, extra) };
        body = tarOf(extra);
      }
    }

    const quiet = bool(p, 'quiet') || progress === 'quiet';
    const session = await buildSession(list(p, 'secret'), list(p, 'ssh'), cli.client.host);
    const registryConfig = cli.configFile.allAuths();
    const send = (b: Readable, s: BuildSession | undefined) => cli.client.imageBuild(b, {
      tags: list(p, 'tag'), dockerfile, buildArgs: kvMap(list(p, 'build-arg'), true), labels: kvMap(list(p, 'label'), false),
      target: str(p, 'target'), noCache: bool(p, 'no-cache'), quiet, networkMode: str(p, 'network'), squash: bool(p, 'squash'), pull: bool(p, 'pull'), session: s,
      stepTimes: !quiet, registryConfig,
    });
    let res: Readable;
    if (local) {
      try {
        res = await send(body, { secrets: {}, ssh: {}, ...session, context: local.context });
      } catch (e) {
        // berthd does not see the directory as we do (another mount namespace): the tar it is.
        if (!(e instanceof ClientError && e.status === 409)) throw e;
        res = await send(local.tar(), session);
      }
    } else res = await send(body, session);
    const mode = quiet ? 'quiet' : progress === 'auto' || !progress ? (cli.out.isTTY ? 'tty' : 'plain') : progress;
    return printBuild(cli, res, { quiet, iidfile, mode: mode as 'plain' | 'tty' | 'quiet' | 'rawjson' });
  },
};

/** BuildKit's limit on one secret (session/secrets/secretsprovider). */
const MAX_SECRET_SIZE = 500 * 1024;

/**
 * `--secret` and `--ssh` as buildx reads them, into what berthd gets for the build (see
 * imageBuild): secret contents, read now, and SSH agent sockets. A secret is
 * `id=X[,src=FILE|,env=VAR][,type=file|env]`; without a source, the environment variable named
 * X if set, else the file X. An agent is `default` ($SSH_AUTH_SOCK) or `ID=SOCKET`; berthd
 * connects to the socket itself, so it must run on this host (a unix socket DOCKER_HOST).
 */
export async function buildSession(secretSpecs: string[], sshSpecs: string[], host: { socketPath?: string }): Promise<BuildSession | undefined> {
  if (!secretSpecs.length && !sshSpecs.length) return undefined;
  const session: BuildSession = { secrets: {}, ssh: {} };
  for (const spec of secretSpecs) {
    let id = '';
    let src = '';
    let env = '';
    let type = '';
    let fields: string[];
    try {
      fields = csvFields(spec, 'failed to parse csv secret');
    } catch (e) {
      throw new StatusError(1, (e as Error).message);
    }
    for (const field of fields) {
      const eq = field.indexOf('=');
      if (eq < 0) throw new StatusError(1, `invalid field '${field}' must be a key=value pair`);
      const key = field.slice(0, eq).toLowerCase();
      const value = field.slice(eq + 1);
      if (key === 'type') {
        if (value !== 'file' && value !== 'env') throw new StatusError(1, `unsupported secret type ${JSON.stringify(value)}`);
        type = value;
      } else if (key === 'id') id = value;
      else if (key === 'source' || key === 'src') src = value;
      else if (key === 'env') env = value;
      else throw new StatusError(1, `unexpected key '${key}' in '${field}'`);
    }
    if (type === 'env' && !env) { env = src; src = ''; }
    if (!id) throw new StatusError(1, 'secret missing ID');
    if (!env && !src) {
      if (process.env[id] !== undefined) env = id; else src = id;
    }
    let data: Buffer;
    if (env) data = Buffer.from(process.env[env] ?? '');
    else {
      const st = await fs.stat(src).catch((e: NodeJS.ErrnoException) => {
        throw new StatusError(1, `failed to stat ${src}: stat ${src}: ${e.code === 'ENOENT' ? 'no such file or directory' : e.message}`);
      });
      if (st.size > MAX_SECRET_SIZE) throw new StatusError(1, `secret ${id} too big. max size 500KiB`);
      data = await fs.readFile(src);
    }
    session.secrets[id] = data;
  }
  for (const spec of sshSpecs) {
    const eq = spec.indexOf('=');
    const id = (eq < 0 ? spec : spec.slice(0, eq)) || 'default';
    const paths = eq < 0 ? [] : spec.slice(eq + 1).split(',').filter(Boolean);
    if (!host.socketPath) throw new StatusError(1, `--ssh ${spec}: berthd proxies to the agent socket itself, so it must run on this host (a unix socket DOCKER_HOST)`);
    if (paths.length > 1) throw new StatusError(1, `--ssh ${spec}: one agent socket per ID (key files are not supported: add them to an agent with ssh-add)`);
    let sock = paths[0];
    if (!sock) {
      sock = process.env.SSH_AUTH_SOCK ?? '';
      if (!sock) throw new StatusError(1, 'invalid empty ssh agent socket: make sure SSH_AUTH_SOCK is set');
    }
    sock = path.resolve(sock);
    const st = await fs.stat(sock).catch(() => undefined);
    if (!st) throw new StatusError(1, `failed to stat ${sock}: no such file or directory`);
    if (!st.isSocket()) throw new StatusError(1, `--ssh ${spec}: ${sock} is not a socket (key files are not supported: add them to an agent with ssh-add)`);
    session.ssh[id] = sock;
  }
  return session;
}

/**
 * Prints the progress stream: as docker's DisplayJSONMessagesStream does (plain), through the tty
 * view (build-progress.ts), as the raw JSON lines (rawjson), or, with -q, nothing but the ID
 * (the output is kept for an error).
 */
async function printBuild(cli: Cli, res: Readable, o: { quiet: boolean; iidfile: string; mode: 'plain' | 'tty' | 'quiet' | 'rawjson' }): Promise<number> {
  let id: string | undefined;
  let buffered = '';
  const tty = o.mode === 'tty' ? new TtyBuildProgress({ write: (t) => cli.out.write(t), columns: cli.out.columns || 80, now: () => performance.now() }) : undefined;
  const timer = tty ? setInterval(() => tty.tick(), 100) : undefined;
  try {
    for await (const m of jsonMessages(res)) {
      if (o.mode === 'rawjson') cli.out.write(`${JSON.stringify(m)}\n`);
      if (m.error || m.errorDetail) {
        if (o.quiet) cli.err.write(buffered);
        tty?.finish(true);
        throw new StatusError(m.errorDetail?.code || 1, m.errorDetail?.message ?? m.error ?? 'build failed');
      }
      if (m.aux && typeof m.aux.ID === 'string') { id = m.aux.ID; continue; }
      const text = m.stream ?? (m.status ? `${m.status}\n` : '');
      if (o.quiet) buffered += text;
      else if (tty) tty.text(text);
      else if (o.mode !== 'rawjson') cli.out.write(text);
    }
    tty?.finish(false);
  } finally {
    if (timer) clearInterval(timer);
  }
  // docker: with -q the quiet output (the ID the daemon printed) is also what --iidfile gets.
  if (o.quiet) { cli.out.write(buffered); if (buffered) id = buffered; }
  if (o.iidfile) {
    if (!id) throw new StatusError(1, 'Server did not provide an image ID. Cannot write --iidfile');
    await fs.writeFile(o.iidfile, id, { mode: 0o666 });
  }
  return 0;
}

function tarOf(files: ExtraFile[]): Readable {
  const pack = tar.pack();
  for (const f of files) pack.entry({ name: f.name, mode: 0o644, uid: 0, gid: 0, mtime: new Date() }, f.data);
  pack.finalize();
  const out = new PassThrough();
  pack.pipe(out);
  return out;
}

async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(() => true, () => false);
}

function syncRead(p: string): Buffer | undefined {
  try {
    return readFileSync(p);
  } catch {
    return undefined;
  }
}

export const commands: Record<string, Command> = { build };
