// Switchboard as a Model Context Protocol server, driven by the SDK's own client: Streamable
// HTTP at /mcp (on PGlite and Postgres, and across two instances on one Redis) and stdio through
// `npm run mcp`, which talks to a running server over GraphQL.
import { spawn } from 'node:child_process';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ExpertRequestsDocument, ViewerDocument } from '../../../src/client/generated/graphql.js';
import { rawHttp } from '../../kit/origins.js';
import { createApiKey, createGroup, send } from '../../kit/requests.js';
import { activeSubscriptions, dataOf, startServer, type TestServer, UNLIMITED_ENV } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { eventually } from '../../kit/subscriptions.js';
import { describeTwoInstances, twoInstances } from '../../kit/two-instances.js';

type Headers = Record<string, string>;
type ToolMessage = { id: string; seq: number; content: string; sender: { id: string; name: string; kind: string } };

const mcpUrl = (server: TestServer) => new URL('/mcp', server.url);
const bearer = (token: string): Headers => ({ authorization: `Bearer ${token}` });

/** An SDK client connected to /mcp of `server` with these headers (closed after each test). */
const open: Client[] = [];
async function connectHttp(server: TestServer, headers: Headers, fetchImpl?: typeof fetch): Promise<Client> {
  const client = new Client({ name: 'switchboard-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(mcpUrl(server), { requestInit: { headers }, fetch: fetchImpl }));
  open.push(client);
  return client;
}

/** A tool's structured result; fails with the tool's error text if the call failed. */
async function call<T = Record<string, unknown>>(client: Client, name: string, args: Record<string, unknown>): Promise<T> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  if (result.isError) throw new Error(`${name} failed: ${textOf(result)}`);
  expect(JSON.parse(textOf(result))).toEqual(result.structuredContent);
  return result.structuredContent as T;
}

/** The text of a failed call (the contract code, then the server's message). */
async function failure(client: Client, name: string, args: Record<string, unknown>): Promise<string> {
  const result = (await client.callTool({ name, arguments: args })) as CallToolResult;
  expect(result.isError, `${name} should fail, got ${JSON.stringify(result.structuredContent)}`).toBe(true);
  return textOf(result);
}

const textOf = (result: CallToolResult) => result.content.map((c) => (c.type === 'text' ? c.text : '')).join('');

/** A raw POST of one JSON-RPC message to /mcp, as a client with these headers sends it. */
const post = (server: TestServer, headers: Headers, body: unknown = initialize) =>
  fetch(mcpUrl(server), {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...headers },
    body: JSON.stringify(body),
  });
const initialize = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

afterEach(async () => {
  await Promise.all(open.splice(0).map((c) => c.close()));
});

describe.each(backends)('MCP over Streamable HTTP on %s', (backend) => {
  let server: TestServer;
  let alice: string;
  let bot: string;
  let carol: string;

  beforeAll(async () => {
    server = await startServer({ backend, env: { ...UNLIMITED_ENV, MCP_MAX_REQUESTS_PER_USER: '2' } });
    alice = await server.token('alice', { name: 'Alice' });
    bot = await server.token('helper-bot', { name: 'Helper', kind: 'agent' });
    carol = await server.token('carol', { name: 'Carol' });
    for (const t of [alice, bot, carol]) dataOf(await server.gql(t, ViewerDocument));
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('refuses requests without valid credentials with 401, before any MCP message is handled', async () => {
    for (const headers of [{}, bearer('not-a-jwt'), { 'x-api-key': 'sk_nope' }, { ...bearer(alice), 'x-api-key': 'sk_nope' }]) {
      const res = await post(server, headers);
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect((await res.json()).error.message).toMatch(/^UNAUTHENTICATED: /);
    }
    const expired = await server.token('alice', { expiresIn: '-1h' });
    expect((await post(server, bearer(expired))).status).toBe(401);
    // The SDK's client gives up the same way.
    await expect(connectHttp(server, {})).rejects.toThrow();
    // A page elsewhere cannot use it through a visitor's browser; the server's own pages and
    // (outside production) localhost can.
    const body = JSON.stringify(initialize);
    const asPage = (origin: string) => ({ origin, 'content-type': 'application/json', accept: 'application/json, text/event-stream', ...bearer(alice) });
    expect((await rawHttp(mcpUrl(server).href, 'POST', asPage('https://elsewhere.example'), body)).status).toBe(403);
    expect((await rawHttp(mcpUrl(server).href, 'POST', asPage('http://localhost:3000'), body)).status).toBe(200);
    // Stateless: no GET stream and no session to delete.
    expect((await fetch(mcpUrl(server), { headers: bearer(alice) })).status).toBe(405);
    expect((await fetch(mcpUrl(server), { method: 'DELETE', headers: bearer(alice) })).status).toBe(405);
  });

  it('lists its tools, each with an input schema, and answers as the token its viewer', async () => {
    const client = await connectHttp(server, bearer(bot));
    expect(client.getServerVersion()?.name).toBe('switchboard');
    expect(client.getInstructions()).toContain('"Helper" (user id "helper-bot")');
    const { tools } = await client.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual(['list_conversations', 'read_history', 'request_expert', 'search', 'send_message', 'wait_for_messages']);
    const wait = tools.find((t) => t.name === 'wait_for_messages')!;
    expect(wait.inputSchema.required).toEqual(['conversationId', 'afterSeq']);
    expect(wait.inputSchema.properties?.timeoutSeconds).toMatchObject({ maximum: 60 });

    const c = await createGroup(server, alice, ['helper-bot'], 'Support');
    const sent = await call<{ message: ToolMessage }>(client, 'send_message', { conversationId: c, content: 'Hello from MCP' });
    expect(sent.message).toMatchObject({ seq: 1, content: 'Hello from MCP', sender: { id: 'helper-bot', kind: 'AGENT' } });
  });

  it('lists conversations, reads history page by page with cursors, and sends exactly once', async () => {
    const c = await createGroup(server, alice, ['helper-bot'], 'History');
    for (let i = 1; i <= 5; i++) await send(server, alice, c, `m${i}`);
    const client = await connectHttp(server, bearer(bot));

    const { conversations } = await call<{
      conversations: { id: string; name: string; lastSeq: number; unreadCount: number; participants: { id: string }[] }[];
    }>(client, 'list_conversations', { limit: 50 });
    const listed = conversations.find((x) => x.id === c)!;
    expect(listed).toMatchObject({ name: 'History', lastSeq: 5, unreadCount: 5 });
    expect(listed.participants.map((p) => p.id).sort()).toEqual(['alice', 'helper-bot']);
    const firstPage = await call<{ conversations: unknown[]; nextCursor: string | null }>(client, 'list_conversations', { limit: 1 });
    expect(firstPage.conversations).toHaveLength(1);
    const secondPage = await call<{ conversations: { id: string }[] }>(client, 'list_conversations', { limit: 1, after: firstPage.nextCursor });
    expect(secondPage.conversations).toHaveLength(1);
    expect(secondPage.conversations[0]).not.toEqual(firstPage.conversations[0]);

    type Page = { messages: ToolMessage[]; olderCursor: string; hasOlder: boolean; newerCursor: string; hasNewer: boolean };
    const newest = await call<Page>(client, 'read_history', { conversationId: c, limit: 2 });
    expect(newest.messages.map((m) => m.content)).toEqual(['m4', 'm5']);
    expect(newest.hasOlder).toBe(true);
    const older = await call<Page>(client, 'read_history', { conversationId: c, limit: 2, before: newest.olderCursor });
    expect(older.messages.map((m) => m.seq)).toEqual([2, 3]);
    const oldest = await call<Page>(client, 'read_history', { conversationId: c, limit: 2, before: older.olderCursor });
    expect(oldest.messages.map((m) => m.seq)).toEqual([1]);
    expect(oldest.hasOlder).toBe(false);
    const forward = await call<Page>(client, 'read_history', { conversationId: c, limit: 2, after: oldest.newerCursor });
    expect(forward.messages.map((m) => m.seq)).toEqual([2, 3]);
    expect(forward.hasNewer).toBe(true);

    const once = { conversationId: c, content: 'answer', clientMessageId: 'mcp-1' };
    const first = await call<{ message: ToolMessage }>(client, 'send_message', once);
    const again = await call<{ message: ToolMessage }>(client, 'send_message', once);
    expect(again.message).toEqual(first.message);
    expect(first.message.seq).toBe(6);
  });

  it("searches the messages of the viewer's conversations only, page by page, and refuses an empty query", async () => {
    const shared = await createGroup(server, alice, ['helper-bot'], 'Search shared');
    const other = await createGroup(server, alice, ['helper-bot'], 'Search other');
    const hidden = await createGroup(server, alice, ['carol'], 'Search hidden');
    await send(server, alice, shared, 'the zebrafish tank needs cleaning');
    await send(server, alice, shared, 'nothing to see here');
    await send(server, alice, other, 'a zebrafish photo');
    await send(server, alice, hidden, 'secret zebrafish plans');
    const client = await connectHttp(server, bearer(bot));

    type Hits = { hits: { conversationId: string; message: ToolMessage; highlight: string }[]; nextCursor: string | null };
    const all = await call<Hits>(client, 'search', { query: 'zebrafish' });
    expect(all.hits.map((h) => h.message.content).sort()).toEqual(['a zebrafish photo', 'the zebrafish tank needs cleaning']);
    expect(all.hits.every((h) => h.highlight.includes('<mark>zebrafish</mark>'))).toBe(true);
    expect(all.nextCursor).toBeNull();

    const one = await call<Hits>(client, 'search', { query: 'zebrafish', conversationId: shared });
    expect(one.hits.map((h) => [h.conversationId, h.message.seq])).toEqual([[shared, 1]]);

    const first = await call<Hits>(client, 'search', { query: 'zebrafish', limit: 1 });
    expect(first.hits).toHaveLength(1);
    expect(first.nextCursor).not.toBeNull();
    const second = await call<Hits>(client, 'search', { query: 'zebrafish', limit: 1, after: first.nextCursor });
    expect(second.hits.map((h) => h.message.id)).not.toEqual(first.hits.map((h) => h.message.id));
    expect(second.hits).toHaveLength(1);

    // Not a participant of the hidden conversation: nothing from it, even when asked for it.
    expect(await failure(client, 'search', { query: 'zebrafish', conversationId: hidden })).toMatch(/^(NOT_FOUND|FORBIDDEN): /);
    expect((await client.callTool({ name: 'search', arguments: { query: '' } })).isError).toBe(true);
  });

  it('waits for messages after a seq: what is stored at once, then what arrives, bounded, never twice', async () => {
    const c = await createGroup(server, alice, ['helper-bot'], 'Wait');
    await send(server, alice, c, 'one');
    await send(server, alice, c, 'two');
    const client = await connectHttp(server, bearer(bot));
    type Waited = { messages: ToolMessage[]; lastSeq: number; timedOut: boolean };

    // Stored ones come at once; a later wait picks up after the last seq it got.
    const seen: number[] = [];
    let lastSeq = 0;
    while (lastSeq < 2) {
      const got = await call<Waited>(client, 'wait_for_messages', { conversationId: c, afterSeq: lastSeq, timeoutSeconds: 60 });
      seen.push(...got.messages.map((m) => m.seq));
      lastSeq = got.lastSeq;
    }
    expect(seen).toEqual([1, 2]);

    // Nothing after seq 2 yet: the wait holds until Alice writes, then answers with her message.
    const before = await activeSubscriptions(server);
    const waiting = call<Waited>(client, 'wait_for_messages', { conversationId: c, afterSeq: 2, timeoutSeconds: 60 });
    await eventually(async () => (await activeSubscriptions(server)) > before);
    await send(server, alice, c, 'three');
    const arrived = await waiting;
    expect(arrived.messages.map((m) => [m.seq, m.content, m.sender.id])).toEqual([[3, 'three', 'alice']]);
    expect(arrived).toMatchObject({ lastSeq: 3, timedOut: false });
    await eventually(async () => (await activeSubscriptions(server)) === before);

    // A limit caps the answer; the rest comes with the next wait.
    for (const text of ['four', 'five', 'six']) await send(server, alice, c, text);
    const capped = await call<Waited>(client, 'wait_for_messages', { conversationId: c, afterSeq: 3, limit: 2 });
    expect(capped.messages.map((m) => m.seq)).toEqual([4, 5]);

    // Nothing new within the timeout: an empty answer.
    const none = await call<Waited>(client, 'wait_for_messages', { conversationId: c, afterSeq: 6, timeoutSeconds: 1 });
    expect(none).toEqual({ messages: [], lastSeq: 6, timedOut: true });

    // The bounds are in the schema: the call is refused before anything runs.
    expect(await failure(client, 'wait_for_messages', { conversationId: c, afterSeq: 0, timeoutSeconds: 61 })).toMatch(/Input validation error/);
    expect(await failure(client, 'wait_for_messages', { conversationId: c, afterSeq: -1 })).toMatch(/Input validation error/);
    expect(await failure(client, 'wait_for_messages', { conversationId: c, afterSeq: 0, limit: 101 })).toMatch(/Input validation error/);
    expect(await failure(client, 'read_history', { conversationId: c, limit: 0 })).toMatch(/Input validation error/);
    expect(await failure(client, 'send_message', { conversationId: c, content: '' })).toMatch(/Input validation error/);
  });

  it("maps the API's errors to tool errors that name the contract code, and changes nothing", async () => {
    const c = await createGroup(server, alice, ['helper-bot'], 'Private to them');
    const client = await connectHttp(server, bearer(carol));
    expect(await failure(client, 'read_history', { conversationId: c })).toMatch(/^(NOT_FOUND|FORBIDDEN): /);
    expect(await failure(client, 'send_message', { conversationId: c, content: 'let me in' })).toMatch(/^(NOT_FOUND|FORBIDDEN): /);
    expect(await failure(client, 'wait_for_messages', { conversationId: c, afterSeq: 0 })).toMatch(/^(NOT_FOUND|FORBIDDEN): /);
    expect(await failure(client, 'read_history', { conversationId: c, before: 'bm90LWEtY3Vyc29y' })).toMatch(/^(BAD_USER_INPUT|NOT_FOUND|FORBIDDEN): /);
    const own = await createGroup(server, carol, ['alice'], 'Carol');
    expect(await failure(client, 'read_history', { conversationId: own, before: 'bm90LWEtY3Vyc29y' })).toMatch(/^BAD_USER_INPUT: .*cursor/);
    expect(await failure(client, 'send_message', { conversationId: own, content: 'x'.repeat(16_001) })).toMatch(/^BAD_USER_INPUT: /);
    const history = await call<{ messages: unknown[] }>(client, 'read_history', { conversationId: own });
    expect(history.messages).toEqual([]);
  });

  it('asks for an expert, whom the expert desk then sees', async () => {
    const c = await createGroup(server, alice, ['helper-bot'], 'Needs a human');
    const client = await connectHttp(server, bearer(bot));
    const { expertRequest } = await call<{ expertRequest: { id: string; status: string; requestedBy: string } }>(client, 'request_expert', {
      conversationId: c,
      reason: 'refund over the limit',
    });
    expect(expertRequest).toMatchObject({ status: 'OPEN', requestedBy: 'helper-bot' });
    const expert = await server.token('erin', { roles: ['expert'], name: 'Erin' });
    const open = dataOf(await server.gql(expert, ExpertRequestsDocument, {})).expertRequests.nodes;
    expect(open).toContainEqual(expect.objectContaining({ id: expertRequest.id, reason: 'refund over the limit' }));
  });

  it('serves an API key, acting as a user of its org with X-Act-As-User', async () => {
    const { key } = await createApiKey(server, { orgId: 'default', name: 'mcp-bridge' });
    const c = await createGroup(server, alice, ['helper-bot'], 'Bridged');
    const asAlice = await connectHttp(server, { 'x-api-key': key, 'x-act-as-user': 'alice' });
    const sent = await call<{ message: ToolMessage }>(asAlice, 'send_message', { conversationId: c, content: 'via key' });
    expect(sent.message.sender.id).toBe('alice');
    const res = await post(server, { 'x-api-key': key, 'x-act-as-user': 'nobody-here' });
    expect(res.status).toBe(401);
  });

  it("limits a user's requests in progress, and frees a slot when its client goes away", async () => {
    const c = await createGroup(server, alice, ['helper-bot'], 'Limits');
    const before = await activeSubscriptions(server);
    const waiters = [await connectHttp(server, bearer(bot)), await connectHttp(server, bearer(bot))];
    const pending = waiters.map((w) =>
      w.callTool({ name: 'wait_for_messages', arguments: { conversationId: c, afterSeq: 0, timeoutSeconds: 60 } }).catch(() => null),
    );
    await eventually(async () => (await activeSubscriptions(server)) === before + 2);

    const third = await post(server, bearer(bot));
    expect(third.status).toBe(429);
    expect((await third.json()).error.message).toMatch(/^RATE_LIMITED: /);
    // Another user is not concerned.
    expect((await post(server, bearer(alice))).status).toBe(200);

    // A client that leaves mid-wait ends its subscription and frees its slot.
    await waiters[0]!.close();
    await eventually(async () => (await activeSubscriptions(server)) === before + 1);
    await eventually(async () => (await post(server, bearer(bot))).status === 200);

    await send(server, alice, c, 'release');
    await Promise.all(pending);
    await eventually(async () => (await activeSubscriptions(server)) === before);
  });
});

describe('MCP over Streamable HTTP at shutdown', () => {
  it('ends the waits in progress with what they have, so that stopping does not wait for them', async () => {
    // A grace far longer than any test: stop() would hang on a wait it did not end.
    const server = await startServer({ backend: 'pglite', env: { ...UNLIMITED_ENV, SHUTDOWN_GRACE_MS: '600000' } });
    try {
      const alice = await server.token('alice', { name: 'Alice' });
      const bot = await server.token('helper-bot', { kind: 'agent' });
      for (const t of [alice, bot]) dataOf(await server.gql(t, ViewerDocument));
      const c = await createGroup(server, alice, ['helper-bot'], 'Shutdown');
      const client = await connectHttp(server, bearer(bot));
      const waiting = call(client, 'wait_for_messages', { conversationId: c, afterSeq: 0, timeoutSeconds: 60 });
      await eventually(async () => (await activeSubscriptions(server)) === 1);
      await server.app.stop();
      expect(await waiting).toEqual({ messages: [], lastSeq: 0, timedOut: true });
    } finally {
      await server.stop();
    }
  });
});

describeTwoInstances('MCP over Streamable HTTP on two instances', () => {
  const servers = twoInstances();

  it('needs no affinity: requests of one client alternate between instances, and a wait on one sees a send on the other', async () => {
    const { a, b } = servers;
    const alice = await a.token('alice', { name: 'Alice' });
    const bot = await a.token('helper-bot', { kind: 'agent' });
    for (const t of [alice, bot]) dataOf(await a.gql(t, ViewerDocument));
    const c = await createGroup(a, alice, ['helper-bot'], 'Two instances');

    // Every other request of this client goes to B: initialize on one, calls on either.
    let n = 0;
    const hits = { a: 0, b: 0 };
    const alternate: typeof fetch = (_input, init) => {
      const target = n++ % 2 === 0 ? a : b;
      hits[target === a ? 'a' : 'b']++;
      return fetch(mcpUrl(target), init);
    };
    const client = await connectHttp(a, bearer(bot), alternate);
    await call(client, 'list_conversations', {});
    const sent = await call<{ message: ToolMessage }>(client, 'send_message', { conversationId: c, content: 'from MCP' });
    expect(hits.a).toBeGreaterThan(0);
    expect(hits.b).toBeGreaterThan(0);

    const onA = await connectHttp(a, bearer(bot));
    const before = await activeSubscriptions(a);
    const waiting = call<{ messages: ToolMessage[] }>(onA, 'wait_for_messages', { conversationId: c, afterSeq: sent.message.seq, timeoutSeconds: 60 });
    await eventually(async () => (await activeSubscriptions(a)) > before);
    await send(b, alice, c, 'sent on B');
    expect((await waiting).messages.map((m) => m.content)).toEqual(['sent on B']);
  });
});

describe('MCP on stdio (npm run mcp)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startServer({ backend: 'pglite' });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it('serves the tools over stdio as the token given, talking to the server over GraphQL', async () => {
    const alice = await server.token('alice', { name: 'Alice' });
    const bot = await server.token('helper-bot', { name: 'Helper', kind: 'agent' });
    for (const t of [alice, bot]) dataOf(await server.gql(t, ViewerDocument));
    const c = await createGroup(server, alice, ['helper-bot'], 'Stdio');
    await send(server, alice, c, 'are you there?');

    const client = new Client({ name: 'switchboard-test', version: '1.0.0' });
    const env = { ...(process.env as Record<string, string>), SWITCHBOARD_URL: server.url, SWITCHBOARD_TOKEN: bot };
    await client.connect(new StdioClientTransport({ command: 'npm', args: ['run', '-s', 'mcp'], env, cwd: process.cwd(), stderr: 'pipe' }));
    open.push(client);

    expect((await client.listTools()).tools).toHaveLength(6);
    const got = await call<{ messages: ToolMessage[]; lastSeq: number }>(client, 'wait_for_messages', { conversationId: c, afterSeq: 0 });
    expect(got.messages.map((m) => m.content)).toEqual(['are you there?']);
    await call(client, 'send_message', { conversationId: c, content: 'yes, over stdio', replyToId: got.messages[0]!.id });

    const waiting = call<{ messages: ToolMessage[] }>(client, 'wait_for_messages', { conversationId: c, afterSeq: 2, timeoutSeconds: 60 });
    await send(server, alice, c, 'great');
    expect((await waiting).messages.map((m) => m.content)).toEqual(['great']);
    const history = await call<{ messages: (ToolMessage & { replyToSeq?: number })[] }>(client, 'read_history', { conversationId: c });
    expect(history.messages.map((m) => [m.sender.id, m.content, m.replyToSeq ?? null])).toEqual([
      ['alice', 'are you there?', null],
      ['helper-bot', 'yes, over stdio', 1],
      ['alice', 'great', null],
    ]);
    expect(await failure(client, 'read_history', { conversationId: '00000000-0000-0000-0000-000000000000' })).toMatch(/^NOT_FOUND: /);
  });

  it('refuses to start with credentials the server refuses, or none, saying why on stderr', async () => {
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
        const base = { ...(process.env as Record<string, string>) };
        delete base.SWITCHBOARD_TOKEN;
        delete base.SWITCHBOARD_API_KEY;
        // The entry itself (npm run mcp runs it the same way, as the test above shows), without npm's start-up.
        const child = spawn(process.execPath, ['--import', 'tsx', 'src/mcp/stdio.ts'], {
          env: { ...base, SWITCHBOARD_URL: server.url, ...env },
          cwd: process.cwd(),
        });
        let stderr = '';
        let stdout = '';
        child.stderr.on('data', (d) => (stderr += d));
        child.stdout.on('data', (d) => (stdout += d));
        child.on('exit', (code) => resolve({ code, stderr, stdout }));
      });
    const bad = await run({ SWITCHBOARD_TOKEN: 'not-a-jwt' });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/cannot sign in at .*UNAUTHENTICATED/);
    expect(bad.stdout).toBe('');
    const none = await run({});
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/either a token or an API key/);
  });
});
