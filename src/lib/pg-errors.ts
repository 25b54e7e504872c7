/**
 * The SQLSTATE of a database error, e.g. "23505" (unique_violation). drizzle wraps driver errors
 * (DrizzleQueryError) with the driver's error, which carries the code, as `cause`.
 */
export function pgErrorCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export const UNIQUE_VIOLATION = '23505';
