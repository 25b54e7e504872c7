// Seed 003's quality loop with no socket: an evaluator service hears of agent answers by webhook
// (message.created), judges them over HTTP with an API key, and hears of its verdicts
// (evaluation.created) and of the expert request a FAIL opens (expert_request.opened) by webhook.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CreateWebhookDocument,
  DeleteWebhookDocument,
  EvaluateMessageDocument,
  MessageEvaluationsDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import { createApiKey, createGroup, send, users } from '../../kit/requests.js';
import { type Auth, dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { type Received, type Receiver, startReceiver, WEBHOOK_TEST_ENV } from '../../kit/webhook-receiver.js';

describe.each(backends)('an evaluator service on webhooks on %s', (backend) => {
  let server: TestServer;
  let receiver: Receiver;
  let uma: string;
  let assistant: string;
  let service: { apiKey: string };
  beforeAll(async () => {
    server = await startServer({ backend, env: WEBHOOK_TEST_ENV });
    receiver = await startReceiver();
    ({ uma } = await users(server, ['uma']));
    assistant = await server.token('assistant', { kind: 'agent', name: 'Assistant' });
    dataOf(await server.gql(assistant, ViewerDocument));
    service = { apiKey: (await createApiKey(server, { orgId: 'default', name: 'evals' })).key };
  });
  afterAll(async () => {
    await server?.stop();
    await receiver?.close();
  });

  const createWebhook = async (auth: Auth, events: string[]) =>
    dataOf(await server.gql(auth, CreateWebhookDocument, { input: { url: receiver.url, events } })).createWebhook;
  const ofType = async (type: string, match: (data: Record<string, unknown>) => boolean) => {
    const found = (all: Received[]) => all.find((r) => r.payload.type === type && match(r.payload.data));
    return found(await receiver.until((all) => found(all) !== undefined))!;
  };

  it('delivers evaluation.created, signed, with the evaluation as stored', async () => {
    const { webhook, secret } = await createWebhook(service, ['evaluation.created']);
    const c = await createGroup(server, uma, ['assistant'], 'judged');
    const answer = await send(server, assistant, c, 'Your invoice is attached.');
    const scores = { relevance: 0.9, notes: ['concise'] };
    const stored = dataOf(
      await server.gql(service, EvaluateMessageDocument, { messageId: answer.id, input: { verdict: 'PASS', scores, reason: 'on topic' } }),
    ).evaluateMessage;

    const got = await ofType('evaluation.created', (d) => d.id === stored.id);
    expect(receiver.verifies(got, secret)).toBe(true);
    expect(got.headers['webhook-id']).toBe(got.payload.id);
    expect(got.payload.data).toMatchObject({
      id: stored.id,
      messageId: answer.id,
      conversationId: c,
      orgId: 'default',
      evaluatorId: 'evals',
      verdict: 'PASS',
      scores,
      reason: 'on topic',
    });
    expect(new Date(got.payload.data.createdAt as string).getTime()).toBe(new Date(stored.createdAt).getTime());
    dataOf(await server.gql(service, DeleteWebhookDocument, { id: webhook.id }));
  });

  it('judges agent answers it hears of by message.created, and a FAIL opens an expert request', async () => {
    const { webhook, secret } = await createWebhook(service, ['message.created', 'evaluation.created', 'expert_request.opened']);
    // The service: it trusts only signed deliveries, judges each agent answer once (deliveries
    // come at least once; SYSTEM notes are not answers) and answers 200 at once, judging after.
    const judged = new Map<string, Promise<unknown>>();
    receiver.answer = (r) => {
      if (!receiver.verifies(r, secret)) return 401;
      const { type, data } = r.payload;
      if (type === 'message.created' && data.senderKind === 'AGENT' && data.kind === 'CHAT' && !judged.has(data.id as string)) {
        const input = { verdict: 'FAIL' as const, scores: { accuracy: 0 }, reason: `Made up: ${data.content as string}` };
        judged.set(data.id as string, server.gql(service, EvaluateMessageDocument, { messageId: data.id as string, input }).then(dataOf));
      }
      return 200;
    };
    try {
      const c = await createGroup(server, uma, ['assistant'], 'support');
      const question = await send(server, uma, c, 'How much do I owe?');
      const answer = await send(server, assistant, c, '1,000,000 EUR');

      const opened = await ofType('expert_request.opened', (d) => d.conversationId === c);
      expect(opened.payload.data).toMatchObject({ status: 'OPEN', reason: 'Made up: 1,000,000 EUR', requestedBy: 'evals' });
      const evaluation = await ofType('evaluation.created', (d) => d.messageId === answer.id);
      expect(evaluation.payload.data).toMatchObject({ verdict: 'FAIL', evaluatorId: 'evals', reason: 'Made up: 1,000,000 EUR' });
      // The person's question was heard too, and not judged.
      await ofType('message.created', (d) => d.id === question.id);
      expect([...judged.keys()]).toEqual([answer.id]);
      await Promise.all(judged.values());

      const messages = dataOf(await server.gql(uma, MessageEvaluationsDocument, { conversationId: c, last: 10 })).messages.nodes;
      expect(messages.find((m) => m.id === answer.id)!.evaluations.map((e) => [e.evaluator.id, e.verdict, e.reason])).toEqual([
        ['evals', 'FAIL', 'Made up: 1,000,000 EUR'],
      ]);
    } finally {
      receiver.answer = () => 200;
      dataOf(await server.gql(service, DeleteWebhookDocument, { id: webhook.id }));
    }
  });
});
