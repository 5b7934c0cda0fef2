import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, statfsSync, statSync, watch, writeFileSync, writeSync, constants as fsc, FSWatcher } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { release } from 'node:os';
import { canceled, errnoCode, internal, invalidArgument, notFound } from '../../base/errors';
import { run, runStreaming } from '../../sys/exec';
import { processAlive, spawnDetached } from '../../sys/process';
import { connectSeqpacket } from '../../sys/seqpacket';
import { blkioNeedsBfqWeight, liftPidsLimit, writeBfqWeight } from '../../sys/cgroups';
import type { AttachConnection, ContainerRuntime, CreateOptions, ExecOptions, ExecSession, ExitStatus, ForegroundRunner, ForegroundRunOptions } from '../runtime';
import { SeqpacketAttach } from './attach';
import { LogMark, markLog } from '../logs';
import { cleanRuntimeMessage, mapRuntimeError } from './errors';
import { ConmonPipeReader } from './sync-pipe';

export interface ConmonRuntimeOptions {
  /** Which OCI runtime; 'auto' picks crun (with the hybrid-cgroup workaround when needed) else runc. */
  runtime: 'crun' | 'runc' | 'auto';
  /** berth's own state for the runtime, e.g. /run/berth/runtime. Keep it short: attach socket
   *  paths (`<stateDir>/s/<id>/attach`) must fit in 108 bytes. */
  stateDir: string;
  conmonPath?: string;
  crunPath?: string;
  runcPath?: string;
  /** Force (true) or forbid (false) crun's hybrid-cgroup workaround; default: detect. */
  crunHybridWorkaround?: boolean;
  /** berth's compiled wrapper for that workaround (native/crun-hybrid.c); a shell script otherwise. */
  crunHybridWrapper?: string;
  /** berth's log rotator (native/log-rotate.c); without it logs are never rotated. */
  logRotator?: string;
}

/** What a container's log rotator was started with (kept to start it again after a berthd restart). */
interface RotatorJob {
  path: string;
  ctl: string;
  maxSize: number;
  maxFiles: number;
  compress: boolean;
}

const ROTATOR_FILE = 'log-rotate.json';
/** Cap of the scratch log kept for attach when a container has no log (conmon truncates it). */
const SCRATCH_LOG_MAX = 1024 * 1024;

/**
 * Layout of stateDir:
 *   root/              the OCI runtime's --root (berth never sees other engines' containers)
 *   exits/<id>         conmon's exit files (--exit-dir), watched by waitExit
 *   persist/<id>/      conmon's --persist-dir (exit, oom), pid (container), conmon.pid; log-path;
 *                      log-rotate.json and logrotate.pid (the log rotator); scratch.log (no log driver)
 *   s/<uuid> -> bundle conmon's attach socket symlinks (--socket-dir-path)
 *   exec/<id>/<exec>/  one exec session: process.json, exit/, persist/, pid, attach, ctl
 *   crun-hybrid        wrapper that runs crun without the cgroup2 mount on hybrid hosts
 */
const CGROUP2_MAGIC = 0x63677270;

export type CgroupMode = 'v1' | 'v2' | 'hybrid';

/** How this host mounts cgroups: pure v2, pure v1, or v1 with a cgroup2 tree holding controllers. */
export function detectCgroupMode(): CgroupMode {
  try {
    if (statfsSync('/sys/fs/cgroup').type === CGROUP2_MAGIC) return 'v2';
  } catch { return 'v1'; }
  try {
    if (statfsSync('/sys/fs/cgroup/unified').type === CGROUP2_MAGIC &&
      readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim() !== '') return 'hybrid';
  } catch { /* no unified tree */ }
  return 'v1';
}

function which(name: string, fallback: string[]): string | undefined {
  for (const dir of (process.env.PATH ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    const p = join(dir, name);
    if (existsSync(p)) return p;
  }
  return fallback.find((p) => existsSync(p));
}

const RUNTIME_ENV = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };

/**
 * ContainerRuntime driving conmon (one per container, detached: containers survive berthd) with
 * crun or runc. Exit codes come only from conmon's exit files (the init process is re-parented
 * to conmon, never to berthd).
 */
export class ConmonRuntime implements ContainerRuntime, ForegroundRunner {
  readonly name: string;
  /** The executable conmon runs and we run for one-shot commands (may be the crun wrapper). */
  private readonly runtimePath: string;
  private readonly conmonPath: string;
  private readonly dirs: { root: string; exits: string; persist: string; sock: string; exec: string };
  private watcher?: FSWatcher;
  private readonly exitWaiters = new Map<string, Set<() => void>>();
  private readonly bpfCache = new Map<string, string>();
  /** Identifies the runtime build (path, size, mtime) and kernel, so cached BPF never outlives them. */
  private readonly runtimeIdentity: string;

  constructor(private readonly opts: ConmonRuntimeOptions) {
    const s = opts.stateDir;
    this.dirs = { root: join(s, 'root'), exits: join(s, 'exits'), persist: join(s, 'persist'), sock: join(s, 's'), exec: join(s, 'exec') };
    for (const d of Object.values(this.dirs)) mkdirSync(d, { recursive: true, mode: 0o700 });
    this.conmonPath = opts.conmonPath ?? which('conmon', ['/usr/libexec/podman/conmon', '/usr/bin/conmon']) ?? '/usr/bin/conmon';
    const crun = opts.crunPath ?? which('crun', ['/usr/bin/crun']);
    const runc = opts.runcPath ?? which('runc', ['/usr/sbin/runc', '/usr/bin/runc']);
    let choice = opts.runtime;
    if (choice === 'auto') choice = crun ? 'crun' : 'runc';
    if (choice === 'crun') {
      if (!crun) throw invalidArgument('runtime crun: not installed');
      this.name = 'crun';
      const hybrid = opts.crunHybridWorkaround ?? detectCgroupMode() === 'hybrid';
      const compiled = opts.crunHybridWrapper && crun === '/usr/bin/crun' && existsSync(opts.crunHybridWrapper) ? opts.crunHybridWrapper : undefined;
      this.runtimePath = hybrid ? compiled ?? this.writeCrunWrapper(crun) : crun;
    } else {
      if (!runc) throw invalidArgument('runtime runc: not installed');
      this.name = 'runc';
      this.runtimePath = runc;
    }
    const bin = this.name === 'crun' ? crun! : runc!;
    const st = statSync(bin);
    this.runtimeIdentity = `${bin}:${st.size}:${st.mtimeMs}:${release()}`;
  }

  /**
   * crun 1.8 refuses hybrid hosts ("cgroups in hybrid mode not supported") because of the cgroup2
   * tree at /sys/fs/cgroup/unified. In a private mount namespace without that mount it sees a
   * plain v1 host; the namespace costs ~5 ms per call (see DESIGN.md section 2).
   */
  private writeCrunWrapper(crun: string): string {
    const path = join(this.opts.stateDir, 'crun-hybrid');
    const script = '#!/bin/sh\n# berth: crun on a hybrid cgroup host, without the cgroup2 mount (DESIGN.md section 2)\n' +
      `exec unshare --mount --propagation slave /bin/sh -c 'umount -l /sys/fs/cgroup/unified 2>/dev/null; exec ${crun} "$@"' crun "$@"\n`;
    const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (current !== script) {
      writeFileSync(`${path}.tmp`, script, { mode: 0o755 });
      renameSync(`${path}.tmp`, path);
    }
    return path;
  }

  private runtimeArgs(args: string[]): string[] {
    return ['--root', this.dirs.root, ...args];
  }

  private async runtime(op: string, id: string, args: string[]): Promise<void> {
    const r = await run(this.runtimePath, this.runtimeArgs(args), { allowFailure: true, env: RUNTIME_ENV });
    if (r.code !== 0) throw mapRuntimeError(op, id, r.stderr || r.stdout);
  }

  private persistDir(id: string): string { return join(this.dirs.persist, id); }

  /**
   * crun compiles the seccomp profile to BPF on every create (~20-40 ms here; Debian's crun 1.8
   * lacks its own cache). The BPF it compiled once is kept, keyed by the exact seccomp JSON, and
   * handed to later creates through crun's `run.oci.seccomp_bpf_data` annotation.
   */
  private seccompKey(spec: Record<string, unknown>): string | undefined {
    const seccomp = (spec.linux as { seccomp?: unknown } | undefined)?.seccomp;
    if (this.name !== 'crun' || !seccomp) return undefined;
    return createHash('sha256').update(this.runtimeIdentity).update(JSON.stringify(seccomp)).digest('hex');
  }

  private cachedBpf(key: string): string | undefined {
    let bpf = this.bpfCache.get(key);
    if (bpf === undefined) {
      try { bpf = readFileSync(join(this.opts.stateDir, 'seccomp', key), 'utf8'); } catch { return undefined; }
      this.bpfCache.set(key, bpf);
    }
    return bpf;
  }

  private rememberBpf(key: string, id: string): void {
    try {
      const bpf = readFileSync(join(this.dirs.root, id, 'seccomp.bpf')).toString('base64');
      if (!bpf) return;
      this.bpfCache.set(key, bpf);
      mkdirSync(join(this.opts.stateDir, 'seccomp'), { recursive: true, mode: 0o700 });
      writeFileSync(join(this.opts.stateDir, 'seccomp', `${key}.tmp`), bpf);
      renameSync(join(this.opts.stateDir, 'seccomp', `${key}.tmp`), join(this.opts.stateDir, 'seccomp', key));
    } catch { /* no cache this time; crun compiles again next create */ }
  }

  /**
   * crun 1.8 on cgroup v1 writes a blkio weight only to CFQ's `blkio.weight`, which no kernel since
   * 5.0 has, and fails the create (ENOENT). For crun on such a host the weight is taken out of what
   * crun gets and written to BFQ's `blkio.bfq.weight` here, as runc itself does.
   */
  private takeBfqWeight(resources: Record<string, unknown> | undefined): number | undefined {
    const blockIO = resources?.blockIO as { weight?: number } | undefined;
    if (this.name !== 'crun' || !blockIO?.weight || !(this.bfqWeight ??= blkioNeedsBfqWeight())) return undefined;
    const weight = blockIO.weight;
    delete blockIO.weight;
    if (!Object.keys(blockIO).length) delete resources!.blockIO;
    return weight;
  }
  private bfqWeight?: boolean;

  async create(o: CreateOptions): Promise<{ pid: number; monitorPid: number }> {
    let bpfKey: string | undefined;
    let bpfCached = false;
    const bfqWeight = this.takeBfqWeight((o.spec as { linux?: { resources?: Record<string, unknown> } } | undefined)?.linux?.resources);
    if (o.spec) {
      bpfKey = this.seccompKey(o.spec);
      const bpf = bpfKey ? this.cachedBpf(bpfKey) : undefined;
      if (bpf) {
        o.spec.annotations = { ...(o.spec.annotations as Record<string, string> | undefined), 'run.oci.seccomp_bpf_data': bpf };
        bpfCached = true;
      }
      writeFileSync(join(o.bundleDir, 'config.json'), JSON.stringify(o.spec));
    }
    const persist = this.persistDir(o.id);
    await fsp.mkdir(persist, { recursive: true });
    const logPath = o.log?.path ?? join(persist, 'scratch.log');
    await Promise.all([
      fsp.rm(join(this.dirs.exits, o.id), { force: true }),
      fsp.rm(join(persist, 'exit'), { force: true }),
      fsp.rm(join(persist, 'oom'), { force: true }),
      fsp.rm(join(this.dirs.sock, o.id), { force: true }),
      fsp.rm(join(persist, ROTATOR_FILE), { force: true }),
    ]);
    const args = [
      '--api-version', '1', '-c', o.id, '-u', o.id, '-n', o.id, '-r', this.runtimePath,
      '--runtime-arg', '--root', '--runtime-arg', this.dirs.root,
      '-b', o.bundleDir, '-p', join(persist, 'pid'), '-P', join(persist, 'conmon.pid'),
      '--exit-dir', this.dirs.exits, '--persist-dir', persist, '--socket-dir-path', this.dirs.sock,
      '-l', `k8s-file:${logPath}`, '--log-level', 'error',
    ];
    // Without a log (the none driver) conmon still writes a small scratch one under the exec root:
    // attach recovers from it the output conmon 2.1 never sends to the socket (attach.ts).
    if (!o.log) args.push('--log-size-max', String(SCRATCH_LOG_MAX));
    if (o.tty) args.push('-t');
    if (o.openStdin) {
      args.push('-i');
      if (!o.stdinOnce) args.push('--leave-stdin-open');
    }
    await fsp.writeFile(join(persist, 'log-path'), logPath);
    const child = spawnDetached(this.conmonPath, args, { cwd: o.bundleDir, env: { ...RUNTIME_ENV, _OCI_SYNCPIPE: '3' }, extraPipes: 1 });
    const sync = new ConmonPipeReader(child.pipes[0]);
    try {
      const msg = await sync.next();
      if (!msg) {
        await child.exited.catch(() => undefined);
        throw internal(`conmon for ${o.id} exited without reporting: ${child.stderr().trim() || 'no output'}`);
      }
      if (!(msg.data > 0)) throw mapRuntimeError('create', o.id, msg.message ?? '');
      await child.exited;
      // Before start: the weight holds from the container's first instruction.
      if (bfqWeight) await writeBfqWeight(msg.data, bfqWeight);
      if (bpfKey && !bpfCached) this.rememberBpf(bpfKey, o.id);
      const monitorPid = Number(readFileSync(join(persist, 'conmon.pid'), 'utf8').trim());
      if (o.log?.rotate && this.opts.logRotator) {
        const job: RotatorJob = { path: o.log.path, ctl: join(o.bundleDir, 'ctl'), ...o.log.rotate };
        await fsp.writeFile(join(persist, ROTATOR_FILE), JSON.stringify(job));
        this.startRotator(o.id, monitorPid, job);
      }
      return { pid: msg.data, monitorPid };
    } finally {
      sync.destroy();
    }
  }

  /**
   * Starts the log rotator (native/log-rotate.c) beside conmon: it renames full logs away and asks
   * conmon to reopen, keeps going while berthd is down, and exits with conmon. It locks its PID
   * file, so starting it twice for one run is harmless.
   */
  private startRotator(id: string, monitorPid: number, job: RotatorJob): void {
    const persist = this.persistDir(id);
    const child = spawnDetached(this.opts.logRotator!, [
      job.path, job.ctl, String(monitorPid), String(job.maxSize), String(job.maxFiles), job.compress ? '1' : '0', join(persist, 'logrotate.pid'),
    ], { cwd: persist, env: RUNTIME_ENV, extraPipes: 0 });
    child.exited.catch(() => undefined);
  }

  async recover(id: string): Promise<void> {
    const persist = this.persistDir(id);
    let job: RotatorJob;
    try { job = JSON.parse(await fsp.readFile(join(persist, ROTATOR_FILE), 'utf8')) as RotatorJob; } catch { return; }
    if (!this.opts.logRotator) return;
    const pidOf = async (file: string) => Number((await fsp.readFile(join(persist, file), 'utf8').catch(() => '')).trim());
    const rotator = await pidOf('logrotate.pid');
    if (processAlive(rotator) && (await fsp.readFile(`/proc/${rotator}/cmdline`, 'utf8').catch(() => '')).includes('berth-logrotate')) return;
    const monitorPid = await pidOf('conmon.pid');
    if (processAlive(monitorPid)) this.startRotator(id, monitorPid, job);
  }

  async start(id: string): Promise<void> {
    await this.runtime('start', id, ['start', id]);
  }

  /**
   * `<runtime> run` with berthd as the parent and the output through pipes: no conmon, no log.
   * The runtime's own errors go to `--log`, so a container that never started (the file has
   * something) is told from one whose process exited non-zero. The seccomp BPF cache works as for
   * create: the compiled program is picked up from the state dir while the container runs.
   */
  async runForeground(o: ForegroundRunOptions): Promise<ExitStatus> {
    if (o.signal.aborted) throw canceled('run canceled');
    const bpfKey = this.seccompKey(o.spec);
    const bpf = bpfKey ? this.cachedBpf(bpfKey) : undefined;
    if (bpf) o.spec.annotations = { ...(o.spec.annotations as Record<string, string> | undefined), 'run.oci.seccomp_bpf_data': bpf };
    writeFileSync(join(o.bundleDir, 'config.json'), JSON.stringify(o.spec));
    const pidFile = join(o.bundleDir, 'run.pid');
    const logFile = join(o.bundleDir, 'run.log');
    await Promise.all([fsp.rm(pidFile, { force: true }), fsp.rm(logFile, { force: true })]);
    const child = runStreaming(this.runtimePath, this.runtimeArgs(['--log', logFile, 'run', '--bundle', o.bundleDir, '--pid-file', pidFile, o.id]), {
      cwd: o.bundleDir, env: RUNTIME_ENV, onOutput: o.onOutput,
    });
    let ended = false;
    // Until the container exists a kill fails: try again until it takes or the run is over.
    const kill = async () => {
      while (!ended) {
        const r = await run(this.runtimePath, this.runtimeArgs(['kill', o.id, 'KILL']), { allowFailure: true, env: RUNTIME_ENV }).catch(() => undefined);
        if (r?.code === 0) return;
        await new Promise((res) => setTimeout(res, 20));
      }
    };
    const onAbort = () => { void kill(); };
    o.signal.addEventListener('abort', onAbort, { once: true });
    const learnBpf = bpfKey && !bpf ? setInterval(() => {
      // The pid file is written once the container is created, its BPF program complete.
      if (existsSync(pidFile)) { this.rememberBpf(bpfKey, o.id); clearInterval(learnBpf!); }
    }, 5) : undefined;
    try {
      const code = await child.exited;
      ended = true;
      let log = '';
      try { log = readFileSync(logFile, 'utf8'); } catch { /* no errors logged */ }
      if (code !== 0 && log.trim() && !existsSync(pidFile)) throw mapRuntimeError('create', o.id, log);
      if (o.signal.aborted) throw canceled('run canceled');
      return { exitCode: code, oomKilled: false, finishedAt: new Date() };
    } finally {
      ended = true;
      if (learnBpf) clearInterval(learnBpf);
      o.signal.removeEventListener('abort', onAbort);
    }
  }

  async kill(id: string, signal: string | number): Promise<void> {
    const sig = typeof signal === 'number' ? String(signal) : signal.toUpperCase().replace(/^SIG/, '');
    await this.runtime('kill', id, ['kill', id, sig]);
  }

  async pause(id: string): Promise<void> {
    await this.runtime('pause', id, ['pause', id]);
  }

  async resume(id: string): Promise<void> {
    await this.runtime('resume', id, ['resume', id]);
  }

  async delete(id: string, force: boolean): Promise<void> {
    // Both crun and runc keep a container's state in <root>/<id>: without it there is nothing to
    // delete, and a spawn saved (this runs on every start and removal).
    if (!existsSync(join(this.dirs.root, id))) return;
    const r = await run(this.runtimePath, this.runtimeArgs(['delete', ...(force ? ['--force'] : []), id]), { allowFailure: true, env: RUNTIME_ENV });
    if (r.code === 0) return;
    const err = mapRuntimeError('delete', id, r.stderr || r.stdout);
    if (err.kind === 'NotFound') return;
    throw err;
  }

  exitStatus(id: string): ExitStatus | undefined {
    return readExitStatus(join(this.dirs.exits, id), this.persistDir(id));
  }

  waitExit(id: string, signal?: AbortSignal): Promise<ExitStatus> {
    // The monitor's PID is read once per wait: the check runs every second for every container.
    let monitor: number | undefined;
    return this.waitForFile(id, () => this.exitStatus(id), () => {
      monitor ??= this.monitorPid(id);
      return monitor === undefined ? !existsSync(this.persistDir(id)) : !processAlive(monitor);
    }, signal);
  }

  /** conmon's PID for a container's current run, when it has written it. */
  private monitorPid(id: string): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.persistDir(id), 'conmon.pid'), 'utf8').trim());
      return pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  private readonly slowChecks = new Set<() => void>();
  private slowTimer?: NodeJS.Timeout;

  /** Shared inotify watch on the exit dir, plus a slow re-check for conmon dying without an exit file. */
  private waitForFile(id: string, check: () => ExitStatus | undefined, gone: () => boolean, signal?: AbortSignal): Promise<ExitStatus> {
    return new Promise((resolve, reject) => {
      const first = check();
      if (first) return resolve(first);
      if (signal?.aborted) return reject(canceled('wait canceled'));
      this.ensureWatcher();
      let set = this.exitWaiters.get(id);
      if (!set) this.exitWaiters.set(id, set = new Set());
      const done = () => {
        set!.delete(recheck);
        if (set!.size === 0) this.exitWaiters.delete(id);
        this.slowChecks.delete(recheck);
        if (!this.slowChecks.size) { clearInterval(this.slowTimer); this.slowTimer = undefined; }
        signal?.removeEventListener('abort', onAbort);
        this.maybeCloseWatcher();
      };
      const recheck = () => {
        const st = check();
        if (st) { done(); resolve(st); return; }
        if (gone()) {
          const again = check(); // conmon may have written just before exiting
          done();
          resolve(again ?? { exitCode: 255, oomKilled: false, finishedAt: new Date() });
        }
      };
      const onAbort = () => { done(); reject(canceled('wait canceled')); };
      // One timer for every waiter: fifty containers cost one wake-up a second, not fifty.
      this.slowChecks.add(recheck);
      this.slowTimer ??= setInterval(() => { for (const cb of [...this.slowChecks]) cb(); }, 1000);

      signal?.addEventListener('abort', onAbort);
      set.add(recheck);
      recheck(); // the file may have appeared between the first check and the watch
    });
  }

  private ensureWatcher(): void {
    if (this.watcher) return;
    this.watcher = watch(this.dirs.exits, (_ev, file) => {
      const name = file?.toString();
      const targets = name && this.exitWaiters.has(name) ? [this.exitWaiters.get(name)!] : name ? [] : [...this.exitWaiters.values()];
      for (const set of targets) for (const cb of [...set]) cb();
    });
    this.watcher.unref();
    this.watcher.on('error', () => { this.watcher?.close(); this.watcher = undefined; });
  }

  private maybeCloseWatcher(): void {
    if (this.exitWaiters.size === 0 && this.watcher) {
      this.watcher.close();
      this.watcher = undefined;
    }
  }

  async attach(id: string, bundleDir: string): Promise<AttachConnection> {
    const sock = connectSeqpacket(join(bundleDir, 'attach'));
    // Connect first, then note the log's size: everything logged after it also went to our socket.
    let recovery: LogMark | undefined;
    try {
      recovery = await markLog((await fsp.readFile(join(this.persistDir(id), 'log-path'), 'utf8')).trim());
    } catch { /* created by an older berthd: no recovery */ }
    return new SeqpacketAttach(sock, recovery);
  }

  resize(id: string, bundleDir: string, rows: number, cols: number): void {
    writeCtl(id, join(bundleDir, 'ctl'), rows, cols);
  }

  async exec(id: string, _bundleDir: string, o: ExecOptions): Promise<ExecSession> {
    const execId = randomBytes(8).toString('hex');
    const dir = join(this.dirs.exec, id, execId);
    const exitDir = join(dir, 'exit');
    const persist = join(dir, 'persist');
    await fsp.mkdir(exitDir, { recursive: true });
    await fsp.mkdir(persist, { recursive: true });
    const specPath = join(dir, 'process.json');
    await fsp.writeFile(specPath, JSON.stringify(o.process));
    const args = [
      '--api-version', '1', '-c', id, '-u', execId, '-n', id, '-r', this.runtimePath,
      '--runtime-arg', '--root', '--runtime-arg', this.dirs.root,
      '-b', dir, '-p', join(dir, 'pid'), '-P', join(dir, 'conmon.pid'),
      '--exit-dir', exitDir, '--persist-dir', persist, '--socket-dir-path', this.dirs.sock,
      '-l', `k8s-file:${join(dir, 'log')}`, '--log-level', 'error',
      '-e', '--exec-attach', '--exec-process-spec', specPath,
    ];
    if (o.tty) args.push('-t');
    if (o.stdin && !o.detach) args.push('-i');
    // fd 3 sync (pid, then exit code), 4 start (two writes: "placed", "attached"), 5 attach ("socket ready").
    const child = spawnDetached(this.conmonPath, args, {
      cwd: dir, env: { ...RUNTIME_ENV, _OCI_SYNCPIPE: '3', _OCI_STARTPIPE: '4', _OCI_ATTACHPIPE: '5' }, extraPipes: 3,
    });
    const [syncPipe, startPipe, attachPipe] = child.pipes;
    const sync = new ConmonPipeReader(syncPipe);
    const attachReady = new ConmonPipeReader(attachPipe);
    let attach: AttachConnection | undefined;
    try {
      startPipe.write(Buffer.from([0]));
      const ready = await attachReady.next();
      if (!ready || ready.data < 0) {
        throw internal(`conmon exec for ${id}: ${ready?.message ?? (child.stderr().trim() || 'exited before the attach socket was ready')}`);
      }
      if (!o.detach) attach = new SeqpacketAttach(connectSeqpacket(join(dir, 'attach')), { path: join(dir, 'log'), ino: -1, offset: 0 });
      startPipe.end(Buffer.from([0]));
      const msg = await sync.next();
      if (!msg) throw internal(`conmon exec for ${id} exited without reporting: ${child.stderr().trim() || 'no output'}`);
      if (!(msg.data > 0)) {
        const err = msg.message ? mapRuntimeError('exec', id, msg.message)
          : internal(`exec in ${id} failed with status ${-msg.data}`);
        throw err;
      }
      const pid = msg.data;
      let exited = false;
      const exit = (async () => {
        const viaPipe = await sync.next();
        sync.destroy();
        if (viaPipe && viaPipe.data >= 0) return viaPipe.data;
        const st = await this.waitForExecFile(exitDir, id, persist, dir);
        return st.exitCode;
      })().finally(() => { exited = true; });
      exit.catch(() => undefined);
      const ctl = join(dir, 'ctl');
      return {
        attach,
        pid: () => (exited ? undefined : pid),
        exit,
        resize: (rows: number, cols: number) => writeCtl(id, ctl, rows, cols),
      };
    } catch (e) {
      attach?.close();
      sync.destroy();
      startPipe.destroy();
      throw e;
    } finally {
      attachReady.destroy();
    }
  }

  /** Exit of an exec session from its own exit dir (used when the sync pipe gave no status). */
  private waitForExecFile(exitDir: string, id: string, persist: string, dir: string): Promise<ExitStatus> {
    return new Promise((resolve) => {
      const check = () => readExitStatus(join(exitDir, id), persist);
      const gone = () => {
        try { return !processAlive(Number(readFileSync(join(dir, 'conmon.pid'), 'utf8').trim())); } catch { return true; }
      };
      const tick = () => {
        const st = check();
        if (st) { clearInterval(t); resolve(st); return; }
        if (gone()) { clearInterval(t); resolve(check() ?? { exitCode: 255, oomKilled: false, finishedAt: new Date() }); }
      };
      const t = setInterval(tick, 100);

      tick();
    });
  }

  async update(id: string, resources: Record<string, unknown>): Promise<void> {
    const bfqWeight = this.takeBfqWeight(resources);
    // crun 1.8 writes an unlimited pids limit (-1) as "-1", which the kernel refuses ("max" it
    // wants): berth lifts it itself.
    const liftPids = this.name === 'crun' && ((resources.pids as { limit?: number } | undefined)?.limit ?? 0) < 0;
    if (liftPids) delete resources.pids;
    if (bfqWeight || liftPids) {
      const pid = await this.initPid(id);
      if (bfqWeight) await writeBfqWeight(pid, bfqWeight);
      if (liftPids) await liftPidsLimit(pid);
      if (!Object.keys(resources).length) return;
    }
    // Both crun and runc read OCI linux.resources from a file (`update --resources FILE`).
    const file = join(this.opts.stateDir, `update-${id}-${randomBytes(4).toString('hex')}.json`);
    await fsp.writeFile(file, JSON.stringify(resources), { mode: 0o600 });
    try {
      await this.runtime('update', id, ['update', '--resources', file, id]);
    } finally {
      await fsp.rm(file, { force: true });
    }
  }

  async pids(id: string): Promise<number[]> {
    const procs = await cgroupProcsOf(await this.initPid(id));
    return procs ?? [];
  }

  /** The container's init PID, as conmon recorded it. */
  private async initPid(id: string): Promise<number> {
    try {
      return Number((await fsp.readFile(join(this.persistDir(id), 'pid'), 'utf8')).trim());
    } catch (e) {
      if (errnoCode(e) === 'ENOENT') throw notFound(`container ${id}: no such container in the runtime`);
      throw e;
    }
  }

  async cleanup(id: string): Promise<void> {
    await Promise.all([
      fsp.rm(join(this.dirs.exits, id), { force: true }),
      fsp.rm(this.persistDir(id), { recursive: true, force: true }),
      fsp.rm(join(this.dirs.sock, id), { force: true }),
      fsp.rm(join(this.dirs.exec, id), { recursive: true, force: true }),
    ]);
  }

  /** The runtime's view of a container ('created', 'running', 'paused', 'stopped'), or undefined when unknown. */
  async state(id: string): Promise<{ status: string; pid: number } | undefined> {
    const r = await run(this.runtimePath, this.runtimeArgs(['state', id]), { allowFailure: true, env: RUNTIME_ENV });
    if (r.code !== 0) {
      const err = mapRuntimeError('state', id, r.stderr);
      if (err.kind === 'NotFound') return undefined;
      throw err;
    }
    const s = JSON.parse(r.stdout) as { status: string; pid: number };
    return { status: s.status, pid: s.pid };
  }
}

function readExitStatus(exitFile: string, persistDir: string): ExitStatus | undefined {
  // Checked first: an ENOENT error (with its stack) for every running container every second was
  // most of an idle berthd's CPU.
  if (!existsSync(exitFile)) return undefined;
  let text: string;
  let mtime: Date;
  try {
    text = readFileSync(exitFile, 'utf8');
    mtime = statSync(exitFile).mtime;
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') return undefined;
    throw e;
  }
  const code = Number.parseInt(text.trim(), 10);
  return {
    exitCode: Number.isFinite(code) && code >= 0 ? code : 255,
    oomKilled: existsSync(join(persistDir, 'oom')),
    finishedAt: mtime,
  };
}

/**
 * conmon 2.1.6 parses only the first message of each read from its ctl fifo (it sscanf()s the start
 * of the buffer), so two resizes written back to back (docker attach sends rows+1 then rows) apply
 * the first one twice. Writes to one fifo are therefore spaced out: the first goes at once, and a
 * size that arrives within CTL_SPACING_MS is sent when the window ends (only the latest one).
 */
const CTL_SPACING_MS = 30;
const ctlQueues = new Map<string, { next?: [number, number] }>();

/** Writes a resize request to conmon's ctl fifo (non-blocking: NotFound when conmon is gone). */
function writeCtl(id: string, ctlPath: string, rows: number, cols: number): void {
  const queued = ctlQueues.get(ctlPath);
  if (queued) { queued.next = [rows, cols]; return; }
  writeCtlNow(id, ctlPath, rows, cols);
  const entry: { next?: [number, number] } = {};
  ctlQueues.set(ctlPath, entry);
  const tick = () => {
    const next = entry.next;
    entry.next = undefined;
    if (next) {
      try {
        writeCtlNow(id, ctlPath, next[0], next[1]);
        setTimeout(tick, CTL_SPACING_MS).unref();
        return;
      } catch { /* conmon is gone: nothing left to resize */ }
    }
    ctlQueues.delete(ctlPath);
  };
  setTimeout(tick, CTL_SPACING_MS).unref();
}

function writeCtlNow(id: string, ctlPath: string, rows: number, cols: number): void {
  let fd: number;
  try {
    fd = openSync(ctlPath, fsc.O_WRONLY | fsc.O_NONBLOCK);
  } catch (e) {
    if (errnoCode(e) === 'ENOENT' || errnoCode(e) === 'ENXIO') throw notFound(`container ${id}: not running (no control fifo)`, e);
    throw internal(`resize ${id}: ${(e as Error).message}`, e);
  }
  try {
    writeSync(fd, `1 ${Math.trunc(rows)} ${Math.trunc(cols)}\n`);
  } finally {
    closeSync(fd);
  }
}

/** Host PIDs in the cgroup of `pid` (v1: the pids/freezer/memory hierarchy; v2: the unified one). */
async function cgroupProcsOf(pid: number): Promise<number[] | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(`/proc/${pid}/cgroup`, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter(Boolean).map((l) => {
    const [, ctrls, path] = /^(?:\d+):([^:]*):(.*)$/.exec(l) ?? [];
    return { ctrls: (ctrls ?? '').split(','), path: path ?? '' };
  });
  const candidates: string[] = [];
  for (const want of ['pids', 'freezer', 'memory']) {
    const l = lines.find((x) => x.ctrls.includes(want));
    if (l) candidates.push(join('/sys/fs/cgroup', want, l.path));
  }
  const v2 = lines.find((x) => x.ctrls.length === 1 && x.ctrls[0] === '');
  if (v2) candidates.push(join('/sys/fs/cgroup', v2.path));
  for (const dir of candidates) {
    try {
      const procs = await fsp.readFile(join(dir, 'cgroup.procs'), 'utf8');
      return procs.split('\n').filter(Boolean).map(Number);
    } catch { /* try the next hierarchy */ }
  }
  return undefined;
}

export { cleanRuntimeMessage };
