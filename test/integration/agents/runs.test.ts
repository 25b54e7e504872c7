// Agent runs end: completeRun, failRun, and completion when a run's last open stream completes;
// an ended run takes no output and no steering, leaves activeRuns and is listed by `runs`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AppendMessageChunkDocument,
  CompleteMessageDocument,
  CompleteRunDocument,
  ConversationRunsDocument,
  FailRunDocument,
  MessageStreamDocument,
  MessagesDocument,
  RunsDocument,
  SendMessageDocument,
  StartMessageDocument,
  UpdateConversationDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import type { DomainEventMap } from '../../../src/events/domain-events.js';
import { codeOf, dataOf, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { collect } from '../../kit/subscriptions.js';
import { type AgentWorld, agentWorld } from './helpers.js';

describe.each(backends)('agent runs on %s', (backend) => {
  let server: TestServer;
  let user: string;
  let agent: string;
  let otherAgent: string;
  let outsider: string;
  let world: AgentWorld;

  beforeAll(async () => {
    world = await agentWorld(backend);
    ({ server, user, agent, otherAgent } = world);
    outsider = await server.token('olga');
    dataOf(await server.gql(outsider, ViewerDocument));
  });
  afterAll(() => server?.stop());

  const newConversation = () => world.newConversation();
  const activeRuns = async (id: string) => dataOf(await server.gql(user, ConversationRunsDocument, { id })).conversation!.activeRuns;
  const runsOf = async (conversationId: string, args: { state?: 'ACTIVE' | 'COMPLETED' | 'FAILED'; first?: number; after?: string } = {}) =>
    dataOf(await server.gql(user, RunsDocument, { conversationId, ...args })).runs;
  const control: AgentWorld['control'] = (...args) => world.control(...args);
  const says = (conversationId: string, runId: string, content: string, as = agent) =>
    server.gql(as, SendMessageDocument, { input: { conversationId, content, runId, interruptible: true } });
  const start = (conversationId: string, runId: string, content = '') => server.gql(agent, StartMessageDocument, { input: { conversationId, runId, content } });
  const controlCount = (conversationId: string) => world.controlCount(conversationId);

  it('completeRun ends a run: no more output or steering, out of activeRuns, listed as COMPLETED', async () => {
    const c = await newConversation();
    dataOf(await says(c, 'r1', 'working on it'));
    expect(codeOf(await server.gql(user, CompleteRunDocument, { conversationId: c, runId: 'r1' }))).toBe('FORBIDDEN');
    expect(codeOf(await server.gql(otherAgent, CompleteRunDocument, { conversationId: c, runId: 'r1' }))).toBe('FORBIDDEN');
    expect(codeOf(await server.gql(agent, CompleteRunDocument, { conversationId: c, runId: 'nope' }))).toBe('NOT_FOUND');
    expect(codeOf(await server.gql(outsider, CompleteRunDocument, { conversationId: c, runId: 'r1' }))).toBe('FORBIDDEN');

    const done = dataOf(await server.gql(agent, CompleteRunDocument, { conversationId: c, runId: 'r1' })).completeRun;
    expect(done).toMatchObject({ runId: 'r1', conversationId: c, state: 'COMPLETED', agent: { id: 'assistant' }, reason: null });
    expect(Date.parse(done.endedAt!)).toBeGreaterThanOrEqual(Date.parse(done.createdAt));
    expect(await activeRuns(c)).toEqual([]);

    // No output: a message, a stream.
    const refused = await says(c, 'r1', 'one more thing');
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');
    expect(refused.errors![0]!.extensions).toMatchObject({ runState: 'COMPLETED' });
    expect(codeOf(await start(c, 'r1', 'late'))).toBe('BAD_USER_INPUT');
    // No steering, and nothing stored for it.
    const before = await controlCount(c);
    for (const event of ['PAUSE', 'RESUME', 'CANCEL', 'PREEMPT']) {
      expect(codeOf(await control(user, c, { event, runId: 'r1' }))).toBe('BAD_USER_INPUT');
    }
    expect(codeOf(await control(user, c, { event: 'PRIORITY', runId: 'r1', target: 'HIGH' }))).toBe('BAD_USER_INPUT');
    expect(await controlCount(c)).toBe(before);

    // Completing again answers the run as it is; failing it now is refused.
    expect(dataOf(await server.gql(agent, CompleteRunDocument, { conversationId: c, runId: 'r1' })).completeRun).toEqual(done);
    expect(codeOf(await server.gql(agent, FailRunDocument, { conversationId: c, runId: 'r1' }))).toBe('BAD_USER_INPUT');
    const history = dataOf(await server.gql(user, MessagesDocument, { conversationId: c })).messages.nodes;
    expect(history).toHaveLength(1);
  });

  it('failRun keeps its reason and discards the open streams; completeRun keeps them as messages', async () => {
    const c = await newConversation();
    const watcher = collect(server.ws(user), MessageStreamDocument, { conversationId: c });
    const failing = dataOf(await start(c, 'r-fail', 'half a')).startMessage;
    await watcher.waitFor(1);
    const failed = dataOf(await server.gql(agent, FailRunDocument, { conversationId: c, runId: 'r-fail', reason: 'model timed out' })).failRun;
    expect(failed).toMatchObject({ state: 'FAILED', reason: 'model timed out' });
    expect(failed.endedAt).not.toBeNull();
    const [, cancelled] = await watcher.waitFor(2);
    expect(cancelled!.messageStream).toMatchObject({ messageId: failing.id, state: 'CANCELLED', message: null });
    expect(codeOf(await server.gql(agent, AppendMessageChunkDocument, { id: failing.id, chunk: 'nswer' }))).toBe('BAD_USER_INPUT');

    const kept = dataOf(await start(c, 'r-done', 'the whole answer')).startMessage;
    const empty = dataOf(await start(c, 'r-done')).startMessage;
    await watcher.waitFor(4);
    dataOf(await server.gql(agent, CompleteRunDocument, { conversationId: c, runId: 'r-done' }));
    const ends = (await watcher.waitFor(6)).slice(4).map((e) => e.messageStream);
    expect(ends).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ messageId: kept.id, state: 'COMPLETED', message: expect.objectContaining({ content: 'the whole answer' }) }),
        expect.objectContaining({ messageId: empty.id, state: 'CANCELLED', message: null }),
      ]),
    );
    const history = dataOf(await server.gql(user, MessagesDocument, { conversationId: c })).messages.nodes;
    expect(history.map((m) => m.id)).toEqual([kept.id]);
    expect((await runsOf(c)).nodes.map((r) => [r.runId, r.state])).toEqual([
      ['r-fail', 'FAILED'],
      ['r-done', 'COMPLETED'],
    ]);
    watcher.stop();
  });

  it('a run completes when its last open stream completes, not before; a paused run does not', async () => {
    const c = await newConversation();
    const one = dataOf(await start(c, 'r2', 'first')).startMessage;
    const two = dataOf(await start(c, 'r2', 'second')).startMessage;
    dataOf(await server.gql(agent, CompleteMessageDocument, { id: one.id }));
    expect(await activeRuns(c)).toMatchObject([{ runId: 'r2', state: 'ACTIVE' }]);
    dataOf(await server.gql(agent, AppendMessageChunkDocument, { id: two.id, chunk: ' and last' }));
    dataOf(await server.gql(agent, CompleteMessageDocument, { id: two.id }));
    expect(await activeRuns(c)).toEqual([]);
    expect((await runsOf(c, { state: 'COMPLETED' })).nodes).toMatchObject([{ runId: 'r2', state: 'COMPLETED' }]);

    // A run that only sent messages stays ACTIVE until its agent completes it.
    dataOf(await says(c, 'r3', 'a plain message'));
    expect(await activeRuns(c)).toMatchObject([{ runId: 'r3', state: 'ACTIVE' }]);
  });

  it('a later urgent message preempts no finished run', async () => {
    const c = await newConversation();
    dataOf(await server.gql(user, UpdateConversationDocument, { id: c, input: { preemptOnPriority: true } }));
    const stream = dataOf(await start(c, 'r4', 'an answer')).startMessage;
    dataOf(await server.gql(agent, CompleteMessageDocument, { id: stream.id }));
    dataOf(await says(c, 'r5', 'also done'));
    dataOf(await server.gql(agent, CompleteRunDocument, { conversationId: c, runId: 'r5' }));
    dataOf(await server.gql(user, SendMessageDocument, { input: { conversationId: c, content: 'URGENT', priority: 'CRITICAL' } }));
    expect(await controlCount(c)).toBe(0);
    const history = dataOf(await server.gql(user, MessagesDocument, { conversationId: c })).messages.nodes;
    expect(history).toHaveLength(3);
    expect((await runsOf(c)).nodes.map((r) => r.state)).toEqual(['COMPLETED', 'COMPLETED']);
  });

  it('lists runs page by page, filtered by state, for participants only', async () => {
    const c = await newConversation();
    for (const runId of ['a', 'b', 'c']) dataOf(await says(c, runId, `run ${runId}`));
    dataOf(await control(user, c, { event: 'PAUSE', runId: 'b' }));
    const first = await runsOf(c, { first: 2 });
    expect(first.nodes.map((r) => [r.runId, r.state])).toEqual([
      ['a', 'ACTIVE'],
      ['b', 'PAUSED'],
    ]);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const rest = await runsOf(c, { first: 2, after: first.pageInfo.endCursor! });
    expect(rest.nodes.map((r) => r.runId)).toEqual(['c']);
    expect(rest.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    expect((await runsOf(c, { state: 'ACTIVE' })).nodes.map((r) => r.runId)).toEqual(['a', 'c']);
    expect(codeOf(await server.gql(outsider, RunsDocument, { conversationId: c }))).toBe('FORBIDDEN');
    expect(codeOf(await server.gql(user, RunsDocument, { conversationId: c, after: 'bogus' }))).toBe('BAD_USER_INPUT');
  });

  it('raises runChanged when a run starts, moves and ends', async () => {
    const c = await newConversation();
    const seen: DomainEventMap['runChanged'][] = [];
    const off = server.app.services.events.on('runChanged', (e) => void seen.push(e));
    try {
      const stream = dataOf(await start(c, 'r6', 'hello')).startMessage;
      dataOf(await control(user, c, { event: 'PAUSE', runId: 'r6' }));
      dataOf(await control(user, c, { event: 'RESUME', runId: 'r6' }));
      dataOf(await server.gql(agent, CompleteMessageDocument, { id: stream.id }));
      dataOf(await says(c, 'r7', 'hi'));
      dataOf(await server.gql(agent, FailRunDocument, { conversationId: c, runId: 'r7' }));
    } finally {
      off();
    }
    expect(seen.map((e) => [e.change, e.run.runId, e.run.state, e.actor.userId])).toEqual([
      ['STARTED', 'r6', 'ACTIVE', 'assistant'],
      ['UPDATED', 'r6', 'PAUSED', 'uma'],
      ['UPDATED', 'r6', 'ACTIVE', 'uma'],
      ['ENDED', 'r6', 'COMPLETED', 'assistant'],
      ['STARTED', 'r7', 'ACTIVE', 'assistant'],
      ['ENDED', 'r7', 'FAILED', 'assistant'],
    ]);
  });
});
