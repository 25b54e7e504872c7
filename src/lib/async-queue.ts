/**
 * A push-based async iterator with a bounded buffer: the bridge between pub/sub callbacks and a
 * GraphQL subscription. Cleanup callbacks run exactly once, whether the consumer stops
 * (return), the producer ends it, or it overflows because the consumer cannot keep up.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  private readonly buffer: T[] = [];
  private readonly waiting: ((result: IteratorResult<T>) => void)[] = [];
  private readonly rejecting: ((err: unknown) => void)[] = [];
  private readonly cleanups: (() => void)[] = [];
  /** Producers waiting for the consumer to catch up (see whenBelow). */
  private readonly roomWaiters: { below: number; resolve: () => void }[] = [];
  private finished = false;
  private failure: unknown;

  constructor(private readonly maxBuffer = 10_000) {}

  get done() {
    return this.finished;
  }

  /** Registers work to undo when the iterator finishes (unlisten, clear timers). */
  onFinish(cleanup: () => void): void {
    if (this.finished) cleanup();
    else this.cleanups.push(cleanup);
  }

  /** Events buffered and not yet taken by the consumer. */
  get size() {
    return this.buffer.length;
  }

  /**
   * Resolves once fewer than `n` events are buffered, or the queue has finished. A producer that
   * can wait (a catch-up read from the database) uses it so as not to outrun a slow consumer.
   */
  whenBelow(n: number): Promise<void> {
    if (this.finished || this.buffer.length < n) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push({ below: n, resolve }));
  }

  push(value: T): void {
    if (this.finished) return;
    const resolve = this.waiting.shift();
    if (resolve) {
      this.rejecting.shift();
      resolve({ value, done: false });
      return;
    }
    if (this.buffer.length >= this.maxBuffer) {
      this.fail(new Error('Subscriber is too slow: event buffer overflowed'));
      return;
    }
    this.buffer.push(value);
  }

  /** Ends the stream after the buffered events; with an error, the consumer sees it next. */
  end(): void {
    if (this.finished) return;
    this.finish();
    for (const resolve of this.waiting.splice(0)) resolve({ value: undefined, done: true });
    this.rejecting.length = 0;
  }

  fail(err: unknown): void {
    if (this.finished) return;
    this.failure = err;
    this.buffer.length = 0;
    this.finish();
    for (const reject of this.rejecting.splice(0)) reject(err);
    this.waiting.length = 0;
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer.length > 0) {
      const value = this.buffer.shift()!;
      this.wakeProducers();
      return Promise.resolve({ value, done: false });
    }
    if (this.failure !== undefined) {
      const err = this.failure;
      this.failure = undefined;
      return Promise.reject(err);
    }
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => {
      this.waiting.push(resolve);
      this.rejecting.push(reject);
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer.length = 0;
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(err?: unknown): Promise<IteratorResult<T>> {
    this.fail(err);
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator]() {
    return this;
  }

  private wakeProducers() {
    if (this.roomWaiters.length === 0) return;
    const still = this.roomWaiters.filter((w) => this.buffer.length >= w.below);
    for (const w of this.roomWaiters) if (this.buffer.length < w.below) w.resolve();
    this.roomWaiters.splice(0, this.roomWaiters.length, ...still);
  }

  private finish() {
    this.finished = true;
    for (const w of this.roomWaiters.splice(0)) w.resolve();
    for (const cleanup of this.cleanups.splice(0)) {
      try {
        cleanup();
      } catch {
        // Cleanup is best effort; one failing must not keep the others from running.
      }
    }
  }
}
