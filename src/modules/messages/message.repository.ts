import { and, asc, desc, eq, gt, gte, inArray, lt, sql, type SQL } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { conversations, messages, type MessageRow } from '../../db/schema/index.js';
import type { PageRequest } from '../../graphql/pagination.js';

/** A message to store; `id` may be given (a completed stream keeps its id). */
export type NewMessage = Omit<typeof messages.$inferInsert, 'seq' | 'createdAt' | 'editedAt' | 'deletedAt'>;

export type MessageFilter = {
  since?: Date;
  senderId?: string;
  priority?: MessageRow['priority'];
  kind?: MessageRow['kind'];
};

/** Raised inside the send transaction to roll it back when the clientMessageId was used already. */
class DuplicateClientMessageId extends Error {}

export class MessageRepository {
  constructor(private readonly db: Db) {}

  /**
   * Stores a message with the conversation's next seq. The UPDATE takes the conversation's row
   * lock, so concurrent sends (on any instance) queue there and seqs come out 1, 2, 3… with no
   * gap. A reused clientMessageId rolls the whole transaction back (seq included) and returns null.
   */
  async insertNext(message: NewMessage): Promise<MessageRow | null> {
    try {
      return await this.db.transaction(async (tx) => {
        const [bumped] = await tx
          .update(conversations)
          .set({ lastSeq: sql`${conversations.lastSeq} + 1`, lastActivityAt: sql`now()` })
          .where(eq(conversations.id, message.conversationId))
          .returning({ seq: conversations.lastSeq });
        if (!bumped) throw new Error(`conversation ${message.conversationId} vanished during send`);
        const inserted = await tx
          .insert(messages)
          .values({ ...message, seq: bumped.seq })
          .onConflictDoNothing({ target: [messages.conversationId, messages.senderId, messages.clientMessageId] })
          .returning();
        if (!inserted[0]) throw new DuplicateClientMessageId();
        return inserted[0];
      });
    } catch (err) {
      if (err instanceof DuplicateClientMessageId) return null;
      throw err;
    }
  }

  async byClientMessageId(conversationId: string, senderId: string, clientMessageId: string): Promise<MessageRow | null> {
    const rows = await this.db
      .select()
      .from(messages)
      .where(
        and(
          eq(messages.conversationId, conversationId),
          eq(messages.senderId, senderId),
          eq(messages.clientMessageId, clientMessageId),
        ),
      );
    return rows[0] ?? null;
  }

  async byId(orgId: string, id: string): Promise<MessageRow | null> {
    const rows = await this.db.select().from(messages).where(and(eq(messages.id, id), eq(messages.orgId, orgId)));
    return rows[0] ?? null;
  }

  async byIds(ids: readonly string[]): Promise<MessageRow[]> {
    if (ids.length === 0) return [];
    return this.db.select().from(messages).where(inArray(messages.id, [...ids]));
  }

  async existsIn(conversationId: string, id: string): Promise<boolean> {
    const rows = await this.db
      .select({ id: messages.id })
      .from(messages)
      .where(and(eq(messages.id, id), eq(messages.conversationId, conversationId)));
    return rows.length > 0;
  }

  async edit(id: string, content: string): Promise<MessageRow> {
    const [row] = await this.db
      .update(messages)
      .set({ content, editedAt: sql`now()` })
      .where(eq(messages.id, id))
      .returning();
    return row!;
  }

  /** Soft delete: the row and its seq stay, the content goes. */
  async softDelete(id: string): Promise<MessageRow> {
    const [row] = await this.db
      .update(messages)
      .set({ content: '', metadata: null, deletedAt: sql`coalesce(${messages.deletedAt}, now())` })
      .where(eq(messages.id, id))
      .returning();
    return row!;
  }

  /** One page of a conversation's history by seq, fetched with one extra row to tell if there is more. */
  async page(conversationId: string, request: PageRequest<number>, filter: MessageFilter): Promise<MessageRow[]> {
    const conditions = [eq(messages.conversationId, conversationId), ...filterConditions(filter)];
    if (request.after !== undefined) conditions.push(gt(messages.seq, request.after));
    if (request.before !== undefined) conditions.push(lt(messages.seq, request.before));
    return this.db
      .select()
      .from(messages)
      .where(and(...conditions))
      .orderBy(request.direction === 'forward' ? asc(messages.seq) : desc(messages.seq))
      .limit(request.limit + 1);
  }

  /** Whether any message matching `filter` lies before (`lt`) or after (`gt`) a seq. */
  async existsBeyond(conversationId: string, side: 'lt' | 'gt', seq: number, filter: MessageFilter): Promise<boolean> {
    const rows = await this.db
      .select({ seq: messages.seq })
      .from(messages)
      .where(
        and(
          eq(messages.conversationId, conversationId),
          side === 'lt' ? lt(messages.seq, seq) : gt(messages.seq, seq),
          ...filterConditions(filter),
        ),
      )
      .limit(1);
    return rows.length > 0;
  }

  /** Stored messages with seq > afterSeq, ascending (resume after a disconnect). */
  async after(conversationId: string, afterSeq: number, limit: number): Promise<MessageRow[]> {
    return this.db
      .select()
      .from(messages)
      .where(and(eq(messages.conversationId, conversationId), gt(messages.seq, afterSeq)))
      .orderBy(asc(messages.seq))
      .limit(limit);
  }
}

function filterConditions(filter: MessageFilter): SQL[] {
  const conditions: SQL[] = [];
  if (filter.since) conditions.push(gte(messages.createdAt, filter.since));
  if (filter.senderId) conditions.push(eq(messages.senderId, filter.senderId));
  if (filter.priority) conditions.push(eq(messages.priority, filter.priority));
  if (filter.kind) conditions.push(eq(messages.kind, filter.kind));
  return conditions;
}
