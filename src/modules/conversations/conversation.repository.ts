import { and, asc, desc, eq, gt, inArray, lt, or, type Placeholder, type SQL, sql } from 'drizzle-orm';
import type { Db, Tx } from '../../db/client.js';
import {
  type ConversationRow,
  conversations,
  type DepartureRow,
  departures,
  type MessageRow,
  messages,
  type ParticipantRow,
  participants,
  users,
} from '../../db/schema/index.js';
import type { PageRequest } from '../../lib/paging.js';
import type { UserSnapshot } from '../../pubsub/snapshots.js';
import { USER_SNAPSHOT_COLUMNS } from '../users/user.repository.js';

export type Role = ParticipantRow['role'];

/** A conversation as one viewer sees it: the row plus the viewer's own participant row, if any. */
export type ConversationAccess = { conversation: ConversationRow; participant: ParticipantRow | null };

/** Keyset position in "newest activity first" order. */
export type ActivityKey = { at: Date; id: string };

export class ConversationRepository {
  /** access's statement, prepared: nearly every operation on a conversation starts with it. */
  private readonly accessStatement: ReturnType<typeof prepareAccess>;

  constructor(private readonly db: Db) {
    this.accessStatement = prepareAccess(db);
  }

  /** Runs `work` in one transaction: the methods taking a `tx` join it. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.db.transaction(work);
  }

  /** The conversation in the org and the user's participant row, in one statement. */
  async access(orgId: string, conversationId: string, userId: string, db: Db | Tx = this.db): Promise<ConversationAccess | null> {
    // A prepared statement runs outside any transaction: one in a transaction is built there.
    const rows = db === this.db ? await this.accessStatement.execute({ orgId, conversationId, userId }) : await accessQuery(db, orgId, conversationId, userId);
    return rows[0] ?? null;
  }

  async byId(id: string): Promise<ConversationRow | null> {
    const rows = await this.db.select().from(conversations).where(eq(conversations.id, id));
    return rows[0] ?? null;
  }

  async byPrivateKey(orgId: string, privateKey: string, db: Db | Tx = this.db): Promise<ConversationRow | null> {
    const rows = await db
      .select()
      .from(conversations)
      .where(and(eq(conversations.orgId, orgId), eq(conversations.privateKey, privateKey)));
    return rows[0] ?? null;
  }

  /**
   * The pair's conversation, locked until the transaction ends. Membership changes of a
   * conversation take this lock first (see lock), so they decide on participants that stay as read.
   */
  async byPrivateKeyForUpdate(tx: Tx, orgId: string, privateKey: string): Promise<ConversationRow | null> {
    const rows = await tx
      .select()
      .from(conversations)
      .where(and(eq(conversations.orgId, orgId), eq(conversations.privateKey, privateKey)))
      .for('update');
    return rows[0] ?? null;
  }

  /** Locks the conversation row until the transaction ends: its membership changes run one at a time. */
  async lock(tx: Tx, conversationId: string): Promise<void> {
    await tx.select({ id: conversations.id }).from(conversations).where(eq(conversations.id, conversationId)).for('update');
  }

  /** The user's conversations, newest activity first. */
  async listForUser(
    orgId: string,
    userId: string,
    request: PageRequest<ActivityKey>,
    type?: ConversationRow['type'],
    archived = false,
  ): Promise<ConversationRow[]> {
    const conditions = [eq(participants.orgId, orgId), eq(participants.userId, userId)];
    if (type) conditions.push(eq(conversations.type, type));
    // Archived: marked so, and no message since (see participants.archivedSeq).
    const isArchived = sql`(${participants.archivedSeq} is not null and ${conversations.lastSeq} <= ${participants.archivedSeq})`;
    conditions.push(archived ? isArchived : sql`not ${isArchived}`);
    // "after" in this order means older activity; "before" means newer.
    if (request.after) conditions.push(olderThan(request.after));
    if (request.before) conditions.push(newerThan(request.before));
    const order =
      request.direction === 'forward'
        ? [desc(conversations.lastActivityAt), desc(conversations.id)]
        : [asc(conversations.lastActivityAt), asc(conversations.id)];
    const rows = await this.db
      .select({ conversation: conversations })
      .from(participants)
      .innerJoin(conversations, eq(conversations.id, participants.conversationId))
      .where(and(...conditions))
      .orderBy(...order)
      .limit(request.limit + 1);
    return rows.map((r) => r.conversation);
  }

  /**
   * The org's public groups whose name holds `search` (any case), newest activity first. A
   * substring match over names is a filter on the org's public groups, which the index finds.
   */
  async listPublic(orgId: string, request: PageRequest<ActivityKey>, search?: string): Promise<ConversationRow[]> {
    const conditions = [eq(conversations.orgId, orgId), eq(conversations.isPublic, true), eq(conversations.type, 'GROUP')];
    if (search) conditions.push(sql`${conversations.name} ilike ${`%${search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`}`);
    if (request.after) conditions.push(olderThan(request.after));
    if (request.before) conditions.push(newerThan(request.before));
    const order =
      request.direction === 'forward'
        ? [desc(conversations.lastActivityAt), desc(conversations.id)]
        : [asc(conversations.lastActivityAt), asc(conversations.id)];
    return this.db
      .select()
      .from(conversations)
      .where(and(...conditions))
      .orderBy(...order)
      .limit(request.limit + 1);
  }

  /** The user's own settings in a conversation; answers the row, null if they take no part. */
  async setSettings(conversationId: string, userId: string, settings: { muted?: boolean; archived?: boolean }): Promise<ParticipantRow | null> {
    const set: Partial<Record<'muted' | 'archivedSeq', unknown>> = {};
    if (settings.muted !== undefined) set.muted = settings.muted;
    if (settings.archived !== undefined) {
      set.archivedSeq = settings.archived ? sql`(select ${conversations.lastSeq} from ${conversations} where ${conversations.id} = ${conversationId})` : null;
    }
    if (Object.keys(set).length === 0) return this.participant(conversationId, userId);
    const [row] = await this.db
      .update(participants)
      .set(set as Partial<ParticipantRow>)
      .where(and(eq(participants.conversationId, conversationId), eq(participants.userId, userId)))
      .returning();
    return row ?? null;
  }

  /** The conversations' last seqs (whether an archived one has had a message since). */
  async lastSeqsOf(conversationIds: readonly string[]): Promise<Map<string, number>> {
    if (conversationIds.length === 0) return new Map();
    const rows = await this.db
      .select({ id: conversations.id, lastSeq: conversations.lastSeq })
      .from(conversations)
      .where(inArray(conversations.id, [...conversationIds]));
    return new Map(rows.map((r) => [r.id, r.lastSeq]));
  }

  /** Ids of every conversation the user takes part in. */
  async conversationIdsOf(orgId: string, userId: string): Promise<string[]> {
    const rows = await this.db
      .select({ id: participants.conversationId })
      .from(participants)
      .where(and(eq(participants.orgId, orgId), eq(participants.userId, userId)));
    return rows.map((r) => r.id);
  }

  async insert(tx: Tx, values: typeof conversations.$inferInsert): Promise<ConversationRow> {
    const [row] = await tx.insert(conversations).values(values).returning();
    return row!;
  }

  async update(
    id: string,
    set: Partial<Pick<ConversationRow, 'name' | 'description' | 'metadata' | 'preemptOnPriority' | 'isPublic'>>,
  ): Promise<ConversationRow> {
    const [row] = await this.db
      .update(conversations)
      .set({ ...set, updatedAt: sql`now()` })
      .where(eq(conversations.id, id))
      .returning();
    return row!;
  }

  /** Who answers in the conversation; `assigneeId` undefined keeps the current assignee. */
  async setMode(conversationId: string, mode: ConversationRow['mode'], assigneeId?: string | null): Promise<ConversationRow | null> {
    const [row] = await this.db
      .update(conversations)
      .set({ mode, ...(assigneeId !== undefined ? { assigneeId } : {}), updatedAt: sql`now()` })
      .where(eq(conversations.id, conversationId))
      .returning();
    return row ?? null;
  }

  async delete(id: string, db: Db | Tx = this.db): Promise<boolean> {
    const rows = await db.delete(conversations).where(eq(conversations.id, id)).returning({ id: conversations.id });
    return rows.length > 0;
  }

  /**
   * Adds participants; existing ones are left as they are. Whoever is added is no longer departed:
   * their departure row goes in the same transaction. Answers the rows added.
   */
  async addParticipants(
    tx: Tx,
    orgId: string,
    conversationId: string,
    members: { userId: string; role: Role; lastReadSeq?: number }[],
  ): Promise<ParticipantRow[]> {
    if (members.length === 0) return [];
    const added = await tx
      .insert(participants)
      .values(members.map((m) => ({ conversationId, orgId, userId: m.userId, role: m.role, lastReadSeq: m.lastReadSeq ?? 0 })))
      .onConflictDoNothing()
      .returning();
    await tx.delete(departures).where(
      and(
        eq(departures.conversationId, conversationId),
        inArray(
          departures.userId,
          members.map((m) => m.userId),
        ),
      ),
    );
    return added;
  }

  /**
   * Takes the user out of the conversation and records the departure with their role and read
   * marker; `removedBy` is who removed them, null when they left. Answers their participant row as
   * it was, null if they were not in it.
   */
  async depart(tx: Tx, conversationId: string, userId: string, removedBy: string | null): Promise<ParticipantRow | null> {
    const [gone] = await tx
      .delete(participants)
      .where(and(eq(participants.conversationId, conversationId), eq(participants.userId, userId)))
      .returning();
    if (!gone) return null;
    const departure = { role: gone.role, lastReadSeq: gone.lastReadSeq, removedBy };
    await tx
      .insert(departures)
      .values({ conversationId, orgId: gone.orgId, userId, ...departure })
      .onConflictDoUpdate({ target: [departures.conversationId, departures.userId], set: { ...departure, departedAt: sql`now()` } });
    return gone;
  }

  /** The departures of these users from the conversation, by user. */
  async departuresOf(conversationId: string, userIds: string[], db: Db | Tx = this.db): Promise<Map<string, DepartureRow>> {
    if (userIds.length === 0) return new Map();
    const rows = await db
      .select()
      .from(departures)
      .where(and(eq(departures.conversationId, conversationId), inArray(departures.userId, userIds)));
    return new Map(rows.map((r) => [r.userId, r]));
  }

  async participant(conversationId: string, userId: string, db: Db | Tx = this.db): Promise<ParticipantRow | null> {
    const rows = await db
      .select()
      .from(participants)
      .where(and(eq(participants.conversationId, conversationId), eq(participants.userId, userId)));
    return rows[0] ?? null;
  }

  /** Which of the (conversation, user) pairs are participants now, as "conversation\0user" keys. */
  async presentParticipants(pairs: { conversationId: string; userId: string }[]): Promise<Set<string>> {
    if (pairs.length === 0) return new Set();
    const rows = await this.db
      .select({ conversationId: participants.conversationId, userId: participants.userId })
      .from(participants)
      .where(
        and(
          inArray(participants.conversationId, [...new Set(pairs.map((p) => p.conversationId))]),
          inArray(participants.userId, [...new Set(pairs.map((p) => p.userId))]),
        ),
      );
    return new Set(rows.map((r) => `${r.conversationId}\u0000${r.userId}`));
  }

  /** When the last owner leaves, the longest-standing admin (else member) becomes owner. */
  async ensureOwner(tx: Tx, conversationId: string): Promise<void> {
    await tx.execute(sql`
      UPDATE ${participants} SET role = 'OWNER'
      WHERE conversation_id = ${conversationId}
        AND NOT EXISTS (SELECT 1 FROM ${participants} WHERE conversation_id = ${conversationId} AND role = 'OWNER')
        AND user_id = (
          SELECT user_id FROM ${participants} WHERE conversation_id = ${conversationId}
          ORDER BY CASE role WHEN 'ADMIN' THEN 0 ELSE 1 END, joined_at, user_id LIMIT 1)`);
  }

  /** Moves the read marker forward only; never past the conversation's last seq. */
  async markRead(conversationId: string, userId: string, seq: number): Promise<ParticipantRow | null> {
    const [row] = await this.db
      .update(participants)
      .set({
        lastReadSeq: sql`GREATEST(${participants.lastReadSeq}, ${seq})`,
        lastReadAt: sql`CASE WHEN ${seq} > ${participants.lastReadSeq} THEN now() ELSE ${participants.lastReadAt} END`,
      })
      .where(and(eq(participants.conversationId, conversationId), eq(participants.userId, userId)))
      .returning();
    return row ?? null;
  }

  // Batch reads for the per-request loaders: one statement whatever the number of keys.

  async participantsOf(conversationIds: readonly string[], db: Db | Tx = this.db): Promise<ParticipantRow[]> {
    if (conversationIds.length === 0) return [];
    return db
      .select()
      .from(participants)
      .where(inArray(participants.conversationId, [...conversationIds]))
      .orderBy(asc(participants.joinedAt), asc(participants.userId));
  }

  /**
   * The last message of each conversation with its sender embedded (as event snapshots carry it),
   * so a page of conversations needs no separate read of the senders: its statement count is the
   * same whatever the page size and however the other batched reads interleave.
   */
  async lastMessagesOf(conversationIds: readonly string[]): Promise<(MessageRow & { sender?: UserSnapshot })[]> {
    if (conversationIds.length === 0) return [];
    const rows = await this.db
      .select({
        message: messages,
        sender: USER_SNAPSHOT_COLUMNS,
      })
      .from(conversations)
      .innerJoin(messages, and(eq(messages.conversationId, conversations.id), eq(messages.seq, conversations.lastSeq)))
      .leftJoin(users, and(eq(users.orgId, messages.orgId), eq(users.id, messages.senderId)))
      .where(inArray(conversations.id, [...conversationIds]));
    return rows.map((r) => (r.sender ? { ...r.message, sender: r.sender } : r.message));
  }

  /** Messages after the user's read marker mentioning them, not their own and not deleted, per conversation. */
  unreadMentionCounts(userId: string, conversationIds: readonly string[]): Promise<Map<string, number>> {
    return this.countUnread(userId, conversationIds, sql`${messages.mentionIds} is not null and ${messages.mentionIds} @> array[${participants.userId}]`);
  }

  /** Messages after the user's read marker, not their own and not deleted, per conversation. */
  unreadCounts(userId: string, conversationIds: readonly string[]): Promise<Map<string, number>> {
    return this.countUnread(userId, conversationIds);
  }

  /** Counts the unread messages (see unreadCounts) that also meet `also`, per conversation. */
  private async countUnread(userId: string, conversationIds: readonly string[], also?: SQL): Promise<Map<string, number>> {
    if (conversationIds.length === 0) return new Map();
    const rows = await this.db
      .select({ conversationId: participants.conversationId, n: sql<number>`count(${messages.id})::int` })
      .from(participants)
      .leftJoin(
        messages,
        and(
          eq(messages.conversationId, participants.conversationId),
          gt(messages.seq, participants.lastReadSeq),
          sql`${messages.senderId} <> ${participants.userId}`,
          sql`${messages.deletedAt} IS NULL`,
          also,
        ),
      )
      .where(and(eq(participants.userId, userId), inArray(participants.conversationId, [...conversationIds])))
      .groupBy(participants.conversationId);
    return new Map(rows.map((r) => [r.conversationId, r.n]));
  }
}

function olderThan(key: ActivityKey) {
  return or(lt(conversations.lastActivityAt, key.at), and(eq(conversations.lastActivityAt, key.at), lt(conversations.id, key.id)))!;
}

function newerThan(key: ActivityKey) {
  return or(gt(conversations.lastActivityAt, key.at), and(eq(conversations.lastActivityAt, key.at), gt(conversations.id, key.id)))!;
}

/** The conversation in the org with the user's participant row, on values or on placeholders. */
const accessQuery = (db: Db | Tx, orgId: string | Placeholder, conversationId: string | Placeholder, userId: string | Placeholder) =>
  db
    .select({ conversation: conversations, participant: participants })
    .from(conversations)
    .leftJoin(participants, and(eq(participants.conversationId, conversations.id), eq(participants.userId, userId)))
    .where(and(eq(conversations.id, conversationId), eq(conversations.orgId, orgId)));

const prepareAccess = (db: Db) =>
  accessQuery(db, sql.placeholder('orgId'), sql.placeholder('conversationId'), sql.placeholder('userId')).prepare('conversation_access');
