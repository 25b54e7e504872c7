// Steering by agent: PAUSE, RESUME, CANCEL and PREEMPT with `target` = an agent's id and no runId
// apply to every live run of that agent; `effectiveAt` in the future is refused; CANCEL stops a
// PREEMPTED run's non-interruptible stream.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AppendMessageChunkDocument,
  CompleteRunDocument,
  MessageStreamDocument,
  MessagesDocument,
  RunsDocument,
  SendMessageDocument,
  StartMessageDocument,
} from '../../../src/client/generated/graphql.js';
import { codeOf, dataOf, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { collect } from '../../kit/subscriptions.js';
import { type AgentWorld, agentWorld } from './helpers.js';

describe.each(backends)('steering agent runs on %s', (backend) => {
  let server: TestServer;
  let user: string;
  let agent: string;
  let otherAgent: string;
  let world: AgentWorld;

  beforeAll(async () => {
    world = await agentWorld(backend);
    ({ server, user, agent, otherAgent } = world);
  });
  afterAll(() => server?.stop());

  const newConversation = () => world.newConversation();
  const states = async (conversationId: string) =>
    Object.fromEntries(dataOf(await server.gql(user, RunsDocument, { conversationId })).runs.nodes.map((r) => [r.runId, r.state]));
  const control: AgentWorld['control'] = (...args) => world.control(...args);
  const says = (conversationId: string, runId: string, as = agent) =>
    server.gql(as, SendMessageDocument, { input: { conversationId, content: `in ${runId}`, runId, interruptible: true } });
  const controlCount = (conversationId: string) => world.controlCount(conversationId);

  it('PAUSE, RESUME, PREEMPT and CANCEL with an agent as target steer all its live runs, and no other', async () => {
    const c = await newConversation();
    for (const runId of ['a1', 'a2', 'a3']) dataOf(await says(c, runId));
    dataOf(await says(c, 'b1', otherAgent));
    dataOf(await server.gql(agent, CompleteRunDocument, { conversationId: c, runId: 'a3' }));

    const pause = dataOf(await control(user, c, { event: 'PAUSE', target: 'assistant', reason: 'hold on' })).sendControl;
    expect(pause).toMatchObject({ event: 'PAUSE', target: 'assistant', runId: null });
    expect(await states(c)).toEqual({ a1: 'PAUSED', a2: 'PAUSED', a3: 'COMPLETED', b1: 'ACTIVE' });
    expect(codeOf(await says(c, 'a1'))).toBe('BAD_USER_INPUT');

    dataOf(await control(user, c, { event: 'RESUME', runId: 'a2' }));
    // A PAUSE of the agent now moves only what is ACTIVE; RESUME of the agent what is PAUSED.
    dataOf(await control(user, c, { event: 'PAUSE', target: 'assistant' }));
    dataOf(await control(user, c, { event: 'RESUME', target: 'assistant' }));
    expect(await states(c)).toEqual({ a1: 'ACTIVE', a2: 'ACTIVE', a3: 'COMPLETED', b1: 'ACTIVE' });

    const marked = dataOf(await says(c, 'a1')).sendMessage;
    const preempt = dataOf(await control(user, c, { event: 'PREEMPT', target: 'assistant' })).sendControl;
    expect(await states(c)).toEqual({ a1: 'PREEMPTED', a2: 'PREEMPTED', a3: 'COMPLETED', b1: 'ACTIVE' });
    const history = dataOf(await server.gql(user, MessagesDocument, { conversationId: c })).messages.edges.map((e) => e.node);
    expect(history.find((m) => m.id === marked.id)!.preemptedBy).toBe(preempt.id);

    dataOf(await says(c, 'b2', otherAgent));
    dataOf(await control(user, c, { event: 'CANCEL', target: 'other-bot' }));
    expect(await states(c)).toMatchObject({ b1: 'CANCELLED', b2: 'CANCELLED', a1: 'PREEMPTED' });
  });

  it('an agent steers its own runs by target, not another agent’s; a target with no live run is relayed', async () => {
    const c = await newConversation();
    dataOf(await says(c, 'x1'));
    expect(codeOf(await control(otherAgent, c, { event: 'PAUSE', target: 'assistant' }))).toBe('FORBIDDEN');
    expect(await states(c)).toEqual({ x1: 'ACTIVE' });
    dataOf(await control(agent, c, { event: 'PAUSE', target: 'assistant' }));
    expect(await states(c)).toEqual({ x1: 'PAUSED' });

    // Nothing of other-bot's runs is live: the event is stored and relayed, changing no run.
    const before = await controlCount(c);
    dataOf(await control(user, c, { event: 'CANCEL', target: 'other-bot' }));
    expect(await controlCount(c)).toBe(before + 1);
    expect(await states(c)).toEqual({ x1: 'PAUSED' });
    // PRIORITY's target is the priority: it must name its run.
    expect(codeOf(await control(user, c, { event: 'PRIORITY', target: 'HIGH' }))).toBe('BAD_USER_INPUT');
  });

  it('refuses effectiveAt in the future and stores nothing; now or past is applied at once', async () => {
    const c = await newConversation();
    dataOf(await says(c, 'e1'));
    const before = await controlCount(c);
    const later = new Date(Date.now() + 60_000).toISOString();
    const refused = await control(user, c, { event: 'PAUSE', runId: 'e1', effectiveAt: later });
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');
    expect(refused.errors![0]!.extensions).toMatchObject({ field: 'effectiveAt' });
    expect(codeOf(await control(user, c, { event: 'PAUSE', target: 'assistant', effectiveAt: later }))).toBe('BAD_USER_INPUT');
    expect(await controlCount(c)).toBe(before);
    expect(await states(c)).toEqual({ e1: 'ACTIVE' });

    const earlier = new Date(Date.now() - 5_000).toISOString();
    const applied = dataOf(await control(user, c, { event: 'PAUSE', runId: 'e1', effectiveAt: earlier })).sendControl;
    expect(applied.effectiveAt).toBe(earlier);
    expect(await states(c)).toEqual({ e1: 'PAUSED' });
  });

  it('CANCEL stops a PREEMPTED run’s non-interruptible stream, which PREEMPT let go on', async () => {
    const c = await newConversation();
    const watcher = collect(server.ws(user), MessageStreamDocument, { conversationId: c });
    const firm = dataOf(
      await server.gql(agent, StartMessageDocument, { input: { conversationId: c, runId: 'p1', content: 'Step one.', interruptible: false } }),
    ).startMessage;
    await watcher.waitFor(1);
    dataOf(await control(user, c, { event: 'PREEMPT', runId: 'p1' }));
    dataOf(await server.gql(agent, AppendMessageChunkDocument, { id: firm.id, chunk: ' Step two.' }));
    dataOf(await control(user, c, { event: 'CANCEL', runId: 'p1' }));
    expect(await states(c)).toEqual({ p1: 'CANCELLED' });
    const last = (await watcher.waitFor(3)).at(-1)!.messageStream;
    expect(last).toMatchObject({ messageId: firm.id, state: 'CANCELLED', message: null });
    expect(codeOf(await server.gql(agent, AppendMessageChunkDocument, { id: firm.id, chunk: ' Three.' }))).toBe('BAD_USER_INPUT');
    // A cancelled run stays cancelled.
    expect(codeOf(await control(user, c, { event: 'CANCEL', runId: 'p1' }))).toBe('BAD_USER_INPUT');
    watcher.stop();
  });
});
