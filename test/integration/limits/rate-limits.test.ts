// Real rate limits (the kit sets them out of the way by default): per user and per API key, people
// lower than agents, RATE_LIMITED with a retry-after on HTTP and WebSocket, shared by instances
// through Redis; the cap on open sockets per user; and sign-in attempts per client address, in
// total and per account.
import { request as httpRequest } from 'node:http';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { eq } from 'drizzle-orm';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MarkReadDocument, PresenceDocument, SendMessageDocument, SignInDocument, SignUpDocument } from '../../../src/client/generated/graphql.js';
import { users } from '../../../src/db/schema/index.js';
import { createGroup, freshOrg, nextClose, type RawSocket, rawSocket } from '../../kit/realtime.js';
import { type GqlResult, startServer, type TestServer } from '../../kit/server.js';
import { collect, eventually } from '../../kit/subscriptions.js';
import { describeTwoInstances, twoInstances } from '../../kit/two-instances.js';

// Refills are slow (one token per 100 s), so that the counts are the bursts exactly however slow
// the machine; the refill itself is test/unit/rate-limiter.test.ts's, on a clock the test sets.
const LIMITS = {
  RATE_LIMIT_USER_MESSAGES_PER_SEC: '0.01',
  RATE_LIMIT_USER_MESSAGES_BURST: '10',
  RATE_LIMIT_AGENT_MESSAGES_PER_SEC: '0.01',
  RATE_LIMIT_AGENT_MESSAGES_BURST: '40',
  RATE_LIMIT_USER_MUTATIONS_PER_SEC: '0.01',
  RATE_LIMIT_USER_MUTATIONS_BURST: '4',
};
/** The longest a refused client is told to wait: the time one token takes. */
const TOKEN_MS = 100_000;

const codes = (results: GqlResult<unknown>[]) => results.map((r) => (r.errors?.[0]?.extensions?.code as string | undefined) ?? 'OK');

describe('rate limits on one instance', () => {
  let server: TestServer;
  let org: string;
  beforeAll(async () => {
    server = await startServer({ env: { ...LIMITS, MAX_SOCKETS_PER_USER: '2' } });
    org = freshOrg();
  });
  afterAll(() => server?.stop());

  const sendAll = (auth: string, conversationId: string, n: number, prefix: string) =>
    Promise.all(Array.from({ length: n }, (_, i) => server.gql(auth, SendMessageDocument, { input: { conversationId, content: `${prefix}${i}` } })));

  it('lets a person send a burst of 10, then answers RATE_LIMITED with a retry-after and writes nothing', async () => {
    const alice = await server.token('alice', { org });
    const conversationId = await createGroup(server, alice, ['bob']);
    const results = await sendAll(alice, conversationId, 20, 'burst');
    const c = codes(results);
    expect(c.filter((x) => x === 'OK')).toHaveLength(10);
    expect(c.filter((x) => x === 'RATE_LIMITED')).toHaveLength(10);
    // Told to come back when the next token is in: at most one token's time, in whole seconds too.
    const { retryAfter, retryAfterMs } = results.find((r) => r.errors)!.errors![0]!.extensions as { retryAfter: number; retryAfterMs: number };
    expect(retryAfterMs).toBeGreaterThan(0);
    expect(retryAfterMs).toBeLessThanOrEqual(TOKEN_MS);
    expect(retryAfter).toBe(Math.ceil(retryAfterMs / 1000));

    // Over HTTP the status is 429 with a Retry-After header.
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}`, accept: 'application/graphql-response+json' },
      body: JSON.stringify({ query: print(SendMessageDocument), variables: { input: { conversationId, content: 'one more' } } }),
    });
    expect(res.status).toBe(429);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(res.headers.get('retry-after'))).toBeLessThanOrEqual(TOKEN_MS / 1000);

    // Only the accepted ones were stored: seqs 1..10, no gap.
    const ok = results.filter((r) => !r.errors).map((r) => (r.data as { sendMessage: { seq: number } }).sendMessage.seq);
    expect(ok.sort((a, b) => a - b)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
  });

  it('limits each person on their own, agents higher, and other mutations separately', async () => {
    const carol = await server.token('carol', { org });
    const agent = await server.token('agent-1', { org, kind: 'agent' });
    const dave = await server.token('dave', { org });
    // Dave creates it: a conversation created by Carol would take one of her mutation tokens.
    const conversationId = await createGroup(server, dave, ['carol', 'agent-1']);
    // Carol exhausts her messages; Dave and the agent are unaffected.
    expect(codes(await sendAll(carol, conversationId, 12, 'carol')).filter((x) => x === 'OK')).toHaveLength(10);
    expect(codes(await sendAll(dave, conversationId, 10, 'dave')).every((x) => x === 'OK')).toBe(true);
    expect(codes(await sendAll(agent, conversationId, 30, 'agent')).every((x) => x === 'OK')).toBe(true);
    // Other mutations have their own bucket (burst 4): markRead is not blocked by the sends.
    const reads = await Promise.all(Array.from({ length: 6 }, () => server.gql(carol, MarkReadDocument, { conversationId, seq: 1 })));
    expect(codes(reads).filter((x) => x === 'OK')).toHaveLength(4);
    expect(codes(reads).filter((x) => x === 'RATE_LIMITED')).toHaveLength(2);
  });

  it('applies the same limits over the WebSocket', async () => {
    const erin = await server.token('erin', { org });
    const conversationId = await createGroup(server, erin, ['frank']);
    const raw = await rawSocket(server.wsUrl, erin);
    for (let i = 0; i < 12; i++) {
      raw.socket.send(
        JSON.stringify({
          id: `s${i}`,
          type: 'subscribe',
          payload: { query: print(SendMessageDocument), variables: { input: { conversationId, content: `ws${i}` } } },
        }),
      );
    }
    const results = await Promise.all(Array.from({ length: 12 }, (_, i) => raw.waitFor((m) => m.id === `s${i}` && (m.type === 'next' || m.type === 'error'))));
    const wsCodes = results.map((m) => {
      const p = m.payload as { errors?: { extensions?: { code?: string } }[] } | { extensions?: { code?: string } }[];
      const errors = Array.isArray(p) ? p : p.errors;
      return errors?.[0]?.extensions?.code ?? 'OK';
    });
    expect(wsCodes.filter((x) => x === 'OK')).toHaveLength(10);
    expect(wsCodes.filter((x) => x === 'RATE_LIMITED')).toHaveLength(2);
    raw.socket.close(1000);
  });

  it('caps open sockets per user (MAX_SOCKETS_PER_USER=2): the third closes with 1008, a freed slot is reused', async () => {
    const gina = await server.token('gina', { org });
    const first = await rawSocket(server.wsUrl, gina);
    await rawSocket(server.wsUrl, gina);
    const third = server.ws(gina);
    const sub = collect(third, PresenceDocument, {});
    expect((await nextClose(third)).code).toBe(1008);
    await sub.waitForEnd();
    // Another user is not affected by Gina's sockets.
    await rawSocket(server.wsUrl, await server.token('hank', { org }));
    // Once the server has seen the first one close, Gina's next socket is acknowledged again.
    first.socket.close(1000);
    await first.closed;
    await eventually(() =>
      rawSocket(server.wsUrl, gina).then(
        () => true,
        () => false,
      ),
    );
  });
});

describeTwoInstances('rate limits shared by two instances through Redis', () => {
  const servers = twoInstances({ env: LIMITS });

  it('counts a user\u2019s sends on both instances against one bucket', async () => {
    const { a, b } = servers;
    const org = freshOrg();
    const alice = await a.token('alice', { org });
    const conversationId = await createGroup(a, alice, ['bob']);
    const send = (s: TestServer, i: number) => s.gql(alice, SendMessageDocument, { input: { conversationId, content: `x${i}` } });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => send(i % 2 ? a : b, i)));
    // One bucket of 10, not 10 per instance.
    expect(codes(results).filter((x) => x === 'OK')).toHaveLength(10);
  });
});

// Sign-in and sign-up attempts: per client address (HTTP and WebSocket), in total, and per
// account, shared by instances through Redis. Refills are as slow as above.
const ACCOUNT_ENV = {
  ACCOUNTS_ENABLED: 'true',
  RATE_LIMIT_ACCOUNT_ATTEMPTS_PER_SEC: '0.01',
  RATE_LIMIT_ACCOUNT_ATTEMPTS_BURST: '10',
};

/** A loopback address of its own (all of 127/8 reaches the server on 127.0.0.1): another client. */
const freshAddress = () => `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 256)}.${1 + Math.floor(Math.random() * 250)}`;

type Answer = { status: number; retryAfter: string | null; result: GqlResult<unknown> };

/** A GraphQL request over HTTP from `localAddress`. */
function postFrom<R, V>(
  server: TestServer,
  localAddress: string,
  document: TypedDocumentNode<R, V>,
  variables: V,
  headers: Record<string, string> = {},
): Promise<Answer> {
  const body = JSON.stringify({ query: print(document), variables });
  const url = new URL(server.url);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: url.hostname, port: url.port, path: url.pathname, method: 'POST', localAddress, headers: { 'content-type': 'application/json', ...headers } },
      (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
        res.on('end', () =>
          resolve({
            status: res.statusCode!,
            retryAfter: (res.headers['retry-after'] as string | undefined) ?? null,
            result: JSON.parse(text) as GqlResult<unknown>,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const codeOfAnswer = (a: Answer) => (a.result.errors?.[0]?.extensions?.code as string | undefined) ?? 'OK';
const wrongSignIn = (userId: string) => ({ input: { userId, password: 'not the password' } });

describe('sign-in attempts on one instance', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: ACCOUNT_ENV });
  });
  afterAll(() => server?.stop());

  it('gives 40 sign-ins at once for 40 ids from one client a burst of 10, the rest RATE_LIMITED (429); another client is not affected', async () => {
    const me = freshAddress();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => postFrom(server, me, SignInDocument, wrongSignIn(`nobody-${i}`))));
    const c = answers.map(codeOfAnswer);
    // Only the ten that got through checked a password (and were wrong).
    expect(c.filter((x) => x === 'UNAUTHENTICATED')).toHaveLength(10);
    expect(c.filter((x) => x === 'RATE_LIMITED')).toHaveLength(30);
    const limited = answers.find((a) => codeOfAnswer(a) === 'RATE_LIMITED')!;
    expect(limited.status).toBe(429);
    expect(Number(limited.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(limited.result.errors![0]!.extensions!.retryAfter).toBeGreaterThanOrEqual(1);

    // Sign-ups from there are refused too, and create nothing.
    const up = await postFrom(server, me, SignUpDocument, { input: { userId: 'blocked-signup', password: 'a fine password', displayName: 'Blocked' } });
    expect(codeOfAnswer(up)).toBe('RATE_LIMITED');
    expect(await server.app.services.database.db.select().from(users).where(eq(users.id, 'blocked-signup'))).toEqual([]);
    // A header the client writes does not make it another client.
    expect(codeOfAnswer(await postFrom(server, me, SignInDocument, wrongSignIn('nobody-x'), { 'x-forwarded-for': freshAddress() }))).toBe('RATE_LIMITED');
    // Another address has a bucket of its own.
    expect(codeOfAnswer(await postFrom(server, freshAddress(), SignInDocument, wrongSignIn('nobody-y')))).toBe('UNAUTHENTICATED');
  });

  it('counts sign-ins over a WebSocket against the socket\u2019s address', async () => {
    const me = freshAddress();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => postFrom(server, me, SignInDocument, wrongSignIn(`ws-nobody-${i}`))));
    expect(answers.map(codeOfAnswer).every((x) => x === 'UNAUTHENTICATED')).toBe(true);
    const token = await server.token('socket-user');
    const signInOver = async (raw: RawSocket) => {
      raw.subscribe('s', SignInDocument, wrongSignIn('ws-nobody-x'));
      const m = await raw.waitFor((x) => x.id === 's' && (x.type === 'next' || x.type === 'error'));
      const p = m.payload as { errors?: { extensions?: { code?: string } }[] } | { extensions?: { code?: string } }[];
      return (Array.isArray(p) ? p : p.errors)?.[0]?.extensions?.code;
    };
    const same = await rawSocket(server.wsUrl, token, { localAddress: me });
    expect(await signInOver(same)).toBe('RATE_LIMITED');
    const other = await rawSocket(server.wsUrl, token, { localAddress: freshAddress() });
    expect(await signInOver(other)).toBe('UNAUTHENTICATED');
    same.socket.close(1000);
    other.socket.close(1000);
  });
});

describe('sign-in attempts in total', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({
      env: {
        ...ACCOUNT_ENV,
        RATE_LIMIT_ACCOUNT_ATTEMPTS_BURST: '100',
        RATE_LIMIT_ACCOUNT_ATTEMPTS_TOTAL_PER_SEC: '0.01',
        RATE_LIMIT_ACCOUNT_ATTEMPTS_TOTAL_BURST: '12',
      },
    });
  });
  afterAll(() => server?.stop());

  it('caps attempts from many addresses together', async () => {
    const clients = Array.from({ length: 6 }, freshAddress);
    const answers = await Promise.all(
      clients.flatMap((address, i) => Array.from({ length: 4 }, (_, j) => postFrom(server, address, SignInDocument, wrongSignIn(`many-${i}-${j}`)))),
    );
    const c = answers.map(codeOfAnswer);
    expect(c.filter((x) => x === 'UNAUTHENTICATED')).toHaveLength(12);
    expect(c.filter((x) => x === 'RATE_LIMITED')).toHaveLength(12);
    expect(answers.find((a) => codeOfAnswer(a) === 'RATE_LIMITED')!.result.errors![0]!.message).toMatch(/on this server/);
  });
});

describe('sign-in attempts behind a proxy (TRUST_PROXY_HOPS=1)', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ env: { ...ACCOUNT_ENV, RATE_LIMIT_ACCOUNT_ATTEMPTS_BURST: '2', TRUST_PROXY_HOPS: '1' } });
  });
  afterAll(() => server?.stop());

  it('counts per address the proxy saw, never per what the client wrote before it', async () => {
    const proxy = freshAddress();
    const from = (forwardedFor: string, id: string) => postFrom(server, proxy, SignInDocument, wrongSignIn(id), { 'x-forwarded-for': forwardedFor });
    expect(codeOfAnswer(await from('203.0.113.7', 'p1'))).toBe('UNAUTHENTICATED');
    expect(codeOfAnswer(await from('203.0.113.7', 'p2'))).toBe('UNAUTHENTICATED');
    expect(codeOfAnswer(await from('203.0.113.7', 'p3'))).toBe('RATE_LIMITED');
    // The client put an address of its own in front: the proxy's entry (the last) still counts.
    expect(codeOfAnswer(await from('198.51.100.1, 203.0.113.7', 'p4'))).toBe('RATE_LIMITED');
    // Another client behind the same proxy; IPv6 clients count per /64.
    expect(codeOfAnswer(await from('203.0.113.8', 'p5'))).toBe('UNAUTHENTICATED');
    expect(codeOfAnswer(await from('2001:db8:1:2::1', 'p6'))).toBe('UNAUTHENTICATED');
    expect(codeOfAnswer(await from('2001:db8:1:2::ffff:9', 'p7'))).toBe('UNAUTHENTICATED');
    expect(codeOfAnswer(await from('2001:db8:1:2:aaaa::1', 'p8'))).toBe('RATE_LIMITED');
    expect(codeOfAnswer(await from('2001:db8:1:3::1', 'p9'))).toBe('UNAUTHENTICATED');
  });
});

describeTwoInstances('sign-in attempts shared by two instances through Redis', () => {
  const servers = twoInstances({ env: ACCOUNT_ENV });

  it('locks an account after 10 attempts on the two instances together', async () => {
    const { a, b } = servers;
    const userId = `lock-${freshOrg()}`;
    const password = 'the right password';
    expect(codeOfAnswer(await postFrom(a, freshAddress(), SignUpDocument, { input: { userId, password, displayName: 'Locked' } }))).toBe('OK');
    // Each attempt from an address of its own: only the account's count is at work.
    for (let i = 0; i < 10; i++) {
      expect(codeOfAnswer(await postFrom(i % 2 ? a : b, freshAddress(), SignInDocument, wrongSignIn(userId)))).toBe('UNAUTHENTICATED');
    }
    for (const server of [a, b]) {
      const locked = await postFrom(server, freshAddress(), SignInDocument, { input: { userId, password } });
      expect(codeOfAnswer(locked)).toBe('RATE_LIMITED');
      expect(locked.result.errors![0]!.message).toMatch(/for this account/);
    }
  });

  it('counts a client\u2019s attempts on both instances against one bucket', async () => {
    const { a, b } = servers;
    const me = freshAddress();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => postFrom(i % 2 ? a : b, me, SignInDocument, wrongSignIn(`shared-${i}`))));
    const c = answers.map(codeOfAnswer);
    expect(c.filter((x) => x === 'UNAUTHENTICATED')).toHaveLength(10);
    expect(c.filter((x) => x === 'RATE_LIMITED')).toHaveLength(10);
  });
});
