/**
 * Restart policies as pure decisions (Docker's restartmanager semantics), so the engine only keeps
 * the timers. Policies: `no`, `on-failure[:N]`, `always`, `unless-stopped`.
 *
 * - A user's `stop` or `kill` marks the container manually stopped: no policy restarts that exit,
 *   and the mark holds until the next user `start`.
 * - `on-failure` restarts only on a non-zero exit, at most N times (N = 0: no limit).
 * - At berthd start (host reboot), `always` containers that had been started come back even when
 *   manually stopped (Docker documents exactly that difference from `unless-stopped`);
 *   `unless-stopped` and `on-failure` ones come back when their run ended while berthd was away.
 */
export interface RestartPolicy {
  Name: string;
  MaximumRetryCount?: number;
}

export interface ExitFacts {
  exitCode: number;
  manuallyStopped: boolean;
  /** Restarts made by the policy so far (inspect's RestartCount). */
  restartCount: number;
}

/** Docker's back-off: 100 ms, doubled per restart, at most a minute; reset after 10 s of running. */
export const BACKOFF_INITIAL_MS = 100;
export const BACKOFF_MAX_MS = 60_000;
export const BACKOFF_RESET_AFTER_MS = 10_000;

export function policyName(p: RestartPolicy | undefined): string {
  return p?.Name || 'no';
}

/** Whether an exit of a running container leads to a restart by its policy. */
export function shouldRestart(p: RestartPolicy | undefined, f: ExitFacts): boolean {
  if (f.manuallyStopped) return false;
  switch (policyName(p)) {
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure': {
      const max = p?.MaximumRetryCount ?? 0;
      return f.exitCode !== 0 && (max <= 0 || f.restartCount < max);
    }
    default:
      return false;
  }
}

/**
 * Whether berthd starts the container when it starts itself. `endedWhileAway`: the record said
 * running (or restarting) but the process was gone: a host reboot or a crash of its monitor.
 */
export function restartOnBoot(p: RestartPolicy | undefined, f: ExitFacts & { startedBefore: boolean; endedWhileAway: boolean }): boolean {
  if (!f.startedBefore) return false;
  switch (policyName(p)) {
    case 'always':
      return true;
    case 'unless-stopped':
      return !f.manuallyStopped && f.endedWhileAway;
    case 'on-failure':
      return f.endedWhileAway && shouldRestart(p, f);
    default:
      return false;
  }
}

/** The delay before the next restart, given the previous delay (0: none yet) and how long the run lasted. */
export function nextBackoff(prevMs: number, ranMs: number): number {
  if (ranMs >= BACKOFF_RESET_AFTER_MS || prevMs <= 0) return BACKOFF_INITIAL_MS;
  return Math.min(prevMs * 2, BACKOFF_MAX_MS);
}

/** Docker's validation of HostConfig.RestartPolicy (with --rm); undefined when valid. */
export function restartPolicyError(p: RestartPolicy | undefined, autoRemove: boolean): string | undefined {
  const name = p?.Name ?? '';
  if (!['', 'no', 'always', 'unless-stopped', 'on-failure'].includes(name)) return `invalid restart policy '${name}'`;
  const max = p?.MaximumRetryCount ?? 0;
  if (max < 0) return 'invalid restart policy: maximum retry count cannot be negative';
  if (max !== 0 && name !== 'on-failure') return `invalid restart policy: maximum retry count can only be used with 'on-failure'`;
  if (autoRemove && name !== '' && name !== 'no') return `can't create 'AutoRemove' container with restart policy`;
  return undefined;
}
