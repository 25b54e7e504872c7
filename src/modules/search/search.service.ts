import type { AuditLog } from '../../auth/audit.js';
import type { Viewer } from '../../auth/viewer.js';
import { BadInputError } from '../../graphql/errors.js';
import { decodeIntCursor, encodeCursor } from '../../lib/paging.js';
import { checkText, isUuid, LIMITS } from '../../lib/validate.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { SearchHit, SearchRepository } from './search.repository.js';

/** Longest query, in characters. */
export const MAX_QUERY_CHARS = 256;
export const DEFAULT_SEARCH_PAGE = 20;
export const MAX_SEARCH_PAGE = 50;
/** How deep pages go: past this, a better query serves better than another page. */
export const MAX_SEARCH_OFFSET = 10_000;

export type SearchArgs = {
  query: string;
  conversationId?: string | null;
  senderId?: string | null;
  since?: Date | null;
  until?: Date | null;
  first?: number | null;
  after?: string | null;
};

export type SearchEdge = SearchHit & { cursor: string };
export type SearchPage = { edges: SearchEdge[]; hasNextPage: boolean; hasPreviousPage: boolean };

/** Search over the messages of the viewer's conversations (see SearchRepository). */
export class SearchService {
  constructor(
    private readonly repo: SearchRepository,
    private readonly conversations: ConversationService,
    /** An expert's search in a conversation is a read of it. */
    private readonly audit: Pick<AuditLog, 'expertAccess'>,
  ) {}

  async search(viewer: Viewer, args: SearchArgs): Promise<SearchPage> {
    checkText('query', args.query, { max: MAX_QUERY_CHARS });
    const first = args.first ?? DEFAULT_SEARCH_PAGE;
    if (first < 0 || first > MAX_SEARCH_PAGE) throw new BadInputError(`\`first\` must be between 0 and ${MAX_SEARCH_PAGE}`, 'first');
    const offset = args.after == null ? 0 : decodeIntCursor('search', args.after, MAX_SEARCH_OFFSET);
    if (offset === undefined) throw new BadInputError('`after` is not a valid cursor', 'after');
    if (args.senderId != null) checkText('senderId', args.senderId, { max: LIMITS.shortTextChars });
    if (args.since && args.until && args.since > args.until) throw new BadInputError('`since` is after `until`', 'since');
    if (args.conversationId != null) {
      // Searching one conversation is reading it: the viewer must take part.
      if (!isUuid(args.conversationId)) throw new BadInputError('`conversationId` names no conversation', 'conversationId');
      await this.conversations.requireParticipant(viewer, args.conversationId);
      await this.audit.expertAccess(viewer, args.conversationId, 'expert.read', { operation: 'searchMessages' });
    }
    const hits = await this.repo.search(
      viewer.orgId,
      viewer.userId,
      args.query,
      {
        conversationId: args.conversationId ?? undefined,
        senderId: args.senderId ?? undefined,
        since: args.since ?? undefined,
        until: args.until ?? undefined,
      },
      offset,
      first,
    );
    const edges = hits.slice(0, first).map((hit, i) => ({ ...hit, cursor: encodeCursor('search', offset + i + 1) }));
    return { edges, hasNextPage: hits.length > first, hasPreviousPage: offset > 0 };
  }
}
