import { invalidArgument } from '../base/errors';

/**
 * Type checks for JSON request bodies, done where Go's json.Unmarshal would fail in dockerd: a
 * field of the wrong type is a 400 ("json: cannot unmarshal ..."), never a 500 from deep inside
 * the engine, and never silently accepted. Docker's StrSlice fields (Cmd, Entrypoint) take a
 * single string too; these functions normalize it to a one-element list in place.
 */

type Kind = 'string' | 'bool' | 'number' | 'strings' | 'strslice' | 'stringMap' | 'object' | 'uintPair';

const CONFIG_FIELDS: Record<string, Kind> = {
  Hostname: 'string', Domainname: 'string', User: 'string', WorkingDir: 'string', Image: 'string', StopSignal: 'string',
  MacAddress: 'string', Shell: 'strings', OnBuild: 'strings',
  AttachStdin: 'bool', AttachStdout: 'bool', AttachStderr: 'bool', Tty: 'bool', OpenStdin: 'bool', StdinOnce: 'bool',
  NetworkDisabled: 'bool', ArgsEscaped: 'bool', StopTimeout: 'number',
  Env: 'strings', Cmd: 'strslice', Entrypoint: 'strslice', Labels: 'stringMap', ExposedPorts: 'object', Volumes: 'object',
  Healthcheck: 'object', HostConfig: 'object', NetworkingConfig: 'object',
};

const HOST_CONFIG_FIELDS: Record<string, Kind> = {
  Binds: 'strings', CapAdd: 'strings', CapDrop: 'strings', Dns: 'strings', DnsSearch: 'strings', DnsOptions: 'strings',
  ExtraHosts: 'strings', SecurityOpt: 'strings', GroupAdd: 'strings', VolumesFrom: 'strings', Links: 'strings',
  NetworkMode: 'string', IpcMode: 'string', PidMode: 'string', UTSMode: 'string', UsernsMode: 'string', CgroupParent: 'string',
  Runtime: 'string', Cgroup: 'string',
  Privileged: 'bool', ReadonlyRootfs: 'bool', AutoRemove: 'bool', Init: 'bool', PublishAllPorts: 'bool', OomKillDisable: 'bool',
  Tmpfs: 'stringMap', StorageOpt: 'stringMap', Sysctls: 'stringMap',
  RestartPolicy: 'object', LogConfig: 'object', PortBindings: 'object',
  Memory: 'number', MemorySwap: 'number', CpuShares: 'number', NanoCpus: 'number', PidsLimit: 'number', ShmSize: 'number',
};

const EXEC_FIELDS: Record<string, Kind> = {
  User: 'string', WorkingDir: 'string', DetachKeys: 'string',
  Privileged: 'bool', Tty: 'bool', AttachStdin: 'bool', AttachStdout: 'bool', AttachStderr: 'bool', Detach: 'bool',
  // ConsoleSize is Go's *[2]uint ([rows, cols]): the docker CLI sends it on every exec -it.
  Env: 'strings', Cmd: 'strslice', ConsoleSize: 'uintPair',
};

function goType(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v;
}

function matches(kind: Kind, v: unknown): boolean {
  switch (kind) {
    case 'string': return typeof v === 'string';
    case 'bool': return typeof v === 'boolean';
    case 'number': return typeof v === 'number' && Number.isFinite(v);
    case 'strings': return Array.isArray(v) && v.every((x) => typeof x === 'string');
    case 'strslice': return typeof v === 'string' || (Array.isArray(v) && v.every((x) => typeof x === 'string'));
    case 'stringMap': return isPlainObject(v) && Object.values(v).every((x) => typeof x === 'string');
    case 'object': return isPlainObject(v);
    case 'uintPair': return Array.isArray(v) && v.length === 2 && v.every((x) => Number.isInteger(x) && x >= 0);
  }
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const GO_TYPE: Record<Kind, string> = {
  string: 'string', bool: 'bool', number: 'int64', strings: '[]string', strslice: 'strslice.StrSlice',
  stringMap: 'map[string]string', object: 'struct', uintPair: '[2]uint',
};

function checkFields(body: Record<string, unknown>, fields: Record<string, Kind>, struct: string): void {
  for (const [name, kind] of Object.entries(fields)) {
    const v = body[name];
    if (v === undefined || v === null) continue;
    if (!matches(kind, v)) {
      throw invalidArgument(`json: cannot unmarshal ${goType(v)} into Go struct field ${struct}.${name} of type ${GO_TYPE[kind]}`);
    }
    if (kind === 'strslice' && typeof v === 'string') body[name] = [v];
  }
}

/** POST /containers/create (and the config of POST /commit): Config fields plus HostConfig. */
export function checkContainerConfig(body: unknown): void {
  if (!isPlainObject(body)) throw invalidArgument(`json: cannot unmarshal ${goType(body)} into Go value of type container.CreateRequest`);
  checkFields(body, CONFIG_FIELDS, 'Config');
  if (isPlainObject(body.HostConfig)) checkFields(body.HostConfig, HOST_CONFIG_FIELDS, 'HostConfig');
}

/** POST /containers/{id}/exec. */
export function checkExecConfig(body: unknown): void {
  if (!isPlainObject(body)) throw invalidArgument(`json: cannot unmarshal ${goType(body)} into Go value of type container.ExecOptions`);
  checkFields(body, EXEC_FIELDS, 'ExecOptions');
}
