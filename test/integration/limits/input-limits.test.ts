// Input limits that the GraphQL layer enforces, and how a refusal reaches a client; the limits of
// each field are rules of the services (test/service).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ControlEventsDocument,
  ConversationsDocument,
  MessagesDocument,
  SendControlDocument,
  SendMessageDocument,
  UsersDocument,
} from '../../../src/client/generated/graphql.js';
import { createGroup, expectCode, lastSeqOf, users } from '../../kit/requests.js';
import { dataOf, type GqlResult, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';

describe.each(backends)('core limits on %s', (backend) => {
  let server: TestServer;
  let alice: string;
  let conv: string;
  beforeAll(async () => {
    server = await startServer({ backend });
    ({ alice } = await users(server, ['alice', 'bob']));
    conv = await createGroup(server, alice, ['bob'], 'limits');
  });
  afterAll(() => server?.stop());

  describe('JSON nesting', () => {
    it('refuses metadata nested deeper than JSON.stringify can take', async () => {
      // Written by hand (the body is still under 16 KiB); the limit itself is a service rule.
      const before = await lastSeqOf(server, alice, conv);
      const deep = '['.repeat(5_000) + ']'.repeat(5_000);
      for (const [query, variables] of [
        [`mutation($m: JSON) { sendMessage(input: { conversationId: "${conv}", content: "x", metadata: $m }) { id } }`, `{"m":${deep}}`],
        ['mutation($m: JSON) { createConversation(input: { type: GROUP, metadata: $m }) { id } }', `{"m":${deep}}`],
      ]) {
        const res = await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${alice}` },
          body: `{"query":${JSON.stringify(query)},"variables":${variables}}`,
        });
        expectCode((await res.json()) as GqlResult<unknown>, 'BAD_USER_INPUT');
      }
      expect(await lastSeqOf(server, alice, conv)).toBe(before);
    });
  });

  describe('a refused send', () => {
    it('answers BAD_USER_INPUT naming the field and writes nothing', async () => {
      const before = await lastSeqOf(server, alice, conv);
      const result = await server.gql(alice, SendMessageDocument, { input: { conversationId: conv, content: 'a'.repeat(16_001) } });
      expect(result.data?.sendMessage ?? null).toBeNull();
      expectCode(result, 'BAD_USER_INPUT');
      expect(result.errors?.[0]?.extensions?.field).toBe('content');
      expect(await lastSeqOf(server, alice, conv)).toBe(before);
    });
  });

  describe('page sizes', () => {
    it('refuse more than 200 on every connection', async () => {
      expectCode(await server.gql(alice, MessagesDocument, { conversationId: conv, first: 201 }), 'BAD_USER_INPUT');
      expectCode(await server.gql(alice, MessagesDocument, { conversationId: conv, last: 201 }), 'BAD_USER_INPUT');
      expectCode(await server.gql(alice, ConversationsDocument, { first: 201 }), 'BAD_USER_INPUT');
      expectCode(await server.gql(alice, UsersDocument, { first: 201 }), 'BAD_USER_INPUT');
      expectCode(await server.gql(alice, ControlEventsDocument, { conversationId: conv, first: 201 }), 'BAD_USER_INPUT');
      expectCode(await server.gql(alice, MessagesDocument, { conversationId: conv, first: 2 ** 31 - 1 }), 'BAD_USER_INPUT');
      // Beyond Int: refused by GraphQL itself, still BAD_USER_INPUT.
      const huge = await server.gql(alice, MessagesDocument, { conversationId: conv, first: 2 ** 40 });
      expectCode(huge, 'BAD_USER_INPUT');
    });
  });

  describe('control events', () => {
    it('refuse an event type that is not one, writing nothing', async () => {
      const count = async () => dataOf(await server.gql(alice, ControlEventsDocument, { conversationId: conv, first: 200 })).controlEvents.nodes.length;
      const before = await count();
      expectCode(
        await server.gql(alice, SendControlDocument, { conversationId: conv, input: { event: 'EXPLODE' as 'PAUSE', runId: 'run-1' } }),
        'BAD_USER_INPUT',
      );
      expect(await count()).toBe(before);
    });
  });
});
