import type { Logger } from 'pino';
import type { Viewer } from '../auth/viewer.js';
import { AppError } from '../graphql/errors.js';
import { idKey } from '../lib/id-names.js';
import { errorMessage } from '../observability/log-errors.js';
import type { RedisCommands } from '../pubsub/pubsub.js';
import { clientBucket } from '../transport/client-address.js';

/** A token bucket: `perSecond` sustained, `burst` at once. */
export type Bucket = { perSecond: number; burst: number };

export type RateLimits = {
  /** Messages sent by people. */
  userMessages: Bucket;
  /** Messages sent by agents and services (kind AGENT, API keys). */
  agentMessages: Bucket;
  /** Every other mutation by people. */
  userMutations: Bucket;
  agentMutations: Bucket;
  /** signIn / signUp attempts from one client address (an IPv6 client: its /64), signed in or not. */
  accountAttempts: Bucket;
  /** The same from every client together, on all instances: what a crowd of addresses gets. */
  accountAttemptsTotal: Bucket;
};

export const DEFAULT_RATE_LIMITS: RateLimits = {
  userMessages: { perSecond: 5, burst: 10 },
  agentMessages: { perSecond: 100, burst: 200 },
  userMutations: { perSecond: 20, burst: 40 },
  agentMutations: { perSecond: 200, burst: 400 },
  accountAttempts: { perSecond: 0.5, burst: 10 },
  accountAttemptsTotal: { perSecond: 10, burst: 50 },
};

/**
 * RATE_LIMITED with `retryAfter` (seconds) and `retryAfterMs` in extensions; on HTTP the answer is
 * a 429 with Retry-After (Yoga reads `extensions.http` and leaves it out of the response).
 */
export function rateLimitedError(message: string, waitMs: number): AppError {
  const retryAfter = Math.max(1, Math.ceil(waitMs / 1000));
  return new AppError('RATE_LIMITED', `${message}; retry in ${retryAfter} s`, {
    retryAfter,
    retryAfterMs: waitMs,
    http: { status: 429, headers: { 'retry-after': String(retryAfter) } },
  });
}

export type LimitKind = 'message' | 'mutation';

// Refills the bucket by elapsed time, takes `cost` tokens if there are enough, and answers
// {allowed, ms to wait}. Redis's own clock, so instances with skewed clocks agree.
const TOKEN_BUCKET_LUA = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1]) / 1000
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local allowed = 0
local wait = 0
if tokens >= cost then
  tokens = tokens - cost
  allowed = 1
else
  wait = math.ceil((cost - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate) + 1000)
return {allowed, wait}
`;

/** The script as a command of the Redis client (defineCommand). */
type TokenBucketCommand = {
  sbTokenBucket(key: string, perSecond: number, burst: number, cost: number): Promise<[number, number]>;
};

/**
 * Token buckets shared by all instances through Redis when it is configured: per user (and per
 * API key) for sends and other mutations, per client address for sign-ins, and whatever else
 * names its own key (an account's lockout). While Redis is unreachable each instance limits on
 * its own.
 */
export class RateLimiter {
  private readonly local = new Map<string, { tokens: number; ts: number }>();

  constructor(
    private readonly limits: RateLimits,
    private readonly log: Logger,
    private readonly redis?: RedisCommands,
  ) {
    // Sent as EVALSHA (the script's hash, not its text, with every mutation); ioredis loads the
    // script again if Redis has lost it.
    redis?.defineCommand('sbTokenBucket', { numberOfKeys: 1, lua: TOKEN_BUCKET_LUA });
  }

  /** Takes `cost` tokens or throws RATE_LIMITED with `retryAfter` (seconds) in extensions. */
  async consume(viewer: Viewer, kind: LimitKind, cost = 1): Promise<void> {
    const automated = viewer.kind === 'AGENT' || viewer.credential.type === 'apiKey';
    const bucket =
      kind === 'message'
        ? automated
          ? this.limits.agentMessages
          : this.limits.userMessages
        : automated
          ? this.limits.agentMutations
          : this.limits.userMutations;
    // An API key is limited as a whole, whoever it acts as.
    const who = viewer.credential.type === 'apiKey' ? `key:${viewer.credential.keyId}` : `user:${idKey(viewer.orgId, viewer.userId)}`;
    await this.consumeKey(`sb:rl:${kind}:${who}`, bucket, cost, `Too many ${kind === 'message' ? 'messages' : 'requests'}`);
  }

  /** Sign-in and sign-up attempts: the client's bucket first, then everyone's. */
  async consumeAccountAttempts(clientAddress: string, cost = 1): Promise<void> {
    await this.consumeKey(
      `sb:rl:account:client:${clientBucket(clientAddress)}`,
      this.limits.accountAttempts,
      cost,
      'Too many sign-in attempts from your address',
    );
    await this.consumeKey('sb:rl:account:all', this.limits.accountAttemptsTotal, cost, 'Too many sign-in attempts on this server');
  }

  /** Takes `cost` tokens of `bucket` under `key`, or throws RATE_LIMITED saying `message`. */
  async consumeKey(key: string, bucket: Bucket, cost: number, message: string): Promise<void> {
    const waitMs = await this.take(key, bucket, cost);
    if (waitMs > 0) throw rateLimitedError(message, waitMs);
  }

  /** Fills the bucket under `key` again (forgets it). */
  async reset(key: string): Promise<void> {
    this.local.delete(key);
    if (this.redis && this.redis.status === 'ready') {
      await this.redis.del(key).catch((err: Error) => this.log.warn({ err: errorMessage(err) }, 'rate limit reset failed'));
    }
  }

  private async take(key: string, bucket: Bucket, cost: number): Promise<number> {
    if (this.redis && this.redis.status === 'ready') {
      try {
        const [allowed, wait] = await (this.redis as unknown as TokenBucketCommand).sbTokenBucket(key, bucket.perSecond, bucket.burst, cost);
        return allowed ? 0 : Math.max(1, wait);
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'rate limit check fell back to this instance');
      }
    }
    return this.takeLocal(key, bucket, cost);
  }

  private takeLocal(key: string, bucket: Bucket, cost: number): number {
    const now = Date.now();
    const state = this.local.get(key) ?? { tokens: bucket.burst, ts: now };
    state.tokens = Math.min(bucket.burst, state.tokens + ((now - state.ts) * bucket.perSecond) / 1000);
    state.ts = now;
    if (this.local.size > 100_000) this.local.clear();
    this.local.set(key, state);
    if (state.tokens >= cost) {
      state.tokens -= cost;
      return 0;
    }
    return Math.max(1, Math.ceil(((cost - state.tokens) * 1000) / bucket.perSecond));
  }
}
