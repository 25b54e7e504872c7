// No N+1: a page costs the same few SQL statements whatever its size.
// `app.services.database.stats.statements` counts every statement the app sends.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddParticipantDocument,
  ControlEventsDocument,
  ConversationsDocument,
  MessagesDocument,
  SendControlDocument,
  UsersDocument,
} from '../../../src/client/generated/graphql.js';
import { concurrently, createGroup, send, users } from '../../kit/requests.js';
import { dataOf, startServer, statementsOf, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';

/** Ceiling for any one page: a handful of batched statements, nothing per row. */
const SMALL = 8;

describe.each(backends)('core statement counts on %s', (backend) => {
  let server: TestServer;
  let tokens: Record<'alice' | 'bob' | 'carol' | 'dave' | 'erin', string>;

  beforeAll(async () => {
    server = await startServer({ backend });
    // One request each provisions the users; later requests of the same token write nothing.
    tokens = await users(server, ['alice', 'bob', 'carol', 'dave', 'erin']);
  });
  afterAll(() => server?.stop());

  /** Statements one request costs, and its data. */
  async function cost<R, V>(auth: string, document: TypedDocumentNode<R, V>, variables: V): Promise<{ statements: number; data: R }> {
    const { statements, result } = await statementsOf(server, () => server.gql(auth, document, variables));
    return { statements, data: dataOf(result) };
  }

  it('reads a page of 200 messages with senders and replies for the cost of a page of 5', async () => {
    const { alice, bob, carol, dave, erin } = tokens;
    const senders = [alice, bob, carol, dave, erin];
    const conv = await createGroup(server, alice, ['bob', 'carol', 'dave', 'erin']);
    const roots: { id: string }[] = [];
    for (let i = 0; i < 10; i++) roots.push(await send(server, senders[i % 5]!, conv, `root ${i}`));
    // 200 more, every one a reply, from five senders.
    for (let batch = 0; batch < 10; batch++) {
      await concurrently(20, (i) => send(server, senders[i % 5]!, conv, `reply ${batch}.${i}`, { replyToId: roots[(batch + i) % 10]!.id }));
    }

    // Warm-up: the first request of a token may provision its user.
    await cost(alice, MessagesDocument, { conversationId: conv, first: 1 });

    const small = await cost(alice, MessagesDocument, { conversationId: conv, last: 5 });
    const large = await cost(alice, MessagesDocument, { conversationId: conv, last: 200 });
    expect(small.data.messages.edges).toHaveLength(5);
    expect(large.data.messages.edges).toHaveLength(200);
    // The page really holds what would be N+1: replies, and several distinct senders.
    expect(large.data.messages.edges.every((e) => e.node.replyTo !== null)).toBe(true);
    expect(new Set(large.data.messages.edges.map((e) => e.node.sender.id)).size).toBe(5);
    expect(large.data.messages.edges.every((e) => e.node.sender.displayName.endsWith(' name'))).toBe(true);

    expect(large.statements).toBe(small.statements);
    expect(large.statements).toBeLessThanOrEqual(SMALL);

    // Forward with a cursor too.
    const after = large.data.messages.pageInfo.startCursor!;
    const fwdSmall = await cost(alice, MessagesDocument, { conversationId: conv, first: 5, after });
    const fwdLarge = await cost(alice, MessagesDocument, { conversationId: conv, first: 199, after });
    expect(fwdSmall.data.messages.edges).toHaveLength(5);
    expect(fwdLarge.data.messages.edges).toHaveLength(199);
    expect(fwdLarge.statements).toBe(fwdSmall.statements);
    expect(fwdSmall.statements).toBeLessThanOrEqual(SMALL);
  });

  it('reads a page of 40 conversations with participants, last messages and unread counts for the cost of 3', async () => {
    const others = ['bob', 'carol', 'dave', 'erin'] as const;
    const byId: Record<string, string> = tokens;
    const { walker } = await users(server, ['walker']);
    // 40 conversations of walker's, each with its own mix of participants and a last message
    // from someone else; some read, some not.
    for (let i = 0; i < 40; i++) {
      const members = others.filter((_, k) => (i >> k) & 1 || k === i % 4);
      const conv = await createGroup(server, walker, members, `conv ${i}`);
      dataOf(await server.gql(walker, AddParticipantDocument, { conversationId: conv, userId: `guest-${i}` }));
      const sender = byId[members[0]!]!;
      await send(server, walker, conv, `hi ${i}`);
      await send(server, sender, conv, `reply ${i}`);
      if (i % 3 === 0) await send(server, sender, conv, `more ${i}`);
    }

    await cost(walker, ConversationsDocument, { first: 1 });
    const small = await cost(walker, ConversationsDocument, { first: 3 });
    const large = await cost(walker, ConversationsDocument, { first: 40 });
    expect(small.data.conversations.edges).toHaveLength(3);
    expect(large.data.conversations.edges).toHaveLength(40);
    const nodes = large.data.conversations.edges.map((e) => e.node);
    expect(nodes.every((c) => c.participants.length >= 3 && c.participants.every((p) => p.user.id))).toBe(true);
    expect(new Set(nodes.flatMap((c) => c.participants.map((p) => p.user.id))).size).toBe(45);
    expect(nodes.every((c) => c.lastMessage && c.lastMessage.sender.id !== 'walker' && c.lastMessage.seq === c.lastSeq)).toBe(true);
    expect(nodes.every((c) => c.unreadCount === c.lastSeq - 1)).toBe(true);

    expect(large.statements).toBe(small.statements);
    expect(large.statements).toBeLessThanOrEqual(SMALL);
    // And every time: the batched reads may finish in any order.
    for (let round = 0; round < 5; round++) {
      expect((await cost(walker, ConversationsDocument, { first: 40 })).statements).toBe(small.statements);
      expect((await cost(walker, ConversationsDocument, { first: 3 })).statements).toBe(small.statements);
    }
  });

  it('reads users and control events for a fixed cost', async () => {
    const { alice } = tokens;
    const conv = await createGroup(server, alice, ['bob', 'carol']);
    for (let i = 0; i < 30; i++) {
      const who = [alice, tokens.bob, tokens.carol][i % 3]!;
      dataOf(await server.gql(who, SendControlDocument, { conversationId: conv, input: { event: 'PAUSE', runId: `run-${i}` } }));
    }
    await cost(alice, ControlEventsDocument, { conversationId: conv, first: 1 });
    const small = await cost(alice, ControlEventsDocument, { conversationId: conv, first: 3 });
    const large = await cost(alice, ControlEventsDocument, { conversationId: conv, first: 30 });
    expect(large.data.controlEvents.nodes).toHaveLength(30);
    expect(new Set(large.data.controlEvents.nodes.map((e) => e.issuedBy.id)).size).toBe(3);
    expect(large.statements).toBe(small.statements);
    expect(large.statements).toBeLessThanOrEqual(SMALL);

    const usersSmall = await cost(alice, UsersDocument, { first: 2 });
    const usersLarge = await cost(alice, UsersDocument, { first: 200 });
    expect(usersLarge.data.users.nodes.length).toBeGreaterThan(40);
    expect(usersLarge.statements).toBe(usersSmall.statements);
    expect(usersLarge.statements).toBeLessThanOrEqual(SMALL);
  });
});
