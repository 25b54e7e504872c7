import type { AuditLog } from '../../auth/audit.js';
import type { Viewer } from '../../auth/viewer.js';
import { AsyncQueue } from '../../lib/async-queue.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { topics, type ChunkEvent } from '../../pubsub/topics.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { MembershipWatch } from '../realtime/membership-watch.js';
import type { AnswerStreamService } from './answer-stream.service.js';

/** What the answer feed uses. */
export type AnswerFeedServices = {
  bus: EventBus;
  /** Its catch-up is an expert's read. */
  audit: Pick<AuditLog, 'expertAccess'>;
  conversations: Pick<ConversationService, 'requireParticipant'>;
  membership: MembershipWatch;
  answers: Pick<AnswerStreamService, 'get' | 'liveStreams'>;
};

const chars = (text: string) => Array.from(text);

/**
 * The feed behind the `messageStream` subscription: a conversation's streamed answers, chunk by
 * chunk (see AnswerStreamService). A late or reconnecting subscriber first
 * gets the text so far of every live stream (offset 0), then the rest; a chunk that skips ahead
 * (a lost event) is filled from the stored text first, and one already covered is dropped.
 */
export async function answerFeed(services: AnswerFeedServices, viewer: Viewer, conversationId: string): Promise<AsyncQueue<ChunkEvent>> {
  await services.conversations.requireParticipant(viewer, conversationId);
  // It starts with the text so far of running streams: for an expert, one audited read.
  await services.audit.expertAccess(viewer, conversationId, 'expert.read', { operation: 'messageStream' });
  const queue = new AsyncQueue<ChunkEvent>();
  /** Characters delivered so far per live stream. */
  const delivered = new Map<string, number>();
  const incoming: ChunkEvent[] = [];
  let ready = false;
  let draining: Promise<void> = Promise.resolve();

  const emit = (event: ChunkEvent) => {
    if (viewer.credential.type === 'jwt' && viewer.credential.expiresAt * 1000 <= Date.now()) return queue.end();
    queue.push(event);
  };
  const handle = async (event: ChunkEvent) => {
    // After pub/sub came back, chunks wait until removals it may have lost are known (MembershipWatch).
    for (let check = services.membership.pendingCheck; check; check = services.membership.pendingCheck) await check;
    if (queue.done) return;
    if (event.state !== 'STREAMING') {
      delivered.delete(event.messageId);
      emit(event);
      return;
    }
    const known = delivered.get(event.messageId) ?? 0;
    const end = event.offset + chars(event.chunk).length;
    if (end <= known && event.chunk !== '') return;
    if (event.offset > known) {
      // A chunk was lost, and maybe the viewer's removal with it: the database says before the re-read.
      if (!(await services.membership.confirm(conversationId, viewer.userId))) return queue.end();
      const stored = await services.answers.get(event.messageId);
      if (stored) {
        const text = chars(stored.content);
        emit({ ...event, offset: known, chunk: text.slice(known, event.offset).join('') });
      }
    }
    const start = Math.max(known, event.offset);
    emit({ ...event, offset: start, chunk: chars(event.chunk).slice(start - event.offset).join('') });
    delivered.set(event.messageId, end);
  };
  const drain = () => {
    draining = draining
      .then(async () => {
        while (incoming.length && !queue.done) await handle(incoming.shift()!);
      })
      .catch((err) => queue.fail(err));
  };

  const unlisten = await services.bus.listen(topics.messageChunk(conversationId), (event) => {
    incoming.push(event);
    if (ready) drain();
  });
  queue.onFinish(unlisten);
  const unlistenMembership = await services.bus.listen(topics.membership(conversationId), (event) => {
    if (event.userId === viewer.userId && event.change === 'REMOVED') queue.end();
  });
  queue.onFinish(unlistenMembership);
  queue.onFinish(services.membership.watch(conversationId, viewer.userId, () => queue.end()));

  // Catch up: the text so far of every stream still running.
  for (const stream of await services.answers.liveStreams(conversationId)) {
    emit({
      messageId: stream.id,
      conversationId,
      senderId: stream.senderId,
      runId: stream.runId,
      traceId: stream.traceId,
      offset: 0,
      chunk: stream.content,
      state: 'STREAMING',
      message: null,
    });
    delivered.set(stream.id, chars(stream.content).length);
  }
  ready = true;
  drain();
  return queue;
}

/** The feed behind `messageStream`, for its resolver. */
export class AnswerFeed {
  constructor(private readonly services: AnswerFeedServices) {}

  /** A conversation's streamed answers for the viewer (see answerFeed). */
  follow(viewer: Viewer, conversationId: string): Promise<AsyncQueue<ChunkEvent>> {
    return answerFeed(this.services, viewer, conversationId);
  }
}
