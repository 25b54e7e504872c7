import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print, type ExecutionResult } from 'graphql';
import type { Client } from 'graphql-ws';

/**
 * A subscription whose events are collected as they arrive, so a test can wait for the n-th
 * one. `error` holds what ended it with an error; `done` is set when the server completed it.
 */
export type Collector<T> = {
  events: T[];
  errors: unknown[];
  done: boolean;
  /** Resolves when at least `n` events arrived (rejects after `timeoutMs`). */
  waitFor(n: number, timeoutMs?: number): Promise<T[]>;
  /** Resolves when the subscription ends. */
  waitForEnd(timeoutMs?: number): Promise<void>;
  stop(): void;
};

export function collect<R, V>(client: Client, document: TypedDocumentNode<R, V>, variables?: V): Collector<R> {
  const waiters: (() => void)[] = [];
  const notify = () => {
    for (const w of waiters.splice(0)) w();
  };
  const c: Collector<R> = {
    events: [],
    errors: [],
    done: false,
    waitFor: (n, timeoutMs = 10_000) =>
      until(() => c.events.length >= n || c.done, waiters, timeoutMs, () => `${c.events.length}/${n} events, errors: ${JSON.stringify(c.errors)}`).then(
        () => {
          if (c.events.length < n) throw new Error(`subscription ended after ${c.events.length}/${n} events: ${JSON.stringify(c.errors)}`);
          return c.events;
        },
      ),
    waitForEnd: (timeoutMs = 10_000) => until(() => c.done, waiters, timeoutMs, () => 'subscription did not end'),
    stop: () => unsubscribe(),
  };
  const unsubscribe = client.subscribe<R>(
    { query: print(document), variables: variables as Record<string, unknown> },
    {
      next: (result: ExecutionResult<R>) => {
        if (result.errors?.length) c.errors.push(...result.errors);
        if (result.data) c.events.push(result.data);
        notify();
      },
      error: (err) => {
        c.errors.push(err);
        c.done = true;
        notify();
      },
      complete: () => {
        c.done = true;
        notify();
      },
    },
  );
  return c;
}

function until(check: () => boolean, waiters: (() => void)[], timeoutMs: number, describe: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (check()) return resolve();
    const timer = setTimeout(() => reject(new Error(`timed out: ${describe()}`)), timeoutMs);
    const wait = () => {
      if (check()) {
        clearTimeout(timer);
        resolve();
      } else waiters.push(wait);
    };
    waiters.push(wait);
  });
}

/** Waits until `check` holds, polling (for state that has no event, such as a Redis count). */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** `promise`, or a failure if it takes more than `ms`. */
export function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`not within ${ms} ms`)), ms)));
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
