import { BadInputError } from '../graphql/errors.js';
import { isStorableDate } from './validate.js';

// Relay paging as services and repositories use it: arguments, cursors and pages, with no schema
// types, so loading a service does not load the schema builder (graphql/connection.ts has those).

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** A page of nodes as a repository returns it; the connection type turns it into edges. */
export type Page<T> = {
  nodes: T[];
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  cursorOf(node: T): string;
};

export type PageArgs = {
  first?: number | null;
  after?: string | null;
  last?: number | null;
  before?: string | null;
};

/** A request for one page, in keyset form: rows strictly after `after` and/or before `before`. */
export type PageRequest<K> = {
  /** forward: the oldest rows past `after`; backward: the newest rows before `before`. */
  direction: 'forward' | 'backward';
  limit: number;
  after?: K;
  before?: K;
};

/**
 * Validates Relay arguments: sizes 0..200 (default 50), not `first` and `last` together,
 * cursors decoded by `decode` (which returns undefined for a cursor it does not recognise).
 */
export function parsePageArgs<K>(args: PageArgs, decode: (raw: string) => K | undefined): PageRequest<K> {
  if (args.first != null && args.last != null) {
    throw new BadInputError('Pass either `first` or `last`, not both', 'first');
  }
  for (const field of ['first', 'last'] as const) {
    const n = args[field];
    if (n != null && (n < 0 || n > MAX_PAGE_SIZE)) {
      throw new BadInputError(`\`${field}\` must be between 0 and ${MAX_PAGE_SIZE}`, field);
    }
  }
  const cursor = (field: 'after' | 'before'): K | undefined => {
    const raw = args[field];
    if (raw == null) return undefined;
    const key = decode(raw);
    if (key === undefined) throw new BadInputError(`\`${field}\` is not a valid cursor`, field);
    return key;
  };
  const backward = args.last != null || (args.first == null && args.before != null);
  return {
    direction: backward ? 'backward' : 'forward',
    limit: pageLimit(args),
    after: cursor('after'),
    before: cursor('before'),
  };
}

/**
 * The rows a page holds: `last`, else `first`, else the default. The query cost (cost.ts) counts
 * pages by this too.
 */
export const pageLimit = (args: Pick<PageArgs, 'first' | 'last'>): number => args.last ?? args.first ?? DEFAULT_PAGE_SIZE;

/** Cursors are opaque to clients: base64url of "<kind>:<value>". */
export function encodeCursor(kind: string, value: string | number): string {
  return Buffer.from(`${kind}:${value}`, 'utf8').toString('base64url');
}

export function decodeCursor(kind: string, raw: string): string | undefined {
  if (raw.length > 512) return undefined;
  const text = Buffer.from(raw, 'base64url').toString('utf8');
  // NUL cannot reach Postgres text; such a cursor was never issued.
  if (text.includes('\u0000')) return undefined;
  return text.startsWith(`${kind}:`) ? text.slice(kind.length + 1) : undefined;
}

/** The largest value of a Postgres `integer` column (seq); `bigint` ones fit JavaScript's safe integers. */
export const INT4_MAX = 2 ** 31 - 1;

/**
 * Decodes an integer cursor (seq, position), or undefined if it is not one or lies past `max`,
 * the largest value its column holds: a larger one would reach SQL as a parameter out of range.
 */
export function decodeIntCursor(kind: string, raw: string, max: number): number | undefined {
  const value = decodeCursor(kind, raw);
  if (value === undefined || !/^\d{1,16}$/.test(value)) return undefined;
  const n = Number(value);
  return n <= max ? n : undefined;
}

/** The date of a cursor (epoch milliseconds or an ISO string), or undefined if it is not one Postgres takes. */
export function cursorDate(value: number | string): Date | undefined {
  const date = new Date(value);
  return isStorableDate(date) ? date : undefined;
}

/**
 * Splits a page fetched with one extra row: `rows` are in fetch order (ascending for forward,
 * descending for backward); the result is ascending, as every connection of the API is.
 */
export function trimPage<T>(rows: T[], request: PageRequest<unknown>): { nodes: T[]; hasMore: boolean } {
  const hasMore = rows.length > request.limit;
  const nodes = rows.slice(0, request.limit);
  if (request.direction === 'backward') nodes.reverse();
  return { nodes, hasMore };
}

/**
 * One page of a forward-only connection (`first`, `after`): checks the arguments, then `fetch`
 * returns up to `limit` rows past the cursor's key, in the connection's order; it is asked for one
 * more than the page holds, which tells whether there is a next page.
 */
export async function forwardPage<K, T>(
  args: PageArgs,
  decode: (raw: string) => K | undefined,
  fetch: (after: K | undefined, limit: number) => Promise<T[]>,
  cursorOf: (node: T) => string,
): Promise<Page<T>> {
  const request = parsePageArgs({ first: args.first, after: args.after }, decode);
  const { nodes, hasMore } = trimPage(await fetch(request.after, request.limit + 1), request);
  return { nodes, hasNextPage: hasMore, hasPreviousPage: request.after !== undefined, cursorOf };
}
