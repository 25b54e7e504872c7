import { and, eq, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import {
  agentRuns,
  messageStreams,
  messages,
  type AgentRunRow,
} from '../../db/schema/index.js';

export type RunState = AgentRunRow['state'];
export const LIVE_RUN_STATES: RunState[] = ['ACTIVE', 'PAUSED'];

export class RunRepository {
  constructor(private readonly db: Db) {}

  async get(conversationId: string, runId: string): Promise<AgentRunRow | null> {
    const rows = await this.db
      .select()
      .from(agentRuns)
      .where(and(eq(agentRuns.conversationId, conversationId), eq(agentRuns.runId, runId)));
    return rows[0] ?? null;
  }

  /** Registers a run the first time its agent speaks in it; an existing run is returned as it is. */
  async ensure(values: typeof agentRuns.$inferInsert): Promise<AgentRunRow> {
    await this.db.insert(agentRuns).values(values).onConflictDoNothing();
    return (await this.get(values.conversationId, values.runId))!;
  }

  /** Moves a run from one of `from` to `to` (and/or a new priority); null if it was not in `from`. */
  async transition(
    conversationId: string,
    runId: string,
    from: RunState[],
    set: { state?: RunState; priority?: AgentRunRow['priority'] },
  ): Promise<AgentRunRow | null> {
    const [row] = await this.db
      .update(agentRuns)
      .set({ ...set, updatedAt: sql`now()` })
      .where(and(eq(agentRuns.conversationId, conversationId), eq(agentRuns.runId, runId), inArray(agentRuns.state, from)))
      .returning();
    return row ?? null;
  }

  /** Runs still going (ACTIVE or PAUSED) of the conversations, for `Conversation.activeRuns`. */
  async liveRunsOf(conversationIds: readonly string[]): Promise<AgentRunRow[]> {
    if (conversationIds.length === 0) return [];
    return this.db
      .select()
      .from(agentRuns)
      .where(and(inArray(agentRuns.conversationId, [...conversationIds]), inArray(agentRuns.state, LIVE_RUN_STATES)))
      .orderBy(agentRuns.createdAt);
  }

  /** Live runs that have something interruptible: an interruptible message or stream. */
  async interruptibleRuns(conversationId: string): Promise<AgentRunRow[]> {
    return this.db
      .select()
      .from(agentRuns)
      .where(
        and(
          eq(agentRuns.conversationId, conversationId),
          inArray(agentRuns.state, LIVE_RUN_STATES),
          sql`(EXISTS (SELECT 1 FROM ${messages} m WHERE m.conversation_id = ${agentRuns.conversationId}
                 AND m.run_id = ${agentRuns.runId} AND m.interruptible AND m.preempted_by IS NULL)
            OR EXISTS (SELECT 1 FROM ${messageStreams} s WHERE s.conversation_id = ${agentRuns.conversationId}
                 AND s.run_id = ${agentRuns.runId} AND s.interruptible AND s.state = 'STREAMING'))`,
        ),
      );
  }
}
