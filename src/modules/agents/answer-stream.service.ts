import type { Viewer } from '../../auth/viewer.js';
import type { MessageRow, MessageStreamRow } from '../../db/schema/index.js';
import { BadInputError, ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { charLength, checkJson, checkText, isUuid, LIMITS } from '../../lib/validate.js';
import type { DomainEvents } from '../../events/emitter.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { messageSnapshot, viewerSnapshot, type MessageSnapshot, type UserSnapshot } from '../../pubsub/snapshots.js';
import { topics, type ChunkEvent } from '../../pubsub/topics.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { MessageService } from '../messages/message.service.js';
import type { UserService } from '../users/user.service.js';
import type { AnswerStreamRepository } from './answer-stream.repository.js';
import type { RunService } from './run.service.js';

export type StartAnswerInput = {
  conversationId: string;
  runId?: string | null;
  traceId?: string | null;
  contentType?: string | null;
  priority?: MessageRow['priority'] | null;
  interruptible?: boolean | null;
  metadata?: unknown;
  /** Text to start with (often empty). */
  content?: string | null;
};

/**
 * How a run's streams end: CANCELLED discards them, PREEMPTED (by a control event) and COMPLETED
 * (the run was completed) keep what they hold as messages.
 */
export type AnswerStreamEnd = { state: 'CANCELLED' } | { state: 'PREEMPTED'; by: string } | { state: 'COMPLETED' };

/**
 * Streamed answers (the rows of message_streams): an agent starts a message, appends chunks (each broadcast with its offset in
 * characters) and completes it, at which point it becomes an ordinary message with the next seq.
 * CANCEL discards a stream; PREEMPT keeps the text so far of an interruptible one as a message
 * marked `preemptedBy`, and lets a non-interruptible one finish.
 */
export class AnswerStreamService {
  constructor(
    private readonly repo: AnswerStreamRepository,
    private readonly conversations: ConversationService,
    private readonly messages: MessageService,
    private readonly runs: RunService,
    private readonly bus: EventBus,
    private readonly users: UserService,
    private readonly events: DomainEvents,
  ) {}

  async start(viewer: Viewer, input: StartAnswerInput): Promise<MessageStreamRow> {
    checkText('content', input.content, { max: LIMITS.contentChars, allowEmpty: true });
    checkText('contentType', input.contentType, { max: 100 });
    checkText('runId', input.runId, { max: LIMITS.shortTextChars });
    checkText('traceId', input.traceId, { max: LIMITS.shortTextChars });
    checkJson('metadata', input.metadata);
    await this.conversations.requireParticipant(viewer, input.conversationId);
    if (input.runId) await this.runs.requireActive(viewer, input.conversationId, input.runId, input.traceId, input.priority);
    const row = await this.repo.insert({
      conversationId: input.conversationId,
      orgId: viewer.orgId,
      senderId: viewer.userId,
      senderKind: viewer.kind,
      runId: input.runId ?? null,
      traceId: input.traceId ?? null,
      content: input.content ?? '',
      contentType: input.contentType ?? 'text/plain',
      priority: input.priority ?? 'NORMAL',
      interruptible: input.interruptible ?? true,
      metadata: input.metadata ?? null,
    });
    await this.publish(row, 0, row.content);
    await this.events.emit('answerStreamChanged', { actor: viewer, change: 'STARTED', stream: row });
    return row;
  }

  /** Appends a chunk; returns the event (its offset is where the chunk starts, in characters). */
  async append(viewer: Viewer, id: string, chunk: string): Promise<ChunkEvent> {
    checkText('chunk', chunk, { max: LIMITS.contentChars });
    const stream = await this.requireOwnStream(viewer, id);
    await this.runs.requireStreamOpen(stream);
    const chunkChars = charLength(chunk);
    const length = await this.repo.append(id, chunk, chunkChars, LIMITS.contentChars);
    if (length === null) {
      const now = await this.get(id);
      if (now?.state !== 'STREAMING') throw new BadInputError(`The stream has ended (${now?.state})`, 'id');
      throw new BadInputError(`A message is at most ${LIMITS.contentChars} characters`, 'chunk');
    }
    const offset = length - chunkChars;
    const event = await this.publish(stream, offset, chunk);
    await this.events.emit('answerStreamChanged', { actor: viewer, change: 'APPENDED', stream });
    return event;
  }

  /** Turns the stream into an ordinary message with the conversation's next seq. */
  async complete(viewer: Viewer, id: string): Promise<MessageRow> {
    const stream = await this.requireOwnStream(viewer, id);
    await this.runs.requireStreamOpen(stream);
    if (stream.content.trim() === '') throw new BadInputError('Nothing was streamed: a message needs content', 'id');
    return this.finalize(viewer, stream, null, viewerSnapshot(viewer));
  }

  /**
   * Ends the live streams of a run: CANCEL (or a failed run) discards all of them; PREEMPT ends
   * the interruptible ones, each kept as a message with its text so far, and leaves a
   * non-interruptible one running (it may not be interrupted: its agent finishes and completes
   * it); a completed run keeps all of them as messages. `actor` sent the event or ended the run.
   */
  async endRunStreams(actor: Viewer, conversationId: string, runId: string, end: AnswerStreamEnd): Promise<void> {
    const live = await this.repo.liveOfRun(conversationId, runId, end.state === 'PREEMPTED');
    for (const stream of live) {
      if (end.state !== 'CANCELLED' && stream.content.trim() !== '') {
        const [sender] = await this.users.byIds(stream.orgId, [stream.senderId]);
        await this.finalize(actor, stream, end.state === 'PREEMPTED' ? end.by : null, sender);
      } else {
        // Cancelled, or ended with nothing streamed yet: nothing to keep.
        const ended = await this.repo.end(stream.id, end.state === 'PREEMPTED' ? 'PREEMPTED' : 'CANCELLED');
        if (!ended) continue;
        await this.publish(ended, charLength(ended.content), '');
        await this.events.emit('answerStreamChanged', { actor, change: ended.state === 'PREEMPTED' ? 'PREEMPTED' : 'CANCELLED', stream: ended });
      }
    }
  }

  /** Live streams of a conversation: what a late subscriber is caught up with. */
  async liveStreams(conversationId: string): Promise<MessageStreamRow[]> {
    return this.repo.live(conversationId);
  }

  async get(id: string): Promise<MessageStreamRow | null> {
    return isUuid(id) ? this.repo.get(id) : null;
  }

  /**
   * Ends the stream as a message: completed by its agent (`actor`), or kept with its text so far
   * when preempted by `actor`'s PREEMPT.
   */
  private async finalize(actor: Viewer, stream: MessageStreamRow, preemptedBy: string | null, sender?: UserSnapshot): Promise<MessageRow> {
    // Claim the stream first so that a concurrent complete, cancel or preempt cannot also end it.
    const claimed = await this.repo.claim(stream.id, preemptedBy);
    if (!claimed) {
      const existing = await this.messages.find(stream.orgId, stream.id);
      if (existing) return existing;
      throw new BadInputError(`The stream has ended (${(await this.get(stream.id))?.state})`, 'id');
    }
    const message = await this.messages.storeStreamed({
      id: stream.id,
      conversationId: stream.conversationId,
      orgId: stream.orgId,
      senderId: stream.senderId,
      senderKind: stream.senderKind,
      content: claimed.content,
      contentType: claimed.contentType,
      kind: 'CHAT',
      replyToId: null,
      priority: claimed.priority,
      interruptible: claimed.interruptible,
      preemptedBy,
      runId: claimed.runId,
      traceId: claimed.traceId,
      metadata: claimed.metadata,
      clientMessageId: null,
    });
    // Null only if the conversation was deleted under the stream (no clientMessageId to clash).
    if (!message) throw new NotFoundError('Conversation');
    await this.publish(claimed, charLength(claimed.content), '', messageSnapshot(message, sender));
    await this.messages.announce(message, sender);
    await this.events.emit('answerStreamChanged', { actor, change: preemptedBy ? 'PREEMPTED' : 'COMPLETED', stream: claimed });
    await this.events.emit('messageCommitted', { actor, message, via: 'stream' });
    // A run whose last open stream completed is done.
    if (!preemptedBy) await this.runs.completeIfIdle(actor, claimed);
    return message;
  }

  private async requireOwnStream(viewer: Viewer, id: string): Promise<MessageStreamRow> {
    const stream = await this.get(id);
    if (!stream || stream.orgId !== viewer.orgId) throw new NotFoundError('Message stream');
    await this.conversations.requireParticipant(viewer, stream.conversationId);
    if (stream.senderId !== viewer.userId) throw new ForbiddenError('Only the sender streams into a message');
    if (stream.state !== 'STREAMING') throw new BadInputError(`The stream has ended (${stream.state})`, 'id');
    return stream;
  }

  private async publish(stream: MessageStreamRow, offset: number, chunk: string, message?: MessageSnapshot): Promise<ChunkEvent> {
    const state = message ? (stream.state === 'PREEMPTED' ? 'PREEMPTED' : 'COMPLETED') : stream.state;
    const event: ChunkEvent = {
      messageId: stream.id,
      conversationId: stream.conversationId,
      senderId: stream.senderId,
      runId: stream.runId,
      traceId: stream.traceId,
      offset,
      chunk,
      state,
      message: message ?? null,
    };
    await this.bus.publish(topics.messageChunk(stream.conversationId), event);
    return event;
  }
}

