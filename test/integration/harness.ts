import { ChildProcess, spawn, spawnSync, SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, readdirSync, rmdirSync } from 'node:fs';
import { request } from 'node:http';
import { createHash } from 'node:crypto';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
export const BERTHD = join(ROOT, 'bin', 'berthd');
export const BERTH = join(ROOT, 'bin', 'berth');
const BUSYBOX_TAR = '/tmp/berth-test-busybox.tar';

export interface Daemon {
  sock: string;
  host: string;
  dataRoot: string;
  execRoot: string;
  /** The daemon's default bridge interface and the /16 its networks are carved from. */
  bridge: string;
  pool: string;
  proc: ChildProcess;
  env: NodeJS.ProcessEnv;
  /** Runs the real docker CLI against this daemon. */
  docker(args: string[], opts?: { input?: string | Buffer; timeout?: number }): SpawnSyncReturns<string>;
  /** Runs our berth CLI against this daemon. */
  berth(args: string[], opts?: { input?: string | Buffer; timeout?: number }): SpawnSyncReturns<string>;
  /** A raw API call over the socket. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; body: string; headers: Record<string, string | string[] | undefined> }>;
  /** Kills berthd (SIGKILL by default) without cleaning anything: containers must survive. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts berthd again on the same roots. */
  restart(): Promise<void>;
  /** Removes every container, stops berthd, unmounts and deletes the roots, checks for leaks. */
  stop(): Promise<void>;
}

function spawnDaemon(dataRoot: string, execRoot: string, sock: string, extraArgs: string[] = []): ChildProcess {
  const proc = spawn(process.execPath, [BERTHD, '-H', `unix://${sock}`, '--data-root', dataRoot, '--exec-root', execRoot, '--log-level', process.env.BERTH_TEST_LOG ?? 'warn', ...extraArgs], {
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  return proc;
}

async function waitForSocket(sock: string, proc: ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (proc.exitCode !== null) throw new Error(`berthd exited with ${proc.exitCode}`);
    if (existsSync(sock)) {
      const ok = await new Promise<boolean>((resolve) => {
        const r = request({ socketPath: sock, path: '/_ping', method: 'GET', agent: false }, (res) => { res.resume(); resolve(res.statusCode === 200); });
        r.on('error', () => resolve(false));
        r.end();
      });
      if (ok) return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('berthd did not come up');
}

/** A busybox rootfs tar from the host's busybox-static, made once per machine. */
export function busyboxTar(): string {
  if (!existsSync(BUSYBOX_TAR)) {
    const r = spawnSync('bash', [join(ROOT, 'scripts', 'busybox-rootfs.sh'), BUSYBOX_TAR], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`busybox-rootfs.sh: ${r.stderr}`);
  }
  return BUSYBOX_TAR;
}

/** Starts a private berthd on temp roots, with busybox:latest imported. */
/** `args` are extra berthd flags, kept across restart(). */
export async function startDaemon(opts: { withBusybox?: boolean; args?: string[] } = {}): Promise<Daemon> {
  const dataRoot = mkdtempSync('/tmp/berth-test-data-');
  // The exec root holds unix sockets: keep its path short (sun_path is 108 bytes).
  const execRoot = mkdtempSync('/run/bt-');
  const sock = join(execRoot, 'berth.sock');
  const host = `unix://${sock}`;
  const env = { ...process.env, DOCKER_HOST: host, BERTH_HOST: host, DOCKER_CONFIG: join(execRoot, 'docker-config') };
  // Each daemon gets its own default bridge and address pool: test daemons never share a subnet
  // with each other or with a berthd already running on the host.
  const netArgs = testNetworkArgs(execRoot);
  const args = [...netArgs.args, ...(opts.args ?? [])];
  let proc = spawnDaemon(dataRoot, execRoot, sock, args);
  await waitForSocket(sock, proc);

  const run = (file: string, args: string[], o: { input?: string | Buffer; timeout?: number } = {}) =>
    spawnSync(file, args, { env, input: o.input, encoding: 'utf8', timeout: o.timeout ?? 60_000 });

  const d: Daemon = {
    sock, host, dataRoot, execRoot, env, bridge: netArgs.bridge, pool: netArgs.pool,
    get proc() { return proc; },
    docker: (args, o) => run('docker', args, o),
    berth: (args, o) => run(BERTH, args, o),
    api: (method, path, body) => new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      // A connection of its own (agent: false): node 20's global agent keeps sockets alive, and one
      // berthd closed (keep-alive timeout) while the test blocked in spawnSync is still in the pool,
      // unnoticed: the next call wrote into it and failed with EPIPE (seen under a slow emulated VM).
      const r = request({ socketPath: sock, path, method, agent: false, headers: payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {} }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString(), headers: res.headers }));
      });
      r.on('error', reject);
      r.end(payload);
    }),
    kill: async (signal = 'SIGKILL') => {
      const exited = new Promise((r) => proc.once('exit', r));
      proc.kill(signal);
      await exited;
    },
    restart: async () => {
      proc = spawnDaemon(dataRoot, execRoot, sock, args);
      await waitForSocket(sock, proc);
    },
    stop: async () => {
      if (proc.exitCode === null) {
        const ids = run('docker', ['ps', '-aq']).stdout.split('\n').filter(Boolean);
        if (ids.length) run('docker', ['rm', '-f', ...ids]);
        await d.kill('SIGTERM');
      }
      // Whatever is still here leaked: clean it up (our own processes, by PID), then fail loudly.
      const monitors = [...conmonsUnder(dataRoot), ...conmonsUnder(execRoot)];
      for (const pid of monitors) killTree(pid);
      // Log rotators exit with their conmon (pidfd): the ones still here after a moment leaked.
      let rotators = rotatorsUnder(dataRoot);
      for (let i = 0; i < 20 && rotators.length; i++) { await new Promise((r) => setTimeout(r, 50)); rotators = rotatorsUnder(dataRoot); }
      for (const pid of rotators) killTree(pid);
      const leaks = [...leakedMounts(dataRoot), ...leakedMounts(execRoot)];
      const netLeaks = networkLeaks(execRoot, netArgs.bridge);
      for (const pid of aardvarksUnder(execRoot)) killTree(pid);
      for (const m of leaks.reverse()) spawnSync('umount', ['-l', m]);
      const cgroups = containerCgroups(dataRoot);
      for (const cg of cgroups) removeCgroup(cg);
      rmSync(dataRoot, { recursive: true, force: true });
      rmSync(execRoot, { recursive: true, force: true });
      const problems = [
        ...(monitors.length ? [`${monitors.length} conmon processes`] : []),
        ...(rotators.length ? [`${rotators.length} berth-logrotate processes`] : []),
        ...(leaks.length ? [`mounts ${leaks.join(', ')}`] : []),
        ...(cgroups.length ? [`cgroups ${cgroups.join(', ')}`] : []),
        ...netLeaks,
      ];
      if (problems.length) throw new Error(`test left behind: ${problems.join('; ')}`);
    },
  };
  if (opts.withBusybox !== false) {
    const r = d.docker(['import', '-c', 'CMD ["sh"]', busyboxTar(), 'busybox:latest']);
    if (r.status !== 0) {
      await d.stop();
      throw new Error(`import busybox: ${r.stderr}`);
    }
  }
  return d;
}

let daemonsStarted = 0;

/** berthd flags for a test daemon's networking: a bridge name and a /16 pool of its own. */
function testNetworkArgs(execRoot: string): { args: string[]; bridge: string; pool: string } {
  const n = (process.pid * 7 + daemonsStarted++) % 120;
  const bridge = `bt${execRoot.slice(-6).replace(/[^a-zA-Z0-9]/g, '')}`;
  const pool = `10.${110 + n}.0.0/16`;
  return { args: ['--bridge', bridge, '--default-address-pool', `base=${pool},size=24`], bridge, pool };
}

/** aardvark-dns servers started (through netavark) for a daemon's exec root. */
function aardvarksUnder(execRoot: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (cmd.includes('aardvark-dns') && cmd.includes(execRoot) && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') pids.push(Number(p));
    } catch { /* exited meanwhile */ }
  }
  return pids;
}

/** What a stopped daemon left of its networking: its bridge, isolation chains, namespaces, DNS server. */
function networkLeaks(execRoot: string, bridge: string): string[] {
  const out: string[] = [];
  if (existsSync(`/sys/class/net/${bridge}`)) out.push(`bridge ${bridge}`);
  const chains = spawnSync('iptables', ['-w', '-t', 'mangle', '-S'], { encoding: 'utf8' }).stdout.split('\n').filter((l) => l.startsWith('-N BERTH-ISO-'));
  const ours = createHash('sha256').update(execRoot).digest('hex').slice(0, 8);
  if (chains.some((l) => l.includes(ours))) out.push(`iptables chains BERTH-ISO-${ours}-*`);
  try {
    const left = readdirSync(join(execRoot, 'netns'));
    if (left.length) out.push(`network namespaces ${left.join(', ')}`);
  } catch { /* none made */ }
  const dns = aardvarksUnder(execRoot);
  if (dns.length) out.push(`aardvark-dns processes ${dns.join(', ')}`);
  return out;
}

/** Mount points under a root, from /proc/self/mountinfo. */
export function leakedMounts(root: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => p && (p === root || p.startsWith(`${root}/`)));
}

/** conmon processes whose command line mentions a path under root (what a test may have leaked). */
export function conmonsUnder(root: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      if (cmd.startsWith('conmon') || cmd.includes('/conmon\0')) if (cmd.includes(root)) pids.push(Number(p));
    } catch { /* exited meanwhile */ }
  }
  return pids;
}

/** Log rotators (native/log-rotate.c) of containers under a data root; they exit with conmon. */
function rotatorsUnder(root: string): number[] {
  const pids: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8');
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      if (cmd.includes('berth-logrotate') && cmd.includes(root) && stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z') pids.push(Number(p));
    } catch { /* exited meanwhile */ }
  }
  return pids;
}

/** Kills a process and its descendants (children first found through /proc), all SIGKILL. */
function killTree(pid: number): void {
  const children = new Map<number, number[]>();
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(p)]);
    } catch { /* exited meanwhile */ }
  }
  const all: number[] = [];
  const walk = (p: number) => { all.push(p); for (const c of children.get(p) ?? []) walk(c); };
  walk(pid);
  for (const p of all.reverse()) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
}

/** cgroups (any controller) of the containers whose directories are under this data root. */
function containerCgroups(dataRoot: string): string[] {
  let ids: string[] = [];
  try { ids = readdirSync(join(dataRoot, 'containers')); } catch { return []; }
  const out: string[] = [];
  for (const base of ['/sys/fs/cgroup', '/sys/fs/cgroup/unified']) {
    let controllers: string[] = [];
    try { controllers = readdirSync(base); } catch { continue; }
    for (const ctl of ['', ...controllers]) {
      for (const id of ids) {
        const p = join(base, ctl, 'berth', id);
        if (existsSync(p)) out.push(p);
      }
    }
  }
  return out;
}

function removeCgroup(path: string): void {
  for (let i = 0; i < 20; i++) {
    try { rmdirSync(path); return; } catch { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 25); }
  }
}

/** The real docker CLI against a daemon, without blocking the event loop (for concurrent calls). */
export function dockerAsync(d: Daemon, args: string[], timeoutMs = 30_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('docker', args, { env: d.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr!.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

/** A directory's entries, sorted; none when it does not exist. */
export function listDir(dir: string): string[] {
  try { return readdirSync(dir).sort(); } catch { return []; }
}
