// Control events on the services themselves: which run transitions each event makes and refuses,
// who may send which event, what PREEMPT and CANCEL do to a run's output, and that a refused
// event is not stored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import type { ControlEventInput } from '../../src/modules/control/control.service.js';
import { type ModuleKit, expectRefused as refused, startModules } from '../kit/modules.js';
import { backends } from '../kit/services.js';

type RunState = 'ACTIVE' | 'PAUSED' | 'CANCELLED' | 'PREEMPTED';

describe.each(backends)('control rules on %s', (backend) => {
  let kit: ModuleKit;
  let uma: Viewer; // owner: the person talking to the assistant
  let max: Viewer; // member
  let bot: Viewer; // the assistant, member
  let otherBot: Viewer; // another agent, member
  let erin: Viewer; // an expert, in none of the conversations
  let ada: Viewer; // an org admin, in none of the conversations

  beforeAll(async () => {
    kit = await startModules(backend);
    [uma, max, bot, otherBot, erin, ada] = await Promise.all([
      kit.viewer('uma'),
      kit.viewer('max'),
      kit.viewer('bot', { kind: 'AGENT' }),
      kit.viewer('other-bot', { kind: 'AGENT' }),
      kit.viewer('erin', { roles: ['expert'] }),
      kit.viewer('ada', { roles: ['admin'] }),
    ]);
  });
  afterAll(() => kit?.close());

  const newConversation = async (others = ['max', 'bot', 'other-bot']) =>
    (await kit.services.conversations.create(uma, { type: 'GROUP', name: 'support', participantIds: others })).id;
  const control = (viewer: Viewer, conversationId: string, input: ControlEventInput) => kit.services.control.send(viewer, conversationId, input);
  const agentSays = (conversationId: string, runId: string, content: string, interruptible = true) =>
    kit.services.messages.send(bot, { conversationId, content, runId, interruptible });
  const run = (conversationId: string, runId: string) => kit.run(conversationId, runId);
  const controlCount = async (conversationId: string) => (await kit.services.control.list(uma, conversationId, { first: 200 })).nodes.length;
  const stored = async (conversationId: string) => (await kit.services.messages.storedAfter(conversationId, 0, 200)).map((m) => m.message);

  /** Expects the event to be refused with `code`, storing no event and leaving the run as it was. */
  const expectRefused = (viewer: Viewer, conversationId: string, input: ControlEventInput, code: string) =>
    refused(
      code,
      () => control(viewer, conversationId, input),
      async () => ({ events: await controlCount(conversationId), run: input.runId ? await run(conversationId, input.runId) : null }),
      JSON.stringify(input),
    );

  /** A run of bot's in `state`, reached by the events a person sends. */
  async function runIn(state: RunState): Promise<{ c: string; runId: string }> {
    const c = await newConversation();
    await agentSays(c, 'r', 'working');
    const to: Record<RunState, ControlEventInput['event'] | null> = { ACTIVE: null, PAUSED: 'PAUSE', CANCELLED: 'CANCEL', PREEMPTED: 'PREEMPT' };
    const event = to[state];
    if (event) await control(uma, c, { event, runId: 'r' });
    expect((await run(c, 'r'))?.state).toBe(state);
    return { c, runId: 'r' };
  }

  describe('run transitions', () => {
    // Where each run event leads from each state; null: refused, nothing changes.
    const table: Record<string, Record<RunState, RunState | null>> = {
      PAUSE: { ACTIVE: 'PAUSED', PAUSED: null, CANCELLED: null, PREEMPTED: null },
      RESUME: { ACTIVE: null, PAUSED: 'ACTIVE', CANCELLED: null, PREEMPTED: null },
      // CANCEL ends a PREEMPTED run's non-interruptible stream, which PREEMPT let finish.
      CANCEL: { ACTIVE: 'CANCELLED', PAUSED: 'CANCELLED', CANCELLED: null, PREEMPTED: 'CANCELLED' },
      PREEMPT: { ACTIVE: 'PREEMPTED', PAUSED: 'PREEMPTED', CANCELLED: null, PREEMPTED: null },
    };
    for (const [event, from] of Object.entries(table)) {
      for (const [state, to] of Object.entries(from) as [RunState, RunState | null][]) {
        it(`${event} on a ${state} run ${to ? `makes it ${to}` : 'is refused'}`, async () => {
          const { c, runId } = await runIn(state);
          const input = { event: event as ControlEventInput['event'], runId };
          if (!to) return expectRefused(uma, c, input, 'BAD_USER_INPUT');
          const stored = await control(uma, c, input);
          expect(stored).toMatchObject({ event, runId, issuedBy: 'uma' });
          expect((await run(c, runId))?.state).toBe(to);
        });
      }
    }

    it('PRIORITY changes the priority of a live run only, to one of the four', async () => {
      const { c, runId } = await runIn('PAUSED');
      await control(uma, c, { event: 'PRIORITY', runId, target: 'HIGH' });
      expect(await run(c, runId)).toMatchObject({ state: 'PAUSED', priority: 'HIGH' });
      const ended = await runIn('CANCELLED');
      await expectRefused(uma, ended.c, { event: 'PRIORITY', runId: ended.runId, target: 'LOW' }, 'BAD_USER_INPUT');
    });

    it('steers every live run of the agent named by `target` when there is no runId', async () => {
      const { c } = await runIn('ACTIVE');
      await agentSays(c, 'r2', 'also working');
      await control(uma, c, { event: 'PAUSE', target: 'bot' });
      expect((await run(c, 'r'))?.state).toBe('PAUSED');
      expect((await run(c, 'r2'))?.state).toBe('PAUSED');
    });

    it('stores and relays an event for a run it has not seen: the agent may act on it', async () => {
      const c = await newConversation();
      expect(await control(uma, c, { event: 'PAUSE', runId: 'unknown' })).toMatchObject({ event: 'PAUSE', runId: 'unknown' });
      expect(await run(c, 'unknown')).toBeNull();
    });
  });

  describe('what an event needs', () => {
    it('refuses events without what they need (BAD_USER_INPUT), storing nothing', async () => {
      const c = await newConversation();
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
      for (const input of bad) await expectRefused(uma, c, input, 'BAD_USER_INPUT');
    });
  });

  describe('who may send which event', () => {
    it("lets people and the run's own agent steer a run, not another agent", async () => {
      const { c, runId } = await runIn('ACTIVE');
      await expectRefused(otherBot, c, { event: 'PAUSE', runId }, 'FORBIDDEN');
      await control(bot, c, { event: 'PAUSE', runId });
      await control(max, c, { event: 'RESUME', runId });
      expect((await run(c, runId))?.state).toBe('ACTIVE');
    });

    it('keeps non-participants out: FORBIDDEN in the org, whatever their role', async () => {
      const { c, runId } = await runIn('ACTIVE');
      await expectRefused(erin, c, { event: 'PAUSE', runId }, 'FORBIDDEN');
      await expectRefused(ada, c, { event: 'ROUTE', target: 'DIRECT' }, 'FORBIDDEN');
    });

    it('lets owners, admins, experts and whoever answers route, not other members', async () => {
      const c = await newConversation();
      await expectRefused(max, c, { event: 'ROUTE', target: 'DIRECT' }, 'FORBIDDEN');
      await expectRefused(bot, c, { event: 'ROUTE', target: 'DIRECT' }, 'FORBIDDEN');
      await expectRefused(uma, c, { event: 'ROUTE', target: 'nobody-here' }, 'BAD_USER_INPUT');

      await control(uma, c, { event: 'ROUTE', target: 'bot' });
      expect(await kit.services.conversations.get(uma, c)).toMatchObject({ mode: 'AGENT', assigneeId: 'bot' });
      // The assignee may route on; a mode keeps the assignee.
      await control(bot, c, { event: 'ROUTE', target: 'DIRECT' });
      expect(await kit.services.conversations.get(uma, c)).toMatchObject({ mode: 'DIRECT', assigneeId: 'bot' });

      for (const viewer of [erin, ada]) await kit.services.conversations.addParticipant(uma, c, viewer.userId);
      await control(erin, c, { event: 'ROUTE', target: 'EXPERT' });
      await control(ada, c, { event: 'ROUTE', target: 'max' });
      expect(await kit.services.conversations.get(uma, c)).toMatchObject({ mode: 'EXPERT', assigneeId: 'max' });
    });

    it('lets an agent take a conversation nobody answers with HANDOFF, and not one somebody does', async () => {
      const c = await newConversation();
      await control(otherBot, c, { event: 'HANDOFF', target: 'other-bot' });
      expect(await kit.services.conversations.get(uma, c)).toMatchObject({ mode: 'AGENT', assigneeId: 'other-bot' });
      await expectRefused(bot, c, { event: 'HANDOFF', target: 'bot' }, 'FORBIDDEN');
    });
  });

  describe("what an event does to a run's output", () => {
    it('PREEMPT marks the interruptible messages, keeps an interruptible stream as a message and lets a firm one finish', async () => {
      const c = await newConversation();
      const loose = await agentSays(c, 'r', 'part one');
      const firm = await agentSays(c, 'r', 'must stay', false);
      const cut = await kit.services.answers.start(bot, { conversationId: c, runId: 'r', content: 'half an ans' });
      const going = await kit.services.answers.start(bot, { conversationId: c, runId: 'r', content: 'Step one. ', interruptible: false });

      const event = await control(uma, c, { event: 'PREEMPT', runId: 'r' });
      const byId = new Map((await stored(c)).map((m) => [m.id, m]));
      expect(byId.get(loose.id)?.preemptedBy).toBe(event.id);
      expect(byId.get(firm.id)?.preemptedBy).toBeNull();
      expect(byId.get(cut.id)).toMatchObject({ content: 'half an ans', preemptedBy: event.id, seq: 3 });
      await expect(kit.services.answers.append(bot, cut.id, 'swer')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });

      await kit.services.answers.append(bot, going.id, 'Step two.');
      expect(await kit.services.answers.complete(bot, going.id)).toMatchObject({ content: 'Step one. Step two.', preemptedBy: null, seq: 4 });
      // The preempted run takes nothing new.
      await expect(agentSays(c, 'r', 'more')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      await expect(kit.services.answers.start(bot, { conversationId: c, runId: 'r' })).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
    });

    it('CANCEL discards the streams of the run, keeping no message', async () => {
      const c = await newConversation();
      const stream = await kit.services.answers.start(bot, { conversationId: c, runId: 'r', content: 'draft', interruptible: false });
      await control(uma, c, { event: 'CANCEL', runId: 'r' });
      expect(await kit.services.answers.get(stream.id)).toMatchObject({ state: 'CANCELLED' });
      await expect(kit.services.answers.complete(bot, stream.id)).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(await stored(c)).toEqual([]);
    });

    it('PAUSE holds back a completion until RESUME', async () => {
      const c = await newConversation();
      const stream = await kit.services.answers.start(bot, { conversationId: c, runId: 'r', content: 'a draft' });
      await control(uma, c, { event: 'PAUSE', runId: 'r' });
      await expect(kit.services.answers.complete(bot, stream.id)).rejects.toThrow(/PAUSED/);
      await expect(kit.services.answers.append(bot, stream.id, 'more')).rejects.toMatchObject({ code: 'BAD_USER_INPUT' });
      expect(await stored(c)).toEqual([]);
      await control(uma, c, { event: 'RESUME', runId: 'r' });
      expect(await kit.services.answers.complete(bot, stream.id)).toMatchObject({ id: stream.id, seq: 1, content: 'a draft' });
    });
  });

  describe('priority messages', () => {
    it("preempt a conversation's interruptible runs when a person sends HIGH or CRITICAL and it asks for that", async () => {
      const c = await newConversation();
      await agentSays(c, 'r1', 'long answer…');
      await agentSays(c, 'r2', 'firm answer', false);
      await kit.services.messages.send(uma, { conversationId: c, content: 'not urgent', priority: 'HIGH' });
      expect((await run(c, 'r1'))?.state).toBe('ACTIVE');

      await kit.services.conversations.update(uma, c, { preemptOnPriority: true });
      // An agent's urgent message preempts nothing, nor does a person's NORMAL one.
      await kit.services.messages.send(otherBot, { conversationId: c, content: 'alarm', priority: 'CRITICAL' });
      await kit.services.messages.send(uma, { conversationId: c, content: 'by the way' });
      expect((await run(c, 'r1'))?.state).toBe('ACTIVE');

      const urgent = await kit.services.messages.send(uma, { conversationId: c, content: 'STOP, wrong account', priority: 'CRITICAL' });
      expect((await run(c, 'r1'))?.state).toBe('PREEMPTED');
      expect((await run(c, 'r2'))?.state).toBe('ACTIVE');
      const events = (await kit.services.control.list(uma, c, { first: 200 })).nodes;
      expect(events).toMatchObject([{ event: 'PREEMPT', runId: 'r1', issuedBy: 'uma' }]);
      expect(events[0]?.reason).toContain(urgent.id);
    });
  });
});
