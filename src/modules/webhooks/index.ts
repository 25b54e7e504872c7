import type { Logger } from 'pino';
import type { Database } from '../../db/client.js';
import type { DomainEventMap, DomainEventName } from '../../events/domain-events.js';
import type { DomainEvents } from '../../events/emitter.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import type { WebhookOptions } from './options.js';
import { WebhookQueue } from './queue.js';
import { SecretBox } from './secret-box.js';
import { WebhookSender } from './sender.js';
import { WebhookSubscriptions } from './subscriptions.js';
import { enabledSubscriptions, WebhookRepository } from './webhook.repository.js';
import { WebhookService } from './webhook.service.js';

/**
 * The domain events whose changes webhooks report, with the org of each. Their outbox rows are
 * written with the change itself (the send statement, or a trigger: see the migration); after
 * commit they only wake this instance's delivery workers, which would otherwise find the jobs at
 * their next poll.
 */
const REPORTED: { [N in DomainEventName]?: (event: DomainEventMap[N]) => string } = {
  messageCommitted: (e) => e.message.orgId,
  messageEdited: (e) => e.message.orgId,
  messageDeleted: (e) => e.message.orgId,
  conversationChanged: (e) => e.conversation.orgId,
  participantChanged: (e) => e.participant.orgId,
  controlIssued: (e) => e.control.orgId,
  runChanged: (e) => e.run.orgId,
  expertRequestChanged: (e) => e.request.orgId,
  evaluationCreated: (e) => e.evaluation.orgId,
};

/**
 * Which orgs listen to which events, made before the messages module: its send statement writes
 * the outbox rows of message.created for those orgs (see MessageRepository).
 */
export function createWebhookSubscriptions(deps: { database: Database; bus: EventBus; log: Logger }) {
  return new WebhookSubscriptions(() => enabledSubscriptions(deps.database), deps.bus, deps.log);
}

/**
 * Webhooks: an org's endpoints, its events written to an outbox in the transaction of each change,
 * and their delivery by pg-boss (queue.ts). `start` begins delivering, `stop` lets deliveries in
 * flight end.
 */
export function createWebhooksModule(deps: {
  database: Database;
  log: Logger;
  events: DomainEvents;
  subscriptions: WebhookSubscriptions;
  options: WebhookOptions;
}) {
  const repo = new WebhookRepository(deps.database.db);
  const sender = new WebhookSender({ policy: deps.options, timeoutMs: deps.options.timeoutMs, maxSockets: deps.options.concurrency });
  const box = new SecretBox(deps.options.secretKeys);
  const queue = new WebhookQueue(deps.database, repo, sender, box, deps.subscriptions, deps.events, deps.log, deps.options);
  const webhooks = new WebhookService(repo, deps.subscriptions, queue, deps.options, box);
  for (const [name, orgOf] of Object.entries(REPORTED) as [DomainEventName, (event: unknown) => string][]) {
    deps.events.on(name, function wakeWebhookDelivery(event) {
      if (deps.subscriptions.listens(orgOf(event))) queue.wake();
    });
  }
  return {
    webhooks,
    webhookDelivery: {
      start: async () => {
        await deps.subscriptions.start();
        await queue.start();
      },
      stop: async () => {
        deps.subscriptions.stop();
        await queue.stop();
      },
      /** The purge pg-boss runs every hour, now (tests, operators). */
      purge: () => queue.purge(),
    },
  };
}
