import type { Viewer } from '../../auth/viewer.js';
import { isAdmin, isExpert } from '../../auth/viewer.js';
import type { Database } from '../../db/client.js';
import type { AgentRunRow, ControlEventRow, ConversationRow, MessageRow, MessageStreamRow, ParticipantRow } from '../../db/schema/index.js';
import { BadInputError, ForbiddenError } from '../../graphql/errors.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { messageSnapshot } from '../../pubsub/snapshots.js';
import { topics } from '../../pubsub/topics.js';
import type { ConversationRepository } from '../conversations/conversation.repository.js';
import type { UserService } from '../users/user.service.js';
import { RunRepository, type RunState } from './run.repository.js';
import type { AnswerStreamService } from './answer-stream.service.js';

type Access = { conversation: ConversationRow; participant: ParticipantRow };
type ControlInput = { event: ControlEventRow['event']; target?: string | null; runId?: string | null };

/** What a control event will do once stored; computed (and authorized) before it is stored. */
export type ControlPlan =
  | { kind: 'none' }
  | { kind: 'run'; run: AgentRunRow; to: { state?: RunState; priority?: AgentRunRow['priority'] }; from: RunState[] }
  | { kind: 'route'; mode: ConversationRow['mode']; assigneeId: string | null | undefined };

const MODES = ['AGENT', 'EXPERT', 'DIRECT'] as const;

/** Which states each run event may start from, and where it leads. */
const TRANSITIONS: Record<string, { from: RunState[]; to?: RunState }> = {
  PAUSE: { from: ['ACTIVE'], to: 'PAUSED' },
  RESUME: { from: ['PAUSED'], to: 'ACTIVE' },
  CANCEL: { from: ['ACTIVE', 'PAUSED'], to: 'CANCELLED' },
  PREEMPT: { from: ['ACTIVE', 'PAUSED'], to: 'PREEMPTED' },
  PRIORITY: { from: ['ACTIVE', 'PAUSED'] },
};

/**
 * Agent runs and the effects of control events on them and on the conversation:
 * PAUSE/RESUME/CANCEL move a run, PREEMPT also marks its interruptible messages and ends its
 * interruptible streams, PRIORITY changes its priority, ROUTE and HANDOFF change the mode and who
 * answers.
 */
export class RunService {
  readonly repo: RunRepository;
  answers!: AnswerStreamService;

  constructor(
    database: Database,
    private readonly conversations: ConversationRepository,
    private readonly users: UserService,
    private readonly bus: EventBus,
  ) {
    this.repo = new RunRepository(database.db);
  }

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

  /** Runs still going (ACTIVE or PAUSED) of the conversation, oldest first. */
  liveRuns(conversationId: string): Promise<AgentRunRow[]> {
    return this.repo.liveRunsOf([conversationId]);
  }

  /** Live runs that have something interruptible: an interruptible message or stream. */
  interruptibleRuns(conversationId: string): Promise<AgentRunRow[]> {
    return this.repo.interruptibleRuns(conversationId);
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

  /** Checks who may send the event and whether it is possible now; throws otherwise. */
  async plan(viewer: Viewer, access: Access, input: ControlInput): Promise<ControlPlan> {
    const { conversation, participant } = access;
    const manager = participant.role === 'OWNER' || participant.role === 'ADMIN' || isAdmin(viewer);

    if (input.event === 'ROUTE' || input.event === 'HANDOFF') {
      const assignee = conversation.assigneeId;
      const allowed =
        manager ||
        isExpert(viewer) ||
        assignee === viewer.userId ||
        (input.event === 'HANDOFF' && !assignee && viewer.kind === 'AGENT');
      if (!allowed) {
        throw new ForbiddenError(`${input.event} is for owners, admins, experts and whoever answers now`);
      }
      const target = input.target!;
      if (input.event === 'ROUTE' && (MODES as readonly string[]).includes(target)) {
        return { kind: 'route', mode: target as ConversationRow['mode'], assigneeId: undefined };
      }
      const members = await this.conversations.participantsOf([conversation.id]);
      if (!members.some((m) => m.userId === target)) {
        throw new BadInputError(`\`target\` must be AGENT, EXPERT, DIRECT or a participant's id`, 'target');
      }
      const [user] = await this.users.byIds(viewer.orgId, [target]);
      return { kind: 'route', mode: user?.kind === 'AGENT' ? 'AGENT' : 'EXPERT', assigneeId: target };
    }

    const runId = input.runId ?? input.target!;
    const run = await this.repo.get(conversation.id, runId);
    // An event for a run the server has not seen yet is stored and relayed: the agent may act on it.
    if (!run) return { kind: 'none' };
    // People steer agents; an agent steers only its own runs.
    if (viewer.kind === 'AGENT' && run.agentId !== viewer.userId && !manager) {
      throw new ForbiddenError(`Only people, admins and the run's own agent may ${input.event} run ${runId}`);
    }
    const transition = TRANSITIONS[input.event]!;
    if (!transition.from.includes(run.state)) {
      throw new BadInputError(`Run ${runId} is ${run.state}: ${input.event} is not possible`, 'runId');
    }
    const priority = input.event === 'PRIORITY' ? (input.target as AgentRunRow['priority']) : undefined;
    return { kind: 'run', run, from: transition.from, to: { state: transition.to, priority } };
  }

  /**
   * Carries out a plan for the event about to be stored as `event.id`. The run moves only if it is
   * still where the plan found it, so of two racing events one wins and the other changes nothing.
   */
  async apply(actor: Viewer, plan: ControlPlan, event: Pick<ControlEventRow, 'id' | 'conversationId' | 'event'>): Promise<void> {
    if (plan.kind === 'route') {
      await this.repo.setConversationMode(event.conversationId, plan.mode, plan.assigneeId);
      return;
    }
    if (plan.kind !== 'run') return;
    const moved = await this.repo.transition(event.conversationId, plan.run.runId, plan.from, plan.to);
    if (!moved) throw new BadInputError(`Run ${plan.run.runId} changed meanwhile; ${event.event} is not possible`, 'runId');
    if (event.event === 'PREEMPT') await this.preemptRun(actor, event.conversationId, plan.run.runId, event.id);
    if (event.event === 'CANCEL') await this.answers.endRunStreams(actor, event.conversationId, plan.run.runId, { state: 'CANCELLED' });
  }

  /**
   * Marks a run's interruptible messages and ends its interruptible streams, keeping their text:
   * `by` is what preempted it. A non-interruptible stream goes on until its agent completes it.
   */
  async preemptRun(actor: Viewer, conversationId: string, runId: string, by: string): Promise<void> {
    const marked: MessageRow[] = await this.repo.preemptMessages(conversationId, runId, by);
    // The events carry their senders (the run's agent, as a rule), read once here rather than by
    // each subscription that selects them.
    const senders = marked.length ? await this.users.snapshots(marked[0]!.orgId, marked.map((m) => m.senderId)) : new Map();
    for (const message of marked) {
      await this.bus.publish(topics.messageUpdated(conversationId), messageSnapshot(message, senders.get(message.senderId)));
    }
    await this.answers.endRunStreams(actor, conversationId, runId, { state: 'PREEMPTED', by });
  }
}
