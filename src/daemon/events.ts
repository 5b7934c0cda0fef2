import { EventEmitter } from 'node:events';

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

/**
 * The engine's event bus: a bounded in-memory history (for `--since`) plus live subscribers.
 * Publishing never blocks: a slow subscriber is the API layer's problem (it buffers or drops).
 */
export class EventBus {
  private readonly emitter = new EventEmitter();
  private readonly history: EngineEvent[] = [];
  constructor(private readonly keep = 1024) {
    this.emitter.setMaxListeners(0);
  }

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
    this.history.push(ev);
    if (this.history.length > this.keep) this.history.shift();
    this.emitter.emit('event', ev);
  }

  since(timeSeconds: number): EngineEvent[] {
    return this.history.filter((e) => e.time >= timeSeconds);
  }

  subscribe(fn: (e: EngineEvent) => void): () => void {
    this.emitter.on('event', fn);
    return () => this.emitter.off('event', fn);
  }
}
