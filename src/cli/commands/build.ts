// `berth build`: docker's legacy-builder client (cli/command/image/build.go). The context (a
// directory, a tar on stdin, or a Dockerfile alone on stdin) is sent as a tar filtered by
// .dockerignore; a Dockerfile from outside the context or from stdin travels inside the tar under a
// generated `.dockerfile.<random>` name, which the sent .dockerignore lists so it is never copied.
import { randomBytes } from 'node:crypto';
import { promises as fs, readFileSync, type Stats } from 'node:fs';
import * as path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { jsonMessages } from '../../client/engine-client';
import { chooseDockerignore, DockerIgnore, keepBuildFiles } from '../../base/dockerignore';
import { StatusError, bool, list, str, type Cli, type Command } from '../cli';

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
      let ignore: DockerIgnore;
      if (outside) {
        rel = generated();
        extra.push({ name: rel, data: outside });
        // As docker's AddDockerfileToBuildContext: the sent .dockerignore also lists itself and the
        // generated Dockerfile, so the daemon drops both from what COPY sees.
        extra.push({ name: '.dockerignore', data: Buffer.from(`${[...patterns, '.dockerignore', rel].join('\n')}\n`) });
        ignore = new DockerIgnore(patterns);
      } else {
        ignore = new DockerIgnore(keepBuildFiles(patterns, rel ?? 'Dockerfile'));
        // The daemon applies the patterns again: a Dockerfile's own ignore file goes as .dockerignore.
        if (ownIgnore) extra.push({ name: '.dockerignore', data: Buffer.from(`${patterns.join('\n')}\n`) });
      }
      dockerfile = rel;
      body = tarContext(dir, ignore, extra);
    }

    const quiet = bool(p, 'quiet');
    const res = await cli.client.imageBuild(body, {
      tags: list(p, 'tag'), dockerfile, buildArgs: kvMap(list(p, 'build-arg'), true), labels: kvMap(list(p, 'label'), false),
      target: str(p, 'target'), noCache: bool(p, 'no-cache'), quiet, networkMode: str(p, 'network'), squash: bool(p, 'squash'),
    });
    return printBuild(cli, res, { quiet, iidfile });
  },
};

/** Prints the progress stream as docker's DisplayJSONMessagesStream does; -q keeps it for an error. */
async function printBuild(cli: Cli, res: Readable, o: { quiet: boolean; iidfile: string }): Promise<number> {
  let id: string | undefined;
  let buffered = '';
  for await (const m of jsonMessages(res)) {
    if (m.error || m.errorDetail) {
      if (o.quiet) cli.err.write(buffered);
      throw new StatusError(m.errorDetail?.code || 1, m.errorDetail?.message ?? m.error ?? 'build failed');
    }
    if (m.aux && typeof m.aux.ID === 'string') { id = m.aux.ID; continue; }
    const text = m.stream ?? (m.status ? `${m.status}\n` : '');
    if (o.quiet) buffered += text; else cli.out.write(text);
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
