import { randomUUID } from 'node:crypto';
import type { Viewer } from '../../auth/viewer.js';
import type { Database } from '../../db/client.js';
import type { ControlEventRow } from '../../db/schema/index.js';
import { BadInputError } from '../../graphql/errors.js';
import { decodeIntCursor, encodeCursor, parsePageArgs, trimPage, type Page, type PageArgs } from '../../lib/paging.js';
import { checkText, LIMITS } from '../../lib/validate.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { controlEventSnapshot } from '../../pubsub/snapshots.js';
import { topics } from '../../pubsub/topics.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { RunService } from '../agents/run.service.js';
import { ControlRepository } from './control.repository.js';

export type ControlEventInput = {
  event: ControlEventRow['event'];
  target?: string | null;
  reason?: string | null;
  runId?: string | null;
  traceId?: string | null;
  effectiveAt?: Date | null;
};

const PRIORITIES = ['LOW', 'NORMAL', 'HIGH', 'CRITICAL'];
/** Events that steer one agent run and so must name it. */
const RUN_EVENTS = new Set(['PAUSE', 'RESUME', 'PREEMPT', 'CANCEL', 'PRIORITY']);

export class ControlService {
  readonly repo: ControlRepository;
  /** Set once the run service exists (they need each other). */
  runs!: RunService;

  constructor(
    database: Database,
    private readonly conversations: ConversationService,
    private readonly bus: EventBus,
  ) {
    this.repo = new ControlRepository(database.db);
  }

  /**
   * Validates, applies, stores and broadcasts a control event to the conversation's participants
   * (see RunService for who may send which event and what each does).
   */
  async send(viewer: Viewer, conversationId: string, input: ControlEventInput): Promise<ControlEventRow> {
    checkText('target', input.target, { max: LIMITS.shortTextChars });
    checkText('reason', input.reason, { max: LIMITS.reasonChars, allowEmpty: true });
    checkText('runId', input.runId, { max: LIMITS.shortTextChars });
    checkText('traceId', input.traceId, { max: LIMITS.shortTextChars });
    if (RUN_EVENTS.has(input.event) && !input.runId && !input.target) {
      throw new BadInputError(`${input.event} needs the \`runId\` (or \`target\`) of the run it steers`, 'runId');
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
    const plan = await this.runs.plan(viewer, access, input);
    const id = randomUUID();
    await this.runs.apply(plan, { id, conversationId, event: input.event });
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
    return row;
  }

  async list(viewer: Viewer, conversationId: string, args: PageArgs): Promise<Page<ControlEventRow>> {
    const request = parsePageArgs({ first: args.first, after: args.after }, (raw) => decodeIntCursor('ctl', raw, Number.MAX_SAFE_INTEGER));
    await this.conversations.requireParticipant(viewer, conversationId);
    const rows = await this.repo.page(conversationId, request.after, request.limit + 1);
    const { nodes, hasMore } = trimPage(rows, request);
    return {
      nodes,
      hasNextPage: hasMore,
      hasPreviousPage: request.after !== undefined,
      cursorOf: (e) => encodeCursor('ctl', e.position),
    };
  }
}
