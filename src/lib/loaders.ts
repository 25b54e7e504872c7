import type DataLoader from 'dataloader';
import type { Viewer } from '../auth/viewer.js';

/** Makes one request's loader of a kind, for the request's viewer (null when anonymous). */
export type LoaderFactory = (viewer: Viewer | null) => DataLoader<never, unknown>;

/** One request's loaders, by name, as the modules gave their factories. */
export type RequestLoaders<F extends Record<string, LoaderFactory>> = { readonly [N in keyof F]: ReturnType<F[N]> };

/**
 * Per-request batching: a page of N rows costs one statement per relation, not N. Each module
 * gives the factories of its loaders; this makes a request's set of them, each loader made on
 * first read. Contexts are made per request and, for subscriptions, per delivered event: most use
 * one or two loaders, so none is built in advance, and the getters live on the prototype, so a
 * set that reads none costs one object and no closures.
 */
export function defineLoaders<F extends Record<string, LoaderFactory>>(factories: F): (viewer: Viewer | null) => RequestLoaders<F> {
  class Loaders {
    readonly made: { [name: string]: DataLoader<never, unknown> } = {};
    constructor(readonly viewer: Viewer | null) {}
  }
  for (const [name, make] of Object.entries(factories)) {
    Object.defineProperty(Loaders.prototype, name, {
      get(this: Loaders) {
        return (this.made[name] ??= make(this.viewer));
      },
    });
  }
  return (viewer) => new Loaders(viewer) as unknown as RequestLoaders<F>;
}

/** Rows by key, for a loader answering one row (or null) per key. */
export const byKey = <T, K>(rows: T[], key: (row: T) => K): Map<K, T> => new Map(rows.map((r) => [key(r), r]));

/** Rows grouped by key, for a loader answering a list per key. */
export function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = groups.get(k);
    if (list) list.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}
