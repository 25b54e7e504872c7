import type { Viewer } from '../../auth/viewer.js';
import type { MessagePart, MessageRow, MessageStreamRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { BadInputError, ConflictError, ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { charLength, checkJson, checkText, isUuid, LIMITS } from '../../lib/validate.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { type MessageSnapshot, messageSnapshot, type UserSnapshot, viewerSnapshot } from '../../pubsub/snapshots.js';
import { type ChunkEvent, topics } from '../../pubsub/topics.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { MessageService } from '../messages/message.service.js';
import type { UserService } from '../users/user.service.js';
import type { AnswerStreamRepository } from './answer-stream.repository.js';
import { applyPart, checkPart, type MessagePartInput } from './parts.js';
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

/** An append's share of its event. */
type Piece = Pick<ChunkEvent, 'offset' | 'chunk' | 'part' | 'partIndex' | 'textOffset'>;
/** A stream's last event: no piece, its final state. */
const END = Symbol('end');
/** Appends that lose to concurrent ones are applied again to what those left, this many times. */
const MAX_APPEND_ATTEMPTS = 5;

/** Whether a stream holds something to keep as a message: text, or parts of any other type. */
const holdsAnswer = (stream: Pick<MessageStreamRow, 'content' | 'parts'>) => stream.content.trim() !== '' || stream.parts.some((p) => p.type !== 'TEXT');

/** Parts that say no more than the content: a message keeps them as its content alone. */
const plainText = (parts: MessagePart[]) => parts.length === 0 || (parts.length === 1 && parts[0]!.type === 'TEXT');

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
    const content = input.content ?? '';
    const row = await this.repo.insert({
      conversationId: input.conversationId,
      orgId: viewer.orgId,
      senderId: viewer.userId,
      senderKind: viewer.kind,
      runId: input.runId ?? null,
      traceId: input.traceId ?? null,
      content,
      parts: content ? [{ type: 'TEXT', text: content }] : [],
      contentType: input.contentType ?? 'text/plain',
      priority: input.priority ?? 'NORMAL',
      interruptible: input.interruptible ?? true,
      metadata: input.metadata ?? null,
    });
    const first = row.parts[0] ?? null;
    await this.publish(row, { offset: 0, chunk: content, part: first, partIndex: first ? 0 : null, textOffset: first ? 0 : null });
    await this.events.emit('answerStreamChanged', { actor: viewer, change: 'STARTED', stream: row });
    return row;
  }

  /** Appends text as a TEXT part (see appendPart); returns the event. */
  async append(viewer: Viewer, id: string, chunk: string): Promise<ChunkEvent> {
    checkText('chunk', chunk, { max: LIMITS.contentChars });
    return this.appendPart(viewer, id, { type: 'TEXT', text: chunk }, 'chunk');
  }

  /**
   * Appends a part to the stream (see applyPart: deltas extend the last part of their type, a
   * tool call's its call); returns the event broadcast for it. Concurrent appends to one stream
   * are applied one after the other.
   */
  async appendPart(viewer: Viewer, id: string, input: MessagePartInput, field = 'part'): Promise<ChunkEvent> {
    const part = checkPart(input);
    let stream = await this.requireOwnStream(viewer, id);
    for (let attempt = 1; ; attempt++) {
      const applied = applyPart(stream.parts, part);
      const text = applied.delta.type === 'TEXT' ? (applied.delta.text ?? '') : '';
      const textChars = charLength(text);
      const stored = await this.repo.appendPart(id, stream.version, applied.parts, text, textChars, LIMITS.contentChars);
      if (stored) {
        const event = await this.publish(
          { ...stream, version: stored.version },
          { offset: stored.length - textChars, chunk: text, part: applied.delta, partIndex: applied.index, textOffset: applied.textOffset },
        );
        await this.events.emit('answerStreamChanged', { actor: viewer, change: 'APPENDED', stream });
        return event;
      }
      const now = await this.get(id);
      if (now?.state !== 'STREAMING') throw new BadInputError(`The stream has ended (${now?.state})`, 'id');
      if (now.version === stream.version) {
        throw new BadInputError(`A message is at most ${LIMITS.contentChars} characters`, field === 'chunk' ? 'chunk' : 'part.text');
      }
      // Another append came first: apply this one to what it left.
      if (attempt >= MAX_APPEND_ATTEMPTS) throw new ConflictError('The stream is being appended to from elsewhere: retry');
      stream = now;
    }
  }

  /** Turns the stream into an ordinary message with the conversation's next seq. */
  async complete(viewer: Viewer, id: string): Promise<MessageRow> {
    const stream = await this.requireOwnStream(viewer, id);
    if (!holdsAnswer(stream)) throw new BadInputError('Nothing was streamed: a message needs content', 'id');
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
      if (end.state !== 'CANCELLED' && holdsAnswer(stream)) {
        const [sender] = await this.users.byIds(stream.orgId, [stream.senderId]);
        await this.finalize(actor, stream, end.state === 'PREEMPTED' ? end.by : null, sender);
      } else {
        // Cancelled, or ended with nothing streamed yet: nothing to keep.
        const ended = await this.repo.end(stream.id, end.state === 'PREEMPTED' ? 'PREEMPTED' : 'CANCELLED');
        if (!ended) continue;
        await this.publish(ended, END);
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
      parts: plainText(claimed.parts) ? null : claimed.parts,
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
    await this.publish(claimed, END, messageSnapshot(message, sender));
    await this.messages.announce(message, sender);
    await this.events.emit('answerStreamChanged', { actor, change: preemptedBy ? 'PREEMPTED' : 'COMPLETED', stream: claimed });
    await this.events.emit('messageCommitted', { actor, message, via: 'stream' });
    // A run whose last open stream completed is done.
    if (!preemptedBy) await this.runs.completeIfIdle(actor, claimed);
    return message;
  }

  /** The viewer's own stream, still STREAMING, whose run takes output: one read. */
  private async requireOwnStream(viewer: Viewer, id: string): Promise<MessageStreamRow> {
    const found = isUuid(id) ? await this.repo.getForWriter(id, viewer.userId) : null;
    if (!found || found.stream.orgId !== viewer.orgId) throw new NotFoundError('Message stream');
    const { stream } = found;
    if (!found.takesPart) throw new ForbiddenError('You are not a participant of this conversation');
    if (stream.senderId !== viewer.userId) throw new ForbiddenError('Only the sender streams into a message');
    if (stream.state !== 'STREAMING') throw new BadInputError(`The stream has ended (${stream.state})`, 'id');
    this.runs.requireStreamOpen(stream, found.run);
    return stream;
  }

  /** Broadcasts an event of the stream (as of its `version`): an append, its start or its end. */
  private async publish(stream: MessageStreamRow, piece: Piece | typeof END, message?: MessageSnapshot): Promise<ChunkEvent> {
    const state = message ? (stream.state === 'PREEMPTED' ? 'PREEMPTED' : 'COMPLETED') : stream.state;
    const event: ChunkEvent = {
      messageId: stream.id,
      conversationId: stream.conversationId,
      senderId: stream.senderId,
      runId: stream.runId,
      traceId: stream.traceId,
      ...(piece === END ? { offset: charLength(stream.content), chunk: '', part: null, partIndex: null, textOffset: null } : piece),
      seq: stream.version,
      state,
      message: message ?? null,
    };
    await this.bus.publish(topics.messageChunk(stream.conversationId), event);
    return event;
  }
}
