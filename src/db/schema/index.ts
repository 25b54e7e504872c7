import { sql } from 'drizzle-orm';
import {
  bigint,
  boolean,
  check,
  foreignKey,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  unique,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';

// Enum values are the GraphQL enum values, so rows map to the API without translation tables.
export const conversationType = pgEnum('conversation_type', ['PRIVATE', 'GROUP']);
export const participantRole = pgEnum('participant_role', ['OWNER', 'ADMIN', 'MEMBER']);
export const actorKind = pgEnum('actor_kind', ['USER', 'AGENT']);
export const messagePriority = pgEnum('message_priority', ['LOW', 'NORMAL', 'HIGH', 'CRITICAL']);
export const messageKind = pgEnum('message_kind', ['CHAT', 'COMMAND', 'NOTIFICATION', 'SYSTEM']);
export const controlEventType = pgEnum('control_event_type', ['PAUSE', 'RESUME', 'PREEMPT', 'ROUTE', 'HANDOFF', 'CANCEL', 'PRIORITY']);

/**
 * The kinds of part a structured answer holds (kept in jsonb, so no Postgres enum). A part keeps
 * only the fields it has: TEXT and REASONING `text`; TOOL_CALL `toolCallId`, `toolName` and its
 * input as streamed text (`text`) and/or parsed (`input`); TOOL_RESULT `toolCallId` (`toolName`)
 * and `output`; SOURCE `text` and/or `data`; DATA `data`.
 */
export const MESSAGE_PART_TYPES = ['TEXT', 'REASONING', 'TOOL_CALL', 'TOOL_RESULT', 'SOURCE', 'DATA'] as const;
export type MessagePart = {
  type: (typeof MESSAGE_PART_TYPES)[number];
  text?: string;
  toolCallId?: string;
  toolName?: string;
  input?: unknown;
  output?: unknown;
  data?: unknown;
};

export const conversationMode = pgEnum('conversation_mode', ['AGENT', 'EXPERT', 'DIRECT']);
export const runState = pgEnum('run_state', ['ACTIVE', 'PAUSED', 'CANCELLED', 'PREEMPTED', 'COMPLETED', 'FAILED']);
export const streamState = pgEnum('stream_state', ['STREAMING', 'COMPLETED', 'CANCELLED', 'PREEMPTED']);
export const expertRequestStatus = pgEnum('expert_request_status', ['OPEN', 'CLAIMED', 'RESOLVED', 'CANCELLED']);
export const evaluationVerdict = pgEnum('evaluation_verdict', ['PASS', 'FAIL']);
/**
 * Where a user row came from: a built-in account (signUp), an identity provider's token, a
 * service (an API key's own user, or one created by upsertUsers), or a placeholder made when
 * someone added an id not seen yet. A token never adopts an account's row.
 */
export const userSource = pgEnum('user_source', ['ACCOUNT', 'TOKEN', 'SERVICE', 'PLACEHOLDER']);

const timestamps = {
  createdAt: timestamp('created_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
};

/**
 * Users are keyed by (org, id): `id` is the token's `sub`, so two tenants may both have an "alice".
 * Every table that names a user carries org_id so the composite foreign key keeps tenants apart.
 */
export const users = pgTable(
  'users',
  {
    orgId: text('org_id').notNull(),
    id: text('id').notNull(),
    displayName: text('display_name').notNull(),
    kind: actorKind('kind').notNull().default('USER'),
    roles: text('roles').array().notNull().default(sql`'{}'::text[]`),
    source: userSource('source').notNull().default('TOKEN'),
    ...timestamps,
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.orgId, t.id] })],
);

export const conversations = pgTable(
  'conversations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: text('org_id').notNull(),
    type: conversationType('type').notNull(),
    name: text('name'),
    description: text('description'),
    metadata: jsonb('metadata'),
    createdBy: text('created_by').notNull(),
    /** The two user ids of a PRIVATE conversation, sorted and joined: makes it unique per pair. */
    privateKey: text('private_key'),
    /** Highest seq handed out; bumped under the row lock by every send, so seqs have no gap. */
    lastSeq: integer('last_seq').notNull().default(0),
    /**
     * Newest activity (creation or last message): the order of `conversations`. Millisecond
     * precision, so a cursor holding a JS Date compares exactly.
     */
    lastActivityAt: timestamp('last_activity_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    /** Who answers the user: an AI agent, a human expert, or the expert directly (agent observes). */
    mode: conversationMode('mode').notNull().default('AGENT'),
    /** The user (agent or expert) currently answering; null: whoever takes part. */
    assigneeId: text('assignee_id'),
    /** A HIGH or CRITICAL message from a person preempts the interruptible agent runs. */
    preemptOnPriority: boolean('preempt_on_priority').notNull().default(false),
    /** A GROUP anyone of the org may find (publicConversations) and join. */
    isPublic: boolean('is_public').notNull().default(false),
    ...timestamps,
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    uniqueIndex('conversations_private_key_uq').on(t.orgId, t.privateKey),
    foreignKey({ columns: [t.orgId, t.createdBy], foreignColumns: [users.orgId, users.id], name: 'conversations_created_by_fk' }),
    index('conversations_public_idx').on(t.orgId, t.lastActivityAt).where(sql`${t.isPublic}`),
  ],
);

export const participants = pgTable(
  'participants',
  {
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    orgId: text('org_id').notNull(),
    userId: text('user_id').notNull(),
    role: participantRole('role').notNull().default('MEMBER'),
    joinedAt: timestamp('joined_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    lastReadSeq: integer('last_read_seq').notNull().default(0),
    lastReadAt: timestamp('last_read_at', { withTimezone: true, mode: 'date' }),
    /** Marked by the user: still counts unread, the client stays quiet about it. */
    muted: boolean('muted').notNull().default(false),
    /**
     * Archived by the user at this last seq of the conversation: archived as long as no message
     * came after it. A new message brings it back without any write of its own to the send.
     */
    archivedSeq: integer('archived_seq'),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    // "My conversations" starts from the user.
    index('participants_user_idx').on(t.orgId, t.userId),
    foreignKey({ columns: [t.orgId, t.userId], foreignColumns: [users.orgId, users.id], name: 'participants_user_fk' }),
  ],
);

/**
 * Who left a conversation or was removed from it, with the role they had: coming back to a
 * PRIVATE conversation restores that role, and a removed user cannot put themselves back.
 * The row goes when the user is a participant again.
 */
export const departures = pgTable(
  'conversation_departures',
  {
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    orgId: text('org_id').notNull(),
    userId: text('user_id').notNull(),
    role: participantRole('role').notNull(),
    lastReadSeq: integer('last_read_seq').notNull().default(0),
    /** Null when the user left of their own accord. */
    removedBy: text('removed_by'),
    departedAt: timestamp('departed_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.userId] }),
    foreignKey({ columns: [t.orgId, t.userId], foreignColumns: [users.orgId, users.id], name: 'departures_user_fk' }),
  ],
);

export const messages = pgTable(
  'messages',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    orgId: text('org_id').notNull(),
    seq: integer('seq').notNull(),
    senderId: text('sender_id').notNull(),
    senderKind: actorKind('sender_kind').notNull(),
    content: text('content').notNull(),
    contentType: text('content_type').notNull().default('text/plain'),
    kind: messageKind('kind').notNull().default('CHAT'),
    replyToId: uuid('reply_to_id'),
    priority: messagePriority('priority').notNull().default('NORMAL'),
    interruptible: boolean('interruptible').notNull().default(false),
    preemptedBy: uuid('preempted_by'),
    runId: text('run_id'),
    traceId: text('trace_id'),
    metadata: jsonb('metadata'),
    /** A structured answer's parts; null for plain text (its parts are one TEXT part, the content). */
    parts: jsonb('parts').$type<MessagePart[]>(),
    clientMessageId: text('client_message_id'),
    ...timestamps,
    editedAt: timestamp('edited_at', { withTimezone: true, mode: 'date' }),
    deletedAt: timestamp('deleted_at', { withTimezone: true, mode: 'date' }),
    /**
     * The top-level message of the same conversation whose thread this one replies in (the send
     * statement checks it); null for a top-level message.
     */
    threadId: uuid('thread_id'),
    /** Participants the message mentions (the send statement checks they take part); null for none. */
    mentionIds: text('mention_ids').array(),
    pinnedAt: timestamp('pinned_at', { withTimezone: true, mode: 'date' }),
    pinnedBy: text('pinned_by'),
  },
  (t) => [
    unique('messages_conversation_seq_uq').on(t.conversationId, t.seq),
    // A thread's replies in seq order (threadReplies, thread summaries).
    index('messages_thread_idx').on(t.threadId, t.seq).where(sql`${t.threadId} is not null`),
    // History without thread replies (messages(topLevel: true)).
    index('messages_top_level_idx').on(t.conversationId, t.seq).where(sql`${t.threadId} is null`),
    // A user's mentions (`mentions`, unreadMentionCount): only messages that mention someone.
    index('messages_mentions_idx').using('gin', t.mentionIds).where(sql`${t.mentionIds} is not null`),
    index('messages_pinned_idx').on(t.conversationId, t.pinnedAt).where(sql`${t.pinnedAt} is not null`),
    // NULLs are distinct, so messages without a clientMessageId never collide.
    unique('messages_client_message_id_uq').on(t.conversationId, t.senderId, t.clientMessageId),
    index('messages_sender_idx').on(t.conversationId, t.senderId, t.seq),
    index('messages_created_idx').on(t.conversationId, t.createdAt),
    foreignKey({ columns: [t.orgId, t.senderId], foreignColumns: [users.orgId, users.id], name: 'messages_sender_fk' }),
    check('messages_seq_positive', sql`${t.seq} > 0`),
  ],
);

export const controlEvents = pgTable(
  'control_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    /** Insertion order, for stable cursors. */
    position: bigint('position', { mode: 'number' }).generatedAlwaysAsIdentity().notNull(),
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    orgId: text('org_id').notNull(),
    event: controlEventType('event').notNull(),
    target: text('target'),
    reason: text('reason'),
    runId: text('run_id'),
    traceId: text('trace_id'),
    issuedBy: text('issued_by').notNull(),
    effectiveAt: timestamp('effective_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    ...timestamps,
  },
  (t) => [
    index('control_events_conversation_idx').on(t.conversationId, t.position),
    foreignKey({ columns: [t.orgId, t.issuedBy], foreignColumns: [users.orgId, users.id], name: 'control_events_issued_by_fk' }),
  ],
);

/** An agent's run in a conversation (by the agent's runId): its state is steered by control events. */
export const agentRuns = pgTable(
  'agent_runs',
  {
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    runId: text('run_id').notNull(),
    orgId: text('org_id').notNull(),
    agentId: text('agent_id').notNull(),
    state: runState('state').notNull().default('ACTIVE'),
    priority: messagePriority('priority').notNull().default('NORMAL'),
    traceId: text('trace_id'),
    /** Registration order, for stable cursors of `runs`. */
    position: bigint('position', { mode: 'number' }).generatedAlwaysAsIdentity().notNull(),
    /** Why it failed (failRun). */
    reason: text('reason'),
    ...timestamps,
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
    /** When it left ACTIVE/PAUSED for good (COMPLETED, FAILED, CANCELLED, PREEMPTED). */
    endedAt: timestamp('ended_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    primaryKey({ columns: [t.conversationId, t.runId] }),
    index('agent_runs_conversation_idx').on(t.conversationId, t.position),
    foreignKey({ columns: [t.orgId, t.agentId], foreignColumns: [users.orgId, users.id], name: 'agent_runs_agent_fk' }),
  ],
);

/**
 * An answer being streamed. It becomes an ordinary message (same id, next seq) when completed,
 * so history holds finished answers only and in the order they were finished.
 */
export const messageStreams = pgTable(
  'message_streams',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    orgId: text('org_id').notNull(),
    senderId: text('sender_id').notNull(),
    senderKind: actorKind('sender_kind').notNull(),
    runId: text('run_id'),
    traceId: text('trace_id'),
    content: text('content').notNull().default(''),
    contentType: text('content_type').notNull().default('text/plain'),
    priority: messagePriority('priority').notNull().default('NORMAL'),
    interruptible: boolean('interruptible').notNull().default(true),
    metadata: jsonb('metadata'),
    /** The parts so far; `content` is the text of its TEXT parts. */
    parts: jsonb('parts').$type<MessagePart[]>().notNull().default(sql`'[]'::jsonb`),
    /** Appends so far: each append's event carries it, so subscribers see what they missed. */
    version: integer('version').notNull().default(0),
    state: streamState('state').notNull().default('STREAMING'),
    preemptedBy: uuid('preempted_by'),
    ...timestamps,
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [
    index('message_streams_conversation_idx').on(t.conversationId, t.state),
    foreignKey({ columns: [t.orgId, t.senderId], foreignColumns: [users.orgId, users.id], name: 'message_streams_sender_fk' }),
  ],
);

/** A user asked for a human expert; an expert of the org claims it and takes over. */
export const expertRequests = pgTable(
  'expert_requests',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    conversationId: uuid('conversation_id')
      .notNull()
      .references(() => conversations.id, { onDelete: 'cascade' }),
    orgId: text('org_id').notNull(),
    requestedBy: text('requested_by').notNull(),
    reason: text('reason'),
    status: expertRequestStatus('status').notNull().default('OPEN'),
    claimedBy: text('claimed_by'),
    /** Who answered before the expert took over, to hand back to. */
    previousAssigneeId: text('previous_assignee_id'),
    // Millisecond precision: the queue's cursor holds a JS Date.
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    claimedAt: timestamp('claimed_at', { withTimezone: true, mode: 'date' }),
    resolvedAt: timestamp('resolved_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [index('expert_requests_org_status_idx').on(t.orgId, t.status, t.createdAt), index('expert_requests_conversation_idx').on(t.conversationId, t.status)],
);

/**
 * A verdict on a message by an evaluator (an agent, a service, an admin): seed 003's quality loop.
 * A message keeps every evaluation made of it; they go with it when its conversation is deleted.
 */
export const evaluations = pgTable(
  'evaluations',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    conversationId: uuid('conversation_id').notNull(),
    orgId: text('org_id').notNull(),
    evaluatorId: text('evaluator_id').notNull(),
    verdict: evaluationVerdict('verdict').notNull(),
    scores: jsonb('scores'),
    reason: text('reason'),
    ...timestamps,
  },
  (t) => [
    index('evaluations_message_idx').on(t.messageId, t.createdAt),
    foreignKey({ columns: [t.orgId, t.evaluatorId], foreignColumns: [users.orgId, users.id], name: 'evaluations_evaluator_fk' }),
  ],
);

/**
 * A user's reaction to a message: one row per (message, emoji, user), so adding it again changes
 * nothing. The rows go with their message (and so with its conversation).
 */
export const messageReactions = pgTable(
  'message_reactions',
  {
    messageId: uuid('message_id')
      .notNull()
      .references(() => messages.id, { onDelete: 'cascade' }),
    orgId: text('org_id').notNull(),
    userId: text('user_id').notNull(),
    emoji: text('emoji').notNull(),
    // Millisecond precision: "who reacted" lists people in the order they reacted.
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    primaryKey({ columns: [t.messageId, t.emoji, t.userId] }),
    foreignKey({ columns: [t.orgId, t.userId], foreignColumns: [users.orgId, users.id], name: 'message_reactions_user_fk' }),
  ],
);

/** Service API keys: only the SHA-256 of the key is kept (keys are 256-bit random, so no KDF is needed). */
export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey().defaultRandom(),
  orgId: text('org_id').notNull(),
  name: text('name').notNull(),
  /** The user the key acts as when no act-as header is given (a service account of kind AGENT). */
  userId: text('user_id').notNull(),
  keyHash: text('key_hash').notNull().unique(),
  /** First characters of the key, so people can tell keys apart without the secret. */
  prefix: text('prefix').notNull(),
  ...timestamps,
  revokedAt: timestamp('revoked_at', { withTimezone: true, mode: 'date' }),
});

export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).generatedAlwaysAsIdentity().primaryKey(),
    orgId: text('org_id').notNull(),
    action: text('action').notNull(),
    /** Who did it: `user:<id>` or `apikey:<id>`. */
    actor: text('actor').notNull(),
    subjectUserId: text('subject_user_id'),
    conversationId: uuid('conversation_id'),
    details: jsonb('details'),
    ...timestamps,
  },
  (t) => [index('audit_log_org_idx').on(t.orgId, t.id)],
);

/**
 * Built-in accounts: a password for a user, for standalone use without an identity provider.
 * `password_hash` is self-describing (`scrypt$N$r$p$salt$hash`), so its cost can be raised later.
 */
export const accounts = pgTable(
  'accounts',
  {
    orgId: text('org_id').notNull(),
    userId: text('user_id').notNull(),
    passwordHash: text('password_hash').notNull(),
    ...timestamps,
  },
  (t) => [
    primaryKey({ columns: [t.orgId, t.userId] }),
    foreignKey({ columns: [t.orgId, t.userId], foreignColumns: [users.orgId, users.id], name: 'accounts_user_fk' }).onDelete('cascade'),
  ],
);

export const webhookDeliveryStatus = pgEnum('webhook_delivery_status', ['PENDING', 'SUCCEEDED', 'FAILED']);

/**
 * An org's webhook: where its events are POSTed, signed with `secret` (Standard Webhooks). Signing
 * needs the secret itself, so it is encrypted rather than hashed, and only when WEBHOOK_SECRET_KEY
 * is set (modules/webhooks/secret-box.ts). `failure_count` counts failed attempts in a row;
 * a long run of them disables the webhook.
 */
export const webhooks = pgTable(
  'webhooks',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: text('org_id').notNull(),
    url: text('url').notNull(),
    /** Event names (`message.created`, …) or `*` for all. */
    events: text('events').array().notNull(),
    secret: text('secret').notNull(),
    enabled: boolean('enabled').notNull().default(true),
    failureCount: integer('failure_count').notNull().default(0),
    ...timestamps,
    updatedAt: timestamp('updated_at', { withTimezone: true, mode: 'date' }).notNull().defaultNow(),
  },
  (t) => [index('webhooks_org_idx').on(t.orgId)],
);

/**
 * The transactional outbox: one row per event of an org that has a webhook for it, written in
 * the transaction of the change it reports (the send statement, or a trigger). A trigger turns
 * each into a delivery per subscribed webhook, each a job of the delivery queue.
 */
export const webhookEvents = pgTable(
  'webhook_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    orgId: text('org_id').notNull(),
    type: text('type').notNull(),
    /** The payload's `data`, as it was when the change was committed. */
    data: jsonb('data').notNull(),
    ...timestamps,
  },
  (t) => [index('webhook_events_created_idx').on(t.createdAt)],
);

/** One event for one webhook: the delivery log, and the state the delivery queue's job updates. */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    webhookId: uuid('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    eventId: uuid('event_id')
      .notNull()
      .references(() => webhookEvents.id, { onDelete: 'cascade' }),
    orgId: text('org_id').notNull(),
    event: text('event').notNull(),
    status: webhookDeliveryStatus('status').notNull().default('PENDING'),
    attempts: integer('attempts').notNull().default(0),
    responseStatus: integer('response_status'),
    /** The first characters of the last response's body, or what went wrong (timeout, refused). */
    responseExcerpt: text('response_excerpt'),
    // Millisecond precision: the log's cursor holds a JS Date.
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    lastAttemptAt: timestamp('last_attempt_at', { withTimezone: true, mode: 'date' }),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true, mode: 'date' }),
  },
  (t) => [
    index('webhook_deliveries_webhook_idx').on(t.webhookId, t.createdAt, t.id),
    index('webhook_deliveries_event_idx').on(t.eventId),
    // The deliveries still to make, which a server starting re-enqueues (see WebhookQueue.start).
    index('webhook_deliveries_pending_idx').on(t.createdAt).where(sql`status = 'PENDING'`),
    // The ended ones, which the purge deletes oldest first (WebhookQueue.purge).
    index('webhook_deliveries_ended_idx').on(t.createdAt).where(sql`status <> 'PENDING'`),
  ],
);

export type UserRow = typeof users.$inferSelect;
export type ConversationRow = typeof conversations.$inferSelect;
export type ParticipantRow = typeof participants.$inferSelect;
export type MessageRow = typeof messages.$inferSelect;
export type ControlEventRow = typeof controlEvents.$inferSelect;
export type ApiKeyRow = typeof apiKeys.$inferSelect;
export type AgentRunRow = typeof agentRuns.$inferSelect;
export type MessageStreamRow = typeof messageStreams.$inferSelect;
export type ExpertRequestRow = typeof expertRequests.$inferSelect;
export type EvaluationRow = typeof evaluations.$inferSelect;
export type AccountRow = typeof accounts.$inferSelect;
export type DepartureRow = typeof departures.$inferSelect;
export type WebhookRow = typeof webhooks.$inferSelect;
export type WebhookEventRow = typeof webhookEvents.$inferSelect;
export type WebhookDeliveryRow = typeof webhookDeliveries.$inferSelect;
export type ReactionRow = typeof messageReactions.$inferSelect;
