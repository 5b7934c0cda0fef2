import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { FakeEngine, Recorded, startFakeEngine } from './fake-engine';

// `berth network ...` and `docker network ...` against the same canned engine (a Docker API stand-in
// serving dockerd-shaped network objects): both CLIs must send the same requests and print the same
// output, errors and exit status. This checks the CLI side without depending on berthd's network
// routes; berth-cli-volume-network.test.ts drives the real daemon.

const ID = (c: string) => c.repeat(64);
const net = (over: Record<string, unknown>) => ({
  Name: 'x', Id: ID('0'), Created: '2026-01-02T03:04:05.123456789Z', Scope: 'local', Driver: 'bridge', EnableIPv4: true, EnableIPv6: false,
  IPAM: { Driver: 'default', Options: null, Config: [{ Subnet: '172.17.0.0/16', Gateway: '172.17.0.1' }] },
  Internal: false, Attachable: false, Ingress: false, ConfigFrom: { Network: '' }, ConfigOnly: false, Containers: {}, Options: {}, Labels: {},
  ...over,
});
const NETWORKS = [
  net({ Name: 'bridge', Id: ID('a'), Options: { 'com.docker.network.bridge.default_bridge': 'true', 'com.docker.network.bridge.name': 'docker0' } }),
  net({ Name: 'host', Id: ID('b'), Driver: 'host', IPAM: { Driver: 'default', Options: null, Config: null } }),
  net({ Name: 'none', Id: ID('c'), Driver: 'null', IPAM: { Driver: 'default', Options: null, Config: null } }),
  net({
    Name: 'app10', Id: ID('d'), Created: '2026-03-04T05:06:07.5+02:00', Internal: true, EnableIPv6: true, Labels: { 'a.b': '<x&y>' },
    IPAM: { Driver: 'default', Options: {}, Config: [{ Subnet: '10.10.0.0/16', IPRange: '10.10.1.0/24', Gateway: '10.10.0.1', AuxiliaryAddresses: { r: '10.10.0.2' } }] },
    Containers: { [ID('e')]: { Name: 'web', EndpointID: ID('f'), MacAddress: '02:42:0a:0a:01:02', IPv4Address: '10.10.1.2/16', IPv6Address: '' } },
  }),
  net({ Name: 'app9', Id: ID('1'), Created: '2026-03-04T05:06:07Z', Labels: null, Options: null }),
];

function find(ref: string) {
  return NETWORKS.find((n) => n.Name === ref || n.Id === ref) ?? (ref.length >= 1 ? NETWORKS.filter((n) => (n.Id as string).startsWith(ref)).at(0) : undefined);
}
const notFound = (ref: string) => ({ status: 404, body: { message: `network ${ref} not found` } });

const routes = [
  (r: Recorded) => {
    if (r.method !== 'GET' || r.path !== '/networks') return undefined;
    const f = JSON.parse(r.query.get('filters') ?? '{}') as Record<string, Record<string, boolean>>;
    return { status: 200, body: NETWORKS.filter((n) => !f.driver || f.driver[n.Driver as string]) };
  },
  (r: Recorded) => {
    const m = /^\/networks\/([^/]+)$/.exec(r.path);
    if (!m || m[1] === 'create' || m[1] === 'prune') return undefined;
    const ref = decodeURIComponent(m[1]);
    const n = find(ref);
    if (r.method === 'GET') return n ? { status: 200, body: r.query.get('verbose') ? { ...n, Services: {} } : n } : notFound(ref);
    if (r.method === 'DELETE') {
      if (!n) return notFound(ref);
      if (['bridge', 'host', 'none'].includes(n.Name as string)) return { status: 403, body: { message: `${n.Name} is a pre-defined network and cannot be removed` } };
      return { status: 204 };
    }
    return undefined;
  },
  (r: Recorded) => {
    if (r.path !== '/networks/create') return undefined;
    const name = (r.body as { Name: string }).Name;
    if (find(name)) return { status: 409, body: { message: `network with name ${name} already exists` } };
    return { status: 201, body: { Id: ID('9'), Warning: '' } };
  },
  (r: Recorded) => (r.path === '/networks/prune' ? { status: 200, body: { NetworksDeleted: ['app10', 'app9'] } } : undefined),
  (r: Recorded) => {
    const m = /^\/networks\/([^/]+)\/(connect|disconnect)$/.exec(r.path);
    if (!m) return undefined;
    if (!find(decodeURIComponent(m[1]))) return notFound(decodeURIComponent(m[1]));
    const c = (r.body as { Container: string }).Container;
    return c === 'nosuch' ? { status: 404, body: { message: `No such container: ${c}` } } : { status: 200 };
  },
];

describe('berth network against a canned engine, request by request like docker', () => {
  let f: FakeEngine;
  before(async () => { f = await startFakeEngine(routes); });
  after(async () => { await f?.close(); });

  // Filters compare as JSON values (Go marshals the map sorted, which the engine does not care about).
  // The docker CLI collects IPAM configs in a Go map (consolidateIpam): their order is random, berth's
  // is the flags'; they compare sorted by subnet.
  const ipamSorted = (body: unknown) => {
    const ipam = (body as { IPAM?: { Config?: Array<{ Subnet?: string }> } } | undefined)?.IPAM;
    if (!ipam?.Config) return body;
    const Config = [...ipam.Config].sort((a, b) => String(a.Subnet).localeCompare(String(b.Subnet)));
    return { ...(body as object), IPAM: { ...ipam, Config } };
  };
  const reqs = (rs: Recorded[]) => rs.map((r) => ({
    method: r.method, path: r.path, body: r.path === '/networks/create' ? ipamSorted(r.body) : r.body,
    query: Object.fromEntries([...r.query].map(([k, v]) => [k, k === 'filters' ? JSON.parse(v) : v])),
  }));
  /** Runs both CLIs; asserts the same requests, status, stdout and stderr (the program name aside, also in help on stdout). */
  const same = async (args: string[], input?: string) => {
    const k = await f.capture('docker', args, input), b = await f.capture('berth', args, input);
    const what = `berth ${args.join(' ')}`;
    assert.deepEqual(reqs(b.requests), reqs(k.requests), `${what}: requests`);
    assert.equal(b.status, k.status, `${what}: status (${b.stderr})`);
    assert.equal(b.stdout, args.includes('--help') ? k.stdout.replace(/\bdocker\b(?!\.com)/g, 'berth') : k.stdout, `${what}: stdout`);
    assert.equal(b.stderr, k.stderr.replace(/\bdocker\b/g, 'berth'), `${what}: stderr`);
    return b;
  };

  test('network ls: table, natural name order, -q, --no-trunc, --format, json, filters', async () => {
    const out = await same(['network', 'ls']);
    assert.match(out.stdout, /^NETWORK ID {5}NAME {6}DRIVER {4}SCOPE\n/);
    assert.deepEqual(out.stdout.split('\n').slice(1, -1).map((l) => l.split(/\s+/)[1]), ['app9', 'app10', 'bridge', 'host', 'none']);
    await same(['network', 'ls', '-q']);
    await same(['network', 'ls', '--no-trunc']);
    await same(['network', 'ls', '-q', '--no-trunc']);
    await same(['network', 'ls', '--format', 'json']);
    await same(['network', 'ls', '--format', '{{.Name}} {{.ID}} {{.IPv4}} {{.IPv6}} {{.Internal}} {{.Labels}} {{.Label "a.b"}} {{.CreatedAt}}']);
    await same(['network', 'ls', '--format', 'table {{.Name}}\t{{.CreatedAt}}\t{{.Internal}}']);
    await same(['network', 'ls', '--format', 'raw']);
    await same(['network', 'ls', '-f', 'driver=bridge', '-f', 'driver=host']);
    await same(['network', 'list', '--filter', 'Driver = null ']);
    await same(['network', 'ls', '-f', 'driver']);
    await same(['network', 'ls', '--format', '{{.Nope}}']);
    await same(['network', 'ls', '--format', '{{.Name']);
    await same(['network', 'ls', 'extra']);
  });

  test('network inspect: the engine\'s JSON re-indented, --format json, templates on the typed value and the raw map', async () => {
    await same(['network', 'inspect', 'bridge']);
    await same(['network', 'inspect', 'app10', 'host', '--format', 'json']);
    await same(['network', 'inspect', '-v', 'app10']);
    await same(['network', 'inspect', '-f', '{{.Name}} {{.ID}} {{.Created}} {{.IPAM.Config}} {{.Labels}} {{.Options}} {{.Containers}}', 'app10', 'app9', 'bridge']);
    await same(['network', 'inspect', '-f', '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}} {{.AuxAddress}}{{end}} {{json .IPAM}}', 'app10']);
    // .Id is not a field of the Go type: docker falls back to the raw JSON map.
    await same(['network', 'inspect', '-f', '{{.Id}} {{.EnableIPv4}}', 'app10']);
    await same(['network', 'inspect', '-f', '{{.Nope}}', 'app10']);
    await same(['network', 'inspect', '-f', '{{.Name', 'app10']);
    await same(['network', 'inspect', 'nope', 'host', 'nope2']);
    await same(['network', 'inspect', '-f', '{{.Name}}', 'nope']);
    await same(['network', 'inspect']);
  });

  test('network create: IPAM from --subnet/--gateway/--ip-range/--aux-address, options, labels, errors', async () => {
    await same(['network', 'create', 'n1']);
    await same(['network', 'create', '-d', 'macvlan', '--subnet', '10.1.0.0/16', '--gateway', '10.1.0.1', '--ip-range', '10.1.1.0/24',
      '--aux-address', 'host1=10.1.0.5', '--internal', '--attachable', '--label', 'a=b', '--label', 'c', '-o', 'com.x=y', '--ipv6',
      '--ipam-opt', 'q=r', '--scope', 'local', 'n2']);
    await same(['network', 'create', '--ipv4=false', '--config-only', '--config-from', 'other', '--ipam-driver', 'x', 'n3']);
    await same(['network', 'create', '--subnet', '10.2.0.0/16,fd00::/64', '--gateway', 'fd00::1', 'n4']);
    await same(['network', 'create', 'bridge']);
    await same(['network', 'create', '--gateway', '10.0.0.1', 'e1']);
    await same(['network', 'create', '--subnet', '10.0.0.0/8', '--subnet', '10.1.0.0/16', 'e2']);
    await same(['network', 'create', '--subnet', '10.0.0.0/8', '--gateway', '192.168.0.1', 'e3']);
    await same(['network', 'create', '--subnet', '10.0.0.0/8', '--ip-range', '11.0.0.0/24', 'e4']);
    await same(['network', 'create', '--subnet', '10.0.0.0/33', 'e5']);
    await same(['network', 'create', '--subnet', '10.0.0.0/8', '--ip-range', 'bogus', 'e6']);
    await same(['network', 'create', '--subnet', '10.0.0.0/8', '--aux-address', 'a=11.0.0.1', 'e7']);
    await same(['network', 'create', '--label', '=x', 'e8']);
    await same(['network', 'create']);
    await same(['network', 'create', 'a', 'b']);
  });

  test('network rm / remove, -f, and errors with "exit status 1"', async () => {
    await same(['network', 'rm', 'app10']);
    await same(['network', 'remove', 'app10', 'app9']);
    await same(['network', 'rm', 'nope', 'app10', 'bridge']);
    await same(['network', 'rm', '-f', 'nope', 'app10']);
    await same(['network', 'rm']);
  });

  test('network prune: prompt, -f, filters', async () => {
    await same(['network', 'prune'], 'n\n');
    await same(['network', 'prune'], 'y\n');
    await same(['network', 'prune'], '');
    await same(['network', 'prune', '-f', '--filter', 'until=24h', '--filter', 'label=a']);
    await same(['network', 'prune', '--filter', 'bad']);
    await same(['network', 'prune', 'extra']);
  });

  test('network connect / disconnect: endpoint config from the flags', async () => {
    await same(['network', 'connect', 'app10', 'web']);
    await same(['network', 'connect', '--alias', 'a,b', '--alias', 'c', '--ip', '10.0.0.2', '--ip6', 'fd00::2', '--link', 'x:y',
      '--link-local-ip', '169.254.0.5', '--driver-opt', 'k=v', '--gw-priority', '5', 'app10', 'web']);
    await same(['network', 'connect', '--driver-opt', 'novalue', 'app10', 'web']);
    await same(['network', 'connect', '--link', 'a:b:c', 'app10', 'web']);
    await same(['network', 'connect', 'nope', 'web']);
    await same(['network', 'connect', 'app10', 'nosuch']);
    await same(['network', 'connect', 'app10']);
    await same(['network', 'disconnect', 'app10', 'web']);
    await same(['network', 'disconnect', '-f', 'app10', 'web']);
    await same(['network', 'disconnect', 'nope', 'web']);
  });

  test('network help and group usage', async () => {
    await same(['network', '--help']);
    await same(['network']);
    await same(['network', 'bogus']);
    for (const sub of ['create', 'ls', 'inspect', 'rm', 'prune', 'connect', 'disconnect']) await same(['network', sub, '--help']);
  });
});
