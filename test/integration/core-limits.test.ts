// Input limits: each violation is BAD_USER_INPUT and writes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ControlEventsDocument,
  ConversationsActivityDocument,
  ConversationsDocument,
  CreateConversationDocument,
  EditMessageDocument,
  MessagesDocument,
  SendControlDocument,
  SendMessageDocument,
  UpdateConversationDocument,
  UsersDocument,
  type ControlEventInput,
  type SendMessageInput,
} from '../../src/client/generated/graphql.js';
import { dataOf, startServer, type GqlResult, type TestServer } from '../kit/server.js';
import { backends } from '../kit/services.js';
import { allMessages, conversationOf, createGroup, expectCode, lastSeqOf, send, users } from './core-helpers.js';

const EMOJI = '\u{1F600}'; // one character, two UTF-16 units, four UTF-8 bytes
const METADATA_BYTES = 16 * 1024;
/** A JSON object whose serialization is exactly `bytes` long. */
const jsonOfBytes = (bytes: number) => ({ a: 'x'.repeat(bytes - '{"a":""}'.length) });

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

  /** Sends `input` expecting BAD_USER_INPUT, and checks nothing was stored. */
  async function expectRefusedSend(input: Partial<SendMessageInput>, label: string) {
    const before = await lastSeqOf(server, alice, conv);
    const result = await server.gql(alice, SendMessageDocument, { input: { conversationId: conv, content: 'ok', ...input } });
    expect(result.data?.sendMessage ?? null, label).toBeNull();
    expectCode(result, 'BAD_USER_INPUT');
    expect(await lastSeqOf(server, alice, conv), label).toBe(before);
  }

  const conversationCount = async () =>
    dataOf(await server.gql(alice, ConversationsActivityDocument, { first: 200 })).conversations.edges.length;

  describe('message content', () => {
    it('takes exactly 16,000 characters, counting an emoji as one, and refuses one more', async () => {
      const plain = 'a'.repeat(16_000);
      expect((await send(server, alice, conv, plain)).content).toBe(plain);
      const emoji = EMOJI.repeat(16_000);
      expect(emoji.length).toBe(32_000);
      expect((await send(server, alice, conv, emoji)).content).toBe(emoji);
      const mixed = 'a'.repeat(15_999) + EMOJI;
      expect((await send(server, alice, conv, mixed)).content).toBe(mixed);

      await expectRefusedSend({ content: 'a'.repeat(16_001) }, '16,001 plain');
      await expectRefusedSend({ content: EMOJI.repeat(16_001) }, '16,001 emoji');
      await expectRefusedSend({ content: 'a'.repeat(16_000) + EMOJI }, '16,000 plain + emoji');
      await expectRefusedSend({ content: 'a'.repeat(100_000) }, 'far too long');
    });

    it('refuses empty and blank content and NUL characters', async () => {
      await expectRefusedSend({ content: '' }, 'empty');
      await expectRefusedSend({ content: '   \n\t ' }, 'blank');
      await expectRefusedSend({ content: 'a\u0000b' }, 'NUL');
      await expectRefusedSend({ content: '\u0000' }, 'only NUL');
    });

    it('applies the same rules to edits, leaving the message as it was', async () => {
      const m = await send(server, alice, conv, 'original');
      for (const content of ['', '  ', 'x\u0000y', 'a'.repeat(16_001), EMOJI.repeat(16_001)]) {
        expectCode(await server.gql(alice, EditMessageDocument, { id: m.id, content }), 'BAD_USER_INPUT');
      }
      const stored = (await allMessages(server, alice, conv)).find((x) => x.id === m.id)!;
      expect(stored).toMatchObject({ content: 'original', editedAt: null });
      const edited = dataOf(await server.gql(alice, EditMessageDocument, { id: m.id, content: EMOJI.repeat(16_000) })).editMessage;
      expect(edited.content).toBe(EMOJI.repeat(16_000));
    });

    it('refuses NUL and over-long values in the other text fields', async () => {
      await expectRefusedSend({ clientMessageId: 'a\u0000' }, 'clientMessageId NUL');
      await expectRefusedSend({ clientMessageId: 'c'.repeat(201) }, 'clientMessageId long');
      await expectRefusedSend({ clientMessageId: '' }, 'clientMessageId empty');
      await expectRefusedSend({ contentType: 'text/\u0000' }, 'contentType NUL');
      await expectRefusedSend({ contentType: 't'.repeat(101) }, 'contentType long');
      await expectRefusedSend({ runId: 'r'.repeat(201) }, 'runId long');
      await expectRefusedSend({ traceId: 't\u0000' }, 'traceId NUL');
      await expectRefusedSend({ metadata: { note: 'a\u0000b' } }, 'metadata NUL value');
      await expectRefusedSend({ metadata: { 'k\u0000': 1 } }, 'metadata NUL key');
    });

    it('refuses unpaired surrogates (not Unicode) in content, the other text fields and metadata, and keeps pairs', async () => {
      await expectRefusedSend({ content: 'broken \uD83D' }, 'content high surrogate');
      await expectRefusedSend({ content: '\uDE00 broken' }, 'content low surrogate');
      await expectRefusedSend({ content: `${EMOJI.slice(1)}${EMOJI.slice(0, 1)}` }, 'content pair reversed');
      await expectRefusedSend({ clientMessageId: 'c\uD800' }, 'clientMessageId');
      await expectRefusedSend({ runId: '\uDFFF' }, 'runId');
      await expectRefusedSend({ metadata: { note: 'a\uD800b' } }, 'metadata value');
      await expectRefusedSend({ metadata: { 'k\uDC00': 1 } }, 'metadata key');
      await expectRefusedSend({ metadata: { a: [{ b: ['\uD83D'] }] } }, 'metadata nested');
      const whole = `${EMOJI} ok`;
      expect((await send(server, alice, conv, whole, { metadata: { [EMOJI]: [EMOJI] } })).metadata).toEqual({ [EMOJI]: [EMOJI] });
      expectCode(await server.gql(alice, EditMessageDocument, { id: (await send(server, alice, conv, 'x')).id, content: 'y\uD800' }), 'BAD_USER_INPUT');
    });
  });

  describe('metadata', () => {
    it('takes 16 KiB of JSON and refuses one byte more, on messages and conversations', async () => {
      const fits = jsonOfBytes(METADATA_BYTES);
      expect(Buffer.byteLength(JSON.stringify(fits))).toBe(METADATA_BYTES);
      expect((await send(server, alice, conv, 'with metadata', { metadata: fits })).metadata).toEqual(fits);
      await expectRefusedSend({ metadata: jsonOfBytes(METADATA_BYTES + 1) }, 'metadata + 1 byte');
      // Multi-byte characters count as their UTF-8 bytes.
      await expectRefusedSend({ metadata: { a: EMOJI.repeat(METADATA_BYTES / 4) } }, 'metadata of emoji');
      await expectRefusedSend({ metadata: Array.from({ length: 5000 }, (_, i) => i) }, 'large array');

      const before = await conversationCount();
      expectCode(
        await server.gql(alice, CreateConversationDocument, { input: { type: 'GROUP', name: 'big', metadata: jsonOfBytes(METADATA_BYTES + 1) } }),
        'BAD_USER_INPUT',
      );
      expect(await conversationCount()).toBe(before);
      const created = dataOf(await server.gql(alice, CreateConversationDocument, { input: { type: 'GROUP', metadata: fits } })).createConversation;
      expect(created.metadata).toEqual(fits);

      expectCode(
        await server.gql(alice, UpdateConversationDocument, { id: created.id, input: { metadata: jsonOfBytes(METADATA_BYTES + 1) } }),
        'BAD_USER_INPUT',
      );
      expect((await conversationOf(server, alice, created.id)).metadata).toEqual(fits);
    });
  });

  describe('JSON nesting', () => {
    it('takes metadata nested 100 deep and refuses deeper, however deep', async () => {
      const nested = (depth: number): unknown => {
        let v: unknown = 1;
        for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
        return v;
      };
      expect((await send(server, alice, conv, 'deep', { metadata: nested(100) })).metadata).toEqual(nested(100));
      await expectRefusedSend({ metadata: nested(101) }, 'depth 101');
      // Deeper than JSON.stringify can take: written by hand (the body is still under 16 KiB).
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

  describe('conversations', () => {
    it('take names of up to 200 characters and refuse longer, empty or NUL ones', async () => {
      const name200 = EMOJI.repeat(200);
      const created = dataOf(await server.gql(alice, CreateConversationDocument, { input: { type: 'GROUP', name: name200 } })).createConversation;
      expect(created.name).toBe(name200);

      const before = await conversationCount();
      for (const name of ['n'.repeat(201), EMOJI.repeat(201), '', '   ', 'a\u0000']) {
        expectCode(await server.gql(alice, CreateConversationDocument, { input: { type: 'GROUP', name } }), 'BAD_USER_INPUT');
        expectCode(await server.gql(alice, UpdateConversationDocument, { id: created.id, input: { name } }), 'BAD_USER_INPUT');
      }
      expectCode(
        await server.gql(alice, CreateConversationDocument, { input: { type: 'GROUP', description: 'd'.repeat(2001) } }),
        'BAD_USER_INPUT',
      );
      expectCode(
        await server.gql(alice, CreateConversationDocument, { input: { type: 'GROUP', participantIds: ['ok', 'bad\u0000'] } }),
        'BAD_USER_INPUT',
      );
      expectCode(
        await server.gql(alice, CreateConversationDocument, { input: { type: 'GROUP', participantIds: ['u'.repeat(201)] } }),
        'BAD_USER_INPUT',
      );
      expectCode(
        await server.gql(alice, CreateConversationDocument, {
          input: { type: 'GROUP', participantIds: Array.from({ length: 101 }, (_, i) => `crowd-${i}`) },
        }),
        'BAD_USER_INPUT',
      );
      expect(await conversationCount()).toBe(before);
      expect((await conversationOf(server, alice, created.id)).name).toBe(name200);
      // None of the refused participants were created as users.
      const { users: found } = dataOf(await server.gql(alice, UsersDocument, { search: 'crowd-' }));
      expect(found.nodes).toEqual([]);
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
    const controlCount = async () =>
      dataOf(await server.gql(alice, ControlEventsDocument, { conversationId: conv, first: 200 })).controlEvents.nodes.length;

    it('refuse events without what they need, writing nothing', async () => {
      const before = await controlCount();
      const bad: ControlEventInput[] = [
        { event: 'PRIORITY', runId: 'run-1' },
        { event: 'PRIORITY', runId: 'run-1', target: 'URGENT' },
        { event: 'PRIORITY', runId: 'run-1', target: 'high' },
        { event: 'PRIORITY' },
        { event: 'ROUTE' },
        { event: 'ROUTE', runId: 'run-1' },
        { event: 'HANDOFF' },
        { event: 'HANDOFF', reason: 'no target' },
        { event: 'PAUSE' },
        { event: 'RESUME' },
        { event: 'PREEMPT' },
        { event: 'CANCEL' },
        { event: 'PAUSE', runId: 'run-1', reason: 'r'.repeat(1001) },
        { event: 'PAUSE', runId: 'r'.repeat(201) },
        { event: 'ROUTE', target: 't'.repeat(201) },
        { event: 'ROUTE', target: 'agent\u0000' },
        { event: 'ROUTE', target: '' },
        { event: 'PAUSE', runId: 'run-1', traceId: 'x\u0000' },
      ];
      for (const input of bad) {
        const result = await server.gql(alice, SendControlDocument, { conversationId: conv, input });
        expect(result.data?.sendControl ?? null, JSON.stringify(input)).toBeNull();
        expectCode(result, 'BAD_USER_INPUT');
      }
      // Not an event type at all.
      expectCode(
        await server.gql(alice, SendControlDocument, { conversationId: conv, input: { event: 'EXPLODE' as 'PAUSE', runId: 'run-1' } }),
        'BAD_USER_INPUT',
      );
      expect(await controlCount()).toBe(before);
    });
  });
});
