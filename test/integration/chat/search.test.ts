// searchMessages: Postgres full-text search over the viewer's conversations only, best match
// first, highlights escaped with only <mark> added, edits reindexed, deletes gone, and limits.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DeleteMessageDocument,
  EditMessageDocument,
  RemoveParticipantDocument,
  SearchMessagesDocument,
  type SearchMessagesQueryVariables,
} from '../../../src/client/generated/graphql.js';
import { createGroup, expectCode, send, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';

describe.each(backends)('search on %s', (backend) => {
  let server: TestServer;
  let alice: string, bob: string, carol: string, eve: string;
  beforeAll(async () => {
    server = await startServer({ backend });
    ({ alice, bob, carol } = await users(server, ['alice', 'bob', 'carol']));
    ({ eve } = await users(server, ['eve'], { org: 'other' }));
  });
  afterAll(() => server?.stop());

  const search = (auth: string, variables: SearchMessagesQueryVariables) => server.gql(auth, SearchMessagesDocument, variables);
  const found = async (auth: string, variables: SearchMessagesQueryVariables) =>
    dataOf(await search(auth, variables)).searchMessages.edges.map((e) => e.node.content);

  it('finds words (stemmed) in the viewer’s conversations only, best match first', async () => {
    const ours = await createGroup(server, alice, ['bob']);
    const theirs = await createGroup(server, carol, []);
    await send(server, alice, ours, 'The zebra was running across the field');
    await send(server, bob, ours, 'zebra zebra zebra runs everywhere');
    await send(server, bob, ours, 'nothing to see here');
    await send(server, carol, theirs, 'a zebra in a private place');
    expect(await found(bob, { query: 'zebra' })).toEqual(['zebra zebra zebra runs everywhere', 'The zebra was running across the field']);
    expect(await found(bob, { query: 'run zebra' })).toHaveLength(2);
    expect(await found(bob, { query: '"running across"' })).toEqual(['The zebra was running across the field']);
    expect(await found(bob, { query: 'zebra -field' })).toEqual(['zebra zebra zebra runs everywhere']);
    expect(await found(bob, { query: 'zebra', senderId: 'alice' })).toEqual(['The zebra was running across the field']);
    expect(await found(bob, { query: 'zebra', conversationId: ours, first: 1 })).toEqual(['zebra zebra zebra runs everywhere']);
    expect(await found(carol, { query: 'zebra' })).toEqual(['a zebra in a private place']);
    expect(await found(eve, { query: 'zebra' })).toEqual([]);
    expectCode(await search(carol, { query: 'zebra', conversationId: ours }), 'FORBIDDEN');
    expectCode(await search(eve, { query: 'zebra', conversationId: ours }), 'NOT_FOUND');
    // Removed from the conversation: its messages are no longer found.
    dataOf(await server.gql(alice, RemoveParticipantDocument, { conversationId: ours, userId: 'bob' }));
    expect(await found(bob, { query: 'zebra' })).toEqual([]);
  });

  it('highlights matched words with <mark> and escapes everything else', async () => {
    const conv = await createGroup(server, alice, []);
    await send(server, alice, conv, '<script>alert("pwned")</script> & the <b>quokka</b> is "happy" &amp; quokkas');
    const { searchMessages } = dataOf(await search(alice, { query: 'quokka' }));
    expect(searchMessages.edges).toHaveLength(1);
    expect(searchMessages.edges[0]!.highlight).toBe(
      '&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt; &amp; the &lt;b&gt;<mark>quokka</mark>&lt;/b&gt; is &quot;happy&quot; &amp;amp; <mark>quokkas</mark>',
    );
    // Searching for what an entity spells marks nothing inside one.
    await send(server, alice, conv, 'amp lt gt quot & < > "');
    const entities = dataOf(await search(alice, { query: 'amp' })).searchMessages.edges;
    expect(entities.map((e) => e.highlight)).toEqual(['<mark>amp</mark> lt gt quot &amp; &lt; &gt; &quot;']);
  });

  it('finds edited messages by their new text and deleted ones never', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const m = await send(server, alice, conv, 'original wombat');
    const gone = await send(server, alice, conv, 'doomed wombat');
    dataOf(await server.gql(alice, EditMessageDocument, { id: m.id, content: 'edited platypus' }));
    dataOf(await server.gql(alice, DeleteMessageDocument, { id: gone.id }));
    expect(await found(bob, { query: 'wombat' })).toEqual([]);
    expect(await found(bob, { query: 'platypus' })).toEqual(['edited platypus']);
  });

  it('pages with first/after', async () => {
    const conv = await createGroup(server, alice, []);
    for (let i = 0; i < 5; i++) await send(server, alice, conv, `capybara number ${i}`);
    const page1 = dataOf(await search(alice, { query: 'capybara', first: 2 })).searchMessages;
    expect(page1.edges).toHaveLength(2);
    expect(page1.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const page2 = dataOf(await search(alice, { query: 'capybara', first: 10, after: page1.pageInfo.endCursor })).searchMessages;
    expect(page2.edges).toHaveLength(3);
    expect(page2.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const all = [...page1.edges, ...page2.edges].map((e) => e.node.id);
    expect(new Set(all).size).toBe(5);
  });

  it('refuses bad input with BAD_USER_INPUT', async () => {
    for (const variables of [
      { query: '' },
      { query: '   ' },
      { query: 'x'.repeat(257) },
      { query: 'a\u0000b' },
      { query: 'ok', first: 51 },
      { query: 'ok', first: -1 },
      { query: 'ok', after: 'garbage' },
      { query: 'ok', conversationId: 'not-a-uuid' },
      { query: 'ok', since: '2026-01-02T00:00:00Z', until: '2026-01-01T00:00:00Z' },
    ] satisfies SearchMessagesQueryVariables[]) {
      expectCode(await search(alice, variables), 'BAD_USER_INPUT');
    }
    // Only stop words or operators: no error, nothing found.
    expect(await found(alice, { query: 'the' })).toEqual([]);
    expect(await found(alice, { query: '" - or (' })).toEqual([]);
  });
});
