import { createOpenAI } from '@ai-sdk/openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunOutcome } from '../../../src/client/adapters/index.js';
import { MessageStreamDocument } from '../../../src/client/generated/graphql.js';
import { createSwitchboardClient, type SwitchboardClient } from '../../../src/client/index.js';
import { assistantSettings, startAssistant } from '../../../src/examples/assistant.js';
import { startSensor } from '../../../src/examples/sensor.js';
import { startServer, type TestServer } from '../../kit/server.js';
import { collect, eventually } from '../../kit/subscriptions.js';
import { startOpenAiStandIn } from './openai-stand-in.js';

/** The example services, driven end to end through the typed client as their users would. */
describe('example services', () => {
  let server: TestServer;
  const clients: SwitchboardClient[] = [];
  const clientFor = async (sub: string, kind?: 'agent') => {
    const token = await server.token(sub, { kind, name: sub });
    const client = createSwitchboardClient({ url: server.url, token, webSocketImpl: WebSocket });
    clients.push(client);
    await client.viewer();
    return client;
  };

  beforeAll(async () => {
    server = await startServer({ backend: 'pglite' });
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close()));
    await server?.stop();
  });

  it('the assistant streams an answer and obeys PAUSE, RESUME and PREEMPT', async () => {
    const assistantClient = await clientFor('assistant', 'agent');
    const stop = startAssistant({ client: assistantClient, selfId: 'assistant', tokenDelayMs: 40 });
    const alice = await clientFor('alice');
    const conversation = await alice.directConversation('assistant');
    const chunks: { messageId: string; state: string; runId?: string | null; offset: number; chunk: string }[] = [];
    const offStream = await server.live(() => alice.onStream(conversation.id, (e) => chunks.push(e)));
    /** How far the chunks received of a run reach into its text. */
    const reach = (run: string) => Math.max(0, ...chunks.filter((c) => c.runId === run).map((c) => c.offset + c.chunk.length));

    await alice.sendMessage({ conversationId: conversation.id, content: 'What is Switchboard?' });
    await eventually(() => chunks.length >= 3);
    const runId = chunks[0]!.runId!;
    await alice.sendControl(conversation.id, { event: 'PAUSE', runId });
    // The text the run had when the PAUSE took effect, as a subscriber arriving now gets it.
    const late = collect(server.ws(await server.token('alice')), MessageStreamDocument, { conversationId: conversation.id });
    const [{ messageStream: held }] = (await late.waitFor(1)) as [(typeof late.events)[number]];
    late.stop();
    expect(held).toMatchObject({ runId, offset: 0, state: 'STREAMING' });
    await eventually(() => reach(runId) === held.chunk.length);
    // Nothing streams while paused: whatever arrives before the RESUME (given the time to) is
    // within the text the pause found.
    await new Promise((r) => setTimeout(r, 400));
    expect(reach(runId)).toBe(held.chunk.length);
    await alice.sendControl(conversation.id, { event: 'RESUME', runId });
    await eventually(() => chunks.some((c) => c.state === 'COMPLETED'));
    const history = await alice.history(conversation.id);
    const answer = history.edges.at(-1)!.node;
    expect(answer.sender.id).toBe('assistant');
    expect(answer.content).toContain('What is Switchboard?');
    expect(answer.runId).toBe(runId);

    // A second question, preempted half way: the stream ends and nothing more is sent.
    await alice.sendMessage({ conversationId: conversation.id, content: 'Tell me more' });
    await eventually(() => chunks.filter((c) => c.runId && c.runId !== runId).length >= 3);
    const second = chunks.find((c) => c.runId && c.runId !== runId)!.runId!;
    await alice.sendControl(conversation.id, { event: 'PREEMPT', runId: second });
    await eventually(() => chunks.some((c) => c.runId === second && c.state === 'PREEMPTED'));
    // Nothing of it comes after its end: a third answer's first chunk is the barrier (one topic,
    // in order).
    const ended = chunks.findIndex((c) => c.runId === second && c.state === 'PREEMPTED');
    await alice.sendMessage({ conversationId: conversation.id, content: 'And one more thing' });
    await eventually(() => chunks.some((c) => c.runId !== runId && c.runId !== second));
    expect(chunks.slice(ended + 1).filter((c) => c.runId === second)).toEqual([]);
    offStream();
    stop();
  });

  it('the sensor takes commands and broadcasts readings as notifications to its subscribers', async () => {
    const sensorClient = await clientFor('thermometer', 'agent');
    let value = 20;
    const sensor = startSensor({ client: sensorClient, selfId: 'thermometer', read: () => (value += 0.5), intervalMs: 3_600_000 });
    const bob = await clientFor('bob');
    const conversation = await bob.directConversation('thermometer');
    const received: { kind: string; content: string; sender: string }[] = [];
    const off = bob.onMessage(conversation.id, (m) => received.push({ kind: m.kind, content: m.content, sender: m.sender.id }), { afterSeq: 0 });
    const fromSensor = () => received.filter((m) => m.sender === 'thermometer');

    await bob.sendMessage({ conversationId: conversation.id, content: 'subscribe', kind: 'COMMAND' });
    await eventually(() => fromSensor().length === 1);
    expect(fromSensor()[0]!.content).toMatch(/^Subscribed/);
    await sensor.broadcast();
    await sensor.broadcast();
    await eventually(() => fromSensor().length === 3);
    expect(fromSensor().slice(1)).toEqual([
      { kind: 'NOTIFICATION', content: '20.5°C', sender: 'thermometer' },
      { kind: 'NOTIFICATION', content: '21.0°C', sender: 'thermometer' },
    ]);
    await bob.sendMessage({ conversationId: conversation.id, content: 'range', kind: 'COMMAND' });
    await eventually(() => fromSensor().length === 4);
    expect(fromSensor()[3]!.content).toBe('Range over the last 2 readings: 20.5°C to 21.0°C.');
    await bob.sendMessage({ conversationId: conversation.id, content: 'unsubscribe', kind: 'COMMAND' });
    await eventually(() => fromSensor().length === 5);
    await sensor.broadcast();
    // The answer to a command sent after the broadcast is the barrier: no reading came before it.
    await bob.sendMessage({ conversationId: conversation.id, content: 'range', kind: 'COMMAND' });
    await eventually(() => fromSensor().length === 6);
    expect(fromSensor()[5]!.content).toMatch(/^Range over/);
    off();
    sensor.stop();
  });

  it('the assistant answers deterministically with reasoning, one tool call and its result, then text', async () => {
    const assistantClient = await clientFor('local-bot', 'agent');
    const outcomes: RunOutcome[] = [];
    const stop = startAssistant({ client: assistantClient, selfId: 'local-bot', tokenDelayMs: 0, onOutcome: (o) => outcomes.push(o) });
    const erin = await clientFor('erin');
    const conversation = await erin.directConversation('local-bot');
    const live: string[] = [];
    const offStream = await server.live(() => erin.onStream(conversation.id, (e) => e.part && live.push(e.part.type)));
    await erin.sendMessage({ conversationId: conversation.id, content: 'How many words is this?' });
    await eventually(() => outcomes.length === 1);
    expect(outcomes[0]).toMatchObject({ reason: 'completed' });
    const answer = outcomes[0]!.message!;
    const text =
      'You asked: "How many words is this?" (5 words). Here is what I can tell you: this is the example assistant, streaming its answer word by word.';
    expect(answer.content).toBe(text);
    expect(answer.parts.map((p) => Object.fromEntries(Object.entries(p).filter(([, v]) => v !== null)))).toEqual([
      { type: 'REASONING', text: 'The person asked "How many words is this?". I will count its words, then answer.' },
      {
        type: 'TOOL_CALL',
        toolCallId: 'word-count-1',
        toolName: 'word_count',
        text: '{"text":"How many words is this?"}',
        input: { text: 'How many words is this?' },
      },
      { type: 'TOOL_RESULT', toolCallId: 'word-count-1', toolName: 'word_count', output: { words: 5 } },
      { type: 'TEXT', text },
    ]);
    // Subscribers saw it stream part by part, in order, before it completed.
    await eventually(() => live.includes('TEXT'));
    expect([...new Set(live)]).toEqual(['REASONING', 'TOOL_CALL', 'TOOL_RESULT', 'TEXT']);
    expect((await erin.runs(conversation.id)).nodes.map((r) => r.state)).toEqual(['COMPLETED']);
    offStream();
    stop();
  });

  it('the assistant takes --slow or --token-delay-ms, and an OpenAI-compatible endpoint from the environment', () => {
    expect(assistantSettings([], {})).toEqual({ tokenDelayMs: 30, endpoint: undefined });
    expect(assistantSettings(['--slow'], {}).tokenDelayMs).toBe(150);
    expect(assistantSettings(['--token-delay-ms', '500'], {}).tokenDelayMs).toBe(500);
    expect(assistantSettings([], { ASSISTANT_TOKEN_DELAY_MS: '0' }).tokenDelayMs).toBe(0);
    expect(() => assistantSettings(['--token-delay-ms', 'soon'], {})).toThrow(/whole number/);
    expect(() => assistantSettings(['--fast'], {})).toThrow();
    expect(assistantSettings([], { OPENAI_BASE_URL: 'http://127.0.0.1:1/v1', ASSISTANT_MODEL: 'local-model' }).endpoint).toEqual({
      baseURL: 'http://127.0.0.1:1/v1',
      apiKey: '',
      modelId: 'local-model',
    });
  });

  it('the assistant streams from an OpenAI-compatible endpoint when one is configured', async () => {
    const standIn = await startOpenAiStandIn();
    const model = createOpenAI({ baseURL: standIn.baseURL, apiKey: 'sk-test' }).chat('test-model');
    const botClient = await clientFor('llm-bot', 'agent');
    const stop = startAssistant({ client: botClient, selfId: 'llm-bot', model, tokenDelayMs: 0 });
    const dana = await clientFor('dana');
    const conversation = await dana.directConversation('llm-bot');
    const answers: string[] = [];
    const off = dana.onMessage(conversation.id, (m) => m.sender.id === 'llm-bot' && answers.push(m.content), { afterSeq: 0 });
    await dana.sendMessage({ conversationId: conversation.id, content: 'Hi there' });
    await eventually(() => answers.length === 1);
    expect(answers[0]).toBe('Hello from the stand-in.');
    const asked = standIn.requests[0]!.body as { model: string; stream: boolean; messages: { role: string; content: unknown }[]; tools: unknown[] };
    expect(asked).toMatchObject({ model: 'test-model', stream: true });
    expect(asked.messages.at(-1)).toEqual({ role: 'user', content: 'Hi there' });
    expect(JSON.stringify(asked.tools)).toContain('word_count');
    off();
    stop();
    await standIn.close();
  });
});
