// Authentication and the authorization matrix: who may read, send to and manage a conversation.
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddParticipantDocument,
  ControlEventsDocument,
  ConversationDocument,
  ConversationsDocument,
  DeleteConversationDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  LeaveConversationDocument,
  MarkReadDocument,
  MessageAddedDocument,
  MessagesDocument,
  RemoveParticipantDocument,
  SendControlDocument,
  SendMessageDocument,
  SetTypingDocument,
  UpdateConversationDocument,
  UserDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import { allMessages, conversationOf, createGroup, expectCode, lastSeqOf, send, users } from '../../kit/requests.js';
import { type Auth, activeSubscriptions, dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { collect, eventually } from '../../kit/subscriptions.js';

describe.each(backends)('core auth on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ backend });
  });
  afterAll(() => server?.stop());

  /** A token signed by hand, for claims mintToken would not produce. */
  const sign = (claims: Record<string, unknown>, secret = server.secret, alg = 'HS256') =>
    new SignJWT(claims).setProtectedHeader({ alg }).sign(new TextEncoder().encode(secret));

  describe('authentication', () => {
    it('answers UNAUTHENTICATED without credentials, for queries and mutations alike', async () => {
      expectCode(await server.gql(null, ViewerDocument), 'UNAUTHENTICATED');
      expectCode(await server.gql(null, ConversationsDocument, {}), 'UNAUTHENTICATED');
      expectCode(await server.gql(null, SendMessageDocument, { input: { conversationId: crypto.randomUUID(), content: 'hi' } }), 'UNAUTHENTICATED');
    });

    it('answers UNAUTHENTICATED for a bad or expired token and provisions nobody', async () => {
      const now = Math.floor(Date.now() / 1000);
      const bad: [string, string][] = [
        ['garbage', 'not-a-jwt'],
        ['wrong secret', await sign({ sub: 'forger', exp: now + 3600 }, 'x'.repeat(64))],
        ['expired', await server.token('forger', { expiresIn: '-1h' })],
        ['expired (absolute exp)', await sign({ sub: 'forger', exp: now - 3600 })],
        ['no sub', await sign({ exp: now + 3600 })],
        ['no exp', await sign({ sub: 'forger' })],
        [
          'alg none',
          `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: 'forger', exp: now + 3600 })).toString('base64url')}.`,
        ],
        ['alg HS512', await sign({ sub: 'forger', exp: now + 3600 }, server.secret, 'HS512')],
        ['bad kind claim', await sign({ sub: 'forger', exp: now + 3600, kind: 'root' })],
        ['NUL in sub', await sign({ sub: 'forger\u0000', exp: now + 3600 })],
        ['NUL in name', await sign({ sub: 'forger', name: 'a\u0000b', exp: now + 3600 })],
        ['NUL in org', await sign({ sub: 'forger', org: 'o\u0000', exp: now + 3600 })],
        ['NUL in a role', await sign({ sub: 'forger', roles: ['admin\u0000'], exp: now + 3600 })],
        ['sub too long', await sign({ sub: 'f'.repeat(201), exp: now + 3600 })],
      ];
      for (const [label, token] of bad) {
        const result = await server.gql(token, ViewerDocument);
        expect(result.data?.viewer, label).toBeFalsy();
        expectCode(result, 'UNAUTHENTICATED');
      }
      // Not "Bearer <token>" at all.
      const valid = await server.token('forger');
      for (const authorization of [`Basic ${valid}`, valid, 'Bearer', `Bearer ${valid} extra`]) {
        expectCode(await server.gql(null, ViewerDocument, undefined, { authorization }), 'UNAUTHENTICATED');
      }
      // None of these made a user.
      const alice = await server.token('auth-checker');
      const { user } = dataOf(await server.gql(alice, UserDocument, { id: 'forger' }));
      expect(user).toBeNull();
    });

    it('accepts a token whose lifetime is given in seconds', async () => {
      const token = await server.token('short-lived', { expiresIn: 3600 });
      expect(dataOf(await server.gql(token, ViewerDocument)).viewer.id).toBe('short-lived');
    });

    it('refuses X-Act-As-User with a bearer token (FORBIDDEN) and audits nothing', async () => {
      const { alice } = await users(server, ['alice']);
      const result = await server.gql(alice, ViewerDocument, undefined, { 'x-act-as-user': 'bob' });
      expectCode(result, 'FORBIDDEN');
      expect(result.data?.viewer).toBeFalsy();
      const audit = await server.app.services.audit.list('default', { limit: 100, action: 'act_as' });
      expect(audit.filter((a) => a.subjectUserId === 'bob')).toEqual([]);
    });

    it('provisions the user from the claims, updates them, and keeps orgs apart', async () => {
      const t1 = await server.token('prov', { name: 'First', roles: ['expert', 'expert'], kind: 'agent' });
      expect(dataOf(await server.gql(t1, ViewerDocument)).viewer).toMatchObject({
        id: 'prov',
        displayName: 'First',
        kind: 'AGENT',
        roles: ['expert'],
      });
      const t2 = await server.token('prov', { name: 'Second' });
      expect(dataOf(await server.gql(t2, ViewerDocument)).viewer).toMatchObject({ displayName: 'Second', kind: 'USER', roles: [] });
      const other = await server.token('prov', { name: 'Other org', org: 'acme' });
      expect(dataOf(await server.gql(other, ViewerDocument)).viewer.displayName).toBe('Other org');
      // The default org's row is untouched by the acme one.
      expect(dataOf(await server.gql(t2, UserDocument, { id: 'prov' })).user?.displayName).toBe('Second');
    });

    it('keeps the display name a user has when a token carries none; a new user is named by its id', async () => {
      const named = await server.token('keeps', { name: 'Kept Name' });
      const peer = await server.token('keeps-peer', { name: 'Peer' });
      const conversationId = await createGroup(server, named, ['keeps-peer']);
      const before = await activeSubscriptions(server);
      const live = collect(server.ws(peer), MessageAddedDocument, { conversationId });
      await eventually(async () => (await activeSubscriptions(server)) > before);

      const nameless = await server.token('keeps');
      expect(dataOf(await server.gql(nameless, ViewerDocument)).viewer.displayName).toBe('Kept Name');
      // What its requests announce names the sender so too.
      dataOf(await server.gql(nameless, SendMessageDocument, { input: { conversationId, content: 'still me' } }));
      const [event] = await live.waitFor(1);
      expect(event!.messageAdded.sender).toMatchObject({ id: 'keeps', displayName: 'Kept Name' });
      live.stop();
      expect(dataOf(await server.gql(peer, UserDocument, { id: 'keeps' })).user?.displayName).toBe('Kept Name');

      const fresh = await server.token('keeps-new');
      expect(dataOf(await server.gql(fresh, ViewerDocument)).viewer.displayName).toBe('keeps-new');
    });
  });

  describe('authorization', () => {
    let alice: string, bob: string, carol: string, mallory: string, eve: string, aliceAcme: string;
    let conv: string;
    let aliceMessage: string;

    beforeAll(async () => {
      ({ alice, bob, carol, mallory } = await users(server, ['alice', 'bob', 'carol', 'mallory']));
      ({ eve } = await users(server, ['eve'], { org: 'acme' }));
      // Same user id as a default-org user, other tenant.
      aliceAcme = await server.token('alice', { org: 'acme', name: 'Alice of Acme' });
      conv = await createGroup(server, alice, ['bob', 'carol'], 'matrix');
      dataOf(await server.gql(alice, AddParticipantDocument, { conversationId: conv, userId: 'dave', role: 'ADMIN' }));
      aliceMessage = (await send(server, alice, conv, 'from alice')).id;
      await send(server, bob, conv, 'from bob');
    });

    /** Every read and write on the conversation, each expected to fail with `code` and write nothing. */
    async function expectLockedOut(auth: Auth, code: 'FORBIDDEN' | 'NOT_FOUND') {
      const before = await lastSeqOf(server, alice, conv);
      const controlsBefore = dataOf(await server.gql(alice, ControlEventsDocument, { conversationId: conv })).controlEvents.nodes.length;
      const attempts = {
        conversation: await server.gql(auth, ConversationDocument, { id: conv }),
        messages: await server.gql(auth, MessagesDocument, { conversationId: conv, last: 10 }),
        sendMessage: await server.gql(auth, SendMessageDocument, { input: { conversationId: conv, content: 'let me in' } }),
        sendControl: await server.gql(auth, SendControlDocument, { conversationId: conv, input: { event: 'PAUSE', runId: 'run-1' } }),
        controlEvents: await server.gql(auth, ControlEventsDocument, { conversationId: conv }),
        markRead: await server.gql(auth, MarkReadDocument, { conversationId: conv, seq: 1 }),
        setTyping: await server.gql(auth, SetTypingDocument, { conversationId: conv, isTyping: true }),
        editMessage: await server.gql(auth, EditMessageDocument, { id: aliceMessage, content: 'edited' }),
        deleteMessage: await server.gql(auth, DeleteMessageDocument, { id: aliceMessage }),
        updateConversation: await server.gql(auth, UpdateConversationDocument, { id: conv, input: { name: 'taken' } }),
        deleteConversation: await server.gql(auth, DeleteConversationDocument, { id: conv }),
        addParticipant: await server.gql(auth, AddParticipantDocument, { conversationId: conv, userId: 'intruder' }),
        removeParticipant: await server.gql(auth, RemoveParticipantDocument, { conversationId: conv, userId: 'bob' }),
        leaveConversation: await server.gql(auth, LeaveConversationDocument, { conversationId: conv }),
      };
      for (const [name, result] of Object.entries(attempts)) {
        expect(result.errors?.[0]?.extensions?.code, name).toBe(code);
        expectCode(result, code);
        expect(
          Object.values(result.data ?? {}).filter((v) => v !== null),
          name,
        ).toEqual([]);
      }
      // Nothing changed.
      const after = await conversationOf(server, alice, conv);
      expect(after.lastSeq).toBe(before);
      expect(after.name).toBe('matrix');
      expect(after.participants.map((p) => p.user.id).sort()).toEqual(['alice', 'bob', 'carol', 'dave']);
      const messages = await allMessages(server, alice, conv);
      expect(messages.find((m) => m.id === aliceMessage)).toMatchObject({ content: 'from alice', deletedAt: null, editedAt: null });
      expect(dataOf(await server.gql(alice, ControlEventsDocument, { conversationId: conv })).controlEvents.nodes).toHaveLength(controlsBefore);
    }

    it('lets participants read and write', async () => {
      for (const who of [alice, bob, carol]) {
        expect((await conversationOf(server, who, conv)).id).toBe(conv);
        const { messages } = dataOf(await server.gql(who, MessagesDocument, { conversationId: conv, last: 10 }));
        expect(messages.nodes.length).toBeGreaterThanOrEqual(2);
      }
    });

    it('gives a non-participant of the same org FORBIDDEN everywhere', async () => {
      await expectLockedOut(mallory, 'FORBIDDEN');
      const { conversations } = dataOf(await server.gql(mallory, ConversationsDocument, {}));
      expect(conversations.edges.map((e) => e.node.id)).not.toContain(conv);
    });

    it('gives a user of another org NOT_FOUND everywhere and never lists the conversation', async () => {
      await expectLockedOut(eve, 'NOT_FOUND');
      // Even with the same user id as the creator.
      await expectLockedOut(aliceAcme, 'NOT_FOUND');
      for (const who of [eve, aliceAcme]) {
        const { conversations } = dataOf(await server.gql(who, ConversationsDocument, { first: 200 }));
        expect(conversations.edges.map((e) => e.node.id)).not.toContain(conv);
      }
      // Nor do they see the other org's users.
      expect(dataOf(await server.gql(eve, UserDocument, { id: 'bob' })).user).toBeNull();
      expect(dataOf(await server.gql(aliceAcme, UserDocument, { id: 'alice' })).user?.displayName).toBe('Alice of Acme');
    });

    it('locks a removed participant out, and one who left', async () => {
      const room = await createGroup(server, alice, ['bob', 'carol'], 'removal');
      await send(server, alice, room, 'before removal');
      expect(dataOf(await server.gql(alice, RemoveParticipantDocument, { conversationId: room, userId: 'bob' })).removeParticipant).toBe(true);
      expect(dataOf(await server.gql(carol, LeaveConversationDocument, { conversationId: room })).leaveConversation).toBe(true);
      for (const gone of [bob, carol]) {
        expectCode(await server.gql(gone, ConversationDocument, { id: room }), 'FORBIDDEN');
        expectCode(await server.gql(gone, MessagesDocument, { conversationId: room, last: 10 }), 'FORBIDDEN');
        expectCode(await server.gql(gone, SendMessageDocument, { input: { conversationId: room, content: 'still here?' } }), 'FORBIDDEN');
        expectCode(await server.gql(gone, MarkReadDocument, { conversationId: room, seq: 1 }), 'FORBIDDEN');
        const { conversations } = dataOf(await server.gql(gone, ConversationsDocument, { first: 200 }));
        expect(conversations.edges.map((e) => e.node.id)).not.toContain(room);
      }
      expect(await lastSeqOf(server, alice, room)).toBe(1);
      expect((await conversationOf(server, alice, room)).participants.map((p) => p.user.id)).toEqual(['alice']);
    });

    it('hands ownership on when the last owner leaves, and lets only owners delete the conversation', async () => {
      const room = await createGroup(server, alice, ['bob', 'carol'], 'succession');
      dataOf(await server.gql(alice, AddParticipantDocument, { conversationId: room, userId: 'dave', role: 'ADMIN' }));
      await send(server, bob, room, 'hello');
      dataOf(await server.gql(alice, LeaveConversationDocument, { conversationId: room }));
      const roles = Object.fromEntries((await conversationOf(server, bob, room)).participants.map((p) => [p.user.id, p.role]));
      expect(roles).toEqual({ bob: 'MEMBER', carol: 'MEMBER', dave: 'OWNER' });

      const dave = await server.token('dave');
      expectCode(await server.gql(bob, DeleteConversationDocument, { id: room }), 'FORBIDDEN');
      expect(dataOf(await server.gql(dave, DeleteConversationDocument, { id: room })).deleteConversation).toBe(true);
      for (const who of [bob, carol, dave, alice]) {
        expectCode(await server.gql(who, ConversationDocument, { id: room }), 'NOT_FOUND');
        expectCode(await server.gql(who, MessagesDocument, { conversationId: room, last: 5 }), 'NOT_FOUND');
        const { conversations } = dataOf(await server.gql(who, ConversationsDocument, { first: 200 }));
        expect(conversations.edges.map((e) => e.node.id)).not.toContain(room);
      }
    });
  });
});
