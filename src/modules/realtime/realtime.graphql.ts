import { type Context, requireViewer } from '../../context.js';
import { builder } from '../../graphql/builder.js';
import { PresenceStatusEnum } from '../../graphql/enums.js';
import { BadInputError } from '../../graphql/errors.js';
import { viewerIndependent } from '../../graphql/viewer-independent.js';
import type { UserSnapshot } from '../../pubsub/snapshots.js';
import { CONVERSATION_EVENT_TYPES, type ConversationEventSnapshot, type PresenceEvent, topics } from '../../pubsub/topics.js';
import { ControlEventRef } from '../control/control.graphql.js';
import { ConversationRef, ParticipantRef } from '../conversations/conversation.graphql.js';
import { MessageRef } from '../messages/message.graphql.js';
import { UserRef } from '../users/user.graphql.js';
import type { TypingState } from './feeds.js';

/** The user an event names: the snapshot it carries, else one (batched) read. */
const userOf = async (ctx: Context, userId: string, snapshot?: UserSnapshot): Promise<UserSnapshot> =>
  snapshot ??
  (await ctx.loaders.user.load(userId)) ?? {
    orgId: ctx.viewer!.orgId,
    id: userId,
    displayName: userId,
    kind: 'USER' as const,
    roles: [],
  };

const TypingEventRef = builder.objectRef<TypingState>('TypingEvent').implement({
  fields: (t) => ({
    conversationId: t.exposeID('conversationId', viewerIndependent),
    user: t.field({ type: UserRef, ...viewerIndependent, resolve: (e, _args, ctx) => userOf(ctx, e.userId, e.user) }),
    isTyping: t.exposeBoolean('isTyping', viewerIndependent),
  }),
});

const PresenceEventRef = builder.objectRef<PresenceEvent>('PresenceEvent').implement({
  fields: (t) => ({
    user: t.field({ type: UserRef, ...viewerIndependent, resolve: (e, _args, ctx) => userOf(ctx, e.userId, e.user) }),
    status: t.expose('status', { type: PresenceStatusEnum, ...viewerIndependent }),
    lastSeenAt: t.expose('lastSeenAt', { type: 'DateTime', nullable: true, ...viewerIndependent }),
  }),
});

const ConversationEventTypeEnum = builder.enumType('ConversationEventType', { values: CONVERSATION_EVENT_TYPES });

// Not viewer-independent: the conversation's fields (unreadCount, participants' settings) are the viewer's.
const ConversationEventRef = builder.objectRef<ConversationEventSnapshot>('ConversationEvent').implement({
  description: 'Something that happened to one of your conversations (see conversationEvents).',
  fields: (t) => ({
    type: t.expose('type', { type: ConversationEventTypeEnum }),
    conversation: t.expose('conversation', { type: ConversationRef }),
    participant: t.expose('participant', {
      type: ParticipantRef,
      nullable: true,
      description: 'Who joined, left, was added, removed or changed, or whose read marker moved.',
    }),
    actor: t.expose('actor', { type: UserRef, nullable: true, description: 'Who did it.' }),
  }),
});

builder.mutationFields((t) => ({
  setTyping: t.boolean({
    description: 'Shows or hides your typing indicator; it lapses 8 s after the last `true`.',
    args: { conversationId: t.arg.id({ required: true }), isTyping: t.arg.boolean({ required: true }) },
    resolve: async (_root, args, ctx) => {
      await ctx.services.typing.set(requireViewer(ctx), args.conversationId, args.isTyping);
      return true;
    },
  }),
}));

/**
 * The resolver of every subscription field: each event is resolved with loaders of its own. A
 * subscription's context lives for hours, and so would its loaders' caches: a presence or a
 * replied-to message read once would be served stale. Where the fan-out shares an event's
 * execution (the same viewer-independent document and result variables, see src/graphql/fan-out.ts), these
 * reads are made once per event; otherwise once per event and subscriber. Messages carry their
 * sender, live and read back alike, so the common selection reads nothing. It ignores its
 * arguments, which only chose the stream: the fan-out's sharing key leaves them out.
 */
function perEvent<E>(event: E, _args: unknown, ctx: Context): E {
  ctx.loaders = ctx.services.loadersFor(ctx.viewer);
  return event;
}

builder.subscriptionFields((t) => ({
  messageAdded: t.field({
    type: MessageRef,
    ...viewerIndependent,
    description:
      'New messages of one conversation (with `afterSeq`: stored ones after it first, then live, with no gap or duplicate), or of all your conversations (live only).',
    args: { conversationId: t.arg.id(), afterSeq: t.arg.int() },
    subscribe: (_root, args, ctx) => {
      requireViewer(ctx); // UNAUTHENTICATED before anything about the arguments
      if (args.afterSeq != null && args.afterSeq < 0) throw new BadInputError('`afterSeq` must not be negative', 'afterSeq');
      if (args.conversationId == null) {
        if (args.afterSeq != null) throw new BadInputError('`afterSeq` needs a `conversationId`', 'afterSeq');
        return ctx.services.feeds.allMessages(ctx);
      }
      return ctx.services.feeds.messages(ctx, args.conversationId, args.afterSeq);
    },
    resolve: perEvent,
  }),
  messageUpdated: t.field({
    type: MessageRef,
    ...viewerIndependent,
    args: { conversationId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => ctx.services.feeds.topic(ctx, args.conversationId, topics.messageUpdated(args.conversationId)),
    resolve: perEvent,
  }),
  messageDeleted: t.field({
    type: MessageRef,
    ...viewerIndependent,
    args: { conversationId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => ctx.services.feeds.topic(ctx, args.conversationId, topics.messageDeleted(args.conversationId)),
    resolve: perEvent,
  }),
  typing: t.field({
    type: TypingEventRef,
    ...viewerIndependent,
    args: { conversationId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => ctx.services.feeds.typing(ctx, args.conversationId),
    resolve: perEvent,
  }),
  presence: t.field({
    type: PresenceEventRef,
    ...viewerIndependent,
    description: 'Presence changes of the named users, or of everyone in your org.',
    args: { userIds: t.arg.idList() },
    subscribe: (_root, args, ctx) => ctx.services.feeds.presence(ctx, args.userIds),
    resolve: perEvent,
  }),
  conversationEvents: t.field({
    type: ConversationEventRef,
    description:
      'Your conversation list, live: conversations you join or leave, changes to them and their participants, and read markers moving (READ). With `conversationId`, that conversation only.',
    args: { conversationId: t.arg.id() },
    subscribe: (_root, args, ctx) => ctx.services.feeds.conversationEvents(ctx, args.conversationId),
    resolve: perEvent,
  }),
  controlEvent: t.field({
    type: ControlEventRef,
    ...viewerIndependent,
    args: { conversationId: t.arg.id({ required: true }) },
    subscribe: (_root, args, ctx) => ctx.services.feeds.topic(ctx, args.conversationId, topics.controlEvent(args.conversationId)),
    resolve: perEvent,
  }),
}));
