// SIGTERM on a real server process (src/main.ts): the request in flight finishes and is answered,
// sockets close with 1001 (going away: reconnect elsewhere), and the process exits cleanly.
// The request is held open honestly: the test locks the conversation's row in Postgres, so the
// send waits on that lock until the test lets go. And stop() in process: SSE streams complete at
// once instead of holding the server for the grace period.
import { randomBytes } from 'node:crypto';
import { print } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../../src/auth/jwt.js';
import { CreateConversationDocument, MessageAddedDocument, SendMessageDocument } from '../../../src/client/generated/graphql.js';
import { createGroup, rawSocket, sendText } from '../../kit/realtime.js';
import { startServer } from '../../kit/server.js';
import { type ServiceProcess, spawnService } from '../../kit/service-process.js';
import { backends, createTestDatabase, TEST_DATABASE_URL } from '../../kit/services.js';
import { eventually } from '../../kit/subscriptions.js';

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
    // A grace far beyond the test's timeout: a process that waited it out would time the test out.
    started = await startMain({ DATABASE_URL: db.url, JWT_SECRET: secret, SHUTDOWN_GRACE_MS: '600000' });
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
      const { rows } = await locker.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
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
    expect(await started.exited).toBe(0);

    // What was acknowledged is stored.
    const { rows } = await locker.query('SELECT seq, content FROM messages WHERE conversation_id = $1', [conversationId]);
    expect(rows).toEqual([{ seq: 1, content: 'in flight' }]);
    await locker.end();
    // The logs say why it stopped.
    expect(started.logs.some((l) => l.msg === 'shutting down' && l.signal === 'SIGTERM')).toBe(true);
  });
});

describe.each(backends)('stop() with SSE streams open on %s', (backend) => {
  it('ends each stream with a complete event and does not wait the grace period for them', async () => {
    // A grace far beyond the test's timeout: a stop() that waited for the streams would time out.
    const server = await startServer({ backend, env: { SHUTDOWN_GRACE_MS: '600000' } });
    const alice = await server.token('alice');
    const bob = await server.token('bob');
    const conversationId = await createGroup(server, alice, ['bob']);
    const { seq } = await sendText(server, alice, conversationId, 'before the stream');

    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${bob}` },
      body: JSON.stringify({ query: print(MessageAddedDocument), variables: { conversationId, afterSeq: seq - 1 } }),
    });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    /** Reads until `done` holds of what came so far, or the stream ends (then false). */
    const readUntil = async (done: (text: string) => boolean) => {
      while (!done(text)) {
        const chunk = await reader.read();
        if (chunk.done) return false;
        text += decoder.decode(chunk.value, { stream: true });
      }
      return true;
    };
    // The stream is live: the stored message came through it.
    expect(await readUntil((t) => t.includes('before the stream'))).toBe(true);

    const stopped = server.stop();
    // Read to the end: the last event is the completion, after the message already sent.
    expect(await readUntil(() => false)).toBe(false);
    const events = [...text.matchAll(/^event: (\w+)$/gm)].map((m) => m[1]);
    expect(events).toEqual(['next', 'complete']);
    await stopped;
  });
});
