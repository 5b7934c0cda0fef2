import { promises as fsp, watch } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { LogEntry, LogReadOptions, LogReader } from './runtime';
import { backOverPartials, dateKey, headAt, LogSource, parseHead, previousLine, seekSince, tailStart, timeKey } from './log-seek';

/**
 * Reader for a container's log: conmon's k8s-file format, one line per record,
 * `RFC3339Nano SP stream SP (F|P) SP text`, where F ends a line (the newline itself is not stored)
 * and P is a partial line to be joined with the records that follow it on the same stream.
 *
 * A log is the live file LOG plus the files rotated away from it (docs/logging.md), oldest first:
 * LOG.N[.gz] ... LOG.1[.gz], LOG. The reader goes across them in that order; `--since` binary
 * searches the timestamps and `--tail` reads backwards, so neither reads whole files.
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

/** The rotated files of a log named `base` among a directory's entries, oldest first. */
export function rotatedLogNames(base: string, entries: string[]): string[] {
  const re = new RegExp(`^${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(\\d+)(\\.gz)?$`);
  const found: Array<{ name: string; n: number }> = [];
  for (const e of entries) {
    const m = re.exec(e);
    if (m) found.push({ name: e, n: Number(m[1]) });
  }
  // A file caught between its plain and its .gz name has both: the sort keeps them adjacent.
  return found.sort((a, b) => b.n - a.n || a.name.length - b.name.length).map((f) => f.name);
}

/** One open file of a log. A rotated file's size is fixed when opened; the live one grows. */
interface OpenLog {
  src: LogSource;
  ino: number;
  /** Bytes when opened (a rotated file never changes; a .gz is inflated on first use). */
  end(): Promise<number>;
  close(): Promise<void>;
}

const inflate = promisify(gunzip);

async function openLog(path: string): Promise<OpenLog | undefined> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(path, 'r');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const st = await fh.stat();
  if (path.endsWith('.gz')) {
    let data: Promise<Buffer> | undefined;
    const load = () => (data ??= fh.readFile().then((z) => inflate(z)).catch(() => Buffer.alloc(0)));
    return {
      ino: st.ino, end: async () => (await load()).length, close: () => fh.close(),
      src: { size: async () => (await load()).length, read: async (b, pos) => (await load()).copy(b, 0, pos, Math.min((await load()).length, pos + b.length)) },
    };
  }
  return {
    ino: st.ino, end: async () => st.size, close: () => fh.close(),
    src: { size: async () => (await fh.stat()).size, read: async (b, pos) => (await fh.read(b, 0, b.length, pos)).bytesRead },
  };
}

/**
 * Opens every file of a log, newest first, so a rotation meanwhile shows up as a file seen twice
 * (skipped by inode) rather than as a gap. Returns them oldest first; `live` may be missing
 * (between a rotation's rename and conmon's reopen, or before the container first ran).
 */
async function openChain(path: string): Promise<{ rotated: OpenLog[]; live?: OpenLog }> {
  const live = await openLog(path);
  const seen = new Set<number>(live ? [live.ino] : []);
  let entries: string[] = [];
  try { entries = await fsp.readdir(dirname(path)); } catch { /* no directory: no log */ }
  const rotated: OpenLog[] = [];
  const taken = new Set<string>();
  for (const name of rotatedLogNames(basename(path), entries).reverse()) {
    const key = name.replace(/\.gz$/, '');
    if (taken.has(key)) continue;
    // A plain file compressed meanwhile is found under its .gz name.
    const f = await openLog(join(dirname(path), name)) ?? (name.endsWith('.gz') ? undefined : await openLog(join(dirname(path), `${name}.gz`)));
    if (!f) continue;
    if (seen.has(f.ino)) { await f.close(); continue; }
    seen.add(f.ino);
    taken.add(key);
    rotated.unshift(f);
  }
  return { rotated, live };
}

/** The epoch-ns time of a file's first record, or undefined when it has none. */
async function firstKey(f: OpenLog): Promise<bigint | undefined> {
  const buf = Buffer.alloc(64);
  const n = await f.src.read(buf, 0);
  return parseHead(buf.subarray(0, n))?.key;
}

const READ_CHUNK = 256 * 1024;

/** Reads a source's records from `pos`, keeping an incomplete last line for the next call. */
class Cursor {
  private rest = Buffer.alloc(0);
  constructor(readonly file: OpenLog, public pos: number) {}
  /** Records from pos up to `end` (default: the current size), at most READ_CHUNK bytes a call. */
  async next(end?: number): Promise<LogRecord[] | undefined> {
    const limit = end ?? await this.file.src.size();
    if (limit <= this.pos) return undefined;
    const buf = Buffer.alloc(Math.min(limit - this.pos, READ_CHUNK));
    const n = await this.file.src.read(buf, this.pos);
    if (n <= 0) return undefined;
    this.pos += n;
    const data = this.rest.length ? Buffer.concat([this.rest, buf.subarray(0, n)]) : buf.subarray(0, n);
    const lastNl = data.lastIndexOf(0x0a);
    this.rest = lastNl < 0 ? data : Buffer.from(data.subarray(lastNl + 1));
    return lastNl < 0 ? [] : parseLogRecords(data.subarray(0, lastNl + 1));
  }
}

/**
 * Reads a container log. `tail` counts entries from the end (reading backwards, across rotated
 * files); `since` seeks by binary search; `until` stops; `follow` keeps reading as conmon appends
 * and across rotations, until `stopWhen` resolves and the log is drained, or `signal` aborts.
 */
export const readLogs: LogReader = async function* readLogs(logPath: string, opts: LogReadOptions): AsyncGenerator<LogEntry> {
  let stopped = false;
  opts.stopWhen?.then(() => { stopped = true; }, () => { stopped = true; });
  let chain = await openChain(logPath);
  while (!chain.live && !chain.rotated.length) {
    // Following a log that does not exist yet: wait for it.
    if (!opts.follow || stopped || opts.signal?.aborted) return;
    await new Promise((r) => setTimeout(r, 50));
    chain = await openChain(logPath);
  }
  const files = [...chain.rotated, ...(chain.live ? [chain.live] : [])];
  const open = new Set<OpenLog>(files);
  const joiner = new Joiner();
  const since = opts.since?.getTime();
  const until = opts.until?.getTime();
  const keep = (e: LogEntry) => since === undefined || e.time.getTime() >= since;
  /** The last record read (or skipped by the start position): files after a rotation begin later. */
  let lastKey: bigint | undefined;
  try {
    // Where to start: a file and an offset in it; the later of what tail and since ask for.
    let startIdx = 0;
    let startOff = 0;
    const later = (i: number, off: number) => { if (i > startIdx || (i === startIdx && off > startOff)) { startIdx = i; startOff = off; } };
    if (opts.tail !== undefined) {
      let remaining = opts.tail;
      startIdx = files.length - 1;
      startOff = await files[startIdx].end();
      for (let i = files.length - 1; i >= 0; i--) {
        const r = await tailStart(files[i].src, remaining, await files[i].end());
        startIdx = i; startOff = r.offset;
        if (r.complete) break;
        remaining = r.remaining;
      }
    }
    // With --tail too, the tail's first entry may already be at or after `since`: records are in
    // time order, so the search could only find an earlier start, and the later one wins.
    const tailIsLater = opts.since && opts.tail !== undefined && startOff < (await files[startIdx].end())
      && ((await headAt(files[startIdx].src, startOff))?.key ?? -1n) >= dateKey(opts.since);
    if (opts.since && !tailIsLater) {
      const key = dateKey(opts.since);
      let i = files.length - 1;
      for (; i > 0; i--) {
        const first = await firstKey(files[i]);
        if (first !== undefined && first <= key) break;
      }
      let off = await backOverPartials(files[i].src, await seekSince(files[i].src, key, await files[i].end()));
      if (off === 0 && i > 0) {
        // A line split by the rotation starts in the older file.
        const end = await files[i - 1].end();
        const back = await backOverPartials(files[i - 1].src, end);
        if (back < end) { i--; off = back; }
      }
      if (opts.tail === undefined) { startIdx = i; startOff = off; } else later(i, off);
    }
    if (startOff > 0) lastKey = (await previousLine(files[startIdx].src, startOff))?.head?.key;

    const emit = (records: LogRecord[]): { out: LogEntry[]; done: boolean } => {
      const out: LogEntry[] = [];
      for (const r of records) {
        lastKey = timeKey(r.timeText) ?? lastKey;
        const e = joiner.push(r);
        if (!e) continue;
        if (until !== undefined && e.time.getTime() > until) return { out, done: true };
        if (keep(e)) out.push(e);
      }
      return { out, done: false };
    };

    // The rotated files, then the live one.
    let cur: Cursor | undefined;
    for (let i = startIdx; i < files.length; i++) {
      const c = new Cursor(files[i], i === startIdx ? startOff : 0);
      if (files[i] === chain.live) { cur = c; break; }
      const end = await files[i].end();
      for (let recs = await c.next(end); recs; recs = await c.next(end)) {
        const { out, done } = emit(recs);
        yield* out;
        if (done) return;
      }
    }
    let curIno = cur?.file.ino;
    // Without follow the log is read as it was when asked: a container writing faster than we
    // read must not keep the read going.
    const snapshotEnd = !opts.follow && cur ? await cur.file.end() : undefined;
    for (;;) {
      if (opts.signal?.aborted) return;
      const recs = cur ? await cur.next(snapshotEnd) : undefined;
      if (recs) {
        const { out, done } = emit(recs);
        yield* out;
        if (done) return;
        continue;
      }
      // At the end of the file we hold. Has conmon moved on to a new one?
      const st = await fsp.stat(logPath).catch(() => undefined);
      if (opts.follow && st && st.ino !== curIno) {
        // conmon closed the old file before making the new one: drain it, then read the files
        // rotated since (if we fell behind by more than one), then the new live file.
        while (cur) {
          const more = await cur.next();
          if (!more) break;
          const { out, done } = emit(more);
          yield* out;
          if (done) return;
        }
        const next = await openChain(logPath);
        for (const f of next.rotated) open.add(f);
        if (next.live) open.add(next.live);
        for (const f of next.rotated) {
          const fk = await firstKey(f);
          if (f.ino === curIno || fk === undefined || (lastKey !== undefined && fk <= lastKey)) continue;
          const c = new Cursor(f, 0);
          const end = await f.end();
          for (let more = await c.next(end); more; more = await c.next(end)) {
            const { out, done } = emit(more);
            yield* out;
            if (done) return;
          }
        }
        cur = next.live ? new Cursor(next.live, 0) : undefined;
        curIno = next.live?.ino;
        continue;
      }
      if (!opts.follow) break;
      if (stopped) {
        // The container is gone: whatever conmon wrote is on disk; one more pass drains it.
        if (cur && (await cur.file.src.size()) > cur.pos) continue;
        break;
      }
      await waitForChange(logPath, opts.signal, opts.stopWhen);
    }
    for (const e of joiner.flush()) if (keep(e)) yield e;
  } finally {
    for (const f of open) await f.close().catch(() => undefined);
  }
};

/** Resolves on a change in the log's directory, on abort, on stopWhen, or after a short poll interval. */
function waitForChange(logPath: string, signal?: AbortSignal, stopWhen?: Promise<unknown>): Promise<void> {
  return new Promise((resolve) => {
    let w: ReturnType<typeof watch> | undefined;
    const base = basename(logPath);
    const done = () => { clearTimeout(t); w?.close(); signal?.removeEventListener('abort', done); resolve(); };
    try {
      w = watch(dirname(logPath), (_ev, name) => { if (!name || name.toString().startsWith(base)) done(); });
      w.on('error', done);
    } catch { /* fall back to polling */ }
    const t = setTimeout(done, 250);
    signal?.addEventListener('abort', done);
    stopWhen?.then(done, done);
  });
}

/** A point in a live log (attach notes it, to find later what conmon wrote after it). */
export interface LogMark {
  path: string;
  ino: number;
  offset: number;
}

/** Marks the current end of a log; undefined when it does not exist. */
export async function markLog(path: string): Promise<LogMark | undefined> {
  try {
    const st = await fsp.stat(path);
    return { path, ino: st.ino, offset: st.size };
  } catch {
    return { path, ino: -1, offset: 0 };
  }
}

/**
 * The log bytes written since a mark: the rest of the marked file (rotated to LOG.1 meanwhile,
 * if it was) and the live file. Undefined when that cannot be told (rotated further, compressed,
 * deleted, truncated).
 */
export async function readSinceMark(mark: LogMark): Promise<Buffer | undefined> {
  const readFrom = async (path: string, ino: number, offset: number): Promise<Buffer | undefined> => {
    let fh: fsp.FileHandle;
    try { fh = await fsp.open(path, 'r'); } catch { return undefined; }
    try {
      const st = await fh.stat();
      if ((ino !== -1 && st.ino !== ino) || st.size < offset) return undefined;
      const buf = Buffer.alloc(st.size - offset);
      const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
      return buf.subarray(0, bytesRead);
    } finally {
      await fh.close();
    }
  };
  const st = await fsp.stat(mark.path).catch(() => undefined);
  if (mark.ino === -1 || (st && st.ino === mark.ino)) return readFrom(mark.path, mark.ino === -1 ? -1 : mark.ino, mark.offset);
  const old = await readFrom(`${mark.path}.1`, mark.ino, mark.offset);
  if (!old) return undefined;
  const live = st ? await readFrom(mark.path, st.ino, 0) : Buffer.alloc(0);
  return live ? Buffer.concat([old, live]) : undefined;
}
