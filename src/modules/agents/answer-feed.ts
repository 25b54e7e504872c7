import type { AuditLog } from '../../auth/audit.js';
import type { Viewer } from '../../auth/viewer.js';
import type { MessageStreamRow } from '../../db/schema/index.js';
import { AsyncQueue } from '../../lib/async-queue.js';
import { charLength } from '../../lib/validate.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { type ChunkEvent, topics } from '../../pubsub/topics.js';
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

/**
 * Where a subscriber starts with a running stream, or starts over after missing some of it: its
 * parts so far, one event each (`textOffset` 0: each replaces what a client has at its index),
 * the text of TEXT parts at their offsets in the content; a stream with no part yet, one empty event.
 */
export function catchUpEvents(stream: MessageStreamRow): ChunkEvent[] {
  const base = {
    messageId: stream.id,
    conversationId: stream.conversationId,
    senderId: stream.senderId,
    runId: stream.runId,
    traceId: stream.traceId,
    seq: stream.version,
    state: 'STREAMING' as const,
    message: null,
  };
  if (stream.parts.length === 0) return [{ ...base, offset: 0, chunk: stream.content, part: null, partIndex: null, textOffset: null }];
  let offset = 0;
  return stream.parts.map((part, partIndex) => {
    const chunk = part.type === 'TEXT' ? (part.text ?? '') : '';
    const event = { ...base, offset, chunk, part, partIndex, textOffset: 0 };
    offset += charLength(chunk);
    return event;
  });
}

/**
 * The feed behind the `messageStream` subscription: a conversation's streamed answers, part by
 * part (see AnswerStreamService). A late or reconnecting subscriber first gets the parts so far
 * of every live stream (catchUpEvents), then the rest. Each append's event carries the stream's
 * count of appends (`seq`): one already covered is dropped, and one that skips ahead (a lost
 * event) makes the feed start that stream over from the database first.
 */
export async function answerFeed(services: AnswerFeedServices, viewer: Viewer, conversationId: string): Promise<AsyncQueue<ChunkEvent>> {
  await services.conversations.requireParticipant(viewer, conversationId);
  // It starts with the parts so far of running streams: for an expert, one audited read.
  await services.audit.expertAccess(viewer, conversationId, 'expert.read', { operation: 'messageStream' });
  const queue = new AsyncQueue<ChunkEvent>();
  /** The `seq` delivered so far per live stream. */
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
    const known = delivered.get(event.messageId) ?? -1;
    if (event.seq <= known) return;
    if (event.seq > known + 1) {
      // Appends were lost, and maybe the viewer's removal with them: the database says before the re-read.
      if (!(await services.membership.confirm(conversationId, viewer.userId))) return queue.end();
      const stored = await services.answers.get(event.messageId);
      if (stored?.state === 'STREAMING') {
        for (const caughtUp of catchUpEvents(stored)) emit(caughtUp);
        delivered.set(event.messageId, stored.version);
        if (event.seq <= stored.version) return;
      }
    }
    emit(event);
    delivered.set(event.messageId, event.seq);
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

  // Catch up: the parts so far of every stream still running.
  for (const stream of await services.answers.liveStreams(conversationId)) {
    for (const event of catchUpEvents(stream)) emit(event);
    delivered.set(stream.id, stream.version);
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
