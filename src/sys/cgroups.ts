import { existsSync, readFileSync } from 'node:fs';
import { promises as fsp } from 'node:fs';
import { totalmem } from 'node:os';
import { join } from 'node:path';

/**
 * Reading cgroups (v1, v2 and hybrid hosts) for stats and for validating limits. A container's
 * cgroup directories are found from its init PID's /proc/<pid>/cgroup, so berth never assumes
 * where the runtime put them.
 */

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Where a process' cgroups are: one dir per v1 controller, and the v2 dir when the host has one. */
export interface CgroupDirs {
  v1: Record<string, string>;
  v2?: string;
}

/** Parses /proc/<pid>/cgroup text into directories under `root`. */
export function parseProcCgroup(text: string, root = CGROUP_ROOT): CgroupDirs {
  const out: CgroupDirs = { v1: {} };
  const pureV2 = existsSync(join(root, 'cgroup.controllers'));
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!m) continue;
    const [, , ctrls, path] = m;
    if (ctrls === '') {
      out.v2 = pureV2 ? join(root, path) : join(root, 'unified', path);
      continue;
    }
    for (const c of ctrls.split(',')) {
      const name = c.startsWith('name=') ? c.slice(5) : c;
      out.v1[name] = join(v1Mount(root, ctrls, name), path);
    }
  }
  return out;
}

/** Where a v1 hierarchy is mounted; the mounts do not move while berthd runs, so it is looked up once. */
const v1Mounts = new Map<string, string>();
function v1Mount(root: string, ctrls: string, name: string): string {
  const key = `${root}\0${ctrls}\0${name}`;
  let mount = v1Mounts.get(key);
  if (mount === undefined) {
    // v1 controllers mounted together (cpu,cpuacct) share a directory named for the pair.
    mount = [join(root, ctrls), join(root, name)].find((p) => existsSync(p));
    if (mount === undefined) return join(root, name);
    v1Mounts.set(key, mount);
  }
  return mount;
}

export async function cgroupDirsOf(pid: number): Promise<CgroupDirs | undefined> {
  const text = readText(`/proc/${pid}/cgroup`);
  return text === undefined ? undefined : parseProcCgroup(text);
}

/**
 * Reads a small /proc or cgroup file. Synchronously on purpose: these pseudo-files never block,
 * and `docker stats` reads a dozen per container per second; through fs.promises each cost an
 * open, fstat, read and close on the thread pool and a FileHandle (most of berthd's CPU for stats).
 */
function readText(path: string): string | undefined {
  try { return readFileSync(path, 'utf8'); } catch { return undefined; }
}

function readNum(path: string): number | undefined {
  const t = readText(path)?.trim();
  if (t === undefined || t === '') return undefined;
  if (t === 'max') return Number.MAX_SAFE_INTEGER;
  const n = Number(t);
  return Number.isFinite(n) ? n : undefined;
}

/** "key value" lines (memory.stat, cpu.stat, cpuacct.stat) into a map. */
export function parseFlatKeyed(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined && /^-?\d+$/.test(v)) out[k] = Number(v);
  }
  return out;
}

/** One block-I/O counter by device and operation (Read, Write, Sync, Async, Discard, Total). */
export interface BlkioEntry { major: number; minor: number; op: string; value: number }

/** A raw sample of a container's cgroup counters, in cgroup units turned into bytes and nanoseconds. */
export interface CgroupSample {
  version: 1 | 2;
  /** Total CPU time of the container, ns. */
  cpuTotal: number;
  /** Per-CPU totals, ns (v1 only; v2 has none). */
  cpuPerCpu?: number[];
  cpuUser: number;
  cpuSystem: number;
  throttling: { periods: number; throttledPeriods: number; throttledTime: number };
  memoryUsage: number;
  memoryMaxUsage?: number;
  memoryFailcnt?: number;
  /** The cgroup's limit, or undefined when unlimited. */
  memoryLimit?: number;
  /** memory.stat as the kernel names it (v1: cache, rss, total_inactive_file...; v2: anon, file, inactive_file...). */
  memoryStat: Record<string, number>;
  pidsCurrent?: number;
  pidsLimit?: number;
  blkio: { serviceBytes: BlkioEntry[]; serviced: BlkioEntry[] };
}

/** Parses v1 blkio files ("8:0 Read 4096"). */
export function parseBlkioV1(text: string): BlkioEntry[] {
  const out: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):(\d+) (\S+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3], value: Number(m[4]) });
  }
  return out;
}

/** Parses v2 io.stat ("8:0 rbytes=1 wbytes=2 rios=3 wios=4 ...") into v1-style entries, as dockerd does. */
export function parseIoStatV2(text: string): { serviceBytes: BlkioEntry[]; serviced: BlkioEntry[] } {
  const serviceBytes: BlkioEntry[] = [];
  const serviced: BlkioEntry[] = [];
  for (const line of text.split('\n')) {
    const [dev, ...kvs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    const kv = Object.fromEntries(kvs.map((s) => s.split('=')).map(([k, v]) => [k, Number(v)]));
    const [major, minor] = [Number(m[1]), Number(m[2])];
    serviceBytes.push({ major, minor, op: 'read', value: kv.rbytes ?? 0 }, { major, minor, op: 'write', value: kv.wbytes ?? 0 });
    serviced.push({ major, minor, op: 'read', value: kv.rios ?? 0 }, { major, minor, op: 'write', value: kv.wios ?? 0 });
  }
  return { serviceBytes, serviced };
}

/** USER_HZ: the unit of cpuacct.stat and /proc/stat (100 on every Linux berth runs on). */
const CLK_TCK = 100;
const NS_PER_TICK = 1e9 / CLK_TCK;
/** v1 reports "no limit" as a huge page-aligned number. */
const V1_UNLIMITED = 2 ** 62;

/** Reads the counters of a container's cgroups; undefined when its cgroups are gone. */
export async function readCgroupSample(dirs: CgroupDirs): Promise<CgroupSample | undefined> {
  const v1 = dirs.v1;
  if (v1.memory || v1.cpuacct) {
    const acct = v1.cpuacct ?? v1.cpu;
    const mem = v1.memory;
    const [usage, perCpu, acctStat, cpuStat, memUsage, memMax, memFail, memLimit, memStat, pidsCur, pidsMax, bytes, ios] = [
      readNum(join(acct, 'cpuacct.usage')), readText(join(acct, 'cpuacct.usage_percpu')), readText(join(acct, 'cpuacct.stat')),
      readText(join(v1.cpu ?? acct, 'cpu.stat')),
      readNum(join(mem, 'memory.usage_in_bytes')), readNum(join(mem, 'memory.max_usage_in_bytes')), readNum(join(mem, 'memory.failcnt')),
      readNum(join(mem, 'memory.limit_in_bytes')), readText(join(mem, 'memory.stat')),
      v1.pids ? readNum(join(v1.pids, 'pids.current')) : undefined, v1.pids ? readNum(join(v1.pids, 'pids.max')) : undefined,
      v1.blkio ? readText(join(v1.blkio, 'blkio.throttle.io_service_bytes_recursive')) : undefined,
      v1.blkio ? readText(join(v1.blkio, 'blkio.throttle.io_serviced_recursive')) : undefined,
    ];
    if (usage === undefined && memUsage === undefined) return undefined;
    const st = parseFlatKeyed(acctStat ?? '');
    const thr = parseFlatKeyed(cpuStat ?? '');
    return {
      version: 1,
      cpuTotal: usage ?? 0,
      cpuPerCpu: perCpu?.trim().split(/\s+/).filter(Boolean).map(Number),
      cpuUser: (st.user ?? 0) * NS_PER_TICK,
      cpuSystem: (st.system ?? 0) * NS_PER_TICK,
      throttling: { periods: thr.nr_periods ?? 0, throttledPeriods: thr.nr_throttled ?? 0, throttledTime: thr.throttled_time ?? 0 },
      memoryUsage: memUsage ?? 0,
      memoryMaxUsage: memMax,
      memoryFailcnt: memFail,
      memoryLimit: memLimit !== undefined && memLimit < V1_UNLIMITED ? memLimit : undefined,
      memoryStat: parseFlatKeyed(memStat ?? ''),
      pidsCurrent: pidsCur,
      pidsLimit: pidsMax !== undefined && pidsMax < Number.MAX_SAFE_INTEGER ? pidsMax : undefined,
      blkio: { serviceBytes: parseBlkioV1(bytes ?? ''), serviced: parseBlkioV1(ios ?? '') },
    };
  }
  if (!dirs.v2) return undefined;
  const d = dirs.v2;
  const [cpuStat, memCur, memMax, memStat, memEvents, pidsCur, pidsMax, io] = [
    readText(join(d, 'cpu.stat')), readNum(join(d, 'memory.current')), readNum(join(d, 'memory.max')), readText(join(d, 'memory.stat')),
    readText(join(d, 'memory.events')), readNum(join(d, 'pids.current')), readNum(join(d, 'pids.max')), readText(join(d, 'io.stat')),
  ];
  if (cpuStat === undefined && memCur === undefined) return undefined;
  const cs = parseFlatKeyed(cpuStat ?? '');
  return {
    version: 2,
    cpuTotal: (cs.usage_usec ?? 0) * 1000,
    cpuUser: (cs.user_usec ?? 0) * 1000,
    cpuSystem: (cs.system_usec ?? 0) * 1000,
    throttling: { periods: cs.nr_periods ?? 0, throttledPeriods: cs.nr_throttled ?? 0, throttledTime: (cs.throttled_usec ?? 0) * 1000 },
    memoryUsage: memCur ?? 0,
    memoryFailcnt: parseFlatKeyed(memEvents ?? '').max,
    memoryLimit: memMax !== undefined && memMax < Number.MAX_SAFE_INTEGER ? memMax : undefined,
    memoryStat: parseFlatKeyed(memStat ?? ''),
    pidsCurrent: pidsCur,
    pidsLimit: pidsMax !== undefined && pidsMax < Number.MAX_SAFE_INTEGER ? pidsMax : undefined,
    blkio: parseIoStatV2(io ?? ''),
  };
}

/**
 * Whether a v1 blkio weight must go to BFQ's file: CFQ's `blkio.weight` went with CFQ (Linux 5.0),
 * leaving `blkio.bfq.weight`, which crun 1.8 does not know (runc does). False on v2 hosts.
 */
export function blkioNeedsBfqWeight(root = CGROUP_ROOT): boolean {
  if (existsSync(join(root, 'cgroup.controllers'))) return false;
  const mount = join(root, 'blkio');
  return existsSync(mount) && !existsSync(join(mount, 'blkio.weight'));
}

/** Writes a v1 BFQ weight (10..1000) into the blkio cgroup of `pid`. */
export async function writeBfqWeight(pid: number, weight: number, root = CGROUP_ROOT): Promise<void> {
  await writeControllerFile(pid, 'blkio', 'blkio.bfq.weight', String(weight), root);
}

/** Lifts the pids limit of `pid`'s cgroup (v1 or v2: `pids.max` = `max`). */
export async function liftPidsLimit(pid: number, root = CGROUP_ROOT): Promise<void> {
  await writeControllerFile(pid, 'pids', 'pids.max', 'max', root);
}

/** Writes a file of `pid`'s cgroup for a controller: its v1 hierarchy, else the v2 one. */
async function writeControllerFile(pid: number, controller: string, file: string, value: string, root: string): Promise<void> {
  const dirs = parseProcCgroup(await fsp.readFile(`/proc/${pid}/cgroup`, 'utf8'), root);
  const dir = dirs.v1[controller] ?? dirs.v2;
  if (!dir) throw new Error(`process ${pid} has no ${controller} cgroup`);
  await fsp.writeFile(join(dir, file), value);
}

/** The host's total CPU time in ns from /proc/stat (Docker's system_cpu_usage). */
export function systemCpuUsage(statText?: string): number {
  const text = statText ?? readFileSync('/proc/stat', 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return 0;
  return line.trim().split(/\s+/).slice(1, 8).reduce((a, v) => a + Number(v), 0) * NS_PER_TICK;
}

/** Interface counters of a network namespace, from /proc/<pid>/net/dev. */
export interface NetDevCounters {
  rxBytes: number; rxPackets: number; rxErrors: number; rxDropped: number;
  txBytes: number; txPackets: number; txErrors: number; txDropped: number;
}

export function parseNetDev(text: string): Record<string, NetDevCounters> {
  const out: Record<string, NetDevCounters> = {};
  for (const line of text.split('\n').slice(2)) {
    const i = line.indexOf(':');
    if (i < 0) continue;
    const name = line.slice(0, i).trim();
    const f = line.slice(i + 1).trim().split(/\s+/).map(Number);
    if (f.length < 12) continue;
    out[name] = { rxBytes: f[0], rxPackets: f[1], rxErrors: f[2], rxDropped: f[3], txBytes: f[8], txPackets: f[9], txErrors: f[10], txDropped: f[11] };
  }
  return out;
}

export async function readNetDev(pid: number): Promise<Record<string, NetDevCounters> | undefined> {
  const t = readText(`/proc/${pid}/net/dev`);
  return t === undefined ? undefined : parseNetDev(t);
}

/** Host facts limits are checked against. */
export interface HostResources {
  /** 2 on a pure cgroup v2 host; 1 on v1 and hybrid ones (controllers on v1 hierarchies). */
  cgroupVersion: 1 | 2;
  cpus: number;
  /** cpuset syntax of the CPUs and memory nodes containers may use. */
  cpusetCpus: string;
  cpusetMems: string;
  memoryTotal: number;
  /** The kernel accounts swap (memory.memsw.* on v1, memory.swap.max on v2). */
  swapLimit: boolean;
  /** blkio/io weight is available (bfq/cfq on v1 needs blkio.weight). */
  blkioWeight: boolean;
  /** OOM-killer disabling exists (cgroup v1 memory.oom_control only). */
  oomKillDisable: boolean;
  /** Per-cgroup swappiness exists (cgroup v1 memory.swappiness only; v2 has none, and crun/runc fail a create that sets it). */
  memorySwappiness: boolean;
}

function firstText(paths: string[]): string | undefined {
  for (const p of paths) {
    try { return readFileSync(p, 'utf8').trim(); } catch { /* next */ }
  }
  return undefined;
}

export function hostResources(root = CGROUP_ROOT): HostResources {
  const v2 = existsSync(join(root, 'cgroup.controllers'));
  const cpusetCpus = firstText(v2 ? [join(root, 'cpuset.cpus.effective'), '/sys/devices/system/cpu/online'] : [join(root, 'cpuset', 'cpuset.cpus'), '/sys/devices/system/cpu/online']) ?? '0';
  const cpusetMems = firstText(v2 ? [join(root, 'cpuset.mems.effective'), '/sys/devices/system/node/online'] : [join(root, 'cpuset', 'cpuset.mems'), '/sys/devices/system/node/online']) ?? '0';
  return {
    cgroupVersion: v2 ? 2 : 1,
    cpus: parseCpuset(cpusetCpus)?.size ?? 1,
    cpusetCpus,
    cpusetMems,
    memoryTotal: totalmem(),
    swapLimit: v2 ? true : existsSync(join(root, 'memory', 'memory.memsw.limit_in_bytes')),
    blkioWeight: v2 ? controllers(root).includes('io') : blkioWeightV1(join(root, 'blkio')),
    oomKillDisable: !v2 && existsSync(join(root, 'memory', 'memory.oom_control')),
    memorySwappiness: !v2 && existsSync(join(root, 'memory', 'memory.swappiness')),
  };
}

/** The controllers a v2 root offers (cgroup.controllers). */
function controllers(root: string): string[] {
  return (firstText([join(root, 'cgroup.controllers')]) ?? '').split(/\s+/).filter(Boolean);
}

/**
 * Whether v1 blkio takes a weight: CFQ's blkio.weight, or BFQ's. BFQ's weight files exist only
 * below the root (the kernel hides them on the root cgroup), but its statistics files are on the
 * root as soon as BFQ is registered, which is when runc and crun can write blkio.bfq.weight.
 */
function blkioWeightV1(mount: string): boolean {
  return ['blkio.weight', 'blkio.bfq.weight', 'blkio.bfq.io_service_bytes'].some((f) => existsSync(join(mount, f)));
}

/** Parses cpuset syntax ("0-3,5"); undefined when malformed. */
export function parseCpuset(s: string): Set<number> | undefined {
  const out = new Set<number>();
  if (s.trim() === '') return out;
  for (const part of s.split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim());
    if (!m) return undefined;
    const a = Number(m[1]);
    const b = m[2] !== undefined ? Number(m[2]) : a;
    if (b < a) return undefined;
    for (let i = a; i <= b; i++) out.add(i);
  }
  return out;
}
