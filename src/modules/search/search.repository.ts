import { and, desc, eq, getTableColumns, gte, inArray, isNull, lt, type SQL, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type MessageRow, messages, participants } from '../../db/schema/index.js';
import { untilBound } from '../messages/message.repository.js';

/**
 * The text search configuration of the `search` column (see the migration's hand-written part)
 * and of every query against it: English stemming, so "running" finds "run".
 */
export const SEARCH_CONFIG = 'english';

export type SearchFilter = { conversationId?: string; senderId?: string; since?: Date; until?: Date };

export type SearchHit = { message: MessageRow; highlight: string };

/** The generated tsvector of a message's content; not in the drizzle table, so plain selects never read it. */
const searchVector = sql.raw('"messages"."search"');

/**
 * The content with `&`, `<`, `>` and `"` replaced by entities, in SQL: ts_headline then marks
 * words of the escaped text, and the only tags in what it answers are its own <mark> and
 * </mark>. The parser reads an entity as one token that is no word, so a mark never lands
 * inside one.
 */
const escapedContent = sql`replace(replace(replace(replace(${messages.content}, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;')`;

/**
 * Full-text search over messages with Postgres: the `search` column is a tsvector generated from
 * the content (an edit re-generates it; a delete empties the content) under a GIN index.
 */
export class SearchRepository {
  constructor(private readonly db: Db) {}

  /**
   * Messages of the user's conversations matching `query` (websearch syntax: words, "phrases",
   * or, -word), best match first (ts_rank, then newest), `offset` rows in; `limit` + 1 rows to
   * tell if there are more. Deleted messages never match.
   */
  async search(orgId: string, userId: string, query: string, filter: SearchFilter, offset: number, limit: number): Promise<SearchHit[]> {
    const tsquery = sql`websearch_to_tsquery(${sql.raw(`'${SEARCH_CONFIG}'`)}, ${query})`;
    const conditions: SQL[] = [
      eq(messages.orgId, orgId),
      sql`${searchVector} @@ ${tsquery}`,
      isNull(messages.deletedAt),
      inArray(
        messages.conversationId,
        this.db
          .select({ id: participants.conversationId })
          .from(participants)
          .where(and(eq(participants.orgId, orgId), eq(participants.userId, userId))),
      ),
    ];
    if (filter.conversationId) conditions.push(eq(messages.conversationId, filter.conversationId));
    if (filter.senderId) conditions.push(eq(messages.senderId, filter.senderId));
    if (filter.since) conditions.push(gte(messages.createdAt, filter.since));
    const until = filter.until && untilBound(filter.until);
    if (until) conditions.push(lt(messages.createdAt, until));
    const rows = await this.db
      .select({
        ...getTableColumns(messages),
        highlight: sql<string>`ts_headline(${sql.raw(`'${SEARCH_CONFIG}'`)}, ${escapedContent}, ${tsquery}, 'StartSel=<mark>, StopSel=</mark>, HighlightAll=true')`,
      })
      .from(messages)
      .where(and(...conditions))
      .orderBy(sql`ts_rank(${searchVector}, ${tsquery}) desc`, desc(messages.createdAt), messages.id)
      .limit(limit + 1)
      .offset(offset);
    return rows.map(({ highlight, ...message }) => ({ message, highlight }));
  }
}
