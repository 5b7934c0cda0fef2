import { fdatasync, fsync, writev } from 'node:fs';

/** Linux's IOV_MAX: the most buffers one writev takes. */
const IOV_MAX = 1024;

export interface FdWriterOptions {
  /** Offset of the first byte (pwritev); default 0. */
  position?: number;
  /** How many bytes may wait unwritten before `write` asks the caller to wait; default 8 MiB. */
  maxBuffered?: number;
  /**
   * Start writing dirty pages back every so many bytes (an `fdatasync` in the background, never
   * waited for by `write`), so that the final `sync` finds little left to do. Default: never.
   */
  syncBehind?: number;
}

/**
 * Writes a stream of chunks to a file descriptor without waiting for each one: chunks queue while
 * a write is in flight and go out together in one `writev`. A 200 MB blob arriving in 64 KB socket
 * reads is then ~100 system calls and thread-pool round trips instead of ~3200, and reading the
 * next chunk overlaps writing the last ones.
 *
 * Contract: chunks are written in order at consecutive offsets from `position`; a chunk must not
 * be modified after `write` took it. `write` returns a promise only when the caller should wait
 * (more than `maxBuffered` bytes queued): `const w = out.write(b); if (w) await w;`. The first
 * write error is kept and thrown by the next `write`, `flush` or `sync`. The descriptor stays the
 * caller's: close it only after `flush`, `sync` or `settle` resolved.
 */
export class FdWriter {
  private queue: Buffer[] = [];
  private queued = 0;
  private inFlight = false;
  private error: Error | undefined;
  private position: number;
  private readonly maxBuffered: number;
  private readonly syncBehind: number;
  private sinceSync = 0;
  private syncing: Promise<void> | undefined;
  /** Resolved when the queue drops below maxBuffered, or when everything is written. */
  private waiters: Array<{ all: boolean; resolve: () => void }> = [];
  /** Bytes handed to `write` so far. */
  written = 0;

  constructor(private readonly fd: number, opts: FdWriterOptions = {}) {
    this.position = opts.position ?? 0;
    this.maxBuffered = opts.maxBuffered ?? 8 << 20;
    this.syncBehind = opts.syncBehind ?? 0;
  }

  write(chunk: Buffer): Promise<void> | undefined {
    if (this.error) return Promise.reject(this.error);
    if (chunk.length === 0) return undefined;
    this.queue.push(chunk);
    this.queued += chunk.length;
    this.written += chunk.length;
    if (!this.inFlight) this.next();
    if (this.queued <= this.maxBuffered) return undefined;
    return new Promise<void>((resolve) => { this.waiters.push({ all: false, resolve }); }).then(() => this.check());
  }

  /** Waits until every queued chunk is written; throws the first write error. */
  async flush(): Promise<void> {
    await this.settle();
    this.check();
  }

  /** flush, then fsync (data and metadata) the file. */
  async sync(): Promise<void> {
    await this.flush();
    await this.syncing;
    await new Promise<void>((resolve, reject) => fsync(this.fd, (e) => (e ? reject(e) : resolve())));
  }

  /** Waits until nothing is in flight (a background sync included), without throwing. */
  async settle(): Promise<void> {
    if (!this.error && (this.inFlight || this.queue.length)) await new Promise<void>((resolve) => { this.waiters.push({ all: true, resolve }); });
    await this.syncing;
  }

  private check(): void {
    if (this.error) throw this.error;
  }

  private next(): void {
    if (this.error || this.queue.length === 0) {
      this.inFlight = false;
      this.wake();
      return;
    }
    this.inFlight = true;
    const batch = this.queue.length <= IOV_MAX ? this.queue : this.queue.slice(0, IOV_MAX);
    this.queue = this.queue.length <= IOV_MAX ? [] : this.queue.slice(IOV_MAX);
    const bytes = batch.reduce((n, b) => n + b.length, 0);
    writev(this.fd, batch, this.position, (err, n) => {
      if (err) {
        this.error = err;
        this.next();
        return;
      }
      this.position += n;
      this.queued -= n;
      if (n < bytes) this.queue.unshift(...remainder(batch, n)); // a short write: the rest goes first
      this.sinceSync += n;
      if (this.syncBehind > 0 && this.sinceSync >= this.syncBehind && !this.syncing) {
        this.sinceSync = 0;
        // Write-back starts now rather than at the final fsync; errors show there too.
        this.syncing = new Promise<void>((resolve) => fdatasync(this.fd, () => { this.syncing = undefined; resolve(); }));
      }
      this.wake();
      this.next();
    });
  }

  private wake(): void {
    if (!this.waiters.length) return;
    const idle = !this.inFlight && this.queue.length === 0;
    const keep: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (idle || this.error || (!w.all && this.queued <= this.maxBuffered)) w.resolve();
      else keep.push(w);
    }
    this.waiters = keep;
  }
}

/** What a writev of `n` bytes left unwritten of `batch`. */
function remainder(batch: Buffer[], n: number): Buffer[] {
  let skip = n;
  const out: Buffer[] = [];
  for (const b of batch) {
    if (skip >= b.length) { skip -= b.length; continue; }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}
