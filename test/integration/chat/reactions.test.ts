// Reactions: idempotent per (message, user, emoji), grouped with counts and who, the viewer's own
// marked; the limits of API.md; participants only; live through messageUpdated, on one instance
// and across two.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddReactionDocument,
  ChatMessagesDocument,
  ChatMessageUpdatedDocument,
  DeleteMessageDocument,
  RemoveReactionDocument,
} from '../../../src/client/generated/graphql.js';
import { createGroup, expectCode, send, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { collect, eventually } from '../../kit/subscriptions.js';
import { describeTwoInstances, twoInstances } from '../../kit/two-instances.js';

describe.each(backends)('reactions on %s', (backend) => {
  let server: TestServer;
  let alice: string, bob: string, carol: string, mallory: string, eve: string;
  beforeAll(async () => {
    server = await startServer({ backend });
    ({ alice, bob, carol, mallory } = await users(server, ['alice', 'bob', 'carol', 'mallory']));
    ({ eve } = await users(server, ['eve'], { org: 'other' }));
  });
  afterAll(() => server?.stop());

  const react = (auth: string, messageId: string, emoji: string) => server.gql(auth, AddReactionDocument, { messageId, emoji });
  const unreact = (auth: string, messageId: string, emoji: string) => server.gql(auth, RemoveReactionDocument, { messageId, emoji });

  it('groups reactions by emoji with counts, who, and whether the viewer reacted; adding twice changes nothing', async () => {
    const conv = await createGroup(server, alice, ['bob', 'carol']);
    const m = await send(server, alice, conv, 'lunch?');
    dataOf(await react(bob, m.id, '👍'));
    dataOf(await react(bob, m.id, '👍'));
    dataOf(await react(carol, m.id, '👍'));
    const { addReaction } = dataOf(await react(carol, m.id, ':tada:'));
    expect(addReaction.reactions).toEqual([
      {
        emoji: '👍',
        count: 2,
        viewerReacted: true,
        users: [
          { id: 'bob', displayName: 'bob name' },
          { id: 'carol', displayName: 'carol name' },
        ],
      },
      { emoji: ':tada:', count: 1, viewerReacted: true, users: [{ id: 'carol', displayName: 'carol name' }] },
    ]);
    const { messages } = dataOf(await server.gql(alice, ChatMessagesDocument, { conversationId: conv, last: 10 }));
    expect(messages.edges[0]!.node.reactions.map((g) => [g.emoji, g.count, g.viewerReacted])).toEqual([
      ['👍', 2, false],
      [':tada:', 1, false],
    ]);

    const { removeReaction } = dataOf(await unreact(bob, m.id, '👍'));
    expect(removeReaction.reactions[0]).toMatchObject({ emoji: '👍', count: 1, viewerReacted: false });
    // Removing what is not there is no error and changes nothing.
    dataOf(await unreact(bob, m.id, '👍'));
    dataOf(await unreact(carol, m.id, ':tada:'));
    const after = dataOf(await react(alice, m.id, '❤️')).addReaction.reactions;
    expect(after.map((g) => [g.emoji, g.count])).toEqual([
      ['👍', 1],
      ['❤️', 1],
    ]);
  });

  it('takes one emoji (with modifiers and ZWJ sequences) or a :shortcode: of at most 64 characters', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const m = await send(server, alice, conv, 'hi');
    for (const emoji of ['👍🏽', '👨‍👩‍👧', '🇫🇷', ':+1:', `:${'a'.repeat(62)}:`]) dataOf(await react(bob, m.id, emoji));
    for (const emoji of ['', 'a', 'ok', '👍👍', ' 👍', ':', '::', ':a b:', `:${'a'.repeat(63)}:`, '<b>', 'x'.repeat(10_000), ':a\u0000:']) {
      expectCode(await react(bob, m.id, emoji), 'BAD_USER_INPUT');
      expectCode(await unreact(bob, m.id, emoji), 'BAD_USER_INPUT');
    }
    const { messages } = dataOf(await server.gql(bob, ChatMessagesDocument, { conversationId: conv, last: 1 }));
    expect(messages.edges[0]!.node.reactions).toHaveLength(5);
  });

  it('holds at most 50 distinct emoji per message; more of an existing one are fine', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const m = await send(server, alice, conv, 'many');
    for (let i = 0; i < 50; i++) dataOf(await react(alice, m.id, `:e${i}:`));
    expectCode(await react(alice, m.id, ':e50:'), 'BAD_USER_INPUT');
    expectCode(await react(bob, m.id, ':e50:'), 'BAD_USER_INPUT');
    const { addReaction } = dataOf(await react(bob, m.id, ':e7:'));
    expect(addReaction.reactions).toHaveLength(50);
    expect(addReaction.reactions.find((g) => g.emoji === ':e7:')!.count).toBe(2);
  });

  // Reactions that wait for the message while another transaction adds emoji must count what it
  // committed: with a count taken before the wait, all three would pass and the message hold 52.
  it.skipIf(backend !== 'postgres')('counts emoji committed while a reaction waited: only as many pass as fit', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const m = await send(server, alice, conv, 'crowded');
    for (let i = 0; i < 45; i++) dataOf(await react(alice, m.id, `:e${i}:`));
    const pool = server.app.services.database.pool!;
    const other = await pool.connect();
    try {
      await other.query('begin');
      await other.query('select 1 from messages where id = $1 for no key update', [m.id]);
      for (let i = 45; i < 49; i++) {
        const insert = 'insert into message_reactions (message_id, org_id, user_id, emoji) select id, org_id, sender_id, $2 from messages where id = $1';
        await other.query(insert, [m.id, `:e${i}:`]);
      }
      const answers = Promise.all(['a', 'b', 'c'].map((x) => react(bob, m.id, `:late-${x}:`)));
      // All three wait for the message (a version that does not wait is caught by the count).
      const waiting = eventually(async () => {
        const { rows } = await pool.query(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like '%add_reaction%'`);
        return rows[0].n === 3;
      });
      await Promise.race([waiting, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      await other.query('commit');
      const settled = await answers;
      expect(settled.filter((a) => !a.errors)).toHaveLength(1);
      for (const refused of settled.filter((a) => a.errors)) expectCode(refused, 'BAD_USER_INPUT');
    } finally {
      other.release();
    }
    const { messages } = dataOf(await server.gql(bob, ChatMessagesDocument, { conversationId: conv, last: 1 }));
    expect(messages.edges[0]!.node.reactions).toHaveLength(50);
  });

  it('lets only participants react: others FORBIDDEN, other orgs and unknown ids NOT_FOUND, deleted messages BAD_USER_INPUT', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const m = await send(server, alice, conv, 'private');
    expectCode(await react(mallory, m.id, '👍'), 'FORBIDDEN');
    expectCode(await react(eve, m.id, '👍'), 'NOT_FOUND');
    expectCode(await react(bob, '00000000-0000-4000-8000-000000000000', '👍'), 'NOT_FOUND');
    expectCode(await react(bob, 'not-a-uuid', '👍'), 'NOT_FOUND');
    expectCode(await react(null as never, m.id, '👍'), 'UNAUTHENTICATED');
    dataOf(await server.gql(alice, DeleteMessageDocument, { id: m.id }));
    expectCode(await react(bob, m.id, '👍'), 'BAD_USER_INPUT');
    const { messages } = dataOf(await server.gql(alice, ChatMessagesDocument, { conversationId: conv, last: 1 }));
    expect(messages.edges[0]!.node.reactions).toEqual([]);
  });

  it('reaches messageUpdated subscribers live, each seeing whether they reacted themselves', async () => {
    const conv = await createGroup(server, alice, ['bob', 'carol']);
    const m = await send(server, alice, conv, 'react to me');
    const bobSees = collect(server.ws(bob), ChatMessageUpdatedDocument, { conversationId: conv });
    const carolSees = collect(server.ws(carol), ChatMessageUpdatedDocument, { conversationId: conv });
    const malloryTries = collect(server.ws(mallory), ChatMessageUpdatedDocument, { conversationId: conv });
    // Live only: react (and take it back) until both subscriptions are known to listen.
    await eventually(async () => {
      dataOf(await react(bob, m.id, '🎉'));
      if (bobSees.events.length && carolSees.events.length) return true;
      dataOf(await unreact(bob, m.id, '🎉'));
      return false;
    });
    const last = (c: typeof bobSees) => c.events.at(-1)!.messageUpdated;
    await eventually(() => last(bobSees).reactions.length === 1 && last(carolSees).reactions.length === 1);
    expect(last(bobSees).reactions[0]).toMatchObject({ emoji: '🎉', count: 1, viewerReacted: true });
    expect(last(carolSees).reactions[0]).toMatchObject({ emoji: '🎉', count: 1, viewerReacted: false });
    expect(last(bobSees)).toMatchObject({ id: m.id, content: 'react to me', sender: { id: 'alice' } });
    await malloryTries.waitForEnd();
    expect(malloryTries.events).toEqual([]);
  });
});

describeTwoInstances('reactions across two instances', () => {
  const servers = twoInstances();

  it('delivers a reaction added on A to a subscriber on B', async () => {
    const { a, b } = servers;
    const { alice, bob } = await users(a, ['alice', 'bob']);
    const conv = await createGroup(a, alice, ['bob']);
    const m = await send(a, alice, conv, 'across');
    const seen = collect(b.ws(bob), ChatMessageUpdatedDocument, { conversationId: conv });
    await eventually(async () => {
      dataOf(await a.gql(alice, AddReactionDocument, { messageId: m.id, emoji: '🚀' }));
      if (seen.events.length) return true;
      dataOf(await a.gql(alice, RemoveReactionDocument, { messageId: m.id, emoji: '🚀' }));
      return false;
    });
    await eventually(() => seen.events.at(-1)!.messageUpdated.reactions.length === 1);
    expect(seen.events.at(-1)!.messageUpdated.reactions[0]).toMatchObject({ emoji: '🚀', count: 1, viewerReacted: false, users: [{ id: 'alice' }] });
  });
});
