import { requireViewer } from '../../context.js';
import type { MessageRow } from '../../db/schema/index.js';
import { builder } from '../../graphql/builder.js';
import { connectionType } from '../../graphql/connection.js';
import { ActorKindEnum, MessageKindEnum, MessagePriorityEnum } from '../../graphql/enums.js';
import { viewerIndependent } from '../../graphql/viewer-independent.js';
import type { MessageSnapshot } from '../../pubsub/snapshots.js';
import { UserRef } from '../users/user.graphql.js';
import { authorRole, authorRoles } from './author-role.js';
import type { ThreadSummaryRow } from './message.repository.js';

const MessageAuthorRoleEnum = builder.enumType('MessageAuthorRole', { values: authorRoles });

/** A stored row, or the snapshot of one delivered through pub/sub. */
export type MessageLike = MessageRow | MessageSnapshot;

export const MessageRef = builder.objectRef<MessageLike>('Message');

const ThreadSummaryRef = builder.objectRef<ThreadSummaryRow>('ThreadSummary').implement({
  description: 'Replies to a message in its thread, deleted ones left out.',
  fields: (t) => ({
    replyCount: t.exposeInt('replyCount', viewerIndependent),
    lastReplyAt: t.expose('lastReplyAt', { type: 'DateTime', nullable: true, ...viewerIndependent }),
    participants: t.field({
      type: [UserRef],
      ...viewerIndependent,
      description: 'Who replied, in the order they first did.',
      resolve: async (s, _args, ctx) => (await Promise.all(s.participantIds.map((id) => ctx.loaders.user.load(id)))).filter((u) => u !== null),
    }),
  }),
});

MessageRef.implement({
  fields: (t) => ({
    id: t.exposeID('id', viewerIndependent),
    conversationId: t.exposeID('conversationId', viewerIndependent),
    seq: t.exposeInt('seq', viewerIndependent),
    sender: t.field({
      type: UserRef,
      ...viewerIndependent,
      // Snapshots and history pages carry their sender, so it needs no read (and, answered without
      // a promise, no wait: a page of 50 messages resolves its senders in one pass).
      resolve: (m, _args, ctx) => ('sender' in m && m.sender) || ctx.loaders.user.load(m.senderId).then((user) => user!),
    }),
    senderKind: t.expose('senderKind', { type: ActorKindEnum, ...viewerIndependent }),
    authorRole: t.field({
      type: MessageAuthorRoleEnum,
      description: 'SYSTEM for messages of kind SYSTEM, EXPERT for a sender with the `expert` role, else AGENT or USER by `senderKind`.',
      ...viewerIndependent,
      // From the sender the message came with, as `sender` does: no read for events and pages.
      resolve: (m, _args, ctx) => {
        if (m.kind === 'SYSTEM') return 'SYSTEM';
        const sender = 'sender' in m ? m.sender : undefined;
        if (sender) return authorRole(m, sender.roles);
        return ctx.loaders.user.load(m.senderId).then((user) => authorRole(m, user?.roles ?? []));
      },
    }),
    content: t.exposeString('content', viewerIndependent),
    contentType: t.exposeString('contentType', viewerIndependent),
    kind: t.expose('kind', { type: MessageKindEnum, ...viewerIndependent }),
    replyTo: t.field({
      type: MessageRef,
      nullable: true,
      ...viewerIndependent,
      resolve: (m, _args, ctx) => (m.replyToId ? ctx.loaders.message.load(m.replyToId) : null),
    }),
    priority: t.expose('priority', { type: MessagePriorityEnum, ...viewerIndependent }),
    interruptible: t.exposeBoolean('interruptible', viewerIndependent),
    preemptedBy: t.exposeID('preemptedBy', { nullable: true, ...viewerIndependent }),
    runId: t.exposeString('runId', { nullable: true, ...viewerIndependent }),
    traceId: t.exposeString('traceId', { nullable: true, ...viewerIndependent }),
    metadata: t.expose('metadata', { type: 'JSON', nullable: true, ...viewerIndependent }),
    clientMessageId: t.exposeString('clientMessageId', { nullable: true, ...viewerIndependent }),
    createdAt: t.expose('createdAt', { type: 'DateTime', ...viewerIndependent }),
    editedAt: t.expose('editedAt', { type: 'DateTime', nullable: true, ...viewerIndependent }),
    deletedAt: t.expose('deletedAt', { type: 'DateTime', nullable: true, ...viewerIndependent }),
    threadId: t.exposeID('threadId', {
      nullable: true,
      ...viewerIndependent,
      description: 'The top-level message whose thread this one replies in; null for a top-level message.',
    }),
    thread: t.field({
      type: ThreadSummaryRef,
      nullable: true,
      ...viewerIndependent,
      description: 'The thread under this message; null while it has no replies (and for replies).',
      // Read when delivered, not carried by events: the last update of a busy thread counts every reply.
      resolve: (m, _args, ctx) => (m.threadId ? null : ctx.loaders.threadSummary.load(m.id)),
    }),
    mentions: t.field({
      type: [UserRef],
      ...viewerIndependent,
      description: 'The participants the message mentions.',
      resolve: async (m, _args, ctx) =>
        m.mentionIds?.length ? (await Promise.all(m.mentionIds.map((id) => ctx.loaders.user.load(id)))).filter((u) => u !== null) : [],
    }),
    pinnedAt: t.expose('pinnedAt', { type: 'DateTime', nullable: true, ...viewerIndependent }),
    pinnedBy: t.field({
      type: UserRef,
      nullable: true,
      ...viewerIndependent,
      resolve: (m, _args, ctx) => (m.pinnedBy ? ctx.loaders.user.load(m.pinnedBy) : null),
    }),
  }),
});

export const MessageConnection = connectionType('Message', MessageRef);

const SendMessageInput = builder.inputType('SendMessageInput', {
  fields: (t) => ({
    conversationId: t.id({ required: true }),
    content: t.string({ required: true }),
    contentType: t.string({ defaultValue: 'text/plain' }),
    kind: t.field({ type: MessageKindEnum, defaultValue: 'CHAT' }),
    replyToId: t.id(),
    priority: t.field({ type: MessagePriorityEnum, defaultValue: 'NORMAL' }),
    interruptible: t.boolean({ defaultValue: false }),
    runId: t.string(),
    traceId: t.string(),
    metadata: t.field({ type: 'JSON' }),
    clientMessageId: t.string({ description: 'Makes the send exactly-once: retries with the same id return the original.' }),
    threadId: t.id({ description: 'Reply in the thread of this top-level message of the conversation.' }),
    mentionIds: t.idList({ description: 'Participants the message mentions (at most 50).' }),
  }),
});

builder.queryFields((t) => ({
  messages: t.field({
    type: MessageConnection,
    description: 'History of a conversation in seq order; `last: 50` gives the newest 50.',
    args: {
      conversationId: t.arg.id({ required: true }),
      first: t.arg.int(),
      after: t.arg.string(),
      last: t.arg.int(),
      before: t.arg.string(),
      since: t.arg({ type: 'DateTime' }),
      until: t.arg({ type: 'DateTime' }),
      senderId: t.arg.id(),
      topLevel: t.arg.boolean({ description: 'Leave thread replies out.' }),
      priority: t.arg({ type: MessagePriorityEnum }),
      kind: t.arg({ type: MessageKindEnum }),
    },
    resolve: (_root, { conversationId, ...args }, ctx) => ctx.services.history.list(requireViewer(ctx), conversationId, args),
  }),
  mentions: t.field({
    type: MessageConnection,
    description: 'Messages mentioning you in your conversations, newest first (deleted ones left out).',
    args: { first: t.arg.int(), after: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.services.messages.mentions(requireViewer(ctx), args),
  }),
  threadReplies: t.field({
    type: MessageConnection,
    description: "Replies in a message's thread, in seq order; `last: 50` gives the newest 50.",
    args: {
      messageId: t.arg.id({ required: true }),
      first: t.arg.int(),
      after: t.arg.string(),
      last: t.arg.int(),
      before: t.arg.string(),
    },
    resolve: (_root, { messageId, ...args }, ctx) => ctx.services.history.thread(requireViewer(ctx), messageId, args),
  }),
}));

builder.mutationFields((t) => ({
  sendMessage: t.field({
    type: MessageRef,
    args: { input: t.arg({ type: SendMessageInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.messages.send(requireViewer(ctx), input),
  }),
  editMessage: t.field({
    type: MessageRef,
    args: { id: t.arg.id({ required: true }), content: t.arg.string({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.messages.edit(requireViewer(ctx), args.id, args.content),
  }),
  pinMessage: t.field({
    type: MessageRef,
    description: 'Pins a message of your conversation for everyone in it; pinning it again changes nothing.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.messages.pin(requireViewer(ctx), args.id),
  }),
  unpinMessage: t.field({
    type: MessageRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.messages.unpin(requireViewer(ctx), args.id),
  }),
  deleteMessage: t.field({
    type: MessageRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.messages.delete(requireViewer(ctx), args.id),
  }),
}));
