import { EventEmitter } from 'node:events';
import type { Db, Statement } from '../sys/database';

/** One engine event in Docker's shape (GET /events). */
export interface EngineEvent {
  Type: 'container' | 'image' | 'network' | 'volume' | 'daemon';
  Action: string;
  Actor: { ID: string; Attributes: Record<string, string> };
  scope: 'local';
  time: number;
  timeNano: number;
  // Pre-1.22 fields the docker CLI still reads for container events.
  status?: string;
  id?: string;
  from?: string;
}

/** How much history survives a restart: the newest `maxEvents`, none older than `maxAgeMs`. */
export interface EventRetention { maxEvents: number; maxAgeMs: number }

export const DEFAULT_RETENTION: EventRetention = { maxEvents: 10_000, maxAgeMs: 7 * 24 * 3600_000 };

/**
 * The engine's event bus: a bounded history (for `--since`) plus live subscribers. With a database
 * the history lives in SQLite (table `events`), so `docker events --since` reaches across a berthd
 * restart; without one it is the last `keep` events in memory (unit tests).
 * Publishing never blocks: a slow subscriber is the API layer's problem (it buffers or drops).
 */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly history: EngineEvent[] = [];
  private published = 0;
  private readonly db?: Db;
  private readonly retention: EventRetention;
  constructor(opts: { db?: Db; retention?: EventRetention; keep?: number } = {}) {
    this.emitter.setMaxListeners(0);
    this.db = opts.db;
    this.retention = opts.retention ?? { ...DEFAULT_RETENTION, maxEvents: opts.keep ?? (opts.db ? DEFAULT_RETENTION.maxEvents : 1024) };
    this.db?.exec('CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL, json TEXT NOT NULL)');
    this.db?.exec('CREATE INDEX IF NOT EXISTS events_time ON events (time_ms)');
  }

  /** Events published by this process (the `berth_events_total` counter). */
  get count(): number { return this.published; }

  publish(type: EngineEvent['Type'], action: string, id: string, attributes: Record<string, string> = {}): void {
    const now = Date.now();
    const ev: EngineEvent = {
      Type: type, Action: action, Actor: { ID: id, Attributes: attributes }, scope: 'local',
      time: Math.floor(now / 1000), timeNano: now * 1e6,
    };
    if (type === 'container' || type === 'image') {
      ev.status = action;
      ev.id = id;
      if (attributes.image) ev.from = attributes.image;
    }
    this.published++;
    if (this.db) this.persist(ev, now);
    else {
      this.history.push(ev);
      if (this.history.length > this.retention.maxEvents) this.history.shift();
    }
    this.emitter.emit('event', ev);
  }

  private insert?: Statement<[number, string]>;

  private persist(ev: EngineEvent, now: number): void {
    try {
      // Prepared once: thousands of events a second each paid for compiling the statement.
      this.insert ??= this.db!.prepare('INSERT INTO events (time_ms, json) VALUES (?, ?)');
      this.insert.run(now, JSON.stringify(ev));
      // Trim now and then rather than on every insert: retention is a bound, not an exact size.
      if (this.published % 100 === 1) {
        this.db!.prepare('DELETE FROM events WHERE time_ms < ? OR seq <= (SELECT MAX(seq) FROM events) - ?')
          .run(now - this.retention.maxAgeMs, this.retention.maxEvents);
      }
    } catch {
      // A closed database (shutdown) must not stop live subscribers from hearing the event.
    }
  }

  /** Stored events with `time` in [sinceSeconds, untilSeconds], oldest first. */
  since(sinceSeconds: number, untilSeconds = Infinity): EngineEvent[] {
    if (!this.db) return this.history.filter((e) => e.time >= sinceSeconds && e.time <= untilSeconds);
    const untilMs = Number.isFinite(untilSeconds) ? (Math.floor(untilSeconds) + 1) * 1000 - 1 : Number.MAX_SAFE_INTEGER;
    const rows = this.db.prepare('SELECT json FROM events WHERE time_ms >= ? AND time_ms <= ? ORDER BY seq')
      .all(Math.floor(sinceSeconds) * 1000, untilMs) as Array<{ json: string }>;
    return rows.map((r) => JSON.parse(r.json) as EngineEvent);
  }

  subscribe(fn: (e: EngineEvent) => void): () => void {
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }
}
