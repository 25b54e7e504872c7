import { and, asc, eq, gt, inArray, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type AgentRunRow, agentRuns, messageStreams, messages } from '../../db/schema/index.js';

export type RunState = AgentRunRow['state'];
export const LIVE_RUN_STATES: RunState[] = ['ACTIVE', 'PAUSED'];
/** States a run never leaves. */
export const ENDED_RUN_STATES: RunState[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'PREEMPTED'];

export class RunRepository {
  constructor(private readonly db: Db) {}

  async get(conversationId: string, runId: string): Promise<AgentRunRow | null> {
    const rows = await this.db
      .select()
      .from(agentRuns)
      .where(and(eq(agentRuns.conversationId, conversationId), eq(agentRuns.runId, runId)));
    return rows[0] ?? null;
  }

  /**
   * Registers a run the first time its agent speaks in it; an existing run is returned as it is.
   * `created` says whether this call registered it.
   */
  async ensure(values: typeof agentRuns.$inferInsert): Promise<{ run: AgentRunRow; created: boolean }> {
    const [inserted] = await this.db.insert(agentRuns).values(values).onConflictDoNothing().returning();
    if (inserted) return { run: inserted, created: true };
    return { run: (await this.get(values.conversationId, values.runId))!, created: false };
  }

  /**
   * Moves a run from one of `from` to `to` (and/or a new priority, a reason); null if it was not
   * in `from`. A move to an ended state sets endedAt.
   */
  async transition(
    conversationId: string,
    runId: string,
    from: RunState[],
    set: { state?: RunState; priority?: AgentRunRow['priority']; reason?: string | null },
  ): Promise<AgentRunRow | null> {
    const ends = set.state !== undefined && ENDED_RUN_STATES.includes(set.state);
    const [row] = await this.db
      .update(agentRuns)
      .set({ ...set, updatedAt: sql`now()`, ...(ends ? { endedAt: sql`now()` } : {}) })
      .where(and(eq(agentRuns.conversationId, conversationId), eq(agentRuns.runId, runId), inArray(agentRuns.state, from)))
      .returning();
    return row ?? null;
  }

  /**
   * Completes an ACTIVE run that has no stream open any more; null, and nothing changed, if it is
   * not ACTIVE or still streams. One statement, so of two streams ending at once the later sees
   * both ended.
   */
  async completeIfIdle(conversationId: string, runId: string): Promise<AgentRunRow | null> {
    const [row] = await this.db
      .update(agentRuns)
      .set({ state: 'COMPLETED', updatedAt: sql`now()`, endedAt: sql`now()` })
      .where(
        and(
          eq(agentRuns.conversationId, conversationId),
          eq(agentRuns.runId, runId),
          eq(agentRuns.state, 'ACTIVE'),
          sql`NOT EXISTS (SELECT 1 FROM ${messageStreams} s WHERE s.conversation_id = ${agentRuns.conversationId}
                AND s.run_id = ${agentRuns.runId} AND s.state = 'STREAMING')`,
        ),
      )
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
      .orderBy(agentRuns.position);
  }

  /** An agent's runs of a conversation in one of `states`, oldest first. */
  async ofAgent(conversationId: string, agentId: string, states: RunState[]): Promise<AgentRunRow[]> {
    return this.db
      .select()
      .from(agentRuns)
      .where(and(eq(agentRuns.conversationId, conversationId), eq(agentRuns.agentId, agentId), inArray(agentRuns.state, states)))
      .orderBy(agentRuns.position);
  }

  /** A page of a conversation's runs (in one state, if given) in the order they were registered. */
  async page(conversationId: string, state: RunState | undefined, afterPosition: number | undefined, limit: number): Promise<AgentRunRow[]> {
    return this.db
      .select()
      .from(agentRuns)
      .where(
        and(
          eq(agentRuns.conversationId, conversationId),
          state ? eq(agentRuns.state, state) : undefined,
          afterPosition !== undefined ? gt(agentRuns.position, afterPosition) : undefined,
        ),
      )
      .orderBy(asc(agentRuns.position))
      .limit(limit);
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
                 AND s.run_id = ${agentRuns.runId} AND s.state = 'STREAMING' AND s.interruptible))`,
        ),
      );
  }
}
