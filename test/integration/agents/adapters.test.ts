// The adapters of the typed client against a local OpenAI-compatible stand-in (no network): an AI
// SDK agent and an OpenAI Responses agent stream structured answers into runs and obey steering
// (PAUSE holds, CANCEL aborts the model request); a useChat transport sends, receives the answer
// as UI message chunks and picks a running answer up again after a "reload".
import { createOpenAI } from '@ai-sdk/openai';
import {
  extractReasoningMiddleware,
  isStepCount,
  readUIMessageStream,
  streamText,
  tool,
  toUIMessageStream,
  type UIMessage,
  type UIMessageChunk,
  wrapLanguageModel,
} from 'ai';
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { z } from 'zod';
import {
  pipeResponsesStream,
  type RunOutcome,
  runResponsesStream,
  runUIMessageStream,
  SwitchboardChatTransport,
  startRun,
} from '../../../src/client/adapters/index.js';
import { ConversationRunsDocument } from '../../../src/client/generated/graphql.js';
import { createSwitchboardClient, type MessagePart, type SwitchboardClient } from '../../../src/client/index.js';
import { freshOrg } from '../../kit/realtime.js';
import { eventually } from '../../kit/subscriptions.js';
import { describeTwoInstances, twoInstances } from '../../kit/two-instances.js';
import { type AgentWorld, agentWorld } from './helpers.js';
import { type StandIn, startOpenAiStandIn } from './openai-stand-in.js';

/** Only the fields a part has. */
const compact = (parts: readonly MessagePart[]) =>
  parts.map((p) => Object.fromEntries(Object.entries(p).filter(([key, v]) => v !== null && key !== '__typename')));

const userMessage = (id: string, text: string): UIMessage => ({ id, role: 'user', parts: [{ type: 'text', text }] });

/** Every chunk of a stream, and the UI message they build. */
async function readAll(stream: ReadableStream<UIMessageChunk>): Promise<{ chunks: UIMessageChunk[]; message?: UIMessage }> {
  const [a, b] = stream.tee();
  const chunks: UIMessageChunk[] = [];
  const collecting = (async () => {
    for await (const c of a as unknown as AsyncIterable<UIMessageChunk>) chunks.push(c);
  })();
  let message: UIMessage | undefined;
  for await (const m of readUIMessageStream({ stream: b })) message = m;
  await collecting;
  return { chunks, message };
}

/** An AI SDK agent answering each person's message in the conversation; its outcomes in order. */
function startAiSdkAgent(
  agent: SwitchboardClient,
  standIn: StandIn,
  conversationId: string,
  stops: (() => void)[],
): RunOutcome[] & { pending: Promise<RunOutcome>[] } {
  const outcomes = Object.assign([] as RunOutcome[], { pending: [] as Promise<RunOutcome>[] });
  const model = wrapLanguageModel({
    model: createOpenAI({ baseURL: standIn.baseURL, apiKey: 'test-key' }).chat('stand-in'),
    middleware: extractReasoningMiddleware({ tagName: 'think' }),
  });
  const tools = {
    get_weather: tool({
      description: 'The weather in a city',
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }) => ({ city, celsius: 3 }),
    }),
  };
  stops.push(
    agent.onMessage(
      conversationId,
      (m) => {
        if (m.sender.id !== 'uma') return;
        const run = runUIMessageStream(agent, { conversationId, traceId: m.traceId, agentId: 'assistant' }, (abortSignal) =>
          toUIMessageStream({
            stream: streamText({ model, prompt: m.content, tools, stopWhen: isStepCount(3), abortSignal }).stream,
            tools,
            sendSources: true,
          }),
        );
        outcomes.pending.push(run);
        void run.then((o) => outcomes.push(o));
      },
      { afterSeq: 0 },
    ),
  );
  return outcomes;
}

describe('model adapters', () => {
  let world: AgentWorld;
  let standIn: StandIn;
  let person: SwitchboardClient;
  let agent: SwitchboardClient;
  const stops: (() => void)[] = [];

  beforeAll(async () => {
    world = await agentWorld('pglite');
    standIn = await startOpenAiStandIn();
    person = createSwitchboardClient({ url: world.server.url, token: world.user, webSocketImpl: WebSocket });
    agent = createSwitchboardClient({ url: world.server.url, token: world.agent, webSocketImpl: WebSocket });
  });
  afterEach(() => {
    for (const stop of stops.splice(0)) stop();
  });
  afterAll(async () => {
    await Promise.all([person?.close(), agent?.close()]);
    await standIn?.close();
    await world?.server.stop();
  });

  const aiSdkAgent = (conversationId: string) => startAiSdkAgent(agent, standIn, conversationId, stops);

  it('pipes an AI SDK answer with reasoning, a tool call and a source into a run, and useChat gets it through the transport', async () => {
    const conversationId = await world.newConversation();
    const outcomes = aiSdkAgent(conversationId);
    const transport = new SwitchboardChatTransport(person);
    const stream = await transport.sendMessages({
      trigger: 'submit-message',
      chatId: conversationId,
      messageId: undefined,
      messages: [userMessage('q1', 'What is the weather in Oslo?')],
      abortSignal: undefined,
    });
    const { chunks, message } = await readAll(stream);
    await eventually(() => outcomes.length === 1);

    const [outcome] = outcomes;
    expect(outcome).toMatchObject({ reason: 'completed' });
    expect(outcome!.message?.content).toBe('Let me check. It is 3 °C in Oslo.');
    expect(compact(outcome!.message!.parts)).toEqual([
      { type: 'REASONING', text: 'The user wants the weather.' },
      { type: 'TEXT', text: 'Let me check. ' },
      { type: 'TOOL_CALL', toolCallId: 'call_1', toolName: 'get_weather', text: '{"city":"Oslo"}', input: { city: 'Oslo' } },
      { type: 'TOOL_RESULT', toolCallId: 'call_1', toolName: 'get_weather', output: { city: 'Oslo', celsius: 3 } },
      // The AI SDK gives the source after the first delta of the text citing it.
      { type: 'TEXT', text: 'It is 3 °C ' },
      { type: 'SOURCE', text: 'https://weather.example/oslo', data: { sourceId: expect.any(String), title: 'Oslo' } },
      { type: 'TEXT', text: 'in Oslo.' },
    ]);
    const runs = await person.runs(conversationId);
    expect(runs.nodes.map((r) => r.state)).toEqual(['COMPLETED']);
    // Two model calls: the tool call, then the answer with the tool's result.
    expect(standIn.requests.filter((r) => r.path.endsWith('/chat/completions')).length).toBeGreaterThanOrEqual(2);

    // What useChat would show: the same answer, built from the transport's chunks.
    expect(chunks[0]).toEqual({ type: 'start', messageId: outcome!.messageId });
    expect(chunks.at(-1)).toEqual({ type: 'finish' });
    expect(message?.id).toBe(outcome!.messageId);
    const ui = message!.parts.map((p) => {
      if (p.type === 'text' || p.type === 'reasoning') return { type: p.type, text: p.text };
      if (p.type === 'tool-get_weather') return { type: p.type, state: p.state, input: p.input, output: p.output };
      if (p.type === 'source-url') return { type: p.type, url: p.url, title: p.title };
      return { type: p.type };
    });
    expect(ui).toEqual([
      { type: 'reasoning', text: 'The user wants the weather.' },
      { type: 'text', text: 'Let me check. ' },
      { type: 'tool-get_weather', state: 'output-available', input: { city: 'Oslo' }, output: { city: 'Oslo', celsius: 3 } },
      { type: 'text', text: 'It is 3 °C ' },
      { type: 'source-url', url: 'https://weather.example/oslo', title: 'Oslo' },
      { type: 'text', text: 'in Oslo.' },
    ]);
  });

  it('gives useChat an answer whose stream it never heard, whole, from the answer as a message', async () => {
    const conversationId = await world.newConversation();
    const outcomes = aiSdkAgent(conversationId);
    // A subscription that missed the whole stream (it completed before the subscription was in place).
    const deaf: SwitchboardClient = { ...person, onStream: () => () => {} };
    const { chunks, message } = await readAll(
      await new SwitchboardChatTransport(deaf).sendMessages({
        trigger: 'submit-message',
        chatId: conversationId,
        messageId: undefined,
        messages: [userMessage('q-missed', 'What is the weather in Oslo?')],
        abortSignal: undefined,
      }),
    );
    await eventually(() => outcomes.length === 1);
    expect(chunks[0]).toEqual({ type: 'start', messageId: outcomes[0]!.messageId });
    expect(chunks.at(-1)).toEqual({ type: 'finish' });
    expect(message!.parts.map((p) => p.type)).toEqual(['reasoning', 'text', 'tool-get_weather', 'text', 'source-url', 'text']);
    expect(
      message!.parts
        .filter((p) => p.type === 'text')
        .map((p) => (p as { text: string }).text)
        .join(''),
    ).toBe('Let me check. It is 3 °C in Oslo.');
  });

  it('resumes after a reload an answer whose stream it cannot hear: the preempted answer comes as its message', async () => {
    const conversationId = await world.newConversation();
    const outcomes = aiSdkAgent(conversationId);
    let text = '';
    stops.push(
      person.onStream(conversationId, (e) => {
        text += e.chunk;
      }),
    );
    await person.sendMessage({ conversationId, content: 'slow, please' });
    await eventually(() => text.includes('tick2 '));
    const deaf: SwitchboardClient = { ...person, onStream: () => () => {} };
    const resumed = await new SwitchboardChatTransport(deaf).reconnectToStream({ chatId: conversationId });
    expect(resumed).not.toBeNull();
    expect((await world.control(world.user, conversationId, { event: 'PREEMPT', target: 'assistant' })).errors).toBeUndefined();
    const { chunks, message } = await readAll(resumed!);
    await eventually(() => outcomes.length === 1);
    expect(outcomes[0]).toMatchObject({ reason: 'preempted' });
    expect(chunks.at(-1)).toEqual({ type: 'abort', reason: 'preempted' });
    const kept = (await person.history(conversationId)).edges.at(-1)!.node;
    expect(kept.preemptedBy).not.toBeNull();
    expect(message!.parts).toHaveLength(1);
    expect(message!.parts[0]).toMatchObject({ type: 'text', text: kept.content, state: 'done' });
    expect(kept.content).toMatch(/^tick0 tick1 tick2 /);
  });

  it('holds an answer on PAUSE, goes on after RESUME, and aborts the model request on CANCEL by agent', async () => {
    const conversationId = await world.newConversation();
    const outcomes = aiSdkAgent(conversationId);
    const transport = new SwitchboardChatTransport(person);
    const stream = await transport.sendMessages({
      trigger: 'submit-message',
      chatId: conversationId,
      messageId: undefined,
      messages: [userMessage('q-slow', 'Talk slowly, please')],
      abortSignal: undefined,
    });
    const reading = readAll(stream);
    let text = '';
    stops.push(
      person.onStream(conversationId, (e) => {
        text = e.message?.content ?? text + e.chunk;
      }),
    );
    await eventually(() => text.includes('tick3 '));

    expect((await world.control(world.user, conversationId, { event: 'PAUSE', target: 'assistant' })).errors).toBeUndefined();
    // Whatever was on its way lands; after that nothing more while paused, also once the paused
    // run has read its state (every second).
    await new Promise((r) => setTimeout(r, 300));
    const held = text;
    await new Promise((r) => setTimeout(r, 1_300));
    expect(text).toBe(held);
    expect(outcomes).toHaveLength(0);

    expect((await world.control(world.user, conversationId, { event: 'RESUME', target: 'assistant' })).errors).toBeUndefined();
    await eventually(() => text.length > held.length + 20);

    const request = standIn.requests.at(-1)!;
    expect(request.aborted).toBe(false);
    expect((await world.control(world.user, conversationId, { event: 'CANCEL', target: 'assistant' })).errors).toBeUndefined();
    await eventually(() => outcomes.length === 1);
    expect(outcomes[0]).toMatchObject({ reason: 'cancelled' });
    await eventually(() => request.aborted);
    expect(request.finished).toBe(false);
    expect((await person.runs(conversationId)).nodes.map((r) => r.state)).toEqual(['CANCELLED']);

    const { chunks } = await reading;
    expect(chunks.at(-1)).toEqual({ type: 'abort', reason: 'cancelled' });
  });

  it('resumes a running answer after a reload from its start, and stopping the chat cancels the run', async () => {
    const conversationId = await world.newConversation();
    const outcomes = aiSdkAgent(conversationId);
    const first = new SwitchboardChatTransport(person);
    expect(await first.reconnectToStream({ chatId: conversationId })).toBeNull();
    const stream = await first.sendMessages({
      trigger: 'submit-message',
      chatId: conversationId,
      messageId: undefined,
      messages: [userMessage('q-reload', 'slow answer please')],
      abortSignal: undefined,
    });
    // The page reads a little of the answer and is reloaded.
    const reader = stream.getReader();
    let seen = '';
    while (!seen.includes('tick2 ')) {
      const { value } = await reader.read();
      if (value?.type === 'text-delta') seen += value.delta;
    }
    await reader.cancel();

    const reloaded = createSwitchboardClient({ url: world.server.url, token: world.user, webSocketImpl: WebSocket });
    const stop = new AbortController();
    const resumed = await new SwitchboardChatTransport(reloaded).reconnectToStream({ chatId: conversationId, abortSignal: stop.signal });
    expect(resumed).not.toBeNull();
    const chunks: UIMessageChunk[] = [];
    let text = '';
    const reading = (async () => {
      for await (const c of resumed as unknown as AsyncIterable<UIMessageChunk>) {
        chunks.push(c);
        if (c.type === 'text-delta') text += c.delta;
      }
    })();
    await eventually(() => text.includes('tick6 '));
    // The replay starts at the answer's start: nothing before the reload is missing.
    expect(chunks[0]).toMatchObject({ type: 'start' });
    expect(text.startsWith('tick0 tick1 tick2 ')).toBe(true);
    expect(text).toMatch(/^(tick\d+ )+$/);

    stop.abort();
    await reading;
    await eventually(() => outcomes.length === 1);
    expect(outcomes[0]).toMatchObject({ reason: 'cancelled' });
    expect(chunks.at(-1)).toEqual({ type: 'abort', reason: 'stopped' });
    await reloaded.close();
  });

  it('pipes OpenAI Responses streams into a run: a function call, its result, then the answer', async () => {
    const conversationId = await world.newConversation();
    const openai = new OpenAI({ baseURL: standIn.baseURL, apiKey: 'test-key' });
    const run = await startRun(agent, { conversationId });
    const input: OpenAI.Responses.ResponseInput = [{ role: 'user', content: 'What is the weather in Oslo?' }];
    const first = await openai.responses.create({ model: 'stand-in', input, stream: true }, { signal: run.signal });
    expect(await pipeResponsesStream(run, first)).toBeUndefined();
    run.write({ type: 'TOOL_RESULT', toolCallId: 'call_r1', toolName: 'get_weather', output: { celsius: 3 } });
    input.push(
      { type: 'function_call', call_id: 'call_r1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      { type: 'function_call_output', call_id: 'call_r1', output: '{"celsius":3}' },
    );
    const second = await openai.responses.create({ model: 'stand-in', input, stream: true }, { signal: run.signal });
    expect(await pipeResponsesStream(run, second)).toBeUndefined();
    const outcome = await run.complete();

    expect(outcome).toMatchObject({ reason: 'completed', runId: run.runId });
    expect(outcome.message?.content).toBe('It is 3 °C in Oslo.');
    expect(compact(outcome.message!.parts)).toEqual([
      { type: 'REASONING', text: 'The user wants the weather.' },
      { type: 'TOOL_CALL', toolCallId: 'call_r1', toolName: 'get_weather', text: '{"city":"Oslo"}', input: { city: 'Oslo' } },
      { type: 'TOOL_RESULT', toolCallId: 'call_r1', toolName: 'get_weather', output: { celsius: 3 } },
      { type: 'TEXT', text: 'It is 3 °C in Oslo.' },
      { type: 'SOURCE', text: 'https://weather.example/oslo', data: { title: 'Oslo' } },
    ]);
  });

  it('aborts an OpenAI Responses request when its run is cancelled by id', async () => {
    const conversationId = await world.newConversation();
    const openai = new OpenAI({ baseURL: standIn.baseURL, apiKey: 'test-key' });
    let text = '';
    stops.push(
      person.onStream(conversationId, (e) => {
        text += e.chunk;
      }),
    );
    const outcome = runResponsesStream(agent, { conversationId, runId: 'responses-slow' }, (signal) =>
      openai.responses.create({ model: 'stand-in', input: 'slow please', stream: true }, { signal }),
    );
    await eventually(() => text.includes('tick3 '));
    const request = standIn.requests.at(-1)!;
    expect((await world.control(world.user, conversationId, { event: 'CANCEL', runId: 'responses-slow' })).errors).toBeUndefined();
    expect(await outcome).toMatchObject({ reason: 'cancelled', runId: 'responses-slow' });
    await eventually(() => request.aborted);
    expect((await person.runs(conversationId)).nodes.map((r) => [r.runId, r.state])).toEqual([['responses-slow', 'CANCELLED']]);
  });

  it('ends a run whose model call was not given the signal when it is cancelled, releasing an OpenAI stream', async () => {
    const conversationId = await world.newConversation();
    const openai = new OpenAI({ baseURL: standIn.baseURL, apiKey: 'test-key' });
    let text = '';
    stops.push(
      person.onStream(conversationId, (e) => {
        text += e.chunk;
      }),
    );
    // AI SDK style: a ReadableStream of UI message chunks, from a model call without abortSignal.
    const model = createOpenAI({ baseURL: standIn.baseURL, apiKey: 'test-key' }).chat('stand-in');
    const fromAiSdk = runUIMessageStream(agent, { conversationId, runId: 'unsignalled-ui', agentId: 'assistant' }, () =>
      toUIMessageStream({ stream: streamText({ model, prompt: 'slow please' }).stream }),
    );
    await eventually(() => text.includes('tick2 '));
    const first = standIn.requests.at(-1)!;
    expect((await world.control(world.user, conversationId, { event: 'CANCEL', runId: 'unsignalled-ui' })).errors).toBeUndefined();
    // The run ends while the model goes on: streamText's request ends only with its abortSignal.
    expect(await fromAiSdk).toMatchObject({ reason: 'cancelled' });
    expect(first.finished).toBe(false);
    first.aborted = true; // the stand-in stops ticking

    // A model that stalls: the run still ends at once, and the stream is cancelled.
    text = '';
    const stalled = stalledModel();
    const fromStalled = runUIMessageStream(agent, { conversationId, runId: 'stalled', agentId: 'assistant' }, () => stalled.stream);
    await eventually(() => text.includes('waiting '));
    expect((await world.control(world.user, conversationId, { event: 'CANCEL', runId: 'stalled' })).errors).toBeUndefined();
    expect(await fromStalled).toMatchObject({ reason: 'cancelled' });
    expect(stalled.released).toBe(true);

    // OpenAI style: the SDK's own stream, iterated, from a request without signal.
    text = '';
    const fromOpenAi = runResponsesStream(agent, { conversationId, runId: 'unsignalled-responses', agentId: 'assistant' }, () =>
      openai.responses.create({ model: 'stand-in', input: 'slow please', stream: true }),
    );
    await eventually(() => text.includes('tick2 '));
    const second = standIn.requests.at(-1)!;
    expect((await world.control(world.user, conversationId, { event: 'CANCEL', runId: 'unsignalled-responses' })).errors).toBeUndefined();
    expect(await fromOpenAi).toMatchObject({ reason: 'cancelled' });
    await eventually(() => second.aborted);
  });

  it('aborts the model request on PREEMPT by agent, and fails the run when the model fails', async () => {
    const conversationId = await world.newConversation();
    const openai = new OpenAI({ baseURL: standIn.baseURL, apiKey: 'test-key' });
    let text = '';
    stops.push(
      person.onStream(conversationId, (e) => {
        text += e.chunk;
      }),
    );
    const preempted = runResponsesStream(agent, { conversationId, runId: 'to-preempt', agentId: 'assistant' }, (signal) =>
      openai.responses.create({ model: 'stand-in', input: 'slow please', stream: true }, { signal }),
    );
    await eventually(() => text.includes('tick2 '));
    const request = standIn.requests.at(-1)!;
    expect((await world.control(world.user, conversationId, { event: 'PREEMPT', target: 'assistant' })).errors).toBeUndefined();
    expect(await preempted).toMatchObject({ reason: 'preempted', runId: 'to-preempt' });
    await eventually(() => request.aborted);

    const failed = await runResponsesStream(agent, { conversationId, runId: 'to-fail', agentId: 'assistant' }, (signal) =>
      openai.responses.create({ model: 'stand-in', input: 'fail please', stream: true }, { signal }),
    );
    expect(failed).toMatchObject({ reason: 'failed', runId: 'to-fail', error: 'The model fell over' });
    const runs = (await person.runs(conversationId)).nodes.map((r) => [r.runId, r.state, r.reason]);
    expect(runs).toEqual([
      ['to-preempt', 'PREEMPTED', null],
      ['to-fail', 'FAILED', 'The model fell over'],
    ]);
  });

  it('obeys PAUSE, RESUME and CANCEL whose events it never got: a refused append holds it, its state check moves it on', async () => {
    const conversationId = await world.newConversation();
    const openai = new OpenAI({ baseURL: standIn.baseURL, apiKey: 'test-key' });
    // An agent whose control events are all lost on the way.
    const deaf: SwitchboardClient = { ...agent, onControl: () => () => {} };
    let text = '';
    stops.push(
      person.onStream(conversationId, (e) => {
        text = e.message?.content ?? text + e.chunk;
      }),
    );
    const run = await startRun(deaf, { conversationId, runId: 'deaf', agentId: 'assistant' });
    const piping = pipeResponsesStream(run, await openai.responses.create({ model: 'stand-in', input: 'slow please', stream: true }, { signal: run.signal }));
    await eventually(() => text.includes('tick2 '));
    expect((await world.control(world.user, conversationId, { event: 'PAUSE', runId: 'deaf' })).errors).toBeUndefined();
    await eventually(() => run.isPaused);
    const held = text;
    await new Promise((r) => setTimeout(r, 500));
    expect(text).toBe(held);

    expect((await world.control(world.user, conversationId, { event: 'RESUME', runId: 'deaf' })).errors).toBeUndefined();
    await eventually(() => !run.isPaused && text.length > held.length);
    // Paused again, then cancelled while paused: the state check finds the run ended.
    expect((await world.control(world.user, conversationId, { event: 'PAUSE', runId: 'deaf' })).errors).toBeUndefined();
    await eventually(() => run.isPaused);
    const request = standIn.requests.at(-1)!;
    expect((await world.control(world.user, conversationId, { event: 'CANCEL', runId: 'deaf' })).errors).toBeUndefined();
    await eventually(() => run.stopped === 'cancelled');
    expect(await piping).toBeUndefined();
    expect(await run.complete()).toMatchObject({ reason: 'cancelled' });
    await eventually(() => request.aborted);
  });

  it('stops a run whose CANCEL it never got while its model is stalled: nothing is left to append', async () => {
    const conversationId = await world.newConversation();
    const deaf: SwitchboardClient = { ...agent, onControl: () => () => {} };
    const stalled = stalledModel();
    const outcome = runUIMessageStream(deaf, { conversationId, runId: 'deaf-stalled', agentId: 'assistant' }, () => stalled.stream);
    await eventually(
      async () => (await world.server.gql(world.user, ConversationRunsDocument, { id: conversationId })).data?.conversation?.activeRuns.length === 1,
    );
    expect((await world.control(world.user, conversationId, { event: 'CANCEL', runId: 'deaf-stalled' })).errors).toBeUndefined();
    expect(await outcome).toMatchObject({ reason: 'cancelled' });
    expect(stalled.released).toBe(true);
  });
});

describeTwoInstances('model adapters across two instances', () => {
  const servers = twoInstances();
  const org = freshOrg();

  it('an agent on one instance answers a useChat on the other, and the chat stops it there', async () => {
    const { a, b } = servers;
    const standIn = await startOpenAiStandIn();
    const stops: (() => void)[] = [];
    const userToken = await a.token('uma', { org, name: 'Uma' });
    const agentToken = await a.token('assistant', { org, kind: 'agent', name: 'Assistant' });
    const person = createSwitchboardClient({ url: a.url, token: userToken, webSocketImpl: WebSocket });
    const agent = createSwitchboardClient({ url: b.url, token: agentToken, webSocketImpl: WebSocket });
    await agent.viewer();
    const { id: conversationId } = await person.createConversation({ type: 'GROUP', name: 'two', participantIds: ['assistant'] });
    const outcomes = startAiSdkAgent(agent, standIn, conversationId, stops);
    const transport = new SwitchboardChatTransport(person);

    const { message } = await readAll(
      await transport.sendMessages({
        trigger: 'submit-message',
        chatId: conversationId,
        messageId: undefined,
        messages: [userMessage('q1', 'What is the weather in Oslo?')],
        abortSignal: undefined,
      }),
    );
    await eventually(() => outcomes.length === 1);
    expect(outcomes[0]).toMatchObject({ reason: 'completed' });
    expect(message?.parts.find((p) => p.type === 'tool-get_weather')).toMatchObject({ state: 'output-available', output: { city: 'Oslo', celsius: 3 } });
    expect(
      message?.parts
        .filter((p) => p.type === 'text')
        .map((p) => (p as { text: string }).text)
        .join(''),
    ).toBe(outcomes[0]!.message!.content);

    const stop = new AbortController();
    const slow = await transport.sendMessages({
      trigger: 'submit-message',
      chatId: conversationId,
      messageId: undefined,
      messages: [userMessage('q2', 'slow, please')],
      abortSignal: stop.signal,
    });
    const reader = slow.getReader();
    let seen = '';
    while (!seen.includes('tick2 ')) {
      const { value } = await reader.read();
      if (value?.type === 'text-delta') seen += value.delta;
    }
    const request = standIn.requests.at(-1)!;
    stop.abort();
    await eventually(() => outcomes.length === 2);
    expect(outcomes[1]).toMatchObject({ reason: 'cancelled' });
    await eventually(() => request.aborted);

    for (const s of stops) s();
    await Promise.all([person.close(), agent.close()]);
    await standIn.close();
  });
});

/** A model that says "waiting " and then nothing more; `released` once the stream is cancelled. */
function stalledModel() {
  const model = {
    released: false,
    stream: new ReadableStream<UIMessageChunk>({
      start: (c) => {
        c.enqueue({ type: 'text-start', id: 't' });
        c.enqueue({ type: 'text-delta', id: 't', delta: 'waiting ' });
      },
      cancel: () => {
        model.released = true;
      },
    }),
  };
  return model;
}
