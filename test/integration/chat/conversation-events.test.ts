// conversationEvents: the live conversation list. Each user hears of the conversations they are
// added to or removed from, of changes to theirs and their participants, and of read markers,
// and nothing of conversations they are not in; across two instances too.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddParticipantDocument,
  ConversationEventsDocument,
  type ConversationEventsSubscription,
  CreateConversationDocument,
  DeleteConversationDocument,
  LeaveConversationDocument,
  MarkReadDocument,
  RemoveParticipantDocument,
  UpdateConversationDocument,
  UpdateParticipantSettingsDocument,
} from '../../../src/client/generated/graphql.js';
import { freshOrg } from '../../kit/realtime.js';
import { createGroup, expectCode, send, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { type Collector, collect, eventually } from '../../kit/subscriptions.js';
import { describeTwoInstances, twoInstances } from '../../kit/two-instances.js';

type Events = Collector<ConversationEventsSubscription>;
const summary = (c: Events) => c.events.map(({ conversationEvents: e }) => [e.type, e.conversation.name, e.participant?.user.id ?? null, e.actor?.id ?? null]);

/**
 * Subscribes each user to conversationEvents and waits until each subscription is known to be
 * live: a marker conversation is created and each must hear JOINED of it. Returns the collectors,
 * emptied of the marker's events.
 */
async function listening(server: TestServer, owner: string, tokens: Record<string, string>): Promise<Record<string, Events>> {
  const collectors = Object.fromEntries(Object.entries(tokens).map(([id, token]) => [id, collect(server.ws(token), ConversationEventsDocument, {})]));
  const ids = Object.keys(tokens);
  await eventually(async () => {
    const marker = await createGroup(server, owner, ids, 'marker');
    const heard = ids.every((id) => collectors[id]!.events.some((e) => e.conversationEvents.conversation.id === marker));
    dataOf(await server.gql(owner, DeleteConversationDocument, { id: marker }));
    return heard;
  });
  // The marker's DELETED arrives after its JOINED: wait for it before forgetting the marker.
  await eventually(() => ids.every((id) => collectors[id]!.events.at(-1)!.conversationEvents.type === 'DELETED'));
  for (const c of Object.values(collectors)) c.events.length = 0;
  return collectors;
}

describe.each(backends)('conversationEvents on %s', (backend) => {
  let server: TestServer;
  let alice: string, bob: string, carol: string, dave: string;
  beforeAll(async () => {
    server = await startServer({ backend });
    ({ alice, bob, carol, dave } = await users(server, ['alice', 'bob', 'carol', 'dave']));
  });
  afterAll(() => server?.stop());

  it('tells each participant what happens to their conversations, and others nothing', async () => {
    const { bob: bobSees, carol: carolSees, dave: daveSees } = await listening(server, alice, { bob, carol, dave });
    const { createConversation } = dataOf(
      await server.gql(alice, CreateConversationDocument, { input: { type: 'GROUP', name: 'plans', participantIds: ['bob'] } }),
    );
    const conv = createConversation.id;
    await eventually(() => bobSees.events.length === 1);
    expect(summary(bobSees)).toEqual([['JOINED', 'plans', 'bob', 'alice']]);

    dataOf(await server.gql(alice, UpdateConversationDocument, { id: conv, input: { name: 'plans v2' } }));
    dataOf(await server.gql(alice, AddParticipantDocument, { conversationId: conv, userId: 'carol' }));
    const m = await send(server, alice, conv, 'hello');
    dataOf(await server.gql(bob, MarkReadDocument, { conversationId: conv, seq: m.seq }));
    dataOf(await server.gql(bob, UpdateParticipantSettingsDocument, { conversationId: conv, input: { muted: true } }));
    dataOf(await server.gql(alice, RemoveParticipantDocument, { conversationId: conv, userId: 'carol' }));
    dataOf(await server.gql(bob, LeaveConversationDocument, { conversationId: conv }));

    await eventually(() => bobSees.events.length === 7 && carolSees.events.length === 3);
    expect(summary(bobSees)).toEqual([
      ['JOINED', 'plans', 'bob', 'alice'],
      ['UPDATED', 'plans v2', null, 'alice'],
      ['PARTICIPANT_ADDED', 'plans v2', 'carol', 'alice'],
      ['READ', 'plans v2', 'bob', 'bob'],
      ['PARTICIPANT_UPDATED', 'plans v2', 'bob', 'bob'],
      ['PARTICIPANT_REMOVED', 'plans v2', 'carol', 'alice'],
      ['LEFT', 'plans v2', 'bob', 'bob'],
    ]);
    expect(bobSees.events[3]!.conversationEvents.participant!.lastReadSeq).toBe(m.seq);
    expect(bobSees.events[4]!.conversationEvents.participant!.muted).toBe(true);
    expect(summary(carolSees)).toEqual([
      ['JOINED', 'plans v2', 'carol', 'alice'],
      ['READ', 'plans v2', 'bob', 'bob'],
      ['LEFT', 'plans v2', 'carol', 'alice'],
    ]);
    // Dave takes part in none of it.
    const other = await createGroup(server, dave, [], 'dave alone');
    await eventually(() => daveSees.events.length === 1);
    expect(summary(daveSees)).toEqual([['JOINED', 'dave alone', 'dave', 'dave']]);
    expect(daveSees.events[0]!.conversationEvents.conversation.id).toBe(other);
  });

  it('tells every participant of a deleted group, and narrows to one conversation when asked', async () => {
    const conv = await createGroup(server, alice, ['bob'], 'doomed');
    const elsewhere = await createGroup(server, alice, ['bob'], 'elsewhere');
    const one = collect(server.ws(bob), ConversationEventsDocument, { conversationId: conv });
    await eventually(async () => {
      dataOf(await server.gql(alice, UpdateConversationDocument, { id: conv, input: { description: `${Date.now()}` } }));
      return one.events.length > 0;
    });
    dataOf(await server.gql(alice, UpdateConversationDocument, { id: elsewhere, input: { name: 'elsewhere 2' } }));
    dataOf(await server.gql(alice, DeleteConversationDocument, { id: conv }));
    await eventually(() => one.events.at(-1)!.conversationEvents.type === 'DELETED');
    expect(one.events.every((e) => e.conversationEvents.conversation.id === conv)).toBe(true);
    expect(one.events.at(-1)!.conversationEvents).toMatchObject({ type: 'DELETED', conversation: { id: conv, name: 'doomed' }, actor: { id: 'alice' } });

    // Narrowing to a conversation needs taking part in it.
    const refused = collect(server.ws(carol), ConversationEventsDocument, { conversationId: elsewhere });
    await refused.waitForEnd();
    expect(JSON.stringify(refused.errors)).toContain('FORBIDDEN');
    expectCode(await server.gql(null, UpdateConversationDocument, { id: conv, input: {} }), 'UNAUTHENTICATED');
  });
});

describeTwoInstances('conversationEvents across two instances', () => {
  const servers = twoInstances();

  it('delivers JOINED, READ and LEFT caused on A to a subscriber on B', async () => {
    const { a, b } = servers;
    // An org of its own: suites running at the same time share the test Redis, and its topics.
    const { alice, bob } = await users(a, ['alice', 'bob'], { org: freshOrg() });
    const { bob: bobSees } = await listening(b, alice, { bob });
    const conv = await createGroup(a, alice, ['bob'], 'across');
    const m = await send(a, alice, conv, 'hi');
    dataOf(await a.gql(alice, MarkReadDocument, { conversationId: conv, seq: m.seq }));
    dataOf(await a.gql(alice, RemoveParticipantDocument, { conversationId: conv, userId: 'bob' }));
    await eventually(() => bobSees.events.length === 3);
    expect(summary(bobSees)).toEqual([
      ['JOINED', 'across', 'bob', 'alice'],
      ['READ', 'across', 'alice', 'alice'],
      ['LEFT', 'across', 'bob', 'alice'],
    ]);
  });
});
