// The WebSocket and SSE transports: one port and path for HTTP, graphql-ws and SSE; the
// connection_init handshake (close 4403 for refused credentials, 4500 when they cannot be checked)
// and token expiry (4403); per-socket limits; keep-alive.
import { connect } from 'node:net';
import { sql } from 'drizzle-orm';
import { print } from 'graphql';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  MessageAddedDocument,
  MessagesDocument,
  PresenceDocument,
  SetTypingDocument,
  TypingDocument,
  UserDocument,
} from '../../../src/client/generated/graphql.js';
import { MAX_SUBSCRIPTIONS_PER_SOCKET } from '../../../src/transport/ws-session.js';
import { createGroup, nextClose, type RawSocket, rawSocket, sendText, sleep, UNLIMITED_ENV } from '../../kit/realtime.js';
import { activeSubscriptions, dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { collect, eventually } from '../../kit/subscriptions.js';

/** Reads an SSE response body and yields each `data:` payload of `next` events as JSON. */
async function* sseEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ event: string; data: unknown }> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event = /^event: ?(.*)$/m.exec(block)?.[1] ?? 'message';
      const data = block
        .split('\n')
        .filter((l) => l.startsWith('data:'))
        .map((l) => l.slice(5).trimStart())
        .join('\n');
      if (data || event === 'complete') yield { event, data: data ? JSON.parse(data) : null };
    }
  }
}

describe.each(backends)('real-time transports on %s', (backend) => {
  let server: TestServer;
  let alice: string;
  let bob: string;
  let conversationId: string;

  beforeAll(async () => {
    // Typing never lapses here: a typing event reaches a subscriber however late it is delivered.
    server = await startServer({ backend, env: UNLIMITED_ENV, timing: { typingTtlMs: 3_600_000 } });
    alice = await server.token('alice', { name: 'Alice' });
    bob = await server.token('bob', { name: 'Bob' });
    conversationId = await createGroup(server, alice, ['bob']);
  });
  afterAll(() => server?.stop());

  it('serves graphql-ws on the HTTP port and path; a delivered message can be read at once', async () => {
    expect(new URL(server.wsUrl).port).toBe(new URL(server.url).port);
    expect(new URL(server.wsUrl).pathname).toBe(new URL(server.url).pathname);
    const client = server.ws(bob);
    const readable: boolean[] = [];
    const received: number[] = [];
    // afterSeq makes the start certain: whatever is sent from now on is delivered.
    const { seq: start } = await sendText(server, alice, conversationId, 'start');
    await new Promise<void>((resolve, reject) => {
      const stop = client.subscribe(
        { query: print(MessageAddedDocument), variables: { conversationId, afterSeq: start } },
        {
          next: async (result) => {
            const seq = (result.data as { messageAdded: { seq: number } }).messageAdded.seq;
            received.push(seq);
            // Publish after commit: whoever hears of a message can query it straight away.
            const page = dataOf(await server.gql(bob, MessagesDocument, { conversationId, last: 5 }));
            readable.push(page.messages.nodes.some((m) => m.seq === seq));
            if (readable.length === 3) {
              stop();
              resolve();
            }
          },
          error: reject,
          complete: () => {},
        },
      );
      void (async () => {
        for (let i = 0; i < 3; i++) await sendText(server, alice, conversationId, `hello ${i}`);
      })();
    });
    expect(readable).toEqual([true, true, true]);
    expect(received).toEqual([start + 1, start + 2, start + 3]);
    await client.dispose();
  });

  it('delivers a subscription over SSE (Accept: text/event-stream) with the same auth and resolvers', async () => {
    const { seq: before } = await sendText(server, alice, conversationId, 'before the SSE subscription');
    const abort = new AbortController();
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${bob}` },
      body: JSON.stringify({ query: print(MessageAddedDocument), variables: { conversationId, afterSeq: before - 1 } }),
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const seen: { seq: number; content: string; sender: { id: string } }[] = [];
    let sentLive = false;
    for await (const { event, data } of sseEvents(res.body!)) {
      if (event !== 'next') continue;
      const m = (data as { data: { messageAdded: (typeof seen)[number] } }).data.messageAdded;
      seen.push(m);
      if (!sentLive) {
        sentLive = true;
        await sendText(server, alice, conversationId, 'live over SSE');
      }
      if (seen.length === 2) break;
    }
    abort.abort();
    expect(seen.map((m) => m.content)).toEqual(['before the SSE subscription', 'live over SSE']);
    expect(seen.map((m) => m.seq)).toEqual([before, before + 1]);
    expect(seen[1]!.sender.id).toBe('alice');

    // SSE without a token is refused like any other request.
    const anonymous = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: print(MessageAddedDocument), variables: { conversationId } }),
    });
    const text = await anonymous.text();
    expect(text).toContain('UNAUTHENTICATED');
  });

  it('ends a subscription streamed over HTTP when the client goes away, whatever it accepts', async () => {
    const active = () => activeSubscriptions(server);
    // No Accept header is */*: Yoga streams a subscription as SSE then too.
    for (const accept of ['text/event-stream', undefined]) {
      const baseline = await active();
      const abort = new AbortController();
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${bob}`, ...(accept ? { accept } : {}) },
        body: JSON.stringify({ query: print(MessageAddedDocument), variables: { conversationId } }),
        signal: abort.signal,
      });
      expect(res.status, `Accept: ${accept}`).toBe(200);
      await eventually(async () => (await active()) === baseline + 1);
      abort.abort();
      await eventually(async () => (await active()) === baseline);
    }
    // The same over GET (the operation in the URL).
    const getBaseline = await active();
    const abortGet = new AbortController();
    const query = new URLSearchParams({ query: print(MessageAddedDocument), variables: JSON.stringify({ conversationId }) });
    const overGet = await fetch(`${server.url}?${query}`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${bob}` },
      signal: abortGet.signal,
    });
    expect(overGet.status).toBe(200);
    await eventually(async () => (await active()) === getBaseline + 1);
    abortGet.abort();
    await eventually(async () => (await active()) === getBaseline);
    // A client that hangs up right after asking, before (or as) the stream starts. Whether the
    // answer is ready before the server sees the hang-up varies (without the server's abandon(),
    // this failed in about half the runs); either way the subscription that was made must end.
    // Counted, so the check cannot pass with none made.
    const baseline = await active();
    const made = vi.spyOn(server.app.metrics.activeSubscriptions, 'inc');
    try {
      const body = JSON.stringify({ query: print(MessageAddedDocument), variables: { conversationId } });
      const { port } = new URL(server.url);
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.end(
          `POST /graphql HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n` +
            `Authorization: Bearer ${bob}\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
          // Once the request is handed to the kernel, so the server gets all of it.
          () => socket.destroy(),
        );
      });
      await new Promise((resolve) => socket.once('close', resolve));
      await eventually(() => made.mock.calls.length === 1);
      await eventually(async () => (await active()) === baseline);
    } finally {
      made.mockRestore();
    }
  });

  it('closes the socket with 4403 on a bad, missing or already expired token at connection_init', async () => {
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bob')
      .setIssuedAt(Math.floor(Date.now() / 1000) - 120)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(new TextEncoder().encode(server.secret));
    const forged = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('bob')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('x'.repeat(40)));
    for (const auth of ['not-a-jwt', forged, expired, null]) {
      const client = server.ws(auth);
      const sub = collect(client, TypingDocument, { conversationId });
      const closed = await nextClose(client);
      expect(closed.code).toBe(4403);
      await sub.waitForEnd();
      expect(sub.events).toEqual([]);
    }
  });

  it('closes with 4500, not 4403, when connection_init cannot be checked', async () => {
    // A user never seen: checking the token provisions its row, in a table that is gone for now.
    const carol = await server.token('carol-db-broken');
    const { db } = server.app.services.database;
    await db.execute(sql`ALTER TABLE users RENAME TO users_away`);
    try {
      const raw = await rawSocket(server.wsUrl, carol, { init: false });
      raw.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${carol}` } }));
      expect(await raw.closed).toEqual({ code: 4500, reason: 'Internal server error' });
    } finally {
      await db.execute(sql`ALTER TABLE users_away RENAME TO users`);
    }
    // The same token is good once the database is.
    const again = await rawSocket(server.wsUrl, carol);
    again.socket.close(1000);
  });

  it('closes the socket with 4403 when the token expires and delivers nothing after exp', async () => {
    /** A subscription on a token of `seconds`, fed messages until its socket closes. */
    const expiring = async (seconds: number) => {
      const shortLived = await server.token('bob', { name: 'Bob', expiresIn: `${seconds}s` });
      const exp = JSON.parse(Buffer.from(shortLived.split('.')[1]!, 'base64url').toString()).exp as number;
      const { seq: start } = await sendText(server, alice, conversationId, 'start');
      const client = server.ws(shortLived);
      const closed = nextClose(client);
      const sub = collect(client, MessageAddedDocument, { conversationId, afterSeq: start });
      let sending = true;
      const sender = (async () => {
        while (sending) {
          await sendText(server, alice, conversationId, 'tick');
          await sleep(100);
        }
      })();
      const { code } = await closed;
      sending = false;
      await sender;
      return { code, exp, sub };
    };
    // A token that lapsed before anything reached the subscriber (a very busy machine) shows
    // nothing: again with one that lives twice as long.
    let run = await expiring(3);
    for (let seconds = 6; run.sub.events.length === 0; seconds *= 2) run = await expiring(seconds);
    const { code, exp, sub } = run;
    expect(code).toBe(4403);
    // Ended by the close, not completed: a client that reconnects with a fresh token resubscribes.
    await sub.waitForEnd();
    expect(sub.errors).toEqual([expect.objectContaining({ code: 4403 })]);
    for (const { messageAdded } of sub.events) expect(Date.parse(messageAdded.createdAt)).toBeLessThanOrEqual(exp * 1000);
  });

  it('ends an SSE subscription when its token expires', async () => {
    const shortLived = await server.token('bob', { name: 'Bob', expiresIn: '2s' });
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${shortLived}` },
      body: JSON.stringify({ query: print(TypingDocument), variables: { conversationId } }),
    });
    const events: string[] = [];
    for await (const { event } of sseEvents(res.body!)) events.push(event);
    // The stream ended by itself, with no event but its completion.
    expect(events.filter((e) => e === 'next')).toEqual([]);
  });

  it(`caps subscriptions per socket at ${MAX_SUBSCRIPTIONS_PER_SOCKET} with a clear error`, async () => {
    const raw = await rawSocket(server.wsUrl, bob);
    await server.live(() => {
      for (let i = 1; i <= MAX_SUBSCRIPTIONS_PER_SOCKET + 1; i++) raw.subscribe(String(i), TypingDocument, { conversationId });
    }, MAX_SUBSCRIPTIONS_PER_SOCKET);
    const refused = await raw.waitFor((m) => m.type === 'error');
    expect(refused.id).toBe(String(MAX_SUBSCRIPTIONS_PER_SOCKET + 1));
    const [error] = refused.payload as { message: string; extensions: { code: string } }[];
    expect(error!.extensions.code).toBe('RATE_LIMITED');
    expect(error!.message).toMatch(/at most 100 subscriptions per socket/i);

    // The first hundred are live: a typing event reaches every one of them.
    const typing = () => server.gql(alice, SetTypingDocument, { conversationId, isTyping: true });
    const live = () => new Set(raw.messages.filter((m) => m.type === 'next').map((m) => m.id));
    await typing();
    await eventually(() => live().size === MAX_SUBSCRIPTIONS_PER_SOCKET);

    // Completing one makes room for another (which, new, hears a refresh as the start it missed).
    await server.live(() => {
      raw.socket.send(JSON.stringify({ id: '1', type: 'complete' }));
      raw.subscribe('again', TypingDocument, { conversationId });
    });
    await typing();
    await eventually(() => live().has('again'));
    expect(raw.messages.filter((m) => m.type === 'error')).toHaveLength(1);
    raw.terminate();
  });

  it('closes a socket that sends a frame above maxPayload (1009)', async () => {
    const raw = await rawSocket(server.wsUrl, bob);
    raw.socket.send(JSON.stringify({ id: 'big', type: 'subscribe', payload: { query: `# ${'x'.repeat(300 * 1024)}\n{ __typename }` } }));
    const { code } = await raw.closed;
    expect(code).toBe(1009);
  });

  it('leaves no listener behind when sockets close normally, abruptly or mid-subscribe', async () => {
    const bus = server.app.services.bus;
    await sendText(server, alice, conversationId, 'something to replay');
    const baseline = bus.listenerCount();
    const subscribeAll = (s: RawSocket) => {
      s.subscribe('1', MessageAddedDocument, { conversationId, afterSeq: 0 });
      s.subscribe('2', MessageAddedDocument, {});
      s.subscribe('3', TypingDocument, { conversationId });
      s.subscribe('4', PresenceDocument, { userIds: ['alice'] });
    };
    for (let i = 0; i < 60; i++) {
      const s = await rawSocket(server.wsUrl, i % 2 ? alice : bob);
      subscribeAll(s);
      if (i % 3 === 0) {
        s.terminate(); // right after sending subscribe
      } else {
        await s.waitFor((m) => m.type === 'next'); // the replay has started: subscriptions are live
        if (i % 3 === 1) s.terminate();
        else s.socket.close(1000);
      }
    }
    // Completing subscriptions one by one on an open socket releases them too.
    const open = await rawSocket(server.wsUrl, bob);
    subscribeAll(open);
    await open.waitFor((m) => m.type === 'next');
    for (const id of ['1', '2', '3', '4']) open.socket.send(JSON.stringify({ id, type: 'complete' }));
    await eventually(() => bus.listenerCount() === baseline);
    open.socket.close(1000);
  });
});

/**
 * Keep-alive rounds short enough to watch a dead peer go, long enough that a peer in this busy
 * process (the test's client shares its event loop with the server) answers in time. On Postgres
 * when there is one: PGlite's queries hold the event loop.
 */
describe(`keep-alive (${backends.at(-1)})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ backend: backends.at(-1), timing: { wsKeepAliveMs: 2_000 } });
  });
  afterAll(() => server?.stop());

  it('drops a peer that stops answering pings, and its user goes OFFLINE', async () => {
    const alice = await server.token('alice', { name: 'Alice' });
    const carol = await server.token('carol', { name: 'Carol' });
    const alive = await rawSocket(server.wsUrl, alice);
    const dead = await rawSocket(server.wsUrl, carol, { autoPong: false });
    const status = async (id: string) => dataOf(await server.gql(alice, UserDocument, { id })).user?.presence.status;
    expect(await status('carol')).toBe('ONLINE');
    await dead.closed;
    await eventually(async () => (await status('carol')) === 'OFFLINE');
    // A peer that answers is kept through many keep-alive rounds.
    let pings = 0;
    alive.socket.on('ping', () => pings++);
    await eventually(() => pings >= 3);
    expect(alive.socket.readyState).toBe(alive.socket.OPEN);
    alive.terminate();
  });
});
