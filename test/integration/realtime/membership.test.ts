import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateConversationDocument,
  DeleteConversationDocument,
  MessageAddedDocument,
  SendMessageDocument,
  TypingDocument,
} from '../../../src/client/generated/graphql.js';
import { participants } from '../../../src/db/schema/index.js';
import { messageSnapshot } from '../../../src/pubsub/snapshots.js';
import { topics } from '../../../src/pubsub/topics.js';
import { dataOf, messageRepository, startServer, statementsOf, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { collect, eventually } from '../../kit/subscriptions.js';

/** The instance-wide re-check that ends subscriptions whose removal event was lost. */
describe.each(backends)('membership re-check on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ backend });
  });
  afterAll(() => server?.stop());

  it('ends every subscription of a user removed behind pub/sub’s back, in one batched check', async () => {
    const owner = await server.token('olive');
    const member = await server.token('mick');
    const conversationId = dataOf(await server.gql(owner, CreateConversationDocument, { input: { type: 'GROUP', name: 'g', participantIds: ['mick'] } }))
      .createConversation.id;
    const client = server.ws(member);
    const [messages, typing] = await server.live(
      () => [collect(client, MessageAddedDocument, { conversationId }), collect(client, TypingDocument, { conversationId })] as const,
      2,
    );
    dataOf(await server.gql(owner, SendMessageDocument, { input: { conversationId, content: 'before' } }));
    await messages.waitFor(1);

    // Removed without the membership event a removal normally publishes.
    await server.app.services.database.db.delete(participants).where(and(eq(participants.conversationId, conversationId), eq(participants.userId, 'mick')));
    expect((await statementsOf(server, () => server.app.services.membership.recheck())).statements).toBe(1);
    await messages.waitForEnd();
    await typing.waitForEnd();

    // Ended: nothing can reach it any more, whatever is sent.
    dataOf(await server.gql(owner, SendMessageDocument, { input: { conversationId, content: 'after' } }));
    expect(messages.events.map((e) => e.messageAdded.content)).toEqual(['before']);
  });

  it('asks the database before filling a hole in seq: a user removed behind pub/sub’s back gets nothing, the others get it all', async () => {
    const owner = await server.token('hana');
    const conversationId = dataOf(
      await server.gql(owner, CreateConversationDocument, { input: { type: 'GROUP', name: 'g', participantIds: ['ivo', 'jan', 'kai'] } }),
    ).createConversation.id;
    const subs = Object.fromEntries(
      await Promise.all(
        ['ivo', 'jan', 'kai'].map(async (id) => [id, collect(server.ws(await server.token(id)), MessageAddedDocument, { conversationId })] as const),
      ),
    );
    await eventually(async () => {
      dataOf(await server.gql(owner, SendMessageDocument, { input: { conversationId, content: 'probe' } }));
      return Object.values(subs).every((sub) => sub.events.length > 0);
    });
    const lastProbe = dataOf(await server.gql(owner, SendMessageDocument, { input: { conversationId, content: 'last probe' } })).sendMessage;
    await eventually(() => Object.values(subs).every((sub) => sub.events.at(-1)?.messageAdded.seq === lastProbe.seq));

    // Kai is removed and two messages are committed, all without events; then only the second is announced.
    const { db } = server.app.services.database;
    await db.delete(participants).where(and(eq(participants.conversationId, conversationId), eq(participants.userId, 'kai')));
    const repo = messageRepository(server);
    const behindTheBack = (content: string) => repo.insertNext({ conversationId, orgId: 'default', senderId: 'hana', senderKind: 'USER', content });
    await behindTheBack('lost');
    const revealing = await behindTheBack('revealing');
    const checks = await statementsOf(server, async () => {
      await server.app.services.bus.publish(topics.messageAdded(conversationId), messageSnapshot(revealing!));
      await subs.kai!.waitForEnd();
      await eventually(() => ['ivo', 'jan'].every((id) => subs[id]!.events.at(-1)?.messageAdded.id === revealing!.id));
    });
    for (const id of ['ivo', 'jan']) {
      expect(subs[id]!.events.slice(-2).map((e) => e.messageAdded.content)).toEqual(['lost', 'revealing']);
    }
    expect(subs.kai!.events.at(-1)!.messageAdded.seq).toBe(lastProbe.seq);
    // One statement asks about every subscriber, one reads the missing message for those still in,
    // one reads the announced message's sender.
    expect(checks.statements).toBe(3);
  });

  it('follows a PRIVATE conversation out of the stream of the one who deletes it, and back in when they open it again', async () => {
    const pia = await server.token('pia');
    const quinn = await server.token('quinn');
    const open = (auth: string, other: string) => server.gql(auth, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: [other] } });
    const conversationId = dataOf(await open(pia, 'quinn')).createConversation.id;
    const all = collect(server.ws(quinn), MessageAddedDocument, {});
    const contents = () => all.events.map((e) => e.messageAdded.content);
    const sendUntilHeard = (content: string) =>
      eventually(async () => {
        dataOf(await server.gql(pia, SendMessageDocument, { input: { conversationId, content } }));
        return contents().includes(content);
      });

    await sendUntilHeard('hello');
    dataOf(await server.gql(quinn, DeleteConversationDocument, { id: conversationId }));
    dataOf(await server.gql(pia, SendMessageDocument, { input: { conversationId, content: 'while away' } }));
    // Announced as an addition: the stream follows quinn back in without waiting for its re-check.
    expect(dataOf(await open(quinn, 'pia')).createConversation.id).toBe(conversationId);
    await sendUntilHeard('back');
    expect(contents()).not.toContain('while away');
    expect(all.done).toBe(false);
    all.stop();
  });
});
