// The rules of a send, an edit and a delete, checked on the services themselves: who may, which
// input is refused (with its code) and that a refusal writes nothing.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import type { SendMessageInput } from '../../src/modules/messages/message.service.js';
import { type ModuleKit, expectRefused as refused, startModules } from '../kit/modules.js';
import { backends } from '../kit/services.js';

const EMOJI = '\u{1F600}'; // one character, two UTF-16 units, four UTF-8 bytes
const METADATA_BYTES = 16 * 1024;
/** A JSON object whose serialization is exactly `bytes` long. */
const jsonOfBytes = (bytes: number) => ({ a: 'x'.repeat(bytes - '{"a":""}'.length) });
/** A JSON value nested `depth` deep, objects and arrays in turn. */
const nested = (depth: number): unknown => {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
};

describe.each(backends)('message rules on %s', (backend) => {
  let kit: ModuleKit;
  let alice: Viewer; // owner of the conversations below
  let bob: Viewer; // member
  let carol: Viewer; // same org, in none of them
  let dave: Viewer; // admin
  let eve: Viewer; // another org
  let bot: Viewer; // an agent, member

  beforeAll(async () => {
    kit = await startModules(backend);
    [alice, bob, carol, dave, bot] = await Promise.all([
      kit.viewer('alice'),
      kit.viewer('bob'),
      kit.viewer('carol'),
      kit.viewer('dave'),
      kit.viewer('bot', { kind: 'AGENT' }),
    ]);
    eve = await kit.viewer('eve', { org: 'acme' });
  });
  afterAll(() => kit?.close());

  /** A GROUP of `owner` with `others` as members, but dave, who is an admin. */
  const group = async (owner = alice, others = ['bob', 'dave', 'bot']) => {
    const members = others.filter((id) => id !== 'dave');
    const { id } = await kit.services.conversations.create(owner, { type: 'GROUP', name: 'rules', participantIds: members });
    if (others.includes('dave')) await kit.services.conversations.addParticipant(owner, id, 'dave', 'ADMIN');
    return id;
  };
  const send = (viewer: Viewer, conversationId: string, content: string, extra: Partial<SendMessageInput> = {}) =>
    kit.services.messages.send(viewer, { conversationId, content, ...extra });
  const lastSeq = async (conversationId: string) => (await kit.services.conversations.get(alice, conversationId)).lastSeq;
  const stored = async (conversationId: string) => (await kit.services.messages.storedAfter(conversationId, 0, 200)).map((m) => m.message);

  /** Expects `attempt` to fail with `code`, leaving the conversation's messages as they were. */
  const expectRefused = (conversationId: string, code: string, attempt: () => Promise<unknown>, label?: string) =>
    refused(code, attempt, () => stored(conversationId), label);

  describe('who may send', () => {
    it('refuses a non-participant of the org (FORBIDDEN), another org or no uuid (NOT_FOUND)', async () => {
      const c = await group();
      await expectRefused(c, 'FORBIDDEN', () => send(carol, c, 'let me in'));
      await expectRefused(c, 'NOT_FOUND', () => send(eve, c, 'let me in'));
      await expect(send(alice, 'not-a-uuid', 'hello')).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await expect(send(alice, randomUUID(), 'hello')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('refuses a participant who left or was removed, and takes them back once added again', async () => {
      const c = await group();
      await kit.services.conversations.leave(bob, c);
      await kit.services.conversations.removeParticipant(alice, c, 'dave');
      await expectRefused(c, 'FORBIDDEN', () => send(bob, c, 'still here?', { clientMessageId: 'b-1' }));
      await expectRefused(c, 'FORBIDDEN', () => send(dave, c, 'still here?'));
      await kit.services.conversations.addParticipant(alice, c, 'bob');
      expect((await send(bob, c, 'back', { clientMessageId: 'b-1' })).seq).toBe(1);
    });
  });

  describe('replies', () => {
    it('takes a reply to a message of the same conversation', async () => {
      const c = await group();
      const question = await send(alice, c, 'question?');
      expect((await send(bob, c, 'answer', { replyToId: question.id })).replyToId).toBe(question.id);
    });

    it('refuses replyToId of another conversation, a random uuid or no uuid (BAD_USER_INPUT)', async () => {
      const c = await group();
      const elsewhere = await send(alice, await group(), 'elsewhere');
      const hidden = await send(carol, await group(carol, []), 'hidden');
      await send(alice, c, 'first');
      for (const replyToId of [elsewhere.id, hidden.id, randomUUID(), 'not-a-uuid', '', '1; DROP TABLE messages']) {
        await expectRefused(c, 'BAD_USER_INPUT', () => send(alice, c, 'reply', { replyToId }), replyToId);
      }
      expect(await lastSeq(c)).toBe(1);
    });
  });

  describe('exactly once', () => {
    it('answers a retry with the original, per sender and conversation, and a changed retry with CONFLICT', async () => {
      const c = await group();
      const first = await send(alice, c, 'hello', { clientMessageId: 'once', priority: 'HIGH' });
      expect(await send(alice, c, 'hello', { clientMessageId: 'once', priority: 'HIGH' })).toEqual(first);
      for (const variant of [
        { content: 'different' },
        { content: 'hello', kind: 'COMMAND' as const },
        { content: 'hello', contentType: 'text/markdown' },
        { content: 'hello', replyToId: first.id },
      ]) {
        await expectRefused(c, 'CONFLICT', () => kit.services.messages.send(alice, { conversationId: c, clientMessageId: 'once', ...variant }));
      }
      // The id is per sender, and per conversation.
      expect((await send(bob, c, 'hello', { clientMessageId: 'once' })).seq).toBe(2);
      const other = await group();
      expect((await send(alice, other, 'hello', { clientMessageId: 'once' })).seq).toBe(1);
    });
  });

  describe('limits', () => {
    it('takes content of exactly 16,000 characters, an emoji counting as one, and refuses one more', async () => {
      const c = await group();
      for (const content of ['a'.repeat(16_000), EMOJI.repeat(16_000), 'a'.repeat(15_999) + EMOJI]) {
        expect((await send(alice, c, content)).content).toBe(content);
      }
      for (const content of ['a'.repeat(16_001), EMOJI.repeat(16_001), 'a'.repeat(16_000) + EMOJI, 'a'.repeat(100_000)]) {
        await expectRefused(c, 'BAD_USER_INPUT', () => send(alice, c, content), `${content.length} units`);
      }
    });

    it('refuses empty and blank content, NUL and unpaired surrogates, in sends and edits alike', async () => {
      const c = await group();
      const m = await send(alice, c, 'original');
      const bad = ['', '   \n\t ', 'a\u0000b', '\u0000', 'broken \uD83D', '\uDE00 broken', `${EMOJI.slice(1)}${EMOJI.slice(0, 1)}`];
      for (const content of bad) {
        await expectRefused(c, 'BAD_USER_INPUT', () => send(alice, c, content), JSON.stringify(content));
        await expectRefused(c, 'BAD_USER_INPUT', () => kit.services.messages.edit(alice, m.id, content), JSON.stringify(content));
      }
      await expectRefused(c, 'BAD_USER_INPUT', () => kit.services.messages.edit(alice, m.id, EMOJI.repeat(16_001)));
      expect((await kit.services.messages.edit(alice, m.id, EMOJI.repeat(16_000))).content).toBe(EMOJI.repeat(16_000));
    });

    it('refuses NUL, lone surrogates and over-long values in the other fields, and keeps emoji', async () => {
      const c = await group();
      const bad: Partial<SendMessageInput>[] = [
        { clientMessageId: 'a\u0000' },
        { clientMessageId: 'c'.repeat(201) },
        { clientMessageId: '' },
        { clientMessageId: 'c\uD800' },
        { contentType: 'text/\u0000' },
        { contentType: 't'.repeat(101) },
        { runId: 'r'.repeat(201) },
        { runId: '\uDFFF' },
        { traceId: 't\u0000' },
        { metadata: { note: 'a\u0000b' } },
        { metadata: { 'k\u0000': 1 } },
        { metadata: { note: 'a\uD800b' } },
        { metadata: { 'k\uDC00': 1 } },
        { metadata: { a: [{ b: ['\uD83D'] }] } },
      ];
      for (const extra of bad) await expectRefused(c, 'BAD_USER_INPUT', () => send(alice, c, 'ok', extra), JSON.stringify(extra));
      expect((await send(alice, c, `${EMOJI} ok`, { metadata: { [EMOJI]: [EMOJI] } })).metadata).toEqual({ [EMOJI]: [EMOJI] });
    });

    it('takes 16 KiB of metadata nested 100 deep, and refuses a byte more or a level deeper', async () => {
      const c = await group();
      const fits = jsonOfBytes(METADATA_BYTES);
      expect(Buffer.byteLength(JSON.stringify(fits))).toBe(METADATA_BYTES);
      expect((await send(alice, c, 'fits', { metadata: fits })).metadata).toEqual(fits);
      expect((await send(alice, c, 'deep', { metadata: nested(100) })).metadata).toEqual(nested(100));
      for (const metadata of [
        jsonOfBytes(METADATA_BYTES + 1),
        // Multi-byte characters count as their UTF-8 bytes.
        { a: EMOJI.repeat(METADATA_BYTES / 4) },
        Array.from({ length: 5000 }, (_, i) => i),
        nested(101),
      ]) {
        await expectRefused(c, 'BAD_USER_INPUT', () => send(alice, c, 'too much', { metadata }));
      }
    });
  });

  describe("an agent's message in a run", () => {
    it('registers the run ACTIVE; paused, it refuses new output but answers a retry with the original', async () => {
      const c = await group();
      const input = { conversationId: c, content: 'step 1', runId: 'run-1', clientMessageId: 'bot-1' };
      const original = await kit.services.messages.send(bot, input);
      expect(await kit.run(c, 'run-1')).toMatchObject({ state: 'ACTIVE', agentId: 'bot' });
      await kit.services.control.send(alice, c, { event: 'PAUSE', runId: 'run-1' });

      expect(await kit.services.messages.send(bot, input)).toEqual(original);
      await expectRefused(c, 'CONFLICT', () => kit.services.messages.send(bot, { ...input, content: 'other text' }));
      await expectRefused(c, 'BAD_USER_INPUT', () => kit.services.messages.send(bot, { ...input, clientMessageId: 'bot-2', content: 'step 2' }));
      // A person's message naming the run is not the agent's output.
      expect((await send(alice, c, 'meanwhile', { runId: 'run-1' })).seq).toBe(2);
    });

    it("refuses output in another agent's run (FORBIDDEN) and in a run that has ended", async () => {
      const c = await group(alice, ['bob', 'bot', 'other-bot']);
      const otherBot = await kit.viewer('other-bot', { kind: 'AGENT' });
      await send(bot, c, 'mine', { runId: 'r' });
      await expectRefused(c, 'FORBIDDEN', () => send(otherBot, c, 'mine too', { runId: 'r' }));
      await kit.services.control.send(alice, c, { event: 'CANCEL', runId: 'r' });
      await expectRefused(c, 'BAD_USER_INPUT', () => send(bot, c, 'after the end', { runId: 'r' }));
    });
  });

  describe('edit and delete', () => {
    it('lets only the sender edit, and nobody edit a deleted message', async () => {
      const c = await group();
      const m = await send(bob, c, 'bob writes');
      for (const who of [alice, dave]) {
        await expectRefused(c, 'FORBIDDEN', () => kit.services.messages.edit(who, m.id, 'not yours'), who.userId);
      }
      await expectRefused(c, 'FORBIDDEN', () => kit.services.messages.edit(carol, m.id, 'not yours'));
      await expectRefused(c, 'NOT_FOUND', () => kit.services.messages.edit(eve, m.id, 'not yours'));
      expect(await kit.services.messages.edit(bob, m.id, 'bob rewrites')).toMatchObject({ content: 'bob rewrites', seq: m.seq });
      await kit.services.messages.delete(bob, m.id);
      await expectRefused(c, 'BAD_USER_INPUT', () => kit.services.messages.edit(bob, m.id, 'again'));
    });

    it('lets the sender, owners and admins delete a message, and no other member', async () => {
      const c = await group();
      const [m1, m2, m3, m4] = [await send(bob, c, 'one'), await send(bob, c, 'two'), await send(bot, c, 'three'), await send(alice, c, 'four')];
      // bot is a MEMBER: not bob's message; bob (MEMBER) not the owner's either.
      await expectRefused(c, 'FORBIDDEN', () => kit.services.messages.delete(bot, m1.id));
      await expectRefused(c, 'FORBIDDEN', () => kit.services.messages.delete(bob, m4.id));
      await expectRefused(c, 'FORBIDDEN', () => kit.services.messages.delete(carol, m1.id));
      await expectRefused(c, 'NOT_FOUND', () => kit.services.messages.delete(eve, m1.id));
      expect((await kit.services.messages.delete(alice, m1.id)).deletedAt).not.toBeNull(); // owner
      expect((await kit.services.messages.delete(dave, m2.id)).deletedAt).not.toBeNull(); // admin
      expect((await kit.services.messages.delete(bot, m3.id)).deletedAt).not.toBeNull(); // sender
      const after = await stored(c);
      expect(after.map((m) => [m.seq, m.content, m.deletedAt !== null])).toEqual([
        [m1.seq, '', true],
        [m2.seq, '', true],
        [m3.seq, '', true],
        [m4.seq, 'four', false],
      ]);
    });
  });
});
