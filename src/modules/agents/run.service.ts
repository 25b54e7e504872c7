import type { Viewer } from '../../auth/viewer.js';
import type { AgentRunRow, MessageStreamRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { BadInputError, ForbiddenError } from '../../graphql/errors.js';
import type { RunRepository, RunState } from './run.repository.js';

/**
 * Agent runs: registered when their agent first speaks in them, steered by control events (whose
 * rules are the control module's: see ControlService), and what agents' output must obey.
 */
export class RunService {
  constructor(
    private readonly repo: RunRepository,
    private readonly events: DomainEvents,
  ) {}

  /**
   * An agent speaking in a run: registers the run on first use; refuses when the run was paused,
   * cancelled or preempted (the agent must obey the control events).
   */
  async requireActive(
    viewer: Viewer,
    conversationId: string,
    runId: string,
    traceId?: string | null,
    priority?: AgentRunRow['priority'] | null,
  ): Promise<AgentRunRow> {
    const run =
      (await this.repo.get(conversationId, runId)) ??
      (await this.repo.ensure({
        conversationId,
        runId,
        orgId: viewer.orgId,
        agentId: viewer.userId,
        traceId: traceId ?? null,
        priority: priority ?? 'NORMAL',
      }));
    if (run.agentId !== viewer.userId) throw new ForbiddenError(`Run ${runId} belongs to ${run.agentId}`);
    if (run.state !== 'ACTIVE') throw new BadInputError(`Run ${runId} is ${run.state}: it takes no more output`, 'runId');
    return run;
  }

  /**
   * An agent going on with a stream of a run (a chunk, the completion): the run must be ACTIVE, or
   * PREEMPTED while the stream is non-interruptible (PREEMPT lets such a stream finish). Refused
   * while the run is paused or cancelled, as new output is.
   */
  async requireStreamOpen(stream: Pick<MessageStreamRow, 'conversationId' | 'runId' | 'interruptible'>): Promise<void> {
    if (!stream.runId) return;
    const run = await this.repo.get(stream.conversationId, stream.runId);
    // The stream's start registered its run; without one nothing steers it.
    if (!run || run.state === 'ACTIVE' || (run.state === 'PREEMPTED' && !stream.interruptible)) return;
    throw new BadInputError(`Run ${stream.runId} is ${run.state}: it takes no more output`, 'runId');
  }

  /** The run, if its agent has spoken in it. */
  get(conversationId: string, runId: string): Promise<AgentRunRow | null> {
    return this.repo.get(conversationId, runId);
  }

  /** Runs still going (ACTIVE or PAUSED) of the conversation, oldest first. */
  liveRuns(conversationId: string): Promise<AgentRunRow[]> {
    return this.repo.liveRunsOf([conversationId]);
  }

  /** Live runs that have something interruptible: an interruptible message or stream. */
  interruptibleRuns(conversationId: string): Promise<AgentRunRow[]> {
    return this.repo.interruptibleRuns(conversationId);
  }

  /**
   * Moves a run from one of `from` to `to` (and/or a new priority), for a control event `actor`
   * sent, which decided that it may; null, and nothing changed, if the run was not in `from`.
   */
  async transition(
    actor: Viewer,
    conversationId: string,
    runId: string,
    from: RunState[],
    to: { state?: RunState; priority?: AgentRunRow['priority'] },
  ): Promise<AgentRunRow | null> {
    const moved = await this.repo.transition(conversationId, runId, from, to);
    if (moved) await this.events.emit('runChanged', { actor, run: moved });
    return moved;
  }
}
