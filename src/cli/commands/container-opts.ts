// The flags of `run` and `create`, and their translation into the ContainerCreate body exactly as
// the docker CLI builds it (cli/command/container/opts.go).
import { readFileSync } from 'node:fs';
import type { ContainerCreateRequest, HostConfig, PortBinding } from '../../client/types';
import type { FlagSpec, Parsed } from '../flags';
import { UsageError } from '../flags';
import { parseGoDuration, parseRAM } from '../../base/units';

export const CREATE_FLAGS: FlagSpec[] = [
  { long: 'add-host', type: 'list', help: 'Add a custom host-to-IP mapping (host:ip)' },
  { long: 'attach', short: 'a', type: 'list', help: 'Attach to STDIN, STDOUT or STDERR' },
  { long: 'cap-add', type: 'list', help: 'Add Linux capabilities' },
  { long: 'cap-drop', type: 'list', help: 'Drop Linux capabilities' },
  { long: 'cidfile', type: 'string', help: 'Write the container ID to the file' },
  { long: 'cpus', type: 'string', meta: 'decimal', help: 'Number of CPUs' },
  { long: 'cpu-shares', short: 'c', type: 'int', help: 'CPU shares (relative weight)' },
  { long: 'device', type: 'list', help: 'Add a host device to the container' },
  { long: 'dns', type: 'list', help: 'Set custom DNS servers' },
  { long: 'dns-option', type: 'list', help: 'Set DNS options' },
  { long: 'dns-search', type: 'list', help: 'Set custom DNS search domains' },
  { long: 'domainname', type: 'string', help: 'Container NIS domain name' },
  { long: 'entrypoint', type: 'string', help: 'Overwrite the default ENTRYPOINT of the image' },
  { long: 'env', short: 'e', type: 'list', help: 'Set environment variables' },
  { long: 'env-file', type: 'list', help: 'Read in a file of environment variables' },
  { long: 'expose', type: 'list', help: 'Expose a port or a range of ports' },
  { long: 'group-add', type: 'list', help: 'Add additional groups to join' },
  { long: 'health-cmd', type: 'string', help: 'Command to run to check health' },
  { long: 'health-interval', type: 'string', meta: 'duration', help: 'Time between running the check' },
  { long: 'health-on-failure', type: 'string', help: 'Action when the container becomes unhealthy: none, kill, restart, stop (berth; label berth.health-on-failure)' },
  { long: 'health-retries', type: 'int', help: 'Consecutive failures needed to report unhealthy' },
  { long: 'health-start-interval', type: 'string', meta: 'duration', help: 'Time between running the check during the start period' },
  { long: 'health-start-period', type: 'string', meta: 'duration', help: 'Start period for the container to initialize before starting health-retries countdown' },
  { long: 'health-timeout', type: 'string', meta: 'duration', help: 'Maximum time to allow one check to run' },
  { long: 'hostname', short: 'h', type: 'string', help: 'Container host name' },
  { long: 'init', type: 'bool', help: 'Run an init inside the container that forwards signals and reaps processes' },
  { long: 'interactive', short: 'i', type: 'bool', help: 'Keep STDIN open even if not attached' },
  { long: 'ipc', type: 'string', help: 'IPC mode to use' },
  { long: 'label', short: 'l', type: 'list', help: 'Set meta data on a container' },
  { long: 'label-file', type: 'list', help: 'Read in a line delimited file of labels' },
  { long: 'link', type: 'list', help: 'Add link to another container' },
  { long: 'log-driver', type: 'string', help: 'Logging driver for the container' },
  { long: 'log-opt', type: 'list', help: 'Log driver options' },
  { long: 'memory', short: 'm', type: 'string', meta: 'bytes', help: 'Memory limit' },
  { long: 'memory-swap', type: 'string', meta: 'bytes', help: "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
  { long: 'mount', type: 'list', meta: 'mount', help: 'Attach a filesystem mount to the container' },
  { long: 'name', type: 'string', help: 'Assign a name to the container' },
  { long: 'network', type: 'string', meta: 'network', help: 'Connect a container to a network' },
  { long: 'net', type: 'string', hidden: true },
  { long: 'network-alias', type: 'list', help: 'Add network-scoped alias for the container' },
  { long: 'no-healthcheck', type: 'bool', help: 'Disable any container-specified HEALTHCHECK' },
  { long: 'oom-score-adj', type: 'int', help: "Tune host's OOM preferences (-1000 to 1000)" },
  { long: 'pid', type: 'string', help: 'PID namespace to use' },
  { long: 'pids-limit', type: 'int', help: 'Tune container pids limit (set -1 for unlimited)' },
  { long: 'platform', type: 'string', help: 'Set platform if server is multi-platform capable' },
  { long: 'privileged', type: 'bool', help: 'Give extended privileges to this container' },
  { long: 'publish', short: 'p', type: 'list', help: "Publish a container's port(s) to the host" },
  { long: 'publish-all', short: 'P', type: 'bool', help: 'Publish all exposed ports to random ports' },
  { long: 'pull', type: 'string', def: 'missing', help: 'Pull image before creating ("always", "missing", "never")' },
  { long: 'quiet', short: 'q', type: 'bool', help: 'Suppress the pull output' },
  { long: 'read-only', type: 'bool', help: "Mount the container's root filesystem as read only" },
  { long: 'restart', type: 'string', def: 'no', help: 'Restart policy to apply when a container exits' },
  { long: 'rm', type: 'bool', help: 'Automatically remove the container and its associated anonymous volumes when it exits' },
  { long: 'runtime', type: 'string', help: 'Runtime to use for this container' },
  { long: 'security-opt', type: 'list', help: 'Security Options' },
  { long: 'shm-size', type: 'string', meta: 'bytes', help: 'Size of /dev/shm' },
  { long: 'stop-signal', type: 'string', help: 'Signal to stop the container' },
  { long: 'stop-timeout', type: 'int', help: 'Timeout (in seconds) to stop a container' },
  { long: 'sysctl', type: 'list', meta: 'map', help: 'Sysctl options' },
  { long: 'tmpfs', type: 'list', help: 'Mount a tmpfs directory' },
  { long: 'tty', short: 't', type: 'bool', help: 'Allocate a pseudo-TTY' },
  { long: 'ulimit', type: 'list', meta: 'ulimit', help: 'Ulimit options' },
  { long: 'user', short: 'u', type: 'string', help: 'Username or UID (format: <name|uid>[:<group|gid>])' },
  { long: 'userns', type: 'string', help: 'User namespace to use' },
  { long: 'uts', type: 'string', help: 'UTS namespace to use' },
  { long: 'volume', short: 'v', type: 'list', help: 'Bind mount a volume' },
  { long: 'volumes-from', type: 'list', help: 'Mount volumes from the specified container(s)' },
  { long: 'workdir', short: 'w', type: 'string', help: 'Working directory inside the container' },
];

export const RUN_ONLY_FLAGS: FlagSpec[] = [
  { long: 'detach', short: 'd', type: 'bool', help: 'Run container in background and print container ID' },
  { long: 'detach-keys', type: 'string', help: 'Override the key sequence for detaching a container' },
  { long: 'sig-proxy', type: 'bool', def: true, help: 'Proxy received signals to the process' },
];

/** Reads KEY=VALUE lines like docker's env files: comments and blank lines skipped; a bare KEY takes the local value. */
export function readKVFile(path: string, fromEnv: boolean): string[] {
  let text: string;
  try { text = readFileSync(path, 'utf8'); } catch (e) { throw new UsageError(`open ${path}: no such file or directory`, 125); void e; }
  const out: string[] = [];
  text.split(/\r?\n/).forEach((raw, n) => {
    const line = raw.replace(/^\s+/, '');
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const key = eq >= 0 ? line.slice(0, eq) : line;
    if (/\s/.test(key)) throw new UsageError(`variable '${key.trim()}' contains whitespaces`, 125);
    if (!key) throw new UsageError(`no variable name on line '${line}'`, 125);
    void n;
    if (eq >= 0) out.push(line);
    else if (fromEnv) { if (process.env[key] !== undefined) out.push(`${key}=${process.env[key]}`); }
    else out.push(line);
  });
  return out;
}

/** -e KEY (no "=") takes KEY from the local environment, as docker's ValidateEnv. */
function envValue(e: string): string {
  if (e.includes('=')) return e;
  const v = process.env[e];
  return v === undefined ? e : `${e}=${v}`;
}

/** nat.ParsePortSpec: "[ip:][hostPort:]containerPort[/proto]" with ranges. */
export function parsePortSpec(spec: string): { port: string; binding: PortBinding }[] {
  let rest = spec;
  let proto = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash >= 0) { proto = rest.slice(slash + 1).toLowerCase(); rest = rest.slice(0, slash); }
  let ip = '', hostPort = '', containerPort: string;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (v6) { ip = v6[1]; const parts = v6[2].split(':'); hostPort = parts[0]; containerPort = parts[1] ?? ''; }
  else {
    const parts = rest.split(':');
    if (parts.length === 1) containerPort = parts[0];
    else if (parts.length === 2) { hostPort = parts[0]; containerPort = parts[1]; }
    else { containerPort = parts.pop()!; hostPort = parts.pop()!; ip = parts.join(':'); }
  }
  if (!containerPort) throw new UsageError(`No port specified: ${spec}<empty>`, 125);
  if (!['tcp', 'udp', 'sctp'].includes(proto)) throw new UsageError(`invalid proto: ${proto}`, 125);
  const range = (s: string): [number, number] => {
    const m = /^(\d+)(?:-(\d+))?$/.exec(s);
    if (!m) throw new UsageError(`invalid containerPort: ${s}`, 125);
    return [Number(m[1]), Number(m[2] ?? m[1])];
  };
  const [cs, ce] = range(containerPort);
  const [hs, he] = hostPort ? range(hostPort) : [0, 0];
  if (hostPort && he - hs !== ce - cs && he !== hs) throw new UsageError(`invalid ranges specified for container and host Ports: ${containerPort} and ${hostPort}`, 125);
  const out: { port: string; binding: PortBinding }[] = [];
  for (let p = cs; p <= ce; p++) {
    let hp = '';
    if (hostPort) hp = he === hs ? String(hs) : ce === cs ? `${hs}-${he}` : String(hs + (p - cs));
    out.push({ port: `${p}/${proto}`, binding: { HostIp: ip, HostPort: hp } });
  }
  return out;
}

function parseMountFlag(spec: string): NonNullable<HostConfig['Mounts']>[number] {
  const m: Record<string, string> = {};
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    m[(eq >= 0 ? part.slice(0, eq) : part).toLowerCase()] = eq >= 0 ? part.slice(eq + 1) : 'true';
  }
  const type = (m.type ?? 'volume') as 'bind' | 'volume' | 'tmpfs';
  const target = m.target ?? m.destination ?? m.dst;
  if (!target) throw new UsageError('target is required', 125);
  const ro = m.readonly ?? m.ro;
  const mount: NonNullable<HostConfig['Mounts']>[number] = { Type: type, Source: m.source ?? m.src, Target: target };
  if (ro !== undefined) mount.ReadOnly = ro === 'true' || ro === '1';
  if (type === 'bind' && m['bind-propagation']) mount.BindOptions = { Propagation: m['bind-propagation'] };
  if (type === 'tmpfs' && (m['tmpfs-size'] || m['tmpfs-mode'])) mount.TmpfsOptions = { SizeBytes: m['tmpfs-size'] ? parseRAM(m['tmpfs-size']) : undefined, Mode: m['tmpfs-mode'] ? parseInt(m['tmpfs-mode'], 8) : undefined };
  return mount;
}

/** Builds the ContainerCreate body from parsed run/create flags; args = [IMAGE, COMMAND...]. */
export function buildCreateRequest(p: Parsed, detach: boolean): { body: ContainerCreateRequest; name: string; platform: string } {
  const o = p.opts as Record<string, never>;
  const s = (k: string) => p.opts[k] as string;
  const l = (k: string) => p.opts[k] as string[];
  const b = (k: string) => p.opts[k] as boolean;
  void o;
  const [image, ...cmd] = p.args;

  const attach = l('attach').map((x) => x.toLowerCase());
  for (const a of attach) if (!['stdin', 'stdout', 'stderr'].includes(a)) throw new UsageError(`invalid argument "${a}" for "-a, --attach" flag: valid streams are STDIN, STDOUT and STDERR`, 125);
  if (detach && attach.length) throw new UsageError('Conflicting options: -a and -d', 125);
  let attachStdin = attach.includes('stdin'), attachStdout = attach.includes('stdout'), attachStderr = attach.includes('stderr');
  if (!attach.length && !detach) { attachStdout = true; attachStderr = true; if (b('interactive')) attachStdin = true; }

  const env: string[] = [];
  for (const f of l('env-file')) env.push(...readKVFile(f, true));
  for (const e of l('env')) env.push(envValue(e));
  const labels: Record<string, string> = {};
  for (const f of l('label-file')) for (const kv of readKVFile(f, false)) { const i = kv.indexOf('='); labels[i >= 0 ? kv.slice(0, i) : kv] = i >= 0 ? kv.slice(i + 1) : ''; }
  if (s('health-on-failure')) {
    if (!['none', 'kill', 'restart', 'stop'].includes(s('health-on-failure'))) throw new UsageError(`invalid argument "${s('health-on-failure')}" for "--health-on-failure" flag: use none, kill, restart or stop`, 125);
    labels['berth.health-on-failure'] = s('health-on-failure');
  }
  for (const kv of l('label')) { const i = kv.indexOf('='); labels[i >= 0 ? kv.slice(0, i) : kv] = i >= 0 ? kv.slice(i + 1) : ''; }

  const exposed: Record<string, object> = {};
  const portBindings: Record<string, PortBinding[]> = {};
  for (const spec of l('publish')) {
    for (const { port, binding } of parsePortSpec(spec)) {
      exposed[port] = {};
      (portBindings[port] ??= []).push(binding);
    }
  }
  for (const e of l('expose')) {
    const [range, proto = 'tcp'] = e.split('/');
    const [a, z = a] = range.split('-').map(Number);
    if (Number.isNaN(a) || Number.isNaN(z)) throw new UsageError(`invalid range format for --expose: ${e}`, 125);
    for (let port = a; port <= z; port++) exposed[`${port}/${proto}`] = {};
  }

  const binds: string[] = [];
  const volumes: Record<string, object> = {};
  for (const v of l('volume')) {
    // "src:dst[:mode]" is a bind or named volume; a lone "/dst" is an anonymous volume.
    const parts = v.split(':');
    if (parts.length === 1) volumes[parts[0]] = {};
    else binds.push(v);
  }

  const tmpfs: Record<string, string> = {};
  for (const t of l('tmpfs')) { const i = t.indexOf(':'); tmpfs[i >= 0 ? t.slice(0, i) : t] = i >= 0 ? t.slice(i + 1) : ''; }

  const restart = s('restart');
  let restartPolicy: HostConfig['RestartPolicy'] = { Name: 'no', MaximumRetryCount: 0 };
  if (restart && restart !== 'no') {
    const [name, count] = restart.split(':');
    if (!['always', 'unless-stopped', 'on-failure'].includes(name)) throw new UsageError(`invalid restart policy '${name}'`, 125);
    if (count !== undefined && name !== 'on-failure') throw new UsageError(`invalid restart policy format: maximum retry count can only be used with 'on-failure'`, 125);
    restartPolicy = { Name: name as 'always', MaximumRetryCount: count ? Number(count) : 0 };
  }
  if (b('rm') && restart && restart !== 'no') throw new UsageError('Conflicting options: --restart and --rm', 125);

  const logOpts: Record<string, string> = {};
  for (const kv of l('log-opt')) { const i = kv.indexOf('='); if (i < 0) throw new UsageError(`invalid key value pair format in log-opt: ${kv}`, 125); logOpts[kv.slice(0, i)] = kv.slice(i + 1); }

  let entrypoint: string[] | undefined;
  if (s('entrypoint')) entrypoint = [s('entrypoint')];
  else if (p.changed.has('entrypoint')) entrypoint = [''];

  const network = s('network') || s('net') || 'default';
  const endpoints: Record<string, { Aliases?: string[] }> = {};
  if (network !== 'default' && !/^(host|none|container:.*)$/.test(network)) {
    endpoints[network] = l('network-alias').length ? { Aliases: l('network-alias') } : {};
  }

  const hostConfig: HostConfig = {
    Binds: binds.length ? binds : null,
    ContainerIDFile: s('cidfile'),
    LogConfig: { Type: s('log-driver'), Config: logOpts },
    NetworkMode: network,
    PortBindings: portBindings,
    RestartPolicy: restartPolicy,
    AutoRemove: b('rm'),
    VolumeDriver: '',
    VolumesFrom: l('volumes-from').length ? l('volumes-from') : null,
    CapAdd: l('cap-add').length ? l('cap-add') : null,
    CapDrop: l('cap-drop').length ? l('cap-drop') : null,
    Dns: l('dns'), DnsOptions: l('dns-option'), DnsSearch: l('dns-search'),
    ExtraHosts: l('add-host').length ? l('add-host') : null,
    GroupAdd: l('group-add').length ? l('group-add') : null,
    IpcMode: s('ipc'), PidMode: s('pid'), UTSMode: s('uts'), UsernsMode: s('userns'),
    Links: l('link').length ? l('link') : null,
    OomScoreAdj: p.opts['oom-score-adj'] as number,
    Privileged: b('privileged'),
    PublishAllPorts: b('publish-all'),
    ReadonlyRootfs: b('read-only'),
    SecurityOpt: l('security-opt').length ? l('security-opt') : null,
    Runtime: s('runtime') || undefined,
    Init: p.changed.has('init') ? b('init') : null,
  };
  if (Object.keys(tmpfs).length) hostConfig.Tmpfs = tmpfs;
  if (l('mount').length) hostConfig.Mounts = l('mount').map(parseMountFlag);
  if (s('memory')) hostConfig.Memory = parseRAM(s('memory'));
  if (s('memory-swap')) hostConfig.MemorySwap = s('memory-swap') === '-1' ? -1 : parseRAM(s('memory-swap'));
  if (s('cpus')) hostConfig.NanoCpus = Math.round(Number(s('cpus')) * 1e9);
  if (p.changed.has('cpu-shares')) hostConfig.CpuShares = p.opts['cpu-shares'] as number;
  if (s('shm-size')) hostConfig.ShmSize = parseRAM(s('shm-size'));
  if (p.changed.has('pids-limit')) hostConfig.PidsLimit = p.opts['pids-limit'] as number;
  if (l('sysctl').length) hostConfig.Sysctls = Object.fromEntries(l('sysctl').map((kv) => { const i = kv.indexOf('='); return [kv.slice(0, i), kv.slice(i + 1)]; }));
  if (l('ulimit').length) {
    hostConfig.Ulimits = l('ulimit').map((u) => {
      const [name, limits] = u.split('=');
      const [soft, hard = soft] = (limits ?? '').split(':');
      if (!name || soft === '' || Number.isNaN(Number(soft))) throw new UsageError(`invalid ulimit argument: ${u}`, 125);
      return { Name: name, Soft: Number(soft), Hard: Number(hard) };
    });
  }
  if (l('device').length) {
    hostConfig.Devices = l('device').map((d) => {
      const [host, cont = host, perms = 'rwm'] = d.split(':');
      return { PathOnHost: host, PathInContainer: cont, CgroupPermissions: perms };
    });
  }

  const body: ContainerCreateRequest = {
    Hostname: s('hostname'),
    Domainname: s('domainname'),
    User: s('user'),
    AttachStdin: attachStdin,
    AttachStdout: attachStdout,
    AttachStderr: attachStderr,
    ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
    Tty: b('tty'),
    OpenStdin: b('interactive'),
    StdinOnce: false,
    Env: env,
    Cmd: cmd.length ? cmd : null,
    Image: image,
    Volumes: Object.keys(volumes).length ? volumes : null,
    WorkingDir: s('workdir'),
    Entrypoint: entrypoint ?? null,
    Labels: labels,
    StopSignal: s('stop-signal') || undefined,
    StopTimeout: p.changed.has('stop-timeout') ? (p.opts['stop-timeout'] as number) : undefined,
    HostConfig: hostConfig,
    NetworkingConfig: { EndpointsConfig: endpoints },
  };
  // run: a container with stdin attached closes it on the first detach (docker's StdinOnce).
  if (body.OpenStdin && body.AttachStdin) body.StdinOnce = true;
  if (b('no-healthcheck')) body.Healthcheck = { Test: ['NONE'] };
  else if (s('health-cmd') || s('health-interval') || s('health-timeout') || s('health-start-period') || s('health-start-interval') || p.changed.has('health-retries')) {
    body.Healthcheck = {
      Test: s('health-cmd') ? ['CMD-SHELL', s('health-cmd')] : undefined,
      Interval: s('health-interval') ? parseGoDuration(s('health-interval')) * 1e6 : undefined,
      Timeout: s('health-timeout') ? parseGoDuration(s('health-timeout')) * 1e6 : undefined,
      StartPeriod: s('health-start-period') ? parseGoDuration(s('health-start-period')) * 1e6 : undefined,
      StartInterval: s('health-start-interval') ? parseGoDuration(s('health-start-interval')) * 1e6 : undefined,
      Retries: p.changed.has('health-retries') ? (p.opts['health-retries'] as number) : undefined,
    };
  }
  return { body, name: s('name'), platform: s('platform') };
}
