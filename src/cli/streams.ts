// Copying between the local terminal and a hijacked attach/exec connection: raw mode, detach keys,
// stdcopy demultiplexing, half-close on stdin EOF, and terminal resize.
import type { HijackedConnection } from '../client/engine-client';
import { StdcopyDemuxer } from '../client/stdcopy';
import { UsageError } from './flags';

export const DEFAULT_DETACH_KEYS = 'ctrl-p,ctrl-q';

/** Parses docker's detach-keys syntax ("ctrl-p,ctrl-q", "a,ctrl-@") into bytes. */
export function parseDetachKeys(spec: string): number[] {
  return spec.split(',').map((k) => {
    const key = k.trim();
    if (key.length === 1) return key.charCodeAt(0);
    const m = /^ctrl-(.)$/i.exec(key);
    if (m) {
      const c = m[1].toLowerCase();
      if (c >= 'a' && c <= 'z') return c.charCodeAt(0) - 96;
      const special: Record<string, number> = { '@': 0, '[': 27, '\\': 28, ']': 29, '^': 30, '_': 31 };
      if (c in special) return special[c];
    }
    throw new UsageError(`Unknown character: '${key}'`, 125);
  });
}

export interface StreamOptions {
  tty: boolean;
  /** Local stdin to forward, or undefined when stdin is not attached. */
  stdin?: NodeJS.ReadStream;
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
  detachKeys?: number[];
}

/**
 * Pumps a hijacked connection until the engine closes the output (or the user types the detach
 * sequence: resolves 'detached'). Puts a TTY stdin in raw mode for the duration.
 */
export function pumpStreams(conn: HijackedConnection, o: StreamOptions): Promise<'done' | 'detached'> {
  return new Promise((resolve, reject) => {
    const { socket } = conn;
    const stdin = o.stdin;
    const raw = !!(o.tty && stdin?.isTTY);
    let finished = false;
    const cleanup = () => {
      if (stdin) {
        stdin.off('data', onData);
        stdin.off('end', onEnd);
        if (raw) stdin.setRawMode(false);
        stdin.pause();
      }
    };
    const finish = (how: 'done' | 'detached', err?: Error) => {
      if (finished) return;
      finished = true;
      cleanup();
      if (err) reject(err); else resolve(how);
    };
    // Output: raw with a TTY, demultiplexed otherwise.
    const stdout = o.stdout ?? process.stdout, stderr = o.stderr ?? process.stderr;
    if (o.tty) socket.on('data', (d: Buffer) => stdout.write(d));
    else {
      const demux = new StdcopyDemuxer(stdout, stderr, (t) => stderr.write(t));
      socket.on('data', (d: Buffer) => { if (!demux.write(d)) { socket.pause(); demux.once('drain', () => socket.resume()); } });
    }
    socket.on('end', () => finish('done'));
    socket.on('close', () => finish('done'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after the output ended is the engine closing: not an error for the user.
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE') finish('done'); else finish('done', err);
    });

    // Input: forward stdin, watching for the detach sequence; half-close on EOF.
    const keys = o.detachKeys ?? [];
    let matched = 0;
    const onData = (d: Buffer) => {
      if (raw && keys.length) {
        for (let i = 0; i < d.length; i++) {
          if (d[i] === keys[matched]) {
            matched++;
            if (matched === keys.length) {
              socket.destroy();
              finish('detached');
              return;
            }
          } else matched = d[i] === keys[0] ? 1 : 0;
        }
      }
      socket.write(d);
    };
    const onEnd = () => conn.closeWrite();
    if (stdin) {
      if (raw) stdin.setRawMode(true);
      stdin.on('data', onData);
      stdin.on('end', onEnd);
      stdin.resume();
    } else {
      // No stdin: close our write side at once, as the docker CLI does.
      conn.closeWrite();
    }
  });
}

/** Sends the terminal size now and on every SIGWINCH; returns a function that stops it. */
export function monitorTtySize(resize: (h: number, w: number) => Promise<void>): () => void {
  const out = process.stdout;
  if (!out.isTTY) return () => undefined;
  const send = () => { const [w, h] = out.getWindowSize(); resize(h, w).catch(() => undefined); };
  send();
  process.on('SIGWINCH', send);
  return () => process.off('SIGWINCH', send);
}
