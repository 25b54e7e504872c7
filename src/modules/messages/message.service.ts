import type { Viewer } from '../../auth/viewer.js';
import type { Database } from '../../db/client.js';
import type { ConversationRow, MessageRow } from '../../db/schema/index.js';
import { BadInputError, ConflictError, ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { decodeIntCursor, encodeCursor, parsePageArgs, trimPage, type Page, type PageArgs } from '../../graphql/pagination.js';
import { checkJson, checkText, isUuid, LIMITS } from '../../lib/validate.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { messageSnapshot, type UserSnapshot } from '../../pubsub/snapshots.js';
import { topics } from '../../pubsub/topics.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import { MessageRepository, type MessageFilter } from './message.repository.js';

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
};

export type MessageListArgs = PageArgs & {
  since?: Date | null;
  senderId?: string | null;
  priority?: MessageRow['priority'] | null;
  kind?: MessageRow['kind'] | null;
};

/** What other modules do around messages (wired in src/services.ts). */
export type MessageHooks = {
  /** Before a new message is stored: may refuse it (an agent's paused run). */
  beforeSend?: (viewer: Viewer, message: { conversationId: string; runId: string | null; traceId: string | null; priority: MessageRow['priority'] }) => Promise<void>;
  /** After a message is committed and announced: typing ends, runs preempt, experts are audited. */
  afterSend?: (viewer: Viewer, message: MessageRow, conversation: ConversationRow) => Promise<void>;
  /** After a page of history is read (expert access is audited). */
  afterRead?: (viewer: Viewer, conversationId: string) => Promise<void>;
};

export const messageCursor = (seq: number) => encodeCursor('seq', seq);

export class MessageService {
  readonly repo: MessageRepository;

  constructor(
    database: Database,
    private readonly conversations: ConversationService,
    private readonly bus: EventBus,
    private readonly hooks: MessageHooks = {},
  ) {
    this.repo = new MessageRepository(database.db);
  }

  /**
   * Sends a message to a conversation the viewer takes part in. With a clientMessageId the send
   * is exactly-once: a retry with the same content returns the original message and writes
   * nothing; the same id with other content is CONFLICT. Subscribers hear of it after commit.
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
    const { conversation } = await this.conversations.requireParticipant(viewer, input.conversationId);

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
    };

    if (message.clientMessageId) {
      const original = await this.repo.byClientMessageId(message.conversationId, viewer.userId, message.clientMessageId);
      if (original) return sameOrConflict(original, message);
    }
    if (message.replyToId && !(await this.repo.existsIn(message.conversationId, message.replyToId))) {
      throw new BadInputError('`replyToId` does not name a message of this conversation', 'replyToId');
    }

    await this.hooks.beforeSend?.(viewer, message);
    const stored = await this.repo.insertNext(message);
    if (!stored) {
      // Lost a race with a concurrent send of the same clientMessageId: that one is the original.
      const original = await this.repo.byClientMessageId(message.conversationId, viewer.userId, message.clientMessageId!);
      return sameOrConflict(original!, message);
    }
    await this.announce(stored, senderOf(viewer));
    await this.hooks.afterSend?.(viewer, stored, conversation);
    return stored;
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
    await this.bus.publish(topics.messageUpdated(edited.conversationId), messageSnapshot(edited, senderOf(viewer)));
    return edited;
  }

  /** Soft-deletes a message: its sender, or an owner or admin of the conversation. */
  async delete(viewer: Viewer, id: string): Promise<MessageRow> {
    const existing = await this.requireVisible(viewer, id);
    if (existing.senderId !== viewer.userId) {
      const { participant } = await this.conversations.requireParticipant(viewer, existing.conversationId);
      if (participant.role !== 'OWNER' && participant.role !== 'ADMIN') {
        throw new ForbiddenError('Only the sender, owners and admins can delete a message');
      }
    }
    if (existing.deletedAt) return existing;
    const deleted = await this.repo.softDelete(id);
    await this.bus.publish(topics.messageDeleted(deleted.conversationId), messageSnapshot(deleted));
    return deleted;
  }

  /** History in seq order; `last: 50` is the newest 50. */
  async list(viewer: Viewer, conversationId: string, args: MessageListArgs): Promise<Page<MessageRow>> {
    const request = parsePageArgs(args, (raw) => decodeIntCursor('seq', raw));
    if (args.senderId != null) checkText('senderId', args.senderId, { max: LIMITS.shortTextChars });
    await this.conversations.requireParticipant(viewer, conversationId);
    const filter: MessageFilter = {
      since: args.since ?? undefined,
      senderId: args.senderId ?? undefined,
      priority: args.priority ?? undefined,
      kind: args.kind ?? undefined,
    };
    const rows = await this.repo.page(conversationId, request, filter);
    await this.hooks.afterRead?.(viewer, conversationId);
    const { nodes, hasMore } = trimPage(rows, request);
    const forward = request.direction === 'forward';
    // The far side of the cursor is known to hold messages only if one matching the filter exists.
    const cursorSide = forward ? request.after : request.before;
    const beyondCursor =
      cursorSide !== undefined &&
      (await this.repo.existsBeyond(conversationId, forward ? 'lt' : 'gt', forward ? cursorSide + 1 : cursorSide - 1, filter));
    return {
      nodes,
      hasNextPage: forward ? hasMore : beyondCursor,
      hasPreviousPage: forward ? beyondCursor : hasMore,
      cursorOf: (m) => messageCursor(m.seq),
    };
  }

  /** A message of a conversation the viewer takes part in (NOT_FOUND or FORBIDDEN otherwise). */
  private async requireVisible(viewer: Viewer, id: string): Promise<MessageRow> {
    const message = isUuid(id) ? await this.repo.byId(viewer.orgId, id) : null;
    if (!message) throw new NotFoundError('Message');
    await this.conversations.requireParticipant(viewer, message.conversationId);
    return message;
  }
}

export const senderOf = (viewer: Viewer): UserSnapshot => ({
  orgId: viewer.orgId,
  id: viewer.userId,
  displayName: viewer.displayName,
  kind: viewer.kind,
  roles: viewer.roles,
});

/** A retried send: the original when it says the same thing, CONFLICT when it does not. */
function sameOrConflict(
  original: MessageRow,
  retry: Pick<MessageRow, 'content' | 'contentType' | 'kind' | 'replyToId' | 'clientMessageId'>,
): MessageRow {
  // A deleted original has lost its content; the retry still names it.
  const same =
    original.deletedAt !== null ||
    original.content === retry.content &&
    original.contentType === retry.contentType &&
    original.kind === retry.kind &&
    original.replyToId === retry.replyToId;
  if (!same) {
    throw new ConflictError(`clientMessageId "${retry.clientMessageId}" was already used for a different message`);
  }
  return original;
}
