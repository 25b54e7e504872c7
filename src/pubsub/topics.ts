import type { ConversationRow, MessagePart, MessageStreamRow, ParticipantRow } from '../db/schema/index.js';
import { escapeId as id } from '../lib/id-names.js';
import type { PresenceStatus } from '../modules/users/presence-status.js';
import type { ControlEventSnapshot, MessageSnapshot, UserSnapshot } from './snapshots.js';

/**
 * Every pub/sub topic, typed by its payload. Ids are part of the topic name, so each instance
 * subscribes only to what its clients watch (no pattern subscriptions, no filtering of a firehose).
 * Each id is escaped (see escapeId): ids of any characters never make two topics equal.
 */
export type Topic<Payload> = string & { readonly __payload?: Payload };

const topic = <P>(name: string) => name as Topic<P>;

/** `at` is when it was set: subscribers on every instance let it lapse 8 s later. */
export type TypingEvent = { conversationId: string; userId: string; user?: UserSnapshot; isTyping: boolean; at: string };
/** `user` is there when the publisher knew it (sockets opening and closing); else it is looked up. */
export type PresenceEvent = {
  userId: string;
  user?: UserSnapshot;
  status: PresenceStatus;
  lastSeenAt: string | null;
};
/**
 * A piece of a streamed answer; the last event of a stream has its final state (and message).
 * `seq` is the stream's count of appends once this one is in (events that catch up repeat it),
 * so subscribers see what they missed.
 */
export type ChunkEvent = {
  messageId: string;
  conversationId: string;
  senderId: string;
  runId: string | null;
  traceId: string | null;
  /** Where `chunk` (text of TEXT parts) starts in the text, in characters. */
  offset: number;
  chunk: string;
  /** The part appended or, for one extended, its identity and what was added; null for none. */
  part: MessagePart | null;
  partIndex: number | null;
  /** Where `part.text` starts in the text of the part at `partIndex`, in characters. */
  textOffset: number | null;
  seq: number;
  state: MessageStreamRow['state'];
  message: MessageSnapshot | null;
};
export type ExpertRequestEvent = { id: string; status: string };

/** A user joined or left a conversation; live subscriptions use it to start or stop delivering. */
export type MembershipEvent = { conversationId: string; userId: string; change: 'ADDED' | 'REMOVED' };

export const CONVERSATION_EVENT_TYPES = [
  'JOINED',
  'LEFT',
  'UPDATED',
  'DELETED',
  'PARTICIPANT_ADDED',
  'PARTICIPANT_REMOVED',
  'PARTICIPANT_UPDATED',
  'READ',
] as const;
export type ConversationEventType = (typeof CONVERSATION_EVENT_TYPES)[number];
/**
 * Something about one of a user's conversations, for that user (conversationEvents). The rows
 * travel whole, as JSON through Redis: their dates arrive as ISO strings, which the DateTime
 * scalar writes as they are.
 */
export type ConversationEventSnapshot = {
  type: ConversationEventType;
  conversation: ConversationRow;
  participant: ParticipantRow | null;
  actor: UserSnapshot | null;
};

export const topics = {
  messageAdded: (conversationId: string) => topic<MessageSnapshot>(`sb:conv:${id(conversationId)}:message-added`),
  messageUpdated: (conversationId: string) => topic<MessageSnapshot>(`sb:conv:${id(conversationId)}:message-updated`),
  messageDeleted: (conversationId: string) => topic<MessageSnapshot>(`sb:conv:${id(conversationId)}:message-deleted`),
  typing: (conversationId: string) => topic<TypingEvent>(`sb:conv:${id(conversationId)}:typing`),
  controlEvent: (conversationId: string) => topic<ControlEventSnapshot>(`sb:conv:${id(conversationId)}:control`),
  messageChunk: (conversationId: string) => topic<ChunkEvent>(`sb:conv:${id(conversationId)}:chunk`),
  /** Expert requests of an org opened, claimed or resolved (for the org's experts). */
  expertRequests: (orgId: string) => topic<ExpertRequestEvent>(`sb:org:${id(orgId)}:expert-requests`),
  membership: (conversationId: string) => topic<MembershipEvent>(`sb:conv:${id(conversationId)}:membership`),
  /** Conversations a user was added to or removed from (for subscriptions across all of them). */
  userMembership: (orgId: string, userId: string) => topic<MembershipEvent>(`sb:org:${id(orgId)}:user:${id(userId)}:membership`),
  /** What happens to a user's conversations, for that user (see ConversationEventPublisher). */
  conversationEvents: (orgId: string, userId: string) => topic<ConversationEventSnapshot>(`sb:org:${id(orgId)}:user:${id(userId)}:conversation-events`),
  presence: (orgId: string, userId: string) => topic<PresenceEvent>(`sb:org:${id(orgId)}:user:${id(userId)}:presence`),
  /** Every presence change of an org, for subscribers that name no users. */
  orgPresence: (orgId: string) => topic<PresenceEvent>(`sb:org:${id(orgId)}:presence`),
  /** An org's webhooks changed: every instance reloads which orgs want which events. */
  webhooksChanged: topic<{ orgId: string }>('sb:webhooks-changed'),
};
