// Threads: a reply with threadId is a message of the conversation (next seq, in messageAdded and
// resume); its root carries a summary that stays right under concurrent replies, also on two
// instances; threadReplies pages in seq order; messages(topLevel, until, senderId) filter.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChatMessagesDocument,
  ChatMessageUpdatedDocument,
  DeleteMessageDocument,
  MessageAddedDocument,
  SendMessageDocument,
  ThreadRepliesDocument,
} from '../../../src/client/generated/graphql.js';
import { concurrently, createGroup, expectCode, lastSeqOf, range, send, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { collect, eventually } from '../../kit/subscriptions.js';
import { describeTwoInstances, twoInstances } from '../../kit/two-instances.js';

describe.each(backends)('threads on %s', (backend) => {
  let server: TestServer;
  let alice: string, bob: string, carol: string, mallory: string;
  beforeAll(async () => {
    server = await startServer({ backend });
    ({ alice, bob, carol, mallory } = await users(server, ['alice', 'bob', 'carol', 'mallory']));
  });
  afterAll(() => server?.stop());

  const history = async (auth: string, conversationId: string, extra: Record<string, unknown> = {}) =>
    dataOf(await server.gql(auth, ChatMessagesDocument, { conversationId, first: 200, ...extra })).messages.edges.map((e) => e.node);

  it('gives a reply the next seq, delivers it with messageAdded, and sums the thread up on its root', async () => {
    const conv = await createGroup(server, alice, ['bob', 'carol']);
    const root = await send(server, alice, conv, 'root');
    const other = await send(server, bob, conv, 'top level');
    const feed = collect(server.ws(carol), MessageAddedDocument, { conversationId: conv, afterSeq: 0 });
    const r1 = await send(server, bob, conv, 'first reply', { threadId: root.id });
    const r2 = await send(server, carol, conv, 'second reply', { threadId: root.id });
    const r3 = await send(server, bob, conv, 'third reply', { threadId: root.id });
    expect([r1.seq, r2.seq, r3.seq]).toEqual([3, 4, 5]);
    const events = await feed.waitFor(5);
    expect(events.map((e) => e.messageAdded.seq)).toEqual(range(5));

    const all = await history(alice, conv);
    const rootNow = all.find((m) => m.id === root.id)!;
    expect(rootNow.thread).toEqual({ replyCount: 3, lastReplyAt: r3.createdAt, participants: [{ id: 'bob' }, { id: 'carol' }] });
    expect(rootNow.threadId).toBeNull();
    expect(all.find((m) => m.id === other.id)!.thread).toBeNull();
    expect(all.find((m) => m.id === r1.id)!.threadId).toBe(root.id);

    const top = await history(alice, conv, { topLevel: true });
    expect(top.map((m) => m.content)).toEqual(['root', 'top level']);

    const { threadReplies } = dataOf(await server.gql(carol, ThreadRepliesDocument, { messageId: root.id, first: 2 }));
    expect(threadReplies.edges.map((e) => e.node.content)).toEqual(['first reply', 'second reply']);
    expect(threadReplies.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const next = dataOf(await server.gql(carol, ThreadRepliesDocument, { messageId: root.id, first: 2, after: threadReplies.pageInfo.endCursor }));
    expect(next.threadReplies.edges.map((e) => e.node.content)).toEqual(['third reply']);
    expect(next.threadReplies.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const newest = dataOf(await server.gql(carol, ThreadRepliesDocument, { messageId: root.id, last: 1 }));
    expect(newest.threadReplies.edges.map((e) => e.node.seq)).toEqual([5]);
    expect(newest.threadReplies.pageInfo.hasPreviousPage).toBe(true);

    // A deleted reply leaves the summary.
    dataOf(await server.gql(bob, DeleteMessageDocument, { id: r3.id }));
    const after = (await history(alice, conv)).find((m) => m.id === root.id)!;
    expect(after.thread).toEqual({ replyCount: 2, lastReplyAt: r2.createdAt, participants: [{ id: 'bob' }, { id: 'carol' }] });
  });

  it('refuses a threadId that is no top-level message of the conversation, storing nothing', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const elsewhere = await createGroup(server, alice, ['bob']);
    const root = await send(server, alice, conv, 'root');
    const reply = await send(server, alice, conv, 'reply', { threadId: root.id });
    const foreign = await send(server, alice, elsewhere, 'foreign');
    for (const threadId of [reply.id, foreign.id, '00000000-0000-4000-8000-000000000000', 'nope']) {
      expectCode(await server.gql(bob, SendMessageDocument, { input: { conversationId: conv, content: 'x', threadId } }), 'BAD_USER_INPUT');
    }
    expect(await lastSeqOf(server, alice, conv)).toBe(2);
  });

  it('lets only participants read a thread, with page sizes in bounds', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const root = await send(server, alice, conv, 'root');
    expectCode(await server.gql(mallory, ThreadRepliesDocument, { messageId: root.id, first: 10 }), 'FORBIDDEN');
    expectCode(await server.gql(bob, ThreadRepliesDocument, { messageId: '00000000-0000-4000-8000-000000000000' }), 'NOT_FOUND');
    expectCode(await server.gql(bob, ThreadRepliesDocument, { messageId: root.id, first: 201 }), 'BAD_USER_INPUT');
    expectCode(await server.gql(bob, ThreadRepliesDocument, { messageId: root.id, after: 'bogus' }), 'BAD_USER_INPUT');
    const empty = dataOf(await server.gql(bob, ThreadRepliesDocument, { messageId: root.id }));
    expect(empty.threadReplies.edges).toEqual([]);
    // With replies to show, outsiders still see none of them.
    await send(server, bob, conv, 'a reply', { threadId: root.id });
    expectCode(await server.gql(mallory, ThreadRepliesDocument, { messageId: root.id, first: 10 }), 'FORBIDDEN');
    const { eve } = await users(server, ['eve'], { org: 'other' });
    expectCode(await server.gql(eve, ThreadRepliesDocument, { messageId: root.id, first: 10 }), 'NOT_FOUND');
    expectCode(await server.gql(bob, ThreadRepliesDocument, { messageId: 'not-a-uuid' }), 'NOT_FOUND');
    const one = dataOf(await server.gql(bob, ThreadRepliesDocument, { messageId: root.id }));
    expect(one.threadReplies.edges.map((e) => [e.node.content, e.node.conversationId])).toEqual([['a reply', conv]]);
  });

  it('keeps the summary right under concurrent replies, and tells messageUpdated subscribers', async () => {
    const conv = await createGroup(server, alice, ['bob', 'carol']);
    const root = await send(server, alice, conv, 'busy root');
    const updates = collect(server.ws(alice), ChatMessageUpdatedDocument, { conversationId: conv });
    await eventually(async () => {
      await send(server, alice, conv, 'warm-up', { threadId: root.id });
      return updates.events.length > 0;
    });
    const warmUps = (await history(alice, conv)).find((m) => m.id === root.id)!.thread!.replyCount;
    const senders = [alice, bob, carol];
    await concurrently(30, (i) => send(server, senders[i % 3]!, conv, `reply ${i}`, { threadId: root.id }));
    const rootNow = (await history(alice, conv)).find((m) => m.id === root.id)!;
    expect(rootNow.thread!.replyCount).toBe(30 + warmUps);
    expect(rootNow.thread!.participants.map((u) => u.id).sort()).toEqual(['alice', 'bob', 'carol']);
    await eventually(() => updates.events.at(-1)!.messageUpdated.thread?.replyCount === 30 + warmUps);
    expect(updates.events.every((e) => e.messageUpdated.id === root.id)).toBe(true);
  });

  it('filters history by until and senderId', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const a1 = await send(server, alice, conv, 'a1');
    await send(server, bob, conv, 'b1');
    await new Promise((r) => setTimeout(r, 5));
    const a2 = await send(server, alice, conv, 'a2');
    expect((await history(alice, conv, { until: a1.createdAt })).map((m) => m.content)).toEqual(['a1']);
    expect((await history(alice, conv, { senderId: 'alice' })).map((m) => m.content)).toEqual(['a1', 'a2']);
    expect((await history(alice, conv, { senderId: 'alice', since: a2.createdAt, until: a2.createdAt })).map((m) => m.content)).toEqual(['a2']);
  });
});

describeTwoInstances('threads across two instances', () => {
  const servers = twoInstances();

  it('counts concurrent replies sent on both instances, and the last update says so on both', async () => {
    const { a, b } = servers;
    const { alice, bob } = await users(a, ['alice', 'bob']);
    const conv = await createGroup(a, alice, ['bob']);
    const root = await send(a, alice, conv, 'root');
    const onA = collect(a.ws(alice), ChatMessageUpdatedDocument, { conversationId: conv });
    const onB = collect(b.ws(bob), ChatMessageUpdatedDocument, { conversationId: conv });
    let warmUps = 0;
    await eventually(async () => {
      await send(a, alice, conv, 'warm-up', { threadId: root.id });
      warmUps++;
      return onA.events.length > 0 && onB.events.length > 0;
    });
    await concurrently(40, (i) => send(i % 2 ? a : b, i % 2 ? alice : bob, conv, `reply ${i}`, { threadId: root.id }));
    const total = 40 + warmUps;
    await eventually(() => onA.events.at(-1)!.messageUpdated.thread?.replyCount === total && onB.events.at(-1)!.messageUpdated.thread?.replyCount === total);
    const { threadReplies } = dataOf(await b.gql(bob, ThreadRepliesDocument, { messageId: root.id, first: 200 }));
    const seqs = threadReplies.edges.map((e) => e.node.seq);
    expect(seqs).toHaveLength(total);
    expect([...seqs].sort((x, y) => x - y)).toEqual(seqs);
  });
});
