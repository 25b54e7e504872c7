import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateConversationDocument,
  DeleteConversationDocument,
  MessageAddedDocument,
  SendMessageDocument,
  TypingDocument,
} from '../../src/client/generated/graphql.js';
import { participants } from '../../src/db/schema/index.js';
import { dataOf, startServer, statementsOf, type TestServer } from '../kit/server.js';
import { backends } from '../kit/services.js';
import { collect, eventually } from '../kit/subscriptions.js';

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
    const conversationId = dataOf(
      await server.gql(owner, CreateConversationDocument, { input: { type: 'GROUP', name: 'g', participantIds: ['mick'] } }),
    ).createConversation.id;
    const client = server.ws(member);
    const messages = collect(client, MessageAddedDocument, { conversationId });
    const typing = collect(client, TypingDocument, { conversationId });
    await new Promise((r) => setTimeout(r, 300));
    dataOf(await server.gql(owner, SendMessageDocument, { input: { conversationId, content: 'before' } }));
    await messages.waitFor(1);

    // Removed without the membership event a removal normally publishes.
    await server.app.services.database.db
      .delete(participants)
      .where(and(eq(participants.conversationId, conversationId), eq(participants.userId, 'mick')));
    expect((await statementsOf(server, () => server.app.services.membership.recheck())).statements).toBe(1);
    await messages.waitForEnd();
    await typing.waitForEnd();

    dataOf(await server.gql(owner, SendMessageDocument, { input: { conversationId, content: 'after' } }));
    await new Promise((r) => setTimeout(r, 300));
    expect(messages.events.map((e) => e.messageAdded.content)).toEqual(['before']);
  });

  it('follows a PRIVATE conversation out of the stream of the one who deletes it, and back in when they open it again', async () => {
    const pia = await server.token('pia');
    const quinn = await server.token('quinn');
    const open = (auth: string, other: string) =>
      server.gql(auth, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: [other] } });
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
