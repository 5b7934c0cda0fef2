/**
 * A readers-writer lock for one process: many `shared` holders or one `exclusive` holder. Garbage
 * collection holds it exclusively while it marks and sweeps; a manifest PUT holds it shared from
 * the moment it checks the blobs it refers to until the manifest is stored, so the collector never
 * removes a blob between that check and the manifest that makes it referenced. Writers are not
 * starved: once one waits, new readers queue behind it.
 */
export class RwLock {
  private readers = 0;
  private writer = false;
  private readonly queue: { exclusive: boolean; wake: () => void }[] = [];

  async shared<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(false);
    try { return await fn(); } finally { this.readers--; this.drain(); }
  }

  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    await this.acquire(true);
    try { return await fn(); } finally { this.writer = false; this.drain(); }
  }

  private acquire(exclusive: boolean): Promise<void> {
    if (this.queue.length === 0 && !this.writer && (!exclusive || this.readers === 0)) {
      if (exclusive) this.writer = true; else this.readers++;
      return Promise.resolve();
    }
    return new Promise((wake) => this.queue.push({ exclusive, wake }));
  }

  private drain(): void {
    while (this.queue.length && !this.writer) {
      const next = this.queue[0];
      if (next.exclusive) {
        if (this.readers > 0) return;
        this.writer = true;
      } else {
        this.readers++;
      }
      this.queue.shift();
      next.wake();
    }
  }
}
