import { requireViewer } from '../../context.js';
import { type WebhookDeliveryRow, type WebhookRow, webhookDeliveryStatus } from '../../db/schema/index.js';
import { builder } from '../../graphql/builder.js';
import { connectionType } from '../../graphql/connection.js';
import type { WebhookWithSecret } from './webhook.service.js';

const WebhookRef = builder.objectRef<WebhookRow>('Webhook').implement({
  description: "Where an org's events are POSTed, signed as the Standard Webhooks specification says.",
  fields: (t) => ({
    id: t.exposeID('id'),
    url: t.exposeString('url'),
    events: t.exposeStringList('events'),
    enabled: t.exposeBoolean('enabled'),
    failureCount: t.exposeInt('failureCount', { description: 'Failed attempts in a row; a long run of them disables the webhook.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const WebhookWithSecretRef = builder.objectRef<WebhookWithSecret>('WebhookWithSecret').implement({
  fields: (t) => ({
    webhook: t.expose('webhook', { type: WebhookRef }),
    secret: t.exposeString('secret', { description: 'The signing secret (whsec_…), shown only here.' }),
  }),
});

const WebhookDeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', { values: webhookDeliveryStatus.enumValues });

const WebhookDeliveryRef = builder.objectRef<WebhookDeliveryRow>('WebhookDelivery').implement({
  fields: (t) => ({
    id: t.exposeID('id'),
    eventId: t.exposeID('eventId', { description: "The event's id, sent as webhook-id: the same on every attempt." }),
    event: t.exposeString('event'),
    status: t.expose('status', { type: WebhookDeliveryStatusEnum }),
    attempts: t.exposeInt('attempts'),
    responseStatus: t.exposeInt('responseStatus', { nullable: true }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    lastAttemptAt: t.expose('lastAttemptAt', { type: 'DateTime', nullable: true }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true }),
  }),
});

const WebhookDeliveryConnection = connectionType('WebhookDelivery', WebhookDeliveryRef);

const CreateWebhookInput = builder.inputType('CreateWebhookInput', {
  fields: (t) => ({
    url: t.string({ required: true }),
    events: t.stringList({ required: true, description: 'Event names such as message.created, or * for all.' }),
  }),
});

const UpdateWebhookInput = builder.inputType('UpdateWebhookInput', {
  fields: (t) => ({
    url: t.string(),
    events: t.stringList(),
    enabled: t.boolean({ description: 'true also starts the failure count over.' }),
  }),
});

builder.queryFields((t) => ({
  webhooks: t.field({
    type: [WebhookRef],
    description: "The org's webhooks (admins and API keys).",
    resolve: (_root, _args, ctx) => ctx.services.webhooks.list(requireViewer(ctx)),
  }),
  webhookDeliveries: t.field({
    type: WebhookDeliveryConnection,
    description: "A webhook's delivery log, newest first.",
    args: {
      webhookId: t.arg.id({ required: true }),
      status: t.arg({ type: WebhookDeliveryStatusEnum }),
      first: t.arg.int(),
      after: t.arg.string(),
    },
    resolve: (_root, args, ctx) => ctx.services.webhooks.deliveries(requireViewer(ctx), args.webhookId, args),
  }),
}));

builder.mutationFields((t) => ({
  createWebhook: t.field({
    type: WebhookWithSecretRef,
    args: { input: t.arg({ type: CreateWebhookInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.create(requireViewer(ctx), args.input),
  }),
  updateWebhook: t.field({
    type: WebhookRef,
    args: { id: t.arg.id({ required: true }), input: t.arg({ type: UpdateWebhookInput, required: true }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.update(requireViewer(ctx), args.id, args.input),
  }),
  deleteWebhook: t.field({
    type: 'Boolean',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.delete(requireViewer(ctx), args.id),
  }),
  rotateWebhookSecret: t.field({
    type: WebhookWithSecretRef,
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.rotateSecret(requireViewer(ctx), args.id),
  }),
  redeliverWebhook: t.field({
    type: WebhookDeliveryRef,
    args: { deliveryId: t.arg.id({ required: true }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.redeliver(requireViewer(ctx), args.deliveryId),
  }),
}));
