/**
 * The build executor: runs a Plan stage by stage against the image store, in the legacy
 * builder's model (every step makes an image; `docker history` lists them). RUN goes through a
 * `BuildContainers` (implemented by daemon/); COPY/ADD make a layer tar from the context; metadata
 * steps commit an empty layer. A cache maps (parent image, step text, build-arg environment, copied
 * content digest) to the image a step made.
 *
 * Cancellation: the signal aborts the running step (its container is killed and removed); nothing
 * is tagged unless the whole build succeeded.
 */
import { Readable } from 'node:stream';
import { posix } from 'node:path';
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { performance } from 'node:perf_hooks';
import type { Digest } from '../base/digest';
import { BerthError, canceled, invalidArgument, notFound } from '../base/errors';
import type { ImageRecord, ImageStore } from '../image/image-store';
import type { HealthConfig, ImageRuntimeConfig } from '../oci/image';
import { ShellLex, type EnvLookup } from './shell/lex';
import { planDockerfile, splitArg, stageRef, stepSources, PlanError, type Plan, type Step } from './plan';
import { parseMount, type CacheSharing } from './run-mount';
import { BuildContext, cleanRel, isTarHeader, LayerWriter } from './context';
import { FileDigestCache, readContextDir, type ContextDir } from './context-dir';
import { parseChmod } from './chmod';
import { decompressStream } from '../sys/decompress';
import { chooseDockerignore, DockerIgnore } from '../base/dockerignore';
import { resolveUserIn } from '../runtime/user';
import type { Heredoc } from './dockerfile/parser';

/** Where a mount's files come from: a subtree of the build context (as a tar), or a path in an image. */
export type MountSource = { context: Iterable<Buffer>; path: string } | { image: Digest | null; path: string };

/**
 * An extra mount of a RUN step's container (`RUN --mount`), resolved by the builder; the engine
 * side makes it for the one run and undoes it after. Targets are absolute. Nothing written into a
 * mount ends up in the step's layer (the mount points it had to create are removed too).
 */
export type RunMount =
  /** Files of the context or of a stage/image; `readOnly: false` lets the run write, and drops the writes. */
  | { type: 'bind'; target: string; readOnly: boolean; source: MountSource }
  /**
   * A directory that persists between builds, one per `key` (the cache ID and its base); a new one
   * starts as `base` (when given) or empty, owned by uid:gid with `mode`. `path` is the subdirectory mounted.
   */
  | { type: 'cache'; target: string; readOnly: boolean; key: string; description: string; sharing: CacheSharing; uid: number; gid: number; mode: number; base?: MountSource; path: string }
  | { type: 'tmpfs'; target: string; size: number }
  /** A build secret as a read-only file (on a tmpfs, for the run only). */
  | { type: 'secret'; target: string; data: Buffer; uid: number; gid: number; mode: number }
  /** A build secret as an environment variable of the run's process (never in the container's config). */
  | { type: 'secret-env'; name: string; data: Buffer }
  /** An SSH agent socket, proxied to `socket` on the daemon's host. */
  | { type: 'ssh'; target: string; socket: string; uid: number; gid: number; mode: number };

/** What the builder needs of the engine to run a RUN step. */
export interface BuildContainers {
  /**
   * Creates a container from `image` with `config` (Cmd is the command; no entrypoint) and the
   * extra `mounts`, runs it to its end, passing its output to `onOutput`, and returns its ID and
   * exit code. The container is kept (for `diff`) until `remove`; the mounts are undone before
   * this returns. On abort the container is killed and the promise rejects.
   */
  run(image: Digest, config: ImageRuntimeConfig, opts: { networkMode: string; mounts: RunMount[]; onCreated: (id: string) => void; onOutput: (data: Buffer) => void; signal: AbortSignal }): Promise<{ id: string; exitCode: number }>;
  /**
   * `--squash`: the layers of `image` above those of `base` (null: all of them) merged into one
   * layer tar, whiteouts included (what Docker's TarStreamFrom(parent) gives). Call `release`
   * once the tar is read.
   */
  squash(base: Digest | null, image: Digest, signal: AbortSignal): Promise<{ tar: Readable; release: () => Promise<void> }>;
  /**
   * Files of an image as an uncompressed tar (for COPY --from and for --chown by name): each of
   * `paths` (relative to the image's root; '' is all of it) with everything below it. A path is
   * looked up as the builder's BuildContext resolves it, so each symlink met on the way is in the
   * tar too, and then what it leads to. Paths the image lacks are left out.
   */
  imageFiles(image: Digest, paths: string[], signal: AbortSignal): Promise<Readable>;
  /**
   * The container's filesystem changes as an uncompressed layer tar, and the snapshot it is made
   * from, which the image store may commit in place (CommitInput.snapshot).
   */
  diff(id: string): { layer: Readable; snapshot?: string };
  remove(id: string): Promise<void>;
}

/** `ADD <url>`: the whole body of a URL (and its Last-Modified time, seconds). */
export interface UrlFetcher {
  fetch(url: string, signal: AbortSignal): Promise<{ data: Buffer; lastModified?: number }>;
}

/** Credentials for one registry, as a client sent them (X-Registry-Config); opaque to the builder. */
export interface RegistryAuth { username?: string; password?: string; registryToken?: string }

/**
 * Pulls images for builds (`--pull`, or an image this host lacks), through the engine's registry
 * client. `ref` is what the Dockerfile names (`busybox`, `127.0.0.1:5000/base:1`); `auth` holds
 * the client's credentials by registry, the puller picks the ones for `ref`. Progress goes to `out`
 * as the lines Docker prints (`latest: Pulling from base`, `Digest: ...`, `Status: ...`).
 * Errors as the registry client's (NotFound, Unavailable, Unauthenticated, PermissionDenied).
 */
export interface ImagePuller {
  pull(ref: string, opts: { auth?: Record<string, RegistryAuth>; out: (text: string) => void; signal: AbortSignal }): Promise<ImageRecord>;
}

/** The build cache: key -> image ID. */
export interface BuildCache {
  get(key: string): string | undefined;
  set(key: string, imageId: string): void;
}

export interface BuildRequest {
  /** The context tar; with `contextDir`, only the files the client adds to that directory's (they win). */
  context: Readable;
  /**
   * A context directory on this host (berth build on the daemon's host, see context-dir.ts), read
   * with the client's .dockerignore patterns (`ignore`, the ones it would have tarred it with).
   */
  contextDir?: { dir: ContextDir; ignore: string[] };
  dockerfile: string;
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  networkMode: string;
  /**
   * Build secrets by ID (`berth build --secret`). Held in memory for the build only: they reach a
   * RUN that asks for one as a tmpfs file or an environment variable, never a layer, the image
   * config, history or a cache key.
   */
  secrets?: Map<string, Buffer>;
  /** SSH agents by ID (`berth build --ssh`): agent sockets on the daemon's host. */
  ssh?: Map<string, string>;
  /** `--squash`: the final stage's own layers become one, on top of its base image (history kept). */
  squash?: boolean;
  /**
   * `--pull`: every image the build starts from or copies from is pulled first, even when this
   * host has it (Docker's PullOptionForcePull). Without it an image is pulled only when missing.
   */
  pull?: boolean;
  /** Registry credentials by registry host (X-Registry-Config), for those pulls. */
  registryAuth?: Record<string, RegistryAuth>;
  /** Adds each step's time to its result line (` ---> 0123456789ab (0.42s)`): berth build asks, docker gets Docker's text. */
  stepTimes?: boolean;
  /** Progress lines (each ends with a newline). */
  out: (text: string) => void;
  signal: AbortSignal;
}

const DEFAULT_SHELL = ['/bin/sh', '-c'];
/** The proxy args Docker predefines: usable without an ARG, kept out of history. */
const PREDEFINED_ARGS = new Set(['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'FTP_PROXY', 'ftp_proxy', 'NO_PROXY', 'no_proxy', 'ALL_PROXY', 'all_proxy']);

interface StageState {
  image: Digest | null;
  config: ImageRuntimeConfig;
  /** ARGs declared in this stage, with their values. */
  args: Map<string, string | undefined>;
  /** Where the current step's time goes (the daemon's debug log). */
  clock?: PhaseClock;
}

/** The phases of one step and their times, for the debug log: `key 3ms, run 180ms, commit 40ms`. */
export class PhaseClock {
  private last = performance.now();
  private readonly start = this.last;
  private readonly parts: string[] = [];

  /** Ends the phase running since the previous mark (or the start) and names it. */
  mark(name: string): void {
    const now = performance.now();
    this.parts.push(`${name} ${(now - this.last).toFixed(0)}ms`);
    this.last = now;
  }

  summary(): string {
    return `${(performance.now() - this.start).toFixed(0)}ms${this.parts.length ? ` (${this.parts.join(', ')})` : ''}`;
  }
}

/** The builder's log: step timings at debug level. */
export type BuildLog = (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;

export class Builder {
  /** Removals of each running build's intermediate containers still under way, by the build's signal. */
  private readonly removals = new WeakMap<AbortSignal, Set<Promise<void>>>();
  /** Digests of the files of context directories, by their stat (context-dir.ts). */
  private readonly fileDigests = new FileDigestCache();

  private readonly fetcher?: UrlFetcher;
  private readonly puller?: ImagePuller;
  private readonly log: BuildLog;

  /** Without a `puller`, images must be here already; without a `fetcher`, ADD of a URL fails. */
  constructor(
    private readonly images: ImageStore, private readonly containers: BuildContainers, private readonly cache: BuildCache,
    opts: { fetcher?: UrlFetcher; puller?: ImagePuller; log?: BuildLog } = {},
  ) {
    this.fetcher = opts.fetcher;
    this.puller = opts.puller;
    this.log = opts.log ?? (() => undefined);
  }

  /** Builds; returns the final image. Throws BerthError; progress goes to `req.out`. */
  async build(req: BuildRequest): Promise<ImageRecord> {
    const started = performance.now();
    let ctx = await BuildContext.read(req.context, req.signal);
    if (req.contextDir) {
      const dirCtx = await readContextDir(req.contextDir.dir, new DockerIgnore(req.contextDir.ignore), this.fileDigests, req.signal);
      for (const [k, e] of ctx.entries) dirCtx.entries.set(k, e);
      ctx = dirCtx;
    }
    this.log('debug', `build: context ${req.contextDir ? `directory ${req.contextDir.dir.path}` : 'tar'} read in ${(performance.now() - started).toFixed(0)}ms (${ctx.entries.size} entries)`);
    const text = ctx.file(req.dockerfile || 'Dockerfile');
    if (!text) throw invalidArgument(`Cannot locate specified Dockerfile: ${req.dockerfile || 'Dockerfile'}`);
    const plan = planDockerfile(text, { buildArgs: req.buildArgs, target: req.target });
    // The client filtered the context already; the daemon applies .dockerignore again (a client
    // may send more), which also drops a generated Dockerfile the client listed there.
    const df = req.dockerfile || 'Dockerfile';
    ctx.exclude(new DockerIgnore(chooseDockerignore((p) => ctx.file(p), df)));
    await this.prepareImages(req, plan);
    const labels = Object.keys(req.labels).length > 0;
    const total = plan.order.reduce((n, i) => n + 1 + plan.stages[i].steps.length, 0) + (labels ? 1 : 0);
    const results = new Map<number, StageState>();
    const lastStage = plan.order.at(-1)!;
    const usedArgs = new Set<string>();
    /** The image each stage starts from (what --squash squashes onto). */
    const stageBase = new Map<number, Digest | null>();
    // Step numbers follow the plan's order, whatever order stages finish in.
    const firstStep = new Map<number, number>();
    let n = 0;
    for (const si of plan.order) { firstStep.set(si, n + 1); n += 1 + plan.stages[si].steps.length; }
    const out = new StageOutputs(plan.order, req.out);
    // Independent stages run side by side; a stage waits for those it builds on or copies from.
    // The first failure cancels the others and is the one reported.
    const ac = new AbortController();
    setMaxListeners(0, ac.signal);
    const onAbort = () => ac.abort(req.signal.reason);
    req.signal.addEventListener('abort', onAbort, { once: true });
    const removals = new Set<Promise<void>>();
    this.removals.set(ac.signal, removals);
    const running = new Map<number, Promise<StageState>>();
    let failure: unknown;
    const runStage = (si: number): Promise<StageState> => {
      let p = running.get(si);
      if (p) return p;
      p = (async () => {
        const deps = stageDeps(plan, si);
        await Promise.all(deps.map(runStage));
        const sreq: BuildRequest = { ...req, out: (t) => out.write(si, t), signal: ac.signal };
        const st = await this.runStage(sreq, plan, ctx, si, firstStep.get(si)!, total, results, usedArgs, stageBase, si === lastStage && labels, runStage);
        results.set(si, st);
        out.done(si);
        return st;
      })();
      p.catch((e) => { failure ??= e; ac.abort(e); });
      running.set(si, p);
      return p;
    };
    try {
      await Promise.allSettled(plan.order.map(runStage));
    } finally {
      req.signal.removeEventListener('abort', onAbort);
      // Every intermediate container is gone before the build answers, succeeded or not.
      await Promise.allSettled([...removals]);
      this.removals.delete(ac.signal);
    }
    if (failure !== undefined) {
      out.flushAll();
      throw req.signal.aborted ? canceled('build canceled') : failure;
    }
    const final = results.get(lastStage)!;
    if (req.squash && final.image && final.image !== stageBase.get(lastStage)) {
      this.check(req.signal);
      const base = stageBase.get(lastStage) ?? null;
      const merged = await this.containers.squash(base, final.image, req.signal);
      try {
        final.image = (await this.images.squash(final.image, base, merged.tar, req.signal)).id;
      } finally {
        await merged.release();
      }
    }
    const unused = Object.keys(req.buildArgs).filter((k) => !usedArgs.has(k) && !PREDEFINED_ARGS.has(k));
    if (unused.length) req.out(`[Warning] One or more build-args [${unused.join(' ')}] were not consumed\n`);
    if (!final.image) throw invalidArgument('No image was generated. Is your Dockerfile empty?');
    this.check(req.signal);
    this.log('debug', `build: done in ${(performance.now() - started).toFixed(0)}ms`);
    return this.images.resolve(final.image);
  }

  /** One stage, from its FROM to its last step; progress through `req.out`. */
  private async runStage(
    req: BuildRequest, plan: Plan, ctx: BuildContext, si: number, first: number, total: number, results: Map<number, StageState>,
    usedArgs: Set<string>, stageBase: Map<number, Digest | null>, withLabels: boolean, waitStage: (si: number) => Promise<StageState>,
  ): Promise<StageState> {
    const stage = plan.stages[si];
    let stepNo = first;
    this.check(req.signal);
    let t0 = performance.now();
    const done = (st: StageState) => { if (st.image) req.out(` ---> ${short(st.image)}${req.stepTimes ? ` (${((performance.now() - t0) / 1000).toFixed(2)}s)` : ''}\n`); };
    req.out(`Step ${stepNo++}/${total} : ${stage.fromText}\n`);
    let st: StageState;
    if (stage.baseStage !== undefined) {
      const b = results.get(stage.baseStage) ?? await waitStage(stage.baseStage);
      st = { image: b.image, config: structuredClone(b.config), args: new Map() };
    } else if (stage.base.toLowerCase() === 'scratch') {
      st = { image: null, config: { Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] }, args: new Map() };
    } else {
      // (Pulled before the first step when it had to be.)
      const img = this.images.find(stage.base);
      if (!img) throw notFound(`pull access denied for ${stage.base}, repository does not exist or may require 'docker login'`);
      st = { image: img.id, config: structuredClone(img.config.config ?? {}), args: new Map() };
    }
    stageBase.set(si, st.image);
    done(st);
    const triggers = st.config.OnBuild ?? [];
    if (triggers.length) {
      // The base image's ONBUILD triggers run first, in order; the child does not inherit them.
      st.config.OnBuild = [];
      req.out(`# Executing ${triggers.length} build trigger${triggers.length > 1 ? 's' : ''}\n`);
      t0 = performance.now();
      for (const t of triggers) {
        this.check(req.signal);
        const tp = planDockerfile(`FROM scratch\n${t}\n`);
        for (const step of tp.stages[0].steps) await this.step(req, plan, ctx, st, { ...step, line: stage.line }, results, usedArgs, si, waitStage);
      }
      done(st);
    }
    const steps = [...stage.steps];
    if (withLabels) {
      const labelLine = `LABEL ${Object.entries(req.labels).map(([k, v]) => `${JSON.stringify(k)}=${JSON.stringify(v)}`).join(' ')}`;
      steps.push(planDockerfile(`FROM scratch\n${labelLine}\n`).stages[0].steps[0]);
    }
    for (const step of steps) {
      this.check(req.signal);
      t0 = performance.now();
      const no = stepNo++;
      req.out(`Step ${no}/${total} : ${step.text}\n`);
      st.clock = new PhaseClock();
      await this.step(req, plan, ctx, st, step, results, usedArgs, si, waitStage);
      this.log('debug', `build: step ${no}/${total} ${step.text.slice(0, 60)}: ${st.clock.summary()}`);
      st.clock = undefined;
      done(st);
    }
    return st;
  }

  private check(signal: AbortSignal): void {
    if (signal.aborted) throw canceled('build canceled');
  }

  /**
   * Every image a stage starts FROM or a COPY --from / RUN --mount from= names (those known before
   * any step runs) is pulled now when `--pull` asks for it or this host lacks it, each once, as
   * Docker's builder pulls (force, or prefer local); one that is missing and cannot be pulled
   * fails the build before any step runs (no partial build for a typo in the last stage). The
   * pull's progress comes before the first step's.
   */
  private async prepareImages(req: BuildRequest, plan: Plan): Promise<void> {
    const wanted = new Map<string, () => BerthError>();
    for (const si of plan.order) {
      const stage = plan.stages[si];
      if (stage.baseStage === undefined && stage.base.toLowerCase() !== 'scratch') {
        wanted.set(stage.base, () => notFound(`pull access denied for ${stage.base}, repository does not exist or may require 'docker login'`));
      }
      for (const step of stage.steps) {
        for (const from of stepSources(step)) {
          if (/\$/.test(from) || stageRef(plan.stages, si, from) !== undefined || wanted.has(from)) continue;
          const what = step.kind === 'run' ? `RUN --mount from=${from}` : `COPY --from=${from}`;
          wanted.set(from, () => notFound(`Dockerfile line ${step.line}: ${what}: no build stage and no image named ${JSON.stringify(from)}`));
        }
      }
    }
    for (const [ref, missing] of wanted) {
      this.check(req.signal);
      let img: ImageRecord | undefined;
      try {
        img = await this.image(req, ref);
      } catch (e) {
        // A typo'd stage name or image is tried as a pull: say what the Dockerfile names, then why the pull failed.
        if (this.images.find(ref) || req.signal.aborted) throw e;
        const m = missing();
        throw new BerthError(m.kind, `${m.message} (pull: ${(e as Error).message})`, { cause: e });
      }
      if (!img) throw missing();
    }
  }

  /**
   * The image `ref` names, pulled first when `--pull` asks for it or this host lacks it (and a
   * puller is there); undefined when it is missing and cannot be pulled for lack of a puller. An
   * image ID is never pulled.
   */
  private async image(req: BuildRequest, ref: string): Promise<ImageRecord | undefined> {
    const local = this.images.find(ref);
    const isId = local !== undefined && (local.id === ref || local.id.startsWith(`sha256:${ref}`) || local.id.startsWith(ref));
    if ((local && !req.pull) || isId || !this.puller) return local;
    return this.puller.pull(ref, { auth: req.registryAuth, out: req.out, signal: req.signal });
  }

  private async step(req: BuildRequest, plan: Plan, ctx: BuildContext, st: StageState, step: Step, results: Map<number, StageState>, usedArgs: Set<string>, stageIdx: number, waitStage: (si: number) => Promise<StageState>): Promise<void> {
    const lex = new ShellLex();
    const envList = st.config.Env ?? [];
    const env: EnvLookup = (n) => {
      for (let i = envList.length - 1; i >= 0; i--) if (envList[i].startsWith(`${n}=`)) return envList[i].slice(n.length + 1);
      if (st.args.has(n)) return st.args.get(n);
      return undefined;
    };
    const word = (w: string) => lex.processWord(w, env).result;
    const a = step.instruction.args;
    const cfg = st.config;
    switch (step.kind) {
      case 'arg': {
        for (const w of a) {
          const { name, value } = splitArg(w);
          usedArgs.add(name);
          const meta = plan.metaArgs.find((m) => m.name === name);
          const v = name in req.buildArgs ? req.buildArgs[name] : value !== undefined ? word(value) : meta?.value;
          st.args.set(name, v);
        }
        return this.commitMeta(req, st, step, `ARG ${a.join(' ')}`);
      }
      case 'env': {
        const env2 = [...(cfg.Env ?? [])];
        for (let i = 0; i + 1 < a.length; i += 3) {
          const k = a[i];
          const v = word(a[i + 1]);
          const idx = env2.findIndex((e) => e.startsWith(`${k}=`));
          if (idx >= 0) env2[idx] = `${k}=${v}`; else env2.push(`${k}=${v}`);
        }
        cfg.Env = env2;
        return this.commitMeta(req, st, step, `ENV ${pairs(a, word)}`);
      }
      case 'label': {
        const labels = { ...(cfg.Labels ?? {}) };
        for (let i = 0; i + 1 < a.length; i += 3) labels[word(a[i])] = word(a[i + 1]);
        cfg.Labels = labels;
        return this.commitMeta(req, st, step, `LABEL ${pairs(a, word)}`);
      }
      case 'maintainer':
        return this.commitMeta(req, st, step, `MAINTAINER ${a[0]}`);
      case 'workdir': {
        const w = word(a[0]);
        cfg.WorkingDir = posix.isAbsolute(w) ? posix.normalize(w) : posix.join(cfg.WorkingDir || '/', w);
        return this.commitMeta(req, st, step, `WORKDIR ${cfg.WorkingDir}`);
      }
      case 'user':
        cfg.User = word(a[0]);
        return this.commitMeta(req, st, step, `USER ${cfg.User}`);
      case 'cmd':
        cfg.Cmd = this.command(step, cfg);
        return this.commitMeta(req, st, step, `CMD ${JSON.stringify(cfg.Cmd)}`);
      case 'entrypoint':
        cfg.Entrypoint = this.command(step, cfg);
        // Docker: ENTRYPOINT resets a CMD inherited from the base image.
        return this.commitMeta(req, st, step, `ENTRYPOINT ${JSON.stringify(cfg.Entrypoint)}`);
      case 'expose': {
        const ports = { ...(cfg.ExposedPorts ?? {}) };
        for (const p of a.flatMap((x) => lex.processWords(x, env))) {
          const m = /^(\d+)(?:-(\d+))?(?:\/(tcp|udp|sctp))?$/i.exec(p);
          if (!m) throw invalidArgument(`invalid containerPort: ${p}`);
          const proto = (m[3] ?? 'tcp').toLowerCase();
          for (let n = Number(m[1]); n <= Number(m[2] ?? m[1]); n++) ports[`${n}/${proto}`] = {};
        }
        cfg.ExposedPorts = ports;
        return this.commitMeta(req, st, step, `EXPOSE ${Object.keys(ports).sort().join(' ')}`);
      }
      case 'volume': {
        const vols = { ...(cfg.Volumes ?? {}) };
        for (const v of a.map(word)) {
          if (!v.trim()) throw invalidArgument('VOLUME specified can not be an empty string');
          vols[v] = {};
        }
        cfg.Volumes = vols;
        return this.commitMeta(req, st, step, `VOLUME ${JSON.stringify(a.map(word))}`);
      }
      case 'stopsignal':
        cfg.StopSignal = word(a[0]);
        return this.commitMeta(req, st, step, `STOPSIGNAL ${cfg.StopSignal}`);
      case 'shell':
        cfg.Shell = [...a];
        return this.commitMeta(req, st, step, `SHELL ${JSON.stringify(a)}`);
      case 'healthcheck': {
        if (a[0].toUpperCase() === 'NONE') cfg.Healthcheck = { Test: ['NONE'] };
        else {
          const h: HealthConfig = { Test: step.instruction.json ? ['CMD', ...a.slice(1)] : ['CMD-SHELL', a[1]] };
          const dur = (k: string) => (step.flags[k] !== undefined ? parseDuration(step.flags[k], k) : undefined);
          const i = dur('interval'); if (i !== undefined) h.Interval = i;
          const t = dur('timeout'); if (t !== undefined) h.Timeout = t;
          const sp = dur('start-period'); if (sp !== undefined) h.StartPeriod = sp;
          const si = dur('start-interval'); if (si !== undefined) h.StartInterval = si;
          if (step.flags.retries !== undefined) h.Retries = Number(step.flags.retries);
          cfg.Healthcheck = h;
        }
        return this.commitMeta(req, st, step, `HEALTHCHECK ${JSON.stringify(cfg.Healthcheck)}`);
      }
      case 'onbuild': {
        const t = step.instruction.original.replace(/^\s*onbuild\s+/i, '');
        cfg.OnBuild = [...(cfg.OnBuild ?? []), t];
        return this.commitMeta(req, st, step, `ONBUILD ${t}`);
      }
      case 'run':
        return this.run(req, plan, ctx, st, step, word, results, stageIdx, waitStage);
      case 'copy': case 'add':
        return this.copy(req, ctx, st, step, word, results, plan, stageIdx, waitStage);
    }
  }

  /** CMD/ENTRYPOINT/RUN argv: exec form as is, shell form through the stage's SHELL. */
  private command(step: Step, cfg: ImageRuntimeConfig): string[] {
    const a = step.instruction.args;
    if (step.instruction.json) return [...a];
    const shell = cfg.Shell ?? DEFAULT_SHELL;
    const docs = step.instruction.heredocs;
    if (step.kind === 'run' && docs.length) {
      // As BuildKit: `RUN <<EOF` alone runs the heredoc as the script; otherwise the heredocs are
      // appended to the command line for the shell to read.
      if (docs.length === 1 && /^\d*<<-?/.test(a[0].trim()) && !/\s/.test(a[0].trim())) return [...shell, heredocText(docs[0])];
      return [...shell, `${a[0]}\n${docs.map((d) => `${d.content}${d.name}\n`).join('')}`];
    }
    return [...shell, a[0]];
  }

  /** Build args in effect for RUN: `|N K=V ...` in history and the cache key, and in its environment. */
  private runArgs(st: StageState): string[] {
    const out: string[] = [];
    for (const [k, v] of st.args) if (v !== undefined && !(st.config.Env ?? []).some((e) => e.startsWith(`${k}=`))) out.push(`${k}=${v}`);
    return out.sort();
  }

  private cacheKey(st: StageState, parts: string[]): string {
    const h = createHash('sha256');
    h.update(st.image ?? 'scratch');
    h.update('\0');
    h.update(JSON.stringify(st.config));
    for (const p of parts) { h.update('\0'); h.update(p); }
    return h.digest('hex');
  }

  /** Reuses a cached image for this step; true on a hit. */
  private fromCache(req: BuildRequest, st: StageState, key: string): boolean {
    if (req.noCache) return false;
    const id = this.cache.get(key);
    const img = id ? this.images.find(id) : undefined;
    if (!img) return false;
    req.out(' ---> Using cache\n');
    st.image = img.id;
    st.config = structuredClone(img.config.config ?? {});
    return true;
  }

  private async commitMeta(req: BuildRequest, st: StageState, step: Step, what: string): Promise<void> {
    const parentCfg = st.config;
    const createdBy = `/bin/sh -c #(nop)  ${what}`;
    const key = this.cacheKey(st, ['meta', step.text, createdBy]);
    const prevImage = st.image;
    if (this.fromCache(req, st, key)) return;
    const img = await this.images.commit({
      parentImage: prevImage, layer: null, config: parentCfg, containerId: '', createdBy,
    }, req.signal);
    st.clock?.mark('commit');
    this.cache.set(key, img.id);
    st.image = img.id;
  }

  private async run(req: BuildRequest, plan: Plan, ctx: BuildContext, st: StageState, step: Step, word: (w: string) => string, results: Map<number, StageState>, stageIdx: number, waitStage: (si: number) => Promise<StageState>): Promise<void> {
    if (!st.image) throw invalidArgument('RUN in a stage FROM scratch needs files to run: there is no shell in scratch');
    const argv = this.command(step, st.config);
    const args = this.runArgs(st);
    const createdBy = (args.length ? [`|${args.length}`, ...args] : []).concat(argv).join(' ');
    const { mounts, keyParts, sshAuthSock, missing } = await this.runMounts(req, plan, ctx, st, step, word, results, stageIdx, waitStage);
    const network = step.flags.network && step.flags.network !== 'default' ? step.flags.network : undefined;
    // Mount definitions (and a bind's content) are part of the key; a secret's or a cache's content never is.
    const key = this.cacheKey(st, ['run', createdBy, ...keyParts, ...(network ? [`network=${network}`] : [])]);
    if (this.fromCache(req, st, key)) return;
    if (missing) throw missing;
    st.clock?.mark('key');
    const env = [...(st.config.Env ?? []), ...args];
    // As BuildKit: the first SSH mount is the agent unless the stage set SSH_AUTH_SOCK itself.
    if (sshAuthSock && !env.some((e) => e.startsWith('SSH_AUTH_SOCK='))) env.push(`SSH_AUTH_SOCK=${sshAuthSock}`);
    const runCfg: ImageRuntimeConfig = { ...st.config, Cmd: argv, Entrypoint: [''], Env: env, Labels: {} };
    let id: string | undefined;
    try {
      const r = await this.containers.run(st.image, runCfg, {
        networkMode: network ?? (req.networkMode || 'default'), mounts, signal: req.signal,
        onCreated: (cid) => { id = cid; st.clock?.mark('create'); req.out(` ---> Running in ${short(cid)}\n`); },
        onOutput: (d) => req.out(d.toString('utf8')),
      });
      id = r.id;
      if (r.exitCode !== 0) {
        throw new BerthError('FailedPrecondition', `The command '${argv.join(' ')}' returned a non-zero code: ${r.exitCode}`);
      }
      st.clock?.mark('run');
      req.out(` ---> Removed intermediate container ${short(id)}\n`);
      const img = await this.images.commit({
        parentImage: st.image, ...this.containers.diff(id), config: st.config, containerId: id, createdBy, lazyTar: true,
      }, req.signal);
      st.clock?.mark('commit');
      this.cache.set(key, img.id);
      st.image = img.id;
    } finally {
      if (id) {
        // Off the step's path: removed while the next steps run, waited for at the build's end.
        const removed = this.containers.remove(id).catch(() => undefined);
        const pending = this.removals.get(req.signal);
        if (pending) {
          pending.add(removed);
          void removed.then(() => pending.delete(removed));
        } else await removed;
      }
    }
  }

  /**
   * `RUN --mount` flags -> the mounts to make, with BuildKit's defaults (dockerfile2llb
   * convert_runmount.go, convert_secrets.go, convert_ssh.go), and what of them goes into the
   * step's cache key.
   */
  private async runMounts(
    req: BuildRequest, plan: Plan, ctx: BuildContext, st: StageState, step: Step, word: (w: string) => string, results: Map<number, StageState>, stageIdx: number,
    waitStage: (si: number) => Promise<StageState>,
  ): Promise<{ mounts: RunMount[]; keyParts: string[]; sshAuthSock?: string; missing?: Error }> {
    const mounts: RunMount[] = [];
    const keyParts: string[] = [];
    // A required secret or SSH agent the client did not send fails the step only when it runs:
    // a cached step needs neither (BuildKit resolves them when the command starts).
    let missing: Error | undefined;
    const fail = (msg: string) => invalidArgument(`Dockerfile line ${step.line}: ${msg}`);
    const source = async (from: string, path: string): Promise<{ src: MountSource; key: string }> => {
      if (!from) {
        const rel = cleanRel(path.replace(/^\/+/, ''));
        const resolved = rel === undefined ? undefined : ctx.resolve(rel, path);
        if (resolved === undefined || (resolved !== '' && !ctx.entries.has(resolved))) throw fail(`failed to compute cache key: ${JSON.stringify(posix.join('/', path))}: not found`);
        const e = resolved === '' ? undefined : ctx.entries.get(resolved)!;
        const { chunks, digest } = !e || e.header.type === 'directory'
          ? ctx.copyLayer([resolved], '/', { destIsDir: true })
          : ctx.copyLayer([resolved], `/${posix.basename(resolved)}`, { destIsDir: false });
        return { src: { context: chunks, path: !e || e.header.type === 'directory' ? '' : posix.basename(resolved) }, key: `context:${digest}` };
      }
      const dep = stageRef(plan.stages, stageIdx, from);
      let image: Digest | null;
      if (dep !== undefined) {
        const r = results.get(dep) ?? (dep !== stageIdx && plan.order.includes(dep) ? await waitStage(dep) : undefined);
        if (!r) throw fail(`cannot mount from stage ${JSON.stringify(from)} to ${JSON.stringify(path)}, stage needs to be defined before current command`);
        image = r.image;
      } else {
        const img = this.images.find(from); // (pulled before the first step when it had to be)
        if (!img) throw notFound(`Dockerfile line ${step.line}: RUN --mount from=${from}: no build stage and no image named ${JSON.stringify(from)}`);
        image = img.id;
      }
      const p = posix.join('/', path);
      return { src: { image, path: p }, key: `image:${image ?? 'scratch'}:${p}` };
    };
    let sshIndex = 0;
    let sshAuthSock: string | undefined;
    for (const raw of step.lists.mount ?? []) {
      let m;
      try {
        m = parseMount(raw, word);
      } catch (e) {
        throw new PlanError((e as Error).message, step.line);
      }
      const targetOf = (t: string): string => {
        const abs = posix.isAbsolute(posix.normalize(t || '.')) ? posix.normalize(t) : posix.join('/', st.config.WorkingDir || '/', t);
        const clean = abs.length > 1 ? abs.replace(/\/+$/, '') : abs;
        if (clean === '/') throw fail(`invalid mount target ${JSON.stringify(clean)}`);
        return clean;
      };
      const spec = JSON.stringify(m);
      switch (m.type) {
        case 'bind': {
          const target = targetOf(m.target);
          const { src, key } = await source(m.from, m.source);
          mounts.push({ type: 'bind', target, readOnly: m.readOnly, source: src });
          keyParts.push(`mount:${spec}:${key}`);
          break;
        }
        case 'cache': {
          const target = targetOf(m.target);
          const id = m.id || (posix.normalize(m.target || '.').replace(/(.)\/+$/, '$1'));
          const sharing = m.sharing || 'shared';
          const custom = m.uid !== undefined || m.gid !== undefined || m.mode !== undefined;
          const path = posix.join('/', m.source);
          const base = m.from ? await source(m.from, path) : undefined;
          // BuildKit keys a cache directory by its ID and the state it starts from (the `from`
          // stage, or the directory made with uid/gid/mode); `source` only picks a subdirectory.
          const cacheKey = [id, base?.key ?? '', custom ? `${m.uid ?? 0}:${m.gid ?? 0}:${(m.mode ?? 0o755).toString(8)}` : ''].join('\0');
          mounts.push({
            type: 'cache', target, readOnly: m.readOnly, key: cacheKey, description: `cached mount ${target} with id ${JSON.stringify(id)}`, sharing,
            uid: m.uid ?? 0, gid: m.gid ?? 0, mode: m.mode ?? 0o755, base: base?.src, path,
          });
          keyParts.push(`mount:${spec}`);
          break;
        }
        case 'tmpfs':
          mounts.push({ type: 'tmpfs', target: targetOf(m.target), size: m.sizeLimit });
          keyParts.push(`mount:${spec}`);
          break;
        case 'secret': {
          let id = m.source || m.id;
          if (!id) {
            if (!m.target) throw fail('one of source, target required');
            id = posix.basename(m.target);
          }
          const data = req.secrets?.get(id);
          if (data === undefined && m.required) missing ??= fail(`secret ${id}: not found`);
          const target = m.target ? targetOf(m.target) : m.env === undefined ? `/run/secrets/${posix.basename(id)}` : undefined;
          if (m.env !== undefined) {
            if (!m.env || m.env.includes('=')) throw fail(`invalid environment variable name ${JSON.stringify(m.env)} for secret ${id}`);
            // BuildKit sets the variable (empty) even for a missing optional secret.
            mounts.push({ type: 'secret-env', name: m.env, data: data ?? Buffer.alloc(0) });
          }
          if (target && data !== undefined) mounts.push({ type: 'secret', target, data, uid: m.uid ?? 0, gid: m.gid ?? 0, mode: m.mode ?? 0o400 });
          keyParts.push(`mount:${JSON.stringify({ ...m, id })}`);
          break;
        }
        case 'ssh': {
          if (m.source) throw fail('ssh does not support source');
          const id = m.id || 'default';
          const target = m.target ? targetOf(m.target) : `/run/buildkit/ssh_agent.${sshIndex}`;
          sshIndex++;
          sshAuthSock ??= target;
          const socket = req.ssh?.get(id);
          if (socket === undefined && m.required) missing ??= fail(`no SSH key ${JSON.stringify(id)} forwarded from the client`);
          if (socket !== undefined) mounts.push({ type: 'ssh', target, socket, uid: m.uid ?? 0, gid: m.gid ?? 0, mode: m.mode ?? 0o600 });
          keyParts.push(`mount:${spec}`);
          break;
        }
      }
    }
    return { mounts, keyParts, sshAuthSock, missing };
  }

  private async copy(
    req: BuildRequest, ctx: BuildContext, st: StageState, step: Step, word: (w: string) => string, results: Map<number, StageState>, plan: Plan, stageIdx: number,
    waitStage: (si: number) => Promise<StageState>,
  ): Promise<void> {
    const isAdd = step.kind === 'add';
    const docs = step.instruction.heredocs;
    const isDoc = (w: string) => docs.length > 0 && /^\d*<<-?/.test(w);
    const raw = step.instruction.args;
    const a = raw.map((w, i) => (i < raw.length - 1 && isDoc(w) ? w : word(w)));
    let srcs = a.slice(0, -1);
    let dest = a.at(-1)!;
    let files: BuildContext = ctx;
    let fromKey: string | undefined;
    const f = step.flags;
    const parents = f.parents === 'true';
    const fail = (msg: string) => invalidArgument(`Dockerfile line ${step.line}: ${msg}`);
    const isUrl = (x: string) => /^https?:\/\//i.test(x);
    if (f.checksum !== undefined) {
      if (!isAdd) throw fail("checksum can't be specified for COPY");
      if (srcs.length !== 1) throw fail("checksum can't be specified for multiple sources");
      if (!isUrl(srcs[0])) throw fail('checksum requires HTTP(S) or Git sources');
      if (!/^sha256:[0-9a-f]{64}$/.test(f.checksum)) throw fail(`invalid checksum digest format: ${f.checksum}`);
    }
    if (docs.length) {
      // Heredoc sources (`COPY <<EOF /dest`) are files named after their delimiter, in a context of their own.
      files = new BuildContext();
      const names: string[] = [];
      for (const w of srcs) {
        const d = docs.find((x) => w.replace(/^\d*<<-?/, '').replace(/^["']|["']$/g, '') === x.name);
        if (!d) throw invalidArgument(`${step.kind.toUpperCase()}: mixing heredocs and files is not supported yet: ${w}`);
        const body = heredocText(d);
        const text = d.expand ? body.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, x?: string, y?: string) => word(`\${${x ?? y}}`)) : body;
        files.addFile(d.name, Buffer.from(text), 0o644);
        names.push(d.name);
      }
      srcs = names;
    } else if (step.kind === 'copy' && f.from) {
      const ref = word(f.from);
      const dep = stageRef(plan.stages, stageIdx, ref);
      let fromImage: Digest | null | undefined;
      if (dep === undefined) {
        // Not a stage: an image reference (`COPY --from=busybox`); one named through a variable is pulled only now.
        const img = /\$/.test(f.from) ? await this.image(req, ref) : this.images.find(ref);
        if (!img) throw notFound(`COPY --from=${ref}: no build stage and no image named ${JSON.stringify(ref)}`);
        fromImage = img.id;
      } else fromImage = (results.get(dep) ?? (dep !== stageIdx && plan.order.includes(dep) ? await waitStage(dep) : undefined))?.image;
      if (!fromImage) throw invalidArgument(`COPY --from=${f.from}: the stage has no files`);
      srcs = srcs.map((x) => x.replace(/^\/+/, '') || '.');
      // An image never changes: what its files give is known from its ID, the expanded step and
      // the stage's state, so a cached step reads none of them.
      fromKey = this.cacheKey(st, ['copy-from', step.text, fromImage, JSON.stringify(a), JSON.stringify(f), JSON.stringify(step.lists)]);
      if (this.fromCache(req, st, fromKey)) return;
      files = await this.imageFiles(fromImage, copyFromPaths(srcs, parents), req.signal);
      st.clock?.mark('read');
    } else if (!isAdd) {
      for (const x of srcs) if (isUrl(x)) throw fail("source can't be a URL for COPY");
    }
    const destIsDir = parents || dest.endsWith('/') || dest === '.' || srcs.length > 1 || srcs.some((x) => /[*?[]/.test(x));
    if (!posix.isAbsolute(dest)) dest = posix.join(st.config.WorkingDir || '/', dest);
    let uid: number | undefined;
    let gid: number | undefined;
    if (f.chown) ({ uid, gid } = await this.chown(st, word(f.chown), req.signal));
    const mode = f.chmod ? parseChmod(word(f.chmod)) : undefined;
    const exclude = step.lists.exclude?.length ? new DockerIgnore(step.lists.exclude.map(word)) : undefined;
    // ADD unpacks local archives (never a URL's body, unless --unpack says so), as Docker.
    const unpack = (local: boolean) => (f.unpack !== undefined ? f.unpack === 'true' : isAdd && local);
    const w = new LayerWriter({ uid, gid, mode });
    const kinds: string[] = [];
    for (const src of srcs) {
      if (isAdd && isUrl(src) && !docs.length) {
        const got = await this.fetchUrl(src, req.signal);
        if (f.checksum && `sha256:${createHash('sha256').update(got.data).digest('hex')}` !== f.checksum) {
          throw fail(`digest mismatch ${f.checksum}: sha256:${createHash('sha256').update(got.data).digest('hex')}`);
        }
        if (unpack(false) && await this.addArchive(w, got.data, dest, exclude, req.signal)) { kinds.push('dir'); continue; }
        const base = posix.basename(new URL(src).pathname);
        const name = base && base !== '/' && base !== '.' ? base : '__unnamed__';
        const target = destIsDir ? posix.join(dest, name) : posix.normalize(dest);
        const remote = new BuildContext();
        remote.addFile(name, got.data, 0o600);
        const e = remote.entry(name)!;
        if (got.lastModified !== undefined) e.header.mtime = got.lastModified;
        w.parents(posix.dirname(target));
        w.entry(remote, e, target);
        kinds.push('file');
        continue;
      }
      if (parents) {
        // `--parents`: what matches keeps its path below the pivot (`a/./b/c` -> b/c; no pivot: the
        // context root); its parents come from the source with their own metadata.
        for (const p of files.parentsSources(src)) {
          const dirs = posix.dirname(p.rel) === '.' ? [] : posix.dirname(p.rel).split('/');
          for (let i = 1; i <= dirs.length; i++) {
            const rel = dirs.slice(0, i).join('/');
            const pe = files.entry(p.pivot ? `${p.pivot}/${rel}` : rel);
            if (pe) w.entry(files, pe, posix.join(dest, rel));
          }
          w.source(files, p.path, posix.join(dest, p.rel), false, exclude);
          kinds.push(files.entry(p.path)?.header.type === 'directory' ? 'dir' : 'file');
        }
        continue;
      }
      for (const r of files.sources(src)) {
        const e = files.entry(r)!;
        if (e.header.type === 'file' && unpack(true) && files === ctx && !exclude?.excludes(posix.basename(r)) &&
          await this.addArchive(w, e.data, dest, exclude, req.signal)) {
          kinds.push('dir');
          continue;
        }
        w.source(files, r, dest, destIsDir, exclude);
        kinds.push(e.header.type === 'directory' ? 'dir' : 'file');
      }
    }
    const { chunks, members, digest } = w.finish();
    st.clock?.mark('layer');
    const what = kinds.length === 1 ? kinds[0] : 'multi';
    const createdBy = `/bin/sh -c #(nop) ${step.kind.toUpperCase()} ${f.from ? `--from=${f.from} ` : ''}${what}:${digest} in ${dest} `;
    const key = fromKey ?? this.cacheKey(st, ['copy', step.text, digest, dest]);
    if (!fromKey && this.fromCache(req, st, key)) return;
    const img = await this.images.commit({
      parentImage: st.image, layer: Readable.from(chunks), members, config: st.config, containerId: '', createdBy, lazyTar: true,
    }, req.signal);
    st.clock?.mark('commit');
    this.cache.set(key, img.id);
    st.image = img.id;
  }

  private fetchUrl(url: string, signal: AbortSignal): Promise<{ data: Buffer; lastModified?: number }> {
    if (!this.fetcher) throw invalidArgument(`ADD ${url}: this builder cannot fetch URLs`);
    return this.fetcher.fetch(url, signal);
  }

  /**
   * ADD's archive extraction: when `data` is a tar (maybe gzip/bzip2/xz/zstd compressed), its
   * members go into the directory `dest` (owners as in the archive unless --chown) and true is
   * returned; anything else is left to be copied as a file.
   */
  private async addArchive(w: LayerWriter, data: Buffer, dest: string, exclude: DockerIgnore | undefined, signal: AbortSignal): Promise<boolean> {
    if (!(await isTarArchive(data, signal))) return false;
    const archive = await BuildContext.read(decompressStream(Readable.from([data]), signal), signal);
    w.tree(archive, '', posix.normalize(dest), { exclude, keepOwner: true });
    return true;
  }

  /** Files of an image as a context: `paths` and what is below them (see BuildContainers.imageFiles). */
  private async imageFiles(image: Digest, paths: string[], signal: AbortSignal): Promise<BuildContext> {
    return BuildContext.read(await this.containers.imageFiles(image, paths, signal), signal, { rooted: true });
  }

  /**
   * `--chown=user[:group]`: numbers as they are; names through the stage image's /etc/passwd and
   * /etc/group with the runtime's user resolution (Docker's rules and error messages).
   */
  private async chown(st: StageState, spec: string, signal: AbortSignal): Promise<{ uid: number; gid: number }> {
    const [u, g] = spec.split(':');
    const numeric = (x: string | undefined) => x === undefined || /^\d+$/.test(x);
    if (numeric(u) && numeric(g)) {
      const uid = Number(u);
      return { uid, gid: g === undefined ? uid : Number(g) };
    }
    let passwd = '';
    let group = '';
    if (st.image) {
      const fsCtx = await this.imageFiles(st.image, ['etc/passwd', 'etc/group'], signal);
      passwd = fsCtx.file('etc/passwd')?.toString('utf8') ?? '';
      group = fsCtx.file('etc/group')?.toString('utf8') ?? '';
    }
    const r = resolveUserIn(passwd, group, spec);
    // Docker: "a username without groupname ... will use the same numeric UID as the GID".
    return { uid: r.uid, gid: g === undefined ? r.uid : r.gid };
  }
}

/**
 * Docker's IsArchivePath: the data, decompressed when gzip/bzip2/xz/zstd, starts with a valid tar
 * header. Only the first block is decompressed.
 */
async function isTarArchive(data: Buffer, signal: AbortSignal): Promise<boolean> {
  const compressed = (data[0] === 0x1f && data[1] === 0x8b) || data.subarray(0, 3).toString('latin1') === 'BZh' ||
    data.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) || data.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
  if (!compressed) return data.length >= 512 && isTarHeader(data.subarray(0, 512));
  const ac = new AbortController();
  const stop = () => ac.abort();
  signal.addEventListener('abort', stop, { once: true });
  let head = Buffer.alloc(0);
  try {
    for await (const c of decompressStream(Readable.from([data]), ac.signal)) {
      head = Buffer.concat([head, c as Buffer]);
      if (head.length >= 512) break;
    }
  } catch {
    return false;
  } finally {
    signal.removeEventListener('abort', stop);
    ac.abort();
  }
  return head.length >= 512 && isTarHeader(head.subarray(0, 512));
}

/**
 * What a `COPY --from` reads of the image (for BuildContainers.imageFiles): each source up to its
 * first component with a glob, and everything below that; `--parents` sources without their pivot
 * mark (`a/./b` is `a/b`).
 */
export function copyFromPaths(srcs: string[], parents: boolean): string[] {
  const out = new Set<string>();
  for (const src of srcs) {
    const path = parents ? src.replace(/(^|\/)\.\/(?=.)/, '$1') : src;
    const fixed: string[] = [];
    for (const c of path.split('/')) {
      if (/[*?[\\]/.test(c)) break;
      fixed.push(c);
    }
    const rel = cleanRel(fixed.join('/') || '.');
    // A path that climbs out is an error the copy reports; reading the whole image lets it.
    out.add(rel ?? '');
  }
  return [...out];
}

/** The stages a stage waits for: the one it is FROM, and those its steps copy or mount from. */
export function stageDeps(plan: Plan, si: number): number[] {
  const stage = plan.stages[si];
  const deps = new Set<number>();
  if (stage.baseStage !== undefined) deps.add(stage.baseStage);
  for (const step of stage.steps) {
    for (const from of stepSources(step)) {
      const d = stageRef(plan.stages, si, from);
      if (d !== undefined && d !== si) deps.add(d);
    }
  }
  return [...deps];
}

/**
 * The progress of stages that run side by side, written as one sequential legacy stream: the
 * first unfinished stage in the plan's order streams live, the others are held until their turn.
 */
export class StageOutputs {
  private readonly held = new Map<number, string[]>();
  private readonly finished = new Set<number>();
  private pos = 0;
  constructor(private readonly order: number[], private readonly out: (text: string) => void) {}

  write(si: number, text: string): void {
    if (this.order[this.pos] === si) this.out(text);
    else {
      const h = this.held.get(si) ?? [];
      h.push(text);
      this.held.set(si, h);
    }
  }

  done(si: number): void {
    this.finished.add(si);
    while (this.pos < this.order.length && this.finished.has(this.order[this.pos])) {
      this.pos++;
      this.flush(this.order[this.pos]);
    }
  }

  private flush(si: number | undefined): void {
    if (si === undefined) return;
    for (const t of this.held.get(si) ?? []) this.out(t);
    this.held.delete(si);
  }

  /** After a failure: what is held, in order (the failing stage's output included). */
  flushAll(): void {
    for (const si of this.order.slice(this.pos)) this.flush(si);
    this.pos = this.order.length;
  }
}

/** A heredoc's content as the build sees it: `<<-` strips leading tabs. */
function heredocText(d: Heredoc): string {
  return d.chomp ? d.content.replace(/^\t+/gm, '') : d.content;
}

function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function pairs(a: string[], word: (w: string) => string): string {
  const out: string[] = [];
  for (let i = 0; i + 1 < a.length; i += 3) out.push(`${word(a[i])}=${word(a[i + 1])}`);
  return out.join(' ');
}

/** Go duration (`30s`, `1m30s`, `500ms`) -> nanoseconds. */
export function parseDuration(s: string, flag: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, 'µs': 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let m: RegExpExecArray | null;
  let consumed = 0;
  while ((m = re.exec(s))) { total += Number(m[1]) * units[m[2]]; consumed = re.lastIndex; }
  if (s === '0') return 0;
  if (!s || consumed !== s.length) throw invalidArgument(`invalid value for --${flag}: time: invalid duration "${s}"`);
  return Math.round(total);
}
