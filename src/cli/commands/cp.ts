// `cp`: copies between a container and the local filesystem through tar archives
// (GET/PUT /containers/{id}/archive), with docker's path semantics:
//   SRC "dir/." copies the contents of dir; an existing DEST directory receives SRC by its name;
//   a missing DEST is created with SRC's content under DEST's name; "-" streams a tar archive.
// Local extraction never writes outside DEST: entries with "..", absolute names, or paths through
// symlinks are refused (CVE-2019-14271 class).
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { ClientError } from '../../client/client-error';
import { StatusError, bool, type Command } from '../cli';
import { humanSize } from '../../base/units';
import { passThroughTo } from './container';

function splitCpArg(arg: string): { container?: string; path: string } {
  // An absolute or ./ path is local even if it contains ':'.
  if (arg.startsWith('/') || arg.startsWith('.')) return { path: arg };
  const i = arg.indexOf(':');
  if (i <= 0) return { path: arg };
  return { container: arg.slice(0, i), path: arg.slice(i + 1) };
}

const endsWithSepDot = (p: string) => p.endsWith('/.') || p === '.';
const endsWithSep = (p: string) => p.endsWith('/');

/** Maps an archive entry name from the source root name to the destination root name. */
function rebase(name: string, srcRoot: string, dstRoot: string): string {
  const clean = name.replace(/^\.\//, '').replace(/\/+$/, '');
  if (clean === srcRoot) return dstRoot;
  if (clean.startsWith(`${srcRoot}/`)) return dstRoot ? `${dstRoot}/${clean.slice(srcRoot.length + 1)}` : clean.slice(srcRoot.length + 1);
  return clean;
}

async function assertInside(root: string, rel: string): Promise<string> {
  const norm = path.posix.normalize(rel);
  if (path.isAbsolute(norm) || norm === '..' || norm.startsWith('../')) throw new StatusError(1, `invalid archive entry: ${rel}`);
  const target = path.join(root, norm);
  // No parent directory below root may be a symlink.
  let cur = root;
  for (const part of norm.split('/').slice(0, -1)) {
    if (!part || part === '.') continue;
    cur = path.join(cur, part);
    const st = await fs.lstat(cur).catch(() => null);
    if (st?.isSymbolicLink()) throw new StatusError(1, `refusing to extract through symlink: ${rel}`);
  }
  return target;
}

/** Extracts a tar stream under `root`, renaming entries with `rename` (empty result = skip). */
async function extractTo(body: Readable, root: string, rename: (n: string) => string): Promise<number> {
  const ex = tar.extract();
  let total = 0;
  const done = (async () => {
    for await (const entry of ex) {
      const h = entry.header;
      const rel = rename(h.name);
      if (!rel) { entry.resume(); continue; }
      const target = await assertInside(root, rel);
      if (h.type === 'directory') {
        await fs.mkdir(target, { recursive: true, mode: h.mode });
        entry.resume();
      } else if (h.type === 'symlink') {
        await fs.rm(target, { force: true });
        await fs.symlink(h.linkname ?? '', target);
        entry.resume();
      } else if (h.type === 'link') {
        const src = await assertInside(root, rename(h.linkname ?? ''));
        await fs.rm(target, { force: true });
        await fs.link(src, target);
        entry.resume();
      } else if (h.type === 'file' || h.type === 'contiguous-file') {
        await fs.mkdir(path.dirname(target), { recursive: true });
        const st = await fs.lstat(target).catch(() => null);
        if (st?.isSymbolicLink()) await fs.rm(target);
        await pipeline(entry, createWriteStream(target, { mode: h.mode }));
        total += h.size ?? 0;
        if (h.mtime) await fs.utimes(target, h.mtime, h.mtime).catch(() => undefined);
      } else {
        entry.resume();
      }
    }
  })();
  await pipeline(body, ex);
  await done;
  return total;
}

/** Packs a local path into a tar stream whose root entry is named `rootName` (or contents only when ''). */
function packLocal(src: string, rootName: string, followLink: boolean): { stream: Readable; size: Promise<number> } {
  const pack = tar.pack();
  const size = (async () => {
    let total = 0;
    const add = async (abs: string, name: string, top: boolean) => {
      const st = top && followLink ? await fs.stat(abs) : await fs.lstat(abs);
      const common = { mode: st.mode & 0o7777, mtime: st.mtime, uid: st.uid, gid: st.gid };
      if (st.isDirectory()) {
        if (name) pack.entry({ ...common, name: `${name}/`, type: 'directory' });
        for (const child of (await fs.readdir(abs)).sort()) await add(path.join(abs, child), name ? `${name}/${child}` : child, false);
      } else if (st.isSymbolicLink()) {
        pack.entry({ ...common, name, type: 'symlink', linkname: await fs.readlink(abs) });
      } else if (st.isFile()) {
        total += st.size;
        await new Promise<void>((resolve, reject) => {
          const e = pack.entry({ ...common, name, size: st.size, type: 'file' }, (err) => (err ? reject(err) : resolve()));
          createReadStream(abs).on('error', reject).pipe(e);
        });
      }
    };
    await add(src, rootName, true);
    pack.finalize();
    return total;
  })();
  size.catch((e) => pack.destroy(e));
  return { stream: pack as unknown as Readable, size };
}

const cp: Command = {
  spec: {
    name: 'cp', usage: 'cp [OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n\tberth cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH',
    description: 'Copy files/folders between a container and the local filesystem', minArgs: 2, maxArgs: 2,
    flags: [
      { long: 'archive', short: 'a', type: 'bool', help: 'Archive mode (copy all uid/gid information)' },
      { long: 'follow-link', short: 'L', type: 'bool', help: 'Always follow symbol link in SRC_PATH' },
      { long: 'quiet', short: 'q', type: 'bool', help: 'Suppress progress output during copy. Progress output is automatically suppressed if no terminal is attached' },
    ],
  },
  async run(cli, p) {
    const src = splitCpArg(p.args[0]), dst = splitCpArg(p.args[1]);
    if (src.container && dst.container) throw new StatusError(1, 'copying between containers is not supported');
    if (!src.container && !dst.container) throw new StatusError(1, 'must specify at least one container source');
    const client = cli.client;
    const report = (n: number, to: string) => { if (!bool(p, 'quiet') && cli.err.isTTY) cli.printErr(`Successfully copied ${humanSize(n)} to ${to}`); };

    if (src.container) {
      if (!src.path) throw new StatusError(1, 'source path cannot be empty');
      const { stat, body } = await client.containerGetArchive(src.container, src.path);
      if (dst.path === '-') { await pipeline(body, passThroughTo(cli.out)); return; }
      const dstStat = await fs.stat(dst.path).catch(() => null);
      const srcIsDir = (stat.mode & 0x80000000) !== 0; // Go's os.ModeDir
      const contentsOnly = endsWithSepDot(src.path);
      let n: number;
      if (dstStat?.isDirectory()) {
        n = await extractTo(body, dst.path, (name) => (contentsOnly ? rebase(name, stat.name, '') : rebase(name, stat.name, stat.name)));
      } else if (dstStat) {
        if (srcIsDir) throw new StatusError(1, `cannot copy directory to existing file: ${dst.path}`);
        n = await extractTo(body, path.dirname(dst.path), (name) => rebase(name, stat.name, path.basename(dst.path)));
      } else {
        if (endsWithSep(dst.path) && !srcIsDir) throw new StatusError(1, `destination directory ${dst.path} does not exist`);
        const parent = path.dirname(path.resolve(dst.path));
        const pst = await fs.stat(parent).catch(() => null);
        if (!pst?.isDirectory()) throw new StatusError(1, `destination directory ${parent} does not exist`);
        n = await extractTo(body, parent, (name) => rebase(name, stat.name, path.basename(path.resolve(dst.path))));
      }
      report(n, dst.path);
      return;
    }

    // local -> container
    const container = dst.container!;
    if (!dst.path) throw new StatusError(1, 'destination path cannot be empty');
    if (src.path === '-') {
      await client.containerPutArchive(container, dst.path, cli.input, { copyUIDGID: bool(p, 'archive') });
      return;
    }
    const lst = await (bool(p, 'follow-link') ? fs.stat(src.path) : fs.lstat(src.path)).catch(() => null);
    if (!lst) throw new StatusError(1, `lstat ${path.resolve(src.path)}: no such file or directory`);
    let dstStat: { mode: number } | null = null;
    try { dstStat = await client.containerStatPath(container, dst.path); } catch (e) {
      if (!(e instanceof ClientError) || e.status !== 404) throw e;
    }
    const dstIsDir = dstStat ? (dstStat.mode & 0x80000000) !== 0 : false;
    const srcBase = path.basename(path.resolve(src.path));
    let putPath: string, root: string;
    if (dstIsDir) { putPath = dst.path; root = endsWithSepDot(src.path) ? '' : srcBase; }
    else {
      if (dstStat && lst.isDirectory()) throw new StatusError(1, `cannot copy directory to existing file: ${dst.path}`);
      if (!dstStat && endsWithSep(dst.path) && !lst.isDirectory()) throw new StatusError(1, `destination directory ${dst.path} does not exist`);
      putPath = path.posix.dirname(dst.path.replace(/\/+$/, '')) || '/';
      root = path.posix.basename(dst.path.replace(/\/+$/, ''));
    }
    const { stream, size } = packLocal(src.path, root, bool(p, 'follow-link'));
    await client.containerPutArchive(container, putPath, stream, { copyUIDGID: bool(p, 'archive') });
    report(await size, `${container}:${dst.path}`);
  },
};

export const commands: Record<string, Command> = { cp };
