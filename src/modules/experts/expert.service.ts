import type { AuditLog } from '../../auth/audit.js';
import { isAdmin, isExpert, type Viewer } from '../../auth/viewer.js';
import { type Context, requireViewer } from '../../context.js';
import type { ExpertRequestRow, UserRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { BadInputError, ConflictError, ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { AsyncQueue } from '../../lib/async-queue.js';
import { cursorDate, decodeCursor, encodeCursor, forwardPage, type Page, type PageArgs } from '../../lib/paging.js';
import { checkText, isUuid, LIMITS } from '../../lib/validate.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { topics } from '../../pubsub/topics.js';
import type { RunService } from '../agents/run.service.js';
import type { ControlService } from '../control/control.service.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { MessageService } from '../messages/message.service.js';
import { endWithCredential } from '../realtime/token-expiry.js';
import type { UserService } from '../users/user.service.js';
import type { ExpertRepository, QueueKey } from './expert.repository.js';

type Status = ExpertRequestRow['status'];
type ConversationAccess = NonNullable<Awaited<ReturnType<ConversationService['access']>>>;

/**
 * What the SYSTEM messages of the expert desk say in the conversation (the first is seed 003's).
 * Their metadata says the same for programs: `{ expertRequestId, event }`.
 */
export const DESK_MESSAGES = {
  REQUESTED: () => 'Expert notified. You will receive a response shortly.',
  JOINED: (expert: string) => `${expert} (expert) joined the conversation.`,
  HANDED_BACK: (expert: string) => `${expert} handed the conversation back to the agent.`,
  CANCELLED: () => 'The request for an expert was withdrawn.',
} as const;

/**
 * Moving a conversation from its AI agent to a human expert and back: a participant asks for an
 * expert (or a failed evaluation does); the org's experts see open requests; one claims it (or an
 * admin assigns it to one), joins the conversation and takes over (the agent's runs are paused
 * and a HANDOFF is announced); the expert hands back and the agent resumes. Who asked may withdraw
 * an open request. Each step is told in the conversation by a SYSTEM message; every claim,
 * assignment, read and write of an expert is audited.
 */
export class ExpertService {
  constructor(
    private readonly repo: ExpertRepository,
    private readonly conversations: ConversationService,
    private readonly messages: MessageService,
    private readonly users: UserService,
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
    return this.open(viewer, conversationId, reason ?? null);
  }

  /**
   * Opens a request for `actor`, who may take no part in the conversation: for modules that
   * checked what they allow (a failed evaluation brings in an expert). The pending one is returned
   * if there is one; a new one is announced in the conversation.
   */
  async open(actor: Viewer, conversationId: string, reason: string | null): Promise<ExpertRequestRow> {
    const pending = await this.repo.pendingFor(conversationId);
    if (pending) return pending;
    const row = await this.repo.insert({ conversationId, orgId: actor.orgId, requestedBy: actor.userId, reason });
    await this.say(actor, row, 'REQUESTED', DESK_MESSAGES.REQUESTED());
    await this.bus.publish(topics.expertRequests(actor.orgId), { id: row.id, status: row.status });
    await this.events.emit('expertRequestChanged', { actor, change: 'OPENED', request: row });
    return row;
  }

  /** The org's requests in a status (OPEN by default), oldest first: the experts' queue. */
  async list(viewer: Viewer, status: Status, args: PageArgs): Promise<Page<ExpertRequestRow>> {
    this.requireExpert(viewer);
    return forwardPage(
      args,
      (raw) => decodeKey(decodeCursor('xr', raw)),
      (after, limit) => this.repo.page(viewer.orgId, status, after, limit),
      (r) => encodeCursor('xr', `${r.createdAt.toISOString()}|${r.id}`),
    );
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
    return this.takeOver(viewer, viewer, request, access);
  }

  /**
   * An admin gives an open request to an expert of the org, who takes it over as by claiming it:
   * they are added to the conversation (also back into one they were removed from: an admin
   * decided) and hear of it on expertRequestUpdated, where it is CLAIMED by them.
   */
  async assign(viewer: Viewer, id: string, expertId: string): Promise<ExpertRequestRow> {
    if (!isAdmin(viewer)) throw new ForbiddenError('Only admins assign expert requests');
    checkText('expertId', expertId, { max: LIMITS.shortTextChars });
    const request = await this.get(viewer, id);
    const [user] = await this.users.byIds(viewer.orgId, [expertId]);
    if (!user) throw new NotFoundError('Expert');
    if (!user.roles.includes('expert')) throw new BadInputError(`${expertId} has no \`expert\` role`, 'expertId');
    const expert = actingAs(viewer, user);
    const access = await this.conversations.access(expert, request.conversationId);
    if (!access) throw new NotFoundError('Conversation');
    return this.takeOver(viewer, expert, request, access);
  }

  /**
   * `expert` takes over the request's conversation, by their own claim or an admin's assignment
   * (`actor`): the request is theirs if it is still open, they join, the agent's active runs are
   * paused and the HANDOFF to them is announced, all as issued by the expert.
   */
  private async takeOver(actor: Viewer, expert: Viewer, request: ExpertRequestRow, access: ConversationAccess): Promise<ExpertRequestRow> {
    const { id, conversationId } = request;
    const claimed = await this.repo.claim(id, expert.userId, access.conversation.assigneeId);
    if (!claimed) throw new ConflictError(`The request is ${request.status}${request.claimedBy ? ` by ${request.claimedBy}` : ''}`);
    await this.audit.record(
      actor === expert
        ? {
            orgId: actor.orgId,
            action: 'expert.claim',
            actor: `user:${expert.userId}`,
            subjectUserId: request.requestedBy,
            conversationId,
            details: { requestId: id },
          }
        : {
            orgId: actor.orgId,
            action: 'expert.assign',
            actor: `user:${actor.userId}`,
            subjectUserId: expert.userId,
            conversationId,
            details: { requestId: id },
          },
    );
    if (!access.participant) await this.conversations.join(actor, conversationId, expert.userId, 'ADMIN');
    for (const run of await this.runs.liveRuns(conversationId)) {
      if (run.state === 'ACTIVE') {
        await this.control.send(expert, conversationId, { event: 'PAUSE', runId: run.runId, reason: 'expert took over' });
      }
    }
    await this.control.send(expert, conversationId, { event: 'HANDOFF', target: expert.userId, reason: 'expert claimed request' });
    await this.say(expert, claimed, 'JOINED', DESK_MESSAGES.JOINED(expert.displayName));
    await this.bus.publish(topics.expertRequests(actor.orgId), { id, status: 'CLAIMED' });
    await this.events.emit('expertRequestChanged', { actor, change: 'CLAIMED', request: claimed });
    return claimed;
  }

  /**
   * Who asked withdraws an open request (admins may too): it is CANCELLED, leaves the experts'
   * queue, and the conversation is told. Withdrawing it again answers it as it is.
   */
  async cancel(viewer: Viewer, id: string): Promise<ExpertRequestRow> {
    const request = await this.get(viewer, id);
    if (request.requestedBy !== viewer.userId && !isAdmin(viewer)) {
      throw new ForbiddenError('Only who asked for the expert (or an admin) withdraws the request');
    }
    if (request.status === 'CANCELLED') return request;
    const cancelled = await this.repo.cancel(id);
    if (!cancelled) {
      const now = (await this.repo.byId(viewer.orgId, id))!;
      if (now.status === 'CANCELLED') return now;
      throw new ConflictError(`The request is ${now.status}: ${now.status === 'CLAIMED' ? 'the expert hands it back' : 'it is over'}`);
    }
    await this.say(viewer, cancelled, 'CANCELLED', DESK_MESSAGES.CANCELLED());
    await this.bus.publish(topics.expertRequests(viewer.orgId), { id, status: 'CANCELLED' });
    await this.events.emit('expertRequestChanged', { actor: viewer, change: 'CANCELLED', request: cancelled });
    return cancelled;
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
    await this.say(viewer, resolved, 'HANDED_BACK', DESK_MESSAGES.HANDED_BACK(viewer.displayName));
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

  /** The desk's SYSTEM message in the request's conversation, sent as `actor`. */
  private async say(actor: Viewer, request: ExpertRequestRow, event: keyof typeof DESK_MESSAGES, content: string): Promise<void> {
    await this.messages.postSystem(actor, request.conversationId, content, { expertRequestId: request.id, event });
  }

  private requireExpert(viewer: Viewer) {
    if (!isExpert(viewer) && !isAdmin(viewer)) throw new ForbiddenError('Only experts and admins see expert requests');
  }
}

/**
 * The expert as the viewer an admin's assignment acts through: the expert joins and issues the
 * PAUSE and HANDOFF, on the admin's credential.
 */
function actingAs(admin: Viewer, expert: UserRow): Viewer {
  return { orgId: expert.orgId, userId: expert.id, displayName: expert.displayName, kind: expert.kind, roles: expert.roles, credential: admin.credential };
}

function decodeKey(raw: string | undefined): QueueKey | undefined {
  const [at, id] = (raw ?? '').split('|');
  const date = at ? cursorDate(at) : undefined;
  return id && isUuid(id) && date ? { at: date, id } : undefined;
}
