import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type AgentRunRow, agentRuns, type MessagePart, type MessageStreamRow, messageStreams, participants } from '../../db/schema/index.js';

export class AnswerStreamRepository {
  constructor(private readonly db: Db) {}

  async insert(values: typeof messageStreams.$inferInsert): Promise<MessageStreamRow> {
    const [row] = await this.db.insert(messageStreams).values(values).returning();
    return row!;
  }

  async get(id: string): Promise<MessageStreamRow | null> {
    const rows = await this.db.select().from(messageStreams).where(eq(messageStreams.id, id));
    return rows[0] ?? null;
  }

  /**
   * The stream with what its writer's checks need, in one statement: whether `userId` takes part in
   * its conversation, and its run (null without one, or before the run is registered).
   */
  async getForWriter(id: string, userId: string): Promise<{ stream: MessageStreamRow; takesPart: boolean; run: AgentRunRow | null } | null> {
    const rows = await this.db
      .select({ stream: messageStreams, participant: participants.userId, run: agentRuns })
      .from(messageStreams)
      .leftJoin(participants, and(eq(participants.conversationId, messageStreams.conversationId), eq(participants.userId, userId)))
      .leftJoin(agentRuns, and(eq(agentRuns.conversationId, messageStreams.conversationId), eq(agentRuns.runId, messageStreams.runId)))
      .where(eq(messageStreams.id, id));
    const row = rows[0];
    return row ? { stream: row.stream, takesPart: row.participant !== null, run: row.run } : null;
  }

  /**
   * Stores a stream's parts after an append, if the stream is still STREAMING at `version` (no
   * other append came in between) and its text, grown by `text` (`textChars` characters), stays
   * within `maxChars`. Answers the text's length and the version after it, or null when nothing
   * was stored.
   */
  async appendPart(
    id: string,
    version: number,
    parts: MessagePart[],
    text: string,
    textChars: number,
    maxChars: number,
  ): Promise<{ length: number; version: number } | null> {
    const [row] = await this.db
      .update(messageStreams)
      .set({
        parts,
        content: sql`${messageStreams.content} || ${text}`,
        version: sql`${messageStreams.version} + 1`,
        updatedAt: sql`now()`,
      })
      .where(
        and(
          eq(messageStreams.id, id),
          eq(messageStreams.state, 'STREAMING'),
          eq(messageStreams.version, version),
          sql`char_length(${messageStreams.content}) + ${textChars} <= ${maxChars}`,
        ),
      )
      .returning({ length: sql<number>`char_length(${messageStreams.content})`, version: messageStreams.version });
    return row ?? null;
  }

  /** A run's streams still STREAMING, or only its interruptible ones. */
  async liveOfRun(conversationId: string, runId: string, onlyInterruptible: boolean): Promise<MessageStreamRow[]> {
    return this.db
      .select()
      .from(messageStreams)
      .where(
        and(
          eq(messageStreams.conversationId, conversationId),
          eq(messageStreams.runId, runId),
          eq(messageStreams.state, 'STREAMING'),
          onlyInterruptible ? eq(messageStreams.interruptible, true) : undefined,
        ),
      );
  }

  /** A conversation's streams still STREAMING, oldest first. */
  async live(conversationId: string): Promise<MessageStreamRow[]> {
    return this.db
      .select()
      .from(messageStreams)
      .where(and(eq(messageStreams.conversationId, conversationId), eq(messageStreams.state, 'STREAMING')))
      .orderBy(messageStreams.createdAt);
  }

  /** Ends a stream that is still STREAMING with nothing kept; null if it had ended already. */
  async end(id: string, state: 'CANCELLED' | 'PREEMPTED'): Promise<MessageStreamRow | null> {
    const [ended] = await this.db
      .update(messageStreams)
      .set({ state, updatedAt: sql`now()` })
      .where(and(eq(messageStreams.id, id), eq(messageStreams.state, 'STREAMING')))
      .returning();
    return ended ?? null;
  }

  /**
   * Claims a stream still STREAMING for the message it becomes: COMPLETED, or PREEMPTED by
   * `preemptedBy`. Null if it had ended already, so of two racing ends one wins.
   */
  async claim(id: string, preemptedBy: string | null): Promise<MessageStreamRow | null> {
    const [claimed] = await this.db
      .update(messageStreams)
      .set({ state: preemptedBy ? 'PREEMPTED' : 'COMPLETED', preemptedBy, updatedAt: sql`now()` })
      .where(and(eq(messageStreams.id, id), eq(messageStreams.state, 'STREAMING')))
      .returning();
    return claimed ?? null;
  }
}
