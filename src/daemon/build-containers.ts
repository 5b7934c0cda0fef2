import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join, posix } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Digest } from '../base/digest';
import { invalidArgument, notFound } from '../base/errors';
import type { ImageRuntimeConfig } from '../oci/image';
import type { Snapshotter } from '../snapshot/snapshotter';
import type { ImageStore } from '../image/image-store';
import type { BuildContainers, MountSource, RunMount } from '../build/builder';
import { applyTar } from '../archive/apply-tar';
import { archiveFromRoot, resolveInRoot } from '../archive/container-path';
import { packDir } from '../archive/pack-dir';
import { TAR_END } from '../archive/tar-codec';
import { mountAll, unmount, unmountAll } from '../sys/mount';
import type { CacheMountStore } from './build-cache-mounts';
import type { Engine } from './engine';

export interface BuildContainersOptions {
  images: ImageStore;
  cacheMounts: CacheMountStore;
  /** Scratch space of runs with mounts, on disk (<data-root>/build/tmp): context copies, image snapshots. */
  workDir: string;
  /** Runtime state of runs (<exec-root>/build): SSH agent sockets and the tmpfs of secrets. */
  runDir: string;
  /** The static berth-secret-env program (secrets as environment variables), when built. */
  secretEnvHelper?: string;
}

/** Where the secret-env wrapper and its variables appear in a RUN container (removed from the layer after). */
const SECRET_ENV_BIN = '/run/.berth-secret-env';
const SECRET_ENV_DIR = '/run/.berth-secret-env.d';

/**
 * The engine operations the builder needs: RUN containers with their `--mount`s, their diffs,
 * image exports.
 *
 * A run's mounts are made on the host before the container is created and undone after it exits:
 *   <workDir>/<run>/ctx          the context subtree a bind mount shows (a copy: writes are dropped)
 *   <workDir>/<run>/bm-<run>-N   an image's snapshot mounted for a bind or cache from=, removed after
 *   <runDir>/<run>/secrets       a tmpfs holding the run's secret files and secret variables
 *   <runDir>/<run>/ssh-N.sock    a socket berthd listens on, each connection proxied to the agent
 * They reach the container as plain bind and tmpfs mounts of its HostConfig. What a leftover of a
 * crash holds is removed when berthd starts.
 */
export class EngineBuildContainers implements BuildContainers {
  constructor(private readonly engine: Engine, private readonly snapshotter: Snapshotter, private readonly o: BuildContainersOptions) {
    this.removeLeftovers();
  }

  private removeLeftovers(): void {
    for (const root of [this.o.workDir, this.o.runDir]) {
      let runs: string[] = [];
      try { runs = readdirSync(root); } catch { /* none yet */ }
      for (const r of runs) {
        const dir = join(root, r);
        try {
          unmountAll(dir);
          for (const n of readdirSync(dir)) if (n.startsWith('bm-') || n.startsWith('sq-')) void this.snapshotter.remove(n).catch(() => undefined);
          rmSync(dir, { recursive: true, force: true });
        } catch { /* best effort */ }
      }
    }
  }

  async run(image: Digest, config: ImageRuntimeConfig, opts: { networkMode: string; mounts: RunMount[]; onCreated: (id: string) => void; onOutput: (data: Buffer) => void; signal: AbortSignal }): Promise<{ id: string; exitCode: number }> {
    const made = opts.mounts.length ? await this.makeMounts(opts.mounts, opts.signal) : undefined;
    let Id: string | undefined;
    try {
      const cfg = { ...config };
      if (made?.secretEnvDir) {
        cfg.Entrypoint = [SECRET_ENV_BIN, SECRET_ENV_DIR];
        cfg.Cmd = config.Cmd;
      }
      ({ Id } = await this.engine.create({
        ...cfg, Image: image, HostConfig: { NetworkMode: opts.networkMode, Mounts: made?.mounts, Tmpfs: made?.tmpfs },
      }, undefined));
      const id = Id;
      opts.onCreated(id);
      // In the foreground (no monitor, output through a pipe) when the runtime can: ~0.1 s less a step.
      const code = await this.engine.runForeground(id, { onOutput: opts.onOutput, signal: opts.signal }) ?? await this.runMonitored(id, opts);
      if (opts.signal.aborted) throw opts.signal.reason ?? new Error('build canceled');
      if (made) await this.removeMountStubs(id, made.targets);
      return { id, exitCode: code };
    } finally {
      if (made) await made.undo();
    }
  }

  /** A run under the runtime's monitor: start, the log followed, the exit waited for. */
  private async runMonitored(id: string, opts: { onOutput: (data: Buffer) => void; signal: AbortSignal }): Promise<number> {
    const onAbort = () => { this.engine.kill(id).catch(() => undefined); };
    opts.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const exited = this.engine.wait(id, 'next-exit', opts.signal);
      exited.catch(() => undefined);
      await this.engine.start(id);
      const { entries } = this.engine.logs(id, { follow: true, signal: opts.signal });
      for await (const e of entries) opts.onOutput(e.data);
      return (await exited).StatusCode;
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Makes the host side of a run's mounts. On error, what was made is undone. `targets` are the
   * paths in the container the runtime may create as mount points.
   */
  private async makeMounts(mounts: RunMount[], signal: AbortSignal): Promise<{
    mounts: object[]; tmpfs: Record<string, string>; targets: string[]; secretEnvDir?: string; undo: () => Promise<void>;
  }> {
    const run = randomBytes(8).toString('hex');
    const work = join(this.o.workDir, run);
    const rundir = join(this.o.runDir, run);
    const undos: Array<() => void | Promise<void>> = [];
    const undo = async () => {
      for (const u of undos.reverse()) {
        try { await u(); } catch { /* best effort: keep undoing */ }
      }
      rmSync(work, { recursive: true, force: true });
      rmSync(rundir, { recursive: true, force: true });
    };
    const out: object[] = [];
    const tmpfs: Record<string, string> = {};
    const targets: string[] = [];
    let secretEnvDir: string | undefined;
    let n = 0;
    const bind = (source: string, target: string, readOnly: boolean) => {
      out.push({ Type: 'bind', Source: source, Target: target, ReadOnly: readOnly, BindOptions: { Propagation: 'rprivate' } });
      targets.push(target);
    };
    let secretsDir: string | undefined;
    const secrets = () => {
      if (secretsDir) return secretsDir;
      // Secrets live on a tmpfs of their own (the exec root need not be one), only for this run.
      const dir = join(rundir, 'secrets');
      mkdirSync(dir, { recursive: true, mode: 0o711 });
      const size = mounts.reduce((a, m) => a + (m.type === 'secret' || m.type === 'secret-env' ? m.data.length + m.type.length + 64 : 0), 0);
      mountAll([{ type: 'tmpfs', source: 'tmpfs', options: ['nodev', 'nosuid', 'noexec', 'mode=0711', `size=${size + 65536}`] }], dir);
      undos.push(() => unmount(dir));
      secretsDir = dir;
      return dir;
    };
    const heldCaches = new Map<string, { dir: string; release: () => void }>();
    try {
      mkdirSync(work, { recursive: true, mode: 0o700 });
      mkdirSync(rundir, { recursive: true, mode: 0o711 });
      for (const m of mounts) {
        switch (m.type) {
          case 'bind': {
            const { path, release } = await this.sourcePath(m.source, work, `bm-${run}-${n++}`, signal);
            undos.push(release);
            bind(path, m.target, m.readOnly);
            break;
          }
          case 'cache': {
            // The same cache twice in one run is one directory (BuildKit's duplicate cache mounts);
            // a locked one would otherwise wait for this very run.
            const held = m.sharing !== 'private' ? heldCaches.get(m.key) : undefined;
            const c = held ?? await this.o.cacheMounts.acquire(m, async (dir) => {
              if (!m.base) return;
              const base = await this.sourcePath(m.base, work, `bm-${run}-${n++}`, signal);
              try {
                const inner = join(dir, m.path);
                mkdirSync(inner, { recursive: true });
                if (existsSync(base.path)) await applyTar(archiveFromRoot(base.path, '/.', signal), inner, { whiteouts: 'none', signal });
              } finally {
                await base.release();
              }
            }, signal);
            if (!held) {
              undos.push(c.release);
              if (m.sharing !== 'private') heldCaches.set(m.key, c);
            }
            // The subdirectory is resolved inside the cache: a symlink a run left there stays in it.
            const src = resolveInRoot(c.dir, m.path);
            mkdirSync(src, { recursive: true });
            bind(src, m.target, m.readOnly);
            break;
          }
          case 'tmpfs':
            // BuildKit's tmpfs mounts allow exec (the engine's default for --tmpfs is noexec).
            tmpfs[m.target] = ['exec', ...(m.size > 0 ? [`size=${m.size}`] : [])].join(',');
            targets.push(m.target);
            break;
          case 'secret': {
            const file = join(secrets(), randomBytes(8).toString('hex'));
            writeFileSync(file, m.data, { mode: 0o600 });
            chownSync(file, m.uid, m.gid);
            chmodSync(file, m.mode & 0o777);
            bind(file, m.target, true);
            break;
          }
          case 'secret-env': {
            if (!this.o.secretEnvHelper || !existsSync(this.o.secretEnvHelper)) throw notFound('secrets as environment variables need berth-secret-env next to berthd');
            if (!secretEnvDir) {
              secretEnvDir = join(secrets(), 'env');
              mkdirSync(secretEnvDir, { mode: 0o755 });
              bind(secretEnvDir, SECRET_ENV_DIR, true);
              bind(this.o.secretEnvHelper, SECRET_ENV_BIN, true);
            }
            // Readable by the run's user, whoever it is: the variable is its to read anyway.
            writeFileSync(join(secretEnvDir, String(n++)), Buffer.concat([Buffer.from(`${m.name}=`), m.data]), { mode: 0o444 });
            break;
          }
          case 'ssh': {
            let isSocket = false;
            try { isSocket = lstatSync(m.socket).isSocket(); } catch { /* reported below */ }
            if (!isSocket) throw invalidArgument(`SSH agent socket ${m.socket}: not a socket on the daemon's host`);
            const sock = join(rundir, `ssh-${n++}.sock`);
            const proxy = await proxySocket(sock, m.socket);
            undos.push(proxy.close);
            chownSync(sock, m.uid, m.gid);
            chmodSync(sock, m.mode & 0o777);
            bind(sock, m.target, false);
            break;
          }
        }
      }
    } catch (e) {
      await undo();
      throw e;
    }
    return { mounts: out, tmpfs, targets, secretEnvDir, undo };
  }

  /**
   * A host path showing a mount source: the context subtree extracted under `work`, or the image's
   * snapshot mounted there (writes go to the snapshot, dropped by `release`).
   */
  private async sourcePath(src: MountSource, work: string, key: string, signal: AbortSignal): Promise<{ path: string; release: () => Promise<void> }> {
    const dir = join(work, key);
    mkdirSync(dir, { recursive: true, mode: 0o755 });
    if ('context' in src) {
      await applyTar(Readable.from(src.context), dir, { whiteouts: 'none', signal });
      return { path: src.path ? join(dir, src.path) : dir, release: async () => { rmSync(dir, { recursive: true, force: true }); } };
    }
    const chain = src.image ? this.o.images.resolve(src.image).chainIds.at(-1) ?? null : null;
    await this.snapshotter.prepare(key, chain);
    try {
      // A throwaway view: nothing written there is kept, so its unmount need not sync anything.
      mountAll(this.snapshotter.mounts(key, { ephemeral: true }), dir);
    } catch (e) {
      await this.snapshotter.remove(key).catch(() => undefined);
      throw e;
    }
    const release = async () => {
      unmount(dir);
      await this.snapshotter.remove(key);
    };
    const path = resolveInRoot(dir, src.path);
    if (!existsSync(path)) {
      await release();
      throw invalidArgument(`failed to compute cache key: ${JSON.stringify(src.path)}: not found`);
    }
    return { path, release };
  }

  /**
   * As BuildKit's MountStubsCleaner: a mount point the runtime had to create (the target and the
   * parents it made) leaves the layer again when it is still empty. Only paths the run added are
   * touched, and never through a symlink.
   */
  private async removeMountStubs(id: string, targets: string[]): Promise<void> {
    const added = new Set((await this.snapshotter.changes(id)).filter((c) => c.Kind === 1).map((c) => c.Path));
    if (added.size === 0) return;
    const upper = this.snapshotter.upperDir(id);
    for (const t of [...targets].sort((a, b) => b.length - a.length)) {
      for (let p = posix.normalize(t); p !== '/' && added.has(p); p = posix.dirname(p)) {
        const host = hostPathNoSymlinks(upper, p);
        if (!host) break;
        const st = lstatSync(host);
        if (st.isDirectory()) {
          if (readdirSync(host).length) break;
          rmdirSync(host);
        } else if ((st.isFile() && st.size === 0) || st.isSocket()) unlinkSync(host);
        else break;
        added.delete(p);
      }
    }
  }

  /**
   * The merged diff of `image`'s layers above `base`'s: a snapshot of the base is mounted, each
   * layer applied onto it in order (its whiteouts deleting what they name), and the snapshot's
   * own changes are the layer, with the whiteouts the overlay recorded.
   */
  async squash(base: Digest | null, image: Digest, signal: AbortSignal): Promise<{ tar: Readable; release: () => Promise<void> }> {
    const img = this.o.images.resolve(image);
    const b = base ? this.o.images.resolve(base) : undefined;
    const below = b?.config.rootfs.diff_ids ?? [];
    const diffIds = img.config.rootfs.diff_ids;
    if (below.some((d, i) => diffIds[i] !== d)) throw invalidArgument(`cannot squash ${image}: ${base} is not one of its bases`);
    const run = randomBytes(8).toString('hex');
    const key = `sq-${run}`;
    const work = join(this.o.workDir, run);
    const dir = join(work, key);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const release = async () => {
      await this.snapshotter.remove(key).catch(() => undefined);
      rmSync(work, { recursive: true, force: true });
    };
    try {
      await this.snapshotter.prepare(key, b?.chainIds.at(-1) ?? null);
      mountAll(this.snapshotter.mounts(key, { ephemeral: true }), dir);
      try {
        for (const d of diffIds.slice(below.length)) await applyTar(this.o.images.layer(d as Digest), dir, { whiteouts: 'delete', signal });
      } finally {
        unmount(dir);
      }
      return { tar: this.snapshotter.diff(key, signal), release };
    } catch (e) {
      await release();
      throw e;
    }
  }

  /** The run's container is stopped and unmounted by now: its snapshot (keyed by its ID) can be committed in place. */
  diff(id: string): { layer: Readable; snapshot: string } {
    return { layer: this.snapshotter.diff(id), snapshot: id };
  }

  async remove(id: string): Promise<void> {
    await this.engine.remove(id, { force: true, volumes: true });
  }

  /**
   * A snapshot of the image is mounted under the work dir for as long as the tar is read (the
   * image's layers themselves are never written); only the paths asked for are read.
   */
  async imageFiles(image: Digest, paths: string[], signal: AbortSignal): Promise<Readable> {
    const run = randomBytes(8).toString('hex');
    const work = join(this.o.workDir, run);
    const src = await this.sourcePath({ image, path: '/' }, work, `bm-${run}-0`, signal);
    const release = () => { src.release().catch(() => undefined).finally(() => rmSync(work, { recursive: true, force: true })); };
    let tar: Readable;
    try {
      const include = paths.flatMap((p) => lookupInRoot(src.path, p));
      tar = include.length ? packDir(src.path, { whiteouts: 'none', include, parents: true, signal }) : Readable.from([TAR_END]);
    } catch (e) {
      release();
      throw e;
    }
    tar.once('close', release);
    return tar;
  }
}

/**
 * The paths to read so that `rel` resolves in a partial copy of `root` as in `root` itself: each
 * symlink met on the way (an absolute target starts again at `root`, a relative one at the link's
 * directory), then where they lead, when it exists. '' stands for all of root.
 */
export function lookupInRoot(root: string, rel: string): string[] {
  const out: string[] = [];
  let done: string[] = [];
  const todo = rel.split('/');
  let links = 0;
  while (todo.length) {
    const c = todo.shift()!;
    if (c === '' || c === '.') continue;
    if (c === '..') { done.pop(); continue; }
    const cand = [...done, c];
    let st;
    try {
      st = lstatSync(join(root, ...cand));
    } catch {
      return out; // missing: the builder reports it
    }
    if (st.isSymbolicLink()) {
      if (++links > 40) return out;
      out.push(cand.join('/'));
      const target = readlinkSync(join(root, ...cand));
      if (target.startsWith('/')) done = [];
      todo.unshift(...target.split('/'));
      continue;
    }
    done = cand;
  }
  out.push(done.join('/'));
  return out;
}

/** `root` + `path`, or undefined when a component on the way is missing or a symlink. */
function hostPathNoSymlinks(root: string, path: string): string | undefined {
  let cur = root;
  for (const c of path.split('/').filter(Boolean)) {
    cur = join(cur, c);
    try {
      if (lstatSync(cur).isSymbolicLink()) return undefined;
    } catch {
      return undefined;
    }
  }
  return cur;
}

/**
 * Listens on `path`; each connection is piped to the unix socket `target` (an SSH agent), so the
 * container sees an agent without the client's socket itself being mounted into it.
 */
function proxySocket(path: string, target: string): Promise<{ close: () => Promise<void> }> {
  return new Promise((resolve, reject) => {
    const open = new Set<Socket>();
    const server: Server = createServer((inbound) => {
      const outbound = connect(target);
      open.add(inbound);
      open.add(outbound);
      inbound.pipe(outbound).pipe(inbound);
      const close = () => { inbound.destroy(); outbound.destroy(); open.delete(inbound); open.delete(outbound); };
      inbound.on('error', close);
      outbound.on('error', close);
      inbound.on('close', close);
      outbound.on('close', close);
    });
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      // Connections a run left open (a daemonised process of it) end with the run.
      resolve({ close: () => new Promise<void>((done) => { for (const s of open) s.destroy(); server.close(() => done()); }) });
    });
  });
}
