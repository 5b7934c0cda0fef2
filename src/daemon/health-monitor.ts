import { HealthAction, healthActionOf, HealthLogEntry, healthSettings, HealthState, initialHealth, nextHealth, nextProbeDelay, timeoutResult } from './health';
import type { ContainerRecord } from './container';

/** What the monitor needs from the engine. */
export interface HealthHost {
  get(id: string): ContainerRecord | undefined;
  /** Runs the probe in the container (exec machinery); kills it when `signal` aborts. */
  probe(id: string, args: string[], signal: AbortSignal): Promise<{ exitCode: number; output: string }>;
  /** Stores the new state (and publishes health_status when the status changed). */
  record(c: ContainerRecord, health: HealthState, changed: boolean): void;
  /** The container just became unhealthy and its label asks for an action. */
  act(c: ContainerRecord, action: Exclude<HealthAction, 'none'>): void;
  log(msg: string): void;
}

/**
 * Runs each running container's health check on its schedule. One probe at a time per container
 * (the next one is scheduled when the last finishes); a run is identified by its monitor PID, so a
 * loop left over from an earlier run stops by itself. Timers only: a container never blocks berthd.
 */
export class HealthMonitor {
  private readonly runs = new Map<string, { monitorPid: number; timer?: NodeJS.Timeout; abort: AbortController }>();

  constructor(private readonly host: HealthHost) {}

  /** Starts (or resumes, after a berthd restart) checks for the container's current run. */
  start(c: ContainerRecord, resume = false): void {
    const s = healthSettings(c.config.Healthcheck);
    this.stop(c.id);
    if (!s) return;
    if (!resume || !c.state.health) this.host.record(c, initialHealth(), false);
    const run = { monitorPid: c.state.monitorPid, abort: new AbortController(), timer: undefined as NodeJS.Timeout | undefined };
    this.runs.set(c.id, run);
    const startedAt = Date.parse(c.state.startedAt);
    const schedule = (delay: number) => {
      run.timer = setTimeout(() => void tick(), delay);
      run.timer.unref();
    };
    const current = () => {
      const cur = this.host.get(c.id);
      return cur && this.runs.get(c.id) === run && cur.state.monitorPid === run.monitorPid && cur.state.status !== 'exited' ? cur : undefined;
    };
    const tick = async () => {
      let cur = current();
      if (!cur) return;
      if (cur.state.status !== 'running') { schedule(s.intervalMs); return; }
      const start = new Date();
      const timeout = new AbortController();
      const t = setTimeout(() => timeout.abort(), s.timeoutMs);
      const stopAll = () => timeout.abort();
      run.abort.signal.addEventListener('abort', stopAll, { once: true });
      let result: HealthLogEntry;
      try {
        const r = await this.host.probe(c.id, s.args, timeout.signal);
        result = timeout.signal.aborted
          ? timeoutResult(start, new Date(), s.timeoutMs)
          : { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: r.exitCode, Output: r.output };
      } catch (e) {
        result = { Start: start.toISOString(), End: new Date().toISOString(), ExitCode: -1, Output: e instanceof Error ? e.message : String(e) };
      } finally {
        clearTimeout(t);
        run.abort.signal.removeEventListener('abort', stopAll);
      }
      cur = current();
      if (!cur || cur.state.status !== 'running') return;
      const prev = cur.state.health ?? initialHealth();
      const next = nextHealth(prev, result, s, startedAt);
      this.host.record(cur, next, next.status !== prev.status);
      if (next.status === 'unhealthy' && prev.status !== 'unhealthy') {
        const action = healthActionOf(cur.config.Labels);
        if (action !== 'none') {
          this.host.act(cur, action);
          return;
        }
      }
      schedule(nextProbeDelay(next, s, startedAt, Date.now()));
    };
    schedule(nextProbeDelay(c.state.health ?? initialHealth(), s, startedAt, Date.now()));
  }

  /** Stops the checks of a container (it stopped, exited or is removed); a running probe is killed. */
  stop(id: string): void {
    const run = this.runs.get(id);
    if (!run) return;
    this.runs.delete(id);
    if (run.timer) clearTimeout(run.timer);
    run.abort.abort();
  }
}
