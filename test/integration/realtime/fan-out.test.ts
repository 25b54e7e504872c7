// Fan-out: a live event reaching many subscribers is resolved once per operation, not once per
// subscriber, and every subscriber still gets exactly its result.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeleteMessageDocument, SendMessageDocument } from '../../../src/client/generated/graphql.js';
import { createGroup, sendText, UNLIMITED_ENV } from '../../kit/realtime.js';
import { dataOf, messageRepository, startServer, statementsOf, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { type Collector, collect } from '../../kit/subscriptions.js';

const SUBSCRIBERS = 20;

/** Selects a reply's quoted message and its sender: two reads per event if done per subscriber. */
const WithQuote = parse(`
  subscription WithQuote($conversationId: ID, $afterSeq: Int) {
    messageAdded(conversationId: $conversationId, afterSeq: $afterSeq) {
      id seq content
      sender { id displayName }
      replyTo { id content sender { id displayName } }
    }
  }
`) as TypedDocumentNode<{ messageAdded: { seq: number; content: string; replyTo: { content: string } | null } }, { conversationId: string; afterSeq: number }>;

/** Each message's sender. */
const Senders = parse(`
  subscription Senders($conversationId: ID, $afterSeq: Int) {
    messageAdded(conversationId: $conversationId, afterSeq: $afterSeq) { seq sender { id displayName } }
  }
`) as TypedDocumentNode<{ messageAdded: { seq: number; sender: { id: string; displayName: string } } }, { conversationId: string; afterSeq: number }>;

/** Deleted messages with their senders. */
const DeletedWithSender = parse(`
  subscription DeletedWithSender($conversationId: ID!) {
    messageDeleted(conversationId: $conversationId) { id sender { id displayName } }
  }
`) as TypedDocumentNode<{ messageDeleted: { id: string; sender: { id: string; displayName: string } } }, { conversationId: string }>;

/** The newest seq of a conversation. */
const LastSeq = parse(`
  query LastSeq($conversationId: ID!) { messages(conversationId: $conversationId, last: 1) { nodes { seq } } }
`) as TypedDocumentNode<{ messages: { nodes: { seq: number }[] } }, { conversationId: string }>;

/** Viewer-independent, so shared; its result depends on a variable that selects no stream. */
const Toggle = parse(`
  subscription Toggle($conversationId: ID, $withContent: Boolean!) {
    messageAdded(conversationId: $conversationId) { seq content @include(if: $withContent) }
  }
`) as TypedDocumentNode<{ messageAdded: { seq: number; content?: string } }, { conversationId: string; withContent: boolean }>;

describe.each(backends)('fan-out on %s', (backend) => {
  let server: TestServer;
  let alice: string;
  let conversationId: string;
  let subs: Collector<{ messageAdded: { seq: number; content: string; replyTo: { content: string } | null } }>[];

  beforeAll(async () => {
    server = await startServer({ backend, env: UNLIMITED_ENV });
    alice = await server.token('alice', { name: 'Alice' });
    const names = Array.from({ length: SUBSCRIBERS }, (_, i) => `reader${i}`);
    const readers = await Promise.all(names.map((name) => server.token(name, { name: `Reader ${name}` })));
    conversationId = await createGroup(server, alice, names);
    await sendText(server, alice, conversationId, 'hello');
    // From the start: each reads 'hello' from the database, then goes live.
    subs = readers.map((auth) => collect(server.ws(auth), WithQuote, { conversationId, afterSeq: 0 }));
    await Promise.all(subs.map((s) => s.waitFor(1)));
  });
  afterAll(() => server?.stop());

  /** Statements the server sends for one message, from its send until every subscriber has it. */
  async function statementsToDeliver(send: () => Promise<unknown>) {
    const stats = server.app.services.database.stats;
    const had = subs[0]!.events.length;
    for (const s of subs) await s.waitFor(had);
    const before = stats.statements;
    await send();
    await Promise.all(subs.map((s) => s.waitFor(had + 1)));
    return stats.statements - before;
  }

  it('reads what a reply quotes once for all its subscribers, and gives each the same result', async () => {
    const quoted = await sendText(server, alice, conversationId, 'the question');
    await Promise.all(subs.map((s) => s.waitFor(2)));

    const plain = await statementsToDeliver(() => sendText(server, alice, conversationId, 'plain'));
    const reply = await statementsToDeliver(async () =>
      dataOf(await server.gql(alice, SendMessageDocument, { input: { conversationId, content: 'the answer', replyToId: quoted.id } })),
    );
    // The reply costs its send's own check of replyToId and one read of the quoted message (and
    // at most one of its sender), against one per subscriber if each were resolved on its own.
    expect(reply - plain).toBeLessThanOrEqual(3);
    expect(reply - plain).toBeLessThan(SUBSCRIBERS);

    const received = subs.map((s) => s.events.at(-1)!.messageAdded);
    for (const r of received) {
      expect(r).toEqual(received[0]);
      expect(r).toMatchObject({ content: 'the answer', replyTo: { content: 'the question', sender: { id: 'alice', displayName: 'Alice' } } });
    }
  });

  it('shares live events between subscribers that resumed from different points', async () => {
    const quoted = await sendText(server, alice, conversationId, 'asked before they resumed');
    for (let i = 0; i < 5; i++) await sendText(server, alice, conversationId, `before resuming ${i}`);
    const last = dataOf(await server.gql(alice, LastSeq, { conversationId })).messages.nodes[0]!.seq;
    const names = Array.from({ length: SUBSCRIBERS }, (_, i) => `reader${i}`);
    // Each resumes from a seq of its own: a different afterSeq, the same document.
    const resumed = await Promise.all(
      names.map(async (name, i) => collect(server.ws(await server.token(name)), WithQuote, { conversationId, afterSeq: last - 1 - (i % 5) })),
    );
    await Promise.all(resumed.map((s, i) => s.waitFor(1 + (i % 5))));
    const reply = async () => dataOf(await server.gql(alice, SendMessageDocument, { input: { conversationId, content: 'live reply', replyToId: quoted.id } }));
    const plain = await statementsOf(server, async () => {
      await sendText(server, alice, conversationId, 'live plain');
      await Promise.all(resumed.map((s, i) => s.waitFor(2 + (i % 5))));
    });
    const quoting = await statementsOf(server, async () => {
      await reply();
      await Promise.all(resumed.map((s, i) => s.waitFor(3 + (i % 5))));
    });
    for (const s of resumed) s.stop();
    // One read of the quoted message (and at most one of its sender) for all 20, not one each.
    expect(quoting.statements - plain.statements).toBeLessThanOrEqual(3);
    const received = resumed.map((s) => s.events.at(-1)!.messageAdded);
    for (const r of received) expect(r).toEqual(received[0]);
    expect(received[0]).toMatchObject({ content: 'live reply', replyTo: { content: 'asked before they resumed' } });
  });

  it('fills a hole in seq for all its subscribers with one read of the missing messages', async () => {
    const plain = await statementsToDeliver(() => sendText(server, alice, conversationId, 'plain'));
    const had = subs[0]!.events.length;
    // Three messages committed behind pub/sub's back, as if their events were lost.
    const repo = messageRepository(server);
    for (const content of ['lost 1', 'lost 2', 'lost 3']) {
      await repo.insertNext({ conversationId, orgId: 'default', senderId: 'alice', senderKind: 'USER', content });
    }
    const stats = server.app.services.database.stats;
    const before = stats.statements;
    await sendText(server, alice, conversationId, 'revealing');
    await Promise.all(subs.map((s) => s.waitFor(had + 4)));
    // Beyond the send: one check that the subscribers are still participants (a lost event may have
    // been a removal) and one read of the hole, senders included. Per subscriber it would be 40.
    expect(stats.statements - before - plain).toBeLessThanOrEqual(2);
    for (const s of subs) {
      expect(s.events.slice(had).map((e) => e.messageAdded.content)).toEqual(['lost 1', 'lost 2', 'lost 3', 'revealing']);
    }
  });

  it('replays stored messages to a resuming subscriber with their senders, in one read', async () => {
    // Messages from several senders, then a subscriber resuming from before them: a document of
    // its own, so nothing is shared with the others and any read per message would show.
    const senders = ['reader1', 'reader2', 'reader3'];
    const tokens = await Promise.all(senders.map((name) => server.token(name, { name: `Reader ${name}` })));
    for (let i = 0; i < 12; i++) await sendText(server, tokens[i % 3]!, conversationId, `stored ${i}`);
    const last = dataOf(await server.gql(alice, LastSeq, { conversationId })).messages.nodes[0]!.seq;
    const reader4 = await server.token('reader4', { name: 'Reader reader4' });
    // Its claims provisioned first, so that connecting writes nothing.
    dataOf(await server.gql(reader4, LastSeq, { conversationId }));
    const resumer = collect(server.ws(reader4), Senders, { conversationId, afterSeq: last - 12 });
    const { statements } = await statementsOf(server, () => resumer.waitFor(12));
    // The participant check and one read of the stored messages with their senders (14 when each
    // message's sender was read on its own).
    expect(statements).toBe(2);
    expect(resumer.events.map((e) => e.messageAdded.sender)).toEqual(
      Array.from({ length: 12 }, (_, i) => ({ id: senders[i % 3], displayName: `Reader ${senders[i % 3]}` })),
    );
    resumer.stop();
  });

  it('sends a deleted message with its sender, read by no subscription', async () => {
    const reader1 = await server.token('reader1', { name: 'Reader reader1' });
    // The same deletes in a conversation nobody watches give the statements a delete costs.
    const quiet = await createGroup(server, alice, ['reader1']);
    const doomed = async (c: string) => (await sendText(server, reader1, c, 'doomed')).id;
    const [ownWatched, byOwnerWatched] = [await doomed(conversationId), await doomed(conversationId)];
    const [ownUnwatched, byOwnerUnwatched] = [await doomed(quiet), await doomed(quiet)];
    const remove = (auth: string, id: string) => statementsOf(server, async () => dataOf(await server.gql(auth, DeleteMessageDocument, { id })));

    const reader2 = await server.token('reader2');
    const watcher = await server.live(() => collect(server.ws(reader2), DeletedWithSender, { conversationId }));
    const probes = watcher.events.length;
    // Whoever deletes (the sender, or the conversation's owner), a delete costs as many statements
    // watched as unwatched: the event carries the sender, so no subscription reads it.
    const own = await statementsOf(server, async () => {
      await remove(reader1, ownWatched);
      await watcher.waitFor(probes + 1);
    });
    const byOwner = await statementsOf(server, async () => {
      await remove(alice, byOwnerWatched);
      await watcher.waitFor(probes + 2);
    });
    watcher.stop();
    expect(own.statements).toBe((await remove(reader1, ownUnwatched)).statements);
    expect(byOwner.statements).toBe((await remove(alice, byOwnerUnwatched)).statements);
    expect(watcher.events.slice(probes).map((e) => e.messageDeleted)).toEqual([
      { id: ownWatched, sender: { id: 'reader1', displayName: 'Reader reader1' } },
      { id: byOwnerWatched, sender: { id: 'reader1', displayName: 'Reader reader1' } },
    ]);
  });

  it('still gives each subscription the result of its own variables', async () => {
    const bob = await server.token('reader0');
    const [shown, hidden] = await server.live(
      () =>
        [
          collect(server.ws(bob), Toggle, { conversationId, withContent: true }),
          collect(server.ws(bob), Toggle, { conversationId, withContent: false }),
        ] as const,
      2,
    );
    const next = await sendText(server, alice, conversationId, 'shown to one');
    await shown.waitFor(1);
    await hidden.waitFor(1);
    // One event, one document, two results: the variables are part of what is shared.
    expect(shown.events.at(-1)).toEqual({ messageAdded: { seq: next.seq, content: 'shown to one' } });
    expect(hidden.events.at(-1)).toEqual({ messageAdded: { seq: next.seq } });
    shown.stop();
    hidden.stop();
  });
});
