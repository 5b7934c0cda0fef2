import { spawn, SpawnOptions } from 'node:child_process';
import { constants } from 'node:os';
import { BerthError, ErrorKind } from '../base/errors';

const osSignals = constants.signals as Record<string, number>;

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
}

export interface RunOptions {
  input?: string | Buffer;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  /** Error kind thrown on a non-zero exit (default Internal). */
  errorKind?: ErrorKind;
  /** Resolve with the result instead of throwing on a non-zero exit. */
  allowFailure?: boolean;
  /** Extra spawn options, e.g. stdio with inherited fds. */
  spawn?: SpawnOptions;
}

/**
 * Runs a program to completion and captures its output. The one way berth spawns short-lived tools
 * (mount helpers, the OCI runtime's one-shot commands). Throws a BerthError naming the command and
 * its stderr when it exits non-zero, unless allowFailure.
 */
export function run(file: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      env: opts.env,
      signal: opts.signal,
      stdio: ['pipe', 'pipe', 'pipe'],
      ...opts.spawn,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => reject(new BerthError(opts.errorKind ?? 'Internal', `${file}: ${e.message}`, { cause: e })));
    child.on('close', (code, signal) => {
      const result = { stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString(), code: code ?? 128 + (signal ? 9 : 0) };
      if (result.code !== 0 && !opts.allowFailure) {
        const detail = result.stderr.trim() || result.stdout.trim() || `exit status ${result.code}`;
        reject(new BerthError(opts.errorKind ?? 'Internal', `${file} ${args.slice(0, 3).join(' ')}: ${detail}`));
      } else resolve(result);
    });
    if (child.stdin) {
      child.stdin.on('error', () => undefined); // a tool that exits without reading its input is not our error
      child.stdin.end(opts.input ?? '');
    }
  });
}

export interface StreamingChild {
  pid: number;
  /** Resolves with the exit code (128 + n for a signal) once the process exited and its output is read. */
  exited: Promise<number>;
}

/**
 * Runs a program whose output is passed on as it comes (stdin is /dev/null): for a process that
 * runs as long as the work it does, such as `crun run` of a build step. Rejects `exited` only
 * when the program cannot be started.
 */
export function runStreaming(file: string, args: readonly string[], opts: {
  cwd?: string; env?: NodeJS.ProcessEnv; onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void;
}): StreamingChild {
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (b: Buffer) => opts.onOutput('stdout', b));
  child.stderr!.on('data', (b: Buffer) => opts.onOutput('stderr', b));
  const exited = new Promise<number>((resolve, reject) => {
    child.on('error', (e) => reject(new BerthError('Internal', `${file}: ${e.message}`, { cause: e })));
    child.on('close', (code, signal) => resolve(code ?? 128 + (signal ? osSignals[signal] ?? 9 : 0)));
  });
  exited.catch(() => undefined);
  return { pid: child.pid ?? -1, exited };
}
