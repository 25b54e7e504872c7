// Relay pagination of messages and conversations: complete walks both ways, page sizes, cursors.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuditLogDocument,
  ControlEventsDocument,
  ConversationMessagesDocument,
  ConversationsActivityDocument,
  ConversationsDocument,
  CreateConversationDocument,
  ExpertRequestsDocument,
  MessagesDocument,
  SendControlDocument,
  UsersDocument,
} from '../../../src/client/generated/graphql.js';
import { encodeCursor } from '../../../src/lib/paging.js';
import { concurrently, createGroup, expectCode, range, send, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';

describe.each(backends)('core pagination on %s', (backend) => {
  let server: TestServer;
  let alice: string, bob: string;
  let conv: string;
  const TOTAL = 120;

  beforeAll(async () => {
    server = await startServer({ backend });
    ({ alice, bob } = await users(server, ['alice', 'bob']));
    conv = await createGroup(server, alice, ['bob'], 'history');
    // Concurrent batches for speed; seqs are still 1..120.
    for (let batch = 0; batch < TOTAL / 20; batch++) {
      await concurrently(20, (i) => send(server, i % 2 ? bob : alice, conv, `m${batch * 20 + i}`));
    }
  });
  afterAll(() => server?.stop());

  const page = async (args: { first?: number; after?: string; last?: number; before?: string; senderId?: string }) =>
    dataOf(await server.gql(alice, MessagesDocument, { conversationId: conv, ...args })).messages;

  describe('messages', () => {
    it('walks forward with first/after: no overlap, no hole, right pageInfo', async () => {
      const seen: number[] = [];
      const infos: { hasNextPage: boolean; hasPreviousPage: boolean }[] = [];
      let after: string | undefined;
      for (;;) {
        const p = await page({ first: 50, after });
        // edges and nodes agree; cursors match the page bounds.
        expect(p.nodes.map((n) => n.seq)).toEqual(p.edges.map((e) => e.node.seq));
        expect(p.pageInfo.startCursor).toBe(p.edges[0]?.cursor ?? null);
        expect(p.pageInfo.endCursor).toBe(p.edges.at(-1)?.cursor ?? null);
        seen.push(...p.nodes.map((n) => n.seq));
        infos.push({ hasNextPage: p.pageInfo.hasNextPage, hasPreviousPage: p.pageInfo.hasPreviousPage });
        if (!p.pageInfo.hasNextPage) break;
        after = p.pageInfo.endCursor!;
        expect(infos.length).toBeLessThan(10);
      }
      expect(seen).toEqual(range(TOTAL));
      expect(infos).toEqual([
        { hasNextPage: true, hasPreviousPage: false },
        { hasNextPage: true, hasPreviousPage: true },
        { hasNextPage: false, hasPreviousPage: true },
      ]);
    });

    it('walks backward with last/before: no overlap, no hole, right pageInfo', async () => {
      const pages: number[][] = [];
      const infos: { hasNextPage: boolean; hasPreviousPage: boolean }[] = [];
      let before: string | undefined;
      for (;;) {
        const p = await page({ last: 50, before });
        pages.push(p.nodes.map((n) => n.seq));
        infos.push({ hasNextPage: p.pageInfo.hasNextPage, hasPreviousPage: p.pageInfo.hasPreviousPage });
        if (!p.pageInfo.hasPreviousPage) break;
        before = p.pageInfo.startCursor!;
        expect(pages.length).toBeLessThan(10);
      }
      // Each page is ascending; the pages go from newest to oldest.
      expect(pages).toEqual([range(50).map((n) => n + 70), range(50).map((n) => n + 20), range(20)]);
      expect(pages.flat().sort((a, b) => a - b)).toEqual(range(TOTAL));
      expect(infos).toEqual([
        { hasNextPage: false, hasPreviousPage: true },
        { hasNextPage: true, hasPreviousPage: true },
        { hasNextPage: true, hasPreviousPage: false },
      ]);
    });

    it('gives the newest 50 for last: 50, the oldest 50 by default, everything for first: 200', async () => {
      const newest = await page({ last: 50 });
      expect(newest.nodes.map((n) => n.seq)).toEqual(range(50).map((n) => n + 70));
      expect(newest.pageInfo).toMatchObject({ hasPreviousPage: true, hasNextPage: false });

      const byDefault = await page({});
      expect(byDefault.nodes.map((n) => n.seq)).toEqual(range(50));
      expect(byDefault.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });

      const all = await page({ first: 200 });
      expect(all.nodes.map((n) => n.seq)).toEqual(range(TOTAL));
      expect(all.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: false });

      // The same through Conversation.messages.
      const { conversation } = dataOf(await server.gql(bob, ConversationMessagesDocument, { id: conv, last: 50 }));
      expect(conversation!.messages.nodes.map((n) => n.seq)).toEqual(range(50).map((n) => n + 70));
      const nested = dataOf(await server.gql(bob, ConversationMessagesDocument, { id: conv })).conversation!.messages;
      expect(nested.nodes.map((n) => n.seq)).toEqual(range(50));
    });

    it('can page between two cursors and with a sender filter', async () => {
      const all = await page({ first: 200 });
      const cursorOf = (seq: number) => all.edges.find((e) => e.node.seq === seq)!.cursor;
      const between = await page({ first: 10, after: cursorOf(30), before: cursorOf(36) });
      expect(between.nodes.map((n) => n.seq)).toEqual([31, 32, 33, 34, 35]);

      const bobsFirst = await page({ first: 10, senderId: 'bob' });
      expect(bobsFirst.nodes.every((n) => all.edges.find((e) => e.node.seq === n.seq)!.node.sender.id === 'bob')).toBe(true);
      const bobsAll: number[] = [];
      let after: string | undefined;
      do {
        const p = await page({ first: 7, after, senderId: 'bob' });
        bobsAll.push(...p.nodes.map((n) => n.seq));
        after = p.pageInfo.hasNextPage ? p.pageInfo.endCursor! : undefined;
      } while (after);
      expect(bobsAll).toEqual(all.edges.filter((e) => e.node.sender.id === 'bob').map((e) => e.node.seq));
      expect(bobsAll).toHaveLength(TOTAL / 2);
    });

    it('refuses page sizes over 200, negative sizes, first with last, and bad cursors (BAD_USER_INPUT)', async () => {
      const bad = [
        { first: 201 },
        { last: 201 },
        { first: -1 },
        { last: -5 },
        { first: 10, last: 10 },
        { after: 'garbage' },
        { before: 'garbage' },
        { after: 'x'.repeat(600) },
        { after: encodeCursor('seq', 'abc') },
        { after: encodeCursor('seq', '-1') },
        // Past the largest seq a column holds: refused, not sent to Postgres.
        { after: encodeCursor('seq', 2 ** 31) },
        { before: encodeCursor('seq', 99_999_999_999_999) },
        { after: encodeCursor('conv', '5') },
        { before: encodeCursor('user', 'alice') },
        { after: '!!!' },
      ];
      for (const args of bad) {
        const result = await server.gql(alice, MessagesDocument, { conversationId: conv, ...args });
        expect(result.data?.messages ?? null, JSON.stringify(args)).toBeNull();
        expectCode(result, 'BAD_USER_INPUT');
      }
      // Nested too.
      expectCode(await server.gql(alice, ConversationMessagesDocument, { id: conv, first: 201 }), 'BAD_USER_INPUT');
    });

    it('returns an empty page past the end', async () => {
      const p = await page({ first: 10, after: encodeCursor('seq', TOTAL) });
      expect(p.nodes).toEqual([]);
      expect(p.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true, startCursor: null, endCursor: null });
      // The largest seq there can be is a cursor like any other.
      expect((await page({ first: 10, after: encodeCursor('seq', 2 ** 31 - 1) })).nodes).toEqual([]);
      expect((await page({ last: 2, before: encodeCursor('seq', 2 ** 31 - 1) })).nodes.map((n) => n.seq)).toEqual([TOTAL - 1, TOTAL]);
    });
  });

  describe('conversations', () => {
    it('lists newest activity first and walks it with no overlap and no hole', async () => {
      const { walker } = await users(server, ['walker']);
      const ids: string[] = [];
      for (let i = 0; i < 11; i++) ids.push(await createGroup(server, walker, ['bob'], `c${i}`));
      // Activity: a message moves a conversation to the front.
      await send(server, walker, ids[3]!, 'bump 3');
      await send(server, bob, ids[0]!, 'bump 0');

      const walked: { id: string; at: number }[] = [];
      const infos: boolean[][] = [];
      let after: string | undefined;
      for (;;) {
        const { conversations } = dataOf(await server.gql(walker, ConversationsActivityDocument, { first: 4, after }));
        walked.push(...conversations.edges.map((e) => ({ id: e.node.id, at: Date.parse(e.node.lastActivityAt) })));
        infos.push([conversations.pageInfo.hasPreviousPage, conversations.pageInfo.hasNextPage]);
        if (!conversations.pageInfo.hasNextPage) break;
        after = conversations.pageInfo.endCursor!;
        expect(infos.length).toBeLessThan(10);
      }
      expect(walked.map((w) => w.id).sort()).toEqual([...ids].sort());
      expect(new Set(walked.map((w) => w.id)).size).toBe(ids.length);
      expect(infos).toEqual([
        [false, true],
        [true, true],
        [true, false],
      ]);
      // Newest activity first: non-increasing, the latest bumped one on top, the older bump next.
      for (let i = 1; i < walked.length; i++) expect(walked[i]!.at).toBeLessThanOrEqual(walked[i - 1]!.at);
      // (Compared by time, not position: two activities in the same millisecond tie-break by id.)
      expect(walked.find((w) => w.id === ids[0])!.at).toBe(walked[0]!.at);
      const untouched = walked.filter((w) => w.id !== ids[0] && w.id !== ids[3]);
      expect(walked.find((w) => w.id === ids[3])!.at).toBeGreaterThanOrEqual(Math.max(...untouched.map((w) => w.at)));

      // Backwards from the end gives the same order.
      const back: string[] = [];
      let before: string | undefined;
      for (;;) {
        const { conversations } = dataOf(await server.gql(walker, ConversationsActivityDocument, { last: 4, before }));
        back.unshift(...conversations.edges.map((e) => e.node.id));
        if (!conversations.pageInfo.hasPreviousPage) break;
        before = conversations.pageInfo.startCursor!;
        expect(back.length).toBeLessThan(40);
      }
      expect(back).toEqual(walked.map((w) => w.id));

      // A new message reorders the list.
      const last = walked.at(-1)!.id;
      await send(server, walker, last, 'back to the top');
      const { conversations } = dataOf(await server.gql(walker, ConversationsActivityDocument, { first: 200 }));
      const lastNow = conversations.edges.find((e) => e.node.id === last)!.node;
      expect(Date.parse(lastNow.lastActivityAt)).toBeGreaterThanOrEqual(walked[0]!.at);
      expect(conversations.edges[0]!.node.lastActivityAt).toBe(lastNow.lastActivityAt);
    });

    it('filters by type and refuses bad sizes and cursors', async () => {
      const { typer } = await users(server, ['typer']);
      const group = await createGroup(server, typer, ['bob']);
      const pair = dataOf(
        await server.gql(typer, CreateConversationDocument, {
          input: { type: 'PRIVATE', participantIds: ['bob'] },
        }),
      ).createConversation.id;
      const ofType = async (type: 'GROUP' | 'PRIVATE') =>
        dataOf(await server.gql(typer, ConversationsActivityDocument, { type })).conversations.edges.map((e) => e.node.id);
      expect(await ofType('GROUP')).toEqual([group]);
      expect(await ofType('PRIVATE')).toEqual([pair]);

      const id = '00000000-0000-4000-8000-000000000000';
      for (const args of [
        { first: 201 },
        { last: 201 },
        { first: -1 },
        { after: 'garbage' },
        { after: encodeCursor('seq', 1) },
        { after: encodeCursor('conv', '1:nope') },
        // Dates past year 9999 (or before year 1) are refused, not sent to Postgres.
        { after: encodeCursor('conv', `999999999999999:${id}`) },
        { before: encodeCursor('conv', `${Date.parse('+010000-01-01T00:00:00Z')}:${id}`) },
      ]) {
        expectCode(await server.gql(typer, ConversationsDocument, args), 'BAD_USER_INPUT');
      }
      // The last instant of year 9999 is a cursor like any other.
      const latest = encodeCursor('conv', `${Date.parse('9999-12-31T23:59:59.999Z')}:${id}`);
      expect(dataOf(await server.gql(typer, ConversationsDocument, { after: latest })).conversations.edges).toHaveLength(2);
      const { conversations } = dataOf(await server.gql(typer, ConversationsDocument, { first: 200 }));
      expect(conversations.edges).toHaveLength(2);
    });
  });

  describe('other connections', () => {
    it('pages users and control events, and caps their size', async () => {
      const { pager } = await users(server, ['pager']);
      const ids: string[] = [];
      let after: string | undefined;
      do {
        const { users: page } = dataOf(await server.gql(pager, UsersDocument, { first: 2, after }));
        ids.push(...page.nodes.map((u) => u.id));
        after = page.pageInfo.hasNextPage ? page.pageInfo.endCursor! : undefined;
      } while (after);
      expect(ids).toEqual([...ids].sort());
      expect(ids).toEqual(expect.arrayContaining(['alice', 'bob', 'pager']));
      expect(new Set(ids).size).toBe(ids.length);
      expectCode(await server.gql(pager, UsersDocument, { first: 201 }), 'BAD_USER_INPUT');
      expectCode(await server.gql(pager, UsersDocument, { after: 'garbage' }), 'BAD_USER_INPUT');

      for (const runId of range(5)) {
        dataOf(await server.gql(alice, SendControlDocument, { conversationId: conv, input: { event: 'PAUSE', runId: `run-${runId}` } }));
      }
      const first = dataOf(await server.gql(bob, ControlEventsDocument, { conversationId: conv, first: 3 })).controlEvents;
      expect(first.nodes.map((e) => e.runId)).toEqual(['run-1', 'run-2', 'run-3']);
      expect(first.pageInfo.hasNextPage).toBe(true);
      const rest = dataOf(await server.gql(bob, ControlEventsDocument, { conversationId: conv, first: 3, after: first.pageInfo.endCursor })).controlEvents;
      expect(rest.nodes.map((e) => e.runId)).toEqual(['run-4', 'run-5']);
      expect(rest.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
      expectCode(await server.gql(bob, ControlEventsDocument, { conversationId: conv, first: 201 }), 'BAD_USER_INPUT');
      expectCode(await server.gql(bob, ControlEventsDocument, { conversationId: conv, after: 'garbage' }), 'BAD_USER_INPUT');
    });

    it('refuses expert request and audit cursors out of their range, and takes the edge of it', async () => {
      const admin = await server.token('pager-admin', { roles: ['admin', 'expert'] });
      const id = '00000000-0000-4000-8000-000000000000';
      for (const at of ['+275760-09-13T00:00:00.000Z', '+010000-01-01T00:00:00.000Z', '0000-01-01T00:00:00.000Z', '-000001-01-01T00:00:00.000Z']) {
        expectCode(await server.gql(admin, ExpertRequestsDocument, { after: encodeCursor('xr', `${at}|${id}`) }), 'BAD_USER_INPUT');
      }
      const edge = dataOf(await server.gql(admin, ExpertRequestsDocument, { after: encodeCursor('xr', `9999-12-31T23:59:59.999Z|${id}`) }));
      expect(edge.expertRequests.nodes).toEqual([]);
      expectCode(await server.gql(admin, AuditLogDocument, { after: encodeCursor('audit', '99999999999999999') }), 'BAD_USER_INPUT');
      expect(dataOf(await server.gql(admin, AuditLogDocument, { after: encodeCursor('audit', Number.MAX_SAFE_INTEGER) })).auditLog).toBeDefined();
    });
  });
});
