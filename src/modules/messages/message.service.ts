import type { Viewer } from '../../auth/viewer.js';
import type { MessageRow, ParticipantRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { BadInputError, ConflictError, ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { GroupedReads } from '../../lib/grouped-reads.js';
import { cursorDate, decodeCursor, encodeCursor, type Page, type PageArgs, parsePageArgs, trimPage } from '../../lib/paging.js';
import { checkJson, checkText, isUuid, LIMITS } from '../../lib/validate.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { messageSnapshot, type UserSnapshot, viewerSnapshot } from '../../pubsub/snapshots.js';
import { topics } from '../../pubsub/topics.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { UserService } from '../users/user.service.js';
import { DuplicateClientMessageId, type MentionKey, type MessageRepository, type NewMessage } from './message.repository.js';

export type SendMessageInput = {
  conversationId: string;
  content: string;
  contentType?: string | null;
  kind?: MessageRow['kind'] | null;
  replyToId?: string | null;
  priority?: MessageRow['priority'] | null;
  interruptible?: boolean | null;
  runId?: string | null;
  traceId?: string | null;
  metadata?: unknown;
  clientMessageId?: string | null;
  /** Reply in the thread of this top-level message of the conversation. */
  threadId?: string | null;
  /** Participants the message mentions. */
  mentionIds?: string[] | null;
};

/**
 * A rule another module sets for a message before it may be stored (agents: an agent's message
 * in a run needs the run ACTIVE). Answers the check to run, or null when it has none for this
 * message; the check may refuse the message by throwing. It runs once the viewer is known to take
 * part in the conversation. A rule, not a domain event: it decides whether there is a write at all.
 */
export type SendCheck = (viewer: Viewer, message: SendCheckInput) => (() => Promise<void>) | null;

export type SendCheckInput = { conversationId: string; runId: string | null; traceId: string | null; priority: MessageRow['priority'] };

/** A message to send, as the service has completed it from the input. */
type SendCandidate = NewMessage & Pick<MessageRow, 'content' | 'contentType' | 'kind' | 'replyToId' | 'clientMessageId' | 'threadId' | 'mentionIds'>;

/** People one message mentions at most. */
export const MAX_MENTIONS = 50;

const NOT_A_THREAD = '`threadId` does not name a top-level message of this conversation';

/** How often a send is tried again when the database refused it but no reason was found afterwards. */
const SEND_ATTEMPTS = 3;

export class MessageService {
  private sendChecks: readonly SendCheck[] = [];
  /** Thread roots with their senders, for the messageUpdated of each reply: read in groups under load. */
  private readonly roots = new GroupedReads<string, { message: MessageRow; sender: UserSnapshot }>(
    async (ids) => new Map((await this.repo.withSenders(ids)).map((found) => [found.message.id, found])),
  );
  /** Thread roots whose messageUpdated is due and not yet published, by root id (see threadChanged). */
  private readonly rootsDue = new Map<string, Promise<void>>();

  constructor(
    private readonly repo: MessageRepository,
    private readonly conversations: ConversationService,
    private readonly users: UserService,
    private readonly bus: EventBus,
    private readonly events: DomainEvents,
  ) {}

  /** Adds a rule every send must pass (see SendCheck); modules add theirs when they are made. */
  addSendCheck(check: SendCheck): void {
    this.sendChecks = [...this.sendChecks, check];
  }

  /**
   * Sends a message to a conversation the viewer takes part in. With a clientMessageId the send
   * is exactly-once: a retry with the same content returns the original message and writes
   * nothing; the same id with other content is CONFLICT. Subscribers hear of it after commit.
   *
   * The usual send is one statement that checks everything it can itself (see insertNext); only
   * when it stores nothing, or the clientMessageId was used before, is more read to find out why.
   */
  async send(viewer: Viewer, input: SendMessageInput): Promise<MessageRow> {
    checkText('content', input.content, { max: LIMITS.contentChars });
    checkText('contentType', input.contentType, { max: 100 });
    checkText('runId', input.runId, { max: LIMITS.shortTextChars });
    checkText('traceId', input.traceId, { max: LIMITS.shortTextChars });
    checkText('clientMessageId', input.clientMessageId, { max: LIMITS.shortTextChars });
    checkJson('metadata', input.metadata);
    if (input.replyToId != null && !isUuid(input.replyToId)) {
      throw new BadInputError('`replyToId` does not name a message of this conversation', 'replyToId');
    }
    if (input.threadId != null && !isUuid(input.threadId)) throw new BadInputError(NOT_A_THREAD, 'threadId');
    const mentionIds = input.mentionIds?.length ? [...new Set(input.mentionIds)] : null;
    if (mentionIds) {
      if (mentionIds.length > MAX_MENTIONS) throw new BadInputError(`A message mentions at most ${MAX_MENTIONS} people`, 'mentionIds');
      for (const id of mentionIds) checkText('mentionIds', id, { max: LIMITS.shortTextChars });
    }

    const message = {
      conversationId: input.conversationId,
      orgId: viewer.orgId,
      senderId: viewer.userId,
      senderKind: viewer.kind,
      content: input.content,
      contentType: input.contentType ?? 'text/plain',
      kind: input.kind ?? 'CHAT',
      replyToId: input.replyToId ?? null,
      priority: input.priority ?? 'NORMAL',
      interruptible: input.interruptible ?? false,
      runId: input.runId ?? null,
      traceId: input.traceId ?? null,
      metadata: input.metadata ?? null,
      clientMessageId: input.clientMessageId ?? null,
      threadId: input.threadId ?? null,
      mentionIds,
    };

    const checks = this.checksFor(viewer, message);
    if (checks) {
      // These come last, after the ones the statement makes: so a retry of a message stored
      // before its run was paused or ended gets the original, not the run's refusal.
      const original = await this.checkOneByOne(viewer, message);
      if (original) return original;
      for (const check of checks) await check();
    }

    const stored = await this.store(viewer, message);
    if (stored.isRetry) return stored.message;
    // Both at once: their Redis commands still go out in this order on the one connection, and
    // the sender waits one round trip, not two.
    await Promise.all([
      this.announce(stored.message, viewerSnapshot(viewer)),
      this.events.emit('messageCommitted', { actor: viewer, message: stored.message, via: 'send' }),
      this.threadChanged(stored.message),
    ]);
    return stored.message;
  }

  /** The checks other modules have for this message, if any (most sends have none). */
  private checksFor(viewer: Viewer, message: SendCheckInput): (() => Promise<void>)[] | null {
    let checks: (() => Promise<void>)[] | null = null;
    for (let i = 0; i < this.sendChecks.length; i++) {
      const check = this.sendChecks[i]!(viewer, message);
      if (check) (checks ??= []).push(check);
    }
    return checks;
  }

  /** Stores a new message, or finds the original of a retry, or throws why neither is possible. */
  private async store(viewer: Viewer, message: SendCandidate): Promise<{ message: MessageRow; isRetry: boolean }> {
    for (let attempt = 1; attempt <= SEND_ATTEMPTS; attempt++) {
      try {
        // A conversation id that is no uuid is not looked up (checkOneByOne() answers NOT_FOUND).
        const stored = isUuid(message.conversationId) ? await this.repo.insertNext(message, { senderMustParticipate: true }) : null;
        if (stored) return { message: stored, isRetry: false };
      } catch (err) {
        if (!(err instanceof DuplicateClientMessageId)) throw err;
        const original = await this.repo.byClientMessageId(message.conversationId, viewer.userId, message.clientMessageId!);
        if (original) return { message: sameOrConflict(original, message), isRetry: true };
        // The original is gone with its conversation: checkOneByOne() tells.
      }
      const original = await this.checkOneByOne(viewer, message);
      if (original) return { message: original, isRetry: true };
      // Nothing is wrong any more: membership changed since the statement. Try again.
    }
    throw new Error(`send to ${message.conversationId} refused ${SEND_ATTEMPTS} times without a reason`);
  }

  /**
   * The conditions of a send, one by one and in this order: the conversation exists in the
   * viewer's org (NOT_FOUND) and the viewer takes part in it (FORBIDDEN); a retry of a stored
   * message gets the original (or CONFLICT); replyToId names a message of it (BAD_USER_INPUT).
   * Answers the original of a retry, null when the message may be stored; throws otherwise.
   */
  private async checkOneByOne(viewer: Viewer, message: SendCandidate): Promise<MessageRow | null> {
    await this.conversations.requireParticipant(viewer, message.conversationId);
    if (message.clientMessageId) {
      const original = await this.repo.byClientMessageId(message.conversationId, viewer.userId, message.clientMessageId);
      if (original) return sameOrConflict(original, message);
    }
    if (message.replyToId && !(await this.repo.existsIn(message.conversationId, message.replyToId))) {
      throw new BadInputError('`replyToId` does not name a message of this conversation', 'replyToId');
    }
    if (message.threadId && !(await this.repo.isThreadRoot(message.conversationId, message.threadId))) {
      throw new BadInputError(NOT_A_THREAD, 'threadId');
    }
    if (message.mentionIds) {
      const present = await this.conversations.presentParticipants(message.mentionIds.map((userId) => ({ conversationId: message.conversationId, userId })));
      const absent = message.mentionIds.filter((userId) => !present.has(`${message.conversationId}\u0000${userId}`));
      if (absent.length) throw new BadInputError(`\`mentionIds\` names people who do not take part: ${absent.slice(0, 5).join(', ')}`, 'mentionIds');
    }
    return null;
  }

  /** Pins a message of a conversation the viewer takes part in (pinning it again changes nothing). */
  async pin(viewer: Viewer, id: string): Promise<MessageRow> {
    const { message, sender } = await this.requireAccess(viewer, id);
    if (message.deletedAt) throw new BadInputError('A deleted message cannot be pinned', 'id');
    if (message.pinnedAt) return message;
    const pinned = await this.repo.setPin(id, viewer.userId);
    await Promise.all([
      this.announceUpdated(pinned, viewer, sender),
      this.events.emit('messagePinChanged', { actor: viewer, change: 'PINNED', message: pinned }),
    ]);
    return pinned;
  }

  /** Unpins a message (any participant may); unpinning one not pinned changes nothing. */
  async unpin(viewer: Viewer, id: string): Promise<MessageRow> {
    const { message, sender } = await this.requireAccess(viewer, id);
    if (!message.pinnedAt) return message;
    const unpinned = await this.repo.setPin(id, null);
    await Promise.all([
      this.announceUpdated(unpinned, viewer, sender),
      this.events.emit('messagePinChanged', { actor: viewer, change: 'UNPINNED', message: unpinned }),
    ]);
    return unpinned;
  }

  /** Messages mentioning the viewer across their conversations, newest first. */
  async mentions(viewer: Viewer, args: Pick<PageArgs, 'first' | 'after'>): Promise<Page<MessageRow>> {
    const request = parsePageArgs<MentionKey>(args, decodeMentionCursor);
    const rows = await this.repo.mentioning(viewer.orgId, viewer.userId, request.after, request.limit);
    const { nodes, hasMore } = trimPage(rows, request);
    return {
      nodes,
      hasNextPage: hasMore,
      hasPreviousPage: request.after !== undefined,
      cursorOf: (m) => encodeCursor('mention', `${m.createdAt.getTime()}:${m.id}`),
    };
  }

  /**
   * A reply came or went: the root's summary changed, and messageUpdated subscribers hear of the
   * root. They read the summary when it is delivered, after this commit, so the last one any
   * subscriber gets counts every reply, whichever instance stored which. For the same reason a
   * reply whose root's announcement is due but not yet published joins it: under a burst of
   * replies to one thread, one event tells of several.
   */
  private threadChanged(reply: MessageRow): Promise<void> {
    const rootId = reply.threadId;
    if (!rootId) return Promise.resolve();
    let due = this.rootsDue.get(rootId);
    if (!due) {
      due = this.roots.get(rootId).then(
        (found) => {
          // From here on a reply needs an announcement of its own: this one may be delivered before it commits.
          this.rootsDue.delete(rootId);
          if (found && found.message.orgId === reply.orgId) return this.announceUpdated(found.message, undefined, found.sender);
        },
        (err: unknown) => {
          this.rootsDue.delete(rootId);
          throw err;
        },
      );
      this.rootsDue.set(rootId, due);
    }
    return due;
  }

  /**
   * Stores what a streamed answer leaves (its id is the stream's) with the conversation's next
   * seq, for the agents module, which has checked the stream; null if the conversation is gone.
   */
  storeStreamed(message: NewMessage & { id: string }): Promise<MessageRow | null> {
    return this.repo.insertNext(message);
  }

  /**
   * Writes a SYSTEM message to the conversation for `actor` (its sender), who need not take part
   * in it: what the service itself tells the conversation (an expert requested, joining, handing
   * back). Null if the conversation is gone.
   */
  async postSystem(actor: Viewer, conversationId: string, content: string, metadata: Record<string, unknown>): Promise<MessageRow | null> {
    const message = await this.repo.insertNext({
      conversationId,
      orgId: actor.orgId,
      senderId: actor.userId,
      senderKind: actor.kind,
      content,
      contentType: 'text/plain',
      kind: 'SYSTEM',
      replyToId: null,
      priority: 'NORMAL',
      interruptible: false,
      runId: null,
      traceId: null,
      metadata,
      clientMessageId: null,
    });
    if (!message) return null;
    await Promise.all([this.announce(message, viewerSnapshot(actor)), this.events.emit('messageCommitted', { actor, message, via: 'system' })]);
    return message;
  }

  /** A message of the org by id, unchecked: for modules that have checked access themselves. */
  find(orgId: string, id: string): Promise<MessageRow | null> {
    return this.repo.byId(orgId, id);
  }

  /**
   * Stored messages with seq > afterSeq, ascending, each with its sender: for feeds that catch up
   * (they check membership themselves).
   */
  storedAfter(conversationId: string, afterSeq: number, limit: number): Promise<{ message: MessageRow; sender: UserSnapshot }[]> {
    return this.repo.after(conversationId, afterSeq, limit);
  }

  /** Tells subscribers of a committed message (with its sender, so they need no read). */
  async announce(message: MessageRow, sender?: UserSnapshot): Promise<void> {
    await this.bus.publish(topics.messageAdded(message.conversationId), messageSnapshot(message, sender));
  }

  /** Changes the content of the viewer's own message and sets editedAt. */
  async edit(viewer: Viewer, id: string, content: string): Promise<MessageRow> {
    checkText('content', content, { max: LIMITS.contentChars });
    const existing = await this.requireVisible(viewer, id);
    if (existing.senderId !== viewer.userId) throw new ForbiddenError('Only the sender can edit a message');
    if (existing.deletedAt) throw new BadInputError('A deleted message cannot be edited', 'id');
    const edited = await this.repo.edit(id, content);
    await this.bus.publish(topics.messageUpdated(edited.conversationId), messageSnapshot(edited, viewerSnapshot(viewer)));
    await this.events.emit('messageEdited', { actor: viewer, message: edited });
    return edited;
  }

  /** Soft-deletes a message: its sender, or an owner or admin of the conversation. */
  async delete(viewer: Viewer, id: string): Promise<MessageRow> {
    const { message: existing, sender, role } = await this.requireAccess(viewer, id);
    if (existing.senderId !== viewer.userId && role !== 'OWNER' && role !== 'ADMIN') {
      throw new ForbiddenError('Only the sender, owners and admins can delete a message');
    }
    if (existing.deletedAt) return existing;
    const deleted = await this.repo.softDelete(id);
    // The event carries its sender, as those of sends and edits do, read with the message: not
    // by each subscription that selects it.
    await this.bus.publish(topics.messageDeleted(deleted.conversationId), messageSnapshot(deleted, sender));
    await Promise.all([this.events.emit('messageDeleted', { actor: viewer, message: deleted }), this.threadChanged(deleted)]);
    return deleted;
  }

  /**
   * Tells the subscribers of messageUpdated that something about a message changed (its
   * reactions, its thread, its pin): the row as stored now, with its sender.
   */
  async announceUpdated(message: MessageRow, actor?: Viewer, knownSender?: UserSnapshot): Promise<void> {
    const sender =
      knownSender ??
      (actor && message.senderId === actor.userId
        ? viewerSnapshot(actor)
        : (await this.users.snapshots(message.orgId, [message.senderId])).get(message.senderId));
    await this.bus.publish(topics.messageUpdated(message.conversationId), messageSnapshot(message, sender));
  }

  /**
   * Marks a run's interruptible messages as preempted by `by` (the PREEMPT control event) and
   * tells subscribers of each.
   */
  async markPreempted(conversationId: string, runId: string, by: string): Promise<void> {
    const marked = await this.repo.preemptRunMessages(conversationId, runId, by);
    // The events carry their senders (the run's agent, as a rule), read once here rather than by
    // each subscription that selects them.
    const senders = marked.length
      ? await this.users.snapshots(
          marked[0]!.orgId,
          marked.map((m) => m.senderId),
        )
      : new Map();
    for (const message of marked) {
      await this.bus.publish(topics.messageUpdated(conversationId), messageSnapshot(message, senders.get(message.senderId)));
    }
  }

  /** A message of a conversation the viewer takes part in (NOT_FOUND or FORBIDDEN otherwise). */
  async requireVisible(viewer: Viewer, id: string): Promise<MessageRow> {
    return (await this.requireAccess(viewer, id)).message;
  }

  /**
   * requireVisible's message with its sender, as an event about it carries it, and the viewer's
   * role in its conversation: one read for a change that checks, writes and announces.
   */
  async requireAccess(viewer: Viewer, id: string): Promise<{ message: MessageRow; sender: UserSnapshot; role: ParticipantRow['role'] }> {
    const found = isUuid(id) ? await this.repo.withAccess(viewer.orgId, id, viewer.userId) : null;
    if (!found) throw new NotFoundError('Message');
    if (!found.role) throw new ForbiddenError('You are not a participant of this conversation');
    return { message: found.message, sender: found.sender, role: found.role };
  }
}

function decodeMentionCursor(raw: string): MentionKey | undefined {
  const match = decodeCursor('mention', raw)?.match(/^(\d{1,15}):([0-9a-f-]{36})$/);
  const at = match ? cursorDate(Number(match[1])) : undefined;
  return match && at && isUuid(match[2]!) ? { at, id: match[2]! } : undefined;
}

/** A retried send: the original when it says the same thing, CONFLICT when it does not. */
function sameOrConflict(
  original: MessageRow,
  retry: Pick<MessageRow, 'content' | 'contentType' | 'kind' | 'replyToId' | 'clientMessageId' | 'threadId'>,
): MessageRow {
  // A deleted original has lost its content; the retry still names it.
  const same =
    original.deletedAt !== null ||
    (original.content === retry.content &&
      original.contentType === retry.contentType &&
      original.kind === retry.kind &&
      original.replyToId === retry.replyToId &&
      original.threadId === retry.threadId);
  if (!same) {
    throw new ConflictError(`clientMessageId "${retry.clientMessageId}" was already used for a different message`);
  }
  return original;
}
