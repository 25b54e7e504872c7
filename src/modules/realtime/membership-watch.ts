import type { Logger } from 'pino';
import type { ConversationRepository } from '../conversations/conversation.repository.js';

/** How often watched memberships are re-checked in the database, in case a removal event was lost. */
const RECHECK_MS = 30_000;
/** Pairs checked per statement. */
const BATCH = 500;

/**
 * The safety net under membership events, for the whole instance: every live subscription
 * registers (conversation, user) here, and one timer re-checks all of them in a few batched
 * statements, instead of each subscription querying on its own timer (which, for subscriptions
 * opened together, fired together and exhausted the connection pool).
 */
export class MembershipWatch {
  private readonly watched = new Map<string, { conversationId: string; userId: string; onRemoved: Set<() => void> }>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly repo: ConversationRepository,
    private readonly log: Logger,
  ) {}

  /** Calls `onRemoved` if a re-check finds the user no longer in the conversation. Returns the unwatch. */
  watch(conversationId: string, userId: string, onRemoved: () => void): () => void {
    const key = `${conversationId}\u0000${userId}`;
    const entry = this.watched.get(key) ?? { conversationId, userId, onRemoved: new Set<() => void>() };
    entry.onRemoved.add(onRemoved);
    this.watched.set(key, entry);
    if (!this.timer) {
      this.timer = setInterval(() => void this.recheck().catch((err) => this.log.warn({ err: err.message }, 'membership re-check failed')), RECHECK_MS);
      this.timer.unref();
    }
    return () => {
      entry.onRemoved.delete(onRemoved);
      if (entry.onRemoved.size === 0 && this.watched.get(key) === entry) this.watched.delete(key);
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Checks every watched pair; tells the subscriptions of pairs that are gone. */
  async recheck(): Promise<void> {
    const entries = [...this.watched.values()];
    for (let i = 0; i < entries.length; i += BATCH) {
      const batch = entries.slice(i, i + BATCH);
      const present = await this.repo.presentParticipants(batch);
      for (const entry of batch) {
        if (!present.has(`${entry.conversationId}\u0000${entry.userId}`)) for (const removed of [...entry.onRemoved]) removed();
      }
    }
  }
}
