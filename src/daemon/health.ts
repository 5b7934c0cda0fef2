import type { HealthConfig } from '../oci/image';

/**
 * Health checks as pure decisions (Docker's daemon/health.go semantics); health-monitor.ts keeps
 * the timers and runs the probes.
 *
 * A probe is `CMD args...` (run as is) or `CMD-SHELL line` (run by /bin/sh -c); `NONE` or an
 * empty test disables checks. Exit 0 is healthy, anything else (or a timeout) a failure. The
 * status starts as `starting`; one success makes it `healthy`; `retries` consecutive failures make
 * it `unhealthy`, except that failures inside the start period while still `starting` do not count.
 */
export type HealthStatus = 'starting' | 'healthy' | 'unhealthy';

export interface HealthLogEntry {
  Start: string;
  End: string;
  ExitCode: number;
  Output: string;
}

export interface HealthState {
  status: HealthStatus;
  failingStreak: number;
  /** The last MAX_LOG_ENTRIES probe results, oldest first. */
  log: HealthLogEntry[];
}

export interface HealthSettings {
  args: string[];
  intervalMs: number;
  timeoutMs: number;
  startPeriodMs: number;
  startIntervalMs: number;
  retries: number;
}

export const MAX_LOG_ENTRIES = 5;
export const MAX_OUTPUT_BYTES = 4096;
const DEFAULT_INTERVAL_MS = 30_000;
const DEFAULT_TIMEOUT_MS = 30_000;
const DEFAULT_START_INTERVAL_MS = 5_000;
const DEFAULT_RETRIES = 3;

/** What to do when a container becomes unhealthy (moby#28400); from the label below. */
export type HealthAction = 'none' | 'kill' | 'restart' | 'stop';
export const HEALTH_ON_FAILURE_LABEL = 'berth.health-on-failure';

export function healthActionOf(labels: Record<string, string> | null | undefined): HealthAction {
  const v = labels?.[HEALTH_ON_FAILURE_LABEL];
  return v === 'kill' || v === 'restart' || v === 'stop' ? v : 'none';
}

/** An error message for a bad label value, else undefined. */
export function healthActionError(labels: Record<string, string> | null | undefined): string | undefined {
  const v = labels?.[HEALTH_ON_FAILURE_LABEL];
  if (v === undefined || ['none', 'kill', 'restart', 'stop'].includes(v)) return undefined;
  return `invalid ${HEALTH_ON_FAILURE_LABEL} '${v}': use none, kill, restart or stop`;
}

/**
 * Docker's merge of a create request's Healthcheck with the image's: an empty Test inherits the
 * image's test, zero durations and retries inherit the image's values.
 */
export function mergeHealthcheck(req: HealthConfig | null | undefined, image: HealthConfig | null | undefined): HealthConfig | undefined {
  if (!req) return image ?? undefined;
  if (!image) return req;
  return {
    ...req,
    Test: req.Test && req.Test.length ? req.Test : image.Test,
    Interval: req.Interval || image.Interval,
    Timeout: req.Timeout || image.Timeout,
    StartPeriod: req.StartPeriod || image.StartPeriod,
    StartInterval: req.StartInterval || image.StartInterval,
    Retries: req.Retries || image.Retries,
  };
}

/** Docker's validation of a Healthcheck (durations in ns); undefined when valid. */
export function healthConfigError(h: HealthConfig | null | undefined): string | undefined {
  if (!h) return undefined;
  const min = 1e6;
  for (const [k, v] of [['Interval', h.Interval], ['Timeout', h.Timeout], ['StartPeriod', h.StartPeriod], ['StartInterval', h.StartInterval]] as const) {
    if (v && v < min) return `${k} in Healthcheck cannot be less than 1ms`;
  }
  if ((h.Retries ?? 0) < 0) return 'Retries in Healthcheck cannot be negative';
  const kind = h.Test?.[0];
  if (kind !== undefined && !['NONE', 'CMD', 'CMD-SHELL'].includes(kind)) return `unknown Healthcheck type '${kind}'`;
  return undefined;
}

/** The probe settings, or undefined when the container has no health check. */
export function healthSettings(h: HealthConfig | null | undefined): HealthSettings | undefined {
  const test = h?.Test ?? [];
  let args: string[];
  if (test[0] === 'CMD') args = test.slice(1);
  else if (test[0] === 'CMD-SHELL') args = ['/bin/sh', '-c', test.slice(1).join(' ')];
  else return undefined;
  if (!args.length || (test[0] === 'CMD-SHELL' && !args[2])) return undefined;
  const ms = (ns: number | undefined, def: number) => (ns && ns > 0 ? ns / 1e6 : def);
  return {
    args,
    intervalMs: ms(h?.Interval, DEFAULT_INTERVAL_MS),
    timeoutMs: ms(h?.Timeout, DEFAULT_TIMEOUT_MS),
    startPeriodMs: ms(h?.StartPeriod, 0),
    startIntervalMs: ms(h?.StartInterval, DEFAULT_START_INTERVAL_MS),
    retries: h?.Retries && h.Retries > 0 ? h.Retries : DEFAULT_RETRIES,
  };
}

export function initialHealth(): HealthState {
  return { status: 'starting', failingStreak: 0, log: [] };
}

function inStartPeriod(s: HealthSettings, startedAtMs: number, atMs: number): boolean {
  return atMs - startedAtMs < s.startPeriodMs;
}

/** The state after one probe result. `startedAtMs`: when the container's current run started. */
export function nextHealth(prev: HealthState, result: HealthLogEntry, s: HealthSettings, startedAtMs: number): HealthState {
  const log = [...prev.log, { ...result, Output: truncateOutput(result.Output) }].slice(-MAX_LOG_ENTRIES);
  if (result.ExitCode === 0) return { status: 'healthy', failingStreak: 0, log };
  if (prev.status === 'starting' && inStartPeriod(s, startedAtMs, Date.parse(result.Start))) {
    return { status: prev.status, failingStreak: prev.failingStreak, log };
  }
  const failingStreak = prev.failingStreak + 1;
  return { status: failingStreak >= s.retries ? 'unhealthy' : prev.status, failingStreak, log };
}

/** When the next probe runs, from now: the start interval while starting inside the start period. */
export function nextProbeDelay(state: HealthState, s: HealthSettings, startedAtMs: number, nowMs: number): number {
  if (state.status === 'starting' && inStartPeriod(s, startedAtMs, nowMs)) return s.startIntervalMs;
  return s.intervalMs;
}

export function truncateOutput(out: string): string {
  const b = Buffer.from(out);
  return b.length <= MAX_OUTPUT_BYTES ? out : b.subarray(0, MAX_OUTPUT_BYTES).toString();
}

/** A failure record for a probe that outlived its timeout (Docker's wording, exit code -1). */
export function timeoutResult(start: Date, end: Date, timeoutMs: number): HealthLogEntry {
  return { Start: start.toISOString(), End: end.toISOString(), ExitCode: -1, Output: `Health check exceeded timeout (${formatDuration(timeoutMs)})` };
}

/** Go's time.Duration String for whole milliseconds: 200ms, 1s, 1.5s, 1m30s. */
export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const m = Math.floor(ms / 60_000);
  const sec = (ms % 60_000) / 1000;
  return m ? `${m}m${sec}s` : `${sec}s`;
}

/** The suffix of ps' Status for a running container with a health check. */
export function healthStatusSuffix(h: HealthState | undefined): string {
  if (!h) return '';
  return h.status === 'starting' ? ' (health: starting)' : ` (${h.status})`;
}
