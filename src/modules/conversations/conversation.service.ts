import type { Viewer } from '../../auth/viewer.js';
import type { Tx } from '../../db/client.js';
import type { ConversationRow, ParticipantRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { BadInputError, ConflictError, ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { cursorDate, decodeCursor, encodeCursor, type Page, type PageArgs, type PageRequest, parsePageArgs, trimPage } from '../../lib/paging.js';
import { pgErrorCode, UNIQUE_VIOLATION } from '../../lib/pg-errors.js';
import { checkJson, checkText, isUuid, LIMITS } from '../../lib/validate.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { topics } from '../../pubsub/topics.js';
import type { UserService } from '../users/user.service.js';
import type { ActivityKey, ConversationAccess, ConversationRepository, Role } from './conversation.repository.js';

export type CreateConversationInput = {
  type: ConversationRow['type'];
  name?: string | null;
  description?: string | null;
  metadata?: unknown;
  participantIds?: string[] | null;
  isPublic?: boolean | null;
};

export type UpdateConversationInput = {
  name?: string | null;
  description?: string | null;
  metadata?: unknown;
  preemptOnPriority?: boolean | null;
  isPublic?: boolean | null;
};

const canManage = (role: Role | undefined) => role === 'OWNER' || role === 'ADMIN';

export class ConversationService {
  constructor(
    private readonly repo: ConversationRepository,
    private readonly users: UserService,
    private readonly bus: EventBus,
    private readonly events: DomainEvents,
  ) {}

  /**
   * The conversation if the viewer takes part in it. NOT_FOUND when it does not exist in the
   * viewer's org; FORBIDDEN when it does but the viewer is not (or no longer) a participant.
   */
  async requireParticipant(viewer: Viewer, conversationId: string): Promise<ConversationAccess & { participant: ParticipantRow }> {
    const access = await this.find(viewer, conversationId);
    if (!access.participant) throw new ForbiddenError('You are not a participant of this conversation');
    return access as ConversationAccess & { participant: ParticipantRow };
  }

  private async find(viewer: Viewer, conversationId: string): Promise<ConversationAccess> {
    const access = await this.access(viewer, conversationId);
    if (!access) throw new NotFoundError('Conversation');
    return access;
  }

  /**
   * The conversation, if it is in the viewer's org, with the viewer's participant row (null when
   * they take no part): for rules of other modules, which decide for themselves what it allows.
   */
  async access(viewer: Viewer, conversationId: string): Promise<ConversationAccess | null> {
    return isUuid(conversationId) ? this.repo.access(viewer.orgId, conversationId, viewer.userId) : null;
  }

  async get(viewer: Viewer, conversationId: string): Promise<ConversationRow> {
    return (await this.requireParticipant(viewer, conversationId)).conversation;
  }

  /** The viewer's conversations, newest activity first; archived ones only with `archived: true`. */
  async list(viewer: Viewer, args: PageArgs & { type?: ConversationRow['type'] | null; archived?: boolean | null }): Promise<Page<ConversationRow>> {
    const request = parsePageArgs<ActivityKey>(args, decodeActivityCursor);
    return activityPage(request, await this.repo.listForUser(viewer.orgId, viewer.userId, request, args.type ?? undefined, args.archived ?? false));
  }

  /** Public groups of the viewer's org, newest activity first, their names holding `search` if given. */
  async listPublic(viewer: Viewer, args: PageArgs & { search?: string | null }): Promise<Page<ConversationRow>> {
    checkText('search', args.search, { max: LIMITS.nameChars, allowEmpty: true });
    const request = parsePageArgs<ActivityKey>(args, decodeActivityCursor);
    return activityPage(request, await this.repo.listPublic(viewer.orgId, request, args.search || undefined));
  }

  /**
   * The viewer joins a public GROUP of their org as MEMBER (FORBIDDEN for any other, and for
   * someone removed from it); joining one they are in answers their row as it is.
   */
  async joinPublic(viewer: Viewer, conversationId: string): Promise<ParticipantRow> {
    const { conversation, participant } = await this.find(viewer, conversationId);
    if (participant) return participant;
    if (!conversation.isPublic || conversation.type !== 'GROUP') throw new ForbiddenError('Only public groups can be joined');
    if (await this.wasRemoved(viewer, conversationId)) throw new ForbiddenError('You were removed from this conversation');
    await this.join(viewer, conversationId, viewer.userId, 'MEMBER');
    return (await this.repo.participant(conversationId, viewer.userId))!;
  }

  /** The viewer's own settings in a conversation: muted, archived (until the next message). */
  async updateSettings(viewer: Viewer, conversationId: string, input: { muted?: boolean | null; archived?: boolean | null }): Promise<ParticipantRow> {
    await this.requireParticipant(viewer, conversationId);
    const row = await this.repo.setSettings(conversationId, viewer.userId, { muted: input.muted ?? undefined, archived: input.archived ?? undefined });
    if (!row) throw new ForbiddenError('You are not a participant of this conversation');
    await this.events.emit('participantChanged', { actor: viewer, change: 'UPDATED', participant: row, updated: 'settings' });
    return row;
  }

  /** The conversation as it is and who takes part in it, for whoever tells them of a change. */
  async participantsAndRow(conversationId: string): Promise<{ conversation: ConversationRow; participants: ParticipantRow[] } | null> {
    const [conversation, participants] = await Promise.all([this.repo.byId(conversationId), this.repo.participantsOf([conversationId])]);
    return conversation ? { conversation, participants } : null;
  }

  /**
   * Creates a conversation with the viewer as OWNER. A PRIVATE conversation is between the viewer
   * and exactly one other user and is unique per pair: asking again returns the existing one, and
   * brings back whoever left it (see rejoinPrivate).
   */
  async create(viewer: Viewer, input: CreateConversationInput): Promise<ConversationRow> {
    checkText('name', input.name, { max: LIMITS.nameChars });
    checkText('description', input.description, { max: LIMITS.descriptionChars, allowEmpty: true });
    checkJson('metadata', input.metadata);
    const others = [...new Set(input.participantIds ?? [])].filter((id) => id !== viewer.userId);
    if (others.length > LIMITS.participantsPerCreate) {
      throw new BadInputError(`At most ${LIMITS.participantsPerCreate} participants at creation`, 'participantIds');
    }
    for (const id of others) checkText('participantIds', id, { max: LIMITS.shortTextChars });

    let privateKey: string | null = null;
    if (input.type === 'PRIVATE') {
      if (others.length !== 1) {
        throw new BadInputError('A PRIVATE conversation has exactly one other participant', 'participantIds');
      }
      privateKey = JSON.stringify([viewer.userId, others[0]!].sort());
      if (input.isPublic) throw new BadInputError('Only a GROUP can be public', 'isPublic');
    }

    await this.users.ensureExist(viewer.orgId, others);
    const created = await this.repo
      .transaction(async (tx) => {
        if (privateKey) {
          const existing = await this.repo.byPrivateKeyForUpdate(tx, viewer.orgId, privateKey);
          if (existing) return { row: existing, isNew: false, added: await this.rejoinPrivate(tx, viewer, existing.id, others[0]!) };
        }
        const row = await this.repo.insert(tx, {
          orgId: viewer.orgId,
          type: input.type,
          name: input.name ?? null,
          description: input.description ?? null,
          metadata: input.metadata ?? null,
          createdBy: viewer.userId,
          privateKey,
          isPublic: input.isPublic ?? false,
        });
        const added = await this.repo.addParticipants(tx, viewer.orgId, row.id, [
          { userId: viewer.userId, role: 'OWNER' },
          ...others.map((userId) => ({ userId, role: 'MEMBER' as const })),
        ]);
        return { row, isNew: true, added };
      })
      .catch((err) => {
        // Two people opening the same PRIVATE conversation at once: the loser gets the winner's.
        if (privateKey && pgErrorCode(err) === UNIQUE_VIOLATION) return { row: null, isNew: false, added: [] };
        throw err;
      });
    const row = created.row ?? (await this.repo.byPrivateKey(viewer.orgId, privateKey!))!;
    if (created.isNew) {
      await Promise.all(
        [viewer.userId, ...others].map((userId) =>
          this.bus.publish(topics.userMembership(viewer.orgId, userId), { conversationId: row.id, userId, change: 'ADDED' }),
        ),
      );
      await this.events.emit('conversationChanged', { actor: viewer, change: 'CREATED', conversation: row });
    } else {
      // Those of the pair who came back (see rejoinPrivate).
      await Promise.all(created.added.map((p) => this.announceAddition(viewer.orgId, row.id, p.userId)));
    }
    await this.participantsAdded(viewer, created.added);
    return row;
  }

  /**
   * Opening a PRIVATE conversation again, with its row locked: brings back those of the pair who
   * are not in it, each with the role and read marker they left with. The viewer, if removed, may
   * not come back (FORBIDDEN); the other, if removed, comes back only when the viewer manages
   * participants. Nobody becomes OWNER by coming back unless they were one and nobody else is one
   * now: an owner who left handed the conversation to the other (ensureOwner), who keeps it; the
   * returner comes back as ADMIN, and admins cannot remove owners. Returns who came back.
   */
  private async rejoinPrivate(tx: Tx, viewer: Viewer, conversationId: string, otherId: string): Promise<ParticipantRow[]> {
    const present = await this.repo.participantsOf([conversationId], tx);
    const roleOf = new Map(present.map((p) => [p.userId, p.role]));
    const missing = [viewer.userId, otherId].filter((id) => !roleOf.has(id));
    if (missing.length === 0) return [];
    const departed = await this.repo.departuresOf(conversationId, missing, tx);
    if (departed.get(viewer.userId)?.removedBy) throw new ForbiddenError('You were removed from this conversation');

    const back: { userId: string; role: Role; lastReadSeq: number }[] = [];
    for (const userId of missing) {
      const departure = departed.get(userId);
      // The other, removed, stays out unless the viewer (back by now if they were out) may add them.
      if (userId === otherId && departure?.removedBy && !canManage(roleOf.get(viewer.userId))) continue;
      // No departure row: they left before departures were recorded; they come back as MEMBER.
      let role = departure?.role ?? 'MEMBER';
      if (role === 'OWNER' && [...roleOf.values()].includes('OWNER')) role = 'ADMIN';
      roleOf.set(userId, role);
      back.push({ userId, role, lastReadSeq: departure?.lastReadSeq ?? 0 });
    }
    return this.repo.addParticipants(tx, viewer.orgId, conversationId, back);
  }

  async update(viewer: Viewer, id: string, input: UpdateConversationInput): Promise<ConversationRow> {
    checkText('name', input.name, { max: LIMITS.nameChars });
    checkText('description', input.description, { max: LIMITS.descriptionChars, allowEmpty: true });
    checkJson('metadata', input.metadata);
    const { conversation, participant } = await this.requireParticipant(viewer, id);
    if (!canManage(participant.role)) throw new ForbiddenError('Only owners and admins can update a conversation');
    if (input.isPublic && conversation.type !== 'GROUP') throw new BadInputError('Only a GROUP can be public', 'isPublic');
    const set: UpdateConversationInput = {};
    // Absent fields stay as they are; an explicit null clears the field.
    if (input.name !== undefined) set.name = input.name;
    if (input.description !== undefined) set.description = input.description;
    if (input.metadata !== undefined) set.metadata = input.metadata;
    if (input.preemptOnPriority != null) set.preemptOnPriority = input.preemptOnPriority;
    if (input.isPublic != null) set.isPublic = input.isPublic;
    const updated = await this.repo.update(id, set as Partial<Pick<ConversationRow, 'name' | 'description' | 'metadata' | 'preemptOnPriority' | 'isPublic'>>);
    await this.events.emit('conversationChanged', { actor: viewer, change: 'UPDATED', conversation: updated });
    return updated;
  }

  /**
   * Who answers in the conversation: its mode, and the assignee unless `assigneeId` is undefined.
   * For control events (ROUTE, HANDOFF), which decide who may.
   */
  async setMode(actor: Viewer, conversationId: string, mode: ConversationRow['mode'], assigneeId?: string | null): Promise<void> {
    const updated = await this.repo.setMode(conversationId, mode, assigneeId);
    if (updated) await this.events.emit('conversationChanged', { actor, change: 'UPDATED', conversation: updated });
  }

  /**
   * A GROUP: deletes it with its messages, owners only. A PRIVATE: the viewer leaves it (it is
   * gone from their list, the other keeps it and its history, opening it again brings them back);
   * once nobody is left in it, it is deleted.
   */
  async delete(viewer: Viewer, id: string): Promise<boolean> {
    const { conversation, participant } = await this.requireParticipant(viewer, id);
    if (conversation.type === 'PRIVATE') return this.depart(viewer, conversation, { deleteIfEmpty: true });
    if (participant.role !== 'OWNER') throw new ForbiddenError('Only owners can delete a conversation');
    const members = await this.repo.participantsOf([id]);
    const deleted = await this.repo.delete(id);
    await Promise.all(members.map((m) => this.announceRemoval(viewer.orgId, id, m.userId)));
    if (deleted) {
      await this.events.emit('conversationChanged', { actor: viewer, change: 'DELETED', conversation, formerParticipantIds: members.map((m) => m.userId) });
    }
    return deleted;
  }

  /**
   * Adds a user (MEMBER by default). Owners and admins manage participants; only owners make
   * owners. Adding someone already there returns them unchanged, unless another role is asked.
   */
  async addParticipant(viewer: Viewer, conversationId: string, userId: string, role: Role = 'MEMBER'): Promise<ParticipantRow> {
    checkText('userId', userId, { max: LIMITS.shortTextChars });
    const { conversation, participant } = await this.requireParticipant(viewer, conversationId);
    if (!canManage(participant.role)) throw new ForbiddenError('Only owners and admins can add participants');
    if (role === 'OWNER' && participant.role !== 'OWNER') throw new ForbiddenError('Only owners can add owners');
    if (conversation.type === 'PRIVATE') {
      throw new BadInputError('A PRIVATE conversation cannot take more participants; create a GROUP', 'conversationId');
    }
    const existing = await this.repo.participant(conversationId, userId);
    if (existing) {
      if (existing.role !== role) {
        throw new ConflictError(`${userId} is already a participant with role ${existing.role}`);
      }
      return existing;
    }
    await this.users.ensureExist(viewer.orgId, [userId]);
    await this.repo.transaction((tx) => this.repo.addParticipants(tx, viewer.orgId, conversationId, [{ userId, role }]));
    const added = (await this.repo.participant(conversationId, userId))!;
    await this.announceAddition(viewer.orgId, conversationId, userId);
    await this.participantsAdded(viewer, [added]);
    return added;
  }

  /** Ids of every conversation the viewer takes part in. */
  idsOf(viewer: Viewer): Promise<string[]> {
    return this.repo.conversationIdsOf(viewer.orgId, viewer.userId);
  }

  /** Which of the (conversation, user) pairs are participants now, as "conversation\0user" keys. */
  presentParticipants(pairs: { conversationId: string; userId: string }[]): Promise<Set<string>> {
    return this.repo.presentParticipants(pairs);
  }

  /** The user's participant row, if they take part in the conversation. */
  participant(conversationId: string, userId: string): Promise<ParticipantRow | null> {
    return this.repo.participant(conversationId, userId);
  }

  /** Whether the viewer was removed from the conversation (and not added back since). */
  async wasRemoved(viewer: Viewer, conversationId: string): Promise<boolean> {
    const departure = (await this.repo.departuresOf(conversationId, [viewer.userId])).get(viewer.userId);
    return Boolean(departure?.removedBy);
  }

  /**
   * A user joins a conversation of the actor's org by right of a role, not by a manager's
   * decision: an expert taking a request, or assigned one by an admin (`actor`). The caller checks
   * first that a user joining of their own accord was not removed from it (wasRemoved).
   */
  async join(actor: Viewer, conversationId: string, userId: string, role: Role): Promise<void> {
    const added = await this.repo.transaction((tx) => this.repo.addParticipants(tx, actor.orgId, conversationId, [{ userId, role }]));
    await this.announceAddition(actor.orgId, conversationId, userId);
    await this.participantsAdded(actor, added);
  }

  /** Removes a participant: owners and admins; admins cannot remove owners. Use leave for yourself. */
  async removeParticipant(viewer: Viewer, conversationId: string, userId: string): Promise<boolean> {
    checkText('userId', userId, { max: LIMITS.shortTextChars });
    if (userId === viewer.userId) return this.leave(viewer, conversationId);
    const { participant } = await this.requireParticipant(viewer, conversationId);
    if (!canManage(participant.role)) throw new ForbiddenError('Only owners and admins can remove participants');
    const target = await this.repo.participant(conversationId, userId);
    if (!target) throw new NotFoundError('Participant');
    if (target.role === 'OWNER' && participant.role !== 'OWNER') throw new ForbiddenError('Only owners can remove owners');
    // Recorded as removed by the viewer: the user cannot put themselves back (see rejoinPrivate).
    const removed = await this.repo.transaction((tx) => this.repo.depart(tx, conversationId, userId, viewer.userId));
    await this.announceRemoval(viewer.orgId, conversationId, userId);
    if (removed) await this.events.emit('participantChanged', { actor: viewer, change: 'REMOVED', participant: removed });
    return true;
  }

  /** The viewer leaves; if they were the last owner, the longest-standing admin or member takes over. */
  async leave(viewer: Viewer, conversationId: string): Promise<boolean> {
    const { conversation } = await this.requireParticipant(viewer, conversationId);
    return this.depart(viewer, conversation, { deleteIfEmpty: false });
  }

  /** The viewer leaves (see leave); with `deleteIfEmpty`, the conversation goes if nobody is left in it. */
  private async depart(viewer: Viewer, conversation: ConversationRow, { deleteIfEmpty }: { deleteIfEmpty: boolean }): Promise<boolean> {
    const conversationId = conversation.id;
    const { left, deleted } = await this.repo.transaction(async (tx) => {
      // Under the lock, two last participants leaving at once cannot both see the other still there.
      await this.repo.lock(tx, conversationId);
      const left = await this.repo.depart(tx, conversationId, viewer.userId, null);
      await this.repo.ensureOwner(tx, conversationId);
      const deleted = deleteIfEmpty && (await this.repo.participantsOf([conversationId], tx)).length === 0 && (await this.repo.delete(conversationId, tx));
      return { left, deleted };
    });
    await this.announceRemoval(viewer.orgId, conversationId, viewer.userId);
    if (left) await this.events.emit('participantChanged', { actor: viewer, change: 'REMOVED', participant: left });
    if (deleted) await this.events.emit('conversationChanged', { actor: viewer, change: 'DELETED', conversation, formerParticipantIds: [viewer.userId] });
    return true;
  }

  /** Marks messages up to `seq` read. The marker only moves forward. */
  async markRead(viewer: Viewer, conversationId: string, seq: number): Promise<ParticipantRow> {
    if (seq < 0) throw new BadInputError('`seq` must not be negative', 'seq');
    const { conversation } = await this.requireParticipant(viewer, conversationId);
    if (seq > conversation.lastSeq) {
      throw new BadInputError(`\`seq\` ${seq} is past the conversation's last message (${conversation.lastSeq})`, 'seq');
    }
    const row = await this.repo.markRead(conversationId, viewer.userId, seq);
    if (!row) throw new ForbiddenError('You are not a participant of this conversation');
    await this.events.emit('participantChanged', { actor: viewer, change: 'UPDATED', participant: row });
    return row;
  }

  /** Raises participantChanged for each participant added. */
  private async participantsAdded(actor: Viewer, added: ParticipantRow[]): Promise<void> {
    for (const participant of added) await this.events.emit('participantChanged', { actor, change: 'ADDED', participant });
  }

  private async announceAddition(orgId: string, conversationId: string, userId: string) {
    const event = { conversationId, userId, change: 'ADDED' as const };
    await Promise.all([this.bus.publish(topics.membership(conversationId), event), this.bus.publish(topics.userMembership(orgId, userId), event)]);
  }

  private async announceRemoval(orgId: string, conversationId: string, userId: string) {
    const event = { conversationId, userId, change: 'REMOVED' as const };
    await Promise.all([this.bus.publish(topics.membership(conversationId), event), this.bus.publish(topics.userMembership(orgId, userId), event)]);
  }
}

/** A page of conversations in "newest activity first" order. */
function activityPage(request: PageRequest<ActivityKey>, rows: ConversationRow[]): Page<ConversationRow> {
  const { nodes, hasMore } = trimPage(rows, request);
  return {
    nodes,
    // Newest first: "next" is older activity.
    hasNextPage: request.direction === 'forward' ? hasMore : request.before !== undefined,
    hasPreviousPage: request.direction === 'forward' ? request.after !== undefined : hasMore,
    cursorOf: (c) => encodeCursor('conv', `${c.lastActivityAt.getTime()}:${c.id}`),
  };
}

function decodeActivityCursor(raw: string): ActivityKey | undefined {
  const value = decodeCursor('conv', raw);
  const match = value?.match(/^(\d{1,15}):([0-9a-f-]{36})$/);
  const at = match ? cursorDate(Number(match[1])) : undefined;
  if (!match || !at || !isUuid(match[2]!)) return undefined;
  return { at, id: match[2]! };
}
