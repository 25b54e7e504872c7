import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversationDocument, MessagesDocument, SendMessageDocument, ViewerDocument } from '../../../src/client/generated/graphql.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';

describe.each(backends)('first session on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ backend });
  });
  afterAll(() => server?.stop());

  it('provisions users from tokens, creates a conversation and exchanges messages', async () => {
    const alice = await server.token('alice', { name: 'Alice' });
    const bob = await server.token('bob', { name: 'Bob' });
    const me = dataOf(await server.gql(alice, ViewerDocument));
    expect(me.viewer).toMatchObject({ id: 'alice', displayName: 'Alice', kind: 'USER', roles: [] });

    const { createConversation: conv } = dataOf(
      await server.gql(alice, CreateConversationDocument, { input: { type: 'GROUP', name: 'team', participantIds: ['bob'] } }),
    );
    const sent = dataOf(await server.gql(alice, SendMessageDocument, { input: { conversationId: conv.id, content: 'hello bob' } }));
    expect(sent.sendMessage).toMatchObject({ seq: 1, content: 'hello bob', sender: { id: 'alice' } });

    const history = dataOf(await server.gql(bob, MessagesDocument, { conversationId: conv.id, last: 10 }));
    expect(history.messages.nodes.map((m) => m.seq)).toEqual([1]);
  });
});
