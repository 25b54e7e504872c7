import type { Redis } from 'ioredis';
import type { EventBus } from '../../pubsub/pubsub.js';
import { topics } from '../../pubsub/topics.js';

/** A typing indicator lapses this long after the last setTyping(true). */
export const TYPING_TTL_MS = 8_000;

/**
 * Who is typing where, so that a send or a disconnect can stop an indicator set through any
 * instance. Expiry itself is enforced where events are delivered (see typingStream), so it holds
 * on every instance even if the one that set it dies.
 */
interface TypingStore {
  mark(orgId: string, userId: string, conversationId: string): Promise<void>;
  /** Clears one indicator; true if it was on. */
  clear(orgId: string, userId: string, conversationId: string): Promise<boolean>;
  /** Clears all of a user's indicators; returns the conversations where one was on. */
  clearAll(orgId: string, userId: string): Promise<string[]>;
}

class MemoryTypingStore implements TypingStore {
  private readonly byUser = new Map<string, Map<string, number>>();
  private key = (orgId: string, userId: string) => `${orgId}\u0000${userId}`;

  async mark(orgId: string, userId: string, conversationId: string) {
    const key = this.key(orgId, userId);
    const map = this.byUser.get(key) ?? new Map<string, number>();
    map.set(conversationId, Date.now() + TYPING_TTL_MS);
    this.byUser.set(key, map);
  }
  async clear(orgId: string, userId: string, conversationId: string) {
    const map = this.byUser.get(this.key(orgId, userId));
    const until = map?.get(conversationId);
    map?.delete(conversationId);
    if (map?.size === 0) this.byUser.delete(this.key(orgId, userId));
    return until !== undefined && until > Date.now();
  }
  async clearAll(orgId: string, userId: string) {
    const map = this.byUser.get(this.key(orgId, userId));
    this.byUser.delete(this.key(orgId, userId));
    const now = Date.now();
    return map ? [...map.entries()].filter(([, until]) => until > now).map(([id]) => id) : [];
  }
}

/** `sb:typing:<org>\0<user>`: a hash conversationId -> expiry (ms), expiring with its last entry. */
class RedisTypingStore implements TypingStore {
  constructor(private readonly redis: Redis) {}
  private key = (orgId: string, userId: string) => `sb:typing:${orgId}\u0000${userId}`;

  async mark(orgId: string, userId: string, conversationId: string) {
    const key = this.key(orgId, userId);
    await this.redis.multi().hset(key, conversationId, Date.now() + TYPING_TTL_MS).pexpire(key, TYPING_TTL_MS).exec();
  }
  async clear(orgId: string, userId: string, conversationId: string) {
    const key = this.key(orgId, userId);
    const [[, until], [, removed]] = (await this.redis.multi().hget(key, conversationId).hdel(key, conversationId).exec()) as [
      [null, string | null],
      [null, number],
    ];
    return removed === 1 && Number(until) > Date.now();
  }
  async clearAll(orgId: string, userId: string) {
    const key = this.key(orgId, userId);
    const [[, all]] = (await this.redis.multi().hgetall(key).del(key).exec()) as [[null, Record<string, string>]];
    const now = Date.now();
    return Object.entries(all ?? {})
      .filter(([, until]) => Number(until) > now)
      .map(([id]) => id);
  }
}

export class TypingService {
  private readonly store: TypingStore;

  constructor(
    private readonly bus: EventBus,
    redis?: Redis,
  ) {
    this.store = redis ? new RedisTypingStore(redis) : new MemoryTypingStore();
  }

  /** Caller has checked that the user takes part in the conversation. */
  async set(orgId: string, userId: string, conversationId: string, isTyping: boolean): Promise<void> {
    if (isTyping) await this.store.mark(orgId, userId, conversationId);
    else await this.store.clear(orgId, userId, conversationId);
    await this.publish(conversationId, userId, isTyping);
  }

  /** A message was sent: its sender is no longer typing there. */
  async stopOnSend(orgId: string, userId: string, conversationId: string): Promise<void> {
    if (await this.store.clear(orgId, userId, conversationId)) await this.publish(conversationId, userId, false);
  }

  /** The user's socket closed: every indicator they had on goes off. */
  async stopAll(orgId: string, userId: string): Promise<void> {
    for (const conversationId of await this.store.clearAll(orgId, userId)) {
      await this.publish(conversationId, userId, false);
    }
  }

  private publish(conversationId: string, userId: string, isTyping: boolean) {
    return this.bus.publish(topics.typing(conversationId), {
      conversationId,
      userId,
      isTyping,
      at: new Date().toISOString(),
    });
  }
}
