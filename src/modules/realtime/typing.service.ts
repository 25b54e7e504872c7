import type { Viewer } from '../../auth/viewer.js';
import { idKey } from '../../lib/id-names.js';
import type { EventBus, RedisCommands } from '../../pubsub/pubsub.js';
import { type UserSnapshot, viewerSnapshot } from '../../pubsub/snapshots.js';
import { topics } from '../../pubsub/topics.js';
import type { ConversationService } from '../conversations/conversation.service.js';

/** A typing indicator lapses this long after the last setTyping(true) (unless tests shorten it). */
export const TYPING_TTL_MS = 8_000;

/** An indicator that is on: until when, and who (so the "stopped" event can carry the user too). */
type Mark = { until: number; user: UserSnapshot };

/**
 * Who is typing where, so that a send or a disconnect can stop an indicator set through any
 * instance. Expiry itself is enforced where events are delivered (see typingFeed), so it holds
 * on every instance even if the one that set it dies.
 */
interface TypingStore {
  mark(user: UserSnapshot, conversationId: string): Promise<void>;
  /** Clears one indicator; returns its mark if it was on. */
  clear(orgId: string, userId: string, conversationId: string): Promise<Mark | null>;
  /** Clears all of a user's indicators; returns those that were on, by conversation. */
  clearAll(orgId: string, userId: string): Promise<[string, Mark][]>;
}

const keyOf = (orgId: string, userId: string) => idKey(orgId, userId);
const live = (mark: Mark | undefined | null, now = Date.now()) => (mark && mark.until > now ? mark : null);

class MemoryTypingStore implements TypingStore {
  private readonly byUser = new Map<string, Map<string, Mark>>();

  constructor(private readonly ttlMs: number) {}

  async mark(user: UserSnapshot, conversationId: string) {
    const key = keyOf(user.orgId, user.id);
    const map = this.byUser.get(key) ?? new Map<string, Mark>();
    map.set(conversationId, { until: Date.now() + this.ttlMs, user });
    this.byUser.set(key, map);
  }
  async clear(orgId: string, userId: string, conversationId: string) {
    const map = this.byUser.get(keyOf(orgId, userId));
    const mark = map?.get(conversationId);
    map?.delete(conversationId);
    if (map?.size === 0) this.byUser.delete(keyOf(orgId, userId));
    return live(mark);
  }
  async clearAll(orgId: string, userId: string) {
    const map = this.byUser.get(keyOf(orgId, userId));
    this.byUser.delete(keyOf(orgId, userId));
    return [...(map ?? [])].filter(([, mark]) => live(mark));
  }
}

// Takes one indicator out of the hash and answers it (nil if it was off), as one command on
// Redis: every send makes this call, and MULTI, HGET, HDEL, EXEC were four.
const CLEAR_LUA = `
local mark = redis.call('HGET', KEYS[1], ARGV[1])
if mark then redis.call('HDEL', KEYS[1], ARGV[1]) end
return mark
`;

/** The script as a command of the Redis client (defineCommand). */
type ClearCommand = { sbTypingClear(key: string, conversationId: string): Promise<string | null> };

/** `sb:typing:<idKey(org, user)>`: a hash conversationId -> Mark as JSON, expiring with its last entry. */
class RedisTypingStore implements TypingStore {
  private readonly scripts: ClearCommand;

  constructor(
    private readonly redis: RedisCommands,
    private readonly ttlMs: number,
  ) {
    // Sent as EVALSHA; ioredis loads the script again if Redis has lost it.
    redis.defineCommand('sbTypingClear', { numberOfKeys: 1, lua: CLEAR_LUA });
    this.scripts = redis as unknown as ClearCommand;
  }
  private key = (orgId: string, userId: string) => `sb:typing:${keyOf(orgId, userId)}`;

  async mark(user: UserSnapshot, conversationId: string) {
    const key = this.key(user.orgId, user.id);
    const mark: Mark = { until: Date.now() + this.ttlMs, user };
    await this.redis.multi().hset(key, conversationId, JSON.stringify(mark)).pexpire(key, this.ttlMs).exec();
  }
  async clear(orgId: string, userId: string, conversationId: string) {
    return live(parse(await this.scripts.sbTypingClear(this.key(orgId, userId), conversationId)));
  }
  async clearAll(orgId: string, userId: string) {
    const key = this.key(orgId, userId);
    const [[, all]] = (await this.redis.multi().hgetall(key).del(key).exec()) as [[null, Record<string, string>]];
    return Object.entries(all ?? {}).flatMap(([id, raw]): [string, Mark][] => {
      const mark = live(parse(raw));
      return mark ? [[id, mark]] : [];
    });
  }
}

const parse = (raw: string | null): Mark | null => {
  try {
    return raw ? (JSON.parse(raw) as Mark) : null;
  } catch {
    return null;
  }
};

export class TypingService {
  private readonly store: TypingStore;

  constructor(
    private readonly bus: EventBus,
    private readonly conversations: Pick<ConversationService, 'requireParticipant'>,
    redis?: RedisCommands,
    /** How long an indicator lasts without a refresh. */
    readonly ttlMs = TYPING_TTL_MS,
  ) {
    this.store = redis ? new RedisTypingStore(redis, ttlMs) : new MemoryTypingStore(ttlMs);
  }

  /** setTyping: only a participant shows an indicator. */
  async set(viewer: Viewer, conversationId: string, isTyping: boolean): Promise<void> {
    await this.conversations.requireParticipant(viewer, conversationId);
    const user = viewerSnapshot(viewer);
    if (isTyping) await this.store.mark(user, conversationId);
    else await this.store.clear(user.orgId, user.id, conversationId);
    await this.publish(conversationId, user, isTyping);
  }

  /** A message was sent: its sender is no longer typing there. */
  async stopOnSend(orgId: string, userId: string, conversationId: string): Promise<void> {
    const mark = await this.store.clear(orgId, userId, conversationId);
    if (mark) await this.publish(conversationId, mark.user, false);
  }

  /** The user's socket closed: every indicator they had on goes off. */
  async stopAll(orgId: string, userId: string): Promise<void> {
    for (const [conversationId, mark] of await this.store.clearAll(orgId, userId)) {
      await this.publish(conversationId, mark.user, false);
    }
  }

  private publish(conversationId: string, user: UserSnapshot, isTyping: boolean) {
    // The user travels with the event, so delivering it needs no read per subscriber.
    return this.bus.publish(topics.typing(conversationId), {
      conversationId,
      userId: user.id,
      user,
      isTyping,
      at: new Date().toISOString(),
    });
  }
}
