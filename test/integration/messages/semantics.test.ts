// Message semantics: ordering under concurrency, exactly-once sends, edits, soft deletes,
// replies, PRIVATE uniqueness and read markers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConversationDocument,
  ConversationsActivityDocument,
  CreateConversationDocument,
  DeleteConversationDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  LeaveConversationDocument,
  MarkReadDocument,
  RemoveParticipantDocument,
  SendMessageDocument,
  UpdateConversationDocument,
} from '../../../src/client/generated/graphql.js';
import { allMessages, concurrently, conversationOf, createGroup, expectCode, expectNoLeak, lastSeqOf, range, send, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';

describe.each(backends)('core messages on %s', (backend) => {
  let server: TestServer;
  let alice: string, bob: string, carol: string;
  beforeAll(async () => {
    server = await startServer({ backend });
    ({ alice, bob, carol } = await users(server, ['alice', 'bob', 'carol']));
  });
  afterAll(() => server?.stop());

  describe('order', () => {
    it('gives 50 concurrent sends over several connections seq 1..50 exactly', async () => {
      const conv = await createGroup(server, alice, ['bob', 'carol']);
      const senders = [alice, bob, carol];
      const results = await concurrently(50, (i) =>
        server.gql(senders[i % 3]!, SendMessageDocument, { input: { conversationId: conv, content: `message ${i}` } }),
      );
      for (const r of results) expectNoLeak(r);
      const sent = results.map((r) => dataOf(r).sendMessage);
      expect(sent.map((m) => m.seq).sort((a, b) => a - b)).toEqual(range(50));
      expect(new Set(sent.map((m) => m.id)).size).toBe(50);

      const stored = await allMessages(server, alice, conv);
      expect(stored.map((m) => m.seq)).toEqual(range(50));
      // Each stored message is the one its send answered.
      const bySeq = new Map(sent.map((m) => [m.seq, m]));
      for (const m of stored) expect(m).toMatchObject({ id: bySeq.get(m.seq)!.id, content: bySeq.get(m.seq)!.content });
      expect(await lastSeqOf(server, alice, conv)).toBe(50);

      const pool = server.app.services.database.pool;
      if (pool) expect(pool.totalCount, 'sends ran on several pool connections').toBeGreaterThan(1);
    });

    it('keeps conversations independent: each counts from 1', async () => {
      const [a, b] = [await createGroup(server, alice, ['bob']), await createGroup(server, bob, ['alice'])];
      await concurrently(20, (i) => send(server, i % 2 ? alice : bob, i % 4 < 2 ? a : b, `m${i}`));
      expect((await allMessages(server, alice, a)).map((m) => m.seq)).toEqual(range(10));
      expect((await allMessages(server, alice, b)).map((m) => m.seq)).toEqual(range(10));
    });
  });

  describe('exactly once', () => {
    it('turns 10 concurrent sends with one clientMessageId into one message', async () => {
      const conv = await createGroup(server, alice, ['bob']);
      await send(server, bob, conv, 'before');
      const results = await concurrently(10, () =>
        server.gql(alice, SendMessageDocument, { input: { conversationId: conv, content: 'once', clientMessageId: 'cmid-1' } }),
      );
      for (const r of results) expectNoLeak(r);
      const answers = results.map((r) => dataOf(r).sendMessage);
      const ids = new Set(answers.map((m) => m.id));
      expect(ids.size).toBe(1);
      expect(answers.every((m) => m.seq === 2 && m.clientMessageId === 'cmid-1' && m.content === 'once')).toBe(true);

      const stored = await allMessages(server, alice, conv);
      expect(stored.filter((m) => m.clientMessageId === 'cmid-1')).toHaveLength(1);
      expect(stored.map((m) => m.seq)).toEqual([1, 2]);
      expect(await lastSeqOf(server, alice, conv)).toBe(2);

      // No gap either: the next send is seq 3.
      expect((await send(server, bob, conv, 'after')).seq).toBe(3);
    });

    it('answers CONFLICT for the same clientMessageId with other content and writes nothing', async () => {
      const conv = await createGroup(server, alice, ['bob']);
      const original = await send(server, alice, conv, 'original', { clientMessageId: 'c-1' });
      const variants = [
        { content: 'different' },
        { content: 'original', kind: 'COMMAND' as const },
        { content: 'original', contentType: 'text/markdown' },
        { content: 'original', replyToId: original.id },
      ];
      for (const variant of variants) {
        expectCode(await server.gql(alice, SendMessageDocument, { input: { conversationId: conv, clientMessageId: 'c-1', ...variant } }), 'CONFLICT');
      }
      // Also when the conflicting retries race each other.
      const raced = await concurrently(5, (i) =>
        server.gql(alice, SendMessageDocument, { input: { conversationId: conv, clientMessageId: 'c-1', content: `racer ${i}` } }),
      );
      for (const r of raced) expectCode(r, 'CONFLICT');
      expect(await lastSeqOf(server, alice, conv)).toBe(1);
      const stored = await allMessages(server, alice, conv);
      expect(stored).toHaveLength(1);
      expect(stored[0]).toMatchObject({ id: original.id, content: 'original' });
    });
  });

  describe('edit and delete', () => {
    it('sets editedAt on edit and keeps everything else', async () => {
      const conv = await createGroup(server, alice, ['bob']);
      const m = await send(server, alice, conv, 'draft', { metadata: { k: 1 } });
      expect(m.editedAt).toBeNull();
      const edited = dataOf(await server.gql(alice, EditMessageDocument, { id: m.id, content: 'final' })).editMessage;
      expect(edited).toMatchObject({ id: m.id, seq: m.seq, content: 'final', createdAt: m.createdAt, metadata: { k: 1 } });
      expect(edited.editedAt).not.toBeNull();
      expect(new Date(edited.editedAt!).getTime()).toBeGreaterThanOrEqual(new Date(m.createdAt).getTime());
      const [stored] = await allMessages(server, bob, conv);
      expect(stored).toMatchObject({ content: 'final', editedAt: edited.editedAt });
      expect(await lastSeqOf(server, alice, conv)).toBe(1);
    });

    it('soft-deletes: content cleared, deletedAt set, seq kept, still in history', async () => {
      const conv = await createGroup(server, alice, ['bob']);
      const [m1, m2, m3] = [
        await send(server, alice, conv, 'one'),
        await send(server, alice, conv, 'two', { metadata: { secret: 'gone' } }),
        await send(server, alice, conv, 'three'),
      ];
      const deleted = dataOf(await server.gql(alice, DeleteMessageDocument, { id: m2.id })).deleteMessage;
      expect(deleted).toMatchObject({ id: m2.id, seq: 2, content: '', metadata: null });
      expect(deleted.deletedAt).not.toBeNull();

      const history = await allMessages(server, bob, conv);
      expect(history.map((m) => [m.seq, m.content])).toEqual([
        [1, 'one'],
        [2, ''],
        [3, 'three'],
      ]);
      expect(history[1]!.deletedAt).toBe(deleted.deletedAt);
      expect(history[0]!.id).toBe(m1.id);
      expect(history[2]!.id).toBe(m3.id);

      // Deleting again changes nothing; editing a deleted message is refused.
      const again = dataOf(await server.gql(alice, DeleteMessageDocument, { id: m2.id })).deleteMessage;
      expect(again.deletedAt).toBe(deleted.deletedAt);
      expectCode(await server.gql(alice, EditMessageDocument, { id: m2.id, content: 'resurrect' }), 'BAD_USER_INPUT');
      expect((await allMessages(server, bob, conv))[1]).toMatchObject({ content: '', editedAt: null });
      // Deleted messages are not unread.
      expect((await conversationOf(server, bob, conv)).unreadCount).toBe(2);
      // The next message still gets the next seq.
      expect((await send(server, bob, conv, 'four')).seq).toBe(4);
    });
  });

  describe('replies', () => {
    it('accepts a reply to a message of the same conversation', async () => {
      const conv = await createGroup(server, alice, ['bob']);
      const q = await send(server, alice, conv, 'question?');
      const a = await send(server, bob, conv, 'answer', { replyToId: q.id });
      expect(a.replyTo).toEqual({ id: q.id, seq: q.seq });
      expect((await allMessages(server, alice, conv))[1]!.replyTo).toEqual({ id: q.id, seq: 1 });
    });
  });

  describe('PRIVATE conversations', () => {
    it('are unique per pair: creating again, from either side, returns the same one', async () => {
      const { dan, erin } = await users(server, ['dan', 'erin']);
      const create = (auth: string, other: string) => server.gql(auth, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: [other] } });
      const first = dataOf(await create(dan, 'erin')).createConversation;
      expect(first.type).toBe('PRIVATE');
      expect(first.participants.map((p) => p.user.id).sort()).toEqual(['dan', 'erin']);
      expect(dataOf(await create(dan, 'erin')).createConversation.id).toBe(first.id);
      expect(dataOf(await create(erin, 'dan')).createConversation.id).toBe(first.id);
      // Listing the creator twice is still the same pair.
      const twice = await server.gql(dan, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: ['erin', 'erin', 'dan'] } });
      expect(dataOf(twice).createConversation.id).toBe(first.id);
      for (const who of [dan, erin]) {
        const { conversations } = dataOf(await server.gql(who, ConversationsActivityDocument, { type: 'PRIVATE' }));
        expect(conversations.edges.map((e) => e.node.id)).toEqual([first.id]);
      }
    });

    it('are unique also when both sides create at once', async () => {
      const { fay, gus } = await users(server, ['fay', 'gus']);
      const results = await concurrently(10, (i) =>
        server.gql(i % 2 ? fay : gus, CreateConversationDocument, {
          input: { type: 'PRIVATE', participantIds: [i % 2 ? 'gus' : 'fay'] },
        }),
      );
      for (const r of results) expectNoLeak(r);
      const ids = new Set(results.map((r) => dataOf(r).createConversation.id));
      expect(ids.size).toBe(1);
      const { conversations } = dataOf(await server.gql(fay, ConversationsActivityDocument, { type: 'PRIVATE' }));
      expect(conversations.edges.map((e) => e.node.id)).toEqual([...ids]);
    });
  });

  describe('PRIVATE conversations left, removed and deleted', () => {
    const open = (auth: string, other: string) => server.gql(auth, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: [other] } });
    const rolesIn = async (auth: string, id: string) =>
      Object.fromEntries((await conversationOf(server, auth, id)).participants.map((p) => [p.user.id, p.role]));
    const listed = async (auth: string) =>
      dataOf(await server.gql(auth, ConversationsActivityDocument, { type: 'PRIVATE', first: 200 })).conversations.edges.map((e) => e.node.id);

    it('brings a MEMBER who left back as MEMBER with their read marker; deleting only hides it from them', async () => {
      const { hal, ida } = await users(server, ['hal', 'ida']);
      const pair = dataOf(await open(hal, 'ida')).createConversation.id;
      for (const text of ['one', 'two', 'three']) await send(server, hal, pair, text);
      dataOf(await server.gql(ida, MarkReadDocument, { conversationId: pair, seq: 2 }));
      dataOf(await server.gql(ida, LeaveConversationDocument, { conversationId: pair }));

      const back = dataOf(await open(ida, 'hal')).createConversation;
      expect(back.id).toBe(pair);
      expect(await rolesIn(hal, pair)).toEqual({ hal: 'OWNER', ida: 'MEMBER' });
      expect(back.participants.find((p) => p.user.id === 'ida')!.lastReadSeq).toBe(2);
      expect((await conversationOf(server, ida, pair)).unreadCount).toBe(1);

      // A MEMBER's delete is their own leaving: the owner keeps the conversation and its history.
      expect(dataOf(await server.gql(ida, DeleteConversationDocument, { id: pair })).deleteConversation).toBe(true);
      expectCode(await server.gql(ida, ConversationDocument, { id: pair }), 'FORBIDDEN');
      expect(await listed(ida)).not.toContain(pair);
      expect(await rolesIn(hal, pair)).toEqual({ hal: 'OWNER' });
      expect((await allMessages(server, hal, pair)).map((m) => m.content)).toEqual(['one', 'two', 'three']);
      expect(await listed(hal)).toContain(pair);

      // Opening it again: back as MEMBER, still unable to delete anything but their own view.
      expect(dataOf(await open(ida, 'hal')).createConversation.id).toBe(pair);
      expect(await rolesIn(ida, pair)).toEqual({ hal: 'OWNER', ida: 'MEMBER' });
      expectCode(await server.gql(ida, RemoveParticipantDocument, { conversationId: pair, userId: 'hal' }), 'FORBIDDEN');
      expect((await allMessages(server, ida, pair)).map((m) => m.content)).toEqual(['one', 'two', 'three']);
    });

    it('keeps a removed participant out: re-creating is FORBIDDEN and changes nothing, until the owner opens it again', async () => {
      const { jo, kim } = await users(server, ['jo', 'kim']);
      const pair = dataOf(await open(jo, 'kim')).createConversation.id;
      await send(server, jo, pair, 'hello');
      dataOf(await server.gql(jo, RemoveParticipantDocument, { conversationId: pair, userId: 'kim' }));

      expectCode(await open(kim, 'jo'), 'FORBIDDEN');
      expectCode(await server.gql(kim, ConversationDocument, { id: pair }), 'FORBIDDEN');
      expect(await listed(kim)).toEqual([]);
      expect(await rolesIn(jo, pair)).toEqual({ jo: 'OWNER' });

      // The owner manages participants: opening the pair again brings kim back, as she was.
      expect(dataOf(await open(jo, 'kim')).createConversation.id).toBe(pair);
      expect(await rolesIn(kim, pair)).toEqual({ jo: 'OWNER', kim: 'MEMBER' });
      expect(await listed(kim)).toEqual([pair]);
    });

    it('brings an OWNER who left back as ADMIN under the one who stayed, and deletes the conversation once both deleted it', async () => {
      const { lou, mia } = await users(server, ['lou', 'mia']);
      const pair = dataOf(await open(lou, 'mia')).createConversation.id;
      await send(server, mia, pair, 'hi lou');
      dataOf(await server.gql(lou, LeaveConversationDocument, { conversationId: pair }));
      expect(await rolesIn(mia, pair)).toEqual({ mia: 'OWNER' });

      expect(dataOf(await open(lou, 'mia')).createConversation.id).toBe(pair);
      expect(await rolesIn(lou, pair)).toEqual({ lou: 'ADMIN', mia: 'OWNER' });
      // The owner stays in charge: an admin cannot remove an owner.
      expectCode(await server.gql(lou, RemoveParticipantDocument, { conversationId: pair, userId: 'mia' }), 'FORBIDDEN');
      dataOf(await server.gql(lou, UpdateConversationDocument, { id: pair, input: { name: 'lou and mia' } }));

      // Each deletes it for themselves; the second delete leaves nobody, and it is gone.
      expect(dataOf(await server.gql(mia, DeleteConversationDocument, { id: pair })).deleteConversation).toBe(true);
      expect((await allMessages(server, lou, pair)).map((m) => m.content)).toEqual(['hi lou']);
      expect(dataOf(await server.gql(lou, DeleteConversationDocument, { id: pair })).deleteConversation).toBe(true);
      for (const who of [lou, mia]) expectCode(await server.gql(who, ConversationDocument, { id: pair }), 'NOT_FOUND');
      const fresh = dataOf(await open(mia, 'lou')).createConversation;
      expect(fresh.id).not.toBe(pair);
      expect(fresh.lastSeq).toBe(0);
      expect(await rolesIn(lou, fresh.id)).toEqual({ lou: 'MEMBER', mia: 'OWNER' });
    });

    it('restores both sides when both left, without making two owners', async () => {
      const { ned, ola } = await users(server, ['ned', 'ola']);
      const pair = dataOf(await open(ned, 'ola')).createConversation.id;
      dataOf(await server.gql(ned, LeaveConversationDocument, { conversationId: pair })); // ola becomes OWNER
      dataOf(await server.gql(ola, LeaveConversationDocument, { conversationId: pair }));
      expect(dataOf(await open(ned, 'ola')).createConversation.id).toBe(pair);
      expect(await rolesIn(ned, pair)).toEqual({ ned: 'OWNER', ola: 'ADMIN' });
    });
  });

  describe('read markers', () => {
    it('counts others’ messages after the marker and moves it forward only', async () => {
      const conv = await createGroup(server, alice, ['bob']);
      // seq: 1 alice, 2 alice, 3 bob, 4 alice, 5 bob
      for (const [who, text] of [
        [alice, 'a1'],
        [alice, 'a2'],
        [bob, 'b3'],
        [alice, 'a4'],
        [bob, 'b5'],
      ] as const) {
        await send(server, who, conv, text);
      }
      const unread = async (who: string) => (await conversationOf(server, who, conv)).unreadCount;
      const marker = async (id: string) => (await conversationOf(server, alice, conv)).participants.find((p) => p.user.id === id)!.lastReadSeq;

      expect(await unread(bob)).toBe(3);
      expect(await unread(alice)).toBe(2);

      const read = dataOf(await server.gql(bob, MarkReadDocument, { conversationId: conv, seq: 2 })).markRead;
      expect(read).toMatchObject({ user: { id: 'bob' }, lastReadSeq: 2 });
      expect(read.lastReadAt).not.toBeNull();
      expect(await unread(bob)).toBe(1);
      expect(await marker('bob')).toBe(2);

      // Backwards is a no-op, not an error.
      const back = dataOf(await server.gql(bob, MarkReadDocument, { conversationId: conv, seq: 1 })).markRead;
      expect(back).toMatchObject({ lastReadSeq: 2, lastReadAt: read.lastReadAt });
      expect(await unread(bob)).toBe(1);

      // Past the last message, or negative: BAD_USER_INPUT, marker unchanged.
      expectCode(await server.gql(bob, MarkReadDocument, { conversationId: conv, seq: 6 }), 'BAD_USER_INPUT');
      expectCode(await server.gql(bob, MarkReadDocument, { conversationId: conv, seq: -1 }), 'BAD_USER_INPUT');
      expectCode(await server.gql(bob, MarkReadDocument, { conversationId: conv, seq: 2 ** 31 - 1 }), 'BAD_USER_INPUT');
      expect(await marker('bob')).toBe(2);

      expect(dataOf(await server.gql(bob, MarkReadDocument, { conversationId: conv, seq: 5 })).markRead.lastReadSeq).toBe(5);
      expect(await unread(bob)).toBe(0);
      // Alice's marker is her own.
      expect(await marker('alice')).toBe(0);
      expect(await unread(alice)).toBe(2);
      expect(dataOf(await server.gql(alice, MarkReadDocument, { conversationId: conv, seq: 0 })).markRead.lastReadSeq).toBe(0);

      // New messages from others count again.
      await send(server, alice, conv, 'a6');
      expect(await unread(bob)).toBe(1);
    });
  });
});
