import { requireViewer } from '../../context.js';
import type { ConversationRow, ParticipantRow } from '../../db/schema/index.js';
import { builder } from '../../graphql/builder.js';
import { connectionType } from '../../graphql/connection.js';
import { ConversationTypeEnum, ParticipantRoleEnum } from '../../graphql/enums.js';
import { MessageConnection, MessageRef } from '../messages/message.graphql.js';
import { UserRef } from '../users/user.graphql.js';

export const ParticipantRef = builder.objectRef<ParticipantRow>('Participant').implement({
  fields: (t) => ({
    user: t.field({ type: UserRef, resolve: async (p, _args, ctx) => (await ctx.loaders.user.load(p.userId))! }),
    role: t.expose('role', { type: ParticipantRoleEnum }),
    joinedAt: t.expose('joinedAt', { type: 'DateTime' }),
    lastReadSeq: t.exposeInt('lastReadSeq'),
    lastReadAt: t.expose('lastReadAt', { type: 'DateTime', nullable: true }),
    // Settings are the user's own business: others see them as off.
    muted: t.boolean({
      description: "Your own participant's: muted by you (it still counts unread). Always false on others'.",
      resolve: (p, _args, ctx) => p.userId === ctx.viewer?.userId && p.muted,
    }),
    archived: t.boolean({
      description: "Your own participant's: archived by you, and no message since. Always false on others'.",
      resolve: async (p, _args, ctx) =>
        p.userId === ctx.viewer?.userId && p.archivedSeq !== null && (await ctx.loaders.lastSeq.load(p.conversationId)) <= p.archivedSeq,
    }),
  }),
});

const ParticipantSettingsInput = builder.inputType('ParticipantSettingsInput', {
  fields: (t) => ({
    muted: t.boolean(),
    archived: t.boolean({ description: 'Archived conversations leave `conversations` until a new message arrives.' }),
  }),
});

export const ConversationRef = builder.objectRef<ConversationRow>('Conversation').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    type: t.expose('type', { type: ConversationTypeEnum }),
    name: t.exposeString('name', { nullable: true }),
    description: t.exposeString('description', { nullable: true }),
    metadata: t.expose('metadata', { type: 'JSON', nullable: true }),
    createdBy: t.field({ type: UserRef, resolve: async (c, _args, ctx) => (await ctx.loaders.user.load(c.createdBy))! }),
    participants: t.field({
      type: [ParticipantRef],
      resolve: (c, _args, ctx) => ctx.loaders.participants.load(c.id),
    }),
    isPublic: t.exposeBoolean('isPublic', { description: 'A GROUP anyone of the org may find and join.' }),
    lastSeq: t.exposeInt('lastSeq'),
    lastMessage: t.field({
      type: MessageRef,
      nullable: true,
      resolve: (c, _args, ctx) => (c.lastSeq > 0 ? ctx.loaders.lastMessage.load(c.id) : null),
    }),
    unreadCount: t.int({
      description: "Messages from others after the viewer's read marker, not counting deleted ones.",
      resolve: (c, _args, ctx) => ctx.loaders.unreadCount.load(c.id),
    }),
    unreadMentionCount: t.int({
      description: 'Unread messages from others mentioning the viewer, not counting deleted ones.',
      resolve: (c, _args, ctx) => ctx.loaders.unreadMentionCount.load(c.id),
    }),
    pinnedMessages: t.field({
      type: [MessageRef],
      description: 'Pinned messages, newest pin first.',
      resolve: (c, _args, ctx) => ctx.loaders.pinnedMessages.load(c.id),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    lastActivityAt: t.expose('lastActivityAt', { type: 'DateTime' }),
    messages: t.field({
      type: MessageConnection,
      args: { first: t.arg.int(), after: t.arg.string(), last: t.arg.int(), before: t.arg.string() },
      resolve: (c, args, ctx) => ctx.services.history.list(requireViewer(ctx), c.id, args),
    }),
  }),
});

const ConversationConnection = connectionType('Conversation', ConversationRef);

const CreateConversationInput = builder.inputType('CreateConversationInput', {
  fields: (t) => ({
    type: t.field({ type: ConversationTypeEnum, required: true }),
    name: t.string(),
    description: t.string(),
    metadata: t.field({ type: 'JSON' }),
    participantIds: t.idList({ description: 'Other participants; the creator joins as OWNER.' }),
    isPublic: t.boolean({ description: 'A GROUP anyone of the org may find (publicConversations) and join.' }),
  }),
});

const UpdateConversationInput = builder.inputType('UpdateConversationInput', {
  fields: (t) => ({
    name: t.string(),
    description: t.string(),
    metadata: t.field({ type: 'JSON' }),
    preemptOnPriority: t.boolean({
      description: 'When true, a HIGH or CRITICAL message from a person preempts the interruptible agent runs.',
    }),
    isPublic: t.boolean({ description: 'A GROUP anyone of the org may find and join.' }),
  }),
});

builder.queryFields((t) => ({
  conversation: t.field({
    type: ConversationRef,
    nullable: true,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.conversations.get(requireViewer(ctx), args.id),
  }),
  conversations: t.field({
    type: ConversationConnection,
    description: 'Your conversations, newest activity first.',
    args: {
      first: t.arg.int(),
      after: t.arg.string(),
      last: t.arg.int(),
      before: t.arg.string(),
      type: t.arg({ type: ConversationTypeEnum }),
      archived: t.arg.boolean({ description: 'true: only the ones you archived (and no message came since); otherwise they are left out.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.conversations.list(requireViewer(ctx), args),
  }),
  publicConversations: t.field({
    type: ConversationConnection,
    description: "Your org's public groups, newest activity first; `search` looks in their names.",
    args: { search: t.arg.string(), first: t.arg.int(), after: t.arg.string(), last: t.arg.int(), before: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.services.conversations.listPublic(requireViewer(ctx), args),
  }),
}));

builder.mutationFields((t) => ({
  createConversation: t.field({
    type: ConversationRef,
    description:
      'A PRIVATE conversation with one other user is unique: creating it again returns it and brings back whoever left it, with the role they had. Someone removed from it comes back only when its owner or admin creates it.',
    args: { input: t.arg({ type: CreateConversationInput, required: true }) },
    resolve: (_root, { input }, ctx) => ctx.services.conversations.create(requireViewer(ctx), input),
  }),
  updateConversation: t.field({
    type: ConversationRef,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateConversationInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.conversations.update(requireViewer(ctx), args.id, args.input),
  }),
  deleteConversation: t.boolean({
    description:
      'A GROUP (owners only) is deleted with its messages. A PRIVATE conversation is only left: the other keeps it, and it is deleted once neither takes part.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.conversations.delete(requireViewer(ctx), args.id),
  }),
  addParticipant: t.field({
    type: ParticipantRef,
    args: {
      conversationId: t.arg.id({ required: true }),
      userId: t.arg.id({ required: true }),
      role: t.arg({ type: ParticipantRoleEnum }),
    },
    resolve: (_root, args, ctx) => ctx.services.conversations.addParticipant(requireViewer(ctx), args.conversationId, args.userId, args.role ?? undefined),
  }),
  removeParticipant: t.boolean({
    args: { conversationId: t.arg.id({ required: true }), userId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.conversations.removeParticipant(requireViewer(ctx), args.conversationId, args.userId),
  }),
  leaveConversation: t.boolean({
    args: { conversationId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.conversations.leave(requireViewer(ctx), args.conversationId),
  }),
  joinConversation: t.field({
    type: ParticipantRef,
    description: 'Joins a public group of your org as MEMBER; other conversations refuse (FORBIDDEN).',
    args: { conversationId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.conversations.joinPublic(requireViewer(ctx), args.conversationId),
  }),
  updateParticipantSettings: t.field({
    type: ParticipantRef,
    description: 'Your own settings in a conversation (fields left out stay as they are).',
    args: { conversationId: t.arg.id({ required: true }), input: t.arg({ type: ParticipantSettingsInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.conversations.updateSettings(requireViewer(ctx), args.conversationId, args.input),
  }),
  markRead: t.field({
    type: ParticipantRef,
    description: 'Moves your read marker forward to `seq` (it never moves back).',
    args: { conversationId: t.arg.id({ required: true }), seq: t.arg.int({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.conversations.markRead(requireViewer(ctx), args.conversationId, args.seq),
  }),
}));
