import type { Readable } from 'node:stream';
import type { ResourceLimits } from './resources';

/**
 * The runtime layer: OCI spec generation (pure, spec.ts), the OCI runtime driver (crun/runc) and
 * conmon as the per-container monitor. The daemon decides what is legal; this layer only does it.
 */

/** What the daemon asks of a container process; spec.ts turns it into config.json. */
export interface SpecInput {
  id: string;
  /** Absolute path of the mounted root filesystem. */
  rootfs: string;
  readonlyRootfs: boolean;
  args: string[];
  env: string[];
  cwd: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  hostname: string;
  tty: boolean;
  openStdin: boolean;
  /** Docker's capability names with or without CAP_ prefix; 'ALL' allowed. */
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  noNewPrivileges: boolean;
  /** 'none' gets a fresh empty netns (lo only); 'host' shares berthd's; a path joins that netns. */
  network: { mode: 'none' } | { mode: 'host' } | { mode: 'path'; path: string };
  /** Bind mounts and tmpfs the daemon adds (/etc/hosts, resolv.conf, hostname, --tmpfs, volumes). */
  mounts: Array<{ destination: string; type: 'bind' | 'tmpfs'; source: string; options: string[] }>;
  /** Host path of an init (catatonit/tini) to inject as PID 1, or undefined. */
  init?: string;
  /** cgroup path relative to the hierarchy root, e.g. `/berth/<id>`. */
  cgroupsPath: string;
  /** A cgroup namespace of its own (Docker's --cgroupns private): /sys/fs/cgroup is its own cgroup. */
  cgroupns?: boolean;
  /** Seccomp in OCI form (security/seccomp.ts), or null for unconfined. */
  seccomp: object | null;
  annotations?: Record<string, string>;
  /** Rlimits to apply; values are clamped to berthd's own hard limits. */
  rlimits?: Array<{ type: string; soft: number; hard: number }>;
  /** The init process' oom_score_adj (Docker's --oom-score-adj). */
  oomScoreAdj?: number;
  /** cgroup limits (memory, cpu, cpuset, pids, blkio); see resources.ts. */
  resources?: ResourceLimits;
  /** Size in bytes of the /dev/shm tmpfs (Docker's --shm-size; default 64 MiB). */
  shmSize?: number;
}

export interface ExitStatus {
  exitCode: number;
  oomKilled: boolean;
  /** When conmon wrote the exit file. */
  finishedAt: Date;
}

/** An attached stdio connection. Output chunks are tagged with their stream. */
export interface AttachConnection {
  /** Emits Buffer chunks via onOutput until the process closes its output; then onEnd. */
  onOutput(cb: (stream: 'stdout' | 'stderr', data: Buffer) => void): void;
  onEnd(cb: () => void): void;
  writeStdin(data: Buffer): void;
  /** Half-closes stdin (EOF to the process). */
  closeStdin(): void;
  close(): void;
}

export interface CreateOptions {
  id: string;
  /** Directory holding config.json. conmon's ctl/attach files live here too. */
  bundleDir: string;
  /**
   * The OCI spec. When given, the runtime writes config.json itself (and may add runtime-specific
   * annotations, e.g. crun's precompiled seccomp); otherwise the caller has written it.
   */
  spec?: Record<string, unknown>;
  tty: boolean;
  openStdin: boolean;
  stdinOnce: boolean;
  /**
   * Where the container's output is logged (conmon's k8s-file format). Absent: no log is kept (the
   * `none` driver); the runtime may still keep a small private buffer of recent output for attach.
   */
  log?: LogTarget;
}

/** A container's log file and its rotation (docs/logging.md). */
export interface LogTarget {
  /** The live file; rotated files are `<path>.1` (newest) ... `<path>.<maxFiles-1>`, `.gz` when compressed. */
  path: string;
  /** Rotate when the live file reaches maxSize bytes, keeping maxFiles files in all. Absent: one file that grows. */
  rotate?: { maxSize: number; maxFiles: number; compress: boolean };
}

export interface ExecOptions {
  /** The OCI process object (spec.ts builds it: args, env, cwd, user, caps, noNewPrivileges...). */
  process: object;
  tty: boolean;
  stdin: boolean;
  /** Detached: no attach, just start it. */
  detach: boolean;
}

export interface ExecSession {
  /** Present unless detached. */
  attach?: AttachConnection;
  pid(): number | undefined;
  /** Resolves with the exec process' exit code. */
  exit: Promise<number>;
  resize(rows: number, cols: number): void;
}

/**
 * ContainerRuntime: runs containers under conmon with crun or runc.
 *
 * Lifecycle of a container: create (conmon starts, runtime `create` runs, the init process waits)
 * -> start -> [pause/resume] -> exits (conmon writes the exit file) -> delete.
 * Containers survive a berthd restart: everything is found again from the bundle dir, conmon's
 * pid files and the exit dir. Errors: NotFound when the runtime does not know the id,
 * FailedPrecondition for an operation in the wrong state, InvalidArgument for a process that cannot
 * start (its message says "executable file not found" or "permission denied" as Docker's does).
 */
export interface ContainerRuntime {
  /** The runtime's name ('crun' or 'runc'). */
  readonly name: string;
  create(opts: CreateOptions): Promise<{ pid: number; monitorPid: number }>;
  start(id: string): Promise<void>;
  kill(id: string, signal: string | number): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Removes the runtime's state (force kills a running one). No-op when it does not exist. */
  delete(id: string, force: boolean): Promise<void>;
  /** The exit status when the container has exited (from conmon's exit file), else undefined. */
  exitStatus(id: string): ExitStatus | undefined;
  /** Resolves when the container exits; also for containers created before a berthd restart. */
  waitExit(id: string, signal?: AbortSignal): Promise<ExitStatus>;
  /** Attaches to the running (or created) container's stdio through conmon's socket. */
  attach(id: string, bundleDir: string): Promise<AttachConnection>;
  resize(id: string, bundleDir: string, rows: number, cols: number): void;
  exec(id: string, bundleDir: string, opts: ExecOptions): Promise<ExecSession>;
  /** Host PIDs of all processes of the container (for top). */
  pids(id: string): Promise<number[]>;
  /** Frees what the runtime keeps for the container (exit files, sockets) after delete. */
  cleanup(id: string): Promise<void>;
  /**
   * For a container still running after a berthd restart: starts again whatever the runtime keeps
   * beside the monitor and finds gone (the log rotator). Idempotent; never fails the container.
   */
  recover(id: string): Promise<void>;
  /**
   * Changes the cgroup limits of a created or running container (`runtime update --resources`).
   * `resources` is OCI `linux.resources` (resources.ts ociResources). InvalidArgument when the
   * kernel refuses a value, NotFound when the runtime does not know the id.
   */
  update(id: string, resources: Record<string, unknown>): Promise<void>;
}

export interface ForegroundRunOptions {
  id: string;
  /** Directory holding config.json (written by the runner from `spec`). */
  bundleDir: string;
  spec: Record<string, unknown>;
  /** The container's output, as it comes. */
  onOutput: (stream: 'stdout' | 'stderr', data: Buffer) => void;
  /** Kills the container (SIGKILL); the run then ends with its exit status. */
  signal: AbortSignal;
}

/**
 * An optional ability of a runtime: run a container to its end as berthd's own child, with no
 * monitor and no log, its output through pipes (`crun run`): for build steps, which are short and
 * need not outlive berthd. What a runtime `create`s with a monitor costs ~0.1 s more.
 *
 * Lifecycle: the runtime's state exists only while the run does (the runtime deletes it at the
 * end). If berthd dies meanwhile, the run is orphaned: the container record shows no monitor and
 * recovery ends it. Errors: the same as create/start when the container cannot start (its
 * message then says why); a process that starts and fails is an exit code, not an error.
 */
export interface ForegroundRunner {
  runForeground(o: ForegroundRunOptions): Promise<ExitStatus>;
}

export interface LogEntry {
  stream: 'stdout' | 'stderr';
  time: Date;
  /** Line contents including the trailing newline when the line was complete. */
  data: Buffer;
}

export interface LogReadOptions {
  follow: boolean;
  since?: Date;
  until?: Date;
  /** Number of last lines, or undefined for all. */
  tail?: number;
  signal?: AbortSignal;
  /** Resolves when following should stop (the container exited and the file is drained). */
  stopWhen?: Promise<unknown>;
}

/** Reads a container's log: the live file at logPath and the files rotated from it (conmon k8s-file format). */
export type LogReader = (logPath: string, opts: LogReadOptions) => AsyncIterable<LogEntry>;

export type { Readable };
