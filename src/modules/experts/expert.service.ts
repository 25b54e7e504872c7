import type { AuditLog } from '../../auth/audit.js';
import { requireViewer, type Context } from '../../context.js';
import { AsyncQueue } from '../../lib/async-queue.js';
import { endWithCredential } from '../realtime/token-expiry.js';
import { isAdmin, isExpert, type Viewer } from '../../auth/viewer.js';
import type { ExpertRequestRow } from '../../db/schema/index.js';
import { ConflictError, ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { cursorDate, decodeCursor, encodeCursor, parsePageArgs, trimPage, type Page, type PageArgs } from '../../lib/paging.js';
import { checkText, isUuid, LIMITS } from '../../lib/validate.js';
import type { DomainEvents } from '../../events/emitter.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { topics } from '../../pubsub/topics.js';
import type { RunService } from '../agents/run.service.js';
import type { ControlService } from '../control/control.service.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { ExpertRepository, QueueKey } from './expert.repository.js';

type Status = ExpertRequestRow['status'];

/**
 * Moving a conversation from its AI agent to a human expert and back: a participant asks for an
 * expert; the org's experts see open requests; one claims it, joins the conversation and takes
 * over (the agent's runs are paused and a HANDOFF is announced); the expert hands back and the
 * agent resumes. Every claim, read and write of an expert is audited.
 */
export class ExpertService {
  constructor(
    private readonly repo: ExpertRepository,
    private readonly conversations: ConversationService,
    private readonly control: ControlService,
    private readonly runs: RunService,
    private readonly audit: AuditLog,
    private readonly bus: EventBus,
    private readonly events: DomainEvents,
  ) {}

  /** Opens a request (or returns the one already open or claimed for the conversation). */
  async request(viewer: Viewer, conversationId: string, reason?: string | null): Promise<ExpertRequestRow> {
    checkText('reason', reason, { max: LIMITS.reasonChars, allowEmpty: true });
    await this.conversations.requireParticipant(viewer, conversationId);
    const pending = await this.repo.pendingFor(conversationId);
    if (pending) return pending;
    const row = await this.repo.insert({ conversationId, orgId: viewer.orgId, requestedBy: viewer.userId, reason: reason ?? null });
    await this.bus.publish(topics.expertRequests(viewer.orgId), { id: row.id, status: row.status });
    await this.events.emit('expertRequestChanged', { actor: viewer, change: 'OPENED', request: row });
    return row;
  }

  /** The org's requests in a status (OPEN by default), oldest first: the experts' queue. */
  async list(viewer: Viewer, status: Status, args: PageArgs): Promise<Page<ExpertRequestRow>> {
    this.requireExpert(viewer);
    const request = parsePageArgs({ first: args.first, after: args.after }, (raw) => decodeKey(decodeCursor('xr', raw)));
    const rows = await this.repo.page(viewer.orgId, status, request.after, request.limit + 1);
    const { nodes, hasMore } = trimPage(rows, request);
    return {
      nodes,
      hasNextPage: hasMore,
      hasPreviousPage: request.after !== undefined,
      cursorOf: (r) => encodeCursor('xr', `${r.createdAt.toISOString()}|${r.id}`),
    };
  }

  /**
   * `expertRequestUpdated`: the ids of the org's requests as they change, for experts and admins,
   * ending with the viewer's credential.
   */
  async updates(ctx: Context): Promise<AsyncQueue<{ id: string }>> {
    const viewer = requireViewer(ctx);
    this.requireExpert(viewer);
    const queue = new AsyncQueue<{ id: string }>();
    endWithCredential(ctx, queue);
    queue.onFinish(await this.bus.listen(topics.expertRequests(viewer.orgId), (e) => queue.push(e)));
    return queue;
  }

  async get(viewer: Viewer, id: string): Promise<ExpertRequestRow> {
    const row = isUuid(id) ? await this.repo.byId(viewer.orgId, id) : null;
    if (!row) throw new NotFoundError('Expert request');
    return row;
  }

  /**
   * An expert takes the request: joins the conversation, becomes who answers (mode EXPERT), the
   * agent's running work is paused and a HANDOFF to the expert is announced to the agent.
   */
  async claim(viewer: Viewer, id: string): Promise<ExpertRequestRow> {
    this.requireExpert(viewer);
    const request = await this.get(viewer, id);
    const access = await this.conversations.access(viewer, request.conversationId);
    if (!access) throw new NotFoundError('Conversation');
    // Claiming joins the conversation: an expert removed from it would put themselves back.
    if (!access.participant && (await this.conversations.wasRemoved(viewer, request.conversationId))) {
      throw new ForbiddenError('You were removed from this conversation');
    }
    const claimed = await this.repo.claim(id, viewer.userId, access.conversation.assigneeId);
    if (!claimed) throw new ConflictError(`The request is ${request.status}${request.claimedBy ? ` by ${request.claimedBy}` : ''}`);
    await this.audit.record({
      orgId: viewer.orgId,
      action: 'expert.claim',
      actor: `user:${viewer.userId}`,
      subjectUserId: request.requestedBy,
      conversationId: request.conversationId,
      details: { requestId: id },
    });
    if (!access.participant) await this.conversations.join(viewer, request.conversationId, 'ADMIN');
    for (const run of await this.runs.liveRuns(request.conversationId)) {
      if (run.state === 'ACTIVE') {
        await this.control.send(viewer, request.conversationId, { event: 'PAUSE', runId: run.runId, reason: 'expert took over' });
      }
    }
    await this.control.send(viewer, request.conversationId, { event: 'HANDOFF', target: viewer.userId, reason: 'expert claimed request' });
    await this.bus.publish(topics.expertRequests(viewer.orgId), { id, status: 'CLAIMED' });
    await this.events.emit('expertRequestChanged', { actor: viewer, change: 'CLAIMED', request: claimed });
    return claimed;
  }

  /** The expert hands the conversation back to the agent that answered before; its runs resume. */
  async handBack(viewer: Viewer, conversationId: string): Promise<ExpertRequestRow> {
    const { conversation } = await this.conversations.requireParticipant(viewer, conversationId);
    const request = await this.repo.claimedFor(conversationId);
    if (!request) throw new ConflictError('No expert has this conversation');
    if (request.claimedBy !== viewer.userId && conversation.assigneeId !== viewer.userId && !isAdmin(viewer)) {
      throw new ForbiddenError('Only the expert who has the conversation hands it back');
    }
    const agent = request.previousAssigneeId;
    await this.control.send(viewer, conversationId, {
      event: agent ? 'HANDOFF' : 'ROUTE',
      target: agent ?? 'AGENT',
      reason: 'expert handed back',
    });
    for (const run of await this.runs.liveRuns(conversationId)) {
      if (run.state === 'PAUSED') {
        await this.control.send(viewer, conversationId, { event: 'RESUME', runId: run.runId, reason: 'expert handed back' });
      }
    }
    const resolved = await this.repo.resolve(request.id);
    await this.audit.record({
      orgId: viewer.orgId,
      action: 'expert.handback',
      actor: `user:${viewer.userId}`,
      conversationId,
      details: { requestId: request.id, to: agent },
    });
    await this.bus.publish(topics.expertRequests(viewer.orgId), { id: request.id, status: 'RESOLVED' });
    await this.events.emit('expertRequestChanged', { actor: viewer, change: 'RESOLVED', request: resolved });
    return resolved;
  }

  private requireExpert(viewer: Viewer) {
    if (!isExpert(viewer) && !isAdmin(viewer)) throw new ForbiddenError('Only experts and admins see expert requests');
  }
}

function decodeKey(raw: string | undefined): QueueKey | undefined {
  const [at, id] = (raw ?? '').split('|');
  const date = at ? cursorDate(at) : undefined;
  return id && isUuid(id) && date ? { at: date, id } : undefined;
}
