import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import type { Client } from 'graphql-ws';
import { waitingFor } from './pending.js';

/**
 * A subscription whose events are collected as they arrive, so a test can wait for the n-th
 * one. `error` holds what ended it with an error; `done` is set when the server completed it.
 */
export type Collector<T> = {
  events: T[];
  errors: unknown[];
  done: boolean;
  /** Resolves when at least `n` events arrived; rejects if the subscription ends before. */
  waitFor(n: number): Promise<T[]>;
  /** Resolves when the subscription ends. */
  waitForEnd(): Promise<void>;
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
    waitFor: (n) =>
      until(
        () => c.events.length >= n || c.done,
        waiters,
        () => `${c.events.length}/${n} events, errors: ${JSON.stringify(c.errors)}`,
      ).then(() => {
        if (c.events.length < n) throw new Error(`subscription ended after ${c.events.length}/${n} events: ${JSON.stringify(c.errors)}`);
        return c.events;
      }),
    waitForEnd: () =>
      until(
        () => c.done,
        waiters,
        () => `the end of a subscription (${c.events.length} events so far)`,
      ),
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

/** Resolves once `check` holds, re-checked whenever a waiter is called. */
function until(check: () => boolean, waiters: (() => void)[], describe: () => string): Promise<void> {
  if (check()) return Promise.resolve();
  return waitingFor(
    describe,
    () =>
      new Promise<void>((resolve) => {
        const wait = () => (check() ? resolve() : waiters.push(wait));
        waiters.push(wait);
      }),
  );
}

/**
 * Waits until `check` holds, polling (for state that has no event, such as a Redis count). There
 * is no deadline: a condition that never comes is a test that runs into vitest's own timeout,
 * which then reports what it was still waiting for (see pending.ts).
 */
export async function eventually(check: () => Promise<boolean> | boolean, intervalMs = 50): Promise<void> {
  await waitingFor(
    () => `eventually(${String(check)})`,
    async (wait) => {
      while (!(await check())) {
        // The test is over (timed out): stop polling a server that is being stopped.
        if (wait.abandoned) return new Promise<never>(() => {});
        await new Promise((r) => setTimeout(r, intervalMs));
      }
    },
  );
}
