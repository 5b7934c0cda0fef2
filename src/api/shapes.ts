import type { ContainerRecord } from '../daemon/container';
import type { ImageRecord } from '../image/image-store';
import { humanDuration } from '../base/units';
import { healthStatusSuffix } from '../daemon/health';
import type { ContainerNetworkView, EndpointRecord, NetworkRecord } from '../daemon/networks';
import { portMap, portSummary } from '../network/ports';

/** Docker's `Status` column text for a container. */
export function statusText(c: ContainerRecord, now = Date.now()): string {
  const s = c.state;
  switch (s.status) {
    case 'created': return 'Created';
    case 'running': return `Up ${humanDuration(now - Date.parse(s.startedAt))}${healthStatusSuffix(s.health)}`;
    case 'paused': return `Up ${humanDuration(now - Date.parse(s.startedAt))} (Paused)`;
    case 'restarting': return `Restarting (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
    case 'removing': return 'Removal In Progress';
    case 'dead': return 'Dead';
    case 'exited': return `Exited (${s.exitCode}) ${humanDuration(now - Date.parse(s.finishedAt))} ago`;
  }
}

/** moby's daemon/list.go: the path, then the arguments, those holding a space in single quotes. */
function commandLine(c: ContainerRecord): string {
  if (!c.args.length) return c.path;
  return `${c.path} ${c.args.map((a) => (a.includes(' ') ? `'${a}'` : a)).join(' ')}`;
}

function networkMode(c: ContainerRecord): string {
  const m = c.hostConfig.NetworkMode;
  return !m || m === 'default' ? 'bridge' : m;
}

/** Docker's EndpointSettings for each network (addresses only while the container runs). */
function networksOf(c: ContainerRecord, view: ContainerNetworkView): Record<string, Record<string, unknown>> {
  const mode = networkMode(c);
  if (mode.startsWith('container:')) return {};
  if (mode === 'host' || mode === 'none') {
    return { [mode]: endpointSettings({}, undefined, undefined) };
  }
  const out: Record<string, Record<string, unknown>> = {};
  for (const n of view.networks) out[n.name] = endpointSettings(n.config, n.network, n.endpoint);
  return out;
}

function endpointSettings(cfg: ContainerNetworkView['networks'][number]['config'], net: NetworkRecord | undefined, ep: EndpointRecord | undefined): Record<string, unknown> {
  const ipam = cfg.IPAMConfig?.IPv4Address ? { IPv4Address: cfg.IPAMConfig.IPv4Address } : null;
  return {
    IPAMConfig: ipam, Links: null, Aliases: cfg.Aliases?.length ? cfg.Aliases : null, MacAddress: ep?.mac ?? '', DriverOpts: null, GwPriority: 0,
    NetworkID: net?.id ?? '', EndpointID: ep?.endpointId ?? '', Gateway: ep && net ? net.gateway : '', IPAddress: ep?.ip ?? '',
    IPPrefixLen: ep && net ? Number(net.subnet.split('/')[1]) : 0, IPv6Gateway: '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
    DNSNames: ep && ep.aliases.length ? ep.aliases : null,
  };
}

function mountsOf(c: ContainerRecord): Array<Record<string, unknown>> {
  if (c.mounts) {
    return c.mounts.map((m) => m.type === 'volume'
      ? { Type: 'volume', Name: m.name, Source: m.source ?? '', Destination: m.destination, Driver: m.driver ?? 'local', Mode: m.mode, RW: m.rw, Propagation: '' }
      : m.type === 'bind'
        ? { Type: 'bind', Source: m.source, Destination: m.destination, Mode: m.mode, RW: m.rw, Propagation: m.propagation || 'rprivate' }
        : { Type: 'tmpfs', Source: '', Destination: m.destination, Mode: '', RW: m.rw, Propagation: '' });
  }
  return (c.hostConfig.Binds ?? []).map((b) => {
    const [src, dst, mode = ''] = b.split(':');
    return { Type: 'bind', Source: src, Destination: dst, Mode: mode, RW: !mode.split(',').includes('ro'), Propagation: 'rprivate' };
  });
}

/** GET /containers/json item. */
export function containerSummary(c: ContainerRecord, view: ContainerNetworkView, size?: { rw: number; rootFs: number }): Record<string, unknown> {
  const out: Record<string, unknown> = {
    Id: c.id,
    Names: [`/${c.name}`],
    Image: c.imageRef,
    ImageID: c.image,
    Command: commandLine(c),
    Created: Math.floor(Date.parse(c.created) / 1000),
    Ports: portSummary(view.ports, c.config.ExposedPorts),
    Labels: c.config.Labels ?? {},
    State: c.state.status,
    Status: statusText(c),
    HostConfig: { NetworkMode: networkMode(c) },
    NetworkSettings: { Networks: networksOf(c, view) },
    Mounts: mountsOf(c),
  };
  if (size) {
    out.SizeRw = size.rw;
    out.SizeRootFs = size.rootFs;
  }
  return out;
}

/** GET /containers/{id}/json. */
export function containerInspect(c: ContainerRecord, paths: { logPath: string; rootfs: string; upperDir: string }, view: ContainerNetworkView): Record<string, unknown> {
  const s = c.state;
  const h = c.hostConfig;
  return {
    Id: c.id,
    Created: c.created,
    Path: c.path,
    Args: c.args,
    State: {
      Status: s.status,
      Running: s.status === 'running' || s.status === 'paused' || s.status === 'restarting',
      Paused: s.status === 'paused',
      Restarting: s.status === 'restarting',
      OOMKilled: s.oomKilled,
      Dead: s.status === 'dead',
      Pid: s.pid,
      ExitCode: s.exitCode,
      Error: s.error,
      StartedAt: s.startedAt,
      FinishedAt: s.finishedAt,
      ...(s.health ? { Health: { Status: s.health.status, FailingStreak: s.health.failingStreak, Log: s.health.log } } : {}),
    },
    Image: c.image,
    ResolvConfPath: `${paths.rootfs.replace(/\/rootfs$/, '')}/resolv.conf`,
    HostnamePath: `${paths.rootfs.replace(/\/rootfs$/, '')}/hostname`,
    HostsPath: `${paths.rootfs.replace(/\/rootfs$/, '')}/hosts`,
    LogPath: paths.logPath,
    Name: `/${c.name}`,
    RestartCount: s.restartCount,
    Driver: 'overlay2',
    Platform: 'linux',
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: null,
    HostConfig: {
      Binds: h.Binds ?? null,
      ContainerIDFile: '',
      // Records made before log drivers existed have none (or an empty Type): they log as json-file.
      LogConfig: h.LogConfig?.Type ? h.LogConfig : { Type: 'json-file', Config: h.LogConfig?.Config ?? {} },
      NetworkMode: networkMode(c),
      PortBindings: h.PortBindings ?? {},
      RestartPolicy: h.RestartPolicy ?? { Name: 'no', MaximumRetryCount: 0 },
      AutoRemove: !!h.AutoRemove,
      VolumeDriver: typeof h.VolumeDriver === 'string' ? h.VolumeDriver : '',
      VolumesFrom: null,
      CapAdd: h.CapAdd ?? null,
      CapDrop: h.CapDrop ?? null,
      Dns: h.Dns ?? [],
      DnsOptions: h.DnsOptions ?? [],
      DnsSearch: h.DnsSearch ?? [],
      ExtraHosts: h.ExtraHosts ?? null,
      Init: h.Init ?? null,
      Privileged: !!h.Privileged,
      ReadonlyRootfs: !!h.ReadonlyRootfs,
      SecurityOpt: h.SecurityOpt ?? null,
      Tmpfs: h.Tmpfs ?? undefined,
      Runtime: h.Runtime ?? '',
      ...Object.fromEntries(Object.entries(h).filter(([k]) => !['Binds', 'NetworkMode', 'PortBindings', 'RestartPolicy', 'AutoRemove', 'CapAdd', 'CapDrop', 'Dns', 'DnsOptions', 'DnsSearch', 'ExtraHosts', 'Init', 'Privileged', 'ReadonlyRootfs', 'SecurityOpt', 'Tmpfs', 'LogConfig'].includes(k))),
    },
    GraphDriver: {
      Name: 'overlay2',
      Data: { MergedDir: paths.rootfs, UpperDir: paths.upperDir, WorkDir: paths.upperDir.replace(/[^/]+$/, 'work') },
    },
    Mounts: mountsOf(c),
    Config: {
      Hostname: c.config.Hostname || c.id.slice(0, 12),
      Domainname: c.config.Domainname ?? '',
      User: c.config.User ?? '',
      AttachStdin: !!c.config.AttachStdin,
      AttachStdout: !!c.config.AttachStdout,
      AttachStderr: !!c.config.AttachStderr,
      ExposedPorts: c.config.ExposedPorts && Object.keys(c.config.ExposedPorts).length ? c.config.ExposedPorts : undefined,
      Tty: !!c.config.Tty,
      OpenStdin: !!c.config.OpenStdin,
      StdinOnce: !!c.config.StdinOnce,
      Env: c.config.Env ?? [],
      Cmd: c.config.Cmd ?? null,
      Healthcheck: c.config.Healthcheck,
      Image: c.imageRef,
      Volumes: c.config.Volumes && Object.keys(c.config.Volumes).length ? c.config.Volumes : null,
      WorkingDir: c.config.WorkingDir ?? '',
      Entrypoint: c.config.Entrypoint ?? null,
      OnBuild: c.config.OnBuild ?? null,
      Labels: c.config.Labels ?? {},
      StopSignal: c.config.StopSignal,
      StopTimeout: c.config.StopTimeout,
    },
    NetworkSettings: networkSettings(c, view),
  };
}

function splitRepoTags(img: ImageRecord): string[] {
  return img.repoTags;
}

/** GET /images/json item. */
export function imageSummary(img: ImageRecord, containers: number): Record<string, unknown> {
  return {
    Id: img.id,
    ParentId: img.parent,
    RepoTags: splitRepoTags(img),
    RepoDigests: img.repoDigests,
    Created: Math.floor(Date.parse(img.created || img.config.created || '1970-01-01T00:00:00Z') / 1000),
    Size: img.size,
    SharedSize: -1,
    VirtualSize: img.size,
    Labels: img.config.config?.Labels ?? {},
    Containers: containers,
  };
}

/** GET /images/{name}/json. */
export function imageInspect(img: ImageRecord): Record<string, unknown> {
  const cfg = img.config;
  return {
    Id: img.id,
    RepoTags: img.repoTags,
    RepoDigests: img.repoDigests,
    Parent: img.parent,
    Comment: cfg.comment ?? '',
    Created: img.created || cfg.created || '',
    DockerVersion: cfg.docker_version ?? '',
    Author: cfg.author ?? '',
    Config: {
      Hostname: '', Domainname: '', User: '', AttachStdin: false, AttachStdout: false, AttachStderr: false, Tty: false,
      OpenStdin: false, StdinOnce: false, Env: null, Cmd: null, Image: '', Volumes: null, WorkingDir: '', Entrypoint: null,
      OnBuild: null, Labels: null, ...(cfg.config ?? {}),
    },
    Architecture: cfg.architecture,
    Variant: cfg.variant,
    Os: cfg.os,
    Size: img.size,
    VirtualSize: img.size,
    GraphDriver: { Name: 'overlay2', Data: null },
    RootFS: { Type: 'layers', Layers: cfg.rootfs.diff_ids },
    Metadata: { LastTagTime: '0001-01-01T00:00:00Z' },
  };
}

/** Docker's NetworkSettings: the top-level address fields mirror the default bridge endpoint only. */
function networkSettings(c: ContainerRecord, view: ContainerNetworkView): Record<string, unknown> {
  const networks = networksOf(c, view);
  const bridge = networks.bridge ?? {};
  const running = !!view.netns;
  return {
    Bridge: '', SandboxID: running ? c.id : '', SandboxKey: view.netns ?? '',
    Ports: running || view.ports.length ? portMap(view.ports, c.config.ExposedPorts) : {},
    HairpinMode: false, LinkLocalIPv6Address: '', LinkLocalIPv6PrefixLen: 0, SecondaryIPAddresses: null, SecondaryIPv6Addresses: null,
    EndpointID: bridge.EndpointID ?? '', Gateway: bridge.Gateway ?? '', GlobalIPv6Address: '', GlobalIPv6PrefixLen: 0,
    IPAddress: bridge.IPAddress ?? '', IPPrefixLen: bridge.IPPrefixLen ?? 0, IPv6Gateway: '', MacAddress: bridge.MacAddress ?? '',
    Networks: networks,
  };
}
