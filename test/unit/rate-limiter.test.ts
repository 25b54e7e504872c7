// The token bucket on one instance, on a clock the test sets: the burst at once, then exactly one
// token per 1/perSecond, a retry-after that is the time to the next token, and never more than
// the burst however long the bucket rests. (Through Redis the same arithmetic runs on Redis's
// clock; test/integration/limits/rate-limits.test.ts counts its bursts.)
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Bucket, RateLimiter } from '../../src/ratelimit/rate-limiter.js';

const bucket: Bucket = { perSecond: 5, burst: 10 };
const limiter = () => new RateLimiter({} as never, pino({ level: 'silent' }));

/** How many of `n` takes at this instant go through. */
async function granted(l: RateLimiter, key: string, n: number): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i++)
    if (
      await l.consumeKey(key, bucket, 1, 'Too many').then(
        () => true,
        () => false,
      )
    )
      ok++;
  return ok;
}

/** The RATE_LIMITED error of a take that is refused. */
const refusal = (l: RateLimiter, key: string, cost = 1) =>
  l.consumeKey(key, bucket, cost, 'Too many').then(
    () => {
      throw new Error('expected RATE_LIMITED');
    },
    (err: { extensions: Record<string, unknown> }) => err.extensions,
  );

describe('token bucket', () => {
  beforeEach(() => vi.useFakeTimers({ now: new Date('2030-01-01T00:00:00Z'), toFake: ['Date'] }));
  afterEach(() => vi.useRealTimers());

  it('grants the burst at once and refuses the next with the time to the next token', async () => {
    const l = limiter();
    expect(await granted(l, 'a', 12)).toBe(10);
    expect(await refusal(l, 'a')).toMatchObject({
      code: 'RATE_LIMITED',
      retryAfterMs: 200,
      retryAfter: 1,
      http: { status: 429, headers: { 'retry-after': '1' } },
    });
    // Another key has a bucket of its own.
    expect(await granted(l, 'b', 10)).toBe(10);
  });

  it('refills one token per 1/perSecond, not a moment earlier', async () => {
    const l = limiter();
    await granted(l, 'a', 10);
    // (Steps of whole halves of a token keep the arithmetic exact.)
    vi.advanceTimersByTime(100);
    expect(await refusal(l, 'a')).toMatchObject({ retryAfterMs: 100 });
    vi.advanceTimersByTime(100);
    expect(await granted(l, 'a', 2)).toBe(1);
    // Two and a half tokens' time: two whole tokens, and half of the next one is kept.
    vi.advanceTimersByTime(500);
    expect(await granted(l, 'a', 3)).toBe(2);
    vi.advanceTimersByTime(100);
    expect(await granted(l, 'a', 1)).toBe(1);
  });

  it('never holds more than the burst, however long it rests', async () => {
    const l = limiter();
    await granted(l, 'a', 10);
    vi.advanceTimersByTime(3_600_000);
    expect(await granted(l, 'a', 20)).toBe(10);
  });

  it('charges a cost of several tokens at once, or none of it', async () => {
    const l = limiter();
    await granted(l, 'a', 7);
    // Three left: a cost of four is refused whole and takes nothing.
    expect(await refusal(l, 'a', 4)).toMatchObject({ retryAfterMs: 200 });
    expect(await granted(l, 'a', 4)).toBe(3);
  });

  it('fills a bucket again on reset', async () => {
    const l = limiter();
    await granted(l, 'a', 10);
    await l.reset('a');
    expect(await granted(l, 'a', 11)).toBe(10);
  });
});
