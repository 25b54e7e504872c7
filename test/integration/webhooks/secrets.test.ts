// Webhook secrets at rest: with WEBHOOK_SECRET_KEY they are stored sealed (AES-256-GCM) and
// deliveries are still signed with the secret the admin was shown; rows stored in plain text
// before the key was set keep working, and an instance started with a new key seals them all
// under it.
import { randomBytes } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateWebhookDocument, DeleteWebhookDocument, RotateWebhookSecretDocument } from '../../../src/client/generated/graphql.js';
import { webhooks } from '../../../src/db/schema/index.js';
import { createGroup, send, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends, createTestDatabase, TEST_REDIS_URL } from '../../kit/services.js';
import { describeTwoInstances } from '../../kit/two-instances.js';
import { type Receiver, startReceiver, WEBHOOK_TEST_ENV } from '../../kit/webhook-receiver.js';

const key = (id: string) => `${id}:${randomBytes(32).toString('base64')}`;

async function storedSecret(server: TestServer, id: string): Promise<string> {
  const [row] = await server.app.services.database.db.select({ secret: webhooks.secret }).from(webhooks).where(eq(webhooks.id, id));
  return row!.secret;
}

describe.each(backends)('webhook secrets sealed at rest on %s', (backend) => {
  let server: TestServer;
  let receiver: Receiver;
  let admin: string;
  beforeAll(async () => {
    server = await startServer({ backend, env: { ...WEBHOOK_TEST_ENV, WEBHOOK_SECRET_KEY: key('k1') } });
    receiver = await startReceiver();
    admin = await server.token('root', { roles: ['admin'] });
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  const deliveredFor = async (content: string) => {
    const { alice } = await users(server, ['alice']);
    const message = await send(server, alice, await createGroup(server, alice, [], content), content);
    const all = await receiver.until((received) => received.some((r) => r.payload.data.id === message.id));
    return all.find((r) => r.payload.data.id === message.id)!;
  };

  it('stores the secret sealed and signs with the one shown; a rotated one too', async () => {
    const { webhook, secret } = dataOf(
      await server.gql(admin, CreateWebhookDocument, { input: { url: receiver.url, events: ['message.created'] } }),
    ).createWebhook;
    const stored = await storedSecret(server, webhook.id);
    expect(stored).toMatch(/^enc1:k1:/);
    expect(stored).not.toContain(secret.slice('whsec_'.length));
    expect(receiver.verifies(await deliveredFor('sealed'), secret)).toBe(true);

    const rotated = dataOf(await server.gql(admin, RotateWebhookSecretDocument, { id: webhook.id })).rotateWebhookSecret.secret;
    const restored = await storedSecret(server, webhook.id);
    expect(restored).toMatch(/^enc1:k1:/);
    expect(restored).not.toBe(stored);
    const got = await deliveredFor('rotated');
    expect(receiver.verifies(got, rotated)).toBe(true);
    expect(receiver.verifies(got, secret)).toBe(false);
    dataOf(await server.gql(admin, DeleteWebhookDocument, { id: webhook.id }));
  });

  it('still signs with a secret stored in plain text before the key was set', async () => {
    const { webhook } = dataOf(await server.gql(admin, CreateWebhookDocument, { input: { url: receiver.url, events: ['message.created'] } })).createWebhook;
    const plain = `whsec_${randomBytes(32).toString('base64')}`;
    await server.app.services.database.db.update(webhooks).set({ secret: plain }).where(eq(webhooks.id, webhook.id));
    expect(receiver.verifies(await deliveredFor('plain'), plain)).toBe(true);
    dataOf(await server.gql(admin, DeleteWebhookDocument, { id: webhook.id }));
  });
});

describeTwoInstances('webhook secret keys rotated in', () => {
  let a: TestServer | undefined;
  let b: TestServer | undefined;
  let receiver: Receiver;
  let drop = async () => {};
  afterAll(async () => {
    await b?.stop();
    await a?.stop();
    await receiver?.close();
    await drop();
  });

  it('an instance started with a new first key seals every stored secret under it, plain ones too', async () => {
    const k1 = key('k1');
    receiver = await startReceiver();
    // A database of the test's own: A stops before B, and would drop one it had made.
    const database = await createTestDatabase();
    drop = database.drop;
    a = await startServer({ databaseUrl: database.url, redisUrl: TEST_REDIS_URL, env: { ...WEBHOOK_TEST_ENV, WEBHOOK_SECRET_KEY: k1 } });
    const admin = await a.token('root', { roles: ['admin'] });
    const create = async () => dataOf(await a!.gql(admin, CreateWebhookDocument, { input: { url: receiver.url, events: ['message.created'] } })).createWebhook;
    const sealed = await create();
    const legacy = await create();
    const plain = `whsec_${randomBytes(32).toString('base64')}`;
    await a.app.services.database.db.update(webhooks).set({ secret: plain }).where(eq(webhooks.id, legacy.webhook.id));

    b = await startServer({
      databaseUrl: database.url,
      redisUrl: TEST_REDIS_URL,
      secret: a.secret,
      env: { ...WEBHOOK_TEST_ENV, WEBHOOK_SECRET_KEY: `${key('k2')},${k1}` },
    });
    expect(await storedSecret(b, sealed.webhook.id)).toMatch(/^enc1:k2:/);
    expect(await storedSecret(b, legacy.webhook.id)).toMatch(/^enc1:k2:/);
    // B alone (A holds only k1 now) opens both and signs with the secrets their admin was shown.
    await a.stop();
    a = undefined;
    const { alice } = await users(b, ['alice']);
    const message = await send(b, alice, await createGroup(b, alice, [], 'rotated keys'), 'after the new key');
    const mine = (await receiver.until((all) => all.filter((r) => r.payload.data.id === message.id).length >= 2)).filter(
      (r) => r.payload.data.id === message.id,
    );
    expect(mine.some((r) => receiver.verifies(r, sealed.secret))).toBe(true);
    expect(mine.some((r) => receiver.verifies(r, plain))).toBe(true);
  });
});
