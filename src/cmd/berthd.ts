import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { release } from 'node:os';
import { createHash, randomUUID } from 'node:crypto';
import { openDatabase } from '../sys/database';
import { parseGoDuration } from '../base/units';
import { OverlaySnapshotter } from '../snapshot/overlay/overlay-snapshotter';
import { LocalImageStore } from '../image/store';
import { ConmonRuntime, detectCgroupMode } from '../runtime/conmon/conmon-runtime';
import { clampRlimits, generateExecProcess, generateSpec } from '../runtime/spec';
import { resolveUser } from '../runtime/user';
import { readLogs } from '../runtime/logs';
import { SeccompTranslator } from '../security/seccomp';
import { ALL_CAPABILITIES, computeCapabilities } from '../security/capabilities';
import { boundingCapabilityNumbers, hostHardRlimits, processAlive } from '../sys/process';
import { Engine, SpecBuilder } from '../daemon/engine';
import { EventBus } from '../daemon/events';
import { Router } from '../api/router';
import { containerRoutes } from '../api/routes-containers';
import { resourceRoutes } from '../api/routes-resources';
import { imageRoutes } from '../api/routes-images';
import { buildCacheJson, buildRoutes } from '../api/routes-build';
import { Builder } from '../build/builder';
import { HttpFetcher } from '../build/http-fetcher';
import { SqliteBuildCache } from '../build/build-cache';
import { EngineBuildContainers } from '../daemon/build-containers';
import { RegistryImagePuller } from '../daemon/build-puller';
import { CacheMountStore } from '../daemon/build-cache-mounts';
import { registryAuth, registryRoutes } from '../api/routes-registry';
import { DistributionClient } from '../registry/client/distribution-client';
import { RegistryHosts } from '../registry/client/registry-hosts';
import { ContentTrust } from '../daemon/content-trust';
import { parseTrustPolicy, type TrustPolicy } from '../security/trust-policy';
import { trustRequest, trustRoutes } from '../api/routes-trust';
import { systemRoutes } from '../api/routes-system';
import { volumeRoutes } from '../api/routes-volumes';
import { LocalVolumeDriver } from '../volume/local/local-driver';
import { VolumePluginRegistry } from '../volume/plugin/volume-plugin-registry';
import { pluginDirsFrom, type PluginDirs } from '../volume/plugin/discovery';
import { NetavarkDriver } from '../network/netavark/netavark-driver';
import { Firewall } from '../network/firewall';
import { DEFAULT_POOLS, parsePool, type AddressPool } from '../network/ipam';
import { networkRoutes } from '../api/routes-networks';
import { closeServer, createApiServer, listen } from '../api/server';
import { createMetricsServer, EngineMetrics } from '../api/metrics';
import { LogConfig, logPolicyOf, parseLogOptFlags } from '../daemon/log-config';

const VERSION = '0.1.0';
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
type Level = (typeof LEVELS)[number];

interface DaemonOptions {
  hosts: string[];
  dataRoot: string;
  execRoot: string;
  pidfile: string;
  /** Where volume plugins are looked for (Docker's directories unless --plugin-dir is given). */
  pluginDirs: PluginDirs;
  logLevel: Level;
  defaultRuntime: 'crun' | 'runc' | 'auto';
  /** host:port of the Prometheus listener, if any. */
  metricsAddr?: string;
  /** The default bridge's interface name and address (dockerd's --bridge and --bip). */
  bridge: string;
  bip?: string;
  /** Where network subnets are taken from (dockerd's --default-address-pool). */
  addressPools: AddressPool[];
  /** How long an unused network's bridge stays up (ms). */
  networkIdleMs: number;
  /** dockerd's --experimental (the docker CLI then allows `build --squash`). */
  experimental: boolean;
  /** Containers' default log driver and options (dockerd's --log-driver, --log-opt). */
  logDefaults: LogConfig;
  /** Registries spoken to without TLS verification or in plain HTTP (dockerd's --insecure-registry). */
  insecureRegistries: RegistryHosts;
  insecureRegistryList: string[];
  /** Content trust (--content-trust-policy): which images must be signed, by which keys. */
  trustPolicy?: TrustPolicy;
}

const USAGE = `Usage:	berthd [OPTIONS]

A Docker-compatible container engine: serves the Docker Engine API.

Options:
      --config-file string      Daemon configuration file (JSON)
      --data-root string        Root directory of persistent state (default "/var/lib/berth")
      --default-runtime string  Default OCI runtime: crun, runc or auto (default "auto")
      --exec-root string        Root directory for execution state files (default "/run/berth")
  -b, --bridge string           Interface of the default bridge network (default "berth0")
      --bip string              IPv4 address and prefix of the default bridge (default: the first free pool subnet)
      --default-address-pool    Default address pools for networks, e.g. base=10.10.0.0/16,size=24 (repeatable)
      --network-idle-timeout    How long a network's bridge stays up after its last container (default 30s; 0 for none)
  -H, --host list               Daemon socket(s) to connect to (default unix:///run/berth/berth.sock)
      --content-trust-policy string  Content trust policy file (JSON): images that must carry cosign
                                signatures by given keys, per registry or repository (docs/content-trust.md)
      --insecure-registry list  Enable insecure registry communication: host[:port] or CIDR, repeatable
                                (unverified HTTPS, then plain HTTP; loopback is plain HTTP without it)
  -l, --log-level string        Set the logging level ("debug"|"info"|"warn"|"error") (default "info")
      --log-driver string       Default driver for container logs: json-file, local or none (default "json-file")
      --log-opt map             Default log driver options for containers, e.g. max-size=20m (repeatable;
                                json-file rotates at 20m keeping 5 files unless told otherwise)
      --experimental            Enable experimental features (docker build --squash)
      --metrics-addr string     Set default address and port to serve the metrics api on
  -p, --pidfile string          Path to use for daemon PID file (default "/run/berth/berthd.pid")
      --plugin-dir list         Directory searched for volume plugins (NAME.sock, NAME.spec, NAME.json);
                                repeatable (default /run/docker/plugins, /etc/docker/plugins, /usr/lib/docker/plugins)
  -v, --version                 Print version information and quit
`;

/** dockerd's flags where they exist; a config file gives defaults that flags override. */
function parseArgs(argv: string[]): DaemonOptions {
  const flags: Record<string, string[]> = {};
  const take = (name: string, value: string) => (flags[name] ??= []).push(value);
  const names: Record<string, string> = {
    '-H': 'host', '--host': 'host', '--data-root': 'data-root', '--exec-root': 'exec-root', '-p': 'pidfile', '--pidfile': 'pidfile',
    '--config-file': 'config-file', '-l': 'log-level', '--log-level': 'log-level', '--default-runtime': 'default-runtime',
    '--plugin-dir': 'plugin-dir', '--log-driver': 'log-driver', '--log-opt': 'log-opt',
    '--insecure-registry': 'insecure-registry', '--content-trust-policy': 'content-trust-policy',
    '--metrics-addr': 'metrics-addr', '-b': 'bridge', '--bridge': 'bridge', '--bip': 'bip', '--default-address-pool': 'default-address-pool',
    '--network-idle-timeout': 'network-idle-timeout',
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-h' || a === '--help') { process.stdout.write(USAGE); process.exit(0); }
    if (a === '-v' || a === '--version') { process.stdout.write(`berthd version ${VERSION}\n`); process.exit(0); }
    if (a === '--experimental') { take('experimental', 'true'); continue; }
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const name = names[flag];
    if (!name) fail(`unknown flag: ${flag}`);
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (value === undefined) fail(`flag needs an argument: ${flag}`);
    take(name, value);
  }
  let file: Record<string, unknown> = {};
  const configFile = flags['config-file']?.[0] ?? (existsSync('/etc/berth/daemon.json') ? '/etc/berth/daemon.json' : undefined);
  if (configFile) {
    try { file = JSON.parse(readFileSync(configFile, 'utf8')); } catch (e) { fail(`unable to configure the daemon from ${configFile}: ${(e as Error).message}`); }
  }
  const pick = (name: string, dflt: string): string => flags[name]?.at(-1) ?? (typeof file[name] === 'string' ? (file[name] as string) : dflt);
  const hosts = flags.host ?? (Array.isArray(file.hosts) ? (file.hosts as string[]) : ['unix:///run/berth/berth.sock']);
  const logLevel = pick('log-level', 'info') as Level;
  if (!LEVELS.includes(logLevel)) fail(`invalid log level: ${logLevel}`);
  const defaultRuntime = pick('default-runtime', 'auto') as DaemonOptions['defaultRuntime'];
  if (!['crun', 'runc', 'auto'].includes(defaultRuntime)) fail(`invalid default runtime: ${defaultRuntime}`);
  const execRoot = pick('exec-root', '/run/berth');
  const pluginDirList = flags['plugin-dir'] ?? (Array.isArray(file['plugin-dirs']) ? (file['plugin-dirs'] as string[]) : []);
  if (pluginDirList.some((d) => !d.startsWith('/'))) fail('--plugin-dir must be an absolute path');
  const poolSpecs = flags['default-address-pool'] ?? (Array.isArray(file['default-address-pools'])
    ? (file['default-address-pools'] as Array<{ base: string; size: number }>).map((p) => `base=${p.base},size=${p.size}`) : []);
  let addressPools = DEFAULT_POOLS;
  try {
    if (poolSpecs.length) addressPools = poolSpecs.map(parsePool);
  } catch (e) { fail((e as Error).message); }
  // dockerd refuses to start with a default log config it would refuse for a container.
  const logOpts = file['log-opts'];
  if (logOpts !== undefined && (typeof logOpts !== 'object' || logOpts === null || Object.values(logOpts).some((v) => typeof v !== 'string'))) {
    fail('log-opts in the configuration file must be an object of strings');
  }
  let logDefaults: LogConfig;
  try {
    const fromFlags = flags['log-opt'] ? parseLogOptFlags(flags['log-opt']) : undefined;
    logDefaults = { Type: pick('log-driver', 'json-file'), Config: fromFlags ?? { ...((logOpts as Record<string, string> | undefined) ?? {}) } };
    logPolicyOf(logDefaults);
  } catch (e) { fail(`failed to set log opts: ${(e as Error).message}`); }
  const insecureRegistryList = flags['insecure-registry'] ?? (Array.isArray(file['insecure-registries']) ? (file['insecure-registries'] as string[]) : []);
  let insecureRegistries: RegistryHosts;
  try { insecureRegistries = new RegistryHosts(insecureRegistryList); } catch (e) { fail((e as Error).message); }
  const policyFile = pick('content-trust-policy', '');
  let trustPolicy: TrustPolicy | undefined;
  if (policyFile) {
    try {
      // Key entries are PEM text or files, relative to the policy file.
      const loadKey = (entry: string) => (entry.includes('-----BEGIN') ? entry : readFileSync(resolvePath(dirname(policyFile), entry), 'utf8'));
      trustPolicy = parseTrustPolicy(JSON.parse(readFileSync(policyFile, 'utf8')), loadKey);
    } catch (e) { fail(`content trust policy ${policyFile}: ${(e as Error).message}`); }
  }
  let networkIdleMs = 30_000;
  try { networkIdleMs = parseGoDuration(pick('network-idle-timeout', '30s')); } catch (e) { fail(`invalid --network-idle-timeout: ${(e as Error).message}`); }
  const bridge = pick('bridge', 'berth0');
  if (!/^[a-zA-Z0-9_.-]{1,15}$/.test(bridge)) fail(`invalid bridge name: ${bridge}`);
  return {
    bridge, bip: pick('bip', '') || undefined, addressPools, networkIdleMs,
    hosts: hosts.map((h) => (h.startsWith('/') ? `unix://${h}` : h)), dataRoot: pick('data-root', '/var/lib/berth'), execRoot,
    pidfile: pick('pidfile', join(execRoot, 'berthd.pid')), logLevel, defaultRuntime, metricsAddr: pick('metrics-addr', '') || undefined,
    pluginDirs: pluginDirsFrom(pluginDirList), logDefaults, insecureRegistries, insecureRegistryList, trustPolicy,
    experimental: flags.experimental !== undefined || file.experimental === true,
  };
}

function fail(msg: string): never {
  process.stderr.write(`berthd: ${msg}\n`);
  process.exit(1);
}

/** A host-wide lock file's path, its directory made if missing. */
function hostLockFile(path: string): string {
  mkdirSync(dirname(path), { recursive: true });
  return path;
}

/** netavark and aardvark-dns: Debian ships them with podman, outside PATH. */
function findTool(name: string): string {
  return [`/usr/lib/podman/${name}`, `/usr/libexec/podman/${name}`, `/usr/local/lib/podman/${name}`].find((p) => existsSync(p)) ?? name;
}

/** Picks a static init binary for --init, which must run inside any image. */
function findInit(): string | undefined {
  return ['/usr/bin/tini-static', '/usr/bin/catatonit', '/usr/libexec/podman/catatonit'].find((p) => existsSync(p));
}

/** The one place that builds berthd's object graph. */
async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  const threshold = LEVELS.indexOf(o.logLevel);
  const log = (level: Level, msg: string) => {
    if (LEVELS.indexOf(level) >= threshold) process.stderr.write(`${new Date().toISOString()} ${level.toUpperCase()} ${msg}\n`);
  };
  mkdirSync(o.dataRoot, { recursive: true, mode: 0o710 });
  mkdirSync(o.execRoot, { recursive: true, mode: 0o700 });
  if (existsSync(o.pidfile)) {
    const pid = Number(readFileSync(o.pidfile, 'utf8'));
    if (pid && pid !== process.pid && processAlive(pid)) fail(`pid file found, ensure berthd is not running or delete ${o.pidfile}`);
  }
  writeFileSync(o.pidfile, `${process.pid}`);

  const db = openDatabase(join(o.dataRoot, 'berth.db'));
  const snapshotter = new OverlaySnapshotter(join(o.dataRoot, 'overlay'));
  const images = await LocalImageStore.open(db, join(o.dataRoot, 'image'), snapshotter);
  // Every installed runtime is offered (docker run --runtime); the default is chosen per host.
  const runtimes: Record<string, ConmonRuntime> = {};
  for (const name of ['crun', 'runc'] as const) {
    try {
      runtimes[name] = new ConmonRuntime({
        runtime: name, stateDir: join(o.execRoot, name), crunHybridWrapper: join(__dirname, 'crun-hybrid'),
        logRotator: existsSync(join(__dirname, 'berth-logrotate')) ? join(__dirname, 'berth-logrotate') : undefined,
      });
    } catch (e) {
      log('debug', `runtime ${name} unavailable: ${(e as Error).message}`);
    }
  }
  if (!existsSync(join(__dirname, 'berth-logrotate'))) log('warn', `${join(__dirname, 'berth-logrotate')} not found (run the build): container logs are not rotated`);
  const defaultRuntime = o.defaultRuntime === 'auto' ? (runtimes.crun ? 'crun' : 'runc') : o.defaultRuntime;
  if (!runtimes[defaultRuntime]) fail(`default runtime ${defaultRuntime} is not installed`);
  const seccompPath = '/usr/share/containers/seccomp.json';
  const seccomp = existsSync(seccompPath) ? new SeccompTranslator(readFileSync(seccompPath, 'utf8'), { arch: process.arch, kernel: release() }) : undefined;
  if (!seccomp) log('warn', `${seccompPath} not found: containers run without a seccomp profile`);
  const rlimits = hostHardRlimits();
  // This host may withhold capabilities from berthd itself (no CAP_SYS_RESOURCE here): never ask for more.
  const available = boundingCapabilityNumbers().map((n) => ALL_CAPABILITIES[n]).filter(Boolean);
  const capsOf = (o: { capAdd: string[]; capDrop: string[]; privileged: boolean }) => computeCapabilities({ ...o, available });
  const specs: SpecBuilder = {
    spec: (input) => generateSpec(input, { hardRlimits: rlimits, availableCapabilities: available }),
    execProcess: (input) => generateExecProcess({
      args: input.args, env: input.env, cwd: input.cwd, user: input.user, tty: input.tty, privileged: input.privileged,
      noNewPrivileges: input.noNewPrivileges, capabilities: capsOf(input), availableCapabilities: available,
      // As Docker: exec processes get the container's --ulimit values.
      containerProcess: input.rlimits?.length ? { rlimits: clampRlimits(input.rlimits, rlimits) } : undefined,
    }),
    resolveUser: (rootfs, user) => resolveUser(rootfs, user),
    seccomp: (opts) => seccomp?.forCapabilities(capsOf(opts)) ?? null,
  };
  const events = new EventBus({ db });
  const cgroupMode = detectCgroupMode();
  const engine = new Engine({
    db, dataRoot: o.dataRoot, images, snapshotter, runtimes, defaultRuntime, readLogs, logDefaults: o.logDefaults, specs, events, initPath: findInit(), cgroupParent: '/berth', log,
    volumeDrivers: { local: new LocalVolumeDriver(db, join(o.dataRoot, 'volumes')) },
    volumePlugins: new VolumePluginRegistry(db, { dirs: o.pluginDirs, log }),
    network: {
      driver: new NetavarkDriver({ binary: findTool('netavark'), aardvarkBinary: findTool('aardvark-dns'), configDir: join(o.execRoot, 'netavark') }),
      // The default exec root gets the plain chain name; another berthd on the host gets its own.
      firewall: new Firewall(o.execRoot === '/run/berth' ? 'BERTH-ISOLATION' : `BERTH-ISO-${createHash('sha256').update(o.execRoot).digest('hex').slice(0, 8)}`, join(o.execRoot, 'ip_forward.orig')),
      netnsDir: join(o.execRoot, 'netns'), pools: o.addressPools, defaultBridge: { name: o.bridge, bip: o.bip },
      // Host-wide: netavark's own lock lives in its --config directory, which each berthd has apart.
      hostLock: hostLockFile('/run/lock/netavark.lock'), networkIdleMs: o.networkIdleMs,
    },
  });
  await engine.recover();
  const metrics = new EngineMetrics({ engine, images });

  const router = new Router();
  const registry = new DistributionClient(images, o.insecureRegistries);
  const trust = new ContentTrust({ registry, images, db, policy: o.trustPolicy });
  containerRoutes(router, { engine, snapshotter, trust });
  resourceRoutes(router, { engine });
  volumeRoutes(router, { engine });
  networkRoutes(router, { engine });
  imageRoutes(router, { engine, images, registry, verifyPull: (ref, req) => trust.pullGate(ref, trustRequest(req), registryAuth(req)), observePull: metrics.observePull });
  trustRoutes(router, { trust });
  const buildCache = new SqliteBuildCache(db);
  const cacheMounts = new CacheMountStore(join(o.dataRoot, 'build', 'cache-mounts'));
  const fetcher = new HttpFetcher();
  const buildContainers = new EngineBuildContainers(engine, snapshotter, {
    images, cacheMounts, workDir: join(o.dataRoot, 'build', 'tmp'), runDir: join(o.execRoot, 'build'), secretEnvHelper: join(__dirname, 'berth-secret-env'),
  });
  buildRoutes(router, { builder: new Builder(images, buildContainers, buildCache, {
    fetcher, log, puller: new RegistryImagePuller({ registry, images, events, verify: (ref, creds, signal) => trust.pullGate(ref, undefined, creds, signal) }),
  }), images, events, cache: buildCache, cacheMounts, observeBuild: metrics.observeBuild });
  registryRoutes(router, { registry, images, events });
  const idFile = join(o.dataRoot, 'engine-id');
  if (!existsSync(idFile)) writeFileSync(idFile, randomUUID());
  systemRoutes(router, {
    engine, images, buildCache: { records: () => buildCacheJson(buildCache, cacheMounts) },
    info: { version: VERSION, dataRoot: o.dataRoot, runtimeName: defaultRuntime, runtimeNames: Object.keys(runtimes), cgroupVersion: cgroupMode === 'v2' ? '2' : '1', daemonId: readFileSync(idFile, 'utf8').trim(), insecureRegistries: o.insecureRegistryList, experimental: o.experimental },
  });
  const servers: import("node:http").Server[] = [];
  for (const host of o.hosts) {
    const server = createApiServer(router, log, metrics.observe);
    await listen(server, host);
    servers.push(server);
    log('info', `API listening on ${host}`);
  }
  let metricsServer: import('node:http').Server | undefined;
  if (o.metricsAddr) {
    metricsServer = createMetricsServer(metrics, log);
    await listen(metricsServer, `tcp://${o.metricsAddr}`);
    log('info', `metrics listening on ${o.metricsAddr}`);
  }
  events.publish('daemon', 'start', readFileSync(idFile, 'utf8').trim(), {});

  // Containers belong to conmon, not to berthd: stopping the daemon leaves them running.
  const shutdown = async (sig: string) => {
    log('info', `received ${sig}, shutting down (containers keep running)`);
    servers.forEach((s, i) => closeServer(s, o.hosts[i]));
    metricsServer?.close();
    await engine.networks.shutdown();
    rmSync(o.pidfile, { force: true });
    db.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e) => {
  process.stderr.write(`berthd: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
  process.exit(1);
});
