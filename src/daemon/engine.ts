import { mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { conflict, failedPrecondition, invalidArgument, isKind, notFound, notImplemented, wrap } from '../base/errors';
import { newId, randomName, shortId } from '../base/ids';
import type { Digest } from '../base/digest';
import type { ImageRuntimeConfig } from '../oci/image';
import type { Db } from '../sys/database';
import type { ImageRecord, ImageStore, RemoveResult } from '../image/image-store';
import type { Snapshotter, Change } from '../snapshot/snapshotter';
import type { AttachConnection, ContainerRuntime, ExecSession, ExitStatus, ForegroundRunner, LogEntry, LogReader, SpecInput } from '../runtime/runtime';
import { mountAll, unmount, isMounted } from '../sys/mount';
import { startFailureExitCode } from '../runtime/conmon/errors';
import { DEFAULT_PATH_ENV, mergeEnv, withDefaultPath } from '../runtime/spec';
import { runProcessList } from '../sys/ps';
import { archiveFromRoot, extractIntoRoot, statInRoot, resolveInRoot } from '../archive/container-path';
import { packDir } from '../archive/pack-dir';
import { applyConfigChanges } from './config-changes';
import { ContainerStore } from './container-store';
import {
  ContainerRecord, ContainerState, HostOptions, NEVER, cannotExec, cannotKill, cannotPause, cannotRemove, cannotStart,
  cannotUnpause, initialState, isRunning, validName,
} from './container';
import { EventBus } from './events';
import { hostsFile, resolvConf } from './etc-files';
import { filterContainers, Filters } from './container-filters';
import { KeyedLock } from './locks';
import { adaptResources, applyUpdate, cgroupnsMode, checkResources, DockerResources, resourceLimitsOf, rlimitsOf } from './resources';
import { cgroupDirsOf, CgroupSample, hostResources, HostResources, NetDevCounters, readCgroupSample, readNetDev, systemCpuUsage } from '../sys/cgroups';
import { ociResources } from '../runtime/resources';
import { HealthMonitor } from './health-monitor';
import { healthActionError, healthConfigError, HealthState, mergeHealthcheck } from './health';
import { nextBackoff, restartOnBoot, restartPolicyError, shouldRestart } from './restart-policy';
import type { VolumeDriver, VolumePlugins } from '../volume/volume-driver';
import { Volumes } from './volumes';
import { Networks, type NetworksOptions, type Sandbox, type EndpointConfig } from './networks';
import { LogConfig, logPolicyOf, mergeLogConfig } from './log-config';

/** What the engine needs to turn a container into an OCI spec; cmd/ supplies the implementation. */
export interface SpecBuilder {
  spec(input: SpecInput): object;
  execProcess(input: { args: string[]; env: string[]; cwd: string; user: SpecInput['user']; tty: boolean; capAdd: string[]; capDrop: string[]; privileged: boolean; noNewPrivileges: boolean; rlimits?: SpecInput['rlimits'] }): object;
  resolveUser(rootfs: string, user: string): Promise<SpecInput['user']>;
  seccomp(opts: { capAdd: string[]; capDrop: string[]; privileged: boolean }): object | null;
}

export interface EngineOptions {
  db: Db;
  dataRoot: string;
  images: ImageStore;
  snapshotter: Snapshotter;
  /** The OCI runtimes by name (crun, runc); a container runs under HostConfig.Runtime or the default. */
  runtimes: Record<string, ContainerRuntime>;
  defaultRuntime: string;
  readLogs: LogReader;
  /** The daemon's default log driver and options (dockerd's --log-driver/--log-opt); json-file by default. */
  logDefaults?: LogConfig;
  specs: SpecBuilder;
  events: EventBus;
  /** Host path of a static init binary for --init (tini-static or catatonit). */
  initPath?: string;
  /** Parent of every container's cgroup, e.g. `/berth`. */
  cgroupParent: string;
  /** Volume drivers by name (`local`); without them, only bind mounts work. */
  volumeDrivers?: Record<string, VolumeDriver>;
  /** Docker's volume plugins, found by name on first use (`-d NAME`, `--volume-driver NAME`). */
  volumePlugins?: VolumePlugins;
  /** Bridge networking: the driver (netavark), the firewall, where namespaces live, address pools. */
  network: Pick<NetworksOptions, 'driver' | 'firewall' | 'netnsDir' | 'pools' | 'defaultBridge' | 'hostLock' | 'networkIdleMs'>;
  log: (level: 'debug' | 'info' | 'warn' | 'error', msg: string) => void;
}

/** The body of POST /containers/create, in Docker's field names (they are the wire format). */
export interface CreateRequest extends ImageRuntimeConfig {
  HostConfig?: HostOptions;
  NetworkingConfig?: { EndpointsConfig?: Record<string, EndpointConfig> | null } | null;
}

export interface ExecRecord {
  id: string;
  containerId: string;
  args: string[];
  env: string[];
  user: string;
  workingDir: string;
  tty: boolean;
  attachStdin: boolean;
  attachStdout: boolean;
  attachStderr: boolean;
  privileged: boolean;
  running: boolean;
  exitCode: number | null;
  pid: number;
  session?: ExecSession;
  detachKeys?: string;
}

type WaitCondition = 'not-running' | 'next-exit' | 'removed';

interface Waiter {
  condition: WaitCondition;
  resolve: (r: { StatusCode: number; Error: { Message: string } | null }) => void;
}


/**
 * The engine: containers and their state machine, exec sessions, logs, events. Everything above it
 * (the API) speaks Docker; everything below it (runtime, snapshotter, image store) is a contract
 * chosen in cmd/.
 */
export class Engine {
  readonly containers: ContainerStore;
  readonly events: EventBus;
  readonly volumes: Volumes;
  readonly networks: Networks;
  private readonly locks = new KeyedLock();
  private readonly waiters = new Map<string, Waiter[]>();
  /** Attach requests made before start (docker run attaches, then starts). */
  private readonly pendingAttach = new Map<string, Array<(conn: AttachConnection | Error) => void>>();
  private readonly execs = new Map<string, ExecRecord>();
  private readonly watching = new Set<string>();
  private readonly stopping = new Set<string>();
  /** Pauses berthd makes around cp and commit, counted per container (concurrent cps share one). */
  private readonly transientPauses = new Map<string, { count: number; paused: Promise<void> }>();
  private readonly health: HealthMonitor;
  /** Pending restarts by restart policy (containers in state `restarting`), and their last back-off. */
  private readonly restartTimers = new Map<string, NodeJS.Timeout>();
  private readonly backoff = new Map<string, number>();

  constructor(private readonly o: EngineOptions) {
    this.containers = new ContainerStore(o.db);
    this.events = o.events;
    this.health = new HealthMonitor({
      get: (id) => this.containers.get(id),
      probe: (id, args, signal) => this.probe(id, args, signal),
      record: (c, health, changed) => this.recordHealth(c, health, changed),
      act: (c, action) => this.actOnUnhealthy(c, action),
      log: (msg) => this.o.log('warn', msg),
    });
    this.volumes = new Volumes(o.volumeDrivers ?? {}, () => this.containers.list(), this.events, o.volumePlugins);
    this.networks = new Networks({ ...o.network, db: o.db, events: this.events, containers: () => this.containers.list(), log: o.log });
    mkdirSync(this.containersDir, { recursive: true });
  }

  private get containersDir(): string {
    return join(this.o.dataRoot, 'containers');
  }

  /** The runtime a container was created for (a berthd restart keeps it: it is in the record). */
  private rt(c: ContainerRecord | string): ContainerRuntime {
    const rec = typeof c === 'string' ? this.containers.get(c) : c;
    return this.o.runtimes[rec?.hostConfig.Runtime ?? ''] ?? this.o.runtimes[this.o.defaultRuntime];
  }

  private dirOf(id: string): string {
    return join(this.containersDir, id);
  }

  rootfsOf(id: string): string {
    return join(this.dirOf(id), 'rootfs');
  }

  /** The daemon's default log driver and options (for `docker info`). */
  get logDefaults(): LogConfig {
    return this.o.logDefaults ?? { Type: 'json-file', Config: {} };
  }

  /**
   * A container's log config. Records made before log drivers existed log as json-file (berth
   * accepted and ignored --log-driver then, and its only format was conmon's k8s-file).
   */
  private logConfigOf(c: ContainerRecord): LogConfig {
    const lc = c.hostConfig.LogConfig;
    return lc?.Type && lc.Type !== 'k8s-file' ? lc : { Type: 'json-file', Config: lc?.Type === 'k8s-file' ? {} : lc?.Config ?? {} };
  }

  /** The live log file of a container (rotated ones beside it), or undefined for the none driver. */
  logPathOf(c: ContainerRecord): string | undefined {
    const type = this.logConfigOf(c).Type;
    if (type === 'local') return join(this.dirOf(c.id), 'local-logs', 'container.log');
    return type === 'none' ? undefined : join(this.dirOf(c.id), `${c.id}-json.log`);
  }

  /**
   * Re-reads the world after a (re)start of berthd: containers whose monitor wrote an exit file
   * meanwhile become exited with that code; the still running are watched again.
   */
  async recover(): Promise<void> {
    // Directories of containers whose record is gone: a removal that crashed after deleting it.
    for (const id of readdirSync(this.containersDir)) {
      if (/^[0-9a-f]{64}$/.test(id) && !this.containers.get(id)) await this.releaseResources(id, Object.values(this.o.runtimes));
    }
    const endedWhileAway = new Set<string>();
    for (const c of this.containers.list()) {
      if (c.state.status === 'removing') c.state.status = 'dead';
      if (c.state.status === 'restarting') {
        // Waiting for a policy restart when berthd went away: the boot pass below decides.
        c.state = { ...c.state, status: 'exited' };
        this.containers.save(c);
        endedWhileAway.add(c.id);
      }
      if (!isRunning(c.state)) {
        if (c.state.status === 'dead') this.containers.save(c);
        continue;
      }
      const exit = this.rt(c).exitStatus(c.id);
      const alive = !exit && c.state.monitorPid > 0 && processAlive(c.state.monitorPid);
      if (alive && c.state.status === 'running' && existsSync(this.transientPauseMarker(c.id))) {
        // berthd died during a cp or commit of this container: undo that pause, or it stays frozen while reported running.
        await this.rt(c).resume(c.id).catch((e) => this.o.log('warn', `resume ${shortId(c.id)} after a crash: ${errorMessage(e)}`));
      }
      rmSync(this.transientPauseMarker(c.id), { force: true });
      if (alive) {
        await this.rt(c).recover(c.id).catch((e) => this.o.log('warn', `recover ${shortId(c.id)}: ${errorMessage(e)}`));
        await this.volumes.reacquire(c);
        this.watchExit(c);
        this.health.start(c, true);
      } else {
        await this.onExited(c, exit ?? { exitCode: 255, oomKilled: false, finishedAt: new Date() }, exit ? '' : 'container monitor disappeared');
        endedWhileAway.add(c.id);
      }
    }
    await this.networks.recover(new Set(this.containers.list().filter((c) => isRunning(c.state)).map((c) => c.id)));
    // Host reboot behaviour: restart policies bring containers back when berthd starts.
    for (const c of this.containers.list()) {
      const s = c.state;
      if (s.status !== 'exited') continue;
      const facts = { exitCode: s.exitCode, manuallyStopped: !!s.manuallyStopped, restartCount: s.restartCount, startedBefore: s.startedAt !== NEVER, endedWhileAway: endedWhileAway.has(c.id) };
      if (!restartOnBoot(c.hostConfig.RestartPolicy, facts)) continue;
      c.state = { ...s, status: 'restarting', manuallyStopped: false };
      this.containers.save(c);
      this.scheduleRestart(c.id, 0);
    }
  }

  // ---- create ---------------------------------------------------------------------------------

  async create(req: CreateRequest, name: string | undefined): Promise<{ Id: string; Warnings: string[] }> {
    if (name !== undefined && name !== '' && !validName(name)) {
      throw invalidArgument(`Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    }
    if (!req.Image) throw invalidArgument('config cannot be empty in order to create a container');
    const image = this.o.images.find(req.Image);
    if (!image) throw notFound(`No such image: ${req.Image}`);
    const host: HostOptions = { ...(req.HostConfig ?? {}) };
    this.validateHostConfig(host);
    // Docker's merge with the daemon default; checked whole before anything is made.
    host.LogConfig = mergeLogConfig(host.LogConfig, this.logDefaults);
    logPolicyOf(host.LogConfig);
    const invalid = restartPolicyError(host.RestartPolicy, !!host.AutoRemove) ?? healthConfigError(req.Healthcheck) ?? healthActionError(req.Labels);
    if (invalid) throw invalidArgument(invalid);
    const warnings = checkResources(host as DockerResources, this.hostResources);
    adaptResources(host, this.hostResources);
    // Stored resolved, as moby does: inspect shows the mode the container runs with.
    host.CgroupnsMode = cgroupnsMode(host.CgroupnsMode, this.hostResources);
    host.Runtime = host.Runtime || this.o.defaultRuntime;
    if (!this.o.runtimes[host.Runtime as string]) throw invalidArgument(`unknown or invalid runtime name: ${host.Runtime}`);
    const config = mergeConfig(image, req);
    const { path, args } = commandOf(config);
    if (!path) throw invalidArgument('no command specified');
    const id = newId();
    let cname = name ? name.replace(/^\//, '') : randomName();
    while (!name && this.containers.nameTaken(cname)) cname = randomName();
    const networks = this.networks.planContainer(host, req.NetworkingConfig?.EndpointsConfig, config.ExposedPorts);
    const planned = await this.volumes.plan(host, config);
    const rec: ContainerRecord = {
      id, name: cname, created: new Date().toISOString(), image: image.id, imageRef: req.Image,
      config, hostConfig: host, path, args, state: initialState(), networkingConfig: req.NetworkingConfig, networks, mounts: planned.mounts,
    };
    mkdirSync(this.dirOf(id), { recursive: true });
    try {
      await this.o.snapshotter.prepare(id, image.chainIds.at(-1) ?? null);
      this.containers.insert(rec);
    } catch (e) {
      await this.volumes.rollback(planned.created);
      await this.o.snapshotter.remove(id).catch(() => undefined);
      rmSync(this.dirOf(id), { recursive: true, force: true });
      throw e;
    }
    this.events.publish('container', 'create', id, { image: req.Image, name: cname });
    return { Id: id, Warnings: warnings };
  }

  private validateHostConfig(h: HostOptions): void {
    for (const opt of h.SecurityOpt ?? []) {
      if (!/^(no-new-privileges(:true|:false|=true|=false)?|seccomp[=:].+|label[=:].+|apparmor[=:].+)$/.test(opt)) {
        throw invalidArgument(`invalid --security-opt: ${JSON.stringify(opt)}`);
      }
    }
    const rp = h.RestartPolicy?.Name ?? '';
    if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(rp)) throw invalidArgument(`invalid restart policy '${rp}'`);
  }

  // ---- start ----------------------------------------------------------------------------------

  /** Starts a container; false when it was already running (Docker's 304). */
  start(idOrName: string): Promise<boolean> {
    const rec = this.containers.resolve(idOrName);
    return this.locks.run(rec.id, async () => {
      const c = this.containers.resolve(rec.id);
      if (c.state.status === 'running') return false;
      const why = cannotStart(c.state);
      if (why) throw conflict(why);
      this.cancelRestart(c.id);
      c.state = { ...c.state, manuallyStopped: false };
      try {
        await this.doStart(c);
      } catch (e) {
        // Docker removes an --rm container whose start failed: `docker run --rm` waits for that.
        if (c.hostConfig.AutoRemove) await this.removeLocked(c, { force: true, volumes: true }).catch(() => undefined);
        throw e;
      }
      return true;
    });
  }

  private async doStart(c: ContainerRecord): Promise<void> {
    const t0 = process.hrtime.bigint();
    const lap = (what: string) => this.o.log('debug', `start ${shortId(c.id)} ${what} +${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)}ms`);
    const dir = this.dirOf(c.id);
    const rootfs = this.rootfsOf(c.id);
    const bundle = join(dir, 'bundle');
    // A previous run leaves its runtime state behind only if berthd died mid-way; clear it.
    await this.rt(c).delete(c.id, true).catch(() => undefined);
    await this.rt(c).cleanup(c.id).catch(() => undefined);
    mkdirSync(rootfs, { recursive: true });
    mkdirSync(bundle, { recursive: true });
    lap('cleaned');
    if (!isMounted(rootfs)) mountAll(this.o.snapshotter.mounts(c.id), rootfs);
    lap('mounted');
    let sandbox: Sandbox | undefined;
    try {
      sandbox = await this.networks.attach(c);
      lap('network');
      const spec = await this.buildSpec(c, rootfs, dir, sandbox) as Record<string, unknown>;
      lap('spec');
      const policy = logPolicyOf(this.logConfigOf(c));
      const logPath = this.logPathOf(c);
      if (logPath) mkdirSync(join(logPath, '..'), { recursive: true });
      const { pid, monitorPid } = await this.rt(c).create({
        id: c.id, bundleDir: bundle, spec, tty: !!c.config.Tty, openStdin: !!c.config.OpenStdin,
        // dockerd never closes a TTY's stdin when an attached client leaves (detach keys, then attach again).
        stdinOnce: !!c.config.StdinOnce && !c.config.Tty,
        log: logPath && policy.driver !== 'none'
          ? { path: logPath, rotate: policy.maxSize !== undefined ? { maxSize: policy.maxSize, maxFiles: policy.maxFiles, compress: policy.compress } : undefined }
          : undefined,
      });
      c.state = { ...c.state, pid, monitorPid };
      lap('created');
      await this.connectPendingAttaches(c.id, bundle);
      lap('attached');
      await sandbox?.ready;
      lap('network ready');
      await this.rt(c).start(c.id);
      lap('started');
    } catch (raw) {
      const e = dockerStartError(raw, c.path, rootfs);
      if (e !== raw) this.o.log('debug', `start ${shortId(c.id)}: the runtime said: ${errorMessage(raw)}`);
      this.failPendingAttaches(c.id, e as Error);
      await this.rt(c).delete(c.id, true).catch(() => undefined);
      await this.rt(c).cleanup(c.id).catch(() => undefined);
      await sandbox?.ready.catch(() => undefined);
      await this.networks.release(c.id);
      await this.volumes.release(c);
      safeUnmount(rootfs);
      c.state = { ...c.state, status: c.state.status === 'created' ? 'created' : 'exited', exitCode: startFailureExitCode(e) ?? 128, error: errorMessage(e), pid: 0, monitorPid: 0 };
      this.containers.save(c);
      throw e;
    }
    c.state = { ...c.state, status: 'running', exitCode: 0, error: '', oomKilled: false, startedAt: new Date().toISOString(), finishedAt: NEVER };
    this.containers.save(c);
    this.events.publish('container', 'start', c.id, { image: c.imageRef, name: c.name });
    this.watchExit(c);
    this.health.start(c);
  }

  private async buildSpec(c: ContainerRecord, rootfs: string, dir: string, sandbox: Sandbox | undefined): Promise<object> {
    const h = c.hostConfig;
    const cfg = c.config;
    const user = await this.o.specs.resolveUser(rootfs, cfg.User ?? '');
    const cwd = cfg.WorkingDir || '/';
    // Docker creates the working directory when the image lacks it.
    const cwdHost = resolveInRoot(rootfs, cwd);
    if (!existsSync(cwdHost)) mkdirSync(cwdHost, { recursive: true });
    const hostname = (cfg.Hostname || c.id.slice(0, 12)) + (cfg.Domainname ? `.${cfg.Domainname}` : '');
    writeFileSync(join(dir, 'hostname'), `${hostname}\n`);
    writeFileSync(join(dir, 'hosts'), hostsFile(hostname, h.ExtraHosts ?? [], sandbox?.endpoints[0]?.ip));
    let hostResolv = '';
    try { hostResolv = readFileSync('/etc/resolv.conf', 'utf8'); } catch { /* no resolver on the host */ }
    // On networks with DNS, names resolve through the server on the gateway, which forwards the rest.
    const dnsServer = sandbox?.endpoints.find((e) => e.network.dns)?.network.gateway;
    writeFileSync(join(dir, 'resolv.conf'), resolvConf(hostResolv, h.Dns ?? [], h.DnsSearch ?? [], h.DnsOptions ?? [], dnsServer));
    const etcOpts = h.ReadonlyRootfs ? ['rbind', 'ro'] : ['rbind', 'rw'];
    const mounts: SpecInput['mounts'] = [
      { destination: '/etc/hostname', type: 'bind', source: join(dir, 'hostname'), options: etcOpts },
      { destination: '/etc/hosts', type: 'bind', source: join(dir, 'hosts'), options: etcOpts },
      { destination: '/etc/resolv.conf', type: 'bind', source: join(dir, 'resolv.conf'), options: etcOpts },
    ];
    for (const [dest, opts] of Object.entries(h.Tmpfs ?? {})) {
      // As Docker's MergeTmpfsOptions: `exec`, `suid` or `dev` drop the default they undo (crun
      // would not let a later `exec` clear an earlier `noexec`).
      const user = opts ? opts.split(',') : [];
      const defaults = ['nosuid', 'nodev', 'noexec'].filter((f) => !user.includes(f.slice(2)));
      mounts.push({ destination: dest, type: 'tmpfs', source: 'tmpfs', options: [...defaults, ...user] });
    }
    // Records made before volumes existed hold only Binds (absolute host paths).
    mounts.push(...(c.mounts ? await this.volumes.mountsFor(c, rootfs) : (h.Binds ?? []).map((b) => {
      const [src, dst, mode = ''] = b.split(':');
      return { destination: dst, type: 'bind' as const, source: src, options: ['rbind', mode.split(',').includes('ro') ? 'ro' : 'rw'] };
    })));
    const privileged = !!h.Privileged;
    const capAdd = h.CapAdd ?? [];
    const capDrop = h.CapDrop ?? [];
    const secOpts = h.SecurityOpt ?? [];
    const noNewPrivileges = secOpts.some((s) => /^no-new-privileges(:true|=true)?$/.test(s));
    const unconfined = privileged || secOpts.some((s) => /^seccomp[=:]unconfined$/.test(s));
    const net = h.NetworkMode ?? 'default';
    let network: SpecInput['network'] = sandbox ? { mode: 'path', path: sandbox.netns } : { mode: 'none' };
    if (net === 'host') network = { mode: 'host' };
    else if (net.startsWith('container:')) {
      const other = this.containers.resolve(net.slice('container:'.length));
      if (!isRunning(other.state)) throw conflict(`cannot join network of a non running container: ${other.id}`);
      network = { mode: 'path', path: this.networks.netnsOf(other.id) ?? `/proc/${other.state.pid}/ns/net` };
    }
    const env = cfg.Env ?? [];
    return this.o.specs.spec({
      id: c.id, rootfs, readonlyRootfs: !!h.ReadonlyRootfs, args: [c.path, ...c.args],
      env,
      cwd, user, hostname, tty: !!cfg.Tty, openStdin: !!cfg.OpenStdin, capAdd, capDrop, privileged, noNewPrivileges, network, mounts,
      init: h.Init ? this.o.initPath : undefined, cgroupsPath: `${this.o.cgroupParent}/${c.id}`,
      // Containers created before the mode was stored get the default (private on cgroup v2).
      cgroupns: cgroupnsMode(h.CgroupnsMode, this.hostResources) === 'private',
      seccomp: unconfined ? null : this.o.specs.seccomp({ capAdd, capDrop, privileged }),
      annotations: { 'org.opencontainers.image.stopSignal': cfg.StopSignal ?? 'SIGTERM' },
      resources: resourceLimitsOf(h as DockerResources, this.hostResources), rlimits: rlimitsOf(h as DockerResources), shmSize: (h as DockerResources).ShmSize || undefined,
    });
  }

  /**
   * Starts a created container and runs it to its end in the foreground, its output to `onOutput`
   * (no log): the runtime runs it as berthd's child with no monitor (ForegroundRunner), which
   * saves the monitor's start. For build steps: such a run does not outlive berthd (recover()
   * finds it without a monitor and ends it), and its writable layer is mounted ephemeral (never
   * synced, not to be mounted again: commit or remove it). The container goes through running to exited as with
   * start; `signal` kills it. Resolves with the exit code; undefined when the container's runtime
   * cannot run in the foreground (the caller then starts it and waits).
   */
  async runForeground(idOrName: string, opts: { onOutput: (data: Buffer) => void; signal: AbortSignal }): Promise<number | undefined> {
    const rec = this.containers.resolve(idOrName);
    const rt = this.rt(rec) as ContainerRuntime & Partial<ForegroundRunner>;
    if (!rt.runForeground) return undefined;
    const started = await this.locks.run(rec.id, async () => {
      const c = this.containers.resolve(rec.id);
      const why = cannotStart(c.state);
      if (why) throw conflict(why);
      const dir = this.dirOf(c.id);
      const rootfs = this.rootfsOf(c.id);
      const bundle = join(dir, 'bundle');
      mkdirSync(rootfs, { recursive: true });
      mkdirSync(bundle, { recursive: true });
      // Ephemeral: a foreground run is mounted once, and its unmount must not wait for a sync of the filesystem.
      if (!isMounted(rootfs)) mountAll(this.o.snapshotter.mounts(c.id, { ephemeral: true }), rootfs);
      let sandbox: Sandbox | undefined;
      try {
        sandbox = await this.networks.attach(c);
        const spec = await this.buildSpec(c, rootfs, dir, sandbox) as Record<string, unknown>;
        await sandbox?.ready;
        c.state = { ...c.state, status: 'running', pid: 0, monitorPid: 0, exitCode: 0, error: '', oomKilled: false, startedAt: new Date().toISOString(), finishedAt: NEVER };
        this.containers.save(c);
        this.events.publish('container', 'start', c.id, { image: c.imageRef, name: c.name });
        return { c, bundle, spec };
      } catch (raw) {
        const e = dockerStartError(raw, c.path, rootfs);
        await sandbox?.ready.catch(() => undefined);
        await this.networks.release(c.id);
        await this.volumes.release(c);
        safeUnmount(rootfs);
        throw e;
      }
    });
    let status: ExitStatus;
    let error = '';
    try {
      status = await rt.runForeground({ id: started.c.id, bundleDir: started.bundle, spec: started.spec, onOutput: (_s, d) => opts.onOutput(d), signal: opts.signal });
    } catch (raw) {
      const e = dockerStartError(raw, started.c.path, this.rootfsOf(started.c.id));
      error = errorMessage(e);
      status = { exitCode: startFailureExitCode(e) ?? 128, oomKilled: false, finishedAt: new Date() };
      await this.locks.run(started.c.id, async () => {
        const cur = this.containers.get(started.c.id);
        if (cur && isRunning(cur.state)) await this.onExited(cur, status, error);
      });
      throw e;
    }
    await this.locks.run(started.c.id, async () => {
      const cur = this.containers.get(started.c.id);
      if (cur && isRunning(cur.state)) await this.onExited(cur, status, error);
    });
    return status.exitCode;
  }

  /**
   * Notices the exit of the container's current run. A run is identified by its monitor's PID, so a
   * watcher that fires after stop/restart already handled its run (and a new one began) does nothing.
   */
  private watchExit(c: ContainerRecord): void {
    const run = `${c.id}:${c.state.monitorPid}`;
    if (this.watching.has(run)) return;
    this.watching.add(run);
    const monitorPid = c.state.monitorPid;
    this.rt(c).waitExit(c.id).then(
      (status) => this.locks.run(c.id, async () => {
        const cur = this.containers.get(c.id);
        if (!cur || cur.state.monitorPid !== monitorPid || !isRunning(cur.state)) return;
        await this.onExited(cur, status, '');
        this.afterExit(cur);
      }),
      (e) => this.o.log('error', `waiting for container ${shortId(c.id)}: ${errorMessage(e)}`),
    ).finally(() => this.watching.delete(run));
  }

  private async onExited(c: ContainerRecord, status: ExitStatus, error: string): Promise<void> {
    if (!this.containers.get(c.id)) return;
    this.health.stop(c.id);
    const autoRemove = !!c.hostConfig.AutoRemove && !this.stopping.has(c.id);
    // netavark's teardown and the runtime's delete are process spawns: run them side by side.
    const networkReleased = this.networks.release(c.id);
    if (!autoRemove) {
      // The runtime's delete is a process spawn: unmount while it runs.
      const released = this.rt(c).delete(c.id, true).catch(() => undefined).then(() => this.rt(c).cleanup(c.id)).catch(() => undefined);
      safeUnmount(this.rootfsOf(c.id));
      await released;
    }
    await networkReleased;
    await this.volumes.release(c);
    for (const e of this.execs.values()) if (e.containerId === c.id && e.running) e.running = false;
    c.state = {
      ...c.state, status: 'exited', pid: 0, monitorPid: 0, exitCode: status.exitCode, oomKilled: status.oomKilled,
      finishedAt: status.finishedAt.toISOString(), error,
    };
    this.containers.save(c);
    this.events.publish('container', 'die', c.id, { image: c.imageRef, name: c.name, exitCode: String(status.exitCode) });
    this.notifyWaiters(c.id, 'exit', status.exitCode);
    if (autoRemove) {
      await this.removeLocked(c, { force: true, volumes: true }).catch((e) => this.o.log('warn', `auto-remove ${shortId(c.id)}: ${errorMessage(e)}`));
    }
  }

  // ---- restart policies and health checks (decisions in restart-policy.ts and health.ts) ---------

  /** After an exit the user did not ask for: restart by policy, with back-off, via state `restarting`. */
  private afterExit(c: ContainerRecord): void {
    const s = c.state;
    if (!this.containers.get(c.id) || s.status !== 'exited') return;
    if (!shouldRestart(c.hostConfig.RestartPolicy, { exitCode: s.exitCode, manuallyStopped: !!s.manuallyStopped, restartCount: s.restartCount })) {
      this.backoff.delete(c.id);
      return;
    }
    const ran = Date.parse(s.finishedAt) - Date.parse(s.startedAt);
    const delay = nextBackoff(this.backoff.get(c.id) ?? 0, Number.isNaN(ran) ? 0 : ran);
    this.backoff.set(c.id, delay);
    c.state = { ...s, status: 'restarting', restartCount: s.restartCount + 1 };
    this.containers.save(c);
    this.scheduleRestart(c.id, delay);
  }

  /** Starts a `restarting` container after `delay` ms (a timer: a restart loop never blocks berthd). */
  private scheduleRestart(id: string, delay: number): void {
    this.cancelRestart(id);
    const timer = setTimeout(() => {
      this.restartTimers.delete(id);
      void this.locks.run(id, async () => {
        const c = this.containers.get(id);
        if (!c || c.state.status !== 'restarting') return;
        try {
          await this.doStart(c);
          this.events.publish('container', 'restart', c.id, { image: c.imageRef, name: c.name });
        } catch (e) {
          this.o.log('warn', `restart ${shortId(id)} by its policy: ${errorMessage(e)}`);
          const cur = this.containers.get(id);
          if (cur) this.afterExit(cur);
        }
      });
    }, delay);
    this.restartTimers.set(id, timer);
  }

  private cancelRestart(id: string): void {
    const t = this.restartTimers.get(id);
    if (t) clearTimeout(t);
    this.restartTimers.delete(id);
  }

  /** Runs a health probe through exec; `signal` (timeout, container stop) kills the probe. */
  private async probe(id: string, args: string[], signal: AbortSignal): Promise<{ exitCode: number; output: string }> {
    const execId = this.execCreate(id, { Cmd: args, AttachStdout: true, AttachStderr: true });
    try {
      const e = await this.execStart(execId, { detach: false });
      const session = e.session!;
      let output = '';
      const ended = new Promise<void>((res) => {
        session.attach?.onOutput((_s, d) => { if (output.length < 8192) output += d.toString(); });
        if (session.attach) session.attach.onEnd(res); else res();
      });
      const kill = () => { const pid = session.pid(); if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ } };
      signal.addEventListener('abort', kill, { once: true });
      try {
        const exitCode = await session.exit;
        await raceTimeout(ended, 500);
        return { exitCode, output };
      } finally {
        signal.removeEventListener('abort', kill);
        session.attach?.close();
      }
    } finally {
      this.execs.delete(execId);
    }
  }

  private recordHealth(c: ContainerRecord, health: HealthState, changed: boolean): void {
    c.state = { ...c.state, health };
    this.containers.save(c);
    if (changed) this.events.publish('container', `health_status: ${health.status}`, c.id, { image: c.imageRef, name: c.name });
  }

  /** berth's --health-on-failure (label berth.health-on-failure): kill lets the restart policy act. */
  private actOnUnhealthy(c: ContainerRecord, action: 'kill' | 'restart' | 'stop'): void {
    this.o.log('info', `container ${shortId(c.id)} is unhealthy: ${action}`);
    const done = action === 'restart' ? this.restart(c.id)
      : action === 'stop' ? this.stop(c.id).then(() => undefined)
        : this.rt(c).kill(c.id, 'SIGKILL').then(() => this.events.publish('container', 'kill', c.id, { image: c.imageRef, name: c.name, signal: 'SIGKILL' }));
    done.catch((e) => this.o.log('warn', `health-on-failure ${action} ${shortId(c.id)}: ${errorMessage(e)}`));
  }

  // ---- stop / kill / restart / pause ------------------------------------------------------------

  /** Stops a container; false when it was not running (Docker's 304). */
  stop(idOrName: string, opts: { timeout?: number; signal?: string } = {}): Promise<boolean> {
    const rec = this.containers.resolve(idOrName);
    return this.locks.run(rec.id, () => this.stopLocked(this.containers.resolve(rec.id), opts));
  }

  private async stopLocked(c: ContainerRecord, opts: { timeout?: number; signal?: string }): Promise<boolean> {
    if (c.state.status === 'restarting') {
      this.cancelRestart(c.id);
      c.state = { ...c.state, status: 'exited', manuallyStopped: true };
      this.containers.save(c);
      this.events.publish('container', 'stop', c.id, { image: c.imageRef, name: c.name });
      return true;
    }
    if (!isRunning(c.state)) return false;
    c.state = { ...c.state, manuallyStopped: true };
    this.containers.save(c);
    const signal = opts.signal || c.config.StopSignal || 'SIGTERM';
    const timeout = opts.timeout ?? c.config.StopTimeout ?? 10;
    const exited = this.rt(c).waitExit(c.id);
    if (c.state.status === 'paused') await this.rt(c).resume(c.id).catch(() => undefined);
    // The stop signal, then SIGKILL once the timeout passes (a negative timeout waits for ever).
    let gone = false;
    if (timeout !== 0) {
      await this.rt(c).kill(c.id, signal).catch(() => undefined);
      gone = timeout < 0 || await raceTimeout(exited, timeout * 1000);
    }
    if (!gone) await this.rt(c).kill(c.id, 'SIGKILL').catch(() => undefined);
    await this.onExited(c, await exited, '');
    this.events.publish('container', 'stop', c.id, { image: c.imageRef, name: c.name });
    return true;
  }

  async kill(idOrName: string, signal = 'SIGKILL'): Promise<void> {
    const c = this.containers.resolve(idOrName);
    const why = cannotKill(c.state, c.id);
    if (why) throw conflict(why);
    if (c.state.status === 'restarting') {
      await this.stop(c.id, { timeout: 0 });
      return;
    }
    c.state = { ...c.state, manuallyStopped: true };
    this.containers.save(c);
    await this.rt(c).kill(c.id, normalizeSignal(signal));
    this.events.publish('container', 'kill', c.id, { image: c.imageRef, name: c.name, signal });
  }

  restart(idOrName: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    const rec = this.containers.resolve(idOrName);
    return this.locks.run(rec.id, async () => {
      const c = this.containers.resolve(rec.id);
      this.stopping.add(c.id);
      try { await this.stopLocked(c, opts); } finally { this.stopping.delete(c.id); }
      const fresh = this.containers.resolve(rec.id);
      fresh.state = { ...fresh.state, manuallyStopped: false };
      await this.doStart(fresh);
      this.events.publish('container', 'restart', c.id, { image: c.imageRef, name: c.name });
    });
  }

  pause(idOrName: string): Promise<void> {
    const rec = this.containers.resolve(idOrName);
    return this.locks.run(rec.id, async () => {
      const c = this.containers.resolve(rec.id);
      const why = cannotPause(c.state, c.id);
      if (why) throw conflict(why);
      await this.rt(c).pause(c.id);
      c.state = { ...c.state, status: 'paused' };
      this.containers.save(c);
      this.events.publish('container', 'pause', c.id, { image: c.imageRef, name: c.name });
    });
  }

  unpause(idOrName: string): Promise<void> {
    const rec = this.containers.resolve(idOrName);
    return this.locks.run(rec.id, async () => {
      const c = this.containers.resolve(rec.id);
      const why = cannotUnpause(c.state, c.id);
      if (why) throw conflict(why);
      await this.rt(c).resume(c.id);
      c.state = { ...c.state, status: 'running' };
      this.containers.save(c);
      this.events.publish('container', 'unpause', c.id, { image: c.imageRef, name: c.name });
    });
  }

  // ---- remove / rename / prune --------------------------------------------------------------------

  remove(idOrName: string, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const rec = this.containers.resolve(idOrName);
    return this.locks.run(rec.id, async () => {
      const c = this.containers.get(rec.id);
      if (!c) throw notFound(`No such container: ${idOrName}`);
      await this.removeLocked(c, opts);
    });
  }

  private async removeLocked(c: ContainerRecord, opts: { force: boolean; volumes: boolean }): Promise<void> {
    const why = cannotRemove(c.state, c.id, opts.force);
    if (why) throw conflict(why);
    if (c.state.status === 'restarting') {
      this.cancelRestart(c.id);
      c.state = { ...c.state, status: 'exited' };
    }
    if (isRunning(c.state)) {
      const exited = this.rt(c).waitExit(c.id);
      if (c.state.status === 'paused') await this.rt(c).resume(c.id).catch(() => undefined);
      await this.rt(c).kill(c.id, 'SIGKILL').catch(() => undefined);
      const status = await raceTimeout(exited, 10_000) ? await exited : { exitCode: 137, oomKilled: false, finishedAt: new Date() };
      this.stopping.add(c.id);
      try { await this.onExited(c, status, ''); } finally { this.stopping.delete(c.id); }
    }
    // The record goes first: from then on the container no longer exists for clients (docker run
    // --rm is waiting for exactly that), and its leftovers are released after. A crash in between
    // leaves only orphaned files, which recover() releases on the next start.
    this.containers.delete(c.id);
    for (const [eid, e] of this.execs) if (e.containerId === c.id) this.execs.delete(eid);
    this.events.publish('container', 'destroy', c.id, { image: c.imageRef, name: c.name });
    this.notifyWaiters(c.id, 'removed', c.state.exitCode);
    await this.releaseResources(c.id, [this.rt(c)]);
    await this.volumes.release(c);
    if (opts.volumes) await this.volumes.removeAnonymous(c);
  }

  /** Frees everything a removed container had: runtime state, mounts, its snapshot and directory. */
  private async releaseResources(id: string, runtimes: ContainerRuntime[]): Promise<void> {
    const released = Promise.all(runtimes.map((rt) => rt.delete(id, true).catch(() => undefined).then(() => rt.cleanup(id)).catch(() => undefined)));
    safeUnmount(this.rootfsOf(id));
    await released;
    await this.networks.release(id);
    await this.o.snapshotter.remove(id).catch((e) => this.o.log('warn', `remove snapshot of ${shortId(id)}: ${errorMessage(e)}`));
    // On the thread pool: rmSync of the bundle and logs blocked the event loop ~15-50 ms per
    // container on a loaded host (a build removes its RUN containers while its next steps run).
    await fsp.rm(this.dirOf(id), { recursive: true, force: true });
  }

  /** `docker network connect`: a running container gets the new interface at once. */
  networkConnect(networkRef: string, idOrName: string, cfg: EndpointConfig): Promise<void> {
    const rec = this.containers.resolve(idOrName);
    return this.locks.run(rec.id, async () => {
      const c = this.containers.resolve(rec.id);
      c.networks = await this.networks.connect(c, networkRef, cfg, isRunning(c.state));
      this.containers.save(c);
    });
  }

  /** `docker network disconnect`. */
  networkDisconnect(networkRef: string, idOrName: string): Promise<void> {
    const rec = this.containers.resolve(idOrName);
    return this.locks.run(rec.id, async () => {
      const c = this.containers.resolve(rec.id);
      c.networks = await this.networks.disconnect(c, networkRef, isRunning(c.state));
      this.containers.save(c);
    });
  }

  rename(idOrName: string, newName: string): void {
    const c = this.containers.resolve(idOrName);
    const name = newName.replace(/^\//, '');
    if (!validName(name)) throw invalidArgument(`Invalid container name (${newName}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`);
    if (name === c.name) throw invalidArgument('Renaming a container with the same name as its current name');
    const holder = this.containers.nameTaken(name);
    if (holder) throw conflict(`Conflict. The container name "/${name}" is already in use by container "${holder.id}". You have to remove (or rename) that container to be able to reuse that name.`);
    const old = c.name;
    c.name = name;
    this.containers.save(c);
    this.events.publish('container', 'rename', c.id, { name, oldName: `/${old}` });
  }

  async prune(filters: Filters): Promise<{ ContainersDeleted: string[]; SpaceReclaimed: number }> {
    const deleted: string[] = [];
    let space = 0;
    const until = filters.until?.[0] ? parseUntil(filters.until[0]) : undefined;
    for (const c of this.containers.list()) {
      if (isRunning(c.state)) continue;
      if (filters.label && !filters.label.every((l) => labelMatches(c.config.Labels, l))) continue;
      if (until !== undefined && Date.parse(c.created) >= until) continue;
      space += await this.o.snapshotter.usage(c.id).catch(() => 0);
      await this.remove(c.id, { force: false, volumes: false });
      deleted.push(c.id);
    }
    return { ContainersDeleted: deleted, SpaceReclaimed: space };
  }

  // ---- wait ---------------------------------------------------------------------------------------

  /**
   * Docker's wait: not-running answers at once for a stopped container; next-exit waits for the
   * next exit; removed waits until the container is gone. The result carries the exit code.
   */
  wait(idOrName: string, condition: WaitCondition, signal?: AbortSignal): Promise<{ StatusCode: number; Error: { Message: string } | null }> {
    const c = this.containers.resolve(idOrName);
    if (condition === 'not-running' && !isRunning(c.state)) return Promise.resolve({ StatusCode: c.state.exitCode, Error: null });
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        const l = this.waiters.get(c.id);
        if (l) this.waiters.set(c.id, l.filter((x) => x !== w));
        reject(wrap(signal?.reason ?? new Error('aborted'), 'wait canceled'));
      };
      // The listener goes with the wait: a build waits for many containers on one signal.
      const w: Waiter = { condition, resolve: (r) => { signal?.removeEventListener('abort', onAbort); resolve(r); } };
      const list = this.waiters.get(c.id) ?? [];
      list.push(w);
      this.waiters.set(c.id, list);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private notifyWaiters(id: string, what: 'exit' | 'removed', code: number): void {
    const list = this.waiters.get(id);
    if (!list) return;
    const keep: Waiter[] = [];
    for (const w of list) {
      if (what === 'exit' && w.condition === 'removed') keep.push(w);
      else w.resolve({ StatusCode: code, Error: null });
    }
    if (keep.length) this.waiters.set(id, keep); else this.waiters.delete(id);
  }

  // ---- attach / resize / logs ---------------------------------------------------------------------

  /**
   * Attaches to a container's stdio. For a container not yet started the connection is made when it
   * starts (docker run attaches first), so no early output is lost.
   */
  attach(idOrName: string): Promise<{ container: ContainerRecord; conn: Promise<AttachConnection> }> {
    const c = this.containers.resolve(idOrName);
    if (c.state.status === 'running' || c.state.status === 'paused') {
      return Promise.resolve({ container: c, conn: this.rt(c).attach(c.id, join(this.dirOf(c.id), 'bundle')) });
    }
    const conn = new Promise<AttachConnection>((resolve, reject) => {
      const list = this.pendingAttach.get(c.id) ?? [];
      list.push((x) => (x instanceof Error ? reject(x) : resolve(x)));
      this.pendingAttach.set(c.id, list);
    });
    return Promise.resolve({ container: c, conn });
  }

  private async connectPendingAttaches(id: string, bundle: string): Promise<void> {
    const list = this.pendingAttach.get(id);
    if (!list) return;
    this.pendingAttach.delete(id);
    for (const deliver of list) {
      try { deliver(await this.rt(id).attach(id, bundle)); } catch (e) { deliver(e as Error); }
    }
  }

  private failPendingAttaches(id: string, err: Error): void {
    const list = this.pendingAttach.get(id);
    this.pendingAttach.delete(id);
    for (const deliver of list ?? []) deliver(err);
  }

  /** Drops an attach request that was never connected (its client hung up before start). */
  cancelPendingAttach(id: string): void {
    this.failPendingAttaches(id, new Error('attach canceled'));
  }

  resize(idOrName: string, rows: number, cols: number): void {
    const c = this.containers.resolve(idOrName);
    if (!isRunning(c.state)) throw conflict(`Container ${c.id} is not running`);
    if (!rows || !cols) return;
    this.rt(c).resize(c.id, join(this.dirOf(c.id), 'bundle'), rows, cols);
  }

  logs(idOrName: string, opts: { follow: boolean; since?: Date; until?: Date; tail?: number; signal?: AbortSignal }): { container: ContainerRecord; entries: AsyncIterable<LogEntry> } {
    const c = this.containers.resolve(idOrName);
    const logPath = this.logPathOf(c);
    if (!logPath) throw notImplemented('configured logging driver does not support reading');
    const follow = opts.follow && isRunning(c.state);
    const stopWhen = follow ? this.wait(c.id, 'not-running', opts.signal).catch(() => undefined) : undefined;
    return { container: c, entries: this.o.readLogs(logPath, { ...opts, follow, stopWhen }) };
  }

  // ---- exec ---------------------------------------------------------------------------------------

  execCreate(idOrName: string, body: { Cmd?: string[]; Env?: string[]; User?: string; WorkingDir?: string; Tty?: boolean; AttachStdin?: boolean; AttachStdout?: boolean; AttachStderr?: boolean; Privileged?: boolean; DetachKeys?: string }): string {
    const c = this.containers.resolve(idOrName);
    const why = cannotExec(c.state, c.id);
    if (why) throw conflict(why);
    if (!body.Cmd || body.Cmd.length === 0) throw invalidArgument('No exec command specified');
    const id = newId();
    this.execs.set(id, {
      id, containerId: c.id, args: body.Cmd, env: body.Env ?? [], user: body.User ?? '', workingDir: body.WorkingDir ?? '',
      tty: !!body.Tty, attachStdin: !!body.AttachStdin, attachStdout: body.AttachStdout !== false, attachStderr: body.AttachStderr !== false,
      privileged: !!body.Privileged, running: false, exitCode: null, pid: 0, detachKeys: body.DetachKeys,
    });
    this.events.publish('container', `exec_create: ${body.Cmd.join(' ')}`, c.id, { image: c.imageRef, name: c.name, execID: id });
    return id;
  }

  execGet(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw notFound(`No such exec instance: ${id}`);
    return e;
  }

  async execStart(id: string, opts: { detach: boolean; tty?: boolean }): Promise<ExecRecord> {
    const e = this.execGet(id);
    if (e.running || e.exitCode !== null) throw conflict(`Error: Exec command ${id} has already run`);
    const c = this.containers.resolve(e.containerId);
    const why = cannotExec(c.state, c.id);
    if (why) throw conflict(why);
    const rootfs = this.rootfsOf(c.id);
    const cfg = c.config;
    const user = await this.o.specs.resolveUser(rootfs, e.user || cfg.User || '');
    const baseEnv = cfg.Env ?? [];
    const env = mergeEnv(withDefaultPath(baseEnv), e.env);
    const h = c.hostConfig;
    const secOpts = h.SecurityOpt ?? [];
    const proc = this.o.specs.execProcess({
      args: e.args, env, cwd: e.workingDir || cfg.WorkingDir || '/', user, tty: e.tty,
      capAdd: h.CapAdd ?? [], capDrop: h.CapDrop ?? [], privileged: e.privileged || !!h.Privileged,
      noNewPrivileges: secOpts.some((s) => /^no-new-privileges(:true|=true)?$/.test(s)),
      rlimits: rlimitsOf(h as DockerResources),
    });
    // conmon reports nothing when a TTY exec's command is missing: look it up in PATH first, so the
    // client gets Docker's "executable file not found" (exit 127) with or without a TTY.
    const cmd = e.args[0];
    if (!cmd.includes('/') && !onPath(rootfs, cmd, env)) {
      e.exitCode = 127;
      throw invalidArgument(`OCI runtime exec failed: exec failed: unable to start container process: exec: "${cmd}": executable file not found in $PATH: unknown`);
    }
    let session: ExecSession;
    try {
      session = await this.rt(c).exec(c.id, join(this.dirOf(c.id), 'bundle'), {
        process: proc, tty: e.tty, stdin: e.attachStdin, detach: opts.detach,
      });
    } catch (err) {
      // As dockerd: an exec whose process cannot start has run, with 127 (not found) or 126 (cannot
      // invoke) as its exit code; clients read it from exec inspect.
      e.exitCode = /executable file .*not found|no such file or directory/i.test(errorMessage(err)) ? 127 : 126;
      throw err;
    }
    e.session = session;
    e.running = true;
    e.pid = session.pid() ?? 0;
    this.events.publish('container', `exec_start: ${e.args.join(' ')}`, c.id, { image: c.imageRef, name: c.name, execID: id });
    session.exit.then((code) => {
      e.running = false;
      e.exitCode = code;
      this.events.publish('container', 'exec_die', c.id, { image: c.imageRef, name: c.name, execID: id, exitCode: String(code) });
    }, (err) => {
      e.running = false;
      e.exitCode = 126;
      this.o.log('warn', `exec ${shortId(id)}: ${errorMessage(err)}`);
    });
    return e;
  }

  execResize(id: string, rows: number, cols: number): void {
    const e = this.execGet(id);
    if (!e.session) throw conflict(`Exec ${id} is not running`);
    e.session.resize(rows, cols);
  }

  // ---- inspection: top / changes / export / archive -----------------------------------------------

  // ---- resources (update, stats) ---------------------------------------------------------------

  private hostResCache?: HostResources;
  /** Host facts resource limits are checked against (CPUs, cpuset, swap accounting), read once. */
  private get hostResources(): HostResources {
    return this.hostResCache ??= hostResources();
  }

  /** `docker update`: new limits applied to a running container's cgroups, then stored. */
  update(idOrName: string, upd: DockerResources & { RestartPolicy?: HostOptions['RestartPolicy'] }): Promise<{ Warnings: string[] }> {
    const rec = this.containers.resolve(idOrName);
    return this.locks.run(rec.id, async () => {
      const c = this.containers.resolve(rec.id);
      // Everything is checked before anything is applied.
      if (upd.RestartPolicy?.Name) {
        if (c.hostConfig.AutoRemove && upd.RestartPolicy.Name !== 'no') throw invalidArgument('Restart policy cannot be updated because AutoRemove is enabled for the container');
        const invalid = restartPolicyError(upd.RestartPolicy, false);
        if (invalid) throw invalidArgument(invalid);
      }
      const { hostConfig, limits, revert, warnings } = applyUpdate(c.hostConfig, upd, this.hostResources);
      if (upd.RestartPolicy?.Name) hostConfig.RestartPolicy = upd.RestartPolicy;
      const resources = ociResources(limits);
      if (isRunning(c.state) && Object.keys(resources).length) {
        try {
          await this.rt(c).update(c.id, resources);
        } catch (e) {
          // The kernel refused one value (a memory limit under what the container uses): put back
          // what the runtime may have written before it, so nothing of the update holds.
          await this.rt(c).update(c.id, ociResources(revert)).catch((e2) => this.o.log('warn', `update ${shortId(c.id)}: restoring the limits: ${errorMessage(e2)}`));
          throw e;
        }
      }
      c.hostConfig = hostConfig;
      this.containers.save(c);
      this.events.publish('container', 'update', c.id, { image: c.imageRef, name: c.name });
      return { Warnings: warnings };
    });
  }

  /** One sample of a running container's cgroup and network counters (undefined when not running). */
  async statsSample(idOrName: string): Promise<{ cgroup?: CgroupSample; net?: Record<string, NetDevCounters>; systemCpu: number; onlineCpus: number; memoryTotal: number } | undefined> {
    const c = this.containers.resolve(idOrName);
    const base = { systemCpu: systemCpuUsage(), onlineCpus: this.hostResources.cpus, memoryTotal: this.hostResources.memoryTotal };
    if (!isRunning(c.state) || !c.state.pid) return undefined;
    const dirs = await cgroupDirsOf(c.state.pid);
    const [cgroup, net] = await Promise.all([dirs ? readCgroupSample(dirs) : undefined, readNetDev(c.state.pid)]);
    return { ...base, cgroup, net };
  }

  async top(idOrName: string, psArgs: string): Promise<{ Titles: string[]; Processes: string[][] }> {
    const c = this.containers.resolve(idOrName);
    if (!isRunning(c.state)) throw conflict(`Container ${c.id} is not running`);
    const pids = await this.rt(c).pids(c.id);
    return runProcessList(psArgs || '-ef', pids);
  }

  changes(idOrName: string): Promise<Change[]> {
    const c = this.containers.resolve(idOrName);
    return this.o.snapshotter.changes(c.id);
  }

  /** Runs fn with the container's root filesystem mounted (and paused when running, as Docker does for cp). */
  private async withRootfs<T>(c: ContainerRecord, pause: boolean, fn: (rootfs: string) => Promise<T>): Promise<T> {
    const rootfs = this.rootfsOf(c.id);
    const mountedHere = !isMounted(rootfs);
    if (mountedHere) {
      mkdirSync(rootfs, { recursive: true });
      mountAll(this.o.snapshotter.mounts(c.id), rootfs);
    }
    const paused = pause && c.state.status === 'running';
    if (paused) await this.pauseTransiently(c.id);
    try {
      return await fn(rootfs);
    } finally {
      if (paused) await this.resumeTransient(c.id);
      if (mountedHere && !isRunning(this.containers.get(c.id)?.state ?? c.state)) safeUnmount(rootfs);
    }
  }

  async archiveStat(idOrName: string, path: string): Promise<ReturnType<typeof statInRoot>> {
    const c = this.containers.resolve(idOrName);
    return this.withRootfs(c, false, async (rootfs) => statInRoot(rootfs, path));
  }

  /** A tar of `path` in the container; the stream is read while the container stays paused. */
  async archiveGet(idOrName: string, path: string): Promise<{ stat: ReturnType<typeof statInRoot>; tar: Readable }> {
    const c = this.containers.resolve(idOrName);
    const out = new PassThrough();
    let statResult: ReturnType<typeof statInRoot> | undefined;
    let handedOut = false;
    const ready = new Promise<void>((resolveReady, rejectReady) => {
      this.withRootfs(c, true, async (rootfs) => {
        statResult = statInRoot(rootfs, path);
        const tar = archiveFromRoot(rootfs, path);
        handedOut = true;
        resolveReady();
        await new Promise<void>((res, rej) => { tar.on('error', rej); out.on('error', rej); out.on('finish', res); tar.pipe(out); });
      }).catch((e) => {
        rejectReady(e);
        // Before it is handed out nobody listens on `out`: an 'error' event there would crash berthd
        // (a container racing its own paths, CVE-2018-15664 style, could take the daemon down).
        if (handedOut) out.destroy(e); else out.destroy();
      });
    });
    await ready;
    return { stat: statResult!, tar: out };
  }

  async archivePut(idOrName: string, path: string, tar: Readable, opts: { noOverwriteDirNonDir: boolean }): Promise<void> {
    const c = this.containers.resolve(idOrName);
    if (c.hostConfig.ReadonlyRootfs && isRunning(c.state)) throw failedPrecondition('container rootfs is marked read-only');
    await this.withRootfs(c, true, async (rootfs) => { await extractIntoRoot(rootfs, path, tar, opts); });
  }

  async export(idOrName: string): Promise<Readable> {
    const c = this.containers.resolve(idOrName);
    const out = new PassThrough();
    this.withRootfs(c, false, async (rootfs) => {
      const tar = packDir(rootfs, { whiteouts: 'none' });
      await new Promise<void>((res, rej) => { tar.on('error', rej); out.on('finish', res); out.on('error', rej); tar.pipe(out); });
    }).catch((e) => out.destroy(e));
    this.events.publish('container', 'export', c.id, { image: c.imageRef, name: c.name });
    return out;
  }

  async commit(idOrName: string, opts: { repo?: string; tag?: string; comment?: string; author?: string; changes: string[]; pause: boolean; config?: ImageRuntimeConfig }): Promise<ImageRecord> {
    const c = this.containers.resolve(idOrName);
    const base = { ...c.config, ...(opts.config ?? {}) };
    delete (base as Record<string, unknown>).Hostname;
    const config = applyConfigChanges(base, opts.changes);
    const paused = opts.pause && c.state.status === 'running';
    if (paused) await this.pauseTransiently(c.id);
    try {
      const ref = opts.repo ? `${opts.repo}${opts.tag ? `:${opts.tag}` : ''}` : undefined;
      const img = await this.o.images.commit({
        parentImage: c.image as Digest, layer: this.o.snapshotter.diff(c.id), config, containerId: c.id,
        comment: opts.comment, author: opts.author, tag: ref, createdBy: [c.path, ...c.args].join(' '),
      });
      this.events.publish('container', 'commit', c.id, { image: c.imageRef, name: c.name });
      return img;
    } finally {
      if (paused) await this.resumeTransient(c.id);
    }
  }

  private transientPauseMarker(id: string): string {
    return join(this.dirOf(id), 'transient-pause');
  }

  /**
   * Freezes a running container for cp/commit. A marker file records the pause first, so that
   * recover() resumes the container when berthd dies before resumeTransient runs.
   */
  private async pauseTransiently(id: string): Promise<void> {
    const cur = this.transientPauses.get(id);
    if (cur) {
      cur.count++;
      await cur.paused;
      return;
    }
    writeFileSync(this.transientPauseMarker(id), '');
    const entry = { count: 1, paused: this.rt(id).pause(id) };
    this.transientPauses.set(id, entry);
    try {
      await entry.paused;
    } catch (e) {
      if (--entry.count === 0) {
        this.transientPauses.delete(id);
        rmSync(this.transientPauseMarker(id), { force: true });
      }
      throw e;
    }
  }

  private async resumeTransient(id: string): Promise<void> {
    const cur = this.transientPauses.get(id);
    if (!cur || --cur.count > 0) return;
    this.transientPauses.delete(id);
    await this.rt(id).resume(id).catch(() => undefined);
    rmSync(this.transientPauseMarker(id), { force: true });
  }

  // ---- listing ------------------------------------------------------------------------------------

  list(opts: { all: boolean; limit: number; filters: Filters }): ContainerRecord[] {
    return filterContainers(this.containers.list(), opts.filters, {
      all: opts.all, limit: opts.limit,
      resolve: (ref) => this.containers.find(ref),
      imageMatches: (rec, ancestor) => {
        const img = this.o.images.find(ancestor);
        return img ? img.id === rec.image : rec.imageRef === ancestor;
      },
    });
  }

  /** Which container uses an image (for rmi's conflict errors). */
  imageUsage(id: Digest): { containerId: string; running: boolean } | undefined {
    let found: { containerId: string; running: boolean } | undefined;
    for (const c of this.containers.list()) {
      if (c.image !== id) continue;
      if (isRunning(c.state)) return { containerId: c.id, running: true };
      found ??= { containerId: c.id, running: false };
    }
    return found;
  }

  async removeImage(ref: string, opts: { force: boolean; noPrune: boolean }): Promise<RemoveResult[]> {
    const res = await this.o.images.remove(ref, opts, (id) => this.imageUsage(id));
    for (const r of res) {
      if (r.Untagged) this.events.publish('image', 'untag', r.Untagged, { name: r.Untagged });
      if (r.Deleted) this.events.publish('image', 'delete', r.Deleted, {});
    }
    return res;
  }

  async sizeOf(id: string): Promise<number> {
    return this.o.snapshotter.usage(id).catch(() => 0);
  }

  /** Docker's SizeRw (the writable layer) and SizeRootFs (that plus the image's unpacked layers). */
  async sizesOf(c: ContainerRecord): Promise<{ rw: number; rootFs: number }> {
    const rw = await this.sizeOf(c.id);
    return { rw, rootFs: rw + (this.o.images.find(c.image)?.size ?? 0) };
  }

  /** Bytes of a container's log files, the rotated ones included (0 for the none driver). */
  async logSizeOf(c: ContainerRecord): Promise<number> {
    const path = this.logPathOf(c);
    if (!path) return 0;
    const dir = dirname(path);
    const base = basename(path);
    let names: string[];
    try { names = await fsp.readdir(dir); } catch { return 0; }
    const sizes = await Promise.all(names.filter((n) => n === base || n.startsWith(`${base}.`))
      .map((n) => fsp.stat(join(dir, n)).then((st) => st.size, () => 0)));
    return sizes.reduce((a, b) => a + b, 0);
  }
}

// ---- helpers (pure) -------------------------------------------------------------------------------

/** The container's config: the image's defaults overridden by the create request, as Docker merges. */
export function mergeConfig(image: ImageRecord, req: CreateRequest): ImageRuntimeConfig {
  const ic = image.config.config ?? {};
  const cfg: ImageRuntimeConfig = { ...req };
  delete (cfg as Record<string, unknown>).HostConfig;
  delete (cfg as Record<string, unknown>).NetworkingConfig;
  cfg.Env = mergeEnv(ic.Env ?? [], req.Env ?? []);
  const entrypointGiven = req.Entrypoint !== undefined && req.Entrypoint !== null;
  const entrypoint = entrypointGiven ? req.Entrypoint : ic.Entrypoint;
  cfg.Entrypoint = entrypoint && !(entrypoint.length === 1 && entrypoint[0] === '') ? entrypoint : null;
  cfg.Cmd = req.Cmd && req.Cmd.length ? req.Cmd : entrypointGiven ? null : ic.Cmd ?? null;
  cfg.WorkingDir = req.WorkingDir || ic.WorkingDir || '';
  cfg.User = req.User || ic.User || '';
  cfg.Labels = { ...(ic.Labels ?? {}), ...(req.Labels ?? {}) };
  cfg.ExposedPorts = { ...(ic.ExposedPorts ?? {}), ...(req.ExposedPorts ?? {}) };
  cfg.Volumes = { ...(ic.Volumes ?? {}), ...(req.Volumes ?? {}) };
  cfg.StopSignal = req.StopSignal || ic.StopSignal;
  cfg.Healthcheck = mergeHealthcheck(req.Healthcheck, ic.Healthcheck);
  cfg.OnBuild = ic.OnBuild ?? null;
  cfg.Image = req.Image;
  cfg.Tty = !!req.Tty;
  cfg.OpenStdin = !!req.OpenStdin;
  cfg.StdinOnce = !!req.StdinOnce;
  cfg.AttachStdin = !!req.AttachStdin;
  cfg.AttachStdout = !!req.AttachStdout;
  cfg.AttachStderr = !!req.AttachStderr;
  return cfg;
}

function commandOf(cfg: ImageRuntimeConfig): { path: string; args: string[] } {
  const all = [...(cfg.Entrypoint ?? []), ...(cfg.Cmd ?? [])];
  return { path: all[0] ?? '', args: all.slice(1) };
}

const SIGNALS: Record<string, number> = {
  HUP: 1, INT: 2, QUIT: 3, ILL: 4, TRAP: 5, ABRT: 6, IOT: 6, BUS: 7, FPE: 8, KILL: 9, USR1: 10, SEGV: 11, USR2: 12,
  PIPE: 13, ALRM: 14, TERM: 15, STKFLT: 16, CHLD: 17, CONT: 18, STOP: 19, TSTP: 20, TTIN: 21, TTOU: 22, URG: 23,
  XCPU: 24, XFSZ: 25, VTALRM: 26, PROF: 27, WINCH: 28, IO: 29, POLL: 29, PWR: 30, SYS: 31,
};

/** `SIGTERM`, `TERM`, `15` or `SIGRTMIN+3` to a signal number; InvalidArgument otherwise. */
export function normalizeSignal(s: string): number {
  const t = s.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n < 1 || n > 64) throw invalidArgument(`Invalid signal: ${s}`);
    return n;
  }
  const name = t.replace(/^SIG/, '');
  if (name in SIGNALS) return SIGNALS[name];
  const rt = /^RTMIN(\+(\d+))?$/.exec(name) ?? /^RTMAX(-(\d+))?$/.exec(name);
  if (rt) return name.startsWith('RTMIN') ? 34 + Number(rt[2] ?? 0) : 64 - Number(rt[2] ?? 0);
  throw invalidArgument(`Invalid signal: ${s}`);
}

function labelMatches(labels: Record<string, string> | null | undefined, want: string): boolean {
  const i = want.indexOf('=');
  const l = labels ?? {};
  return i < 0 ? want in l : l[want.slice(0, i)] === want.slice(i + 1);
}

/** `until` filter: RFC3339, Unix seconds, or a Go duration ago (`24h`, `10m`). */
export function parseUntil(v: string): number {
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v) * 1000;
  const d = /^(\d+)(h|m|s)$/.exec(v);
  if (d) return Date.now() - Number(d[1]) * { h: 3600e3, m: 60e3, s: 1e3 }[d[2] as 'h' | 'm' | 's'];
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalidArgument(`invalid filter 'until=${v}'`);
  return t;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Rewrites a runtime's failure to start the container process into Docker's words, which clients
 * parse: the docker CLI exits 127 on "executable file not found" / "no such file or directory" and
 * 126 on "permission denied" / "is a directory".
 */
function dockerStartError(e: unknown, path: string, rootfs: string): unknown {
  const m = errorMessage(e);
  const prefix = 'failed to create task for container: OCI runtime create failed: unable to start container process';
  let detail: string | undefined;
  // A file the runtime writes (a cgroup or sysctl knob) that is missing is not the command missing.
  if (/executable file .*not found|no such file or directory/i.test(m) && !/chdir|for writing/i.test(m)) {
    detail = path.includes('/') ? `exec: "${path}": stat ${path}: no such file or directory` : `exec: "${path}": executable file not found in $PATH`;
  } else if (/open executable|permission denied|operation not permitted|is a directory/i.test(m) && !/capset|chdir/i.test(m)) {
    let isDir = false;
    try { isDir = path.includes('/') && statSync(resolveInRoot(rootfs, path)).isDirectory(); } catch { /* gone with the mount */ }
    detail = isDir ? `exec: "${path}": is a directory` : `exec: "${path}": permission denied`;
  } else if (/chdir/i.test(m)) {
    detail = `error during container init: ${m.replace(/^OCI runtime create failed( for \w+)?: /, '').replace(/: unknown$/, '')}`;
  }
  return detail ? invalidArgument(`${prefix}: ${detail}: unknown`, e) : e;
}

/** Whether `cmd` is found in the PATH of `env` inside the container's root. */
function onPath(rootfs: string, cmd: string, env: string[]): boolean {
  const path = env.find((x) => x.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH_ENV.slice(5);
  return path.split(':').some((dir) => {
    if (!dir.startsWith('/')) return false;
    try { return statSync(resolveInRoot(rootfs, `${dir}/${cmd}`)).isFile(); } catch { return false; }
  });
}

function safeUnmount(path: string): void {
  try { if (isMounted(path)) unmount(path); } catch { /* already gone; nothing to release */ }
}

function processAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return isKind(e, 'PermissionDenied') || (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** true when p settles within ms. */
function raceTimeout(p: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    p.then(() => { clearTimeout(t); resolve(true); }, () => { clearTimeout(t); resolve(true); });
  });
}


export type { ContainerState };
