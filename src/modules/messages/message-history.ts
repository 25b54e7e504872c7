import type { AuditLog } from '../../auth/audit.js';
import type { Viewer } from '../../auth/viewer.js';
import type { MessageRow } from '../../db/schema/index.js';
import { NotFoundError } from '../../graphql/errors.js';
import { decodeIntCursor, encodeCursor, INT4_MAX, type Page, type PageArgs, parsePageArgs, trimPage } from '../../lib/paging.js';
import { checkText, isUuid, LIMITS } from '../../lib/validate.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import { type MessageRepository, untilBound } from './message.repository.js';
import type { MessageService } from './message.service.js';
import type { HistoryMessage, MessageHistoryRepository } from './message-history.repository.js';

export type MessageListArgs = PageArgs & {
  since?: Date | null;
  until?: Date | null;
  topLevel?: boolean | null;
  senderId?: string | null;
  priority?: MessageRow['priority'] | null;
  kind?: MessageRow['kind'] | null;
};

export const messageCursor = (seq: number) => encodeCursor('seq', seq);

/**
 * A conversation's history for `messages` (and `Conversation.messages`). The newest page of a
 * conversation the viewer is in is one statement (see MessageHistoryRepository). More follow only
 * when needed: for an empty result, to tell NOT_FOUND, FORBIDDEN and an empty page apart exactly as
 * the participant check does; with a cursor, to tell whether messages lie beyond it; and for an
 * expert's read, its audit.
 */
export class MessageHistory {
  constructor(
    private readonly pages: MessageHistoryRepository,
    private readonly conversations: ConversationService,
    private readonly messageRepo: MessageRepository,
    /** Experts' reads are audited. */
    private readonly audit: Pick<AuditLog, 'expertAccess'>,
    /** A thread's root, when its page is empty. */
    private readonly visible: Pick<MessageService, 'requireVisible'>,
  ) {}

  /** History in seq order; `last: 50` is the newest 50. */
  async list(viewer: Viewer, conversationId: string, args: MessageListArgs): Promise<Page<HistoryMessage>> {
    const request = parsePageArgs(args, (raw) => decodeIntCursor('seq', raw, INT4_MAX));
    if (args.senderId != null) checkText('senderId', args.senderId, { max: LIMITS.shortTextChars });
    // Not a uuid: no such conversation (and Postgres would refuse the parameter).
    if (!isUuid(conversationId)) throw new NotFoundError('Conversation');
    const filter = {
      since: args.since ?? undefined,
      until: args.until ? untilBound(args.until) : undefined,
      topLevel: args.topLevel ?? undefined,
      senderId: args.senderId ?? undefined,
      priority: args.priority ?? undefined,
      kind: args.kind ?? undefined,
    };
    const rows = await this.pages.page(viewer.orgId, viewer.userId, conversationId, request, filter);
    // No row: the conversation is missing, the viewer is not in it, or the page is empty.
    if (rows.length === 0) await this.conversations.requireParticipant(viewer, conversationId);
    await this.audit.expertAccess(viewer, conversationId, 'expert.read');
    const { nodes, hasMore } = trimPage(rows, request);
    const forward = request.direction === 'forward';
    // The far side of the cursor is known to hold messages only if one matching the filter exists.
    const cursorSide = forward ? request.after : request.before;
    const beyondCursor = cursorSide !== undefined && (await this.messageRepo.existsBeyond(conversationId, forward ? 'lte' : 'gte', cursorSide, filter));
    return {
      nodes,
      hasNextPage: forward ? hasMore : beyondCursor,
      hasPreviousPage: forward ? beyondCursor : hasMore,
      cursorOf: (m) => messageCursor(m.seq),
    };
  }

  /**
   * The replies in the thread of a message the viewer may read, in seq order: one statement for a
   * page with replies, as `list`; an empty one also reads the root, to tell NOT_FOUND, FORBIDDEN
   * and a thread without replies apart.
   */
  async thread(viewer: Viewer, rootId: string, args: PageArgs): Promise<Page<HistoryMessage>> {
    const request = parsePageArgs(args, (raw) => decodeIntCursor('seq', raw, INT4_MAX));
    if (!isUuid(rootId)) throw new NotFoundError('Message');
    const rows = await this.pages.threadPage(viewer.orgId, viewer.userId, rootId, request);
    const conversationId = rows[0]?.conversationId ?? (await this.visible.requireVisible(viewer, rootId)).conversationId;
    await this.audit.expertAccess(viewer, conversationId, 'expert.read', { operation: 'threadReplies' });
    const { nodes, hasMore } = trimPage(rows, request);
    const forward = request.direction === 'forward';
    const cursorSide = forward ? request.after : request.before;
    const beyondCursor =
      cursorSide !== undefined && (await this.messageRepo.existsBeyond(conversationId, forward ? 'lte' : 'gte', cursorSide, { threadId: rootId }));
    return {
      nodes,
      hasNextPage: forward ? hasMore : beyondCursor,
      hasPreviousPage: forward ? beyondCursor : hasMore,
      cursorOf: (m) => messageCursor(m.seq),
    };
  }
}
