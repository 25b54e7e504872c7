import { randomUUID } from 'node:crypto';
import { isAdmin, isExpert, type Viewer } from '../../auth/viewer.js';
import type { AgentRunRow, ControlEventRow, ConversationRow, ParticipantRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { BadInputError, ForbiddenError } from '../../graphql/errors.js';
import { decodeIntCursor, encodeCursor, forwardPage, type Page, type PageArgs } from '../../lib/paging.js';
import { checkText, LIMITS } from '../../lib/validate.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { controlEventSnapshot } from '../../pubsub/snapshots.js';
import { topics } from '../../pubsub/topics.js';
import type { AnswerStreamService } from '../agents/answer-stream.service.js';
import { LIVE_RUN_STATES, type RunState } from '../agents/run.repository.js';
import { type RunService, runNotActiveError } from '../agents/run.service.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { MessageService } from '../messages/message.service.js';
import type { UserService } from '../users/user.service.js';
import type { ControlRepository } from './control.repository.js';

export type ControlEventInput = {
  event: ControlEventRow['event'];
  target?: string | null;
  reason?: string | null;
  runId?: string | null;
  traceId?: string | null;
  effectiveAt?: Date | null;
};

type Access = { conversation: ConversationRow; participant: ParticipantRow };

/** What a control event will do once stored; computed (and authorized) before it is stored. */
type ControlPlan =
  | { kind: 'none' }
  | {
      kind: 'runs';
      /** The run the event names (`runId`), or every live run of the agent it targets. */
      runs: AgentRunRow[];
      /** One named run that moved meanwhile refuses the event; of an agent's runs, it is skipped. */
      named: boolean;
      to: { state?: RunState; priority?: AgentRunRow['priority'] };
      from: RunState[];
    }
  | { kind: 'route'; mode: ConversationRow['mode']; assigneeId: string | null | undefined };

const PRIORITIES = ['LOW', 'NORMAL', 'HIGH', 'CRITICAL'];
const MODES = ['AGENT', 'EXPERT', 'DIRECT'] as const;
/** Events that steer agent runs: one named by `runId`, or (but PRIORITY) all of the agent `target`. */
const RUN_EVENTS = new Set(['PAUSE', 'RESUME', 'PREEMPT', 'CANCEL', 'PRIORITY']);

/**
 * Which states each run event may start from, and where it leads. CANCEL also stops a PREEMPTED
 * run's non-interruptible stream, which PREEMPT let go on.
 */
const TRANSITIONS: Record<string, { from: RunState[]; to?: RunState }> = {
  PAUSE: { from: ['ACTIVE'], to: 'PAUSED' },
  RESUME: { from: ['PAUSED'], to: 'ACTIVE' },
  CANCEL: { from: ['ACTIVE', 'PAUSED', 'PREEMPTED'], to: 'CANCELLED' },
  PREEMPT: { from: ['ACTIVE', 'PAUSED'], to: 'PREEMPTED' },
  PRIORITY: { from: ['ACTIVE', 'PAUSED'] },
};

/**
 * How far ahead of the server's clock `effectiveAt` may be and still count as now: clients' clocks
 * drift. Later ones are refused, since events take effect when they are sent.
 */
const EFFECTIVE_AT_SLACK_MS = 1_000;

/**
 * Control events and what they do: PAUSE/RESUME/CANCEL move an agent run, PREEMPT also marks its
 * interruptible messages and ends its interruptible streams, PRIORITY changes its priority, ROUTE
 * and HANDOFF change the conversation's mode and who answers. Each is checked (who may send it,
 * whether it is possible now), applied, then stored and broadcast.
 */
export class ControlService {
  constructor(
    private readonly repo: ControlRepository,
    private readonly conversations: ConversationService,
    private readonly users: UserService,
    private readonly messages: MessageService,
    private readonly runs: RunService,
    private readonly answers: AnswerStreamService,
    private readonly bus: EventBus,
    private readonly events: DomainEvents,
  ) {}

  /** Validates, applies, stores and broadcasts a control event to the conversation's participants. */
  async send(viewer: Viewer, conversationId: string, input: ControlEventInput): Promise<ControlEventRow> {
    checkText('target', input.target, { max: LIMITS.shortTextChars });
    checkText('reason', input.reason, { max: LIMITS.reasonChars, allowEmpty: true });
    checkText('runId', input.runId, { max: LIMITS.shortTextChars });
    checkText('traceId', input.traceId, { max: LIMITS.shortTextChars });
    if (input.event === 'PRIORITY' && !input.runId) {
      throw new BadInputError('PRIORITY needs the `runId` of the run it changes', 'runId');
    }
    if (RUN_EVENTS.has(input.event) && !input.runId && !input.target) {
      throw new BadInputError(`${input.event} needs the \`runId\` of the run it steers, or the agent's id as \`target\``, 'runId');
    }
    if (input.effectiveAt && input.effectiveAt.getTime() > Date.now() + EFFECTIVE_AT_SLACK_MS) {
      throw new BadInputError('`effectiveAt` may not be in the future: a control event takes effect when it is sent', 'effectiveAt');
    }
    if (input.event === 'PRIORITY' && !PRIORITIES.includes(input.target ?? '')) {
      throw new BadInputError(`PRIORITY needs \`target\` set to one of ${PRIORITIES.join(', ')}`, 'target');
    }
    if ((input.event === 'ROUTE' || input.event === 'HANDOFF') && !input.target) {
      throw new BadInputError(`${input.event} needs a \`target\`: who takes over`, 'target');
    }
    const access = await this.conversations.requireParticipant(viewer, conversationId);
    // Who may send it and whether it is possible now are checked before anything is written;
    // its effect on the run or the conversation is applied before the event is stored.
    const plan = await this.plan(viewer, access, input);
    const id = randomUUID();
    await this.apply(viewer, plan, { id, conversationId, event: input.event });
    const row = await this.repo.insert({
      id,
      conversationId,
      orgId: viewer.orgId,
      event: input.event,
      target: input.target ?? null,
      reason: input.reason ?? null,
      runId: input.runId ?? null,
      traceId: input.traceId ?? null,
      issuedBy: viewer.userId,
      ...(input.effectiveAt ? { effectiveAt: input.effectiveAt } : {}),
    });
    await this.bus.publish(topics.controlEvent(conversationId), controlEventSnapshot(row));
    await this.events.emit('controlIssued', { actor: viewer, control: row });
    return row;
  }

  async list(viewer: Viewer, conversationId: string, args: PageArgs): Promise<Page<ControlEventRow>> {
    return forwardPage(
      args,
      (raw) => decodeIntCursor('ctl', raw, Number.MAX_SAFE_INTEGER),
      async (after, limit) => {
        await this.conversations.requireParticipant(viewer, conversationId);
        return this.repo.page(conversationId, after, limit);
      },
      (e) => encodeCursor('ctl', e.position),
    );
  }

  /** Checks who may send the event and whether it is possible now; throws otherwise. */
  private async plan(viewer: Viewer, access: Access, input: ControlEventInput): Promise<ControlPlan> {
    const { conversation, participant } = access;
    const manager = participant.role === 'OWNER' || participant.role === 'ADMIN' || isAdmin(viewer);

    if (input.event === 'ROUTE' || input.event === 'HANDOFF') {
      const assignee = conversation.assigneeId;
      const allowed = manager || isExpert(viewer) || assignee === viewer.userId || (input.event === 'HANDOFF' && !assignee && viewer.kind === 'AGENT');
      if (!allowed) {
        throw new ForbiddenError(`${input.event} is for owners, admins, experts and whoever answers now`);
      }
      const target = input.target!;
      if (input.event === 'ROUTE' && (MODES as readonly string[]).includes(target)) {
        return { kind: 'route', mode: target as ConversationRow['mode'], assigneeId: undefined };
      }
      if (!(await this.conversations.participant(conversation.id, target))) {
        throw new BadInputError(`\`target\` must be AGENT, EXPERT, DIRECT or a participant's id`, 'target');
      }
      const [user] = await this.users.byIds(viewer.orgId, [target]);
      return { kind: 'route', mode: user?.kind === 'AGENT' ? 'AGENT' : 'EXPERT', assigneeId: target };
    }

    const transition = TRANSITIONS[input.event]!;
    const to = { state: transition.to, priority: input.event === 'PRIORITY' ? (input.target as AgentRunRow['priority']) : undefined };
    // People steer agents; an agent steers only its own runs.
    const mayNotSteer = (agentId: string) => viewer.kind === 'AGENT' && agentId !== viewer.userId && !manager;

    if (!input.runId) {
      // Every live run of the agent `target` that the event can move; none: stored and relayed.
      const agentId = input.target!;
      if (mayNotSteer(agentId)) throw new ForbiddenError(`Only people, admins and the agent itself may ${input.event} ${agentId}'s runs`);
      const states = transition.from.filter((state) => LIVE_RUN_STATES.includes(state));
      const runs = await this.runs.ofAgent(conversation.id, agentId, states);
      return runs.length ? { kind: 'runs', runs, named: false, from: states, to } : { kind: 'none' };
    }

    const run = await this.runs.get(conversation.id, input.runId);
    // An event for a run the server has not seen yet is stored and relayed: the agent may act on it.
    if (!run) return { kind: 'none' };
    if (mayNotSteer(run.agentId)) {
      throw new ForbiddenError(`Only people, admins and the run's own agent may ${input.event} run ${run.runId}`);
    }
    if (!transition.from.includes(run.state)) throw runNotActiveError(run, `${input.event} is not possible`);
    return { kind: 'runs', runs: [run], named: true, from: transition.from, to };
  }

  /**
   * Carries out a plan for the event about to be stored as `event.id`. The run moves only if it is
   * still where the plan found it, so of two racing events one wins and the other changes nothing.
   */
  private async apply(actor: Viewer, plan: ControlPlan, event: Pick<ControlEventRow, 'id' | 'conversationId' | 'event'>): Promise<void> {
    if (plan.kind === 'route') {
      await this.conversations.setMode(actor, event.conversationId, plan.mode, plan.assigneeId);
      return;
    }
    if (plan.kind !== 'runs') return;
    for (const { runId } of plan.runs) {
      const moved = await this.runs.transition(actor, event.conversationId, runId, plan.from, plan.to);
      if (!moved) {
        if (plan.named) throw new BadInputError(`Run ${runId} changed meanwhile; ${event.event} is not possible`, 'runId');
        continue;
      }
      if (event.event === 'PREEMPT') {
        // Its interruptible messages are marked, and its interruptible streams end keeping their
        // text; a non-interruptible stream goes on until its agent completes it.
        await this.messages.markPreempted(event.conversationId, runId, event.id);
        await this.answers.endRunStreams(actor, event.conversationId, runId, { state: 'PREEMPTED', by: event.id });
      }
      if (event.event === 'CANCEL') await this.answers.endRunStreams(actor, event.conversationId, runId, { state: 'CANCELLED' });
    }
  }
}
