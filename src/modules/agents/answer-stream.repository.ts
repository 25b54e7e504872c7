import { and, eq, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type AgentRunRow, agentRuns, type MessagePart, type MessageStreamRow, messageStreams, participants } from '../../db/schema/index.js';

export class AnswerStreamRepository {
  // Prepared: every append runs both, and drizzle building them anew cost more CPU than the rest
  // of the append (P2: 100 agents appending at once).
  private readonly forWriter: ReturnType<typeof prepareForWriter>;
  private readonly append: ReturnType<typeof prepareAppend>;

  constructor(private readonly db: Db) {
    this.forWriter = prepareForWriter(db);
    this.append = prepareAppend(db);
  }

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
    const [row] = await this.forWriter.execute({ id, userId });
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
    // JSON text: a driver would send a JS array as a Postgres array, not as JSON.
    const [row] = await this.append.execute({ id, version, parts: JSON.stringify(parts), text, textChars, maxChars });
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

const prepareForWriter = (db: Db) =>
  db
    .select({ stream: messageStreams, participant: participants.userId, run: agentRuns })
    .from(messageStreams)
    .leftJoin(participants, and(eq(participants.conversationId, messageStreams.conversationId), eq(participants.userId, sql.placeholder('userId'))))
    .leftJoin(agentRuns, and(eq(agentRuns.conversationId, messageStreams.conversationId), eq(agentRuns.runId, messageStreams.runId)))
    .where(eq(messageStreams.id, sql.placeholder('id')))
    .prepare('stream_for_writer');

const prepareAppend = (db: Db) =>
  db
    .update(messageStreams)
    .set({
      parts: sql`${sql.placeholder('parts')}::jsonb`,
      content: sql`${messageStreams.content} || ${sql.placeholder('text')}::text`,
      version: sql`${messageStreams.version} + 1`,
      updatedAt: sql`now()`,
    })
    .where(
      and(
        eq(messageStreams.id, sql.placeholder('id')),
        eq(messageStreams.state, 'STREAMING'),
        sql`${messageStreams.version} = ${sql.placeholder('version')}::int`,
        sql`char_length(${messageStreams.content}) + ${sql.placeholder('textChars')}::int <= ${sql.placeholder('maxChars')}::int`,
      ),
    )
    .returning({ length: sql<number>`char_length(${messageStreams.content})`, version: messageStreams.version })
    .prepare('append_part');
