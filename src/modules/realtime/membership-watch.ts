import type { Logger } from 'pino';
import { RECHECK_BATCH, RecheckList } from '../../lib/batched-recheck.js';
import { errorMessage } from '../../observability/log-errors.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import type { ConversationService } from '../conversations/conversation.service.js';

/** How often watched memberships are re-checked in the database, in case a removal event was lost. */
const RECHECK_MS = 30_000;
/** How soon a failed re-check after pub/sub came back is tried again. */
const RETRY_MS = 1_000;

type Pair = { conversationId: string; userId: string };
const keyOf = (p: Pair) => `${p.conversationId}\u0000${p.userId}`;

/**
 * The safety net under membership events, for the whole instance: every live subscription
 * registers (conversation, user) here, on one batched re-check list (RecheckList).
 *
 * While pub/sub is away, removal events are lost with the rest. From the moment the connection
 * drops until a re-check after it came back has answered, `pendingCheck` is set: streams hold
 * what they would deliver until it settles, and by then the subscriptions of users no longer in
 * their conversation have ended.
 */
export class MembershipWatch {
  private readonly watched: RecheckList<Pair>;
  private stopped = false;
  /** Set from a loss of pub/sub until the re-check after its return answers. */
  private held?: { promise: Promise<void>; release: () => void };
  /** Counts losses, so a re-check that started before the latest one does not release the hold. */
  private losses = 0;
  /** Pairs asked about by confirm since the last batch went out. */
  private asked = new Map<string, Pair & { promise: Promise<boolean>; answer: (present: boolean) => void; fail: (err: unknown) => void }>();

  constructor(
    private readonly conversations: Pick<ConversationService, 'presentParticipants'>,
    private readonly log: Logger,
    bus?: Pick<EventBus, 'onDisconnect' | 'onReconnect'>,
  ) {
    this.watched = new RecheckList({ name: 'membership', everyMs: RECHECK_MS, present: (pairs) => conversations.presentParticipants(pairs), log });
    bus?.onDisconnect(() => this.hold());
    bus?.onReconnect(() => void this.release());
  }

  /** Calls `onRemoved` if a re-check finds the user no longer in the conversation. Returns the unwatch. */
  watch(conversationId: string, userId: string, onRemoved: () => void): () => void {
    const pair = { conversationId, userId };
    return this.watched.watch(keyOf(pair), pair, onRemoved);
  }

  /** Settles once memberships are known again after pub/sub was lost; undefined when nothing is pending. */
  get pendingCheck(): Promise<void> | undefined {
    return this.held?.promise;
  }

  /**
   * Whether the user takes part in the conversation now, read from the database. Questions asked
   * in the same turn of the event loop go out together (subscribers of a conversation that notice
   * the same lost event ask at once): one statement per batch, whatever the number of subscribers.
   */
  confirm(conversationId: string, userId: string): Promise<boolean> {
    const key = keyOf({ conversationId, userId });
    const known = this.asked.get(key);
    if (known) return known.promise;
    if (this.asked.size === 0) setImmediate(() => void this.answerAsked());
    let answer!: (present: boolean) => void;
    let fail!: (err: unknown) => void;
    const promise = new Promise<boolean>((resolve, reject) => {
      answer = resolve;
      fail = reject;
    });
    this.asked.set(key, { conversationId, userId, promise, answer, fail });
    return promise;
  }

  stop(): void {
    this.stopped = true;
    this.watched.stop();
  }

  /** Checks every watched pair; tells the subscriptions of pairs that are gone. */
  recheck(): Promise<void> {
    return this.watched.recheck();
  }

  private async answerAsked() {
    const entries = [...this.asked.values()];
    this.asked.clear();
    for (let i = 0; i < entries.length; i += RECHECK_BATCH) {
      const batch = entries.slice(i, i + RECHECK_BATCH);
      try {
        const present = await this.conversations.presentParticipants(batch);
        for (const entry of batch) entry.answer(present.has(keyOf(entry)));
      } catch (err) {
        for (const entry of batch) entry.fail(err);
      }
    }
  }

  private hold() {
    this.losses++;
    if (this.held) return;
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.held = { promise, release };
  }

  /** Re-checks every watched pair (again until it succeeds), then lets streams deliver again. */
  private async release() {
    const losses = this.losses;
    for (;;) {
      try {
        await this.recheck();
        break;
      } catch (err) {
        this.log.warn({ err: errorMessage(err) }, 'membership re-check after pub/sub came back failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, RETRY_MS).unref());
        if (this.stopped || losses !== this.losses) return;
      }
    }
    // Lost again meanwhile: the re-check after that return releases the hold.
    if (losses !== this.losses) return;
    const held = this.held;
    this.held = undefined;
    held?.release();
  }
}
