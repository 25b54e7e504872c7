// Webhooks: managed by admins and API keys, written to the outbox in the transaction of each
// change, delivered by the queue to a receiver in this process, signed (verified with the
// standardwebhooks package), retried, logged, disabled after failing in a row, kept per org.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddParticipantDocument,
  CreateWebhookDocument,
  DeleteMessageDocument,
  DeleteWebhookDocument,
  EditMessageDocument,
  RedeliverWebhookDocument,
  RotateWebhookSecretDocument,
  UpdateWebhookDocument,
  WebhookDeliveriesDocument,
  WebhooksDocument,
} from '../../../src/client/generated/graphql.js';
import { MAX_URL_LENGTH } from '../../../src/modules/webhooks/url-policy.js';
import { createApiKey, createGroup, expectCode, send, users } from '../../kit/requests.js';
import { type Auth, dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { eventually } from '../../kit/subscriptions.js';
import { type Receiver, startReceiver, WEBHOOK_TEST_ENV } from '../../kit/webhook-receiver.js';

describe.each(backends)('webhooks on %s', (backend) => {
  let server: TestServer;
  let receiver: Receiver;
  let admin: string;
  beforeAll(async () => {
    server = await startServer({ backend, env: { ...WEBHOOK_TEST_ENV, WEBHOOK_DISABLE_AFTER_FAILURES: '3' } });
    receiver = await startReceiver();
    admin = await server.token('root', { roles: ['admin'] });
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  const createWebhook = async (auth: Auth, events: string[], url = receiver.url) =>
    dataOf(await server.gql(auth, CreateWebhookDocument, { input: { url, events } })).createWebhook;
  const ofType = (type: string, match: (data: Record<string, unknown>) => boolean = () => true) =>
    receiver
      .until((all) => all.some((r) => r.payload.type === type && match(r.payload.data)))
      .then((all) => all.filter((r) => r.payload.type === type && match(r.payload.data)));

  it('delivers message.created, .updated and .deleted, signed with the secret shown once', async () => {
    const { webhook, secret } = await createWebhook(admin, ['message.created', 'message.updated', 'message.deleted']);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]+$/);
    expect(webhook).toMatchObject({ enabled: true, failureCount: 0, events: ['message.created', 'message.updated', 'message.deleted'] });
    const listed = dataOf(await server.gql(admin, WebhooksDocument)).webhooks;
    expect(listed.map((w) => w.id)).toContain(webhook.id);
    expect(JSON.stringify(listed)).not.toContain(secret);

    const { alice } = await users(server, ['alice']);
    const conversationId = await createGroup(server, alice, [], 'hooked');
    const message = await send(server, alice, conversationId, 'hello hooks');
    const [created] = await ofType('message.created', (d) => d.id === message.id);
    expect(receiver.verifies(created!, secret)).toBe(true);
    expect(receiver.verifies(created!, `whsec_${Buffer.from('another secret, 32 bytes long!!!').toString('base64')}`)).toBe(false);
    expect(created!.headers['webhook-id']).toBe(created!.payload.id);
    expect(created!.payload.data).toMatchObject({ id: message.id, conversationId, seq: message.seq, content: 'hello hooks', senderId: 'alice' });
    expect(new Date(created!.payload.timestamp).getTime()).toBeGreaterThan(0);

    dataOf(await server.gql(alice, EditMessageDocument, { id: message.id, content: 'edited' }));
    const [updated] = await ofType('message.updated', (d) => d.id === message.id);
    expect(updated!.payload.data).toMatchObject({ content: 'edited', seq: message.seq });
    dataOf(await server.gql(alice, DeleteMessageDocument, { id: message.id }));
    const [deleted] = await ofType('message.deleted', (d) => d.id === message.id);
    expect(deleted!.payload.data).toMatchObject({ content: '' });
    expect(receiver.verifies(deleted!, secret)).toBe(true);

    // The log is written once the receiver's answer is in.
    const log = async () => dataOf(await server.gql(admin, WebhookDeliveriesDocument, { webhookId: webhook.id })).webhookDeliveries.nodes;
    await eventually(async () => (await log()).every((d) => d.status === 'SUCCEEDED'));
    const deliveries = await log();
    expect(deliveries.map((d) => d.event)).toEqual(['message.deleted', 'message.updated', 'message.created']);
    expect(deliveries.every((d) => d.status === 'SUCCEEDED' && d.attempts === 1 && d.responseStatus === 200)).toBe(true);
    dataOf(await server.gql(admin, DeleteWebhookDocument, { id: webhook.id }));
  });

  it('delivers conversation and participant events, for * too, and an API key manages webhooks', async () => {
    const { key } = await createApiKey(server, { orgId: 'default', name: 'hooks-admin' });
    const { webhook, secret } = await createWebhook({ apiKey: key }, ['*']);
    const { bob } = await users(server, ['bob', 'carol']);
    const conversationId = await createGroup(server, bob, [], 'everything');
    dataOf(await server.gql(bob, AddParticipantDocument, { conversationId, userId: 'carol' }));
    const [created] = await ofType('conversation.created', (d) => d.id === conversationId);
    expect(created!.payload.data).toMatchObject({ name: 'everything', type: 'GROUP', createdBy: 'bob' });
    expect(created!.payload.data).not.toHaveProperty('privateKey');
    const [added] = await ofType('participant.added', (d) => d.conversationId === conversationId && d.userId === 'carol');
    expect(receiver.verifies(added!, secret)).toBe(true);
    dataOf(await server.gql({ apiKey: key }, DeleteWebhookDocument, { id: webhook.id }));
  });

  it('retries after a 500 with the same webhook-id, and redelivers on request', async () => {
    const { webhook, secret } = await createWebhook(admin, ['message.created']);
    const { dave } = await users(server, ['dave']);
    const conversationId = await createGroup(server, dave, [], 'flaky');
    let failed = false;
    receiver.answer = (r) => {
      if (r.payload.data.content !== 'retry me' || failed) return 200;
      failed = true;
      return 500;
    };
    const message = await send(server, dave, conversationId, 'retry me');
    const attempts = await receiver.until((all) => all.filter((r) => r.payload.data.id === message.id).length >= 2);
    receiver.answer = () => 200;
    const mine = attempts.filter((r) => r.payload.data.id === message.id);
    expect(new Set(mine.map((r) => r.headers['webhook-id'])).size).toBe(1);
    expect(mine.every((r) => receiver.verifies(r, secret))).toBe(true);
    const log = async () => dataOf(await server.gql(admin, WebhookDeliveriesDocument, { webhookId: webhook.id })).webhookDeliveries.nodes;
    await eventually(async () => (await log())[0]?.status === 'SUCCEEDED');
    const [delivery] = await log();
    expect(delivery).toMatchObject({ status: 'SUCCEEDED', attempts: 2, responseStatus: 200, nextAttemptAt: null });

    const again = dataOf(await server.gql(admin, RedeliverWebhookDocument, { deliveryId: delivery!.id })).redeliverWebhook;
    expect(again).toMatchObject({ id: delivery!.id, status: 'PENDING' });
    await receiver.until((all) => all.filter((r) => r.payload.data.id === message.id).length >= 3);
    dataOf(await server.gql(admin, DeleteWebhookDocument, { id: webhook.id }));
  });

  it('rotates the secret: later deliveries are signed with the new one', async () => {
    const { webhook, secret: old } = await createWebhook(admin, ['message.created']);
    const { secret } = dataOf(await server.gql(admin, RotateWebhookSecretDocument, { id: webhook.id })).rotateWebhookSecret;
    expect(secret).not.toBe(old);
    const { erin } = await users(server, ['erin']);
    const message = await send(server, erin, await createGroup(server, erin, [], 'rotated'), 'after rotation');
    const [got] = await ofType('message.created', (d) => d.id === message.id);
    expect(receiver.verifies(got!, secret)).toBe(true);
    expect(receiver.verifies(got!, old)).toBe(false);
    dataOf(await server.gql(admin, DeleteWebhookDocument, { id: webhook.id }));
  });

  it('disables a webhook after failing in a row, and enabling it starts over', async () => {
    const failing = await startReceiver();
    failing.answer = () => 503;
    try {
      const { webhook } = await createWebhook(admin, ['message.created'], failing.url);
      const { frank } = await users(server, ['frank']);
      const conversationId = await createGroup(server, frank, [], 'down');
      for (let i = 0; i < 3; i++) await send(server, frank, conversationId, `down ${i}`);
      await failing.until((all) => all.length >= 3);
      const find = async () => dataOf(await server.gql(admin, WebhooksDocument)).webhooks.find((w) => w.id === webhook.id)!;
      await eventually(async () => !(await find()).enabled);
      expect(await find()).toMatchObject({ enabled: false, failureCount: 3 });
      const log = dataOf(await server.gql(admin, WebhookDeliveriesDocument, { webhookId: webhook.id })).webhookDeliveries.nodes;
      expect(log).toHaveLength(3);
      expect(log.every((d) => d.attempts >= 1 && d.responseStatus === 503)).toBe(true);
      const enabled = dataOf(await server.gql(admin, UpdateWebhookDocument, { id: webhook.id, input: { enabled: true } })).updateWebhook;
      expect(enabled).toMatchObject({ enabled: true, failureCount: 0 });
      dataOf(await server.gql(admin, DeleteWebhookDocument, { id: webhook.id }));
    } finally {
      await failing.close();
    }
  });

  it('refuses bad URLs and unknown events with BAD_USER_INPUT and writes nothing', async () => {
    const before = dataOf(await server.gql(admin, WebhooksDocument)).webhooks;
    const bad: [string, string[]][] = [
      [`https://example.com/${'a'.repeat(MAX_URL_LENGTH)}`, ['message.created']],
      ['ftp://example.com/hooks', ['message.created']],
      ['not a url', ['message.created']],
      ['https://user:pass@example.com/hooks', ['message.created']],
      [receiver.url, ['message.sent']],
      [receiver.url, ['message.created', 'MESSAGE.CREATED']],
      [receiver.url, []],
    ];
    for (const [url, events] of bad) {
      expectCode(await server.gql(admin, CreateWebhookDocument, { input: { url, events } }), 'BAD_USER_INPUT');
    }
    const { webhook } = await createWebhook(admin, ['message.created']);
    expectCode(await server.gql(admin, UpdateWebhookDocument, { id: webhook.id, input: { url: 'gopher://x' } }), 'BAD_USER_INPUT');
    expectCode(await server.gql(admin, UpdateWebhookDocument, { id: webhook.id, input: { events: ['nope'] } }), 'BAD_USER_INPUT');
    const after = dataOf(await server.gql(admin, WebhooksDocument)).webhooks;
    expect(after.map((w) => w.id)).toEqual([...before.map((w) => w.id), webhook.id]);
    expect(after.find((w) => w.id === webhook.id)).toMatchObject({ url: receiver.url, events: ['message.created'] });
    dataOf(await server.gql(admin, DeleteWebhookDocument, { id: webhook.id }));
  });

  it('keeps webhooks to their org and to admins and API keys', async () => {
    const { webhook } = await createWebhook(admin, ['*']);
    const otherAdmin = await server.token('root', { org: 'other-org', roles: ['admin'] });
    expect(dataOf(await server.gql(otherAdmin, WebhooksDocument)).webhooks).toEqual([]);
    expectCode(await server.gql(otherAdmin, UpdateWebhookDocument, { id: webhook.id, input: { enabled: false } }), 'NOT_FOUND');
    expectCode(await server.gql(otherAdmin, DeleteWebhookDocument, { id: webhook.id }), 'NOT_FOUND');
    expectCode(await server.gql(otherAdmin, RotateWebhookSecretDocument, { id: webhook.id }), 'NOT_FOUND');
    expectCode(await server.gql(otherAdmin, WebhookDeliveriesDocument, { webhookId: webhook.id }), 'NOT_FOUND');

    // The other org's activity reaches none of this org's webhooks.
    const { otto } = await users(server, ['otto'], { org: 'other-org' });
    const message = await send(server, otto, await createGroup(server, otto, [], 'elsewhere'), 'not for default');
    const { grace } = await users(server, ['grace']);
    const mine = await send(server, grace, await createGroup(server, grace, [], 'here'), 'for default');
    await ofType('message.created', (d) => d.id === mine.id);
    expect(receiver.received.some((r) => r.payload.data.id === message.id || r.payload.data.orgId === 'other-org')).toBe(false);
    const deliveries = dataOf(await server.gql(admin, WebhookDeliveriesDocument, { webhookId: webhook.id, first: 50 })).webhookDeliveries.nodes;
    expectCode(await server.gql(otherAdmin, RedeliverWebhookDocument, { deliveryId: deliveries[0]!.id }), 'NOT_FOUND');

    const { henry } = await users(server, ['henry']);
    expectCode(await server.gql(henry, WebhooksDocument), 'FORBIDDEN');
    expectCode(await server.gql(henry, CreateWebhookDocument, { input: { url: receiver.url, events: ['*'] } }), 'FORBIDDEN');
    dataOf(await server.gql(admin, DeleteWebhookDocument, { id: webhook.id }));
  });
});

describe('webhook URLs without WEBHOOK_ALLOW_PRIVATE', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer();
  });
  afterAll(() => server?.stop());

  it('must be https and must not reach loopback, private or link-local addresses', async () => {
    const admin = await server.token('root', { roles: ['admin'] });
    for (const url of [
      'http://example.com/hooks',
      'https://127.0.0.1/hooks',
      'https://localhost:8443/hooks',
      'https://10.1.2.3/hooks',
      'https://192.168.0.1/hooks',
      'https://169.254.169.254/latest/meta-data',
      'https://[::1]/hooks',
      'https://[fe80::1]/hooks',
      'https://[::ffff:127.0.0.1]/hooks',
    ]) {
      const result = await server.gql(admin, CreateWebhookDocument, { input: { url, events: ['message.created'] } });
      expectCode(result, 'BAD_USER_INPUT');
    }
    expect(dataOf(await server.gql(admin, WebhooksDocument)).webhooks).toEqual([]);
    // A public address is fine (nothing is sent until an event happens).
    dataOf(await server.gql(admin, CreateWebhookDocument, { input: { url: 'https://93.184.215.14/hooks', events: ['message.created'] } }));
  });
});
