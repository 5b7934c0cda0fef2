/** Serialises async work per key (one layer chain ID at a time), in arrival order. */
export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => { release = r; });
    const tail = prev.then(() => mine);
    this.tails.set(key, tail);
    await prev;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

/** Reference counts of keys that live operations still need (so garbage collection leaves them). */
export class Pins {
  private readonly counts = new Map<string, number>();

  pin(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  unpin(key: string): void {
    const n = (this.counts.get(key) ?? 0) - 1;
    if (n <= 0) this.counts.delete(key);
    else this.counts.set(key, n);
  }

  has(key: string): boolean {
    return this.counts.has(key);
  }
}
