// Domain events: what the service raises once a write is committed, with the rows as stored and
// the actor, for other modules (and later webhooks) to react to; a reaction that fails never
// turns the committed write into an error.
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AppendMessageChunkDocument,
  CompleteMessageDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  StartMessageDocument,
} from '../../src/client/generated/graphql.js';
import { messages } from '../../src/db/schema/index.js';
import type { DomainEventMap, DomainEventName } from '../../src/events/domain-events.js';
import { dataOf, startServer, type TestServer } from '../kit/server.js';
import { backends } from '../kit/services.js';
import { createGroup, send, users } from './core-helpers.js';

type Raised = { [N in DomainEventName]: { name: N; event: DomainEventMap[N] } }[DomainEventName];

describe.each(backends)('domain events on %s', (backend) => {
  let server: TestServer;
  let t: Record<'alice' | 'bob', string>;
  let bot: string;
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
      actor: event.actor.userId,
      ...('change' in event ? { change: event.change } : {}),
      ...('via' in event ? { via: event.via } : {}),
    }));

  beforeAll(async () => {
    server = await startServer({ backend });
    t = await users(server, ['alice', 'bob']);
    bot = await server.token('bot', { kind: 'agent', name: 'Bot' });
    await users(server, ['bot']);
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
});
