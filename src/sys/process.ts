import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { BerthError } from '../base/errors';

/**
 * Long-lived process plumbing: starting a monitor (conmon) that daemonizes away from berthd, with
 * extra pipes passed as fds 3, 4, 5...; liveness checks; berthd's own resource limits.
 */

export interface DetachedChild {
  /** PID of the process we spawned (conmon forks again; its daemon PID comes from its pid file). */
  pid: number;
  /** Our ends of the extra pipes, in fd order (the child sees them as fd 3, 4, ...). */
  pipes: Duplex[];
  /** Resolves with the spawned process' exit code (conmon's first process exits after its fork). */
  exited: Promise<number>;
  /** What the spawned process wrote on stderr before it detached (error reporting). */
  stderr(): string;
}

/**
 * Spawns `file` in its own session (it survives berthd), stdin/stdout on /dev/null, stderr
 * captured, and `extraPipes` bidirectional pipes at fds 3.. (socketpairs: read() and write() work on
 * both ends). The child is unref'd: berthd never waits for it; the pipes are not (destroy them).
 */
export function spawnDetached(file: string, args: readonly string[],
  opts: { cwd: string; env: NodeJS.ProcessEnv; extraPipes: number }): DetachedChild {
  const stdio: Array<'ignore' | 'pipe'> = ['ignore', 'ignore', 'pipe'];
  for (let i = 0; i < opts.extraPipes; i++) stdio.push('pipe');
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio, detached: true });
  const errChunks: Buffer[] = [];
  child.stderr?.on('data', (b: Buffer) => errChunks.push(b));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(new BerthError('Internal', `${file}: ${e.message}`, { cause: e })));
    child.on('exit', (code, sig) => resolve(code ?? (sig ? 128 : 0)));
  });
  exited.catch(() => undefined);
  child.unref();
  const pipes = child.stdio.slice(3).map((s) => s as unknown as Duplex);
  // The pipes stay referenced: a caller waiting for a message keeps berthd's loop alive. Destroy
  // them when done.
  for (const p of pipes) p.on('error', () => undefined);
  child.stderr?.on('error', () => undefined);
  (child.stderr as unknown as { unref?: () => void } | null)?.unref?.();
  return { pid: child.pid ?? -1, pipes, exited, stderr: () => Buffer.concat(errChunks).toString() };
}

/** True when a process with this PID exists (signal 0). */
export function processAlive(pid: number): boolean {
  if (!(pid > 0)) return false;
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
  // A zombie nobody reaped (its parent died and init does not reap) answers signals but is gone.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/** Sends a signal to a process by PID; false when it no longer exists. */
export function signalProcess(pid: number, signal: NodeJS.Signals | number): boolean {
  try {
    process.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

const LIMIT_NAMES: Record<string, string> = {
  'Max cpu time': 'RLIMIT_CPU', 'Max file size': 'RLIMIT_FSIZE', 'Max data size': 'RLIMIT_DATA',
  'Max stack size': 'RLIMIT_STACK', 'Max core file size': 'RLIMIT_CORE', 'Max resident set': 'RLIMIT_RSS',
  'Max processes': 'RLIMIT_NPROC', 'Max open files': 'RLIMIT_NOFILE', 'Max locked memory': 'RLIMIT_MEMLOCK',
  'Max address space': 'RLIMIT_AS', 'Max file locks': 'RLIMIT_LOCKS', 'Max pending signals': 'RLIMIT_SIGPENDING',
  'Max msgqueue size': 'RLIMIT_MSGQUEUE', 'Max nice priority': 'RLIMIT_NICE', 'Max realtime priority': 'RLIMIT_RTPRIO',
  'Max realtime timeout': 'RLIMIT_RTTIME',
};

/** berthd's hard rlimits by OCI name ('unlimited' ones are left out), from /proc/self/limits. */
export function hostHardRlimits(): Record<string, number> {
  const out: Record<string, number> = {};
  const text = readFileSync('/proc/self/limits', 'utf8');
  for (const line of text.split('\n').slice(1)) {
    const name = Object.keys(LIMIT_NAMES).find((n) => line.startsWith(n));
    if (!name) continue;
    const fields = line.slice(name.length).trim().split(/\s+/);
    const hard = fields[1];
    if (hard && hard !== 'unlimited' && /^[0-9]+$/.test(hard)) out[LIMIT_NAMES[name]] = Number(hard);
  }
  return out;
}

/** The capability numbers in berthd's bounding set (CapBnd): a container can hold no others. */
export function boundingCapabilityNumbers(): number[] {
  const m = /^CapBnd:\s+([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) return [];
  const mask = BigInt(`0x${m[1]}`);
  const out: number[] = [];
  for (let i = 0; i < 64; i++) if ((mask >> BigInt(i)) & 1n) out.push(i);
  return out;
}
