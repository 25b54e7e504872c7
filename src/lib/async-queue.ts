/**
 * A push-based async iterator with a bounded buffer: the bridge between pub/sub callbacks and a
 * GraphQL subscription. Cleanup callbacks run exactly once, whether the consumer stops
 * (return), the producer ends it, or it overflows because the consumer cannot keep up.
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T> {
  // A server holds one of these per subscription, mostly idle: the lists are made when first
  // needed, and a consumer waits in a single slot (graphql-ws asks for one event at a time).
  private buffer: T[] | undefined;
  /** The consumer waiting for the next event. */
  private waiter: { resolve: (result: IteratorResult<T>) => void; reject: (err: unknown) => void } | undefined;
  /** Further consumers, when next() is called again before the previous call resolved. */
  private moreWaiters: NonNullable<AsyncQueue<T>['waiter']>[] | undefined;
  private cleanups: (() => void)[] | undefined;
  /** Producers waiting for the consumer to catch up (see whenBelow). */
  private roomWaiters: { below: number; resolve: () => void }[] | undefined;
  private finished = false;
  private failure: unknown;

  constructor(private readonly maxBuffer = 10_000) {}

  get done() {
    return this.finished;
  }

  /** Registers work to undo when the iterator finishes (unlisten, clear timers). */
  onFinish(cleanup: () => void): void {
    if (this.finished) cleanup();
    else (this.cleanups ??= []).push(cleanup);
  }

  /** Events buffered and not yet taken by the consumer. */
  get size() {
    return this.buffer?.length ?? 0;
  }

  /**
   * Resolves once fewer than `n` events are buffered, or the queue has finished. A producer that
   * can wait (a catch-up read from the database) uses it so as not to outrun a slow consumer.
   */
  whenBelow(n: number): Promise<void> {
    if (this.finished || this.size < n) return Promise.resolve();
    return new Promise((resolve) => (this.roomWaiters ??= []).push({ below: n, resolve }));
  }

  push(value: T): void {
    if (this.finished) return;
    const waiter = this.takeWaiter();
    if (waiter) {
      waiter.resolve({ value, done: false });
      return;
    }
    if (this.size >= this.maxBuffer) {
      this.fail(new Error('Subscriber is too slow: event buffer overflowed'));
      return;
    }
    (this.buffer ??= []).push(value);
  }

  /** Ends the stream after the buffered events; with an error, the consumer sees it next. */
  end(): void {
    if (this.finished) return;
    this.finish();
    for (let waiter = this.takeWaiter(); waiter; waiter = this.takeWaiter()) waiter.resolve({ value: undefined, done: true });
  }

  fail(err: unknown): void {
    if (this.finished) return;
    this.failure = err;
    this.buffer = undefined;
    this.finish();
    for (let waiter = this.takeWaiter(); waiter; waiter = this.takeWaiter()) waiter.reject(err);
  }

  next(): Promise<IteratorResult<T>> {
    if (this.buffer?.length) {
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
      if (!this.waiter) this.waiter = { resolve, reject };
      else (this.moreWaiters ??= []).push({ resolve, reject });
    });
  }

  return(): Promise<IteratorResult<T>> {
    this.buffer = undefined;
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

  private takeWaiter() {
    const waiter = this.waiter;
    this.waiter = this.moreWaiters?.shift();
    return waiter;
  }

  private wakeProducers() {
    if (!this.roomWaiters?.length) return;
    const size = this.size;
    const still = this.roomWaiters.filter((w) => size >= w.below);
    for (const w of this.roomWaiters) if (size < w.below) w.resolve();
    this.roomWaiters = still;
  }

  private finish() {
    this.finished = true;
    for (const w of this.roomWaiters?.splice(0) ?? []) w.resolve();
    for (const cleanup of this.cleanups?.splice(0) ?? []) {
      try {
        cleanup();
      } catch {
        // Cleanup is best effort; one failing must not keep the others from running.
      }
    }
  }
}
