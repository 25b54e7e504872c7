// Evaluations (seed 003's quality loop): verdicts on messages, and a failed agent answer bringing
// in an expert.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ClaimExpertRequestDocument,
  EvaluateMessageDocument,
  type EvaluationInput,
  ExpertRequestsDocument,
  ExpertRequestUpdatedDocument,
  HandBackToAgentDocument,
  MessageEvaluationsDocument,
  SendControlDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import { evaluations as evaluationsTable } from '../../../src/db/schema/index.js';
import type { DomainEventMap } from '../../../src/events/domain-events.js';
import { allMessages, createApiKey, createGroup, expectCode, send, users } from '../../kit/requests.js';
import { type Auth, dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { collect } from '../../kit/subscriptions.js';
import { subscribed } from './helpers.js';

describe.each(backends)('evaluations on %s', (backend) => {
  let server: TestServer;
  let t: Record<'uma' | 'max', string>;
  let assistant: string;
  let judge: string;
  let erin: string;
  let admin: string;
  let evaluator: { apiKey: string };
  let acmeEvaluator: { apiKey: string };
  const removals: (() => void)[] = [];

  beforeAll(async () => {
    server = await startServer({ backend });
    t = await users(server, ['uma', 'max']);
    assistant = await server.token('assistant', { kind: 'agent', name: 'Assistant' });
    judge = await server.token('judge', { kind: 'agent', name: 'Judge' });
    erin = await server.token('erin', { roles: ['expert'], name: 'Erin' });
    admin = await server.token('ada', { roles: ['admin'], name: 'Ada' });
    for (const auth of [assistant, judge, erin, admin]) dataOf(await server.gql(auth, ViewerDocument));
    evaluator = { apiKey: (await createApiKey(server, { orgId: 'default', name: 'evals' })).key };
    acmeEvaluator = { apiKey: (await createApiKey(server, { orgId: 'acme', name: 'acme-evals' })).key };
  });
  afterEach(() => {
    for (const remove of removals.splice(0)) remove();
  });
  afterAll(() => server?.stop());

  const evaluate = (auth: Auth, messageId: string, input: EvaluationInput) => server.gql(auth, EvaluateMessageDocument, { messageId, input });
  const support = () => createGroup(server, t.uma, ['max', 'assistant'], 'support');
  const openRequests = async () => dataOf(await server.gql(erin, ExpertRequestsDocument, { first: 200 })).expertRequests.nodes;
  const storedEvaluations = async () => (await server.app.services.database.db.select().from(evaluationsTable)).length;

  it('stores a verdict with scores and a reason, shown on the message, by a service that takes no part in the conversation', async () => {
    const c = await support();
    const answer = await send(server, assistant, c, 'Your invoice is attached.');
    const raised: DomainEventMap['evaluationCreated'][] = [];
    removals.push(server.app.services.events.on('evaluationCreated', (e) => void raised.push(e)));

    const scores = { relevance: 0.92, safety: 1, notes: ['concise'] };
    const stored = dataOf(await evaluate(evaluator, answer.id, { verdict: 'PASS', scores, reason: 'on topic' })).evaluateMessage;
    expect(stored).toMatchObject({ messageId: answer.id, verdict: 'PASS', scores, reason: 'on topic', evaluator: { id: 'evals' } });
    dataOf(await evaluate(judge, answer.id, { verdict: 'PASS' }));
    dataOf(await evaluate(admin, answer.id, { verdict: 'PASS', reason: '' }));

    const [message] = dataOf(await server.gql(t.uma, MessageEvaluationsDocument, { conversationId: c, last: 1 })).messages.nodes;
    expect(message!.authorRole).toBe('AGENT');
    expect(message!.evaluations.map((e) => [e.evaluator.id, e.verdict])).toEqual([
      ['evals', 'PASS'],
      ['judge', 'PASS'],
      ['ada', 'PASS'],
    ]);
    expect(raised.map((e) => [e.actor.userId, e.evaluation.id === stored.id])).toEqual([
      ['evals', true],
      ['judge', false],
      ['ada', false],
    ]);
    expect(raised[0]!.evaluation).toMatchObject({ messageId: answer.id, conversationId: c, orgId: 'default', verdict: 'PASS', scores });
    // A PASS brings in nobody.
    expect((await openRequests()).filter((r) => r.conversationId === c)).toEqual([]);
  });

  it("opens an expert request with the evaluation's reason on a FAIL of an agent's answer in AGENT mode, once", async () => {
    const c = await support();
    const answer = await send(server, assistant, c, 'You owe us 1,000,000 EUR.');
    const queue = await subscribed(server, () => collect(server.ws(erin), ExpertRequestUpdatedDocument));
    const opened: DomainEventMap['expertRequestChanged'][] = [];
    removals.push(server.app.services.events.on('expertRequestChanged', (e) => void opened.push(e)));

    dataOf(await evaluate(evaluator, answer.id, { verdict: 'FAIL', scores: { accuracy: 0 }, reason: 'Hallucinated amount' }));
    const [live] = await queue.waitFor(1);
    expect(live!.expertRequestUpdated).toMatchObject({ conversationId: c, status: 'OPEN', reason: 'Hallucinated amount', requestedBy: { id: 'evals' } });
    expect(opened.map((e) => [e.change, e.actor.userId])).toEqual([['OPENED', 'evals']]);
    // The conversation is told, as when a person asks.
    const notes = (await allMessages(server, t.uma, c)).filter((m) => m.kind === 'SYSTEM');
    expect(notes).toMatchObject([{ content: 'Expert notified. You will receive a response shortly.', authorRole: 'SYSTEM', metadata: { event: 'REQUESTED' } }]);

    // A second FAIL while the request is open opens no other.
    dataOf(await evaluate(judge, answer.id, { verdict: 'FAIL', reason: 'Wrong' }));
    expect((await openRequests()).filter((r) => r.conversationId === c)).toHaveLength(1);
    expect(opened).toHaveLength(1);
    queue.stop();
  });

  it('opens no request for a FAIL of a person’s message, or while an expert answers', async () => {
    const c = await support();
    const question = await send(server, t.uma, c, 'Where is my invoice?');
    dataOf(await evaluate(evaluator, question.id, { verdict: 'FAIL', reason: 'rude' }));
    expect((await openRequests()).filter((r) => r.conversationId === c)).toEqual([]);

    // In EXPERT mode the expert answers: a failed agent message is already in human hands.
    dataOf(await server.gql(t.uma, SendControlDocument, { conversationId: c, input: { event: 'ROUTE', target: 'EXPERT' } }));
    const answer = await send(server, assistant, c, 'late answer');
    dataOf(await evaluate(evaluator, answer.id, { verdict: 'FAIL', reason: 'late' }));
    expect((await openRequests()).filter((r) => r.conversationId === c)).toEqual([]);
  });

  it('once the expert handed back, a new FAIL in AGENT mode opens a new request; while one is claimed, none', async () => {
    const c = await support();
    const first = await send(server, assistant, c, 'first answer');
    dataOf(await evaluate(evaluator, first.id, { verdict: 'FAIL', reason: 'one' }));
    const request = (await openRequests()).find((r) => r.conversationId === c)!;
    dataOf(await server.gql(erin, ClaimExpertRequestDocument, { id: request.id }));
    // Routed back to the agent while the request is still claimed: that one is still pending.
    dataOf(await server.gql(erin, SendControlDocument, { conversationId: c, input: { event: 'ROUTE', target: 'AGENT' } }));
    dataOf(await evaluate(evaluator, first.id, { verdict: 'FAIL', reason: 'two' }));
    expect((await openRequests()).filter((r) => r.conversationId === c)).toEqual([]);

    dataOf(await server.gql(erin, HandBackToAgentDocument, { conversationId: c }));
    const second = await send(server, assistant, c, 'second answer');
    dataOf(await evaluate(evaluator, second.id, { verdict: 'FAIL', reason: 'three' }));
    expect((await openRequests()).filter((r) => r.conversationId === c)).toMatchObject([{ reason: 'three', status: 'OPEN' }]);
  });

  it('refuses people, other orgs and bad input, storing nothing', async () => {
    const c = await support();
    const answer = await send(server, assistant, c, 'an answer');
    const before = await storedEvaluations();
    // People who are neither agents nor admins, experts included, do not evaluate.
    for (const auth of [t.uma, erin]) expectCode(await evaluate(auth, answer.id, { verdict: 'PASS' }), 'FORBIDDEN');
    expectCode(await evaluate(null, answer.id, { verdict: 'PASS' }), 'UNAUTHENTICATED');
    // Another org's evaluator does not find the message; nor does anyone find what is not there.
    expectCode(await evaluate(acmeEvaluator, answer.id, { verdict: 'FAIL', reason: 'x' }), 'NOT_FOUND');
    expectCode(await evaluate(evaluator, '00000000-0000-4000-8000-000000000000', { verdict: 'PASS' }), 'NOT_FOUND');
    expectCode(await evaluate(evaluator, 'not-a-uuid', { verdict: 'PASS' }), 'NOT_FOUND');
    // Scores over 4 KiB, too deep, or holding NUL; a reason over 1,000 characters; a verdict outside the enum.
    const bad: EvaluationInput[] = [
      { verdict: 'FAIL', scores: { blob: 'x'.repeat(4 * 1024) } },
      { verdict: 'FAIL', scores: JSON.parse('['.repeat(101) + ']'.repeat(101)) },
      { verdict: 'FAIL', scores: { 'a\u0000': 1 } },
      { verdict: 'FAIL', reason: 'r'.repeat(1001) },
      { verdict: 'MAYBE' as never },
    ];
    for (const input of bad) expectCode(await evaluate(evaluator, answer.id, input), 'BAD_USER_INPUT');
    expect(await storedEvaluations()).toBe(before);
    expect((await openRequests()).filter((r) => r.conversationId === c)).toEqual([]);
    // Just under the limit is fine.
    dataOf(await evaluate(evaluator, answer.id, { verdict: 'PASS', scores: { blob: 'x'.repeat(4 * 1024 - 20) } }));
  });
});
