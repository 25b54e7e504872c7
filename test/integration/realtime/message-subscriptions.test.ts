// Message subscriptions on one instance: every kind of event, the all-conversations stream,
// gapless resume with afterSeq, gap filling, and authorization per event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../../src/auth/viewer.js';
import {
  AddParticipantDocument,
  ControlEventSubDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  MessageAddedDocument,
  MessageDeletedDocument,
  MessageUpdatedDocument,
  RemoveParticipantDocument,
  SendControlDocument,
  SetTypingDocument,
  TypingDocument,
} from '../../../src/client/generated/graphql.js';
import { createContext } from '../../../src/context.js';
import { messageSnapshot } from '../../../src/pubsub/snapshots.js';
import { topics } from '../../../src/pubsub/topics.js';
import { consecutive, createGroup, sendBulk, sendMany, sendText, UNLIMITED_ENV } from '../../kit/realtime.js';
import { dataOf, messageRepository, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { collect, eventually } from '../../kit/subscriptions.js';

describe.each(backends)('message subscriptions on %s', (backend) => {
  let server: TestServer;
  let alice: string;
  let bob: string;
  let carol: string;

  beforeAll(async () => {
    server = await startServer({ backend, env: UNLIMITED_ENV });
    alice = await server.token('alice', { name: 'Alice' });
    bob = await server.token('bob', { name: 'Bob' });
    carol = await server.token('carol', { name: 'Carol' });
  });
  afterAll(() => server?.stop());

  /** Subscribes `auth` to messageAdded from now on, certain not to miss what is sent next. */
  async function follow(auth: string, conversationId: string) {
    const { seq } = await sendText(server, alice, conversationId, 'mark');
    return { sub: collect(server.ws(auth), MessageAddedDocument, { conversationId, afterSeq: seq }), after: seq };
  }

  it('streams messageAdded, messageUpdated, messageDeleted and controlEvent with full payloads', async () => {
    const conversationId = await createGroup(server, alice, ['bob']);
    const client = server.ws(bob);
    const [added, updated, deleted, control] = await server.live(
      () =>
        [
          collect(client, MessageAddedDocument, { conversationId, afterSeq: 0 }),
          collect(client, MessageUpdatedDocument, { conversationId }),
          collect(client, MessageDeletedDocument, { conversationId }),
          collect(client, ControlEventSubDocument, { conversationId }),
        ] as const,
      4,
    );

    const first = await sendText(server, alice, conversationId, 'first');
    await added.waitFor(1);
    expect(added.events[0]!.messageAdded).toMatchObject({
      id: first.id,
      seq: 1,
      content: 'first',
      sender: { id: 'alice', displayName: 'Alice' },
      senderKind: 'USER',
      kind: 'CHAT',
      priority: 'NORMAL',
      createdAt: first.createdAt,
    });

    // The live-only streams were listening before anything was done.
    dataOf(await server.gql(alice, EditMessageDocument, { id: first.id, content: 'edited' }));
    const [edit] = await updated.waitFor(1);
    expect(edit!.messageUpdated).toMatchObject({ id: first.id, seq: 1, sender: { id: 'alice' } });
    expect(edit!.messageUpdated.editedAt).not.toBeNull();

    dataOf(await server.gql(alice, SendControlDocument, { conversationId, input: { event: 'PAUSE', runId: 'run-1', reason: 'hold on' } }));
    await control.waitFor(1);
    expect(control.events[0]!.controlEvent).toMatchObject({ conversationId, event: 'PAUSE', runId: 'run-1', reason: 'hold on', issuedBy: { id: 'alice' } });

    const doomed = await sendText(server, alice, conversationId, 'doomed');
    dataOf(await server.gql(alice, DeleteMessageDocument, { id: doomed.id }));
    const [{ messageDeleted: gone }] = (await deleted.waitFor(1)) as [(typeof deleted.events)[number]];
    expect(gone).toMatchObject({ id: doomed.id, seq: doomed.seq, content: '', sender: { id: 'alice' } });
    expect(gone.deletedAt).not.toBeNull();
    const seqs = (await added.waitFor(doomed.seq)).map((e) => e.messageAdded.seq);
    expect(consecutive(seqs, 1)).toBe(true);
  });

  it('resumes with afterSeq: exactly the messages sent while away, in order, then live', async () => {
    const conversationId = await createGroup(server, alice, ['bob']);
    const { sub: first, after } = await follow(bob, conversationId);
    await sendMany(server, alice, conversationId, 5, 'before');
    const seen = await first.waitFor(5);
    const lastSeen = seen.at(-1)!.messageAdded.seq;
    first.stop();

    const away = await sendMany(server, alice, conversationId, 200, 'away');
    const resumed = collect(server.ws(bob), MessageAddedDocument, { conversationId, afterSeq: lastSeen });
    await resumed.waitFor(200);
    await sendText(server, alice, conversationId, 'live');
    const all = await resumed.waitFor(201);
    expect(after + 5).toBe(lastSeen);
    expect(all.map((e) => e.messageAdded.seq)).toEqual([...away, lastSeen + 201]);
    expect(all.slice(0, 200).map((e) => e.messageAdded.content)).toEqual(away.map((_, i) => `away${i}`));
    expect(all[200]!.messageAdded.content).toBe('live');
  });

  it('has no gap and no duplicate when messages are committed while it catches up', async () => {
    const conversationId = await createGroup(server, alice, ['bob', 'carol']);
    await sendBulk(server, alice, conversationId, 600);
    const resumed = collect(server.ws(bob), MessageAddedDocument, { conversationId, afterSeq: 0 });
    // Two senders write while the stored 600 are being replayed, in more than one page.
    await Promise.all([sendMany(server, alice, conversationId, 100, 'a'), sendMany(server, carol, conversationId, 100, 'c')]);
    const all = await resumed.waitFor(800);
    const seqs = all.map((e) => e.messageAdded.seq);
    expect(seqs).toHaveLength(800);
    expect(consecutive(seqs, 1)).toBe(true);
  });

  it('fills a hole in seq from the database before the message that revealed it', async () => {
    const conversationId = await createGroup(server, alice, ['bob']);
    const { sub, after } = await follow(bob, conversationId);
    // Three messages committed behind pub/sub's back, as if their events were lost.
    const repo = messageRepository(server);
    const behindTheBack = (content: string) => repo.insertNext({ conversationId, orgId: 'default', senderId: 'alice', senderKind: 'USER', content });
    for (const content of ['lost 1', 'lost 2', 'lost 3']) await behindTheBack(content);
    await sendText(server, alice, conversationId, 'revealing');
    const events = await sub.waitFor(4);
    expect(events.map((e) => e.messageAdded.seq)).toEqual([after + 1, after + 2, after + 3, after + 4]);
    expect(events.map((e) => e.messageAdded.content)).toEqual(['lost 1', 'lost 2', 'lost 3', 'revealing']);

    // An event published straight onto the bus with a seq beyond the next one does the same.
    const stored = await behindTheBack('lost 4');
    const beyond = await behindTheBack('published');
    await server.app.services.bus.publish(topics.messageAdded(conversationId), messageSnapshot(beyond!));
    const more = await sub.waitFor(6);
    expect(more.slice(4).map((e) => [e.messageAdded.seq, e.messageAdded.content])).toEqual([
      [stored!.seq, 'lost 4'],
      [beyond!.seq, 'published'],
    ]);
  });

  it('streams all of the viewer’s conversations, following joins and removals', async () => {
    const one = await createGroup(server, alice, ['carol']);
    const two = await createGroup(server, alice, ['bob']);
    const all = collect(server.ws(carol), MessageAddedDocument, {});
    // Live only: wait until it hears from conversation one.
    await eventually(async () => {
      await sendText(server, alice, one, 'probe');
      return all.events.length > 0;
    });

    // Carol is added to conversation two: its messages start reaching her.
    dataOf(await server.gql(alice, AddParticipantDocument, { conversationId: two, userId: 'carol' }));
    await eventually(async () => {
      await sendText(server, alice, two, 'welcome');
      return all.events.some((e) => e.messageAdded.conversationId === two);
    });

    // Carol is removed from conversation one: nothing more from it, while two goes on.
    dataOf(await server.gql(alice, RemoveParticipantDocument, { conversationId: one, userId: 'carol' }));
    const afterRemoval = await sendText(server, alice, one, 'not for carol');
    const marker = await sendText(server, alice, two, 'still for carol');
    await eventually(() => all.events.some((e) => e.messageAdded.id === marker.id));
    expect(all.events.some((e) => e.messageAdded.id === afterRemoval.id)).toBe(false);
    expect(all.done).toBe(false);
  });

  it('stops every stream of a conversation for a participant who is removed', async () => {
    const conversationId = await createGroup(server, alice, ['bob', 'carol']);
    const carolClient = server.ws(carol);
    const { sub: carolMessages } = await follow(carol, conversationId);
    const carolTyping = collect(carolClient, TypingDocument, { conversationId });
    const carolControl = collect(carolClient, ControlEventSubDocument, { conversationId });
    const carolUpdates = collect(carolClient, MessageUpdatedDocument, { conversationId });
    const { sub: bobMessages } = await follow(bob, conversationId);
    await eventually(async () => {
      await server.gql(alice, SetTypingDocument, { conversationId, isTyping: true });
      return carolTyping.events.length > 0;
    });

    dataOf(await server.gql(alice, RemoveParticipantDocument, { conversationId, userId: 'carol' }));
    // Every one of carol's subscriptions to the conversation ends: nothing more can arrive.
    await Promise.all([carolMessages, carolTyping, carolControl, carolUpdates].map((s) => s.waitForEnd()));
    const counts = [carolMessages, carolTyping, carolControl, carolUpdates].map((s) => s.events.length);

    const after = await sendText(server, alice, conversationId, 'after removal');
    await server.gql(alice, SetTypingDocument, { conversationId, isTyping: true });
    await server.gql(alice, SendControlDocument, { conversationId, input: { event: 'CANCEL', runId: 'r' } });
    await server.gql(alice, EditMessageDocument, { id: after.id, content: 'edited after removal' });
    await eventually(() => bobMessages.events.some((e) => e.messageAdded.id === after.id));
    expect([carolMessages, carolTyping, carolControl, carolUpdates].map((s) => s.events.length)).toEqual(counts);
    expect(carolMessages.events.some((e) => e.messageAdded.id === after.id)).toBe(false);

    // Subscribing again is refused.
    const again = collect(server.ws(carol), MessageAddedDocument, { conversationId, afterSeq: 0 });
    await again.waitForEnd();
    expect(again.events).toEqual([]);
    expect(JSON.stringify(again.errors)).toContain('FORBIDDEN');
  });
});

describe(`a subscriber that falls far behind (${backends.at(-1)})`, () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ backend: backends.at(-1), env: UNLIMITED_ENV });
  });
  afterAll(() => server?.stop());

  it('gets every message in order once it reads again, though live events beyond its buffer were dropped', async () => {
    const alice = await server.token('alice');
    await server.token('bob');
    const conversationId = await createGroup(server, alice, ['bob']);
    const viewer = (userId: string): Viewer => ({
      orgId: 'default',
      userId,
      displayName: userId,
      kind: 'USER',
      roles: [],
      credential: { type: 'apiKey', keyId: 'test', actingAs: false },
    });
    // The stream as a resolver returns it, with a consumer that does not read for a while.
    const stream = await server.app.services.feeds.messages(createContext(server.app.services, viewer('bob'), 'slow-reader', '127.0.0.1'), conversationId, 0);
    // Far more than the page held for the consumer plus the live events kept while it is behind,
    // sent through the service (the send path and its events, without a request each).
    const { messages } = server.app.services;
    let next = 0;
    const sender = async () => {
      while (next < 2_000) await messages.send(viewer('alice'), { conversationId, content: `bulk${next++}` });
    };
    await Promise.all(Array.from({ length: 16 }, sender));
    const seqs: number[] = [];
    for await (const m of stream) {
      seqs.push(m.seq);
      if (seqs.length === 2_000) break;
    }
    expect(consecutive(seqs, 1)).toBe(true);
  });
});
