// History reads check access in the page statement itself: one statement for a participant's
// page, and the same answers as a separate participant check for everyone else, at once.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConversationMessagesDocument, LeaveConversationDocument, MessagesDocument, RemoveParticipantDocument } from '../../../src/client/generated/graphql.js';
import { createGroup, expectCode, send, users } from '../../kit/requests.js';
import { dataOf, startServer, statementsOf, type TestServer } from '../../kit/server.js';
import { backends, createTestDatabase, TEST_DATABASE_URL } from '../../kit/services.js';

describe.each(backends)('core history reads on %s', (backend) => {
  let server: TestServer;
  let t: Record<'alice' | 'bob' | 'carol' | 'dave' | 'outsider', string>;

  beforeAll(async () => {
    server = await startServer({ backend });
    t = await users(server, ['alice', 'bob', 'carol', 'dave', 'outsider']);
  });
  afterAll(() => server?.stop());

  /** The newest page of a conversation, and the statements it cost. */
  const read = (auth: string, conversationId: string) => statementsOf(server, () => server.gql(auth, MessagesDocument, { conversationId, last: 50 }));

  it('reads a participant’s page with its senders in one statement', async () => {
    const conv = await createGroup(server, t.alice, ['bob', 'carol']);
    for (let i = 0; i < 6; i++) await send(server, [t.alice, t.bob, t.carol][i % 3]!, conv, `m${i}`);
    const { result, statements } = await read(t.bob, conv);
    const page = dataOf(result).messages;
    expect(page.edges.map((e) => [e.node.seq, e.node.content, e.node.sender.id, e.node.sender.displayName])).toEqual([
      [1, 'm0', 'alice', 'alice name'],
      [2, 'm1', 'bob', 'bob name'],
      [3, 'm2', 'carol', 'carol name'],
      [4, 'm3', 'alice', 'alice name'],
      [5, 'm4', 'bob', 'bob name'],
      [6, 'm5', 'carol', 'carol name'],
    ]);
    expect(page.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });
    expect(statements).toBe(1);
  });

  it('gives an empty page of an empty conversation, and refuses others as the participant check does', async () => {
    const empty = await createGroup(server, t.alice, ['bob']);
    const empty1 = await read(t.bob, empty);
    expect(dataOf(empty1.result).messages).toMatchObject({
      edges: [],
      nodes: [],
      pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    });

    const full = await createGroup(server, t.alice, ['bob']);
    await send(server, t.alice, full, 'private');
    for (const conv of [empty, full]) expectCode((await read(t.outsider, conv)).result, 'FORBIDDEN');
    expectCode((await read(t.alice, '00000000-0000-4000-8000-000000000000')).result, 'NOT_FOUND');
    expectCode((await read(t.alice, 'not-a-uuid')).result, 'NOT_FOUND');
    // Another org's "alice" does not see the conversation exists.
    const { alice: elsewhere } = await users(server, ['alice'], { org: 'other' });
    expectCode((await read(elsewhere, full)).result, 'NOT_FOUND');
  });

  it('refuses a participant at once when they are removed or leave', async () => {
    const conv = await createGroup(server, t.alice, ['bob', 'carol', 'dave']);
    await send(server, t.alice, conv, 'before');
    for (const who of [t.bob, t.carol]) expect(dataOf((await read(who, conv)).result).messages.nodes).toHaveLength(1);

    dataOf(await server.gql(t.alice, RemoveParticipantDocument, { conversationId: conv, userId: 'bob' }));
    expectCode((await read(t.bob, conv)).result, 'FORBIDDEN');
    dataOf(await server.gql(t.carol, LeaveConversationDocument, { conversationId: conv }));
    expectCode((await read(t.carol, conv)).result, 'FORBIDDEN');

    // Through Conversation.messages too: the conversation itself is refused first.
    const viaConversation = await server.gql(t.bob, ConversationMessagesDocument, { id: conv, last: 5 });
    expect(viaConversation.data?.conversation ?? null).toBeNull();
    expect(dataOf(await server.gql(t.dave, ConversationMessagesDocument, { id: conv, last: 5 })).conversation!.messages.nodes).toHaveLength(1);
  });
});

const NewestDate = parse(`
  query NewestDate($conversationId: ID!) { messages(conversationId: $conversationId, last: 1) { nodes { createdAt } } }
`) as TypedDocumentNode<{ messages: { nodes: { createdAt: string }[] } }, { conversationId: string }>;

describe.skipIf(!TEST_DATABASE_URL)('history from a Postgres whose time zone is not UTC', () => {
  it('opens its sessions in UTC whatever the database’s zone (the instants are the stored ones either way)', async () => {
    const database = await createTestDatabase();
    const admin = new pg.Client({ connectionString: database.url });
    let server: TestServer | undefined;
    try {
      await admin.connect();
      // Half-hour offset: dates sent in this zone would miss parsePgTimestamptz's fast path.
      await admin.query(`ALTER DATABASE ${new URL(database.url).pathname.slice(1)} SET timezone TO 'Asia/Kolkata'`);
      server = await startServer({ databaseUrl: database.url });
      const alice = await server.token('alice');
      const conv = await createGroup(server, alice, []);
      await send(server, alice, conv, 'when?');
      const { rows } = await server.app.services.database.pool!.query<{ zone: string }>(`SELECT current_setting('TimeZone') AS zone`);
      expect(rows[0]!.zone).toBe('UTC');
      const page = dataOf(await server.gql(alice, NewestDate, { conversationId: conv }));
      const stored = await admin.query<{ at: string }>(
        `SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at FROM messages WHERE conversation_id = $1`,
        [conv],
      );
      expect(page.messages.nodes[0]!.createdAt).toBe(stored.rows[0]!.at);
    } finally {
      await admin.end().catch(() => {});
      await server?.stop();
      await database.drop();
    }
  });
});
