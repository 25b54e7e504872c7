import { randomUUID } from 'node:crypto';
import {
  and,
  asc,
  type Column,
  desc,
  eq,
  exists,
  getTableColumns,
  gt,
  gte,
  inArray,
  isNotNull,
  isNull,
  lt,
  lte,
  type Placeholder,
  type SQL,
  type SQLChunk,
  sql,
} from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { parsePgTimestamptz } from '../../db/pg-timestamp.js';
import { conversations, type MessageRow, messages, type ParticipantRow, participants, users, webhookEvents } from '../../db/schema/index.js';
import { type PgError, pgError, UNIQUE_VIOLATION } from '../../lib/pg-errors.js';
import { isStorableDate } from '../../lib/validate.js';
import type { UserSnapshot } from '../../pubsub/snapshots.js';
import { USER_SNAPSHOT_COLUMNS } from '../users/user.repository.js';

/** A message to store; `id` may be given (a completed stream keeps its id). */
export type NewMessage = Omit<typeof messages.$inferInsert, 'seq' | 'createdAt' | 'editedAt' | 'deletedAt'>;

export type MessageFilter = {
  since?: Date;
  /** Exclusive: the history gives it as the millisecond after the one asked for (see untilBound). */
  until?: Date;
  /** Leave thread replies out. */
  topLevel?: boolean;
  senderId?: string;
  priority?: MessageRow['priority'];
  kind?: MessageRow['kind'];
  /** Only the replies in this message's thread. */
  threadId?: string;
};

/** A send reused its clientMessageId: nothing was stored and the seq bump was rolled back with it. */
/** A timestamp a raw aggregate answered: Postgres' text, or already a Date, depending on the driver. */
const asDate = (value: string | Date): Date => (value instanceof Date ? value : parsePgTimestamptz(value));

/** A position in a user's mentions, newest first. */
export type MentionKey = { at: Date; id: string };

/** A thread's summary, as threadSummaries reads it. */
export type ThreadSummaryRow = { threadId: string; replyCount: number; lastReplyAt: Date; participantIds: string[] };

export class DuplicateClientMessageId extends Error {
  constructor() {
    super('clientMessageId already used');
  }
}

export type InsertOptions = {
  /** Store nothing (answer null) unless the sender takes part in the conversation. */
  senderMustParticipate?: boolean;
};

/**
 * Which orgs have a webhook for `message.created` (webhooks/subscriptions.ts): the send statement
 * writes the webhook outbox row of a message of theirs in the same statement.
 */
export type OutboxSubscribers = { subscribers(event: 'message.created'): ReadonlySet<string> | Promise<ReadonlySet<string>> };

export class MessageRepository {
  private readonly inserts: InsertQueue;
  private readonly withAccessStatement: ReturnType<typeof prepareWithAccess>;
  private readonly withSendersStatement: ReturnType<typeof prepareWithSenders>;

  constructor(
    private readonly db: Db,
    outbox?: OutboxSubscribers,
  ) {
    this.inserts = new InsertQueue(prepareInsertBatch(db), prepareInsertBatchWithOutbox(db), outbox);
    this.withAccessStatement = prepareWithAccess(db);
    this.withSendersStatement = prepareWithSenders(db);
  }

  /**
   * Stores a message with the conversation's next seq. Answers null when nothing was stored: the
   * conversation is not in the message's org, replyToId names no message of it, threadId no
   * top-level message of it, mentionIds someone not in it, or (with
   * `senderMustParticipate`) the sender does not take part in it; the caller finds out which.
   * A reused clientMessageId throws DuplicateClientMessageId, and leaves no gap in seq.
   *
   * Messages sent at the same time are stored together, in one statement (see InsertQueue).
   */
  insertNext(message: NewMessage, options: InsertOptions = {}): Promise<MessageRow | null> {
    // The id is made here, so that the rows a batch returns can be told apart by it.
    return this.inserts.add({ ...message, id: message.id ?? randomUUID() }, options.senderMustParticipate ?? false);
  }

  async byClientMessageId(conversationId: string, senderId: string, clientMessageId: string): Promise<MessageRow | null> {
    const rows = await this.db
      .select()
      .from(messages)
      .where(and(eq(messages.conversationId, conversationId), eq(messages.senderId, senderId), eq(messages.clientMessageId, clientMessageId)));
    return rows[0] ?? null;
  }

  async byId(orgId: string, id: string): Promise<MessageRow | null> {
    const rows = await this.db
      .select()
      .from(messages)
      .where(and(eq(messages.id, id), eq(messages.orgId, orgId)));
    return rows[0] ?? null;
  }

  /**
   * The message (of the org) with its sender and the role `userId` holds in its conversation (null
   * when they take no part): what a change to a message checks and announces, in one statement.
   */
  async withAccess(
    orgId: string,
    id: string,
    userId: string,
  ): Promise<{ message: MessageRow; sender: UserSnapshot; role: ParticipantRow['role'] | null } | null> {
    const rows = await this.withAccessStatement.execute({ orgId, id, userId });
    return rows[0] ?? null;
  }

  /** Messages by id, each with its sender, as messageUpdated events carry them. */
  async withSenders(ids: readonly string[]): Promise<{ message: MessageRow; sender: UserSnapshot }[]> {
    if (ids.length === 0) return [];
    return this.withSendersStatement.execute({ ids: [...ids] });
  }

  async byIds(ids: readonly string[]): Promise<MessageRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(messages)
      .where(inArray(messages.id, [...ids]));
  }

  async existsIn(conversationId: string, id: string): Promise<boolean> {
    const rows = await this.db
      .select({ id: messages.id })
      .from(messages)
      .where(and(eq(messages.id, id), eq(messages.conversationId, conversationId)));
    return rows.length > 0;
  }

  /** Whether `id` is a top-level message of the conversation (one a thread can hang from). */
  async isThreadRoot(conversationId: string, id: string): Promise<boolean> {
    const rows = await this.db
      .select({ id: messages.id })
      .from(messages)
      .where(and(eq(messages.id, id), eq(messages.conversationId, conversationId), isNull(messages.threadId)));
    return rows.length > 0;
  }

  /**
   * The summaries of the threads hanging from these messages: replies not deleted, the last
   * one's time, and who replied in the order they first did. Threads without replies are absent.
   */
  async threadSummaries(orgId: string, rootIds: readonly string[]): Promise<ThreadSummaryRow[]> {
    if (rootIds.length === 0) return [];
    const bySender = this.db
      .select({
        threadId: sql<string>`${messages.threadId}`.as('thread_id'),
        senderId: sql<string>`${messages.senderId}`.as('sender_id'),
        n: sql<number>`count(*)`.as('n'),
        lastAt: sql<Date>`max(${messages.createdAt})`.as('last_at'),
        firstSeq: sql<number>`min(${messages.seq})`.as('first_seq'),
      })
      .from(messages)
      .where(and(inArray(messages.threadId, [...rootIds]), eq(messages.orgId, orgId), isNull(messages.deletedAt)))
      .groupBy(messages.threadId, messages.senderId)
      .as('by_sender');
    const rows = await this.db
      .select({
        threadId: bySender.threadId,
        replyCount: sql<number>`sum(${bySender.n})::int`,
        lastReplyAt: sql<string>`max(${bySender.lastAt})`,
        participantIds: sql<string[]>`array_agg(${bySender.senderId} order by ${bySender.firstSeq})`,
      })
      .from(bySender)
      .groupBy(bySender.threadId);
    // An aggregate of a subquery's column comes back as Postgres' text, whichever the driver.
    return rows.map((r) => ({ ...r, lastReplyAt: asDate(r.lastReplyAt) }));
  }

  /** Pins the message (a pinned one keeps who pinned it first, and when); `by` null unpins. */
  async setPin(id: string, by: string | null): Promise<MessageRow> {
    const [row] = await this.db
      .update(messages)
      .set(
        by === null
          ? { pinnedAt: null, pinnedBy: null }
          : { pinnedAt: sql`coalesce(${messages.pinnedAt}, now())`, pinnedBy: sql`coalesce(${messages.pinnedBy}, ${by})` },
      )
      .where(eq(messages.id, id))
      .returning();
    return row!;
  }

  /** The pinned messages of the conversations, newest pin first. */
  async pinnedIn(conversationIds: readonly string[]): Promise<MessageRow[]> {
    if (conversationIds.length === 0) return [];
    return this.db
      .select()
      .from(messages)
      .where(and(inArray(messages.conversationId, [...conversationIds]), isNotNull(messages.pinnedAt)))
      .orderBy(desc(messages.pinnedAt), desc(messages.seq));
  }

  /**
   * Messages mentioning the user in conversations they take part in, not deleted, newest first
   * (to the millisecond, then by id: the cursor's precision), after `after`; `limit` + 1 rows.
   */
  async mentioning(orgId: string, userId: string, after: MentionKey | undefined, limit: number): Promise<MessageRow[]> {
    const at = sql`date_trunc('milliseconds', ${messages.createdAt})`;
    const conditions = [
      eq(messages.orgId, orgId),
      // Both, so that the partial GIN index serves it.
      isNotNull(messages.mentionIds),
      sql`${messages.mentionIds} @> array[${userId}]::text[]`,
      isNull(messages.deletedAt),
      exists(
        this.db
          .select({ one: sql`1` })
          .from(participants)
          .where(and(eq(participants.conversationId, messages.conversationId), eq(participants.orgId, orgId), eq(participants.userId, userId))),
      ),
    ];
    if (after) conditions.push(sql`(${at}, ${messages.id}) < (${after.at.toISOString()}::timestamptz, ${after.id}::uuid)`);
    return this.db
      .select()
      .from(messages)
      .where(and(...conditions))
      .orderBy(desc(at), desc(messages.id))
      .limit(limit + 1);
  }

  async edit(id: string, content: string): Promise<MessageRow> {
    const [row] = await this.db.update(messages).set({ content, parts: null, editedAt: sql`now()` }).where(eq(messages.id, id)).returning();
    return row!;
  }

  /** Soft delete: the row and its seq stay, the content goes. */
  async softDelete(id: string): Promise<MessageRow> {
    const [row] = await this.db
      .update(messages)
      .set({ content: '', metadata: null, parts: null, pinnedAt: null, pinnedBy: null, deletedAt: sql`coalesce(${messages.deletedAt}, now())` })
      .where(eq(messages.id, id))
      .returning();
    return row!;
  }

  /** Marks the run's interruptible messages as preempted by `by`; returns them. */
  async preemptRunMessages(conversationId: string, runId: string, by: string): Promise<MessageRow[]> {
    return this.db
      .update(messages)
      .set({ preemptedBy: by })
      .where(and(eq(messages.conversationId, conversationId), eq(messages.runId, runId), eq(messages.interruptible, true), isNull(messages.preemptedBy)))
      .returning();
  }

  /**
   * Whether any message matching `filter` lies at or before (`lte`) or at or after (`gte`) a seq.
   * Inclusive, so that a cursor at the largest seq needs no seq past it (out of the column's range).
   */
  async existsBeyond(conversationId: string, side: 'lte' | 'gte', seq: number, filter: MessageFilter): Promise<boolean> {
    const rows = await this.db
      .select({ seq: messages.seq })
      .from(messages)
      .where(and(eq(messages.conversationId, conversationId), side === 'lte' ? lte(messages.seq, seq) : gte(messages.seq, seq), ...filterConditions(filter)))
      .limit(1);
    return rows.length > 0;
  }

  /**
   * Stored messages with seq > afterSeq, ascending (resume after a disconnect), each with its
   * sender, as a live event carries it: delivering them then reads nothing more per message.
   */
  async after(conversationId: string, afterSeq: number, limit: number): Promise<{ message: MessageRow; sender: UserSnapshot }[]> {
    return (
      this.db
        .select({
          message: messages,
          sender: USER_SNAPSHOT_COLUMNS,
        })
        .from(messages)
        // Every message has its sender (messages_sender_fk).
        .innerJoin(users, and(eq(users.orgId, messages.orgId), eq(users.id, messages.senderId)))
        .where(and(eq(messages.conversationId, conversationId), gt(messages.seq, afterSeq)))
        .orderBy(asc(messages.seq))
        .limit(limit)
    );
  }
}

/**
 * The conditions of a history filter, on values or on placeholders (the prepared page statements
 * of MessageHistory).
 */
export function filterConditions(filter: { [K in keyof MessageFilter]?: MessageFilter[K] | Placeholder }): SQL[] {
  const conditions: SQL[] = [];
  if (filter.since) conditions.push(gte(messages.createdAt, filter.since));
  if (filter.until) conditions.push(lt(messages.createdAt, filter.until));
  if (filter.topLevel === true) conditions.push(isNull(messages.threadId));
  if (filter.senderId) conditions.push(eq(messages.senderId, filter.senderId));
  if (filter.priority) conditions.push(eq(messages.priority, filter.priority));
  if (filter.kind) conditions.push(eq(messages.kind, filter.kind));
  if (filter.threadId) conditions.push(eq(messages.threadId, filter.threadId));
  return conditions;
}

/**
 * The exclusive bound that makes `until` inclusive at the millisecond: clients see times to the
 * millisecond (and send those back), while stored ones have microseconds. None when that bound is
 * past the last date Postgres stores: every message is before it.
 */
export const untilBound = (until: Date): Date | undefined => {
  const bound = new Date(until.getTime() + 1);
  return isStorableDate(bound) ? bound : undefined;
};

/** The unique constraint a reused clientMessageId violates (see the schema). */
const CLIENT_MESSAGE_ID_UNIQUE = 'messages_client_message_id_uq';

/**
 * Statements storing queued messages at the same time, each on a pool connection. More than one,
 * so that a statement waiting for a busy conversation's row lock does not hold up every send;
 * few, so that messages wait for the next statement and go together.
 */
const MAX_STATEMENTS = 2;
/** Messages one statement stores at most. */
const MAX_BATCH = 64;

type Queued = {
  message: NewMessage & { id: string };
  senderMustParticipate: boolean;
  resolve: (row: MessageRow | null) => void;
  reject: (err: unknown) => void;
};

/**
 * Group commit. Messages to store wait here while MAX_STATEMENTS statements are running; the next
 * statement stores all that wait. Under load one round trip, one commit and one row lock per
 * conversation then serve many sends; without load a message is stored at once, alone.
 */
class InsertQueue {
  private readonly waiting: Queued[] = [];
  private running = 0;

  constructor(
    private readonly statement: InsertBatchStatement,
    private readonly withOutbox: InsertBatchStatement,
    private readonly outbox: OutboxSubscribers | undefined,
  ) {}

  add(message: Queued['message'], senderMustParticipate: boolean): Promise<MessageRow | null> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ message, senderMustParticipate, resolve, reject });
      this.next();
    });
  }

  private next(): void {
    while (this.running < MAX_STATEMENTS && this.waiting.length > 0) {
      const batch = this.waiting.splice(0, MAX_BATCH);
      this.running++;
      void this.store(batch).finally(() => {
        this.running--;
        this.next();
      });
    }
  }

  private async store(batch: Queued[]): Promise<void> {
    let rows: MessageRow[];
    try {
      const subscribers = this.outbox ? await this.outbox.subscribers('message.created') : undefined;
      const hooked = subscribers?.size ? batch.map((q) => subscribers.has(q.message.orgId)) : undefined;
      rows = hooked?.includes(true)
        ? await this.withOutbox.execute({ ...insertBatchValues(batch), outbox: hooked })
        : await this.statement.execute(insertBatchValues(batch));
    } catch (err) {
      // The database refused the statement and rolled all of it back. Alone, each message gets its
      // own answer: the one that reused a clientMessageId fails, the others are stored. One after
      // another, in this statement's slot: at once, they would take a connection each.
      if (batch.length > 1 && databaseError(err)) {
        for (const queued of batch) await this.store([queued]);
        return;
      }
      for (const queued of batch) queued.reject(isDuplicateClientMessageId(err) ? new DuplicateClientMessageId() : err);
      return;
    }
    const stored = new Map(rows.map((row) => [row.id, row]));
    for (const queued of batch) queued.resolve(stored.get(queued.message.id) ?? null);
  }
}

/**
 * withAccess's statement, prepared: every reaction, pin, edit and delete starts with it, and
 * drizzle building a select of this many columns anew on each request cost more than the rest
 * of the request's JavaScript.
 */
const prepareWithAccess = (db: Db) =>
  db
    .select({ message: messages, sender: USER_SNAPSHOT_COLUMNS, role: participants.role })
    .from(messages)
    // Every message has its sender (messages_sender_fk).
    .innerJoin(users, and(eq(users.orgId, messages.orgId), eq(users.id, messages.senderId)))
    .leftJoin(participants, and(eq(participants.conversationId, messages.conversationId), eq(participants.userId, sql.placeholder('userId'))))
    .where(and(eq(messages.id, sql.placeholder('id')), eq(messages.orgId, sql.placeholder('orgId'))))
    .prepare('message_with_access');

/** withSenders' statement, prepared for the same reason: each thread reply's root is read by it. */
const prepareWithSenders = (db: Db) =>
  db
    .select({ message: messages, sender: USER_SNAPSHOT_COLUMNS })
    .from(messages)
    // Every message has its sender (messages_sender_fk).
    .innerJoin(users, and(eq(users.orgId, messages.orgId), eq(users.id, messages.senderId)))
    .where(sql`${messages.id} = any(${sql.placeholder('ids')}::text[]::uuid[])`)
    .prepare('messages_with_senders');

/** Every column the caller gives a value for: all but seq, which the statement hands out. */
const givenColumns = Object.entries(getTableColumns(messages)).filter(([key]) => key !== 'seq');

/** The batch as the statement's parameters: one array per column, and one of the participation flags. */
export function insertBatchValues(batch: Pick<Queued, 'message' | 'senderMustParticipate'>[]): Record<string, unknown[]> {
  const values: Record<string, unknown[]> = { senderMustParticipate: batch.map((q) => q.senderMustParticipate) };
  for (const [key, column] of givenColumns) {
    values[key] = batch.map(({ message }) => {
      const value = message[key as keyof NewMessage];
      return value == null ? null : column.mapToDriverValue(value);
    });
  }
  return values;
}

type InsertBatchStatement = ReturnType<typeof prepareInsertBatch>;

/** The prepared statement's name (the bench's M1 ceiling sends the same statement). */
export const INSERT_BATCH_STATEMENT = 'insert_messages';

const prepareInsertBatch = (db: Db) => insertBatchQuery(db).prepare(INSERT_BATCH_STATEMENT);
const prepareInsertBatchWithOutbox = (db: Db) => insertBatchQuery(db, { outbox: true }).prepare(`${INSERT_BATCH_STATEMENT}_outbox`);

/**
 * Stores a batch of messages, possibly to several conversations, in one prepared statement:
 *
 *   queued:  the messages, one row each, in queue order (the parameters are one array per column)
 *   allowed: those that may be stored: conversation in the message's org, sender taking part in it
 *            (when asked), replyToId naming one of its messages, threadId one of its top-level
 *            ones, mentionIds (distinct) its participants; numbered 1..n per conversation
 *   locked:  their conversations' rows, locked in id order, so that two batches (of any
 *            instances) never wait for each other in a cycle; the lock the UPDATE takes anyway
 *            (FOR NO KEY UPDATE), so inserts referencing the conversation need not wait
 *   bumped:  last_seq + n for each, so the batch's messages take the next n seqs in queue order
 *   INSERT:  the allowed messages with their seqs
 *   outbox:  (with `outbox`, for the messages flagged so: their orgs have a webhook for
 *            message.created) the webhook event of each, the message as stored, in the same
 *            statement, so no commit is without its webhook (see modules/webhooks)
 *
 * The row locks are released when the statement commits, not held across round trips. There is
 * no ON CONFLICT: a reused clientMessageId raises a unique violation that rolls the whole
 * statement back, seq bumps included, so no seq is ever skipped.
 */
export function insertBatchQuery(db: Pick<Db, '$with' | 'with'>, options: { outbox?: boolean } = {}) {
  const list = (parts: SQLChunk[]) => sql.join(parts, sql`, `);
  const names = givenColumns.map(([, column]) => sql.identifier(column.name));
  // Each array is sent as text[], which both drivers can send whatever the column's type (PGlite
  // cannot send an array of enums), and cast to the column's type here.
  // An array column (mention_ids) travels as its text form, one per message (a Postgres array of
  // arrays must be rectangular), and is cast to its type where it is used.
  const arrays = givenColumns.map(([key, column]) =>
    isArrayColumn(column) ? sql`${sql.placeholder(key)}::text[]` : sql`${sql.placeholder(key)}::text[]::${sql.raw(column.getSQLType())}[]`,
  );
  const queued = db.$with('queued', {}).as(
    sql`select * from unnest(${list(arrays)},
      ${sql.placeholder('senderMustParticipate')}::boolean[]${options.outbox ? sql`, ${sql.placeholder('outbox')}::boolean[]` : sql``})
      with ordinality as q(${list(names)}, sender_must_participate, ${options.outbox ? sql`outbox, ` : sql``}ord)`,
  );
  const allowed = db.$with('allowed', {}).as(
    sql`select q.*, row_number() over (partition by q.conversation_id order by q.ord) as nth
      from queued q join ${conversations} c on c.id = q.conversation_id and c.org_id = q.org_id
      where (not q.sender_must_participate
             or exists (select 1 from ${participants} p where p.conversation_id = q.conversation_id and p.user_id = q.sender_id))
        and (q.reply_to_id is null
             or exists (select 1 from ${messages} r where r.id = q.reply_to_id and r.conversation_id = q.conversation_id))
        and (q.thread_id is null
             or exists (select 1 from ${messages} t where t.id = q.thread_id and t.conversation_id = q.conversation_id and t.thread_id is null))
        and (q.mention_ids is null
             or (select count(*) from ${participants} p
                 where p.conversation_id = q.conversation_id and p.user_id = any(q.mention_ids::text[])) = cardinality(q.mention_ids::text[]))`,
  );
  const locked = db.$with('locked', {}).as(
    sql`select c.id, counted.n from ${conversations} c
      join (select conversation_id, count(*)::int as n from allowed group by conversation_id) counted on counted.conversation_id = c.id
      order by c.id for no key update of c`,
  );
  const bumped = db.$with('bumped', {}).as(
    sql`update ${conversations} c set last_seq = c.last_seq + locked.n, last_activity_at = now()
      from locked where c.id = locked.id
      returning c.id, c.last_seq - locked.n as seq_before`,
  );
  // drizzle's INSERT … SELECT lists every column of the table, in order. A column left out takes
  // its default, as in a plain INSERT (every column with a default is NOT NULL).
  const columns = Object.entries(getTableColumns(messages));
  const selected = columns.map(([key, column]) => {
    if (key === 'seq') return sql`b.seq_before + a.nth`;
    const given = isArrayColumn(column) ? sql`a.${sql.identifier(column.name)}::${sql.raw(column.getSQLType())}` : sql`a.${sql.identifier(column.name)}`;
    return column.hasDefault ? sql`coalesce(${given}, ${column.default})` : given;
  });
  // The message as the row is stored (its now() is the INSERT's), under the API's field names.
  const payload = list(columns.flatMap(([key], i) => [sql.raw(`'${key}'`), selected[i]!]));
  const outbox = db.$with('outbox', {}).as(
    sql`insert into ${webhookEvents} (org_id, type, data)
      select a.org_id, 'message.created', jsonb_build_object(${payload})
      from allowed a join bumped b on b.id = a.conversation_id where a.outbox`,
  );
  return db
    .with(queued, allowed, locked, bumped, ...(options.outbox ? [outbox] : []))
    .insert(messages)
    .select(sql`select ${list(selected)} from allowed a join bumped b on b.id = a.conversation_id`)
    .returning();
}

function isArrayColumn(column: Column): boolean {
  return column.columnType === 'PgArray';
}

function isDuplicateClientMessageId(err: unknown): boolean {
  const answer = databaseError(err);
  return answer?.code === UNIQUE_VIOLATION && answer.constraint === CLIENT_MESSAGE_ID_UNIQUE;
}

/**
 * The error the database answered a statement with, which rolled the statement back (severity
 * ERROR, pg and PGlite alike), found in drizzle's `cause` chain. Undefined for any other failure:
 * a lost connection, or a FATAL one that ends the session, leaves open whether it committed.
 */
function databaseError(err: unknown): PgError | undefined {
  const answer = pgError(err);
  return answer?.severity === 'ERROR' ? answer : undefined;
}
