/**
 * What the database answered a statement with: pg's and PGlite's DatabaseError alike carry a
 * SQLSTATE `code`, e.g. "23505" (unique_violation), and a `severity`.
 */
export type PgError = { code: string; severity: string; constraint?: string };

/** Causes followed before giving up: drizzle wraps the driver's error once, a caller maybe again. */
const MAX_DEPTH = 5;
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** Whether `value` itself is a database's answer (not a wrapper of one, nor a Node error like EPIPE). */
export function isPgError(value: unknown): boolean {
  const { code, severity } = value as { code?: unknown; severity?: unknown };
  return typeof code === 'string' && SQLSTATE.test(code) && typeof severity === 'string';
}

/**
 * The database's error behind `err`, found in its `cause` chain: drizzle wraps driver errors
 * (DrizzleQueryError) with the driver's error as `cause`. Undefined for any other failure.
 */
export function pgError(err: unknown): PgError | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < MAX_DEPTH; e = (e as { cause?: unknown }).cause, depth++) {
    if (isPgError(e)) return e as PgError;
  }
  return undefined;
}

/** The SQLSTATE of the database's error behind `err` (see pgError). */
export const pgErrorCode = (err: unknown): string | undefined => pgError(err)?.code;

export const UNIQUE_VIOLATION = '23505';
