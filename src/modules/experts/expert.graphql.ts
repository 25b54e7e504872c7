import { requireViewer } from '../../context.js';
import { type ExpertRequestRow, expertRequestStatus } from '../../db/schema/index.js';
import { builder } from '../../graphql/builder.js';
import { connectionType } from '../../graphql/connection.js';
import { ConversationRef } from '../conversations/conversation.graphql.js';
import { UserRef } from '../users/user.graphql.js';

const ExpertRequestStatusEnum = builder.enumType('ExpertRequestStatus', { values: expertRequestStatus.enumValues });

const ExpertRequestRef = builder.objectRef<ExpertRequestRow>('ExpertRequest').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    conversationId: t.exposeID('conversationId'),
    conversation: t.field({
      type: ConversationRef,
      nullable: true,
      description: 'The conversation, once you take part in it (after claiming).',
      resolve: async (r, _args, ctx) => {
        const access = await ctx.services.conversations.access(ctx.viewer!, r.conversationId);
        return access?.participant ? access.conversation : null;
      },
    }),
    requestedBy: t.field({ type: UserRef, resolve: async (r, _args, ctx) => (await ctx.loaders.user.load(r.requestedBy))! }),
    reason: t.exposeString('reason', { nullable: true }),
    status: t.expose('status', { type: ExpertRequestStatusEnum }),
    claimedBy: t.field({
      type: UserRef,
      nullable: true,
      resolve: (r, _args, ctx) => (r.claimedBy ? ctx.loaders.user.load(r.claimedBy) : null),
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    claimedAt: t.expose('claimedAt', { type: 'DateTime', nullable: true }),
    resolvedAt: t.expose('resolvedAt', { type: 'DateTime', nullable: true }),
  }),
});

const ExpertRequestConnection = connectionType('ExpertRequest', ExpertRequestRef);

type AuditRow = Awaited<ReturnType<import('../../auth/audit.js').AuditLog['list']>>[number];
const AuditEntryRef = builder.objectRef<AuditRow>('AuditEntry').implement({
  description: 'Who acted for whom, and every expert access.',
  fields: (t) => ({
    id: t.exposeID('id'),
    action: t.exposeString('action', { description: 'act_as, expert.claim, expert.assign, expert.read, expert.write, expert.handback' }),
    actor: t.exposeString('actor', { description: '`user:<id>` or `apikey:<id>`' }),
    subjectUserId: t.exposeID('subjectUserId', { nullable: true }),
    conversationId: t.exposeID('conversationId', { nullable: true }),
    details: t.expose('details', { type: 'JSON', nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});
const AuditEntryConnection = connectionType('AuditEntry', AuditEntryRef);

builder.queryFields((t) => ({
  expertRequests: t.field({
    type: ExpertRequestConnection,
    description: "Your org's expert requests in a status, oldest first (experts and admins).",
    args: {
      status: t.arg({ type: ExpertRequestStatusEnum, defaultValue: 'OPEN' }),
      first: t.arg.int(),
      after: t.arg.string(),
    },
    resolve: (_root, args, ctx) => ctx.services.experts.list(requireViewer(ctx), args.status ?? 'OPEN', args),
  }),
  auditLog: t.field({
    type: AuditEntryConnection,
    description: "Your org's audit log, newest first (admins).",
    args: { first: t.arg.int(), after: t.arg.string(), action: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.services.audit.page(requireViewer(ctx), args),
  }),
}));

builder.mutationFields((t) => ({
  requestExpert: t.field({
    type: ExpertRequestRef,
    description: 'Asks for a human expert; the open request is returned if there is one already.',
    args: { conversationId: t.arg.id({ required: true }), reason: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.services.experts.request(requireViewer(ctx), args.conversationId, args.reason),
  }),
  claimExpertRequest: t.field({
    type: ExpertRequestRef,
    description: 'An expert takes the request: joins the conversation and answers from now on (the agent is paused).',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.experts.claim(requireViewer(ctx), args.id),
  }),
  assignExpertRequest: t.field({
    type: ExpertRequestRef,
    description: 'An admin gives an open request to an expert of the org (`expertId`), who is added to the conversation and takes it over as by claiming it.',
    args: { id: t.arg.id({ required: true }), expertId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.experts.assign(requireViewer(ctx), args.id, args.expertId),
  }),
  cancelExpertRequest: t.field({
    type: ExpertRequestRef,
    description: 'Who asked for the expert withdraws the open request (CANCELLED); admins may too.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.experts.cancel(requireViewer(ctx), args.id),
  }),
  handBackToAgent: t.field({
    type: ExpertRequestRef,
    description: 'The expert hands the conversation back to the agent, whose paused runs resume.',
    args: { conversationId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.experts.handBack(requireViewer(ctx), args.conversationId),
  }),
}));

builder.subscriptionFields((t) => ({
  expertRequestUpdated: t.field({
    type: ExpertRequestRef,
    description: "Your org's expert requests as they are opened, claimed (or assigned), resolved and cancelled (experts and admins).",
    subscribe: (_root, _args, ctx) => ctx.services.experts.updates(ctx),
    resolve: (e, _args, ctx) => ctx.services.experts.get(requireViewer(ctx), e.id),
  }),
}));
