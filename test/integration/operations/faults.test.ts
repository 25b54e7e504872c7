// Faults of the services under the server: a Redis that goes away and comes back (a redis-server of
// this test alone), and a Postgres that drops every connection and refuses new ones (a TCP proxy
// in this process between the server and the test Postgres). After each, every acknowledged
// message must be stored once and delivered once, in order.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  EditMessageDocument,
  MessageAddedDocument,
  MessagesDocument,
  MessageUpdatedDocument,
  RemoveParticipantDocument,
  SendMessageDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import { createSwitchboardClient } from '../../../src/client/index.js';
import { hasRedisServer, type RedisProcess, redisProcess, type TcpProxy, tcpProxy, viaProxy } from '../../kit/faults.js';
import { createGroup, rawSocket, sendText } from '../../kit/realtime.js';
import { capturedLog, dataOf, type GqlResult, startServer, type TestServer } from '../../kit/server.js';
import { backends, createTestDatabase, TEST_DATABASE_URL } from '../../kit/services.js';
import { collect, eventually } from '../../kit/subscriptions.js';

// None of these tests times a request. A request that waited for the service that is away would
// not be answered before the test brings the service back, which it does only after the request
// is answered: the test would hang, and vitest's own timeout would fail it.

type Sent = { seq: number; content: string; clientMessageId?: string | null };

/** A send with its content as clientMessageId (a retry of it is the same send). */
const send = (server: TestServer, auth: string, conversationId: string, content: string) =>
  server.gql(auth, SendMessageDocument, { input: { conversationId, content, clientMessageId: content } });

async function storedSeqs(server: TestServer, auth: string, conversationId: string) {
  const { messages } = dataOf(await server.gql(auth, MessagesDocument, { conversationId, first: 200 }));
  return messages.edges.map(({ node: m }) => ({ seq: m.seq, content: m.content }));
}

async function fetchStatus(url: string) {
  const res = await fetch(url);
  return { status: res.status, body: await res.text() };
}

describe.skipIf(!hasRedisServer)('Redis goes away and comes back', () => {
  let redis: RedisProcess;
  let server: TestServer;

  beforeAll(async () => {
    redis = await redisProcess();
    server = await startServer({ redisUrl: redis.url });
  });
  afterAll(async () => {
    await server?.stop();
    await redis?.stop();
  });

  it('keeps committing and answering sends, fails publishing fast, and resyncs every subscriber by seq', async () => {
    const alice = await server.token('alice');
    const bob = await server.token('bob');
    const conversationId = await createGroup(server, alice, ['bob']);
    const base = new URL(server.url).origin;

    // Bob follows the conversation on one socket for the whole test.
    const live = await server.live(() => collect(server.ws(bob), MessageAddedDocument, { conversationId }));

    const acknowledged: Sent[] = [];
    const sendOk = async (content: string) => {
      acknowledged.push(dataOf(await send(server, alice, conversationId, content)).sendMessage);
    };

    for (let i = 0; i < 3; i++) await sendOk(`before-${i}`);
    await live.waitFor(3);

    const failuresBefore = server.app.services.bus.publishFailures;
    await redis.stop();
    // The instance notices (its connections close) within moments.
    await eventually(async () => (await fetchStatus(`${base}/ready`)).status === 503);
    const ready = JSON.parse((await fetchStatus(`${base}/ready`)).body);
    expect(ready.checks.postgres).toBe('ok');
    expect(ready.checks.redis).not.toBe('ok');
    expect((await fetchStatus(`${base}/health`)).status).toBe(200);

    // While Redis is away: every send commits and answers with its data, without waiting on Redis.
    for (let i = 0; i < 5; i++) await sendOk(`during-${i}`);
    // Publishing failed (and was counted), it did not queue up to be sent later.
    expect(server.app.services.bus.publishFailures).toBeGreaterThanOrEqual(failuresBefore + 5);
    const metricsText = (await fetchStatus(`${base}/metrics`)).body;
    expect(metricsText).toMatch(/switchboard_publish_failures_total [1-9]/);
    // A retry of an acknowledged send is still answered from the database: exactly once.
    const retry = await send(server, alice, conversationId, 'during-0');
    expect(dataOf(retry).sendMessage.seq).toBe(acknowledged[3]!.seq);
    // Requests that need only Postgres are unaffected (rate limits fall back to this instance).
    // (Presence lives in Redis: a query asking for it fails while Redis is away.)
    const viewer = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bob}` },
      body: JSON.stringify({ query: '{ viewer { id displayName } }' }),
    }).then((r) => r.json());
    expect(viewer).toEqual({ data: { viewer: { id: 'bob', displayName: expect.any(String) } } });

    await redis.start();
    await eventually(async () => (await fetchStatus(`${base}/ready`)).status === 200);
    for (let i = 0; i < 3; i++) await sendOk(`after-${i}`);

    // The socket that stayed open gets everything: what it missed read back from the database,
    // then live ones, each once and in order (the last is the barrier: anything duplicated would
    // have come before it).
    const expected = acknowledged.map((m) => m.seq);
    expect(expected).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    await live.waitFor(expected.length);
    expect(live.events.map((e) => e.messageAdded.seq)).toEqual(expected);
    expect(live.events.map((e) => e.messageAdded.content)).toEqual(acknowledged.map((m) => m.content));
    expect(live.errors).toEqual([]);

    // A client that reconnects resumes by seq: afterSeq 3 gives exactly what came after.
    const resumed = collect(server.ws(bob), MessageAddedDocument, { conversationId, afterSeq: 3 });
    await resumed.waitFor(8);
    expect(resumed.events.map((e) => e.messageAdded.seq)).toEqual(expected.slice(3));

    // Stored once each: the database holds the acknowledged messages and nothing else.
    expect(await storedSeqs(server, bob, conversationId)).toEqual(acknowledged.map((m) => ({ seq: m.seq, content: m.content })));
    live.stop();
    resumed.stop();
  });

  it('lets a socket connect while Redis is away; its subscription starts when Redis is back, from the requested seq', async () => {
    const alice = await server.token('carol');
    const bob = await server.token('dave');
    const conversationId = await createGroup(server, alice, ['dave']);
    const ready = async () => (await fetchStatus(`${new URL(server.url).origin}/ready`)).status === 200;
    await redis.stop();
    try {
      // Presence is best effort: the socket connects without Redis. The subscription waits for
      // its channel (the subscriber queues SUBSCRIBE until Redis answers).
      const client = server.ws(bob);
      const sub = collect(client, MessageAddedDocument, { conversationId, afterSeq: 0 });
      expect(dataOf(await send(server, alice, conversationId, 'while-away')).sendMessage.seq).toBe(1);
      await redis.start();
      await eventually(ready);
      // The catch-up reads what was sent meanwhile, then live delivery works again.
      await sub.waitFor(1);
      await send(server, alice, conversationId, 'after-return');
      await sub.waitFor(2);
      expect(sub.events.map((e) => e.messageAdded.seq)).toEqual([1, 2]);
      sub.stop();
    } finally {
      if (!(await ready())) await redis.start().catch(() => {});
    }
  });
});

for (const backend of backends) {
  describe.skipIf(!hasRedisServer)(`a removal committed while Redis is away, on ${backend}`, () => {
    let redis: RedisProcess;
    let server: TestServer;

    beforeAll(async () => {
      redis = await redisProcess();
      server = await startServer({ backend, redisUrl: redis.url });
    });
    afterAll(async () => {
      await server?.stop();
      await redis?.stop();
    });

    it('ends the removed participant’s subscriptions when Redis is back, delivering them nothing sent after the removal', async () => {
      const alice = await server.token('alice');
      const bob = await server.token('bob');
      const carol = await server.token('carol');
      const conversationId = await createGroup(server, alice, ['bob', 'carol']);
      // Bob's conversation with dave, which he stays in: the barrier for his all-conversations stream.
      const elsewhere = await createGroup(server, bob, ['dave']);
      const base = new URL(server.url).origin;
      const ready = async () => (await fetchStatus(`${base}/ready`)).status === 200;

      const bobs = server.ws(bob);
      const bobMessages = collect(bobs, MessageAddedDocument, { conversationId });
      const bobUpdates = collect(bobs, MessageUpdatedDocument, { conversationId });
      const bobAll = collect(bobs, MessageAddedDocument, {});
      const carolMessages = collect(server.ws(carol), MessageAddedDocument, { conversationId });
      const contents = (c: typeof bobAll) => c.events.map((e) => e.messageAdded.content);
      // Live once a message sent now reaches every stream (the all-conversations one goes live last).
      await eventually(async () => {
        await sendText(server, alice, conversationId, 'before');
        return bobAll.events.length > 0;
      });
      const first = await sendText(server, alice, conversationId, 'first');
      await eventually(async () => {
        dataOf(await server.gql(alice, EditMessageDocument, { id: first.id, content: 'first, edited' }));
        return bobUpdates.events.length > 0;
      });
      // Events of a topic arrive in order: once these are in, nothing sent before is still on its way.
      dataOf(await server.gql(alice, EditMessageDocument, { id: first.id, content: 'first, last edit' }));
      await eventually(() => bobUpdates.events.some((e) => e.messageUpdated.content === 'first, last edit'));
      await eventually(() => contents(bobMessages).includes('first') && contents(bobAll).includes('first'));
      const seenBefore = { messages: bobMessages.events.length, updates: bobUpdates.events.length, all: bobAll.events.length };

      await redis.stop();
      await eventually(async () => !(await ready()));
      try {
        // Committed; its event is lost with Redis.
        expect(dataOf(await server.gql(alice, RemoveParticipantDocument, { conversationId, userId: 'bob' })).removeParticipant).toBe(true);
        await sendText(server, alice, conversationId, 'during');
      } finally {
        await redis.start();
      }
      await eventually(ready);
      const after = await sendText(server, alice, conversationId, 'after');
      dataOf(await server.gql(alice, EditMessageDocument, { id: after.id, content: 'after, edited' }));

      // Carol, still in it, gets what was sent while Redis was away and what came after.
      await eventually(() => contents(carolMessages).includes('after'));
      expect(contents(carolMessages).slice(-2)).toEqual(['during', 'after']);
      // Bob's streams of the conversation end, with nothing sent after his removal.
      await bobMessages.waitForEnd();
      await bobUpdates.waitForEnd();
      expect(bobMessages.events).toHaveLength(seenBefore.messages);
      expect(bobUpdates.events).toHaveLength(seenBefore.updates);
      // His all-conversations stream goes on for the conversations he is still in, without this one.
      await eventually(async () => {
        await sendText(server, bob, elsewhere, 'still here');
        return contents(bobAll).includes('still here');
      });
      expect(bobAll.events.slice(seenBefore.all).map((e) => e.messageAdded.conversationId)).not.toContain(conversationId);
      expect(bobAll.done).toBe(false);
      for (const c of [bobAll, carolMessages]) c.stop();
    });
  });
}

describe.skipIf(!TEST_DATABASE_URL)('Postgres drops every connection and refuses new ones', () => {
  let proxy: TcpProxy;
  let server: TestServer;
  let drop: () => Promise<void>;
  const CONNECT_TIMEOUT_MS = 1_000;
  const captured = capturedLog('info');

  beforeAll(async () => {
    const db = await createTestDatabase();
    drop = db.drop;
    const target = new URL(db.url);
    proxy = await tcpProxy({ host: target.hostname, port: Number(target.port || 5432) });
    server = await startServer({
      databaseUrl: viaProxy(db.url, proxy),
      log: captured.log,
      env: { DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS), DATABASE_POOL_MAX: '5' },
    });
  });
  afterAll(async () => {
    await server?.stop();
    await proxy?.close();
    await drop?.();
  });
  afterEach(() => proxy.setMode('pass'));

  const expectMaskedInternal = (result: GqlResult<unknown>) => {
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.length).toBeGreaterThan(0);
    for (const e of result.errors!) {
      expect(e.extensions?.code).toBe('INTERNAL_SERVER_ERROR');
      expect(e.message).toBe('Internal server error');
      expect(JSON.stringify(e)).not.toMatch(/stack|select|insert|update|postgres|ECONN|timeout|terminated|\.ts:\d/i);
    }
  };

  for (const mode of ['refuse', 'blackhole'] as const) {
    it(`fails requests fast and masked while connections ${mode === 'refuse' ? 'are refused' : 'hang'}, stays up, and recovers by itself`, async () => {
      const alice = await server.token(`alice-${mode}`);
      const bob = await server.token(`bob-${mode}`);
      const conversationId = await createGroup(server, alice, [`bob-${mode}`]);
      const base = new URL(server.url).origin;
      const live = await server.live(() => collect(server.ws(bob), MessageAddedDocument, { conversationId }));

      const acknowledged: Sent[] = [];
      for (let i = 0; i < 3; i++) acknowledged.push(dataOf(await send(server, alice, conversationId, `${mode}-a${i}`)).sendMessage);
      expect(proxy.open).toBeGreaterThan(0);

      proxy.setMode(mode);
      proxy.cutAll();

      // Every request fails, masked, while the outage lasts (a black hole answers nothing: only
      // the connect timeout ends those).
      for (let i = 0; i < 3; i++) expectMaskedInternal(await send(server, alice, conversationId, `${mode}-lost${i}`));
      expectMaskedInternal(await server.gql(bob, MessagesDocument, { conversationId, first: 10 }));

      // What the client did not see is logged in full on the server.
      const logged = captured.lines.filter((l) => l.msg === 'unexpected error');
      expect(logged.length).toBeGreaterThan(0);
      expect(JSON.stringify(logged.at(-1)!.err)).toMatch(/timeout|terminated|ECONNRESET|connect|Failed query/i);

      // The process is up; it says it cannot serve.
      expect((await fetchStatus(`${base}/health`)).status).toBe(200);
      const notReady = await fetchStatus(`${base}/ready`);
      expect(notReady.status).toBe(503);
      expect(JSON.parse(notReady.body).checks.postgres).not.toBe('ok');

      // Postgres is reachable again: requests succeed without a restart.
      proxy.setMode('pass');
      await eventually(async () => (await fetchStatus(`${base}/ready`)).status === 200);
      for (let i = 0; i < 3; i++) acknowledged.push(dataOf(await send(server, alice, conversationId, `${mode}-b${i}`)).sendMessage);

      // A send that failed wrote nothing: seqs run on without a gap, and the failed ones are absent.
      expect(acknowledged.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      expect(await storedSeqs(server, bob, conversationId)).toEqual(acknowledged.map((m) => ({ seq: m.seq, content: m.content })));
      // The last is the barrier: anything duplicated or out of order would have come before it.
      await live.waitFor(6);
      expect(live.events.map((e) => e.messageAdded.seq)).toEqual([1, 2, 3, 4, 5, 6]);
      live.stop();
    });
  }

  it('closes a socket connecting while Postgres is away with 4500, not 4403; the typed client gets in once it is back', async () => {
    const alice = await server.token('alice-outage');
    // Never seen by the server itself: checking the token needs the database (just-in-time provisioning).
    const carol = await server.token('carol-outage');
    const conversationId = await createGroup(server, alice, ['carol-outage']);
    proxy.setMode('refuse');
    proxy.cutAll();
    const raw = await rawSocket(server.wsUrl, carol, { init: false });
    raw.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${carol}` } }));
    expect((await raw.closed).code).toBe(4500);

    // graphql-ws's client takes 4500 as final; the typed client subscribes again until it gets in,
    // and then receives what was sent meanwhile.
    const sb = createSwitchboardClient({ url: server.url, token: carol, webSocketImpl: WebSocket });
    const received: number[] = [];
    const errors: unknown[] = [];
    const off = sb.onMessage(conversationId, (m) => received.push(m.seq), { afterSeq: 0, onError: (err) => errors.push(err) });
    const refusals = () => captured.lines.filter((l) => l.msg === 'websocket connection_init failed').length;
    const refusedBefore = refusals();
    try {
      // Refused while Postgres is away, and trying again.
      await eventually(() => refusals() >= refusedBefore + 2);
      proxy.setMode('pass');
      await eventually(async () => {
        const sent = await server.gql(alice, SendMessageDocument, { input: { conversationId, content: 'back' } });
        return !sent.errors;
      });
      await eventually(() => received.length > 0);
      expect(received[0]).toBe(1);
      expect(errors).toEqual([]);
    } finally {
      off();
      await sb.close();
    }
  });

  it('survives Postgres killing its backends (pg_terminate_backend) and serves the next request', async () => {
    const alice = await server.token('alice-term');
    const conversationId = await createGroup(server, alice, ['bob-term']);
    const pg = await import('pg');
    const admin = new pg.default.Client({ connectionString: TEST_DATABASE_URL });
    await admin.connect();
    try {
      const dbName = new URL(server.databaseUrl!).pathname.slice(1);
      const { rows } = await admin.query('SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [
        dbName,
      ]);
      expect(rows.length).toBeGreaterThan(0);
    } finally {
      await admin.end();
    }
    // Idle clients that died are dropped by the pool; at worst one request sees a masked error.
    await eventually(async () => !(await server.gql(alice, ViewerDocument)).errors);
    expect(dataOf(await send(server, alice, conversationId, 'after-terminate')).sendMessage.seq).toBe(1);
    expect((await fetchStatus(`${new URL(server.url).origin}/health`)).status).toBe(200);
  });
});
