import type { Viewer } from '../../auth/viewer.js';
import type { MessageRow } from '../../db/schema/index.js';
import { AsyncQueue } from '../../lib/async-queue.js';
import { messageSnapshot, type MessageSnapshot } from '../../pubsub/snapshots.js';
import { topics, type Topic } from '../../pubsub/topics.js';
import type { Services } from '../../services.js';
import { TYPING_TTL_MS } from './typing.service.js';

/** How often a live subscription re-checks membership in the database, in case a removal event was lost. */
const MEMBERSHIP_RECHECK_MS = 30_000;
/** Catch-up reads this many stored messages at a time. */
const BACKFILL_PAGE = 500;

type Guard = { allows(): boolean };

/**
 * Keeps a subscription's right to hear from a conversation current: it ends the stream when the
 * viewer is removed (membership event, or a periodic re-check if that event was lost) and when
 * the viewer's token expires. Every event is checked with `allows()` before it is delivered.
 */
async function guardConversation<T>(
  services: Services,
  viewer: Viewer,
  conversationId: string,
  queue: AsyncQueue<T>,
): Promise<Guard> {
  let member = true;
  const stop = () => {
    member = false;
    queue.end();
  };
  const unlisten = await services.bus.listen(topics.membership(conversationId), (event) => {
    if (event.userId === viewer.userId && event.change === 'REMOVED') stop();
  });
  queue.onFinish(unlisten);
  const recheck = setInterval(() => {
    services.conversations.repo
      .participant(conversationId, viewer.userId)
      .then((p) => p || stop())
      .catch(() => {});
  }, MEMBERSHIP_RECHECK_MS);
  recheck.unref();
  queue.onFinish(() => clearInterval(recheck));
  return { allows: () => member && tokenValid(viewer) };
}

const tokenValid = (viewer: Viewer) =>
  viewer.credential.type !== 'jwt' || viewer.credential.expiresAt * 1000 > Date.now();

/**
 * One conversation's new messages in seq order with no gap and no duplicate.
 *
 * With `afterSeq` it subscribes first, then replays stored messages after `afterSeq`, then goes
 * live, dropping by seq whatever the replay already delivered. Without it, it starts at the
 * conversation's last seq as read before subscribing. Whenever a live event skips seqs (Redis
 * pub/sub is at-most-once), the missing messages are read from the database before it.
 */
export async function messageStream(
  services: Services,
  viewer: Viewer,
  conversationId: string,
  afterSeq: number | null | undefined,
  queue: AsyncQueue<MessageSnapshot> = new AsyncQueue(),
  guard?: Guard,
): Promise<AsyncQueue<MessageSnapshot>> {
  const { conversation } = await services.conversations.requireParticipant(viewer, conversationId);
  guard ??= await guardConversation(services, viewer, conversationId, queue);
  let delivered = afterSeq ?? conversation.lastSeq;
  const incoming: MessageSnapshot[] = [];
  let live = false;
  let draining: Promise<void> = Promise.resolve();

  const deliver = (m: MessageRow | MessageSnapshot) => {
    if (m.seq <= delivered) return;
    delivered = m.seq;
    if (guard!.allows()) queue.push(messageSnapshot(m));
    else queue.end();
  };
  const readStored = async (upTo?: number) => {
    for (;;) {
      const rows = await services.messages.repo.after(conversationId, delivered, BACKFILL_PAGE);
      for (const row of rows) {
        if (upTo !== undefined && row.seq >= upTo) return;
        deliver(row);
      }
      if (rows.length < BACKFILL_PAGE || queue.done) return;
    }
  };
  const drain = () => {
    draining = draining.then(async () => {
      while (incoming.length > 0 && !queue.done) {
        const event = incoming.shift()!;
        if (event.seq <= delivered) continue;
        if (event.seq > delivered + 1) await readStored(event.seq);
        deliver(event);
      }
    }).catch((err) => queue.fail(err));
  };

  const unlisten = await services.bus.listen(topics.messageAdded(conversationId), (event) => {
    incoming.push(event);
    if (live) drain();
  });
  queue.onFinish(unlisten);
  if (afterSeq != null) {
    draining = readStored().catch((err) => queue.fail(err));
    await draining;
  }
  live = true;
  drain();
  return queue;
}

/**
 * New messages of every conversation the viewer takes part in (live only), following the viewer
 * into conversations they join and out of those they leave.
 */
export async function allMessagesStream(services: Services, viewer: Viewer): Promise<AsyncQueue<MessageSnapshot>> {
  const queue = new AsyncQueue<MessageSnapshot>();
  const perConversation = new Map<string, AsyncQueue<MessageSnapshot>>();
  const guard = { allows: () => tokenValid(viewer) };

  const join = async (conversationId: string) => {
    if (perConversation.has(conversationId) || queue.done) return;
    // Each conversation gets its own ordered, gap-filled stream feeding the shared queue.
    const inner = new AsyncQueue<MessageSnapshot>();
    perConversation.set(conversationId, inner);
    const pump = async () => {
      for await (const m of inner) queue.push(m);
    };
    try {
      await messageStream(services, viewer, conversationId, undefined, inner, {
        allows: () => guard.allows() && perConversation.get(conversationId) === inner,
      });
      void pump();
    } catch {
      perConversation.delete(conversationId);
      inner.end();
    }
  };
  const leave = (conversationId: string) => {
    perConversation.get(conversationId)?.end();
    perConversation.delete(conversationId);
  };

  const unlisten = await services.bus.listen(topics.userMembership(viewer.orgId, viewer.userId), (event) => {
    if (event.change === 'ADDED') void join(event.conversationId);
    else leave(event.conversationId);
  });
  queue.onFinish(() => {
    unlisten();
    for (const inner of perConversation.values()) inner.end();
    perConversation.clear();
  });
  const ids = await services.conversations.repo.conversationIdsOf(viewer.orgId, viewer.userId);
  await Promise.all(ids.map(join));
  return queue;
}

/** Events of one topic of a conversation the viewer takes part in, checked per event. */
export async function conversationTopicStream<T>(
  services: Services,
  viewer: Viewer,
  conversationId: string,
  topic: Topic<T>,
): Promise<AsyncQueue<T>> {
  await services.conversations.requireParticipant(viewer, conversationId);
  const queue = new AsyncQueue<T>();
  const guard = await guardConversation(services, viewer, conversationId, queue);
  const unlisten = await services.bus.listen(topic, (event) => {
    if (guard.allows()) queue.push(event);
    else queue.end();
  });
  queue.onFinish(unlisten);
  return queue;
}

export type TypingState = { conversationId: string; userId: string; isTyping: boolean };

/**
 * Typing indicators of a conversation. An indicator not refreshed within 8 s is turned off here,
 * where it is delivered, so it lapses on every instance even if the instance that set it is gone.
 */
export async function typingStream(services: Services, viewer: Viewer, conversationId: string): Promise<AsyncQueue<TypingState>> {
  const events = await conversationTopicStream(services, viewer, conversationId, topics.typing(conversationId));
  const queue = new AsyncQueue<TypingState>();
  const timers = new Map<string, NodeJS.Timeout>();
  queue.onFinish(() => {
    void events.return();
    for (const t of timers.values()) clearTimeout(t);
  });
  void (async () => {
    for await (const e of events) {
      clearTimeout(timers.get(e.userId));
      timers.delete(e.userId);
      if (e.isTyping) {
        const left = Date.parse(e.at) + TYPING_TTL_MS - Date.now();
        if (left <= 0) continue;
        timers.set(
          e.userId,
          setTimeout(() => {
            timers.delete(e.userId);
            queue.push({ conversationId, userId: e.userId, isTyping: false });
          }, left),
        );
      }
      queue.push({ conversationId, userId: e.userId, isTyping: e.isTyping });
    }
    queue.end();
  })().catch((err) => queue.fail(err));
  return queue;
}
