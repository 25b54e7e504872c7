// Protocol violations on the WebSocket, each answered by graphql-ws's close code (or the WebSocket
// one for a broken frame), and the query limits on the socket: refused before any resolver, with
// the socket left open. Token problems at connection_init (4403) are in auth/jwt and
// realtime/transports; oversized frames (1009) in realtime/transports. Malformed requests over HTTP
// get the status GraphQL over HTTP gives them. Browsers' origins: CORS and WebSocket upgrades (the
// server's own origin, which the web chat uses, is in clients/web-chat-assets).
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MessageAddedDocument, TypingDocument } from '../../../src/client/generated/graphql.js';
import { preflight, rawHttp, upgradeStatus } from '../../kit/origins.js';
import { type Closed, createGroup, rawSocket, sleep, UNLIMITED_ENV } from '../../kit/realtime.js';
import { startServer, type TestServer } from '../../kit/server.js';
import { eventually } from '../../kit/subscriptions.js';

/** A WebSocket speaking `protocol`, open; nothing sent yet. */
async function open(url: string, protocol: string | string[] = 'graphql-transport-ws') {
  const socket = new WebSocket(url, protocol);
  socket.on('error', () => {});
  const closed = new Promise<Closed>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('close', (code) => reject(new Error(`closed with ${code} before opening`)));
  });
  return { socket, closed };
}

const init = (token: string) => JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } });

describe('WebSocket protocol violations', () => {
  let server: TestServer;
  let bob: string;
  let conversationId: string;

  beforeAll(async () => {
    server = await startServer({ env: UNLIMITED_ENV });
    const alice = await server.token('alice');
    bob = await server.token('bob');
    conversationId = await createGroup(server, alice, ['bob']);
  });
  afterAll(() => server?.stop());

  it('closes 4406 without the graphql-transport-ws subprotocol, whatever else is offered', async () => {
    const { closed } = await open(server.wsUrl, []);
    expect((await closed).code).toBe(4406);
    // Another subprotocol (the old subscriptions-transport-ws one) opens and is told why it closes,
    // rather than failing the handshake with no reason (1006).
    for (const offered of ['graphql-ws', ['graphql-ws', 'mqtt']]) {
      const other = await open(server.wsUrl, offered);
      expect(other.socket.protocol).toBe('graphql-ws');
      expect(await other.closed).toEqual({ code: 4406, reason: 'Subprotocol not acceptable' });
    }
    // Offered among others, graphql-transport-ws is the one agreed to.
    const chosen = await open(server.wsUrl, ['graphql-ws', 'graphql-transport-ws']);
    expect(chosen.socket.protocol).toBe('graphql-transport-ws');
    chosen.socket.send(init(bob));
    const ack = await new Promise<string>((resolve) => chosen.socket.once('message', (data) => resolve(String(data))));
    expect(JSON.parse(ack)).toEqual({ type: 'connection_ack' });
    chosen.socket.close(1000);
  });

  it('lets a socket it refused with 4406 go: stopping the server does not wait for it', async () => {
    // A grace far beyond the test's timeout: a stop() that waited for the socket would time out.
    const own = await startServer({ env: { ...UNLIMITED_ENV, SHUTDOWN_GRACE_MS: '600000' } });
    const { closed } = await open(own.wsUrl, []);
    expect((await closed).code).toBe(4406);
    await own.stop();
  });

  it('answers a document whose operation it cannot tell with BAD_USER_INPUT, and keeps the socket', async () => {
    const raw = await rawSocket(server.wsUrl, bob);
    const query = 'query A { __typename } query B { __typename }';
    raw.socket.send(JSON.stringify({ id: 'two', type: 'subscribe', payload: { query } }));
    const error = await raw.waitFor((m) => m.id === 'two' && m.type === 'error');
    expect(error.payload).toEqual([expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT' } })]);
    raw.socket.send(JSON.stringify({ id: 'named', type: 'subscribe', payload: { query, operationName: 'B' } }));
    const next = await raw.waitFor((m) => m.id === 'named' && m.type === 'next');
    expect(next.payload).toEqual({ data: { __typename: 'Query' } });
    raw.socket.close(1000);
  });

  it('closes 4400 for a message that is not JSON, not an object, or of no known type', async () => {
    for (const message of ['{not json', '"a string"', '[]', JSON.stringify({ type: 'start', id: '1' }), JSON.stringify({ id: '1' })]) {
      const { socket, closed } = await open(server.wsUrl);
      socket.send(init(bob));
      socket.send(message);
      expect((await closed).code, message).toBe(4400);
    }
  });

  it('closes 4400 for a subscribe without an id or a query', async () => {
    for (const payload of [
      { type: 'subscribe', payload: { query: '{ __typename }' } },
      { type: 'subscribe', id: '1', payload: {} },
    ]) {
      const raw = await rawSocket(server.wsUrl, bob);
      raw.socket.send(JSON.stringify(payload));
      expect((await raw.closed).code, JSON.stringify(payload)).toBe(4400);
    }
  });

  it('closes 4401 for a subscribe before the connection is acknowledged', async () => {
    const { socket, closed } = await open(server.wsUrl);
    socket.send(JSON.stringify({ type: 'subscribe', id: '1', payload: { query: print(MessageAddedDocument), variables: { conversationId } } }));
    expect((await closed).code).toBe(4401);
  });

  it('closes 4408 when connection_init does not come in time', async () => {
    const { closed } = await open(server.wsUrl);
    expect((await closed).code).toBe(4408);
  });

  it('closes 4409 for a second subscribe with an id already in use', async () => {
    const raw = await rawSocket(server.wsUrl, bob);
    raw.subscribe('same', TypingDocument, { conversationId });
    raw.subscribe('same', TypingDocument, { conversationId });
    expect((await raw.closed).code).toBe(4409);
  });

  it('closes 4429 for a second connection_init', async () => {
    const raw = await rawSocket(server.wsUrl, bob);
    raw.socket.send(init(bob));
    expect((await raw.closed).code).toBe(4429);
  });

  it('closes 1007 for a text frame that is not valid UTF-8', async () => {
    const raw = await rawSocket(server.wsUrl, bob);
    const bytes = Buffer.concat([Buffer.from('{"type":"ping","payload":{"x":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}}')]);
    raw.socket.send(bytes, { binary: false });
    expect((await raw.closed).code).toBe(1007);
  });

  it('answers ping with pong and survives it', async () => {
    const raw = await rawSocket(server.wsUrl, bob);
    raw.socket.send(JSON.stringify({ type: 'ping' }));
    await raw.waitFor((m) => m.type === 'pong');
    raw.socket.close(1000);
  });

  describe('query limits on the socket', () => {
    const deep = (n: number) =>
      `subscription { messageAdded(conversationId: "${'0'.repeat(8)}-0000-0000-0000-000000000000") { ${'replyTo { '.repeat(n)}id${' }'.repeat(n)} } }`;
    const cases: [string, string | { query: string; variables: Record<string, unknown> }][] = [
      ['too deep', deep(30)],
      ['too many aliases', `subscription { ${Array.from({ length: 40 }, (_, i) => `a${i}: typing(conversationId: "x") { isTyping }`).join(' ')} }`],
      ['too long', `subscription { typing(conversationId: "x") { isTyping } } # ${'x'.repeat(50_000)}`],
      ['too many tokens', `subscription { typing(conversationId: "x") { ${'isTyping '.repeat(4_000)} } }`],
      ['too many directives', `subscription { typing(conversationId: "x") { isTyping ${'@include(if: true) '.repeat(50)} } }`],
      ['not parsable', 'subscription { typing('],
      ['holding text Postgres cannot store', 'subscription { typing(conversationId: "a\\u0000b") { isTyping } }'],
      [
        'holding an unpaired surrogate in a variable',
        { query: 'subscription($c: ID!) { typing(conversationId: $c) { isTyping } }', variables: { c: '\uD800' } },
      ],
    ];
    for (const [name, query] of cases) {
      it(`refuses a subscription that is ${name} with BAD_USER_INPUT and keeps the socket`, async () => {
        const raw = await rawSocket(server.wsUrl, bob);
        raw.socket.send(JSON.stringify({ id: 'q', type: 'subscribe', payload: typeof query === 'string' ? { query } : query }));
        const error = await raw.waitFor((m) => m.id === 'q' && m.type === 'error');
        const errors = error.payload as { message: string; extensions?: { code?: string } }[];
        expect(errors.length).toBeGreaterThan(0);
        for (const e of errors) expect(e.extensions?.code).toBe('BAD_USER_INPUT');
        // Yoga's internal HTTP hints (status, headers) stay on the server, as on HTTP.
        for (const e of errors) expect(e.extensions).not.toHaveProperty('http');
        expect(JSON.stringify(errors)).not.toMatch(/Did you mean/);
        // The socket is still usable.
        raw.subscribe('ok', TypingDocument, { conversationId });
        raw.socket.send(JSON.stringify({ type: 'ping' }));
        await raw.waitFor((m) => m.type === 'pong');
        expect(raw.messages.some((m) => m.id === 'ok' && m.type === 'error')).toBe(false);
        raw.socket.close(1000);
      });
    }

    it('hides field suggestions', async () => {
      const raw = await rawSocket(server.wsUrl, bob);
      raw.socket.send(JSON.stringify({ id: 'q', type: 'subscribe', payload: { query: 'subscription { messageAdde { id } }' } }));
      const error = await raw.waitFor((m) => m.id === 'q' && m.type === 'error');
      expect(JSON.stringify(error.payload)).not.toMatch(/Did you mean|messageAdded/);
      raw.socket.close(1000);
    });
  });
});

describe('GraphQL over HTTP: malformed requests', () => {
  let server: TestServer;
  let bob: string;
  beforeAll(async () => {
    server = await startServer({ env: UNLIMITED_ENV });
    bob = await server.token('bob');
  });
  afterAll(() => server?.stop());

  const post = (body: string, accept?: string) =>
    fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bob}`, ...(accept ? { accept } : {}) },
      body,
    });
  const accepts = [undefined, '*/*', 'application/json', 'application/graphql-response+json', 'application/graphql-response+json, application/json;q=0.9'];

  it('answers a body that is not JSON with 400 and BAD_USER_INPUT, whatever the client accepts', async () => {
    for (const accept of accepts) {
      const res = await post('{"query": "{ viewer { id } }"', accept);
      expect(res.status, `Accept: ${accept}`).toBe(400);
      const body = (await res.json()) as { data?: unknown; errors: { extensions: { code: string } }[] };
      expect(body.data).toBeUndefined();
      expect(body.errors.map((e) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('answers a query that does not parse with 200 under application/json and 400 under application/graphql-response+json', async () => {
    // A well-formed request whose GraphQL is wrong: the spec's status for each media type.
    const body = JSON.stringify({ query: '{ viewer { id ' });
    for (const [accept, status] of [
      ['application/json', 200],
      ['application/graphql-response+json', 400],
    ] as const) {
      const res = await post(body, accept);
      expect(res.status, accept).toBe(status);
      expect(((await res.json()) as { errors: { extensions: { code: string } }[] }).errors[0]!.extensions.code).toBe('BAD_USER_INPUT');
    }
  });

  it('keeps an idle connection for the next request well past the few seconds a client waits', async () => {
    const { port } = new URL(server.url);
    const socket = connect(Number(port), '127.0.0.1');
    let received = '';
    let closed = false;
    socket.on('data', (chunk) => (received += String(chunk)));
    socket.on('close', () => (closed = true));
    const answers = () => received.split('HTTP/1.1 ').slice(1);
    const ask = (n: number) => {
      socket.write(`GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n\r\n`);
      // Answered in chunks: the last, empty one ends the answer.
      return eventually(() => {
        if (closed) throw new Error(`the server closed the connection after ${n - 1} answers`);
        return answers().length === n && received.endsWith('\r\n0\r\n\r\n');
      });
    };
    await ask(1);
    // Longer than Node's default of 5 s (and fetch's 4 s); the idle limit is a minute.
    await sleep(6_000);
    await ask(2);
    expect(answers().map((a) => a.slice(0, 3))).toEqual(['200', '200']);
    socket.destroy();
  });
});

describe('Origins: CORS and WebSocket upgrades', () => {
  /** Production, with two origins listed. */
  let listed: TestServer;
  /** Development (the test servers' NODE_ENV=test counts as that), nothing listed. */
  let development: TestServer;
  /** Production, any origin without credentials and one with. */
  let anyOrigin: TestServer;
  let token: string;
  const APP = 'https://app.example.com';
  const ADMIN = 'https://admin.example.com';

  beforeAll(async () => {
    // No web chat: a production server would build its bundle at start.
    const secret = randomBytes(32).toString('hex');
    [listed, development, anyOrigin] = await Promise.all([
      startServer({ secret, env: { NODE_ENV: 'production', WEB_CHAT: 'false', CORS_ORIGINS: `${APP}, ${ADMIN}` } }),
      startServer({ secret }),
      startServer({ secret, env: { NODE_ENV: 'production', WEB_CHAT: 'false', CORS_ORIGINS: `*,${APP}` } }),
    ]);
    token = await listed.token('bob');
  });
  afterAll(() => Promise.all([listed?.stop(), development?.stop(), anyOrigin?.stop()]));

  const post = (server: TestServer, origin: string) =>
    rawHttp(
      server.url,
      'POST',
      { origin, 'content-type': 'application/json', authorization: `Bearer ${token}` },
      JSON.stringify({ query: '{ viewer { id } }' }),
    );
  const ownOrigin = (server: TestServer) => new URL(server.url).origin;

  /** The CORS headers of a preflight and of the request itself, for `origin`. */
  async function corsOf(server: TestServer, origin: string) {
    const before = await preflight(server.url, { origin });
    const actual = await post(server, origin);
    // The request is answered either way: it is the browser that keeps the answer from a page.
    expect(actual.status).toBe(200);
    expect(JSON.parse(actual.body)).toEqual({ data: { viewer: { id: 'bob' } } });
    return [before, actual].map(({ status, headers }) => ({
      status,
      origin: headers['access-control-allow-origin'],
      credentials: headers['access-control-allow-credentials'],
      vary: headers.vary,
      methods: headers['access-control-allow-methods'],
      allowedHeaders: headers['access-control-allow-headers'],
    }));
  }

  it('reflects an allowed origin with credentials, on the preflight and on the request', async () => {
    for (const [server, origin] of [
      [listed, APP],
      [listed, ADMIN],
      [listed, ownOrigin(listed)],
      [development, 'http://localhost:5173'],
      [development, 'http://127.0.0.1:3000'],
      [anyOrigin, APP],
    ] as const) {
      const [before, actual] = await corsOf(server, origin);
      expect(before, origin).toMatchObject({ status: 204, origin, credentials: 'true', methods: 'POST', allowedHeaders: 'authorization, content-type' });
      expect(before!.vary, origin).toMatch(/\bOrigin\b/);
      expect(actual, origin).toMatchObject({ origin, credentials: 'true' });
      expect(actual!.vary, origin).toMatch(/\bOrigin\b/);
    }
  });

  it('gives any other origin no Access-Control-Allow-Origin, on the preflight or on the request', async () => {
    const { port } = new URL(listed.url);
    const others = [
      'http://evil.example',
      `${APP}.evil.example`,
      'http://app.example.com',
      // localhost is for development only.
      'http://localhost:5173',
      // The server's own host, but another scheme or port.
      `https://127.0.0.1:${port}`,
      `http://127.0.0.1:${Number(port) + 1}`,
      'null',
    ];
    for (const origin of others) {
      for (const answer of await corsOf(listed, origin)) {
        expect(answer.origin, origin).toBeUndefined();
        expect(answer.credentials, origin).toBeUndefined();
      }
    }
    for (const origin of ['https://localhost:5173', 'http://localhost.evil.example', 'http://evil.example']) {
      for (const answer of await corsOf(development, origin)) expect(answer.origin, origin).toBeUndefined();
    }
  });

  it('with * in CORS_ORIGINS lets any origin in without credentials', async () => {
    for (const origin of ['http://evil.example', 'http://localhost:5173']) {
      for (const answer of await corsOf(anyOrigin, origin)) {
        expect(answer.origin, origin).toBe(origin);
        expect(answer.credentials, origin).toBeUndefined();
      }
    }
  });

  it('refuses a WebSocket upgrade from another origin with 403, and lets allowed origins and clients without one in', async () => {
    const cases: [TestServer, string | undefined, number][] = [
      [listed, 'http://evil.example', 403],
      [listed, 'http://localhost:5173', 403],
      [listed, `https://127.0.0.1:${new URL(listed.url).port}`, 403],
      [development, 'http://evil.example', 403],
      [listed, APP, 101],
      [listed, ownOrigin(listed), 101],
      [listed, undefined, 101],
      [development, 'http://localhost:5173', 101],
      [development, undefined, 101],
      [anyOrigin, 'http://evil.example', 101],
    ];
    for (const [server, origin, status] of cases) expect(await upgradeStatus(server.wsUrl, { origin }), `${origin}`).toBe(status);
    // An allowed origin's socket is a working one.
    const socket = new WebSocket(listed.wsUrl, 'graphql-transport-ws', { origin: APP });
    await new Promise((resolve) => socket.once('open', resolve));
    socket.send(init(token));
    const ack = await new Promise<string>((resolve) => socket.once('message', (data) => resolve(String(data))));
    expect(JSON.parse(ack)).toEqual({ type: 'connection_ack' });
    socket.close(1000);
  });
});
