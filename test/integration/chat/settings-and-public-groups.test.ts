// Participant settings (muted, archived: archived conversations leave the list until a new
// message brings them back) and public groups (listed to the org, joined by anyone of it).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChatConversationDocument,
  ChatConversationsDocument,
  CreateConversationDocument,
  JoinConversationDocument,
  PublicConversationsDocument,
  UpdateConversationDocument,
  UpdateParticipantSettingsDocument,
} from '../../../src/client/generated/graphql.js';
import { createGroup, expectCode, send, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';

describe.each(backends)('participant settings and public groups on %s', (backend) => {
  let server: TestServer;
  let alice: string, bob: string, carol: string, eve: string;
  beforeAll(async () => {
    server = await startServer({ backend });
    ({ alice, bob, carol } = await users(server, ['alice', 'bob', 'carol']));
    ({ eve } = await users(server, ['eve'], { org: 'other' }));
  });
  afterAll(() => server?.stop());

  const listed = async (auth: string, archived?: boolean) =>
    dataOf(await server.gql(auth, ChatConversationsDocument, { first: 200, archived })).conversations.edges.map((e) => e.node.id);
  const settings = (auth: string, conversationId: string, input: { muted?: boolean; archived?: boolean }) =>
    server.gql(auth, UpdateParticipantSettingsDocument, { conversationId, input });

  it('mutes (still counting unread) and archives until a new message arrives', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const kept = await createGroup(server, alice, ['bob']);
    await send(server, alice, conv, 'one');
    const muted = dataOf(await settings(bob, conv, { muted: true })).updateParticipantSettings;
    expect(muted).toMatchObject({ muted: true, archived: false, user: { id: 'bob' } });
    const seen = dataOf(await server.gql(bob, ChatConversationDocument, { id: conv })).conversation!;
    expect(seen.unreadCount).toBe(1);
    expect(seen.participants.find((p) => p.user.id === 'bob')).toMatchObject({ muted: true });

    const archived = dataOf(await settings(bob, conv, { archived: true })).updateParticipantSettings;
    expect(archived).toMatchObject({ muted: true, archived: true });
    expect(await listed(bob)).not.toContain(conv);
    expect(await listed(bob)).toContain(kept);
    expect(await listed(bob, true)).toEqual([conv]);
    expect(await listed(alice)).toContain(conv);

    await send(server, alice, conv, 'two');
    expect(await listed(bob)).toContain(conv);
    expect(await listed(bob, true)).toEqual([]);
    const back = dataOf(await server.gql(bob, ChatConversationDocument, { id: conv })).conversation!;
    expect(back.participants.find((p) => p.user.id === 'bob')).toMatchObject({ muted: true, archived: false });

    expectCode(await settings(carol, conv, { muted: true }), 'FORBIDDEN');
    expectCode(await settings(bob, 'nope', { muted: true }), 'NOT_FOUND');
  });

  it('lists public groups to the org and lets anyone of it join as MEMBER; others refuse a join', async () => {
    const { createConversation: pub } = dataOf(
      await server.gql(alice, CreateConversationDocument, { input: { type: 'GROUP', name: 'Gardening club', isPublic: true } }),
    );
    expect(pub.isPublic).toBe(true);
    const closed = await createGroup(server, alice, [], 'secret garden');
    const { publicConversations } = dataOf(await server.gql(carol, PublicConversationsDocument, { search: 'garden' }));
    expect(publicConversations.edges.map((e) => e.node.id)).toEqual([pub.id]);
    expect(dataOf(await server.gql(eve, PublicConversationsDocument, {})).publicConversations.edges).toEqual([]);

    const joined = dataOf(await server.gql(carol, JoinConversationDocument, { conversationId: pub.id })).joinConversation;
    expect(joined).toMatchObject({ role: 'MEMBER', user: { id: 'carol' } });
    // Joining again changes nothing.
    expect(dataOf(await server.gql(carol, JoinConversationDocument, { conversationId: pub.id })).joinConversation.role).toBe('MEMBER');
    expect(await listed(carol)).toContain(pub.id);
    expectCode(await server.gql(carol, JoinConversationDocument, { conversationId: closed }), 'FORBIDDEN');
    expectCode(await server.gql(eve, JoinConversationDocument, { conversationId: pub.id }), 'NOT_FOUND');

    // Made private again, it is no longer listed nor joinable.
    dataOf(await server.gql(alice, UpdateConversationDocument, { id: pub.id, input: { isPublic: false } }));
    expect(dataOf(await server.gql(bob, PublicConversationsDocument, { search: 'garden' })).publicConversations.edges).toEqual([]);
    expectCode(await server.gql(bob, JoinConversationDocument, { conversationId: pub.id }), 'FORBIDDEN');
    expectCode(await server.gql(alice, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: ['bob'], isPublic: true } }), 'BAD_USER_INPUT');
    expectCode(await server.gql(bob, PublicConversationsDocument, { first: 201 }), 'BAD_USER_INPUT');
    expectCode(await server.gql(bob, PublicConversationsDocument, { search: 'x'.repeat(201) }), 'BAD_USER_INPUT');
  });
});
