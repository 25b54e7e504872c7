// The webhook log does not grow forever: deliveries that ended more than WEBHOOK_RETENTION_DAYS
// ago are purged with their events, by a job pg-boss runs every hour; deliveries still being
// retried are kept whatever their age.
import { inArray, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateWebhookDocument, DeleteWebhookDocument, WebhookDeliveriesDocument } from '../../../src/client/generated/graphql.js';
import { webhookDeliveries, webhookEvents } from '../../../src/db/schema/index.js';
import { RETENTION_QUEUE } from '../../../src/modules/webhooks/queue.js';
import { createGroup, send, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { eventually } from '../../kit/subscriptions.js';
import { type Receiver, startReceiver, WEBHOOK_TEST_ENV } from '../../kit/webhook-receiver.js';

describe.each(backends)('webhook log retention on %s', (backend) => {
  let server: TestServer;
  let receiver: Receiver;
  let admin: string;
  beforeAll(async () => {
    server = await startServer({ backend, env: { ...WEBHOOK_TEST_ENV, WEBHOOK_RETENTION_DAYS: '2' } });
    receiver = await startReceiver();
    admin = await server.token('root', { roles: ['admin'] });
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  const db = () => server.app.services.database.db;
  const createWebhook = async (events: string[]) =>
    dataOf(await server.gql(admin, CreateWebhookDocument, { input: { url: receiver.url, events } })).createWebhook.webhook;
  const log = async (webhookId: string) => dataOf(await server.gql(admin, WebhookDeliveriesDocument, { webhookId, first: 50 })).webhookDeliveries.nodes;
  /** Moves rows' times back by `days`. */
  const age = async (ids: string[], days: number, changes: { status?: 'PENDING' | 'FAILED'; attempted?: number } = {}) => {
    await db()
      .update(webhookDeliveries)
      .set({
        createdAt: sql`now() - make_interval(days => ${days})`,
        lastAttemptAt: sql`now() - make_interval(days => ${changes.attempted ?? days})`,
        ...(changes.status ? { status: changes.status } : {}),
      })
      .where(inArray(webhookDeliveries.id, ids));
  };
  const ageEvents = async (ids: string[], days: number) => {
    await db()
      .update(webhookEvents)
      .set({ createdAt: sql`now() - make_interval(days => ${days})` })
      .where(inArray(webhookEvents.id, ids));
  };

  it('is purged by a job pg-boss runs, the first when the server starts', async () => {
    const ran = async () => {
      const result = await db().execute<{ state: string }>(sql`select state from pgboss.job where name = ${RETENTION_QUEUE}`);
      return (result as unknown as { rows: { state: string }[] }).rows.map((r) => r.state);
    };
    await eventually(async () => (await ran()).includes('completed'), 100);
  });

  it('deletes deliveries ended before the retention and their events; keeps the rest', async () => {
    const webhook = await createWebhook(['message.created']);
    const { alice } = await users(server, ['alice']);
    const conversationId = await createGroup(server, alice, [], 'kept for a while');
    for (let i = 0; i < 5; i++) await send(server, alice, conversationId, `m${i}`);
    await eventually(async () => {
      const all = await log(webhook.id);
      return all.length === 5 && all.every((d) => d.status === 'SUCCEEDED');
    }, 100);
    const [fresh, retried, pending, failed, delivered] = await log(webhook.id);
    await age([delivered!.id], 3);
    await age([failed!.id], 3, { status: 'FAILED' });
    // Still in its retries, however old.
    await age([pending!.id], 3, { status: 'PENDING' });
    // Redelivered yesterday: its new attempt is within the retention.
    await age([retried!.id], 3, { attempted: 1 });
    // An event whose webhook was deleted: no delivery refers to it any more.
    const gone = await createWebhook(['conversation.created']);
    await createGroup(server, alice, [], 'orphan');
    const [orphan] = await log(gone.id);
    dataOf(await server.gql(admin, DeleteWebhookDocument, { id: gone.id }));
    const events = [fresh, retried, pending, failed, delivered, orphan].map((d) => d!.eventId);
    await ageEvents(events.slice(1), 3);

    expect(await server.app.services.webhookDelivery.purge()).toEqual({ deliveries: 2, events: 3 });
    // As a set: rows aged within the same millisecond share a time, so their order is the ids'.
    expect(new Set((await log(webhook.id)).map((d) => d.id))).toEqual(new Set([fresh!.id, retried!.id, pending!.id]));
    const left = await db().select({ id: webhookEvents.id }).from(webhookEvents).where(inArray(webhookEvents.id, events));
    expect(new Set(left.map((e) => e.id))).toEqual(new Set(events.slice(0, 3)));
    // Nothing more to do.
    expect(await server.app.services.webhookDelivery.purge()).toEqual({ deliveries: 0, events: 0 });
    dataOf(await server.gql(admin, DeleteWebhookDocument, { id: webhook.id }));
  });
});
