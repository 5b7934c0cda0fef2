import { promises as fsp, watch } from 'node:fs';
import type { LogEntry, LogReadOptions, LogReader } from './runtime';

/**
 * Reader for conmon's k8s-file log format: one line per record,
 * `RFC3339Nano SP stream SP (F|P) SP text`, where F ends a line (the newline itself is not stored)
 * and P is a partial line to be joined with the records that follow it on the same stream.
 */

export interface LogRecord {
  time: Date;
  /** Nanosecond-precision timestamp text, for exact since/until comparisons. */
  timeText: string;
  stream: 'stdout' | 'stderr';
  partial: boolean;
  text: Buffer;
}

/** Parses one record line (without its newline); undefined for a malformed one. */
export function parseLogLine(line: Buffer): LogRecord | undefined {
  const s1 = line.indexOf(0x20);
  if (s1 < 0) return undefined;
  const s2 = line.indexOf(0x20, s1 + 1);
  if (s2 < 0) return undefined;
  const timeText = line.subarray(0, s1).toString();
  const stream = line.subarray(s1 + 1, s2).toString();
  if (stream !== 'stdout' && stream !== 'stderr') return undefined;
  const flag = line[s2 + 1];
  const partial = flag === 0x50; // 'P'
  if (!partial && flag !== 0x46) return undefined; // 'F'
  const text = line.subarray(Math.min(line.length, s2 + 3));
  const time = new Date(timeText);
  if (Number.isNaN(time.getTime())) return undefined;
  return { time, timeText, stream, partial, text };
}

/** Parses a buffer of complete lines into records. */
export function parseLogRecords(buf: Buffer): LogRecord[] {
  const out: LogRecord[] = [];
  let start = 0;
  for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a, start)) {
    const r = parseLogLine(buf.subarray(start, nl));
    if (r) out.push(r);
    start = nl + 1;
  }
  return out;
}

/** The bytes a record stands for: F records get their newline back. */
export function recordBytes(r: LogRecord): Buffer {
  return r.partial ? r.text : Buffer.concat([r.text, Buffer.from('\n')]);
}

/** Joins P records with what follows them on the same stream into whole entries. */
class Joiner {
  private pending: { stdout: LogRecord[]; stderr: LogRecord[] } = { stdout: [], stderr: [] };
  push(r: LogRecord): LogEntry | undefined {
    const p = this.pending[r.stream];
    if (r.partial) { p.push(r); return undefined; }
    const parts = [...p, r];
    this.pending[r.stream] = [];
    return { stream: r.stream, time: parts[0].time, data: Buffer.concat(parts.map(recordBytes)) };
  }
  /** Partial lines still pending at the end (emitted without a newline). */
  flush(): LogEntry[] {
    const out: LogEntry[] = [];
    for (const s of ['stdout', 'stderr'] as const) {
      const p = this.pending[s];
      if (p.length) out.push({ stream: s, time: p[0].time, data: Buffer.concat(p.map(recordBytes)) });
      this.pending[s] = [];
    }
    return out;
  }
}

const CHUNK = 64 * 1024;

/** Byte offset where the last `n` lines of the file start (reading backwards from the end). */
async function offsetOfLastLines(fh: fsp.FileHandle, size: number, n: number): Promise<number> {
  if (n <= 0) return size;
  let pos = size;
  let newlines = 0;
  // The final byte is the newline ending the last record; it does not start a line.
  let skipFirst = true;
  const buf = Buffer.alloc(CHUNK);
  while (pos > 0) {
    const len = Math.min(CHUNK, pos);
    pos -= len;
    await fh.read(buf, 0, len, pos);
    for (let i = len - 1; i >= 0; i--) {
      if (buf[i] !== 0x0a) continue;
      if (skipFirst && pos + i === size - 1) { skipFirst = false; continue; }
      skipFirst = false;
      // A line counts toward the tail only when it ends a whole line (F), but counting records
      // and then joining is close enough: we count complete-line records below.
      if (++newlines === n) return pos + i + 1;
    }
  }
  return 0;
}

/**
 * Reads a container log. `tail` counts records from the end (read backwards); `since`/`until`
 * filter by time; `follow` keeps reading as conmon appends, until `stopWhen` resolves and the file
 * is drained, or `signal` aborts. Log rotation by conmon (--log-size-max truncates) restarts at 0.
 */
export const readLogs: LogReader = async function* readLogs(logPath: string, opts: LogReadOptions): AsyncGenerator<LogEntry> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(logPath, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && !opts.follow) return;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    // Following a log that does not exist yet: wait for it.
    for (;;) {
      if (opts.signal?.aborted) return;
      await new Promise((r) => setTimeout(r, 50));
      try { fh = await fsp.open(logPath, 'r'); break; } catch { /* not yet */ }
    }
  }
  const joiner = new Joiner();
  let stopped = false;
  opts.stopWhen?.then(() => { stopped = true; }, () => { stopped = true; });
  const since = opts.since?.getTime();
  const until = opts.until?.getTime();
  const keep = (e: LogEntry) => (since === undefined || e.time.getTime() >= since) && (until === undefined || e.time.getTime() <= until);
  try {
    const size = (await fh.stat()).size;
    let pos = opts.tail !== undefined ? await offsetOfLastLines(fh, size, opts.tail) : 0;
    let rest = Buffer.alloc(0);
    const readMore = async (): Promise<LogEntry[]> => {
      const st = await fh.stat();
      if (st.size < pos) { pos = 0; rest = Buffer.alloc(0); } // truncated by conmon's rotation
      if (st.size === pos) return [];
      const buf = Buffer.alloc(Math.min(st.size - pos, 4 * CHUNK));
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      pos += bytesRead;
      const data = Buffer.concat([rest, buf.subarray(0, bytesRead)]);
      const lastNl = data.lastIndexOf(0x0a);
      rest = lastNl < 0 ? data : data.subarray(lastNl + 1);
      const out: LogEntry[] = [];
      if (lastNl >= 0) for (const r of parseLogRecords(data.subarray(0, lastNl + 1))) {
        const e = joiner.push(r);
        if (e && keep(e)) out.push(e);
      }
      return out;
    };
    for (;;) {
      if (opts.signal?.aborted) return;
      const entries = await readMore();
      for (const e of entries) {
        if (until !== undefined && e.time.getTime() > until) return;
        yield e;
      }
      if (entries.length) continue;
      if ((await fh.stat()).size > pos) continue;
      if (!opts.follow) break;
      if (stopped) {
        // Drain what conmon wrote before the exit was observed.
        const last = await readMore();
        for (const e of last) yield e;
        if (!last.length) break;
        continue;
      }
      await waitForChange(logPath, opts.signal, opts.stopWhen);
    }
    for (const e of joiner.flush()) if (keep(e)) yield e;
  } finally {
    await fh.close();
  }
};

/** Resolves on a change to the file, on abort, on stopWhen, or after a short poll interval. */
function waitForChange(path: string, signal?: AbortSignal, stopWhen?: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    let w: ReturnType<typeof watch> | undefined;
    const done = () => { clearTimeout(t); w?.close(); signal?.removeEventListener('abort', done); resolve(); };
    try { w = watch(path, done); w.on('error', done); } catch { /* fall back to polling */ }
    const t = setTimeout(done, 250);
    signal?.addEventListener('abort', done);
    stopWhen?.then(done, done);
  });
}
