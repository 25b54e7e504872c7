/**
 * The webhook event names (API.md, "Integrations"), in one place: the schema's validation, the
 * docs and the outbox triggers (drizzle/, "hand-written below") all follow this list. A new event
 * is a name here and, where its change is written, an outbox row in the same transaction (a
 * trigger `webhook_outbox('<name>')` on its table, see the migration).
 */
export const WEBHOOK_EVENTS = [
  'message.created',
  'message.updated',
  'message.deleted',
  'conversation.created',
  'conversation.updated',
  'conversation.deleted',
  'participant.added',
  'participant.removed',
  'control.created',
  'run.updated',
  'expert_request.opened',
  'expert_request.claimed',
  'expert_request.resolved',
  'evaluation.created',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/** Subscribes a webhook to every event, present and future. */
export const ALL_EVENTS = '*';

const known = new Set<string>([...WEBHOOK_EVENTS, ALL_EVENTS]);
export const isWebhookEvent = (name: string) => known.has(name);
