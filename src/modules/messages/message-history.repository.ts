import { and, asc, desc, eq, exists, fillPlaceholders, gt, lt, type SQL, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import { alias } from 'drizzle-orm/pg-core';
import type { Database, PreparedStatement } from '../../db/client.js';
import { parsePgTimestamptz } from '../../db/pg-timestamp.js';
import { type MessageRow, messages, participants, users } from '../../db/schema/index.js';
import type { PageRequest } from '../../lib/paging.js';
import type { UserSnapshot } from '../../pubsub/snapshots.js';
import { filterConditions, type MessageFilter } from './message.repository.js';

/** A history row with its sender embedded, as event snapshots carry it. */
export type HistoryMessage = MessageRow & { sender: UserSnapshot };

/** Which optional parts a page query has: each combination is one prepared statement. */
export type Shape = {
  forward: boolean;
  after: boolean;
  before: boolean;
  since: boolean;
  until: boolean;
  topLevel: boolean;
  senderId: boolean;
  priority: boolean;
  kind: boolean;
  /** A thread's replies (threadId), not a conversation's messages (conversationId). */
  thread: boolean;
};

const placeholder = sql.placeholder;

/**
 * The page statements of a conversation's history. Each checks that the viewer takes part in the
 * conversation (an EXISTS Postgres evaluates once) and joins each message's sender, so the newest
 * page of a conversation the viewer is in is one round trip.
 *
 * Each query shape (direction, cursors, filters) is built once and kept as a named prepared
 * statement: on Postgres it is parsed and planned once per connection, and no request spends
 * time building SQL. Rows come as arrays and are decoded by toHistoryMessage, which costs less
 * than drizzle's generic row mapper.
 */
export class MessageHistoryRepository {
  private readonly statements = new Map<string, Statement>();

  constructor(private readonly database: Pick<Database, 'queryRows'>) {}

  /** One page (plus one row, to tell if there is more) in fetch order; empty unless the viewer takes part. */
  page(orgId: string, userId: string, conversationId: string, request: PageRequest<number>, filter: MessageFilter): Promise<HistoryMessage[]> {
    return this.run(orgId, userId, request, filter, { conversationId });
  }

  /**
   * One page of the replies in a thread, as `page` gives a conversation's: the root's conversation
   * is found by the statement itself, so the page is still one round trip.
   */
  threadPage(orgId: string, userId: string, rootId: string, request: PageRequest<number>): Promise<HistoryMessage[]> {
    return this.run(orgId, userId, request, {}, { threadId: rootId });
  }

  private async run(
    orgId: string,
    userId: string,
    request: PageRequest<number>,
    filter: MessageFilter,
    of: { conversationId: string } | { threadId: string },
  ): Promise<HistoryMessage[]> {
    const thread = 'threadId' in of;
    const shape: Shape = {
      forward: request.direction === 'forward',
      after: request.after !== undefined,
      before: request.before !== undefined,
      since: filter.since !== undefined,
      until: filter.until !== undefined,
      topLevel: filter.topLevel === true,
      senderId: filter.senderId !== undefined,
      priority: filter.priority !== undefined,
      kind: filter.kind !== undefined,
      thread,
    };
    const key = shapeKey(shape);
    let statement = this.statements.get(key);
    if (!statement) this.statements.set(key, (statement = pageStatement(shape)));
    const rows = await this.database.queryRows(
      statement,
      fillPlaceholders(statement.params, {
        orgId,
        userId,
        ...of,
        limit: request.limit + 1,
        after: request.after,
        before: request.before,
        // As the timestamp column would send it (placeholders skip the column's encoder).
        since: filter.since?.toISOString(),
        until: filter.until?.toISOString(),
        senderId: filter.senderId,
        priority: filter.priority,
        kind: filter.kind,
      }),
    );
    // Rows of one page share few senders: one object each.
    const senders = new Map<string, UserSnapshot>();
    return rows.map((row) => {
      const senderId = row[C.senderId] as string;
      let sender = senders.get(senderId);
      if (!sender) {
        sender = {
          orgId,
          id: senderId,
          displayName: row[SENDER_AT] as string,
          kind: row[SENDER_AT + 1] as UserSnapshot['kind'],
          // text[]: both drivers give a JavaScript array.
          roles: row[SENDER_AT + 2] as string[],
        };
        senders.set(senderId, sender);
      }
      // A thread page's rows end with their conversation (see pageStatement).
      const conversationId = thread ? (row[SENDER_AT + 3] as string) : of.conversationId;
      return toHistoryMessage(row, orgId, conversationId, sender);
    });
  }
}

/**
 * The SQL of a page statement of `shape`. Both drivers speak Postgres' dialect, so it is built once
 * with a connectionless drizzle; the bench's Q1 ceiling sends the same text.
 */
export function pageStatement(shape: Shape): Statement {
  // A thread's conversation is its root's; replies are stored in their root's conversation.
  const rootConversation = sqlBuilder
    .select({ id: root.conversationId })
    .from(root)
    .where(and(eq(root.id, placeholder('threadId')), eq(root.orgId, placeholder('orgId'))));
  const conversation = shape.thread ? sql`(${rootConversation})` : placeholder('conversationId');
  const viewerTakesPart = sqlBuilder
    .select({ one: sql`1` })
    .from(participants)
    .where(and(eq(participants.conversationId, conversation), eq(participants.userId, placeholder('userId'))));
  // A message's org is its conversation's (the insert checks it), so the org needs no read of
  // conversations: another org's conversation of the same id shows no rows, and an empty page is
  // told apart by requireParticipant.
  const conditions: SQL[] = [
    shape.thread ? eq(messages.threadId, placeholder('threadId')) : eq(messages.conversationId, placeholder('conversationId')),
    eq(messages.orgId, placeholder('orgId')),
    exists(viewerTakesPart),
  ];
  if (shape.after) conditions.push(gt(messages.seq, placeholder('after')));
  if (shape.before) conditions.push(lt(messages.seq, placeholder('before')));
  conditions.push(
    ...filterConditions({
      since: shape.since ? placeholder('since') : undefined,
      until: shape.until ? placeholder('until') : undefined,
      topLevel: shape.topLevel,
      senderId: shape.senderId ? placeholder('senderId') : undefined,
      priority: shape.priority ? placeholder('priority') : undefined,
      kind: shape.kind ? placeholder('kind') : undefined,
    }),
  );
  const query = sqlBuilder
    // The columns in SELECTED order, then the sender's (see page).
    .select({
      ...Object.fromEntries(SELECTED.map((key) => [key, messages[key]])),
      sender: { displayName: users.displayName, kind: users.kind, roles: users.roles },
      ...(shape.thread ? { conversationId: messages.conversationId } : {}),
    })
    .from(messages)
    // Every message has its sender (messages_sender_fk, in the message's org: the viewer's).
    .innerJoin(users, and(eq(users.orgId, placeholder('orgId')), eq(users.id, messages.senderId)))
    .where(and(...conditions))
    .orderBy(shape.forward ? asc(messages.seq) : desc(messages.seq))
    .limit(placeholder('limit'))
    .toSQL();
  return { name: `message_history_${shapeKey(shape)}`, sql: query.sql, params: query.params };
}

/** '0100000' for a backward page after a cursor, and so on: one per combination. */
const shapeKey = (shape: Shape) => Object.values(shape).map(Number).join('');

/** A page statement: its SQL, with placeholders among its parameters, and its prepared-statement name. */
export type Statement = PreparedStatement & { params: unknown[] };

const sqlBuilder = drizzle.mock();
/** A thread's root, beside the replies a thread page reads. */
const root = alias(messages, 'root');

/**
 * The message columns a page selects, in this order. The org and the conversation are the ones the
 * statement matched, so they are not sent back for every row; the sender's id is sender_id.
 */
const SELECTED = [
  'id',
  'seq',
  'senderId',
  'senderKind',
  'content',
  'contentType',
  'kind',
  'replyToId',
  'priority',
  'interruptible',
  'preemptedBy',
  'runId',
  'traceId',
  'metadata',
  'parts',
  'clientMessageId',
  'createdAt',
  'editedAt',
  'deletedAt',
  'threadId',
  'mentionIds',
  'pinnedAt',
  'pinnedBy',
] as const satisfies readonly (keyof MessageRow)[];
/** Where each selected column is in a row. */
const C = Object.fromEntries(SELECTED.map((key, i) => [key, i])) as { [K in (typeof SELECTED)[number]]: number };
/** The sender's display name, kind and roles follow the message columns. */
const SENDER_AT = SELECTED.length;

const timestamp = (value: unknown) => (value === null ? null : parsePgTimestamptz(value as string));

/**
 * A page row as a message. The driver has already parsed integers, booleans, JSON and arrays;
 * timestamps arrive as Postgres' text (Database.queryRows), as drizzle's own sessions take them.
 * One object literal (not a loop over column names): every message gets the same shape.
 */
function toHistoryMessage(row: unknown[], orgId: string, conversationId: string, sender: UserSnapshot): HistoryMessage {
  return {
    id: row[C.id] as string,
    conversationId,
    orgId,
    seq: row[C.seq] as number,
    senderId: row[C.senderId] as string,
    senderKind: row[C.senderKind] as MessageRow['senderKind'],
    content: row[C.content] as string,
    contentType: row[C.contentType] as string,
    kind: row[C.kind] as MessageRow['kind'],
    replyToId: row[C.replyToId] as string | null,
    priority: row[C.priority] as MessageRow['priority'],
    interruptible: row[C.interruptible] as boolean,
    preemptedBy: row[C.preemptedBy] as string | null,
    runId: row[C.runId] as string | null,
    traceId: row[C.traceId] as string | null,
    metadata: row[C.metadata],
    parts: row[C.parts] as MessageRow['parts'],
    clientMessageId: row[C.clientMessageId] as string | null,
    createdAt: timestamp(row[C.createdAt])!,
    editedAt: timestamp(row[C.editedAt]),
    deletedAt: timestamp(row[C.deletedAt]),
    threadId: row[C.threadId] as string | null,
    mentionIds: row[C.mentionIds] as string[] | null,
    pinnedAt: timestamp(row[C.pinnedAt]),
    pinnedBy: row[C.pinnedBy] as string | null,
    sender,
  };
}
