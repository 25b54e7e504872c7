import { and, asc, desc, eq, exists, fillPlaceholders, gt, lt, sql, type SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/node-postgres';
import pg from 'pg';
import type { Viewer } from '../../auth/viewer.js';
import type { Database } from '../../db/client.js';
import { parsePgTimestamptz } from '../../db/pg-timestamp.js';
import { messages, participants, users, type MessageRow } from '../../db/schema/index.js';
import { NotFoundError } from '../../graphql/errors.js';
import { decodeIntCursor, encodeCursor, INT4_MAX, parsePageArgs, trimPage, type Page, type PageArgs, type PageRequest } from '../../lib/paging.js';
import { checkText, isUuid, LIMITS } from '../../lib/validate.js';
import type { UserSnapshot } from '../../pubsub/snapshots.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import { filterConditions, type MessageFilter, type MessageRepository } from './message.repository.js';

export type MessageListArgs = PageArgs & {
  since?: Date | null;
  senderId?: string | null;
  priority?: MessageRow['priority'] | null;
  kind?: MessageRow['kind'] | null;
};

export const messageCursor = (seq: number) => encodeCursor('seq', seq);

/** A history row with its sender embedded, as event snapshots carry it. */
export type HistoryMessage = MessageRow & { sender: UserSnapshot };

/** Which optional parts a page query has: each combination is one prepared statement. */
export type Shape = {
  forward: boolean;
  after: boolean;
  before: boolean;
  since: boolean;
  senderId: boolean;
  priority: boolean;
  kind: boolean;
};

const placeholder = sql.placeholder;

/**
 * A conversation's history for `messages` (and `Conversation.messages`). The page statement itself
 * checks that the viewer takes part in the conversation (an EXISTS Postgres evaluates once) and
 * joins each message's sender, so the newest page of a conversation the viewer is in is one round
 * trip. More statements follow only when needed: for an empty result, to tell NOT_FOUND, FORBIDDEN
 * and an empty page apart exactly as the participant check does; with a cursor, to tell whether
 * messages lie beyond it; and for an expert's read, its audit.
 *
 * Each query shape (direction, cursors, filters) is built once and kept as a named prepared
 * statement: on Postgres it is parsed and planned once per connection, and no request spends
 * time building SQL.
 */
export class MessageHistory {
  private readonly statements = new Map<string, Statement>();

  constructor(
    private readonly database: Database,
    private readonly conversations: ConversationService,
    private readonly messageRepo: MessageRepository,
    /** After a page is read (experts' reads are audited). */
    private readonly afterRead?: (viewer: Viewer, conversationId: string) => Promise<void>,
  ) {}

  /** History in seq order; `last: 50` is the newest 50. */
  async list(viewer: Viewer, conversationId: string, args: MessageListArgs): Promise<Page<HistoryMessage>> {
    const request = parsePageArgs(args, (raw) => decodeIntCursor('seq', raw, INT4_MAX));
    if (args.senderId != null) checkText('senderId', args.senderId, { max: LIMITS.shortTextChars });
    // Not a uuid: no such conversation (and Postgres would refuse the parameter).
    if (!isUuid(conversationId)) throw new NotFoundError('Conversation');
    const filter = {
      since: args.since ?? undefined,
      senderId: args.senderId ?? undefined,
      priority: args.priority ?? undefined,
      kind: args.kind ?? undefined,
    };
    const rows = await this.page(viewer, conversationId, request, filter);
    // No row: the conversation is missing, the viewer is not in it, or the page is empty.
    if (rows.length === 0) await this.conversations.requireParticipant(viewer, conversationId);
    await this.afterRead?.(viewer, conversationId);
    const { nodes, hasMore } = trimPage(rows, request);
    const forward = request.direction === 'forward';
    // The far side of the cursor is known to hold messages only if one matching the filter exists.
    const cursorSide = forward ? request.after : request.before;
    const beyondCursor =
      cursorSide !== undefined &&
      (await this.messageRepo.existsBeyond(conversationId, forward ? 'lte' : 'gte', cursorSide, filter));
    return {
      nodes,
      hasNextPage: forward ? hasMore : beyondCursor,
      hasPreviousPage: forward ? beyondCursor : hasMore,
      cursorOf: (m) => messageCursor(m.seq),
    };
  }

  /** One page (plus one row, to tell if there is more) in fetch order; empty unless the viewer takes part. */
  private async page(viewer: Viewer, conversationId: string, request: PageRequest<number>, filter: MessageFilter): Promise<HistoryMessage[]> {
    const shape: Shape = {
      forward: request.direction === 'forward',
      after: request.after !== undefined,
      before: request.before !== undefined,
      since: filter.since !== undefined,
      senderId: filter.senderId !== undefined,
      priority: filter.priority !== undefined,
      kind: filter.kind !== undefined,
    };
    const key = shapeKey(shape);
    let statement = this.statements.get(key);
    if (!statement) this.statements.set(key, (statement = pageStatement(shape)));
    const rows = await this.run(
      statement,
      fillPlaceholders(statement.params, {
        orgId: viewer.orgId,
        userId: viewer.userId,
        conversationId,
        limit: request.limit + 1,
        after: request.after,
        before: request.before,
        // As the timestamp column would send it (placeholders skip the column's encoder).
        since: filter.since?.toISOString(),
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
          orgId: viewer.orgId,
          id: senderId,
          displayName: row[SENDER_AT] as string,
          kind: row[SENDER_AT + 1] as UserSnapshot['kind'],
          // text[]: both drivers give a JavaScript array.
          roles: row[SENDER_AT + 2] as string[],
        };
        senders.set(senderId, sender);
      }
      return toHistoryMessage(row, viewer.orgId, conversationId, sender);
    });
  }

  /**
   * Runs a statement with the driver, rows as arrays. Drizzle built the SQL; its generic row mapper
   * (a tenth of this request's CPU) is replaced by toHistoryMessage.
   */
  private async run(statement: Statement, values: unknown[]): Promise<unknown[][]> {
    // Counted like every drizzle statement (the per-request statement tests read it).
    this.database.stats.statements++;
    if (this.database.pool) {
      const result = await this.database.pool.query<unknown[]>({ name: statement.name, text: statement.sql, values, rowMode: 'array', types: PAGE_TYPES });
      return result.rows;
    }
    const result = await this.database.pglite!.query<unknown[]>(statement.sql, values, { rowMode: 'array', parsers: PGLITE_PARSERS });
    return result.rows;
  }
}

/**
 * The SQL of a page statement of `shape`. Both drivers speak Postgres' dialect, so it is built once
 * with a connectionless drizzle; the bench's Q1 ceiling sends the same text.
 */
export function pageStatement(shape: Shape): Statement {
  const viewerTakesPart = sqlBuilder
    .select({ one: sql`1` })
    .from(participants)
    .where(and(eq(participants.conversationId, placeholder('conversationId')), eq(participants.userId, placeholder('userId'))));
  // A message's org is its conversation's (the insert checks it), so the org needs no read of
  // conversations: another org's conversation of the same id shows no rows, and an empty page is
  // told apart by requireParticipant.
  const conditions: SQL[] = [
    eq(messages.conversationId, placeholder('conversationId')),
    eq(messages.orgId, placeholder('orgId')),
    exists(viewerTakesPart),
  ];
  if (shape.after) conditions.push(gt(messages.seq, placeholder('after')));
  if (shape.before) conditions.push(lt(messages.seq, placeholder('before')));
  conditions.push(
    ...filterConditions({
      since: shape.since ? placeholder('since') : undefined,
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
export type Statement = { name: string; sql: string; params: unknown[] };

const sqlBuilder = drizzle.mock();

/**
 * The message columns a page selects, in this order. The org and the conversation are the ones the
 * statement matched, so they are not sent back for every row; the sender's id is sender_id.
 */
const SELECTED = [
  'id', 'seq', 'senderId', 'senderKind', 'content', 'contentType', 'kind', 'replyToId', 'priority', 'interruptible',
  'preemptedBy', 'runId', 'traceId', 'metadata', 'clientMessageId', 'createdAt', 'editedAt', 'deletedAt',
] as const satisfies readonly (keyof MessageRow)[];
/** Where each selected column is in a row. */
const C = Object.fromEntries(SELECTED.map((key, i) => [key, i])) as { [K in (typeof SELECTED)[number]]: number };
/** The sender's display name, kind and roles follow the message columns. */
const SENDER_AT = SELECTED.length;

const timestamp = (value: unknown) => (value === null ? null : parsePgTimestamptz(value as string));

/**
 * A page row as a message. The driver has already parsed integers, booleans, JSON and arrays;
 * timestamps arrive as Postgres' text (PAGE_TYPES, PGLITE_PARSERS), as drizzle's own sessions take them.
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
    clientMessageId: row[C.clientMessageId] as string | null,
    createdAt: timestamp(row[C.createdAt])!,
    editedAt: timestamp(row[C.editedAt]),
    deletedAt: timestamp(row[C.deletedAt]),
    sender,
  };
}

/**
 * timestamptz, the one date type a page holds, comes as Postgres' text for parsePgTimestamptz
 * (pg-types' own decoder takes 3.7 times as long); everything else is the driver's parse.
 */
const TIMESTAMPTZ = 1184;
const raw = (value: string) => value;
export const PAGE_TYPES = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ ? raw : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};
const PGLITE_PARSERS = { [TIMESTAMPTZ]: raw };
