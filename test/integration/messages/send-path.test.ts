// The send path: one statement per send, sends at the same time stored together (group commit)
// with seqs that stay 1..n without a gap, and the same answers as checking one thing at a time:
// NOT_FOUND, FORBIDDEN, BAD_USER_INPUT, CONFLICT or the original of a retry, for the send at fault only.
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SendMessageDocument, type SendMessageInput } from '../../../src/client/generated/graphql.js';
import { DuplicateClientMessageId } from '../../../src/modules/messages/message.repository.js';
import { allMessages, concurrently, createGroup, expectCode, lastSeqOf, range, send, users } from '../../kit/requests.js';
import { dataOf, type GqlResult, messageRepository, startServer, statementsOf, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { describeTwoInstances, twoInstances } from '../../kit/two-instances.js';

type Sent = GqlResult<{ sendMessage: { id: string; seq: number; content: string } }>;

/** A send answering only what the send itself returns (MessageFields' sender costs a read of its own). */
const SendBare = parse(`mutation SendBare($input: SendMessageInput!) { sendMessage(input: $input) { id seq content } }`) as TypedDocumentNode<
  { sendMessage: { id: string; seq: number; content: string } },
  { input: SendMessageInput }
>;

describe.each(backends)('send path on %s', (backend) => {
  let server: TestServer;
  let alice: string, bob: string, carol: string, mallory: string;
  const sendAs = (auth: string, input: SendMessageInput) => server.gql(auth, SendMessageDocument, { input }) as Promise<Sent>;

  beforeAll(async () => {
    server = await startServer({ backend });
    ({ alice, bob, carol } = await users(server, ['alice', 'bob', 'carol']));
    ({ mallory } = await users(server, ['mallory'], { org: 'elsewhere' }));
  });
  afterAll(() => server?.stop());

  it('stores a send with one statement; a retry costs one more read and writes nothing', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const input = { conversationId: conv, content: 'hello', clientMessageId: 'one' };
    const first = await statementsOf(server, () => server.gql(alice, SendBare, { input }));
    expect(first.statements).toBe(1);
    expect(dataOf(first.result).sendMessage.seq).toBe(1);
    const retry = await statementsOf(server, () => server.gql(alice, SendBare, { input }));
    expect(retry.statements).toBe(2);
    expect(dataOf(retry.result)).toEqual(dataOf(first.result));
    expect(await lastSeqOf(server, alice, conv)).toBe(1);
    expect((await send(server, bob, conv, 'next')).seq).toBe(2);
  });

  it('numbers sends to several conversations at once 1..n, retries among them returning their originals', async () => {
    const convs = [await createGroup(server, alice, ['bob']), await createGroup(server, bob, ['alice'])];
    // 40 distinct messages, half to each conversation, and every tenth sent twice more at the same time.
    const jobs = range(40).flatMap((i) => {
      const job = { auth: i % 2 ? alice : bob, input: { conversationId: convs[i % 2]!, content: `m${i}`, clientMessageId: `id-${i}` } };
      return i % 10 === 0 ? [job, job, job] : [job];
    });
    const results = await Promise.all(jobs.map((job) => sendAs(job.auth, job.input)));
    const sent = results.map((r) => dataOf(r).sendMessage);
    const byClientId = new Map<string, Set<string>>();
    for (const [i, job] of jobs.entries()) {
      byClientId.set(job.input.clientMessageId, (byClientId.get(job.input.clientMessageId) ?? new Set()).add(sent[i]!.id));
    }
    expect([...byClientId.values()].every((ids) => ids.size === 1)).toBe(true);

    for (const conv of convs) {
      const stored = await allMessages(server, alice, conv);
      expect(stored.map((m) => m.seq)).toEqual(range(20));
      expect(new Set(stored.map((m) => m.clientMessageId)).size).toBe(20);
      expect(await lastSeqOf(server, alice, conv)).toBe(20);
    }
  });

  it('refuses only the sends at fault among sends at the same time, with the code of each fault', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const other = await createGroup(server, carol, ['bob']);
    const elsewhere = await send(server, carol, other, 'in another conversation');
    const original = await send(server, alice, conv, 'original', { clientMessageId: 'taken' });
    const faulty: [string, Promise<Sent>][] = [
      ['NOT_FOUND', sendAs(alice, { conversationId: '00000000-0000-4000-8000-000000000000', content: 'nowhere' })],
      ['NOT_FOUND', sendAs(alice, { conversationId: 'not-a-uuid', content: 'nowhere' })],
      ['NOT_FOUND', sendAs(mallory, { conversationId: conv, content: 'from another org' })],
      ['FORBIDDEN', sendAs(carol, { conversationId: conv, content: 'not a participant' })],
      ['BAD_USER_INPUT', sendAs(alice, { conversationId: conv, content: 'reply', replyToId: elsewhere.id })],
      ['BAD_USER_INPUT', sendAs(alice, { conversationId: conv, content: 'reply', replyToId: '00000000-0000-4000-8000-000000000000' })],
      ['CONFLICT', sendAs(alice, { conversationId: conv, content: 'other text', clientMessageId: 'taken' })],
    ];
    const good = range(10).map((i) => sendAs(i % 2 ? alice : bob, { conversationId: conv, content: `ok ${i}`, replyToId: original.id }));
    const retry = sendAs(alice, { conversationId: conv, content: 'original', clientMessageId: 'taken' });

    for (const [code, result] of faulty) expectCode(await result, code);
    expect(dataOf(await retry).sendMessage).toEqual(original);
    const stored = (await Promise.all(good)).map((r) => dataOf(r).sendMessage);
    expect(stored.map((m) => m.seq).sort((a, b) => a - b)).toEqual(range(11).slice(1));
    expect((await allMessages(server, alice, conv)).map((m) => m.seq)).toEqual(range(11));
    expect(await lastSeqOf(server, alice, conv)).toBe(11);
    expect(await lastSeqOf(server, carol, other)).toBe(1);
  });

  it('keeps one message per clientMessageId and no seq gap when every send of a burst is a duplicate', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const results = await concurrently(12, (i) => sendAs(i % 2 ? alice : bob, { conversationId: conv, content: 'same', clientMessageId: 'dup' }));
    const sent = results.map((r) => dataOf(r).sendMessage);
    // One message per sender: the id is per sender.
    expect(new Set(sent.map((m) => m.id)).size).toBe(2);
    expect(new Set(sent.map((m) => m.seq))).toEqual(new Set([1, 2]));
    expect((await send(server, bob, conv, 'after')).seq).toBe(3);
  });

  it('stores every field as sent, whatever characters and JSON it holds, also when sent together', async () => {
    const conv = await createGroup(server, alice, ['bob']);
    const inputs: SendMessageInput[] = [
      { conversationId: conv, content: 'NULL', metadata: null },
      { conversationId: conv, content: '{"a",b}', metadata: [1, 'two', null, { x: '"\\' }] },
      { conversationId: conv, content: 'quote " and \\ backslash, comma, {brace}', metadata: 'just a string' },
      { conversationId: conv, content: 'émoji 🎉 and\nnew line', metadata: { nested: { deep: [true, false] }, n: 1.5 } },
      {
        conversationId: conv,
        content: '# title',
        contentType: 'text/markdown',
        kind: 'COMMAND',
        priority: 'HIGH',
        interruptible: true,
        runId: 'run "7"',
        traceId: 'trace,1',
        clientMessageId: 'NULL',
        metadata: 0,
      },
    ];
    const sent = (await Promise.all(inputs.map((input) => server.gql(alice, SendMessageDocument, { input })))).map((r) => dataOf(r).sendMessage);
    const stored = new Map((await allMessages(server, alice, conv)).map((m) => [m.id, m]));
    sent.forEach((message, i) => {
      const { conversationId: _, ...fields } = inputs[i]!;
      expect(message).toMatchObject({ ...fields, metadata: fields.metadata ?? null });
      expect(stored.get(message.id)).toEqual(message);
    });
  });

  describe('group commit', () => {
    const message = (conversationId: string, content: string, clientMessageId: string | null = null) => ({
      conversationId,
      orgId: 'default',
      senderId: 'alice',
      senderKind: 'USER' as const,
      content,
      clientMessageId,
    });

    it('stores messages sent at the same time with fewer statements than messages', async () => {
      const [one, two] = [await createGroup(server, alice, ['bob']), await createGroup(server, bob, ['alice'])];
      const repo = messageRepository(server);
      const { statements, result } = await statementsOf(server, () =>
        Promise.all(range(30).map((i) => repo.insertNext(message(i % 3 ? one : two, `m${i}`), { senderMustParticipate: true }))),
      );
      expect(statements).toBeLessThan(30);
      const stored = result.map((m) => m!);
      const seqsOf = (conv: string) =>
        stored
          .filter((m) => m.conversationId === conv)
          .map((m) => m.seq)
          .sort((a, b) => a - b);
      expect(seqsOf(one)).toEqual(range(20));
      expect(seqsOf(two)).toEqual(range(10));
    });

    it('fails only the message that reuses a clientMessageId, and stores nothing for one not allowed', async () => {
      const conv = await createGroup(server, alice, ['bob']);
      const closed = await createGroup(server, bob, ['carol']);
      const repo = messageRepository(server);
      await repo.insertNext(message(conv, 'first', 'used'));
      const outcomes = await Promise.allSettled([
        ...range(5).map((i) => repo.insertNext(message(conv, `new ${i}`, `fresh-${i}`), { senderMustParticipate: true })),
        repo.insertNext(message(conv, 'again', 'used'), { senderMustParticipate: true }),
        repo.insertNext(message(closed, 'not a participant'), { senderMustParticipate: true }),
        ...range(5).map((i) => repo.insertNext(message(conv, `more ${i}`), { senderMustParticipate: true })),
      ]);
      expect(outcomes.map((o) => o.status)).toEqual([...Array(5).fill('fulfilled'), 'rejected', 'fulfilled', ...Array(5).fill('fulfilled')]);
      expect((outcomes[5] as PromiseRejectedResult).reason).toBeInstanceOf(DuplicateClientMessageId);
      expect((outcomes[6] as PromiseFulfilledResult<unknown>).value).toBeNull();
      expect((await allMessages(server, alice, conv)).map((m) => m.seq)).toEqual(range(11));
      expect(await lastSeqOf(server, bob, closed)).toBe(0);
    });
  });
});

describeTwoInstances('send path on two instances', () => {
  const servers = twoInstances();

  it('numbers sends through both instances to one conversation 1..n, each clientMessageId stored once', async () => {
    const { a, b } = servers;
    const { alice, bob } = await users(a, ['alice', 'bob']);
    const conv = await createGroup(a, alice, ['bob']);
    // Every message is sent through both instances at once, as a client retrying elsewhere would.
    const results = await concurrently(60, (i) => {
      const input = { conversationId: conv, content: `m${i >> 1}`, clientMessageId: `c${i >> 1}` };
      return (i % 2 ? a : b).gql(i % 4 < 2 ? alice : bob, SendMessageDocument, { input });
    });
    const sent = results.map((r) => dataOf(r).sendMessage);
    for (let i = 0; i < 60; i += 2) expect(sent[i]!.id).toBe(sent[i + 1]!.id);
    const stored = await allMessages(b, bob, conv);
    expect(stored.map((m) => m.seq)).toEqual(range(30));
    expect(await lastSeqOf(a, alice, conv)).toBe(30);
  });
});
