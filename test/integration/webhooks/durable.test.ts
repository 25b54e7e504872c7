// Webhooks are durable: an event committed just before the server is killed (SIGKILL, no
// cleanup), or whose delivery was in flight then, arrives after a restart; two instances on one
// database deliver each event once, and a webhook created on one is used by the other at once.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../../src/auth/jwt.js';
import { CreateConversationDocument, CreateWebhookDocument, SendMessageDocument, WebhookDeliveriesDocument } from '../../../src/client/generated/graphql.js';
import { createGroup, send, users } from '../../kit/requests.js';
import { dataOf } from '../../kit/server.js';
import { type ServiceProcess, spawnService } from '../../kit/service-process.js';
import { backends, createTestDatabase } from '../../kit/services.js';
import { eventually } from '../../kit/subscriptions.js';
import { describeTwoInstances, twoInstances } from '../../kit/two-instances.js';
import { type Receiver, startReceiver, WEBHOOK_TEST_ENV } from '../../kit/webhook-receiver.js';

describe.each(backends)('webhooks across a crash on %s', (backend) => {
  let receiver: Receiver;
  let env: Record<string, string>;
  let cleanup = async () => {};
  const started: ServiceProcess[] = [];
  const secret = randomBytes(32).toString('hex');

  beforeAll(async () => {
    receiver = await startReceiver();
    if (backend === 'postgres') {
      const db = await createTestDatabase();
      env = { DATABASE_URL: db.url };
      cleanup = db.drop;
    } else {
      const dataDir = mkdtempSync(join(tmpdir(), 'sb-hooks-'));
      env = { DATA_DIR: dataDir };
      cleanup = async () => rmSync(dataDir, { recursive: true, force: true });
    }
    env = { ...env, ...WEBHOOK_TEST_ENV, JWT_SECRET: secret };
  });
  afterAll(async () => {
    for (const s of started) if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
    await Promise.all(started.map((s) => s.exited));
    await receiver?.close();
    await cleanup();
  });

  const start = async () => {
    const service = spawnService(env);
    started.push(service);
    return { service, port: await service.listening };
  };
  const gql = async <R, V>(port: number, token: string, document: TypedDocumentNode<R, V>, variables: V) => {
    const res = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: print(document), variables }),
    });
    return dataOf((await res.json()) as { data?: R; errors?: never[] });
  };

  it('delivers what was committed before a SIGKILL, in flight or not yet sent, after the restart', async () => {
    const admin = await mintToken(secret, { sub: 'root', roles: ['admin'] });
    const alice = await mintToken(secret, { sub: 'alice' });
    const first = await start();
    const { createWebhook } = await gql(first.port, admin, CreateWebhookDocument, { input: { url: receiver.url, events: ['message.created'] } });
    const { createConversation } = await gql(first.port, alice, CreateConversationDocument, { input: { type: 'GROUP', name: 'crash', participantIds: [] } });
    const conversationId = createConversation.id;
    // The receiver holds every request: the first message's delivery is in flight when the kill comes.
    receiver.answer = () => 'hold';
    const inFlight = (await gql(first.port, alice, SendMessageDocument, { input: { conversationId, content: 'in flight' } })).sendMessage;
    await receiver.until((all) => all.some((r) => r.payload.data.id === inFlight.id));
    const justCommitted = (await gql(first.port, alice, SendMessageDocument, { input: { conversationId, content: 'just committed' } })).sendMessage;
    first.service.child.kill('SIGKILL');
    await first.service.exited;

    receiver.answer = () => 200;
    const mark = receiver.received.length;
    const second = await start();
    // Both arrive from the restarted server (the held requests of the first went nowhere).
    await receiver.until((all) => [inFlight.id, justCommitted.id].every((id) => all.slice(mark).some((r) => r.payload.data.id === id)));
    for (const r of receiver.received) expect(receiver.verifies(r, createWebhook.secret)).toBe(true);
    // Both are logged as delivered.
    await eventually(async () => {
      const { webhookDeliveries } = await gql(second.port, admin, WebhookDeliveriesDocument, { webhookId: createWebhook.webhook.id, status: 'SUCCEEDED' });
      return webhookDeliveries.nodes.length === 2;
    });
    second.service.child.kill('SIGTERM');
    expect(await second.service.exited).toBe(0);
  }, 300_000);
});

describeTwoInstances('webhooks on two instances', () => {
  const servers = twoInstances({ env: WEBHOOK_TEST_ENV });
  let receiver: Receiver;
  beforeAll(async () => {
    receiver = await startReceiver();
  });
  afterAll(() => receiver?.close());

  it('uses a webhook created on one instance for sends on the other, and delivers each event once', async () => {
    const { a, b } = servers;
    const admin = await a.token('root', { roles: ['admin'] });
    const { alice } = await users(a, ['alice']);
    const conversationId = await createGroup(a, alice, [], 'two');
    // b has looked at the org's subscriptions (none) before the webhook exists.
    await send(b, alice, conversationId, 'before');
    const { webhook } = dataOf(await a.gql(admin, CreateWebhookDocument, { input: { url: receiver.url, events: ['message.created'] } })).createWebhook;
    const sent = await Promise.all(Array.from({ length: 40 }, (_, i) => send(i % 2 ? a : b, alice, conversationId, `m${i}`)));
    const ids = new Set(sent.map((m) => m.id));
    await receiver.until((all) => new Set(all.map((r) => r.payload.data.id)).size >= ids.size);
    const log = async () =>
      dataOf(await a.gql(admin, WebhookDeliveriesDocument, { webhookId: webhook.id, status: 'SUCCEEDED', first: 100 })).webhookDeliveries.nodes;
    await eventually(async () => (await log()).length === ids.size);
    const received = receiver.received.map((r) => r.headers['webhook-id']);
    expect(new Set(receiver.received.map((r) => r.payload.data.id))).toEqual(ids);
    // Once each: one request per attempt the log shows, and one attempt unless one timed out on a
    // busy machine (then its retry is the at-least-once guarantee, not a second instance's copy).
    for (const delivery of await log()) expect(received.filter((id) => id === delivery.eventId)).toHaveLength(delivery.attempts);
    expect(received).toHaveLength((await log()).reduce((n, d) => n + d.attempts, 0));
  });
});
