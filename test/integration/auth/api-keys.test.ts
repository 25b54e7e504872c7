// Service API keys: X-API-Key, acting as a user with X-Act-As-User (audited), and the CLI.
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { and, eq } from 'drizzle-orm';
import { print } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConversationDocument,
  ConversationsDocument,
  MessageAddedDocument,
  MessagesDocument,
  SendMessageDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import { apiKeys, users as usersTable } from '../../../src/db/schema/index.js';
import { nextClose } from '../../kit/realtime.js';
import { conversationOf, createApiKey, createGroup, expectCode, send, users } from '../../kit/requests.js';
import { activeSubscriptions, dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends, createTestDatabase } from '../../kit/services.js';
import { collect, eventually } from '../../kit/subscriptions.js';

const run = promisify(execFile);

describe.each(backends)('core API keys on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ backend });
  });
  afterAll(() => server?.stop());

  const actAsRows = (orgId: string) => server.app.services.audit.list(orgId, { limit: 1000, action: 'act_as' });
  const rowOf = async (orgId: string, id: string) =>
    (
      await server.app.services.database.db
        .select()
        .from(usersTable)
        .where(and(eq(usersTable.orgId, orgId), eq(usersTable.id, id)))
    )[0];

  it('authenticates as the key’s own service user, without an audit entry', async () => {
    const { key, row } = await createApiKey(server, { orgId: 'default', name: 'notifier', userId: 'notifier-bot' });
    expect(key).toMatch(/^sbk_/);
    expect(row.keyHash).not.toContain(key);
    const before = (await actAsRows('default')).length;
    const { viewer } = dataOf(await server.gql({ apiKey: key }, ViewerDocument));
    expect(viewer).toMatchObject({ id: 'notifier-bot', displayName: 'notifier', kind: 'AGENT' });
    expect(await actAsRows('default')).toHaveLength(before);
    expect(await rowOf('default', 'notifier-bot')).toMatchObject({ kind: 'AGENT', source: 'SERVICE' });
  });

  it("makes a service of the key's user only when the key creates it or finds a placeholder", async () => {
    const { alice } = await users(server, ['alice']);
    await createGroup(server, alice, ['placeholder-bot'], 'adopted');
    expect(await rowOf('default', 'placeholder-bot')).toMatchObject({ source: 'PLACEHOLDER' });
    await createApiKey(server, { orgId: 'default', name: 'Adopted Bot', userId: 'placeholder-bot' });
    expect(await rowOf('default', 'placeholder-bot')).toMatchObject({ displayName: 'Adopted Bot', kind: 'AGENT', source: 'SERVICE' });
    // A person's row stays theirs: the key acts as them by default.
    const { key } = await createApiKey(server, { orgId: 'default', name: 'alice-key', userId: 'alice' });
    expect(await rowOf('default', 'alice')).toMatchObject({ displayName: 'alice name', kind: 'USER', source: 'TOKEN' });
    expect(dataOf(await server.gql({ apiKey: key }, ViewerDocument)).viewer).toMatchObject({ id: 'alice', kind: 'USER' });
  });

  it('acts as a user with X-Act-As-User, writing an act_as audit row per request', async () => {
    const { alice, bob } = await users(server, ['alice', 'bob']);
    const conv = await createGroup(server, alice, ['bob'], 'act-as');
    const { key, row } = await createApiKey(server, { orgId: 'default', name: 'bridge' });
    const before = (await actAsRows('default')).length;

    const { viewer } = dataOf(await server.gql({ apiKey: key, actAs: 'alice' }, ViewerDocument));
    expect(viewer).toMatchObject({ id: 'alice', displayName: 'alice name', kind: 'USER' });

    // The operation name is recorded when the client sends one.
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': key, 'x-act-as-user': 'alice' },
      body: JSON.stringify({
        operationName: 'Send',
        query: 'mutation Send($input: SendMessageInput!) { sendMessage(input: $input) { id seq sender { id } senderKind } }',
        variables: { input: { conversationId: conv, content: 'sent by the bridge for alice' } },
      }),
    });
    const sent = (await res.json()) as { data: { sendMessage: { id: string; seq: number; sender: { id: string }; senderKind: string } } };
    expect(sent.data.sendMessage).toMatchObject({ seq: 1, sender: { id: 'alice' }, senderKind: 'USER' });

    const rows = await actAsRows('default');
    expect(rows).toHaveLength(before + 2);
    // Newest first.
    expect(rows[0]).toMatchObject({
      orgId: 'default',
      action: 'act_as',
      actor: `apikey:${row.id}`,
      subjectUserId: 'alice',
      details: { keyName: 'bridge', operation: 'Send' },
    });
    expect(rows[1]).toMatchObject({ actor: `apikey:${row.id}`, subjectUserId: 'alice' });

    // Bob sees alice's message as from alice, unread.
    const seen = await conversationOf(server, bob, conv);
    expect(seen.lastMessage).toMatchObject({ id: sent.data.sendMessage.id, sender: { id: 'alice' } });
    expect(seen.unreadCount).toBe(1);
  });

  it('gives the acted-as user exactly their own rights', async () => {
    const { alice } = await users(server, ['alice']);
    const conv = await createGroup(server, alice, ['bob'], 'rights');
    const { key } = await createApiKey(server, { orgId: 'default', name: 'rights-bot' });
    // The key's own user is no participant.
    expectCode(await server.gql({ apiKey: key }, ConversationDocument, { id: conv }), 'FORBIDDEN');
    // Acting as a participant works; acting as someone else is that someone's FORBIDDEN.
    expect(dataOf(await server.gql({ apiKey: key, actAs: 'bob' }, ConversationDocument, { id: conv })).conversation?.id).toBe(conv);
    await users(server, ['stranger']);
    expectCode(await server.gql({ apiKey: key, actAs: 'stranger' }, ConversationDocument, { id: conv }), 'FORBIDDEN');
    expectCode(await server.gql({ apiKey: key, actAs: 'stranger' }, SendMessageDocument, { input: { conversationId: conv, content: 'x' } }), 'FORBIDDEN');
    expect((await conversationOf(server, alice, conv)).lastSeq).toBe(0);
  });

  it("refuses to act as an id that is no user of the key's org (UNAUTHENTICATED, socket 4403), creating and auditing nothing", async () => {
    await users(server, ['acme-only'], { org: 'acme' });
    const { key } = await createApiKey(server, { orgId: 'default', name: 'careful-bot' });
    const before = (await actAsRows('default')).length;
    for (const actAs of ['nobody-yet', 'acme-only']) {
      const result = await server.gql({ apiKey: key, actAs }, ViewerDocument);
      expectCode(result, 'UNAUTHENTICATED');
      expect(result.errors![0]!.message).toContain('X-Act-As-User');
      const socket = server.ws({ apiKey: key, actAs });
      const closed = nextClose(socket);
      collect(socket, MessageAddedDocument, {});
      expect((await closed).code).toBe(4403);
      expect(await rowOf('default', actAs)).toBeUndefined();
    }
    expect(await actAsRows('default')).toHaveLength(before);
    // A placeholder is a user of the org: someone added it.
    const { alice } = await users(server, ['alice']);
    await createGroup(server, alice, ['added-not-seen'], 'placeholder');
    expect(dataOf(await server.gql({ apiKey: key, actAs: 'added-not-seen' }, ViewerDocument)).viewer.id).toBe('added-not-seen');
  });

  it('keeps a key inside its own org', async () => {
    const { alice } = await users(server, ['alice']);
    const conv = await createGroup(server, alice, ['bob'], 'tenant');
    await send(server, alice, conv, 'default org only');
    const { key } = await createApiKey(server, { orgId: 'acme', name: 'acme-bot' });
    // Acme's alice is another person; the key can be only her.
    await users(server, ['alice'], { org: 'acme' });
    const asAlice = { apiKey: key, actAs: 'alice' };
    expectCode(await server.gql(asAlice, ConversationDocument, { id: conv }), 'NOT_FOUND');
    expectCode(await server.gql(asAlice, MessagesDocument, { conversationId: conv, last: 5 }), 'NOT_FOUND');
    const { conversations } = dataOf(await server.gql(asAlice, ConversationsDocument, { first: 200 }));
    expect(conversations.edges).toEqual([]);
    // The audit row is in the key's org, not the default one.
    expect((await actAsRows('acme')).some((r) => r.subjectUserId === 'alice')).toBe(true);
  });

  it('refuses bad, revoked and mixed credentials with UNAUTHENTICATED', async () => {
    const alice = await server.token('alice');
    const { key, row } = await createApiKey(server, { orgId: 'default', name: 'short-lived-key' });
    expectCode(await server.gql({ apiKey: 'sbk_not-a-real-key' }, ViewerDocument), 'UNAUTHENTICATED');
    expectCode(await server.gql({ apiKey: 'no-prefix' }, ViewerDocument), 'UNAUTHENTICATED');
    expectCode(await server.gql({ apiKey: `${key}x`, actAs: 'alice' }, ViewerDocument), 'UNAUTHENTICATED');
    expectCode(await server.gql({ apiKey: key }, ViewerDocument, undefined, { authorization: `Bearer ${alice}` }), 'UNAUTHENTICATED');
    expect(dataOf(await server.gql({ apiKey: key }, ViewerDocument)).viewer.id).toBe('short-lived-key');
    expect(await server.app.services.apiKeys.revoke(row.id)).toBe(true);
    expectCode(await server.gql({ apiKey: key }, ViewerDocument), 'UNAUTHENTICATED');
    expectCode(await server.gql({ apiKey: key, actAs: 'alice' }, ViewerDocument), 'UNAUTHENTICATED');
  });

  it('closes the sockets and ends the SSE streams of a key revoked elsewhere, on the server’s own re-check', async () => {
    const { key, row } = await createApiKey(server, { orgId: 'default', name: 'connected-key' });
    const active = () => activeSubscriptions(server);
    const baseline = await active();
    const socket = server.ws({ apiKey: key });
    const closed = nextClose(socket);
    collect(socket, MessageAddedDocument, {});
    const sse = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-api-key': key },
      body: JSON.stringify({ query: print(MessageAddedDocument), variables: {} }),
    });
    expect(sse.status).toBe(200);
    const sseEnded = sse.text();
    await eventually(async () => (await active()) === baseline + 2);

    // Revoked behind the server's back, as the CLI (a process of its own) does it; the server's
    // own re-check (every REVOCATION_DELAY_MS / 2) finds it.
    const { db } = server.app.services.database;
    await db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, row.id));
    expect(await closed).toEqual({ code: 4403, reason: 'API key revoked' });
    await sseEnded;
    await eventually(async () => (await active()) === baseline);
  });

  it('drops the cached check of a key its re-check finds revoked', async () => {
    const { key, row } = await createApiKey(server, { orgId: 'default', name: 'cached-key' });
    const socket = server.ws({ apiKey: key });
    const closed = nextClose(socket);
    collect(socket, MessageAddedDocument, {});
    // Checked, and so cached, just now; then revoked behind the server's back.
    expect(dataOf(await server.gql({ apiKey: key }, ViewerDocument)).viewer.id).toBe('cached-key');
    await server.app.services.database.db.update(apiKeys).set({ revokedAt: new Date() }).where(eq(apiKeys.id, row.id));
    // Re-checked (by hand, or by the server's timer meanwhile) until the socket's watch finds it.
    let ended = false;
    void closed.then(() => (ended = true));
    await eventually(async () => {
      await server.app.services.apiKeys.recheck();
      return ended;
    });
    // Well within the cache's lifetime (REVOCATION_DELAY_MS / 2): refused only because the re-check dropped it.
    expectCode(await server.gql({ apiKey: key }, ViewerDocument), 'UNAUTHENTICATED');
  });

  it('rejects an over-long act-as id as BAD_USER_INPUT without auditing it', async () => {
    const { key } = await createApiKey(server, { orgId: 'default', name: 'long-act-as' });
    const before = (await actAsRows('default')).length;
    expectCode(await server.gql({ apiKey: key, actAs: 'x'.repeat(201) }, ViewerDocument), 'BAD_USER_INPUT');
    expect(await actAsRows('default')).toHaveLength(before);
  });
});

describe.each(backends)('npm run apikey on %s', (backend) => {
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'DATABASE_URL' && k !== 'DATA_DIR')) as Record<string, string>;
    if (backend === 'postgres') {
      const db = await createTestDatabase();
      env = { ...base, DATABASE_URL: db.url };
      cleanup = db.drop;
    } else {
      const dir = mkdtempSync(join(tmpdir(), 'sb-apikey-'));
      env = { ...base, DATA_DIR: dir };
      cleanup = async () => rmSync(dir, { recursive: true, force: true });
    }
  });
  afterAll(() => cleanup?.());

  const cli = (...args: string[]) => run('npm', ['run', 'apikey', '--', ...args], { env, cwd: process.cwd() });
  const serverOnSameDatabase = () => startServer(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : { env: { DATA_DIR: env.DATA_DIR! } });

  // Three CLI runs (tsx start-up, migrations) and two server starts: slow on a busy machine.
  it('creates a key that authenticates and acts as users; list shows it; revoke ends it', async () => {
    const created = await cli('create', '--name', 'ci-bot', '--org', 'acme', '--display-name', 'CI Bot');
    const key = created.stdout
      .split('\n')
      .find((line) => line.startsWith('sbk_'))
      ?.trim();
    expect(key, created.stdout + created.stderr).toMatch(/^sbk_[A-Za-z0-9_-]{43}$/);
    const id = /created API key ([0-9a-f-]{36})/.exec(created.stderr)?.[1];
    expect(id, created.stderr).toBeDefined();

    let server = await serverOnSameDatabase();
    try {
      const { viewer } = dataOf(await server.gql({ apiKey: key! }, ViewerDocument));
      expect(viewer).toMatchObject({ id: 'ci-bot', displayName: 'CI Bot', kind: 'AGENT' });
      const [own] = await server.app.services.database.db
        .select()
        .from(usersTable)
        .where(and(eq(usersTable.orgId, 'acme'), eq(usersTable.id, 'ci-bot')));
      expect(own!.source).toBe('SERVICE');
      dataOf(await server.gql(await server.token('operator', { org: 'acme' }), ViewerDocument));
      const asUser = dataOf(await server.gql({ apiKey: key!, actAs: 'operator' }, ViewerDocument)).viewer;
      expect(asUser).toMatchObject({ id: 'operator', kind: 'USER' });
      const audit = await server.app.services.audit.list('acme', { limit: 10, action: 'act_as' });
      expect(audit[0]).toMatchObject({ actor: `apikey:${id}`, subjectUserId: 'operator' });
      // Keys live in their org: the default org knows no ci-bot.
      const stranger = await server.token('someone');
      expect(dataOf(await server.gql(stranger, ViewerDocument)).viewer.id).toBe('someone');
    } finally {
      await server.stop();
    }

    const listed = await cli('list', '--org', 'acme');
    expect(listed.stdout).toContain(id!);
    expect(listed.stdout).toContain(key!.slice(0, 10));
    expect(listed.stdout).not.toContain(key!);
    expect(listed.stdout).toMatch(/\tactive\t/);

    const revoked = await cli('revoke', id!);
    expect(revoked.stdout).toContain('revoked');

    server = await serverOnSameDatabase();
    try {
      expectCode(await server.gql({ apiKey: key! }, ViewerDocument), 'UNAUTHENTICATED');
    } finally {
      await server.stop();
    }
  });
});
