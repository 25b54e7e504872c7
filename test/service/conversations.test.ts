// Who may change a conversation and its participants, and which input it refuses, checked on the
// services themselves: each refusal has its code and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { type ModuleKit, expectRefused as refused, startModules } from '../kit/modules.js';
import { backends } from '../kit/services.js';

const EMOJI = '\u{1F600}';
const jsonOfBytes = (bytes: number) => ({ a: 'x'.repeat(bytes - '{"a":""}'.length) });

describe.each(backends)('conversation rules on %s', (backend) => {
  let kit: ModuleKit;
  let alice: Viewer; // owner
  let bob: Viewer; // member
  let carol: Viewer; // member
  let dave: Viewer; // admin
  let mallory: Viewer; // same org, in none
  let eve: Viewer; // another org

  beforeAll(async () => {
    kit = await startModules(backend);
    [alice, bob, carol, dave, mallory] = await Promise.all(['alice', 'bob', 'carol', 'dave', 'mallory'].map((id) => kit.viewer(id)));
    eve = await kit.viewer('eve', { org: 'acme' });
  });
  afterAll(() => kit?.close());

  const conversations = () => kit.services.conversations;
  /** alice's GROUP "matrix": bob and carol MEMBERs, dave ADMIN. */
  const matrix = async () => {
    const { id } = await conversations().create(alice, { type: 'GROUP', name: 'matrix', participantIds: ['bob', 'carol'] });
    await conversations().addParticipant(alice, id, 'dave', 'ADMIN');
    return id;
  };
  const rolesOf = async (id: string) => {
    const roles: Record<string, string> = {};
    for (const userId of ['alice', 'bob', 'carol', 'dave', 'frank', 'mallory']) {
      const p = await conversations().participant(id, userId);
      if (p) roles[userId] = p.role;
    }
    return roles;
  };
  /** The conversation as stored and its participants, to compare before and after a refusal. */
  const stateOf = async (id: string) => ({ row: await conversations().access(alice, id), roles: await rolesOf(id) });

  const expectRefused = (id: string, code: string, attempt: () => Promise<unknown>, label?: string) => refused(code, attempt, () => stateOf(id), label);

  describe('managing a GROUP', () => {
    it('forbids MEMBERs to rename, add, remove or delete', async () => {
      const c = await matrix();
      await expectRefused(c, 'FORBIDDEN', () => conversations().update(bob, c, { name: 'renamed' }));
      await expectRefused(c, 'FORBIDDEN', () => conversations().update(bob, c, { preemptOnPriority: true }));
      await expectRefused(c, 'FORBIDDEN', () => conversations().addParticipant(bob, c, 'frank'));
      await expectRefused(c, 'FORBIDDEN', () => conversations().removeParticipant(bob, c, 'carol'));
      await expectRefused(c, 'FORBIDDEN', () => conversations().delete(bob, c));
      // The refused add did not create frank as a placeholder.
      expect(await kit.services.users.byIds('o', ['frank'])).toEqual([]);
    });

    it('lets ADMINs manage members and rename, but not touch owners, make owners or delete', async () => {
      const c = await matrix();
      await expectRefused(c, 'FORBIDDEN', () => conversations().removeParticipant(dave, c, 'alice'));
      await expectRefused(c, 'FORBIDDEN', () => conversations().addParticipant(dave, c, 'frank', 'OWNER'));
      await expectRefused(c, 'FORBIDDEN', () => conversations().delete(dave, c));

      expect(await conversations().update(dave, c, { name: 'renamed by dave' })).toMatchObject({ name: 'renamed by dave' });
      expect(await conversations().addParticipant(dave, c, 'frank')).toMatchObject({ userId: 'frank', role: 'MEMBER', lastReadSeq: 0 });
      expect(await conversations().removeParticipant(dave, c, 'frank')).toBe(true);
      await expectRefused(c, 'NOT_FOUND', () => conversations().removeParticipant(dave, c, 'frank'));
    });

    it('lets owners make owners; adding someone again with another role is CONFLICT', async () => {
      const c = await matrix();
      expect(await conversations().addParticipant(alice, c, 'frank', 'OWNER')).toMatchObject({ role: 'OWNER' });
      expect(await conversations().addParticipant(alice, c, 'bob')).toMatchObject({ role: 'MEMBER' });
      await expectRefused(c, 'CONFLICT', () => conversations().addParticipant(alice, c, 'bob', 'ADMIN'));
    });

    it('keeps outsiders out: FORBIDDEN for the org, NOT_FOUND for another org', async () => {
      const c = await matrix();
      for (const [viewer, code] of [
        [mallory, 'FORBIDDEN'],
        [eve, 'NOT_FOUND'],
      ] as const) {
        await expectRefused(c, code, () => conversations().get(viewer, c));
        await expectRefused(c, code, () => conversations().update(viewer, c, { name: 'taken' }));
        await expectRefused(c, code, () => conversations().addParticipant(viewer, c, 'intruder'));
        await expectRefused(c, code, () => conversations().removeParticipant(viewer, c, 'bob'));
        await expectRefused(c, code, () => conversations().leave(viewer, c));
        await expectRefused(c, code, () => conversations().delete(viewer, c));
        await expectRefused(c, code, () => conversations().markRead(viewer, c, 0));
      }
    });

    it('hands ownership to the longest-standing admin when the last owner leaves; only owners delete', async () => {
      const c = await matrix();
      await conversations().leave(alice, c);
      expect(await rolesOf(c)).toEqual({ bob: 'MEMBER', carol: 'MEMBER', dave: 'OWNER' });
      await expect(conversations().delete(bob, c)).rejects.toMatchObject({ code: 'FORBIDDEN' });
      expect(await conversations().delete(dave, c)).toBe(true);
      for (const viewer of [alice, bob, dave]) await expect(conversations().get(viewer, c)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    });

    it('locks out who left or was removed', async () => {
      const c = await matrix();
      await conversations().removeParticipant(alice, c, 'bob');
      await conversations().leave(carol, c);
      for (const gone of [bob, carol]) {
        await expect(conversations().get(gone, c)).rejects.toMatchObject({ code: 'FORBIDDEN' });
        await expect(conversations().markRead(gone, c, 0)).rejects.toMatchObject({ code: 'FORBIDDEN' });
        expect(await conversations().idsOf(gone)).not.toContain(c);
      }
      expect(await rolesOf(c)).toEqual({ alice: 'OWNER', dave: 'ADMIN' });
    });
  });

  describe('PRIVATE conversations', () => {
    it('have exactly one other participant and take no more', async () => {
      await expect(conversations().create(alice, { type: 'PRIVATE', participantIds: [] })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      await expect(conversations().create(alice, { type: 'PRIVATE', participantIds: ['bob', 'carol'] })).rejects.toMatchObject({
        code: 'BAD_USER_INPUT',
      });
      const { id } = await conversations().create(alice, { type: 'PRIVATE', participantIds: ['bob'] });
      await expectRefused(id, 'BAD_USER_INPUT', () => conversations().addParticipant(alice, id, 'carol'));
    });

    it('keep a removed participant from opening it again, until someone who manages it adds them', async () => {
      const { id } = await conversations().create(alice, { type: 'PRIVATE', participantIds: ['mallory'] });
      await conversations().removeParticipant(alice, id, 'mallory');
      await expectRefused(id, 'FORBIDDEN', () => conversations().create(mallory, { type: 'PRIVATE', participantIds: ['alice'] }));
      expect((await conversations().create(alice, { type: 'PRIVATE', participantIds: ['mallory'] })).id).toBe(id);
      expect(await rolesOf(id)).toEqual({ alice: 'OWNER', mallory: 'MEMBER' });
    });
  });

  describe('input', () => {
    it('takes names of up to 200 characters and refuses longer, empty or NUL ones', async () => {
      const name200 = EMOJI.repeat(200);
      const created = await conversations().create(alice, { type: 'GROUP', name: name200 });
      expect(created.name).toBe(name200);
      const before = await conversations().idsOf(alice);
      for (const name of ['n'.repeat(201), EMOJI.repeat(201), '', '   ', 'a\u0000', 'a\uD800']) {
        await expect(conversations().create(alice, { type: 'GROUP', name }), JSON.stringify(name)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
        await expectRefused(created.id, 'BAD_USER_INPUT', () => conversations().update(alice, created.id, { name }), JSON.stringify(name));
      }
      expect(await conversations().idsOf(alice)).toEqual(before);
    });

    it('refuses long descriptions, bad participant ids, too many participants and metadata over 16 KiB', async () => {
      const before = await conversations().idsOf(alice);
      const refused = [
        { description: 'd'.repeat(2001) },
        { participantIds: ['ok', 'bad\u0000'] },
        { participantIds: ['u'.repeat(201)] },
        { participantIds: Array.from({ length: 101 }, (_, i) => `crowd-${i}`) },
        { metadata: jsonOfBytes(16 * 1024 + 1) },
      ];
      for (const input of refused) {
        await expect(conversations().create(alice, { type: 'GROUP', ...input })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      }
      expect(await conversations().idsOf(alice)).toEqual(before);
      // None of the refused participants were created as users.
      expect(await kit.services.users.byIds('o', ['ok', 'crowd-0'])).toEqual([]);

      const fits = jsonOfBytes(16 * 1024);
      const created = await conversations().create(alice, { type: 'GROUP', metadata: fits });
      expect(created.metadata).toEqual(fits);
      await expectRefused(created.id, 'BAD_USER_INPUT', () => conversations().update(alice, created.id, { metadata: jsonOfBytes(16 * 1024 + 1) }));
    });

    it('moves a read marker forward only, never past the last message nor below 0', async () => {
      const c = await matrix();
      for (let i = 0; i < 3; i++) await kit.services.messages.send(alice, { conversationId: c, content: `m${i}` });
      expect((await conversations().markRead(bob, c, 2)).lastReadSeq).toBe(2);
      expect((await conversations().markRead(bob, c, 1)).lastReadSeq).toBe(2);
      await expect(conversations().markRead(bob, c, 4)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      await expect(conversations().markRead(bob, c, -1)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      expect((await conversations().participant(c, 'bob'))?.lastReadSeq).toBe(2);
    });
  });
});
