import type { ControlEventSnapshot, MessageSnapshot } from './snapshots.js';

/**
 * Every pub/sub topic, typed by its payload. Ids are part of the topic name, so each instance
 * subscribes only to what its clients watch (no pattern subscriptions, no filtering of a firehose).
 */
export type Topic<Payload> = string & { readonly __payload?: Payload };

const topic = <P>(name: string) => name as Topic<P>;

export type TypingEvent = { conversationId: string; userId: string; isTyping: boolean; at: string };
export type PresenceEvent = { userId: string; status: 'ONLINE' | 'AWAY' | 'BUSY' | 'OFFLINE'; lastSeenAt: string | null };
/** A user joined or left a conversation; live subscriptions use it to start or stop delivering. */
export type MembershipEvent = { conversationId: string; userId: string; change: 'ADDED' | 'REMOVED' };

export const topics = {
  messageAdded: (conversationId: string) => topic<MessageSnapshot>(`sb:conv:${conversationId}:message-added`),
  messageUpdated: (conversationId: string) => topic<MessageSnapshot>(`sb:conv:${conversationId}:message-updated`),
  messageDeleted: (conversationId: string) => topic<MessageSnapshot>(`sb:conv:${conversationId}:message-deleted`),
  typing: (conversationId: string) => topic<TypingEvent>(`sb:conv:${conversationId}:typing`),
  controlEvent: (conversationId: string) => topic<ControlEventSnapshot>(`sb:conv:${conversationId}:control`),
  membership: (conversationId: string) => topic<MembershipEvent>(`sb:conv:${conversationId}:membership`),
  /** Conversations a user was added to or removed from (for subscriptions across all of them). */
  userMembership: (orgId: string, userId: string) =>
    topic<MembershipEvent>(`sb:org:${orgId}:user:${userId}:membership`),
  presence: (orgId: string, userId: string) => topic<PresenceEvent>(`sb:org:${orgId}:user:${userId}:presence`),
  /** Every presence change of an org, for subscribers that name no users. */
  orgPresence: (orgId: string) => topic<PresenceEvent>(`sb:org:${orgId}:presence`),
};
