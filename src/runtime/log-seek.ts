/**
 * Finding where to start reading a k8s-file log (`RFC3339Nano stream F|P text` lines) without
 * reading all of it: binary search on the timestamps for `--since` (conmon appends in time order),
 * and a backwards scan for `--tail`. Both work on a LogSource, so they run the same on a live file
 * and on an inflated rotated `.gz`, and tests can count the bytes they touch.
 */

/** Random access to the bytes of one log file. */
export interface LogSource {
  /** Bytes readable now (a live file grows; callers pass the size they saw). */
  size(): Promise<number>;
  /** Reads up to `buf.length` bytes at `pos`; returns how many were read. */
  read(buf: Buffer, pos: number): Promise<number>;
}

/** A LogSource over bytes in memory (an inflated rotated file, or a test's log). */
export function bufferSource(data: Buffer): LogSource {
  return {
    size: async () => data.length,
    read: async (buf, pos) => data.copy(buf, 0, pos, Math.min(data.length, pos + buf.length)),
  };
}

/** The parts of a record's head that seeking needs. */
export interface RecordHead {
  /** Nanoseconds since the epoch. */
  key: bigint;
  partial: boolean;
}

/** Nanoseconds since the epoch of an RFC3339Nano timestamp (conmon writes the local offset). */
export function timeKey(text: string): bigint | undefined {
  const ms = Date.parse(text);
  if (Number.isNaN(ms)) return undefined;
  const frac = /\.(\d+)/.exec(text)?.[1] ?? '';
  const ns = BigInt((frac + '000000000').slice(0, 9));
  return BigInt(Math.floor(ms / 1000)) * 1_000_000_000n + ns;
}

/** The epoch-ns key of a Date (millisecond precision). */
export function dateKey(d: Date): bigint {
  return BigInt(d.getTime()) * 1_000_000n;
}

/** Parses the head of a record line (`TIME stream F|P ...`); undefined when malformed. */
export function parseHead(line: Buffer): RecordHead | undefined {
  const s1 = line.indexOf(0x20);
  if (s1 < 0) return undefined;
  const s2 = line.indexOf(0x20, s1 + 1);
  if (s2 < 0 || s2 + 1 >= line.length) return undefined;
  const flag = line[s2 + 1];
  if (flag !== 0x46 && flag !== 0x50) return undefined; // F, P
  const key = timeKey(line.subarray(0, s1).toString('latin1'));
  return key === undefined ? undefined : { key, partial: flag === 0x50 };
}

/** conmon's record heads are about 45 bytes: read this much to parse one. */
const HEAD = 64;
const CHUNK = 64 * 1024;
/** Below this many bytes the search stops halving and scans. */
const SCAN_WINDOW = 16 * 1024;

/** Head of the record starting at `pos` (which must start a line). */
export async function headAt(src: LogSource, pos: number): Promise<RecordHead | undefined> {
  const buf = Buffer.alloc(HEAD);
  const n = await src.read(buf, pos);
  return parseHead(buf.subarray(0, n));
}

/** Offset of the first line starting at or after `pos` (`size` when none). */
export async function nextLineStart(src: LogSource, pos: number, size: number): Promise<number> {
  if (pos <= 0) return 0;
  // The line starting at pos qualifies when the byte before it ends a line. Lines are short:
  // read a little first, more while none ends.
  for (let at = pos - 1, want = 512; at < size; want = Math.min(CHUNK, want * 2)) {
    const buf = Buffer.alloc(Math.min(want, size - at));
    const n = await src.read(buf, at);
    if (n <= 0) break;
    const nl = buf.subarray(0, n).indexOf(0x0a);
    if (nl >= 0) return Math.min(size, at + nl + 1);
    at += n;
  }
  return size;
}

/**
 * Offset of the first record with time >= `since` (`size` when none), assuming records are in
 * time order: a binary search over byte offsets, each probe reading one record head, then a scan
 * of the last SCAN_WINDOW bytes. Malformed lines are skipped over.
 */
export async function seekSince(src: LogSource, since: bigint, size?: number): Promise<number> {
  const end = size ?? await src.size();
  let lo = 0; // a line start; every record before it is older than since
  let hi = end; // a line start (or the end); the record there, if any, is not older
  while (hi - lo > SCAN_WINDOW) {
    const mid = lo + Math.floor((hi - lo) / 2);
    let s = await nextLineStart(src, mid, hi);
    let head: RecordHead | undefined;
    while (s < hi && !(head = await headAt(src, s))) s = await nextLineStart(src, s + 1, hi);
    if (!head || s >= hi) break; // one huge line or garbage up to hi: scan from lo
    if (head.key < since) lo = await nextLineStart(src, s + 1, hi);
    else hi = s;
  }
  if (hi - lo <= 4 * SCAN_WINDOW) {
    // One read for the whole window, then line by line in memory.
    const buf = Buffer.alloc(hi - lo);
    const n = await src.read(buf, lo);
    for (let s = 0; s < n;) {
      const nl = buf.indexOf(0x0a, s);
      const head = parseHead(buf.subarray(s, nl < 0 ? Math.min(n, s + HEAD) : nl));
      if (head && head.key >= since) return lo + s;
      if (nl < 0) break;
      s = nl + 1;
    }
    return hi;
  }
  for (let s = lo; s < hi; s = await nextLineStart(src, s + 1, hi)) {
    const head = await headAt(src, s);
    if (head && head.key >= since) return s;
  }
  return hi;
}

/**
 * Moves a start offset back over the partial (P) records right before it, so a line split by
 * conmon is read whole (the reader then judges it by its first part's time, as Docker does).
 */
export async function backOverPartials(src: LogSource, pos: number): Promise<number> {
  let start = pos;
  for (;;) {
    const prev = await previousLine(src, start);
    if (!prev || !prev.head?.partial) return start;
    start = prev.start;
  }
}

/** The line that ends right before `pos` (a line start): its start and head. */
export async function previousLine(src: LogSource, pos: number): Promise<{ start: number; head?: RecordHead } | undefined> {
  if (pos <= 0) return undefined;
  // pos - 1 is the newline ending the previous line; find the newline before it.
  let at = pos - 1;
  const buf = Buffer.alloc(CHUNK);
  while (at > 0) {
    const from = Math.max(0, at - CHUNK);
    const n = await src.read(buf.subarray(0, at - from), from);
    const nl = buf.subarray(0, n).lastIndexOf(0x0a);
    if (nl >= 0) { const start = from + nl + 1; return { start, head: await headAt(src, start) }; }
    at = from;
  }
  return { start: 0, head: await headAt(src, 0) };
}

/**
 * Where the last `n` whole entries of a file start, reading backwards from `end`. An entry is a
 * run of P records closed by an F record, so the tail starts right after the (n+1)-th F record
 * from the end. `complete` false means the file begins inside the tail: the caller goes on in the
 * older file with `remaining` entries (0 still takes the P records that end the older file: they
 * belong to the first entry of this one).
 */
export async function tailStart(src: LogSource, n: number, size?: number): Promise<{ offset: number; remaining: number; complete: boolean }> {
  const end = size ?? await src.size();
  let closed = 0; // F records seen from the end
  let lineEnd = end; // exclusive end (after its newline) of the line being walked back over
  const buf = Buffer.alloc(CHUNK);
  const visit = async (start: number, local?: Buffer): Promise<number | undefined> => {
    const head = start >= lineEnd ? undefined : local ? parseHead(local) : await headAt(src, start);
    if (head && !head.partial) {
      if (closed === n) return lineEnd;
      closed++;
    }
    lineEnd = start;
    return undefined;
  };
  for (let pos = end; pos > 0;) {
    const from = Math.max(0, pos - CHUNK);
    const len = await src.read(buf.subarray(0, pos - from), from);
    for (let i = len - 1; i >= 0; i--) {
      // A newline ends the line before it; the one right before lineEnd ends the line we are in.
      if (buf[i] !== 0x0a || from + i === lineEnd - 1) continue;
      // Parse the head from the chunk when it is all there (almost always).
      const stop = Math.min(len, i + 1 + HEAD, lineEnd - from);
      const local = stop - (i + 1) >= HEAD || from + stop === lineEnd ? buf.subarray(i + 1, stop) : undefined;
      const found = await visit(from + i + 1, local);
      if (found !== undefined) return { offset: found, remaining: 0, complete: true };
    }
    pos = from;
  }
  const found = await visit(0);
  if (found !== undefined) return { offset: found, remaining: 0, complete: true };
  return { offset: 0, remaining: n - closed, complete: false };
}
