// SIGTERM on a real server process (src/main.ts): the request in flight finishes and is answered,
// sockets close with 1001 (going away: reconnect elsewhere), and the process exits cleanly.
// The request is held open honestly: the test locks the conversation's row in Postgres, so the
// send waits on that lock until the test lets go.
import { randomBytes } from 'node:crypto';
import { print } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversationDocument, MessageAddedDocument, SendMessageDocument } from '../../src/client/generated/graphql.js';
import { mintToken } from '../../src/auth/jwt.js';
import { rawSocket } from '../kit/realtime.js';
import { spawnService, type ServiceProcess } from '../kit/service-process.js';
import { createTestDatabase, TEST_DATABASE_URL } from '../kit/services.js';
import { eventually } from '../kit/subscriptions.js';

type Started = ServiceProcess & { url: string; wsUrl: string };

/** The service on a free port, with its logs. */
async function startMain(env: Record<string, string>): Promise<Started> {
  const service = spawnService(env);
  const port = await service.listening;
  return { ...service, url: `http://127.0.0.1:${port}/graphql`, wsUrl: `ws://127.0.0.1:${port}/graphql` };
}

async function gql(url: string, token: string, query: string, variables: unknown) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, body: (await res.json()) as { data?: Record<string, any>; errors?: unknown[] } };
}

describe.skipIf(!TEST_DATABASE_URL)('SIGTERM drains', () => {
  let db: { url: string; drop: () => Promise<void> };
  let started: Started | undefined;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(async () => {
    if (started && started.child.exitCode === null && started.child.signalCode === null) started.child.kill('SIGKILL');
    await db?.drop();
  });

  it('finishes the request in flight, closes sockets with 1001 and exits 0', async () => {
    const secret = randomBytes(32).toString('hex');
    started = await startMain({ DATABASE_URL: db.url, JWT_SECRET: secret, SHUTDOWN_GRACE_MS: '10000' });
    const { url, wsUrl, child } = started;
    const alice = await mintToken(secret, { sub: 'alice' });
    const bob = await mintToken(secret, { sub: 'bob' });
    const created = await gql(url, alice, print(CreateConversationDocument), { input: { type: 'GROUP', name: 'drain', participantIds: ['bob'] } });
    const conversationId = created.body.data!.createConversation.id as string;

    // Bob listens on a socket.
    const socket = await rawSocket(wsUrl, bob);
    socket.subscribe('1', MessageAddedDocument, { conversationId });

    // The test holds the conversation's row: a send has to wait for it.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('SELECT 1 FROM conversations WHERE id = $1 FOR UPDATE', [conversationId]);
    const inFlight = gql(url, alice, print(SendMessageDocument), { input: { conversationId, content: 'in flight', clientMessageId: 'drain-1' } });
    await eventually(async () => {
      const { rows } = await locker.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      return rows[0].n > 0;
    });

    child.kill('SIGTERM');
    // Sockets are told to go away (1001) at once, while the request is still waiting.
    const closed = await socket.closed;
    expect(closed.code).toBe(1001);
    let answered = false;
    void inFlight.then(() => (answered = true));
    expect(answered).toBe(false);
    expect(child.exitCode).toBeNull();

    // Let the send through: it commits and is answered, then the process exits cleanly.
    await locker.query('COMMIT');
    const result = await inFlight;
    expect(result.status).toBe(200);
    expect(result.body.errors).toBeUndefined();
    expect(result.body.data!.sendMessage).toMatchObject({ seq: 1, content: 'in flight' });
    const started_ = Date.now();
    expect(await started.exited).toBe(0);
    expect(Date.now() - started_).toBeLessThan(15_000);

    // What was acknowledged is stored.
    const { rows } = await locker.query('SELECT seq, content FROM messages WHERE conversation_id = $1', [conversationId]);
    expect(rows).toEqual([{ seq: 1, content: 'in flight' }]);
    await locker.end();
    // The logs say why it stopped.
    expect(started.logs.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM')).toBe(true);
  });
});
