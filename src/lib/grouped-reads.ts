/**
 * Reads by key, grouped as the send path groups its writes: while `maxRunning` reads run, the keys
 * asked for wait, and the next read fetches all of them in one statement. Without load a key is
 * read at once, alone; under load one round trip serves many callers.
 */
export class GroupedReads<K, V> {
  private waiting = new Map<K, { resolve: (value: V | undefined) => void; reject: (err: unknown) => void }[]>();
  private running = 0;

  constructor(
    /** The values of the keys found (at most `maxBatch` keys), in one statement. */
    private readonly read: (keys: K[]) => Promise<Map<K, V>>,
    private readonly maxRunning = 2,
    private readonly maxBatch = 500,
  ) {}

  get(key: K): Promise<V | undefined> {
    return new Promise((resolve, reject) => {
      const callers = this.waiting.get(key);
      if (callers) callers.push({ resolve, reject });
      else this.waiting.set(key, [{ resolve, reject }]);
      this.next();
    });
  }

  private next(): void {
    while (this.running < this.maxRunning && this.waiting.size > 0) {
      const batch = [...this.waiting].slice(0, this.maxBatch);
      for (const [key] of batch) this.waiting.delete(key);
      this.running++;
      this.read(batch.map(([key]) => key))
        .then(
          (found) => {
            for (const [key, callers] of batch) for (const caller of callers) caller.resolve(found.get(key));
          },
          (err: unknown) => {
            for (const [, callers] of batch) for (const caller of callers) caller.reject(err);
          },
        )
        .finally(() => {
          this.running--;
          this.next();
        });
    }
  }
}
