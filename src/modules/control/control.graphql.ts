import { requireViewer } from '../../context.js';
import type { ControlEventRow } from '../../db/schema/index.js';
import { builder } from '../../graphql/builder.js';
import { connectionType } from '../../graphql/connection.js';
import { ControlEventTypeEnum } from '../../graphql/enums.js';
import { viewerIndependent } from '../../graphql/viewer-independent.js';
import type { ControlEventSnapshot } from '../../pubsub/snapshots.js';
import { UserRef } from '../users/user.graphql.js';

export const ControlEventRef = builder.objectRef<ControlEventRow | ControlEventSnapshot>('ControlEvent').implement({
  fields: (t) => ({
    id: t.exposeID('id', viewerIndependent),
    conversationId: t.exposeID('conversationId', viewerIndependent),
    event: t.expose('event', { type: ControlEventTypeEnum, ...viewerIndependent }),
    target: t.exposeString('target', { nullable: true, ...viewerIndependent }),
    reason: t.exposeString('reason', { nullable: true, ...viewerIndependent }),
    runId: t.exposeString('runId', { nullable: true, ...viewerIndependent }),
    traceId: t.exposeString('traceId', { nullable: true, ...viewerIndependent }),
    issuedBy: t.field({ type: UserRef, ...viewerIndependent, resolve: async (e, _args, ctx) => (await ctx.loaders.user.load(e.issuedBy))! }),
    effectiveAt: t.expose('effectiveAt', { type: 'DateTime', ...viewerIndependent }),
    createdAt: t.expose('createdAt', { type: 'DateTime', ...viewerIndependent }),
  }),
});

const ControlEventConnection = connectionType('ControlEvent', ControlEventRef);

const ControlEventInput = builder.inputType('ControlEventInput', {
  fields: (t) => ({
    event: t.field({ type: ControlEventTypeEnum, required: true }),
    target: t.string({ description: 'PRIORITY: the new priority; ROUTE/HANDOFF: who takes over.' }),
    reason: t.string(),
    runId: t.string({ description: 'The agent run the event steers.' }),
    traceId: t.string(),
    effectiveAt: t.field({ type: 'DateTime' }),
  }),
});

builder.queryFields((t) => ({
  controlEvents: t.field({
    type: ControlEventConnection,
    description: 'Control events of a conversation in the order they were issued.',
    args: { conversationId: t.arg.id({ required: true }), first: t.arg.int(), after: t.arg.string() },
    resolve: (_root, args, ctx) => ctx.services.control.list(requireViewer(ctx), args.conversationId, args),
  }),
}));

builder.mutationFields((t) => ({
  sendControl: t.field({
    type: ControlEventRef,
    args: { conversationId: t.arg.id({ required: true }), input: t.arg({ type: ControlEventInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.control.send(requireViewer(ctx), args.conversationId, args.input),
  }),
}));
