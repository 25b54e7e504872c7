import type { Viewer } from '../../auth/viewer.js';
import type { AgentRunRow, MessageStreamRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { AppError, ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { decodeIntCursor, encodeCursor, forwardPage, type Page, type PageArgs } from '../../lib/paging.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import { ENDED_RUN_STATES, type RunRepository, type RunState } from './run.repository.js';

/**
 * BAD_USER_INPUT for output or an end of a run that is not ACTIVE; `extensions.runState` says
 * what it is (PAUSED: wait for RESUME; any other: the run has ended for good).
 */
export function runNotActiveError(run: Pick<AgentRunRow, 'runId' | 'state'>, what = 'it takes no more output'): AppError {
  return new AppError('BAD_USER_INPUT', `Run ${run.runId} is ${run.state}: ${what}`, { field: 'runId', runState: run.state });
}

/**
 * Agent runs: registered when their agent first speaks in them, steered by control events (whose
 * rules are the control module's: see ControlService), ended by their agent or by the completion
 * of their last stream, and what agents' output must obey.
 */
export class RunService {
  constructor(
    private readonly repo: RunRepository,
    private readonly conversations: Pick<ConversationService, 'requireParticipant'>,
    private readonly events: DomainEvents,
  ) {}

  /**
   * An agent speaking in a run: registers the run on first use; refuses when the run was paused
   * or has ended (the agent must obey the control events).
   */
  async requireActive(
    viewer: Viewer,
    conversationId: string,
    runId: string,
    traceId?: string | null,
    priority?: AgentRunRow['priority'] | null,
  ): Promise<AgentRunRow> {
    let run = await this.repo.get(conversationId, runId);
    if (!run) {
      const ensured = await this.repo.ensure({
        conversationId,
        runId,
        orgId: viewer.orgId,
        agentId: viewer.userId,
        traceId: traceId ?? null,
        priority: priority ?? 'NORMAL',
      });
      run = ensured.run;
      if (ensured.created) await this.events.emit('runChanged', { actor: viewer, change: 'STARTED', run });
    }
    if (run.agentId !== viewer.userId) throw new ForbiddenError(`Run ${runId} belongs to ${run.agentId}`);
    if (run.state !== 'ACTIVE') throw runNotActiveError(run);
    return run;
  }

  /**
   * Whether a stream of `run` may take output (BAD_USER_INPUT when the run is not ACTIVE, except a
   * non-interruptible stream of a PREEMPTED run, which its agent finishes).
   */
  requireStreamOpen(stream: Pick<MessageStreamRow, 'runId' | 'interruptible'>, run: Pick<AgentRunRow, 'runId' | 'state'> | null): void {
    // The stream's start registered its run; without one nothing steers it.
    if (!stream.runId || !run || run.state === 'ACTIVE' || (run.state === 'PREEMPTED' && !stream.interruptible)) return;
    throw runNotActiveError(run);
  }

  /** The run, if its agent has spoken in it. */
  get(conversationId: string, runId: string): Promise<AgentRunRow | null> {
    return this.repo.get(conversationId, runId);
  }

  /**
   * The viewer's own run, for its agent to end: NOT_FOUND if the agent never spoke in it,
   * FORBIDDEN if it is another agent's.
   */
  async requireOwn(viewer: Viewer, conversationId: string, runId: string): Promise<AgentRunRow> {
    await this.conversations.requireParticipant(viewer, conversationId);
    const run = await this.repo.get(conversationId, runId);
    if (!run) throw new NotFoundError('Run');
    if (run.agentId !== viewer.userId) throw new ForbiddenError(`Only its agent ends run ${runId}`);
    return run;
  }

  /** Runs still going (ACTIVE or PAUSED) of the conversation, oldest first. */
  liveRuns(conversationId: string): Promise<AgentRunRow[]> {
    return this.repo.liveRunsOf([conversationId]);
  }

  /** An agent's runs of the conversation in one of `states`, oldest first. */
  ofAgent(conversationId: string, agentId: string, states: RunState[]): Promise<AgentRunRow[]> {
    return this.repo.ofAgent(conversationId, agentId, states);
  }

  /** Live runs that have something interruptible: an interruptible message or stream. */
  interruptibleRuns(conversationId: string): Promise<AgentRunRow[]> {
    return this.repo.interruptibleRuns(conversationId);
  }

  /** `runs(conversationId, state)`: a conversation's runs in the order they were registered, for its participants. */
  async list(viewer: Viewer, conversationId: string, state: RunState | null | undefined, args: PageArgs): Promise<Page<AgentRunRow>> {
    return forwardPage(
      args,
      (raw) => decodeIntCursor('run', raw, Number.MAX_SAFE_INTEGER),
      async (after, limit) => {
        await this.conversations.requireParticipant(viewer, conversationId);
        return this.repo.page(conversationId, state ?? undefined, after, limit);
      },
      (r) => encodeCursor('run', r.position),
    );
  }

  /**
   * Moves a run from one of `from` to `to` (and/or a new priority, a reason), for `actor`, whose
   * request decided that it may; null, and nothing changed, if the run was not in `from`.
   */
  async transition(
    actor: Viewer,
    conversationId: string,
    runId: string,
    from: RunState[],
    to: { state?: RunState; priority?: AgentRunRow['priority']; reason?: string | null },
  ): Promise<AgentRunRow | null> {
    const moved = await this.repo.transition(conversationId, runId, from, to);
    if (moved) await this.raise(actor, moved);
    return moved;
  }

  /** Ends the run of `stream` COMPLETED if that was its last open stream and it is ACTIVE. */
  async completeIfIdle(actor: Viewer, stream: Pick<MessageStreamRow, 'conversationId' | 'runId'>): Promise<void> {
    if (!stream.runId) return;
    const completed = await this.repo.completeIfIdle(stream.conversationId, stream.runId);
    if (completed) await this.raise(actor, completed);
  }

  private raise(actor: Viewer, run: AgentRunRow): Promise<void> {
    return this.events.emit('runChanged', { actor, change: ENDED_RUN_STATES.includes(run.state) ? 'ENDED' : 'UPDATED', run });
  }
}
