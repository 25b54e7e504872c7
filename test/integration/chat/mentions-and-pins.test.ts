// Mentions (validated against the participants, listed on the message, counted unread, the
// viewer's across conversations newest first) and pins (by participants, per conversation, live).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChatConversationDocument,
  ChatMessagesDocument,
  ChatMessageUpdatedDocument,
  DeleteMessageDocument,
  MarkReadDocument,
  MentionsDocument,
  PinMessageDocument,
  RemoveParticipantDocument,
  SendMessageDocument,
  UnpinMessageDocument,
} from '../../../src/client/generated/graphql.js';
import { createGroup, expectCode, lastSeqOf, send, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { collect, eventually } from '../../kit/subscriptions.js';

describe.each(backends)('mentions and pins on %s', (backend) => {
  let server: TestServer;
  let alice: string, bob: string, carol: string, mallory: string;
  beforeAll(async () => {
    server = await startServer({ backend });
    ({ alice, bob, carol, mallory } = await users(server, ['alice', 'bob', 'carol', 'mallory']));
  });
  afterAll(() => server?.stop());

  const conversation = async (auth: string, id: string) => dataOf(await server.gql(auth, ChatConversationDocument, { id })).conversation!;

  it('stores mentions of participants, counts unread ones, and lists the viewer’s newest first', async () => {
    const conv = await createGroup(server, alice, ['bob', 'carol']);
    const other = await createGroup(server, carol, ['bob']);
    const m1 = await send(server, alice, conv, '@bob @carol look', { mentionIds: ['bob', 'carol', 'bob'] });
    const stored = dataOf(await server.gql(bob, ChatMessagesDocument, { conversationId: conv, last: 1 })).messages.edges[0]!.node;
    expect(stored.mentions.map((u) => u.id)).toEqual(['bob', 'carol']);
    const m2 = await send(server, carol, other, 'hey @bob', { mentionIds: ['bob'] });
    await send(server, alice, conv, 'no mention');
    const m3 = await send(server, alice, conv, 'again @bob', { mentionIds: ['bob'] });

    expect((await conversation(bob, conv)).unreadMentionCount).toBe(2);
    expect((await conversation(carol, conv)).unreadMentionCount).toBe(1);
    expect((await conversation(alice, conv)).unreadMentionCount).toBe(0);
    dataOf(await server.gql(bob, MarkReadDocument, { conversationId: conv, seq: m1.seq }));
    expect((await conversation(bob, conv)).unreadMentionCount).toBe(1);

    const { mentions } = dataOf(await server.gql(bob, MentionsDocument, { first: 2 }));
    expect(mentions.edges.map((e) => e.node.id)).toEqual([m3.id, m2.id]);
    expect(mentions.pageInfo.hasNextPage).toBe(true);
    const rest = dataOf(await server.gql(bob, MentionsDocument, { first: 2, after: mentions.pageInfo.endCursor })).mentions;
    expect(rest.edges.map((e) => e.node.id)).toEqual([m1.id]);
    expect(rest.pageInfo.hasNextPage).toBe(false);

    // Deleted mentions and conversations bob left are not his any more.
    dataOf(await server.gql(alice, DeleteMessageDocument, { id: m3.id }));
    dataOf(await server.gql(carol, RemoveParticipantDocument, { conversationId: other, userId: 'bob' }));
    const now = dataOf(await server.gql(bob, MentionsDocument, {})).mentions;
    expect(now.edges.map((e) => e.node.id)).toEqual([m1.id]);
    expect((await conversation(bob, conv)).unreadMentionCount).toBe(0);
  });

  it('refuses mentions of non-participants and too many, storing nothing', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const input = (mentionIds: string[]) => ({ input: { conversationId: conv, content: 'x', mentionIds } });
    expectCode(await server.gql(alice, SendMessageDocument, input(['mallory'])), 'BAD_USER_INPUT');
    expectCode(await server.gql(alice, SendMessageDocument, input(['bob', 'nobody'])), 'BAD_USER_INPUT');
    expectCode(await server.gql(alice, SendMessageDocument, input(['x'.repeat(201)])), 'BAD_USER_INPUT');
    expectCode(await server.gql(alice, SendMessageDocument, input(Array.from({ length: 51 }, (_, i) => `u${i}`))), 'BAD_USER_INPUT');
    expect(await lastSeqOf(server, alice, conv)).toBe(0);
    expectCode(await server.gql(bob, MentionsDocument, { first: 201 }), 'BAD_USER_INPUT');
    expectCode(await server.gql(bob, MentionsDocument, { after: 'bogus' }), 'BAD_USER_INPUT');
  });

  it('pins and unpins by participants, lists pins newest first, and tells messageUpdated', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const m1 = await send(server, alice, conv, 'first');
    const m2 = await send(server, bob, conv, 'second');
    const updates = collect(server.ws(alice), ChatMessageUpdatedDocument, { conversationId: conv });
    await eventually(async () => {
      dataOf(await server.gql(bob, UnpinMessageDocument, { id: m1.id }));
      dataOf(await server.gql(bob, PinMessageDocument, { id: m1.id }));
      return updates.events.some((e) => e.messageUpdated.pinnedAt !== null);
    });
    const pinned = dataOf(await server.gql(bob, PinMessageDocument, { id: m1.id })).pinMessage;
    expect(pinned).toMatchObject({ id: m1.id, pinnedBy: { id: 'bob' } });
    expect(pinned.pinnedAt).not.toBeNull();
    dataOf(await server.gql(alice, PinMessageDocument, { id: m2.id }));
    expect((await conversation(bob, conv)).pinnedMessages.map((m) => m.id)).toEqual([m2.id, m1.id]);
    await eventually(() => updates.events.at(-1)!.messageUpdated.id === m2.id);
    expect(updates.events.at(-1)!.messageUpdated).toMatchObject({ id: m2.id, pinnedBy: { id: 'alice' } });

    const unpinned = dataOf(await server.gql(alice, UnpinMessageDocument, { id: m1.id })).unpinMessage;
    expect(unpinned).toMatchObject({ pinnedAt: null, pinnedBy: null });
    expect((await conversation(bob, conv)).pinnedMessages.map((m) => m.id)).toEqual([m2.id]);

    expectCode(await server.gql(mallory, PinMessageDocument, { id: m2.id }), 'FORBIDDEN');
    expectCode(await server.gql(bob, PinMessageDocument, { id: 'nope' }), 'NOT_FOUND');
    dataOf(await server.gql(bob, DeleteMessageDocument, { id: m2.id }));
    expect((await conversation(bob, conv)).pinnedMessages).toEqual([]);
    expectCode(await server.gql(bob, PinMessageDocument, { id: m2.id }), 'BAD_USER_INPUT');
  });
});
