// Error masking: malformed input anywhere gives a contract code, never INTERNAL_SERVER_ERROR,
// and no error carries a stack trace or SQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddParticipantDocument,
  ControlEventsDocument,
  ConversationDocument,
  ConversationMessagesDocument,
  DeleteConversationDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  LeaveConversationDocument,
  MarkReadDocument,
  MessagesDocument,
  RemoveParticipantDocument,
  SendControlDocument,
  SendMessageDocument,
  SetTypingDocument,
  UpdateConversationDocument,
  UserDocument,
  UsersDocument,
} from '../../../src/client/generated/graphql.js';
import { encodeCursor } from '../../../src/lib/paging.js';
import { createGroup, expectNoLeak, lastSeqOf, send, users } from '../../kit/requests.js';
import { dataOf, type GqlResult, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';

/** Ids no row can have, or that would break a naive query. */
const MALFORMED_IDS = [
  'not-a-uuid',
  '',
  ' ',
  '00000000-0000-0000-0000-00000000000g',
  '00000000-0000-0000-0000-000000000000',
  "' OR 1=1 --",
  'x'.repeat(10_000),
  'a\u0000b',
  '\u{1F600}',
  '../../etc/passwd',
  '{"$gt":""}',
];

describe.each(backends)('core error masking on %s', (backend) => {
  let server: TestServer;
  let alice: string;
  let conv: string;
  let message: string;
  beforeAll(async () => {
    server = await startServer({ backend });
    ({ alice } = await users(server, ['alice', 'bob']));
    conv = await createGroup(server, alice, ['bob'], 'errors');
    message = (await send(server, alice, conv, 'hello')).id;
  });
  afterAll(() => server?.stop());

  function expectOneOf(result: GqlResult<unknown>, codes: string[], label: string) {
    expect(result.errors, `${label}: expected an error, got ${JSON.stringify(result.data)}`).toBeDefined();
    expect(codes, `${label}: ${JSON.stringify(result.errors)}`).toContain(result.errors![0]!.extensions?.code);
    expectNoLeak(result);
  }

  it('answers NOT_FOUND or BAD_USER_INPUT for a malformed id in every argument that takes one', async () => {
    for (const id of MALFORMED_IDS) {
      const label = JSON.stringify(id.slice(0, 40));
      const attempts: [string, GqlResult<unknown>][] = [
        ['conversation', await server.gql(alice, ConversationDocument, { id })],
        ['messages', await server.gql(alice, MessagesDocument, { conversationId: id, last: 5 })],
        ['controlEvents', await server.gql(alice, ControlEventsDocument, { conversationId: id })],
        ['updateConversation', await server.gql(alice, UpdateConversationDocument, { id, input: { name: 'x' } })],
        ['deleteConversation', await server.gql(alice, DeleteConversationDocument, { id })],
        ['addParticipant.conversationId', await server.gql(alice, AddParticipantDocument, { conversationId: id, userId: 'bob' })],
        ['removeParticipant.conversationId', await server.gql(alice, RemoveParticipantDocument, { conversationId: id, userId: 'bob' })],
        ['leaveConversation', await server.gql(alice, LeaveConversationDocument, { conversationId: id })],
        ['sendMessage.conversationId', await server.gql(alice, SendMessageDocument, { input: { conversationId: id, content: 'x' } })],
        ['sendMessage.replyToId', await server.gql(alice, SendMessageDocument, { input: { conversationId: conv, content: 'x', replyToId: id } })],
        ['editMessage', await server.gql(alice, EditMessageDocument, { id, content: 'x' })],
        ['deleteMessage', await server.gql(alice, DeleteMessageDocument, { id })],
        ['markRead', await server.gql(alice, MarkReadDocument, { conversationId: id, seq: 0 })],
        ['sendControl', await server.gql(alice, SendControlDocument, { conversationId: id, input: { event: 'PAUSE', runId: 'r' } })],
        ['setTyping', await server.gql(alice, SetTypingDocument, { conversationId: id, isTyping: true })],
      ];
      for (const [name, result] of attempts) expectOneOf(result, ['NOT_FOUND', 'BAD_USER_INPUT'], `${name} ${label}`);

      // User ids are free text: a malformed one is no user (null) or BAD_USER_INPUT, never a crash.
      const userIdAttempts: [string, GqlResult<unknown>][] = [
        ['user', await server.gql(alice, UserDocument, { id })],
        ['messages.senderId', await server.gql(alice, MessagesDocument, { conversationId: conv, senderId: id })],
        ['removeParticipant.userId', await server.gql(alice, RemoveParticipantDocument, { conversationId: conv, userId: id })],
        ['addParticipant.userId', await server.gql(alice, AddParticipantDocument, { conversationId: conv, userId: id })],
        ['users.search', await server.gql(alice, UsersDocument, { search: id })],
      ];
      for (const [name, result] of userIdAttempts) {
        expectNoLeak(result);
        if (name === 'addParticipant.userId' && !result.errors) {
          // A long or odd but valid id may be added; take it out again.
          dataOf(await server.gql(alice, RemoveParticipantDocument, { conversationId: conv, userId: id }));
        }
        if (result.errors) expect(['NOT_FOUND', 'BAD_USER_INPUT'], `${name} ${label}`).toContain(result.errors[0]!.extensions?.code);
      }
    }
    // Nothing was written to the conversation by any of it.
    expect(await lastSeqOf(server, alice, conv)).toBe(1);
    const { conversation } = dataOf(await server.gql(alice, ConversationDocument, { id: conv }));
    expect(conversation!.participants.map((p) => p.user.id).sort()).toEqual(['alice', 'bob']);
    expect(conversation!.name).toBe('errors');
    const { messages } = dataOf(await server.gql(alice, MessagesDocument, { conversationId: conv }));
    expect(messages.nodes.map((m) => m.id)).toEqual([message]);
  });

  it('answers BAD_USER_INPUT for cursors that decode to hostile values', async () => {
    const cursors = [
      encodeCursor('user', 'a\u0000b'),
      encodeCursor('seq', '1\u0000'),
      encodeCursor('seq', '9'.repeat(16)),
      encodeCursor('conv', `1:${'0'.repeat(36)}`),
      encodeCursor('conv', `99999999999999999:00000000-0000-0000-0000-000000000000`),
      encodeCursor('ctl', 'a\u0000'),
      Buffer.from([0xff, 0xfe, 0x00]).toString('base64url'),
    ];
    for (const after of cursors) {
      for (const result of [
        await server.gql(alice, UsersDocument, { after }),
        await server.gql(alice, MessagesDocument, { conversationId: conv, after }),
        await server.gql(alice, MessagesDocument, { conversationId: conv, before: after }),
        await server.gql(alice, ConversationMessagesDocument, { id: conv, after }),
        await server.gql(alice, ControlEventsDocument, { conversationId: conv, after }),
      ]) {
        expectOneOf(result, ['BAD_USER_INPUT'], JSON.stringify(after));
      }
    }
  });

  const raw = async (body: unknown, token: string | null = alice) => {
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return (await res.json()) as GqlResult<unknown>;
  };

  it('turns malformed requests and bad variables into BAD_USER_INPUT', async () => {
    const cases: [string, GqlResult<unknown>][] = [
      ['syntax error', await raw({ query: '{ viewer { id ' })],
      ['wrong variable type', await raw({ query: 'query($n: Int) { conversations(first: $n) { nodes { id } } }', variables: { n: 'ten' } })],
      ['Int variable out of range', await raw({ query: 'query($n: Int) { conversations(first: $n) { nodes { id } } }', variables: { n: 2 ** 40 } })],
      ['missing required variable', await raw({ query: 'query($id: ID!) { conversation(id: $id) { id } }', variables: {} })],
      ['bad enum variable', await raw({ query: 'query($t: ConversationType) { conversations(type: $t) { nodes { id } } }', variables: { t: 'CHANNEL' } })],
      [
        'bad DateTime variable',
        await raw({ query: `query($s: DateTime) { messages(conversationId: "${conv}", since: $s) { nodes { id } } }`, variables: { s: 'yesterday' } }),
      ],
      ['malformed body', await raw('{"query": ')],
      ['no query', await raw({ variables: {} })],
    ];
    for (const [name, result] of cases) expectOneOf(result, ['BAD_USER_INPUT'], name);
  });

  it('answers invalid documents without a crash or a leak', async () => {
    for (const [name, result] of await invalidDocuments()) {
      expect(result.errors?.length, name).toBeGreaterThan(0);
      expect(result.data ?? null, name).toBeNull();
      expectNoLeak(result);
    }
  });

  // Yoga marks validation errors GRAPHQL_VALIDATION_FAILED; the contract says BAD_USER_INPUT
  // (src/graphql/contract-codes.ts rewrites them).
  it('answers invalid documents with BAD_USER_INPUT', async () => {
    for (const [name, result] of await invalidDocuments()) expectOneOf(result, ['BAD_USER_INPUT'], name);
  });

  const invalidDocuments = async (): Promise<[string, GqlResult<unknown>][]> => [
    ['unknown field', await raw({ query: '{ viewer { password } }' })],
    ['bad enum literal', await raw({ query: 'mutation { createConversation(input: { type: CHANNEL }) { id } }' })],
    ['bad DateTime literal', await raw({ query: `query { messages(conversationId: "${conv}", since: "yesterday") { nodes { id } } }` })],
    ['Int literal out of range', await raw({ query: `mutation { markRead(conversationId: "${conv}", seq: 3000000000) { lastReadSeq } }` })],
    ['missing argument', await raw({ query: '{ conversation { id } }' })],
  ];

  it('refuses an Int out of range as BAD_USER_INPUT', async () => {
    const result = await server.gql(alice, MarkReadDocument, { conversationId: conv, seq: 2 ** 31 });
    expectOneOf(result, ['BAD_USER_INPUT'], 'seq out of Int range');
  });
});
