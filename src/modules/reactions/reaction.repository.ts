import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { messageReactions, type ReactionRow } from '../../db/schema/index.js';

/** One emoji's reactions to a message: who, in the order they reacted. */
export type ReactionGroupRow = { messageId: string; emoji: string; userIds: string[] };

/** What adding a reaction did. */
export type AddOutcome = 'ADDED' | 'ALREADY_THERE' | 'TOO_MANY_EMOJI';

export class ReactionRepository {
  constructor(private readonly db: Db) {}

  /**
   * Adds the reaction unless it is there, or its emoji would be the message's `maxEmoji`+1st
   * distinct one, in one round trip (the migration's add_reaction, which counts under a lock on
   * the message so that two new emoji at once cannot both pass the limit).
   */
  async add(reaction: Omit<ReactionRow, 'createdAt'>, maxEmoji: number): Promise<{ outcome: AddOutcome; row?: ReactionRow }> {
    const rows = await this.db.execute(
      sql`select outcome, created_at from add_reaction(${reaction.messageId}::uuid, ${reaction.orgId}, ${reaction.userId}, ${reaction.emoji}, ${maxEmoji})`,
    );
    const [result] = (rows as unknown as { rows: { outcome: AddOutcome; created_at: string | Date | null }[] }).rows;
    if (result?.outcome !== 'ADDED') return { outcome: result?.outcome ?? 'TOO_MANY_EMOJI' };
    return { outcome: 'ADDED', row: { ...reaction, createdAt: new Date(result.created_at!) } };
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
