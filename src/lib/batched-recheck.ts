import type { Logger } from 'pino';
import { errorMessage } from '../observability/log-errors.js';

/** Items checked per statement. */
export const RECHECK_BATCH = 500;

export type RecheckOptions<T> = {
  /** What is checked, for log lines: "membership", "API key". */
  name: string;
  /** How often every watched item is checked, while any is watched. */
  everyMs: number;
  /** The keys of those of `items` (at most RECHECK_BATCH) that still hold, in one statement. */
  present(items: T[]): Promise<Set<string>>;
  log?: Logger;
};

type Entry<T> = { item: T; onGone: Set<() => void> };

/**
 * What open connections rely on and may lose behind their back (a membership, an API key), watched
 * for the whole instance: one timer re-checks every watched item in a few batched statements,
 * instead of each connection querying on its own timer (which, for connections opened together,
 * fire together and exhaust the connection pool). A tick while a re-check still runs is skipped.
 */
export class RecheckList<T> {
  private readonly watched = new Map<string, Entry<T>>();
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(private readonly options: RecheckOptions<T>) {}

  /** Calls `onGone` once a re-check finds the item under `key` gone. Returns the unwatch. */
  watch(key: string, item: T, onGone: () => void): () => void {
    let entry = this.watched.get(key);
    if (!entry) this.watched.set(key, (entry = { item, onGone: new Set() }));
    entry.onGone.add(onGone);
    if (!this.timer) {
      this.timer = setInterval(() => this.tick(), this.options.everyMs);
      this.timer.unref();
    }
    const watched = entry;
    return () => {
      watched.onGone.delete(onGone);
      if (watched.onGone.size === 0 && this.watched.get(key) === watched) this.watched.delete(key);
    };
  }

  /** Checks every watched item; tells the watchers of those that are gone, once each. */
  async recheck(): Promise<void> {
    const entries = [...this.watched];
    for (let i = 0; i < entries.length; i += RECHECK_BATCH) {
      const batch = entries.slice(i, i + RECHECK_BATCH);
      const present = await this.options.present(batch.map(([, entry]) => entry.item));
      for (const [key, entry] of batch) if (!present.has(key)) this.gone(key, entry);
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    if (this.running) return;
    this.running = true;
    this.recheck()
      .catch((err) => this.options.log?.warn({ err: errorMessage(err) }, `${this.options.name} re-check failed`))
      .finally(() => (this.running = false));
  }

  /** One watcher that fails does not keep the others open. */
  private gone(key: string, entry: Entry<T>): void {
    if (this.watched.get(key) === entry) this.watched.delete(key);
    for (const onGone of [...entry.onGone]) {
      try {
        onGone();
      } catch (err) {
        this.options.log?.warn({ err: errorMessage(err) }, `ending a connection that lost its ${this.options.name} failed`);
      }
    }
  }
}
