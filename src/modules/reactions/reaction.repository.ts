import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { messageReactions, messages, type ReactionRow } from '../../db/schema/index.js';

/** One emoji's reactions to a message: who, in the order they reacted. */
export type ReactionGroupRow = { messageId: string; emoji: string; userIds: string[] };

/** What adding a reaction did. */
export type AddOutcome = 'ADDED' | 'ALREADY_THERE' | 'TOO_MANY_EMOJI';

export class ReactionRepository {
  constructor(private readonly db: Db) {}

  /**
   * Adds the reaction unless it is there, or its emoji would be the message's `maxEmoji`+1st
   * distinct one. The message's row is locked first, so that reactions to it are counted one
   * statement after another and two new emoji at once cannot both pass the limit.
   */
  async add(reaction: Omit<ReactionRow, 'createdAt'>, maxEmoji: number): Promise<{ outcome: AddOutcome; row?: ReactionRow }> {
    return this.db.transaction(async (tx) => {
      await tx.select({ id: messages.id }).from(messages).where(eq(messages.id, reaction.messageId)).for('no key update');
      const [row] = await tx
        .insert(messageReactions)
        .select(
          sql`select ${reaction.messageId}::uuid, ${reaction.orgId}, ${reaction.userId}, ${reaction.emoji}, now()
            where exists (select 1 from ${messageReactions} where message_id = ${reaction.messageId} and emoji = ${reaction.emoji})
               or (select count(distinct emoji) from ${messageReactions} where message_id = ${reaction.messageId}) < ${maxEmoji}`,
        )
        .onConflictDoNothing()
        .returning();
      if (row) return { outcome: 'ADDED' as const, row };
      const [present] = await tx
        .select({ one: sql`1` })
        .from(messageReactions)
        .where(and(eq(messageReactions.messageId, reaction.messageId), eq(messageReactions.emoji, reaction.emoji)))
        .limit(1);
      return { outcome: present ? ('ALREADY_THERE' as const) : ('TOO_MANY_EMOJI' as const) };
    });
  }

  /** Removes the user's reaction; answers the row removed, null when there was none. */
  async remove(messageId: string, userId: string, emoji: string): Promise<ReactionRow | null> {
    const [row] = await this.db
      .delete(messageReactions)
      .where(and(eq(messageReactions.messageId, messageId), eq(messageReactions.userId, userId), eq(messageReactions.emoji, emoji)))
      .returning();
    return row ?? null;
  }

  /** The reactions of the messages (of the org), grouped by emoji in the order each was first used. */
  async groupsOf(orgId: string, messageIds: readonly string[]): Promise<ReactionGroupRow[]> {
    if (messageIds.length === 0) return [];
    return this.db
      .select({
        messageId: messageReactions.messageId,
        emoji: messageReactions.emoji,
        userIds: sql<string[]>`array_agg(${messageReactions.userId} order by ${messageReactions.createdAt}, ${messageReactions.userId})`,
      })
      .from(messageReactions)
      .where(and(inArray(messageReactions.messageId, [...messageIds]), eq(messageReactions.orgId, orgId)))
      .groupBy(messageReactions.messageId, messageReactions.emoji)
      .orderBy(sql`min(${messageReactions.createdAt})`, messageReactions.emoji);
  }
}
