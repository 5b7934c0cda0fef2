import { hostname, totalmem, cpus, release } from 'node:os';
import type { Engine } from '../daemon/engine';
import type { ImageStore } from '../image/image-store';
import type { EngineEvent } from '../daemon/events';
import { API_VERSION, MIN_API_VERSION, Router, qfilters, sendJson } from './router';
import { invalidArgument } from '../base/errors';
import { volumesDf } from './routes-volumes';
import { containerSummary, imageSummary } from './shapes';
import { imageDiskUsage } from '../daemon/disk-usage';

export interface SystemInfo {
  version: string;
  dataRoot: string;
  runtimeName: string;
  runtimeNames: string[];
  cgroupVersion: '1' | '2';
  daemonId: string;
  /** --insecure-registry entries: CIDRs and host[:port] names. */
  insecureRegistries?: string[];
  /** berthd --experimental: clients may use experimental features (docker build --squash). */
  experimental?: boolean;
}

/** docker info's RegistryConfig: CIDRs (loopback always) and insecure names as IndexConfigs. */
function registryConfig(insecure: string[] = []): object {
  const cidrs = ['127.0.0.0/8', ...insecure.filter((e) => e.includes('/') && e !== '127.0.0.0/8')];
  const names = insecure.filter((e) => !e.includes('/'));
  return {
    IndexConfigs: Object.fromEntries(names.map((n) => [n, { Name: n, Mirrors: [], Secure: false, Official: false }])),
    InsecureRegistryCIDRs: cidrs, Mirrors: [],
  };
}

function arch(): string {
  return process.arch === 'x64' ? 'amd64' : process.arch;
}

function eventMatches(e: EngineEvent, f: Record<string, string[]>): boolean {
  if (f.type && !f.type.includes(e.Type)) return false;
  if (f.event && !f.event.some((x) => e.Action === x || e.Action.startsWith(`${x}:`))) return false;
  if (f.container && (e.Type !== 'container' || !f.container.some((x) => e.Actor.ID.startsWith(x) || e.Actor.Attributes.name === x))) return false;
  if (f.image && !f.image.some((x) => e.Actor.Attributes.image === x || e.Actor.ID === x || e.Actor.Attributes.name === x)) return false;
  if (f.volume && (e.Type !== 'volume' || !f.volume.includes(e.Actor.ID))) return false;
  if (f.network && (e.Type !== 'network' || !f.network.some((x) => e.Actor.ID.startsWith(x) || e.Actor.Attributes.name === x))) return false;
  if (f.label && !f.label.every((l) => { const [k, v] = l.split('='); return v === undefined ? k in e.Actor.Attributes : e.Actor.Attributes[k] === v; })) return false;
  return true;
}

/** Bytes of events a subscriber may leave unread before the next ones are dropped for it. */
export const EVENTS_UNREAD_MAX = 1 << 20;

/** `buildCache` lists the build cache for `system df` (Docker's CacheRecord objects). */
export function systemRoutes(r: Router, d: { engine: Engine; images: ImageStore; info: SystemInfo; buildCache?: { records(): object[] } }): void {
  const { engine, images, info } = d;
  const ping = ({ res }: { res: import('node:http').ServerResponse }) => {
    res.writeHead(200, {
      'Api-Version': API_VERSION, 'Ostype': 'linux', 'Docker-Experimental': info.experimental ? 'true' : 'false', 'Builder-Version': '1',
      'Swarm': 'inactive', 'Cache-Control': 'no-cache, no-store, must-revalidate', 'Pragma': 'no-cache', 'Content-Type': 'text/plain; charset=utf-8',
    });
    res.end('OK');
  };
  r.add('GET', '/_ping', ping);
  r.add('HEAD', '/_ping', ping);

  r.add('GET', '/version', ({ res }) => {
    sendJson(res, 200, {
      Platform: { Name: 'berth' },
      Components: [{ Name: 'Engine', Version: info.version, Details: { ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, Os: 'linux', Arch: arch(), KernelVersion: release(), NodeVersion: process.version } },
        { Name: info.runtimeName, Version: '', Details: {} }],
      Version: info.version, ApiVersion: API_VERSION, MinAPIVersion: MIN_API_VERSION, GitCommit: '', GoVersion: `node${process.version}`,
      Os: 'linux', Arch: arch(), KernelVersion: release(), BuildTime: '',
    });
  });

  r.add('GET', '/info', ({ res }) => {
    const all = engine.containers.list();
    const running = all.filter((c) => c.state.status === 'running').length;
    const paused = all.filter((c) => c.state.status === 'paused').length;
    sendJson(res, 200, {
      ID: info.daemonId, Containers: all.length, ContainersRunning: running, ContainersPaused: paused, ContainersStopped: all.length - running - paused,
      Images: images.list().length, Driver: 'overlay2', DriverStatus: [['Backing Filesystem', 'extfs']], Plugins: { Volume: engine.volumes.driverNames(), Network: ['host', 'none'], Authorization: null, Log: ['json-file', 'local', 'none'] },
      MemoryLimit: true, SwapLimit: true, CpuCfsPeriod: true, CpuCfsQuota: true, CPUShares: true, CPUSet: true, PidsLimit: true, IPv4Forwarding: true,
      Debug: false, NFd: 0, OomKillDisable: false, NGoroutines: 0, SystemTime: new Date().toISOString(), LoggingDriver: engine.logDefaults.Type,
      CgroupDriver: 'cgroupfs', CgroupVersion: info.cgroupVersion, NEventsListener: 0, KernelVersion: release(), OperatingSystem: 'berth on Linux',
      OSVersion: '', OSType: 'linux', Architecture: process.arch === 'x64' ? 'x86_64' : process.arch, IndexServerAddress: 'https://index.docker.io/v1/',
      RegistryConfig: registryConfig(info.insecureRegistries), NCPU: cpus().length, MemTotal: totalmem(),
      DockerRootDir: info.dataRoot, Name: hostname(), Labels: [], ExperimentalBuild: !!info.experimental, ServerVersion: info.version,
      Runtimes: Object.fromEntries(info.runtimeNames.map((n) => [n, { path: n }])), DefaultRuntime: info.runtimeName, Swarm: { NodeID: '', NodeAddr: '', LocalNodeState: 'inactive', ControlAvailable: false, Error: '', RemoteManagers: null },
      LiveRestoreEnabled: true, Isolation: '', InitBinary: 'docker-init', SecurityOptions: ['name=seccomp,profile=builtin'], Warnings: null,
    });
  });

  r.add('GET', '/events', ({ req, res, query }) => {
    const f = qfilters(query);
    const since = query.get('since');
    const until = query.get('until');
    const untilMs = until ? Number(until) * 1000 : undefined;
    if (until && Number.isNaN(untilMs)) throw invalidArgument(`invalid until: ${until}`);
    const sinceS = since ? Number(since) : undefined;
    if (since && Number.isNaN(sinceS)) throw invalidArgument(`invalid since: ${since}`);
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.flushHeaders();
    // History is replayed for --since, and for --until alone (Docker replays what it keeps).
    if (sinceS !== undefined || untilMs !== undefined) {
      for (const e of engine.events.since(sinceS ?? 0, untilMs !== undefined ? untilMs / 1000 : Infinity)) if (eventMatches(e, f)) res.write(JSON.stringify(e) + '\n');
    }
    if (untilMs !== undefined && untilMs <= Date.now()) { res.end(); return; }
    // A subscriber that stops reading must not make berthd buffer without end: past a bound, new
    // events are dropped for it, as dockerd's pubsub drops what a subscriber does not take in time.
    const unsubscribe = engine.events.subscribe((e) => {
      if (eventMatches(e, f) && res.writableLength < EVENTS_UNREAD_MAX) res.write(JSON.stringify(e) + '\n');
    });
    const timer = untilMs !== undefined ? setTimeout(() => { unsubscribe(); res.end(); }, untilMs - Date.now()) : undefined;
    req.socket.on('close', () => { unsubscribe(); if (timer) clearTimeout(timer); });
  });

  // Sizes as on disk (docs/disk-usage.md): images count their layer tars too, a container's
  // SizeRw counts its logs too (SizeLogs, berth's field, says how much of it they are).
  r.add('GET', '/system/df', async ({ res }) => {
    const all = engine.containers.list();
    const counts = new Map<string, number>();
    for (const c of all) counts.set(c.image, (counts.get(c.image) ?? 0) + 1);
    const imgs = images.list();
    const usage = imageDiskUsage(imgs, images.layerUsage());
    const containers = await Promise.all(all.map(async (c) => {
      const [size, logs] = await Promise.all([engine.sizesOf(c), engine.logSizeOf(c)]);
      return { ...containerSummary(c, engine.networks.viewOf(c), { rw: size.rw + logs, rootFs: size.rootFs }), SizeLogs: logs };
    }));
    sendJson(res, 200, {
      LayersSize: usage.layersSize,
      Images: imgs.map((i) => {
        const u = usage.images.get(i.id) ?? { size: i.size, sharedSize: 0 };
        return { ...imageSummary(i, counts.get(i.id) ?? 0), Size: u.size, SharedSize: u.sharedSize, VirtualSize: u.size };
      }),
      Containers: containers, Volumes: await volumesDf(engine), BuildCache: d.buildCache?.records() ?? [],
    });
  });
}
