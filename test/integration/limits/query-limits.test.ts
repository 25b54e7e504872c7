// Bad input over HTTP and SSE: every limit refuses with BAD_USER_INPUT before any resolver runs
// (an alias bomb of sends writes nothing), nothing leaks, and the server keeps serving. The same
// limits on the WebSocket are in protocol/violations. Also: batching off, introspection and
// GraphiQL as configured.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_QUERY_LIMITS } from '../../../src/graphql/armor.js';
import { LIMITS } from '../../../src/lib/validate.js';
import { HTTP_MAX_BODY_BYTES } from '../../../src/transport/http.js';
import { createGroup, rawSocket, UNLIMITED_ENV } from '../../kit/realtime.js';
import { startServer, statementsOf, type TestServer } from '../../kit/server.js';

type Body = { data?: unknown; errors?: { message: string; extensions?: { code?: string } }[] };

/**
 * Refused as the client's fault. (Yoga answers validation errors with 200 to a plain
 * `application/json` client, as GraphQL over HTTP's legacy mode says, and 400 otherwise.)
 */
const expectRefused = (status: number, body: Body, what: string) => {
  expect([200, 400, 405, 413, 415], what).toContain(status);
  expect(body.data ?? null, what).toBeNull();
  expect(body.errors?.length, what).toBeGreaterThan(0);
  for (const e of body.errors!) expect(e.extensions?.code, `${what}: ${e.message}`).toBe('BAD_USER_INPUT');
  expect(JSON.stringify(body), what).not.toMatch(/stack|\.ts:\d|Did you mean/);
};

describe('query limits and bad input over HTTP and SSE', () => {
  let server: TestServer;
  let alice: string;
  let conversationId: string;

  const post = async (body: string | Uint8Array, headers: Record<string, string> = {}) => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}`, ...headers },
      body: body as BodyInit,
    });
    const text = await res.text();
    return { status: res.status, body: JSON.parse(text) as Body };
  };
  const query = (q: string, variables?: unknown) => post(JSON.stringify({ query: q, variables }));
  const messageCount = async () => {
    const r = await query('query($c: ID!) { conversation(id: $c) { lastSeq } }', { c: conversationId });
    return (r.body.data as { conversation: { lastSeq: number } }).conversation.lastSeq;
  };

  beforeAll(async () => {
    server = await startServer({ env: UNLIMITED_ENV });
    alice = await server.token('alice');
    conversationId = await createGroup(server, alice, ['bob']);
  });
  afterAll(() => server?.stop());

  const deep = (n: number) => `query($c: ID!) { messages(conversationId: $c) { nodes { ${'replyTo { '.repeat(n)}id${' }'.repeat(n)} } } }`;
  const send = (i: number) => `s${i}: sendMessage(input: { conversationId: $c, content: "bomb ${i}" }) { id }`;
  const refusedCases: [string, string][] = [
    ['too deep', deep(DEFAULT_QUERY_LIMITS.maxDepth + 5)],
    ['an alias bomb of sends', `mutation($c: ID!) { ${Array.from({ length: DEFAULT_QUERY_LIMITS.maxAliases + 5 }, (_, i) => send(i)).join(' ')} }`],
    [
      'too costly',
      `query($c: ID!) { ${Array.from({ length: 10 }, (_, i) => `a${i}: conversations(first: 200) { nodes { participants { user { id } } messages(last: 200) { nodes { sender { id } replyTo { sender { id } } } } } }`).join(' ')} }`,
    ],
    ['too many tokens', `query($c: ID!) { viewer { ${'id '.repeat(DEFAULT_QUERY_LIMITS.maxTokens)} } }`],
    ['too many directives', `query($c: ID!) { viewer { id ${'@include(if: true) '.repeat(DEFAULT_QUERY_LIMITS.maxDirectives + 5)} } }`],
    ['longer than the character limit', `query($c: ID!) { viewer { id } } # ${'x'.repeat(DEFAULT_QUERY_LIMITS.maxCharacters)}`],
  ];
  for (const [name, q] of refusedCases) {
    it(`refuses a document that is ${name}, before any resolver runs`, async () => {
      const before = await messageCount();
      const { status, body } = await query(q, { c: conversationId });
      expectRefused(status, body, name);
      expect(await messageCount()).toBe(before);
    });
  }

  it('takes a document just inside the limits', async () => {
    const aliases = `mutation($c: ID!) { ${Array.from({ length: DEFAULT_QUERY_LIMITS.maxAliases }, (_, i) => send(i)).join(' ')} }`;
    const { body } = await query(aliases, { c: conversationId });
    expect(body.errors).toBeUndefined();
  });

  it('hides field suggestions', async () => {
    const { status, body } = await query('{ viewr { id } }');
    expectRefused(status, body, 'typo');
    expect(JSON.stringify(body)).not.toContain('viewer');
  });

  it('refuses malformed JSON, wrong variable types, huge strings and invalid UTF-8 without a crash', async () => {
    const cases: [string, Promise<{ status: number; body: Body }>][] = [
      ['truncated JSON', post('{"query": "{ viewer { id } }"')],
      ['not an object', post('"just a string"')],
      ['query not a string', post(JSON.stringify({ query: 42 }))],
      ['variables not an object', post(JSON.stringify({ query: 'query($c: ID!) { conversation(id: $c) { id } }', variables: '[1]' }))],
      ['Int given a string', query('query($n: Int) { conversations(first: $n) { nodes { id } } }', { n: 'ten' })],
      ['Int out of range', query('query($n: Int) { conversations(first: $n) { nodes { id } } }', { n: 2 ** 40 })],
      ['enum given a number', query('query($t: ConversationType) { conversations(type: $t) { nodes { id } } }', { t: 3 })],
      ['input object given a list', query('mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }', { i: [1, 2] })],
      [
        'a 2 MB message',
        query('mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }', { i: { conversationId, content: 'x'.repeat(2 * 1024 * 1024) } }),
      ],
      ['invalid UTF-8 in the query', post(Buffer.concat([Buffer.from('{"query":"{ vie'), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from('wer { id } }"}')]))],
    ];
    for (const [name, pending] of cases) {
      const { status, body } = await pending;
      expectRefused(status, body, name);
    }
    // Invalid UTF-8 in a string the operation does not use is decoded as U+FFFD, as WHATWG
    // decoding does: no crash, and the operation runs.
    const lenient = await post(
      Buffer.concat([Buffer.from('{"query":"{ viewer { id } }","variables":{"x":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}}')]),
    );
    expect(lenient).toEqual({ status: 200, body: { data: { viewer: { id: 'alice' } } } });
  });

  it('refuses a body over 256 KiB with 413, announced or chunked, and keeps serving', async () => {
    const big = JSON.stringify({ query: '{ viewer { id } }', variables: { pad: 'x'.repeat(HTTP_MAX_BODY_BYTES) } });
    const announced = await post(big);
    expect(announced.status).toBe(413);
    expectRefused(announced.status, announced.body, 'announced');

    // No Content-Length: the limit is applied while reading.
    const bytes = new TextEncoder().encode(big);
    const chunked = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < bytes.length; i += 16 * 1024) controller.enqueue(bytes.subarray(i, i + 16 * 1024));
        controller.close();
      },
    });
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}` },
      body: chunked,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expectRefused(res.status, (await res.json()) as Body, 'chunked');

    // The largest message a client may send, escaped to six bytes a character, still fits.
    const largest = await query('mutation($i: SendMessageInput!) { sendMessage(input: $i) { id } }', {
      i: { conversationId, content: '\u0001'.repeat(LIMITS.contentChars) },
    });
    expect(largest.status).toBe(200);
    expect(largest.body.errors).toBeUndefined();
    expect((await query('{ viewer { id } }')).body).toEqual({ data: { viewer: { id: 'alice' } } });
  });

  it('turns batching off: an array of operations is refused', async () => {
    const { status, body } = await post(JSON.stringify([{ query: '{ viewer { id } }' }, { query: '{ viewer { id } }' }]));
    expectRefused(status, body, 'batch');
  });

  describe('the cost counts page sizes given as variables', () => {
    /** Issue 14's query: with n = 200, a page of 200 conversations with 200 messages each. */
    const pages = 'query Pages($n: Int) { conversations(first: $n) { nodes { id messages(last: $n) { nodes { id content } } } } }';
    const asLiterals = (n: number) => pages.replace('query Pages($n: Int)', 'query Pages').replaceAll('$n', String(n));
    /** The answer over SSE: the events' data, parsed. */
    const overSse = async (q: string, variables: unknown) => {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${alice}` },
        body: JSON.stringify({ query: q, variables }),
      });
      const text = await res.text();
      return text
        .split('\n')
        .filter((l) => l.startsWith('data: ') && l.length > 6)
        .map((l) => JSON.parse(l.slice(6)) as Body);
    };
    const overWebSocket = async (q: string, variables: unknown) => {
      const raw = await rawSocket(server.wsUrl, alice);
      try {
        raw.socket.send(JSON.stringify({ id: 'q', type: 'subscribe', payload: { query: q, variables } }));
        return await raw.waitFor((m) => m.id === 'q' && (m.type === 'error' || m.type === 'complete'));
      } finally {
        raw.socket.close(1000);
      }
    };

    it('refuses it over HTTP as it refuses the literals, before anything runs, and takes small pages', async () => {
      const literal = await query(asLiterals(200));
      expectRefused(literal.status, literal.body, 'literals');
      const { statements, result } = await statementsOf(server, () => query(pages, { n: 200 }));
      expectRefused(result.status, result.body, 'variables');
      expect(result.body.errors![0]!.message).toMatch(/cost/i);
      expect(statements).toBe(0);

      const small = await query(pages, { n: 10 });
      expect(small.body.errors).toBeUndefined();
      expect((small.body.data as { conversations: { nodes: unknown[] } }).conversations.nodes.length).toBeGreaterThan(0);
      // A default written in the operation counts as the variable would.
      const byDefault = await query(pages.replace('$n: Int)', '$n: Int = 200)'), {});
      expectRefused(byDefault.status, byDefault.body, 'default');
      // Through a fragment, spread in two aliases: each spread counts.
      const fragment = 'fragment Page on Conversation { messages(last: $n) { nodes { id } } }';
      const twice = `query($n: Int) { a: conversations(first: $n) { nodes { ...Page } } b: conversations(first: $n) { nodes { ... on Conversation { ...Page } } } } ${fragment}`;
      expect((await query(twice, { n: 40 })).body.errors).toBeUndefined();
      const once = `query($n: Int) { a: conversations(first: $n) { nodes { ...Page } } } ${fragment}`;
      expect((await query(once, { n: 60 })).body.errors).toBeUndefined();
      const refusedTwice = await query(twice, { n: 60 });
      expectRefused(refusedTwice.status, refusedTwice.body, 'fragment twice');
    });

    it('refuses it over SSE, and takes small pages', async () => {
      const { statements, result } = await statementsOf(server, () => overSse(pages, { n: 200 }));
      expect(result.length).toBe(1);
      expectRefused(400, result[0]!, 'SSE');
      expect(statements).toBe(0);
      const small = await overSse(pages, { n: 10 });
      expect(small[0]!.errors).toBeUndefined();
      expect(small[0]!.data).toHaveProperty('conversations.nodes');
    });

    it('refuses it over the WebSocket, and takes small pages', async () => {
      const { statements, result } = await statementsOf(server, () => overWebSocket(pages, { n: 200 }));
      expect(result.type).toBe('error');
      const errors = result.payload as Body['errors'];
      expectRefused(400, { errors }, 'WebSocket');
      expect(statements).toBe(0);

      const raw = await rawSocket(server.wsUrl, alice);
      raw.socket.send(JSON.stringify({ id: 'q', type: 'subscribe', payload: { query: pages, variables: { n: 10 } } }));
      const next = await raw.waitFor((m) => m.id === 'q' && m.type !== 'complete');
      expect(next.type).toBe('next');
      expect((next.payload as Body).errors).toBeUndefined();
      expect((next.payload as Body).data).toHaveProperty('conversations.nodes');
      raw.socket.close(1000);
    });
  });

  it('applies the limits to subscriptions over SSE', async () => {
    const q = `subscription($c: ID!) { messageAdded(conversationId: $c) { ${'replyTo { '.repeat(30)}id${' }'.repeat(30)} } }`;
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${alice}` },
      body: JSON.stringify({ query: q, variables: { c: conversationId } }),
    });
    const text = await res.text(); // the stream ends after the error: nothing was subscribed
    expect(text).toContain('BAD_USER_INPUT');
    expect(text).not.toMatch(/INTERNAL_SERVER_ERROR|\.ts:\d/);
  });
});

describe('introspection and GraphiQL by configuration', () => {
  const introspect = (url: string) =>
    fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __schema { queryType { name } } }' }),
    }).then((r) => r.json() as Promise<Body>);
  const graphiql = (url: string) => fetch(url, { headers: { accept: 'text/html' } }).then(async (r) => ({ status: r.status, html: await r.text() }));

  it('serves both outside production', async () => {
    const server = await startServer({ env: { NODE_ENV: 'development' } });
    try {
      expect(await introspect(server.url)).toEqual({ data: { __schema: { queryType: { name: 'Query' } } } });
      expect((await graphiql(server.url)).html).toMatch(/graphiql/i);
    } finally {
      await server.stop();
    }
  });

  it('serves neither in production by default, and each when turned on', async () => {
    const off = await startServer({ env: { NODE_ENV: 'production' } });
    try {
      const result = await introspect(off.url);
      expect(result.data ?? null).toBeNull();
      expect(result.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
      expect((await graphiql(off.url)).html).not.toMatch(/graphiql/i);
    } finally {
      await off.stop();
    }
    const on = await startServer({ env: { NODE_ENV: 'production', INTROSPECTION: 'true', GRAPHIQL: 'false' } });
    try {
      expect((await introspect(on.url)).data).toEqual({ __schema: { queryType: { name: 'Query' } } });
      expect((await graphiql(on.url)).html).not.toMatch(/graphiql/i);
    } finally {
      await on.stop();
    }
    const ui = await startServer({ env: { NODE_ENV: 'production', GRAPHIQL: 'true' } });
    try {
      expect((await graphiql(ui.url)).html).toMatch(/graphiql/i);
    } finally {
      await ui.stop();
    }
  });
});
