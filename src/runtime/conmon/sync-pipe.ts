import type { Duplex } from 'node:stream';

/** One message conmon writes on a sync/attach pipe: `{"data": N, "message": "..."}`. */
export interface ConmonMessage {
  data: number;
  message?: string;
}

/**
 * Reads conmon's newline-separated JSON messages from a pipe. `next()` resolves with the next
 * message, or undefined when the pipe closed first.
 */
export class ConmonPipeReader {
  private buf = '';
  private messages: ConmonMessage[] = [];
  private waiters: Array<(m: ConmonMessage | undefined) => void> = [];
  private closed = false;

  constructor(private readonly pipe: Duplex) {
    pipe.setEncoding('utf8');
    pipe.on('data', (s: string) => {
      this.buf += s;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl).trim();
        this.buf = this.buf.slice(nl + 1);
        if (line) this.push(parseMessage(line));
      }
    });
    const end = () => {
      if (this.closed) return;
      const rest = this.buf.trim();
      this.buf = '';
      if (rest) this.push(parseMessage(rest));
      this.closed = true;
      for (const w of this.waiters.splice(0)) w(undefined);
    };
    pipe.on('end', end);
    pipe.on('close', end);
    pipe.on('error', end);
  }

  private push(m: ConmonMessage): void {
    const w = this.waiters.shift();
    if (w) w(m); else this.messages.push(m);
  }

  next(): Promise<ConmonMessage | undefined> {
    const m = this.messages.shift();
    if (m) return Promise.resolve(m);
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  destroy(): void {
    this.pipe.destroy();
  }
}

export function parseMessage(line: string): ConmonMessage {
  try {
    const v = JSON.parse(line) as { data?: unknown; message?: unknown };
    return { data: Number(v.data), message: typeof v.message === 'string' ? v.message : undefined };
  } catch {
    return { data: -1, message: line };
  }
}
