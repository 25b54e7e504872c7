import type { AuditLog } from '../../auth/audit.js';
import type { Viewer } from '../../auth/viewer.js';
import { type Context, requireViewer } from '../../context.js';
import { BadInputError } from '../../graphql/errors.js';
import { AsyncQueue } from '../../lib/async-queue.js';
import { checkText, LIMITS } from '../../lib/validate.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import type { MessageSnapshot, UserSnapshot } from '../../pubsub/snapshots.js';
import { type ConversationEventSnapshot, type PresenceEvent, type Topic, topics } from '../../pubsub/topics.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { CatchUpReader } from './catch-up.js';
import { conversationEventFeed } from './conversation-events.js';
import type { MembershipWatch } from './membership-watch.js';
import { endWithCredential, tokenValid } from './token-expiry.js';

// Feeds: what the subscriptions messageAdded, messageUpdated, messageDeleted, typing, presence
// and controlEvent deliver, each an AsyncQueue fed from pub/sub (and, for messages, the database).
// Each is for one request (`ctx`: its viewer, and its transport, see endWithCredential).

/** What the feeds use. */
export type FeedServices = {
  bus: EventBus;
  /** Replays of stored messages are an expert's reads. */
  audit: Pick<AuditLog, 'expertAccess'>;
  conversations: Pick<ConversationService, 'requireParticipant' | 'idsOf'>;
  membership: MembershipWatch;
  catchUp: CatchUpReader;
  /** How long a typing indicator lasts without a refresh (TypingService's). */
  typingTtlMs: number;
};

/** How often an all-conversations feed re-reads the viewer's conversations, in case a membership event was lost. */
const MEMBERSHIP_RECHECK_MS = 30_000;
/** Catch-up reads this many stored messages at a time, and waits while this many are still unsent. */
const BACKFILL_PAGE = 500;
/**
 * Live events held for a subscriber that is behind. Past this they are dropped: the database has
 * them (publish after commit), so the stream reads them back when it gets there.
 */
const MAX_PENDING = 1_000;

type Guard = { allows(): boolean };
/** What a guard needs of a stream, whatever it carries. */
type Endable = Pick<AsyncQueue<unknown>, 'end' | 'onFinish'>;

/**
 * Keeps a subscription's right to hear from a conversation current: it ends the stream when the
 * viewer is removed (membership event, or the instance's re-checks, see MembershipWatch: the
 * periodic one, and the one after pub/sub comes back, when removal events may have been lost) and
 * when the viewer's token expires or API key is revoked (see endWithCredential). Every event is
 * checked with `allows()` before it is delivered, and dropped if it fails: whatever ends the stream
 * does so on its own. Call it before checking membership, so that a removal right after the check
 * is not missed.
 */
async function guardConversation(services: FeedServices, ctx: Context, viewer: Viewer, conversationId: string, queue: Endable): Promise<Guard> {
  let member = true;
  const stop = () => {
    member = false;
    // Whatever is still buffered was sent while the viewer took part; it may still go out.
    queue.end();
  };
  endWithCredential(ctx, queue);
  const unlisten = await services.bus.listen(topics.membership(conversationId), (event) => {
    if (event.userId === viewer.userId && event.change === 'REMOVED') stop();
  });
  queue.onFinish(unlisten);
  queue.onFinish(services.membership.watch(conversationId, viewer.userId, stop));
  return { allows: () => member && tokenValid(viewer) };
}

/** Runs the setup of a stream; if it fails, whatever it registered is undone before rethrowing. */
async function settingUp<T>(queue: AsyncQueue<T>, setup: () => Promise<void>): Promise<AsyncQueue<T>> {
  try {
    await setup();
    return queue;
  } catch (err) {
    queue.end();
    throw err;
  }
}

/**
 * One conversation's new messages in seq order with no gap and no duplicate.
 *
 * It listens first, then reads what is stored after `afterSeq` (without it: after the last seq
 * as read before listening), then goes live, dropping by seq whatever it delivered already. Since
 * a message is published only after it is committed, anything committed before the read is in
 * the read and anything after it arrives live. Whenever a live event skips seqs (Redis pub/sub is
 * at-most-once, and events from several instances may arrive out of order), the missing messages
 * are read from the database before it. The catch-up runs after the subscription is returned and
 * never reads ahead of the consumer by more than a page.
 */
export async function messageFeed(
  services: FeedServices,
  ctx: Context,
  conversationId: string,
  afterSeq: number | null | undefined,
  queue: AsyncQueue<MessageSnapshot> = new AsyncQueue(),
  guard?: Guard,
): Promise<AsyncQueue<MessageSnapshot>> {
  const viewer = requireViewer(ctx);
  return settingUp(queue, async () => {
    guard ??= await guardConversation(services, ctx, viewer, conversationId, queue);
    const allowed = guard;
    const { conversation } = await services.conversations.requireParticipant(viewer, conversationId);
    // A resume replays stored messages: for an expert, one audited read (live deliveries are not).
    if (afterSeq != null) await services.audit.expertAccess(viewer, conversationId, 'expert.read', { operation: 'messageAdded', afterSeq });

    let delivered = afterSeq ?? conversation.lastSeq;
    /** The highest seq announced live; above `delivered` means there is more to fetch. */
    let announced = delivered;
    const pending: MessageSnapshot[] = [];
    let wake: (() => void) | undefined;
    queue.onFinish(() => wake?.());

    /** Waits while memberships are being re-checked after pub/sub came back (see MembershipWatch). */
    const settled = async () => {
      for (let check = services.membership.pendingCheck; check; check = services.membership.pendingCheck) await check;
    };
    const deliver = (m: MessageSnapshot) => {
      if (m.seq <= delivered) return;
      delivered = m.seq;
      // Snapshots, live or read back, are shared by the subscribers of this instance (see CatchUpReader).
      if (allowed.allows()) queue.push(m);
    };
    /** Delivers stored messages after `delivered` and below `before`, a page at a time. */
    const readStored = async (before = Number.POSITIVE_INFINITY) => {
      for (;;) {
        await queue.whenBelow(BACKFILL_PAGE);
        await settled();
        if (queue.done) return;
        const rows = await services.catchUp.after(conversationId, delivered, BACKFILL_PAGE);
        for (const row of rows) {
          if (row.seq >= before) return;
          deliver(row);
        }
        if (rows.length < BACKFILL_PAGE) return;
      }
    };
    const run = async () => {
      await readStored();
      while (!queue.done) {
        if (services.membership.pendingCheck) {
          // Pub/sub was lost: whatever comes next waits until removals it may have lost are known.
          await settled();
          continue;
        }
        const event = pending.shift();
        if (!event) {
          if (resync) {
            // Pub/sub was down for a while: whatever was committed meanwhile is only in the database.
            resync = false;
            await readStored();
            continue;
          }
          if (announced > delivered) {
            // Events were dropped while the subscriber was behind: read them back.
            const looking = announced;
            await readStored();
            // Announced but not stored cannot be delivered (only a forged event can be that, as
            // publishing follows the commit): do not look again, unless newer ones came meanwhile.
            if (announced === looking) announced = delivered;
            continue;
          }
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        if (event.seq <= delivered) continue;
        if (event.seq > delivered + 1) {
          // An event was lost, and with it maybe the viewer's removal: ask the database before
          // reading the missing ones (together with the other subscribers that noticed the hole).
          if (!(await services.membership.confirm(conversationId, viewer.userId))) {
            void queue.return();
            return;
          }
          await readStored(event.seq);
        }
        await queue.whenBelow(BACKFILL_PAGE);
        deliver(event);
      }
    };

    let resync = false;
    queue.onFinish(
      services.bus.onReconnect(() => {
        resync = true;
        wake?.();
      }),
    );
    const unlisten = await services.bus.listen(topics.messageAdded(conversationId), (event) => {
      if (event.seq > announced) announced = event.seq;
      if (pending.length < MAX_PENDING) pending.push(event);
      wake?.();
    });
    queue.onFinish(unlisten);
    void run().catch((err) => queue.fail(err));
  });
}

/**
 * New messages of every conversation the viewer takes part in (live only), following the viewer
 * into conversations they join and out of those they leave. Membership comes from events, and is
 * re-read periodically in case one of those was lost.
 */
export async function allMessagesFeed(services: FeedServices, ctx: Context): Promise<AsyncQueue<MessageSnapshot>> {
  const viewer = requireViewer(ctx);
  const queue = new AsyncQueue<MessageSnapshot>();
  const perConversation = new Map<string, AsyncQueue<MessageSnapshot>>();

  const join = async (conversationId: string) => {
    if (perConversation.has(conversationId) || queue.done) return;
    // Each conversation gets its own ordered, gap-filled stream feeding the shared queue.
    const inner = new AsyncQueue<MessageSnapshot>();
    perConversation.set(conversationId, inner);
    inner.onFinish(() => {
      if (perConversation.get(conversationId) === inner) perConversation.delete(conversationId);
    });
    // The instance's re-checks stop following conversations the viewer was removed from behind
    // pub/sub's back, as they end single-conversation streams.
    inner.onFinish(services.membership.watch(conversationId, viewer.userId, () => void inner.return()));
    try {
      await messageFeed(services, ctx, conversationId, undefined, inner, {
        allows: () => tokenValid(viewer) && perConversation.get(conversationId) === inner,
      });
    } catch {
      return; // no longer a participant (or the conversation is gone): nothing to follow
    }
    void (async () => {
      for await (const m of inner) {
        await queue.whenBelow(BACKFILL_PAGE);
        queue.push(m);
      }
    })().catch((err) => queue.fail(err));
  };
  const leave = (conversationId: string) => {
    // return(), not end(): nothing buffered for this conversation goes out after the removal.
    void perConversation.get(conversationId)?.return();
  };
  const resync = async () => {
    const before = new Map(perConversation);
    const ids = new Set(await services.conversations.idsOf(viewer));
    // Only streams that existed before the read can be judged by it; newer ones came from events.
    for (const [id, inner] of before) if (!ids.has(id) && perConversation.get(id) === inner) leave(id);
    await Promise.all([...ids].map(join));
  };

  return settingUp(queue, async () => {
    endWithCredential(ctx, queue);
    queue.onFinish(() => {
      for (const inner of perConversation.values()) void inner.return();
      perConversation.clear();
    });
    const unlisten = await services.bus.listen(topics.userMembership(viewer.orgId, viewer.userId), (event) => {
      if (event.change === 'ADDED') void join(event.conversationId);
      else leave(event.conversationId);
    });
    queue.onFinish(unlisten);
    const timer = setInterval(() => void resync().catch(() => {}), MEMBERSHIP_RECHECK_MS);
    timer.unref();
    queue.onFinish(() => clearInterval(timer));
    await resync();
  });
}

/** Events of one topic of a conversation the viewer takes part in, checked per event. */
export async function conversationTopicFeed<T>(services: FeedServices, ctx: Context, conversationId: string, topic: Topic<T>): Promise<AsyncQueue<T>> {
  const viewer = requireViewer(ctx);
  const queue = new AsyncQueue<T>();
  return settingUp(queue, async () => {
    const guard = await guardConversation(services, ctx, viewer, conversationId, queue);
    await services.conversations.requireParticipant(viewer, conversationId);
    const unlisten = await services.bus.listen(topic, (event) => {
      // While memberships are re-checked after pub/sub came back, events wait for the answer, in order.
      const check = services.membership.pendingCheck;
      if (check) void check.then(() => guard.allows() && queue.push(event));
      else if (guard.allows()) queue.push(event);
    });
    queue.onFinish(unlisten);
  });
}

export type TypingState = { conversationId: string; userId: string; isTyping: boolean; user?: UserSnapshot };

/**
 * Typing indicators of a conversation, as changes: a user starts typing, a user stops. An
 * indicator not refreshed within 8 s (typingTtlMs) is turned off here, where it is delivered, so it lapses on
 * every instance even if the instance that set it is gone. Refreshes (setTyping(true) again) and
 * repeated stops only move the deadline or are dropped.
 */
export async function typingFeed(services: FeedServices, ctx: Context, conversationId: string): Promise<AsyncQueue<TypingState>> {
  const events = await conversationTopicFeed(services, ctx, conversationId, topics.typing(conversationId));
  const queue = new AsyncQueue<TypingState>();
  /** Who is typing, with the timer that turns them off. */
  const typing = new Map<string, NodeJS.Timeout>();
  const stopped = (userId: string) => {
    clearTimeout(typing.get(userId));
    return typing.delete(userId);
  };
  queue.onFinish(() => {
    void events.return();
    for (const timer of typing.values()) clearTimeout(timer);
  });
  void (async () => {
    for await (const e of events) {
      const state = { conversationId, userId: e.userId, isTyping: e.isTyping, user: e.user };
      const wasTyping = stopped(e.userId);
      const left = Date.parse(e.at) + services.typingTtlMs - Date.now();
      if (e.isTyping && left > 0) {
        typing.set(
          e.userId,
          setTimeout(() => {
            typing.delete(e.userId);
            queue.push({ ...state, isTyping: false });
          }, left),
        );
        if (!wasTyping) queue.push(state);
      } else if (wasTyping) {
        queue.push({ ...state, isTyping: false });
      }
    }
    queue.end();
  })().catch((err) => queue.fail(err));
  return queue;
}

/** A presence subscription may name at most this many users. */
const MAX_PRESENCE_USERS = 500;

/** `presence`: changes of the named users (each id checked), or of everyone in the viewer's org. */
export async function presenceFeed(services: FeedServices, ctx: Context, userIds: readonly string[] | null | undefined): Promise<AsyncQueue<PresenceEvent>> {
  const viewer = requireViewer(ctx);
  const ids = [...new Set(userIds ?? [])];
  if (ids.length > MAX_PRESENCE_USERS) throw new BadInputError(`At most ${MAX_PRESENCE_USERS} users per presence subscription`, 'userIds');
  for (const id of ids) checkText('userIds', id, { max: LIMITS.shortTextChars });
  const queue = new AsyncQueue<PresenceEvent>();
  endWithCredential(ctx, queue);
  const topicList = userIds ? ids.map((id) => topics.presence(viewer.orgId, id)) : [topics.orgPresence(viewer.orgId)];
  return settingUp(queue, async () => {
    queue.onFinish(
      await services.bus.listenAll(topicList, (e) => {
        if (tokenValid(viewer)) queue.push(e);
      }),
    );
  });
}

/** The feeds behind the realtime subscriptions, for their resolvers; `ctx` is the subscription's. */
export class Feeds {
  constructor(private readonly services: FeedServices) {}

  /** `messageAdded` of one conversation (see messageFeed). */
  messages(ctx: Context, conversationId: string, afterSeq: number | null | undefined): Promise<AsyncQueue<MessageSnapshot>> {
    return messageFeed(this.services, ctx, conversationId, afterSeq);
  }

  /** `messageAdded` of every conversation of the viewer (see allMessagesFeed). */
  allMessages(ctx: Context): Promise<AsyncQueue<MessageSnapshot>> {
    return allMessagesFeed(this.services, ctx);
  }

  /** One topic of a conversation: `messageUpdated`, `messageDeleted`, `controlEvent`. */
  topic<T>(ctx: Context, conversationId: string, topic: Topic<T>): Promise<AsyncQueue<T>> {
    return conversationTopicFeed(this.services, ctx, conversationId, topic);
  }

  /** `conversationEvents` of the viewer (see conversationEventFeed). */
  conversationEvents(ctx: Context, conversationId: string | null | undefined): Promise<AsyncQueue<ConversationEventSnapshot>> {
    return conversationEventFeed(this.services, ctx, conversationId);
  }

  /** `typing` of a conversation (see typingFeed). */
  typing(ctx: Context, conversationId: string): Promise<AsyncQueue<TypingState>> {
    return typingFeed(this.services, ctx, conversationId);
  }

  /** `presence` of some users or of the viewer's org (see presenceFeed). */
  presence(ctx: Context, userIds: readonly string[] | null | undefined): Promise<AsyncQueue<PresenceEvent>> {
    return presenceFeed(this.services, ctx, userIds);
  }
}
