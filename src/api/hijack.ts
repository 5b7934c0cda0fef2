import type { Duplex } from 'node:stream';
import type { AttachConnection } from '../runtime/runtime';
import type { Ctx } from './router';
import { frame } from './stdcopy';

/**
 * Takes over the connection for a raw stream (attach, exec start). With `Upgrade: tcp` the answer is
 * `101 UPGRADED`, as dockerd sends; older clients that post without Upgrade get a 200 and the raw
 * stream on the same connection.
 */
export function hijack(ctx: Ctx): { socket: Duplex; head: Buffer } {
  if (ctx.upgrade) {
    ctx.upgrade.socket.write('HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n');
    return ctx.upgrade;
  }
  const socket = ctx.req.socket;
  socket.write('HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.raw-stream\r\n\r\n');
  return { socket, head: Buffer.alloc(0) };
}

/** Docker's detach key syntax (`ctrl-p,ctrl-q`, `a`, `ctrl-@`) to bytes. */
export function parseDetachKeys(spec: string | null | undefined): Buffer {
  const keys = (spec || 'ctrl-p,ctrl-q').split(',').map((k) => k.trim()).filter(Boolean);
  const bytes: number[] = [];
  for (const k of keys) {
    const m = /^ctrl-(.)$/i.exec(k);
    if (m) {
      const ch = m[1].toLowerCase();
      const code = ch === '@' ? 0 : ch === '[' ? 27 : ch === '\\' ? 28 : ch === ']' ? 29 : ch === '^' ? 30 : ch === '_' ? 31 : ch.charCodeAt(0) - 96;
      if (code < 0 || code > 31) throw new Error(`Unknown character: '${k}'`);
      bytes.push(code);
    } else if (k.length === 1) {
      bytes.push(k.charCodeAt(0));
    } else throw new Error(`Unknown character: '${k}'`);
  }
  return Buffer.from(bytes);
}

export interface PipeOptions {
  tty: boolean;
  stdin: boolean;
  stdout: boolean;
  stderr: boolean;
  detachKeys: Buffer;
  /** Called after the output ended, before the client's socket is closed (exec waits for its exit code here). */
  beforeClose?: () => Promise<void>;
  /** Called when the client detached with the detach keys or hung up. */
  onDetach?: () => void;
}

/**
 * Joins a client's hijacked socket and a container's attach connection. Input typed before the
 * connection is ready (docker run attaches before start) is buffered, not lost. When the output
 * ends, the socket is half-closed and drained, so clients never see a connection reset.
 */
export function pipeAttach(client: { socket: Duplex; head: Buffer }, connP: Promise<AttachConnection>, o: PipeOptions): void {
  const { socket } = client;
  let conn: AttachConnection | undefined;
  let pending: Buffer[] = client.head.length ? [client.head] : [];
  let stdinEnded = false;
  let finished = false;
  let matched = 0;

  const finish = () => {
    if (finished) return;
    finished = true;
    socket.end();
    // A client that never half-closes keeps the socket: drop it once our side is flushed.
    setTimeout(() => socket.destroy(), 2000).unref();
  };

  const deliver = (data: Buffer) => {
    if (!o.stdin) return;
    // Detach keys are matched across chunk boundaries; a partial match is held back.
    const out: number[] = [];
    for (const b of data) {
      if (o.detachKeys.length && b === o.detachKeys[matched]) {
        matched++;
        if (matched === o.detachKeys.length) {
          if (out.length) write(Buffer.from(out));
          o.onDetach?.();
          conn?.close();
          finish();
          return;
        }
        continue;
      }
      if (matched) {
        out.push(...o.detachKeys.subarray(0, matched));
        matched = 0;
      }
      out.push(b);
    }
    if (out.length) write(Buffer.from(out));
  };
  const write = (b: Buffer) => {
    if (conn) conn.writeStdin(b); else pending.push(b);
  };

  socket.on('data', (d: Buffer) => deliver(d));
  // The server pauses an upgraded socket while it reads a request body that came after the headers
  // (exec start): an explicitly paused stream does not start flowing on a new 'data' listener.
  socket.resume();
  socket.on('end', () => {
    stdinEnded = true;
    if (o.stdin && conn) conn.closeStdin();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    if (!finished) o.onDetach?.();
    finished = true;
    conn?.close();
  });

  connP.then((c) => {
    if (finished) { c.close(); return; }
    conn = c;
    if (o.stdin) {
      for (const b of pending) c.writeStdin(b);
      pending = [];
      if (stdinEnded) c.closeStdin();
    }
    c.onOutput((stream, data) => {
      if (finished) return;
      if (stream === 'stdout' && !o.stdout) return;
      if (stream === 'stderr' && !o.stderr) return;
      socket.write(o.tty ? data : frame(stream, data));
    });
    c.onEnd(() => {
      const done = o.beforeClose ? o.beforeClose() : Promise.resolve();
      done.catch(() => undefined).finally(finish);
    });
  }, (err: Error) => {
    if (!finished && !o.tty) socket.write(frame('stderr', Buffer.from(`${err.message}\n`)));
    finish();
  });
}
