// Domain events: what the service raises once a write is committed, with the rows as stored and
// the actor, for other modules (and later webhooks) to react to; a reaction that fails never
// turns the committed write into an error.
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AddParticipantDocument,
  AppendMessageChunkDocument,
  ClaimExpertRequestDocument,
  CompleteMessageDocument,
  CreateConversationDocument,
  DeleteConversationDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  HandBackToAgentDocument,
  LeaveConversationDocument,
  MarkReadDocument,
  RemoveParticipantDocument,
  RequestExpertDocument,
  SendControlDocument,
  SendMessageDocument,
  StartMessageDocument,
  UpdateConversationDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import { messages } from '../../../src/db/schema/index.js';
import type { DomainEventMap, DomainEventName } from '../../../src/events/domain-events.js';
import { createGroup, send, users } from '../../kit/requests.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';

type Raised = { [N in DomainEventName]: { name: N; event: DomainEventMap[N] } }[DomainEventName];

describe.each(backends)('domain events on %s', (backend) => {
  let server: TestServer;
  let t: Record<'alice' | 'bob' | 'carol', string>;
  let bot: string;
  let erin: string;
  const removals: (() => void)[] = [];
  const raised: Raised[] = [];

  /** Records every event of these names from now on, in the order raised. */
  const record = (...names: DomainEventName[]) => {
    for (const name of names) {
      removals.push(server.app.services.events.on(name, (event) => void raised.push({ name, event } as Raised)));
    }
  };
  const summary = () =>
    raised.map(({ name, event }) => ({
      name,
      actor: 'actor' in event ? event.actor.userId : undefined,
      ...('change' in event ? { change: event.change } : {}),
      ...('via' in event ? { via: event.via } : {}),
      ...('participant' in event ? { user: event.participant.userId } : {}),
      ...('run' in event ? { run: `${event.run.runId} ${event.run.state} ${event.run.priority}` } : {}),
      ...('control' in event ? { control: event.control.event } : {}),
      ...('request' in event ? { request: event.request.status } : {}),
    }));

  beforeAll(async () => {
    server = await startServer({ backend });
    t = await users(server, ['alice', 'bob', 'carol']);
    bot = await server.token('bot', { kind: 'agent', name: 'Bot' });
    erin = await server.token('erin', { roles: ['expert'], name: 'Erin' });
    // Provisioned once, so that they can be added by id.
    for (const auth of [bot, erin]) dataOf(await server.gql(auth, ViewerDocument));
  });
  afterEach(() => {
    for (const remove of removals.splice(0)) remove();
    raised.length = 0;
  });
  afterAll(() => server?.stop());

  it('raises messageCommitted once a send is committed, with the stored row and the sender', async () => {
    const conversationId = await createGroup(server, t.alice, ['bob']);
    const { db } = server.app.services.database;
    const storedWhenRaised: unknown[] = [];
    removals.push(
      server.app.services.events.on('messageCommitted', async function readsTheRow({ message }) {
        storedWhenRaised.push((await db.select().from(messages).where(eq(messages.id, message.id)))[0]?.content);
      }),
    );
    record('messageCommitted');
    const sent = await send(server, t.alice, conversationId, 'hello', { clientMessageId: 'once' });
    expect(summary()).toEqual([{ name: 'messageCommitted', actor: 'alice', via: 'send' }]);
    const { event } = raised[0] as { event: DomainEventMap['messageCommitted'] };
    expect(event.message).toMatchObject({ id: sent.id, seq: sent.seq, conversationId, senderId: 'alice', content: 'hello' });
    expect(storedWhenRaised).toEqual(['hello']);
    // A retry stores nothing: nothing is raised.
    await send(server, t.alice, conversationId, 'hello', { clientMessageId: 'once' });
    expect(raised).toHaveLength(1);
  });

  it('raises messageEdited and messageDeleted with the rows as changed', async () => {
    const conversationId = await createGroup(server, t.alice, ['bob']);
    const sent = await send(server, t.bob, conversationId, 'first');
    record('messageEdited', 'messageDeleted');
    dataOf(await server.gql(t.bob, EditMessageDocument, { id: sent.id, content: 'second' }));
    dataOf(await server.gql(t.alice, DeleteMessageDocument, { id: sent.id }));
    // Deleting again changes nothing and raises nothing.
    dataOf(await server.gql(t.alice, DeleteMessageDocument, { id: sent.id }));
    expect(summary()).toEqual([
      { name: 'messageEdited', actor: 'bob' },
      { name: 'messageDeleted', actor: 'alice' },
    ]);
    const [edited, deleted] = raised.map((r) => (r.event as DomainEventMap['messageEdited']).message);
    expect(edited).toMatchObject({ id: sent.id, content: 'second', deletedAt: null });
    expect(edited!.editedAt).toBeInstanceOf(Date);
    expect(deleted).toMatchObject({ id: sent.id, content: '' });
    expect(deleted!.deletedAt).toBeInstanceOf(Date);
  });

  it('raises answerStreamChanged for each write of a streamed answer, and messageCommitted for the message it leaves', async () => {
    const conversationId = await createGroup(server, t.alice, ['bot']);
    record('answerStreamChanged', 'messageCommitted');
    const stream = dataOf(await server.gql(bot, StartMessageDocument, { input: { conversationId, content: 'Hel' } })).startMessage;
    dataOf(await server.gql(bot, AppendMessageChunkDocument, { id: stream.id, chunk: 'lo' }));
    const message = dataOf(await server.gql(bot, CompleteMessageDocument, { id: stream.id })).completeMessage;
    expect(summary()).toEqual([
      { name: 'answerStreamChanged', actor: 'bot', change: 'STARTED' },
      { name: 'answerStreamChanged', actor: 'bot', change: 'APPENDED' },
      { name: 'answerStreamChanged', actor: 'bot', change: 'COMPLETED' },
      { name: 'messageCommitted', actor: 'bot', via: 'stream' },
    ]);
    expect((raised[2]!.event as DomainEventMap['answerStreamChanged']).stream).toMatchObject({ id: stream.id, state: 'COMPLETED', content: 'Hello' });
    expect((raised[3]!.event as DomainEventMap['messageCommitted']).message).toMatchObject({ id: message.id, seq: message.seq, content: 'Hello' });
  });

  it('answers a committed send even when a reaction to it fails, and runs the other reactions', async () => {
    const conversationId = await createGroup(server, t.alice, ['bob']);
    removals.push(
      server.app.services.events.on('messageCommitted', async function failsAfterCommit() {
        throw new Error('reaction failed');
      }),
    );
    record('messageCommitted');
    const sent = await send(server, t.alice, conversationId, 'still stored');
    expect(sent.content).toBe('still stored');
    expect(summary()).toEqual([{ name: 'messageCommitted', actor: 'alice', via: 'send' }]);
    const { db } = server.app.services.database;
    expect((await db.select().from(messages).where(eq(messages.id, sent.id))).map((m) => m.content)).toEqual(['still stored']);
  });

  it('raises conversationChanged and participantChanged for every change of a conversation and its participants', async () => {
    record('conversationChanged', 'participantChanged');
    const group = dataOf(await server.gql(t.alice, CreateConversationDocument, { input: { type: 'GROUP', name: 'g', participantIds: ['bob'] } }))
      .createConversation.id;
    dataOf(await server.gql(t.alice, UpdateConversationDocument, { id: group, input: { name: 'renamed' } }));
    dataOf(await server.gql(t.alice, AddParticipantDocument, { conversationId: group, userId: 'carol' }));
    const { seq } = await send(server, t.alice, group, 'to read');
    dataOf(await server.gql(t.bob, MarkReadDocument, { conversationId: group, seq }));
    dataOf(await server.gql(t.alice, RemoveParticipantDocument, { conversationId: group, userId: 'carol' }));
    dataOf(await server.gql(t.bob, LeaveConversationDocument, { conversationId: group }));
    dataOf(await server.gql(t.alice, DeleteConversationDocument, { id: group }));
    expect(summary()).toEqual([
      { name: 'conversationChanged', actor: 'alice', change: 'CREATED' },
      { name: 'participantChanged', actor: 'alice', change: 'ADDED', user: 'alice' },
      { name: 'participantChanged', actor: 'alice', change: 'ADDED', user: 'bob' },
      { name: 'conversationChanged', actor: 'alice', change: 'UPDATED' },
      { name: 'participantChanged', actor: 'alice', change: 'ADDED', user: 'carol' },
      { name: 'participantChanged', actor: 'bob', change: 'UPDATED', user: 'bob' },
      { name: 'participantChanged', actor: 'alice', change: 'REMOVED', user: 'carol' },
      { name: 'participantChanged', actor: 'bob', change: 'REMOVED', user: 'bob' },
      { name: 'conversationChanged', actor: 'alice', change: 'DELETED' },
    ]);
    const conversations = raised.flatMap((r) => (r.name === 'conversationChanged' ? [r.event.conversation] : []));
    expect(conversations.map((c) => [c.id, c.name])).toEqual([
      [group, 'g'],
      [group, 'renamed'],
      [group, 'renamed'],
    ]);
    const participants = raised.flatMap((r) => (r.name === 'participantChanged' ? [r.event.participant] : []));
    expect(participants.every((p) => p.conversationId === group)).toBe(true);
    expect(participants.map((p) => [p.userId, p.role, p.lastReadSeq])).toEqual([
      ['alice', 'OWNER', 0],
      ['bob', 'MEMBER', 0],
      ['carol', 'MEMBER', 0],
      ['bob', 'MEMBER', seq],
      ['carol', 'MEMBER', 0],
      ['bob', 'MEMBER', seq],
    ]);

    // A PRIVATE conversation is deleted when the last of the pair leaves it.
    raised.length = 0;
    const pair = dataOf(await server.gql(t.alice, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: ['bob'] } })).createConversation.id;
    dataOf(await server.gql(t.alice, DeleteConversationDocument, { id: pair }));
    // Opening it again brings alice back.
    dataOf(await server.gql(t.bob, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: ['alice'] } }));
    dataOf(await server.gql(t.alice, DeleteConversationDocument, { id: pair }));
    dataOf(await server.gql(t.bob, DeleteConversationDocument, { id: pair }));
    expect(summary()).toEqual([
      { name: 'conversationChanged', actor: 'alice', change: 'CREATED' },
      { name: 'participantChanged', actor: 'alice', change: 'ADDED', user: 'alice' },
      { name: 'participantChanged', actor: 'alice', change: 'ADDED', user: 'bob' },
      { name: 'participantChanged', actor: 'alice', change: 'REMOVED', user: 'alice' },
      { name: 'participantChanged', actor: 'bob', change: 'ADDED', user: 'alice' },
      { name: 'participantChanged', actor: 'alice', change: 'REMOVED', user: 'alice' },
      { name: 'participantChanged', actor: 'bob', change: 'REMOVED', user: 'bob' },
      { name: 'conversationChanged', actor: 'bob', change: 'DELETED' },
    ]);
  });

  it('raises runChanged, conversationChanged and the streams ended for what a control event does, then controlIssued', async () => {
    const conversationId = await createGroup(server, t.alice, ['bot']);
    dataOf(await server.gql(bot, SendMessageDocument, { input: { conversationId, content: 'working', runId: 'r1', interruptible: true } }));
    const stream = dataOf(await server.gql(bot, StartMessageDocument, { input: { conversationId, runId: 'r1', content: 'half' } })).startMessage;
    record('runChanged', 'conversationChanged', 'controlIssued', 'answerStreamChanged', 'messageCommitted');
    const control = (input: Record<string, unknown>) => server.gql(t.alice, SendControlDocument, { conversationId, input: input as never });
    dataOf(await control({ event: 'PRIORITY', runId: 'r1', target: 'HIGH' }));
    dataOf(await control({ event: 'PREEMPT', runId: 'r1' }));
    dataOf(await control({ event: 'ROUTE', target: 'DIRECT' }));
    expect(summary()).toEqual([
      { name: 'runChanged', actor: 'alice', change: 'UPDATED', run: 'r1 ACTIVE HIGH' },
      { name: 'controlIssued', actor: 'alice', control: 'PRIORITY' },
      { name: 'runChanged', actor: 'alice', change: 'ENDED', run: 'r1 PREEMPTED HIGH' },
      { name: 'answerStreamChanged', actor: 'alice', change: 'PREEMPTED' },
      { name: 'messageCommitted', actor: 'alice', via: 'stream' },
      { name: 'controlIssued', actor: 'alice', control: 'PREEMPT' },
      { name: 'conversationChanged', actor: 'alice', change: 'UPDATED' },
      { name: 'controlIssued', actor: 'alice', control: 'ROUTE' },
    ]);
    const kept = raised.find((r) => r.name === 'messageCommitted')!.event as DomainEventMap['messageCommitted'];
    const preempt = raised.filter((r) => r.name === 'controlIssued')[1]!.event as DomainEventMap['controlIssued'];
    expect(kept.message).toMatchObject({ id: stream.id, content: 'half', senderId: 'bot', preemptedBy: preempt.control.id });
    expect((raised.at(-2)!.event as DomainEventMap['conversationChanged']).conversation).toMatchObject({ id: conversationId, mode: 'DIRECT' });
  });

  it('raises expertRequestChanged as a request is opened, claimed and resolved', async () => {
    const conversationId = await createGroup(server, t.alice, ['bot']);
    record('expertRequestChanged');
    const request = dataOf(await server.gql(t.alice, RequestExpertDocument, { conversationId, reason: 'help' })).requestExpert;
    // Asking again returns the open request: nothing changed.
    dataOf(await server.gql(t.alice, RequestExpertDocument, { conversationId }));
    dataOf(await server.gql(erin, ClaimExpertRequestDocument, { id: request.id }));
    dataOf(await server.gql(erin, HandBackToAgentDocument, { conversationId }));
    expect(summary()).toEqual([
      { name: 'expertRequestChanged', actor: 'alice', change: 'OPENED', request: 'OPEN' },
      { name: 'expertRequestChanged', actor: 'erin', change: 'CLAIMED', request: 'CLAIMED' },
      { name: 'expertRequestChanged', actor: 'erin', change: 'RESOLVED', request: 'RESOLVED' },
    ]);
    expect(raised.every((r) => (r.event as DomainEventMap['expertRequestChanged']).request.id === request.id)).toBe(true);
  });
});
