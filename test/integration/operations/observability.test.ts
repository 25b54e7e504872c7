// What operators see: one JSON log line per operation with request id, user and operation;
// /health and /ready; Prometheus metrics for sockets, subscriptions, sends, deliveries, publish
// failures and operation latency; database errors logged by their code, without the statement's
// parameters. (Masked errors logged: operations/faults, Postgres.)
import { sql } from 'drizzle-orm';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageAddedDocument, SendMessageDocument } from '../../../src/client/generated/graphql.js';
import { createGroup, rawSocket, UNLIMITED_ENV } from '../../kit/realtime.js';
import { capturedLog, startServer, type TestServer } from '../../kit/server.js';
import { backends, TEST_REDIS_URL } from '../../kit/services.js';
import { collect, eventually } from '../../kit/subscriptions.js';

/** The value of a sample in Prometheus text, e.g. `switchboard_open_sockets`. */
const sample = (text: string, name: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `) || (l.startsWith(`${name}{`) && !l.startsWith('#')));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
};

describe('logs, health and metrics', () => {
  let server: TestServer;
  let base: string;
  const captured = capturedLog('info');

  beforeAll(async () => {
    server = await startServer({ env: UNLIMITED_ENV, log: captured.log });
    base = new URL(server.url).origin;
  });
  afterAll(() => server?.stop());

  it('logs each operation as JSON with its request id, user, operation and outcome', async () => {
    const alice = await server.token('alice');
    const conversationId = await createGroup(server, alice, ['bob']);
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}`, 'x-request-id': 'req-observe-1' },
      body: JSON.stringify({ query: print(SendMessageDocument), variables: { input: { conversationId, content: 'logged' } }, operationName: 'SendMessage' }),
    });
    expect(res.status).toBe(200);
    await eventually(() => captured.lines.some((l) => l.requestId === 'req-observe-1'));
    const line = captured.lines.find((l) => l.requestId === 'req-observe-1' && l.msg === 'operation')!;
    expect(line).toMatchObject({ service: 'switchboard', user: 'alice', operation: 'SendMessage', type: 'mutation', fields: ['sendMessage'] });
    expect(typeof line.ms).toBe('number');
    // The message's content is not logged.
    expect(JSON.stringify(captured.lines)).not.toContain('"logged"');

    // A failed operation is logged with its error code; without a request id one is generated.
    await server.gql(alice, SendMessageDocument, { input: { conversationId: '00000000-0000-0000-0000-000000000000', content: 'x' } });
    const failed = captured.lines.filter((l) => l.msg === 'operation' && Array.isArray(l.errors) && (l.errors as string[]).length).at(-1)!;
    expect(failed.errors).toEqual([expect.stringMatching(/NOT_FOUND|FORBIDDEN/)]);
    expect(String(failed.requestId)).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('answers /health and /ready with the state of Postgres, and pub/sub in-process without Redis', async () => {
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', pubsub: 'in-process' } });
  });

  it.skipIf(!TEST_REDIS_URL)('answers /ready with the state of Redis when it is configured', async () => {
    const withRedis = await startServer({ redisUrl: TEST_REDIS_URL });
    try {
      const ready = await fetch(`${new URL(withRedis.url).origin}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'ready', checks: { postgres: 'ok', redis: 'ok' } });
    } finally {
      await withRedis.stop();
    }
  });

  it('exports sockets, subscriptions, sends, deliveries and latency to Prometheus', async () => {
    const alice = await server.token('carol');
    const bob = await server.token('dave');
    const conversationId = await createGroup(server, alice, ['dave']);
    const metrics = async () => (await fetch(`${base}/metrics`)).text();
    const before = await metrics();
    const sentBefore = sample(before, 'switchboard_messages_sent_total') ?? 0;
    const deliveredBefore = sample(before, 'switchboard_deliveries_total') ?? 0;

    const raw = await rawSocket(server.wsUrl, bob);
    const sub = collect(server.ws(bob), MessageAddedDocument, { conversationId });
    await eventually(async () => sample(await metrics(), 'switchboard_active_subscriptions') === 1);
    expect(sample(await metrics(), 'switchboard_open_sockets')).toBe(2);

    for (let i = 0; i < 3; i++) await server.gql(alice, SendMessageDocument, { input: { conversationId, content: `m${i}` } });
    await sub.waitFor(3);
    const text = await metrics();
    expect(sample(text, 'switchboard_messages_sent_total')).toBe(sentBefore + 3);
    expect(sample(text, 'switchboard_deliveries_total')).toBe(deliveredBefore + 3);
    expect(sample(text, 'switchboard_publish_failures_total')).toBe(0);
    expect(text).toMatch(/switchboard_operation_duration_seconds_count\{type="mutation",operation="sendMessage"\} \d+/);
    expect(text).toMatch(/switchboard_operation_duration_seconds_bucket\{le="[\d.]+",type="mutation",operation="sendMessage"\}/);

    // Both sockets go (the lazy client closes once its last subscription stops).
    sub.stop();
    raw.socket.close(1000);
    await raw.closed;
    await eventually(async () => {
      const t = await metrics();
      return sample(t, 'switchboard_active_subscriptions') === 0 && sample(t, 'switchboard_open_sockets') === 0;
    });
  });
});

describe.each(backends)('database errors in the log on %s', (backend) => {
  let server: TestServer;
  const captured = capturedLog('info');

  beforeAll(async () => {
    server = await startServer({ backend, env: UNLIMITED_ENV, log: captured.log });
  });
  afterAll(() => server?.stop());

  it('logs the Postgres code, constraint and statement of a failed send, never its text or other parameters', async () => {
    const alice = await server.token('alice');
    const conversationId = await createGroup(server, alice, ['bob']);
    // A constraint that refuses what the test sends: the send fails in the database itself.
    await server.app.services.database.db.execute(sql.raw(`ALTER TABLE messages ADD CONSTRAINT no_zebra CHECK (position('zebra' in content) = 0)`));
    const secret = 'the zebra crosses at quarter-past-nine';
    const send = (i: number) =>
      fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}` },
        body: JSON.stringify({
          query: print(SendMessageDocument),
          variables: { input: { conversationId, content: `${secret} #${i}`, metadata: { note: `striped ${i}` }, clientMessageId: `cmid-zebra-${i}` } },
        }),
      }).then((r) => r.json() as Promise<{ errors?: { extensions?: { code?: string } }[] }>);
    // Alone, and several at once (the group commit stores them in one statement, then each alone).
    const answers = [await send(0), ...(await Promise.all([1, 2, 3, 4].map(send)))];
    for (const answer of answers) expect(answer.errors?.[0]?.extensions?.code).toBe('INTERNAL_SERVER_ERROR');

    const logged = captured.lines.filter((l) => l.msg === 'unexpected error');
    expect(logged.length).toBeGreaterThanOrEqual(answers.length);
    for (const line of logged) {
      expect(line.err).toMatchObject({ code: '23514', statement: expect.stringMatching(/^with "queued" as/) });
      expect(JSON.stringify(line.err)).toContain('"constraint":"no_zebra"');
    }
    const everything = JSON.stringify(captured.lines);
    for (const leak of ['zebra crosses', 'quarter-past-nine', 'striped', 'cmid-zebra', conversationId, 'params']) expect(everything).not.toContain(leak);
    await server.app.services.database.db.execute(sql.raw('ALTER TABLE messages DROP CONSTRAINT no_zebra'));
  });
});
