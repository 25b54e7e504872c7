// Structured answers: ordered parts appended to a stream, delivered with their index, caught up
// for late subscribers and after lost events, kept by the completed message; bad parts refused.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AppendMessageChunkDocument,
  AppendMessagePartDocument,
  CompleteMessageDocument,
  CreateConversationDocument,
  type MessagePartInput,
  MessageStreamDocument,
  type MessageStreamSubscription,
  MessagesDocument,
  StartMessageDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import { applyChunk, type MessagePart } from '../../../src/client/index.js';
import { LIMITS } from '../../../src/lib/validate.js';
import { AnswerStreamRepository } from '../../../src/modules/agents/answer-stream.repository.js';
import { freshOrg } from '../../kit/realtime.js';
import { codeOf, dataOf, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { type Collector, collect } from '../../kit/subscriptions.js';
import { describeTwoInstances, twoInstances } from '../../kit/two-instances.js';
import { type AgentWorld, agentWorld } from './helpers.js';

type Chunk = MessageStreamSubscription['messageStream'];

/** An answer with every kind of part, as an agent streams it. */
const ANSWER: MessagePartInput[] = [
  { type: 'REASONING', text: 'The user wants ' },
  { type: 'REASONING', text: 'the weather.' },
  { type: 'TEXT', text: 'Let me ' },
  { type: 'TEXT', text: 'check. ' },
  { type: 'TOOL_CALL', toolCallId: 'call-1', toolName: 'weather' },
  { type: 'TOOL_CALL', toolCallId: 'call-1', text: '{"city":' },
  { type: 'TOOL_CALL', toolCallId: 'call-1', text: '"Oslo"}', input: { city: 'Oslo' } },
  { type: 'TOOL_RESULT', toolCallId: 'call-1', toolName: 'weather', output: { celsius: 3 } },
  { type: 'SOURCE', text: 'https://weather.example/oslo', data: { title: 'Oslo' } },
  { type: 'DATA', data: { chart: [1, 2, 3] } },
  { type: 'TEXT', text: 'It is 3 °C in Oslo 🌧' },
];
const PARTS = [
  { type: 'REASONING', text: 'The user wants the weather.' },
  { type: 'TEXT', text: 'Let me check. ' },
  { type: 'TOOL_CALL', toolCallId: 'call-1', toolName: 'weather', text: '{"city":"Oslo"}', input: { city: 'Oslo' } },
  { type: 'TOOL_RESULT', toolCallId: 'call-1', toolName: 'weather', output: { celsius: 3 } },
  { type: 'SOURCE', text: 'https://weather.example/oslo', data: { title: 'Oslo' } },
  { type: 'DATA', data: { chart: [1, 2, 3] } },
  { type: 'TEXT', text: 'It is 3 °C in Oslo 🌧' },
];
const CONTENT = 'Let me check. It is 3 °C in Oslo 🌧';

/** Only the fields a part has, as the server keeps it. */
const compact = (parts: readonly MessagePart[]) =>
  parts.map((p) => Object.fromEntries(Object.entries(p).filter(([key, v]) => v !== null && key !== '__typename')));
/** What a subscriber rebuilds of one stream, folding its events in order. */
const fold = (events: { messageStream: Chunk }[], messageId: string) =>
  compact(
    events
      .map((e) => e.messageStream)
      .filter((c) => c.messageId === messageId)
      .reduce<MessagePart[]>((parts, c) => applyChunk(parts, c), []),
  );
/** What a text-only subscriber rebuilds from offset and chunk. */
const rebuildText = (events: { messageStream: Chunk }[]) => {
  let text: string[] = [];
  for (const { messageStream: c } of events) text = [...text.slice(0, c.offset), ...Array.from(c.chunk)];
  return text.join('');
};

describe.each(backends)('structured answers on %s', (backend) => {
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
  const start = async (conversationId: string, runId: string) =>
    dataOf(await server.gql(agent, StartMessageDocument, { input: { conversationId, runId } })).startMessage;
  const append = (id: string, part: MessagePartInput, as = agent) => server.gql(as, AppendMessagePartDocument, { id, part });
  /** A subscriber that is certainly listening: it has the catch-up of a stream already running. */
  const subscribed = async (conversationId: string): Promise<Collector<{ messageStream: Chunk }>> => {
    const sub = collect(server.ws(user), MessageStreamDocument, { conversationId });
    await sub.waitFor(1);
    return sub;
  };

  it('delivers each part with its index in order; a late subscriber gets the parts so far, then the rest; the message keeps them', async () => {
    const c = await newConversation();
    const probe = await start(c, 'probe');
    const early = await subscribed(c);
    const stream = await start(c, 'r1');
    const answers = [];
    for (const part of ANSWER.slice(0, 6)) answers.push(dataOf(await append(stream.id, part)).appendMessagePart);
    expect(answers.map((a) => [a.partIndex, a.textOffset])).toEqual([
      [0, 0],
      [0, 15],
      [1, 0],
      [1, 7],
      [2, 0],
      [2, 0],
    ]);
    expect(answers[3]).toMatchObject({ offset: 7, chunk: 'check. ', part: { type: 'TEXT', text: 'check. ' } });

    const late = collect(server.ws(user), MessageStreamDocument, { conversationId: c });
    // Catch-up: the probe's (empty) stream, then this stream's three parts so far, whole.
    const caughtUp = (await late.waitFor(4)).slice(1).map((e) => e.messageStream);
    expect(caughtUp.map((e) => [e.partIndex, e.textOffset, e.part?.type])).toEqual([
      [0, 0, 'REASONING'],
      [1, 0, 'TEXT'],
      [2, 0, 'TOOL_CALL'],
    ]);
    expect(caughtUp[0]!.part!.text).toBe('The user wants the weather.');
    expect(caughtUp[1]).toMatchObject({ offset: 0, chunk: 'Let me check. ' });

    for (const part of ANSWER.slice(6)) dataOf(await append(stream.id, part));
    // appendMessageChunk is a TEXT delta like any other.
    dataOf(await server.gql(agent, AppendMessageChunkDocument, { id: stream.id, chunk: '!' }));
    const done = dataOf(await server.gql(agent, CompleteMessageDocument, { id: stream.id })).completeMessage;
    const parts = [...PARTS.slice(0, -1), { type: 'TEXT', text: 'It is 3 °C in Oslo 🌧!' }];
    expect(done.content).toBe(`${CONTENT}!`);
    expect(compact(done.parts)).toEqual(parts);

    // start, eleven parts, one chunk, the end: each once, in order.
    const earlyEvents = (await early.waitFor(1 + 1 + ANSWER.length + 2)).filter((e) => e.messageStream.messageId === stream.id);
    expect(earlyEvents).toHaveLength(1 + ANSWER.length + 2);
    expect(earlyEvents.slice(1, -1).map((e) => e.messageStream.partIndex)).toEqual([0, 0, 1, 1, 2, 2, 2, 3, 4, 5, 6, 6]);
    expect(fold(earlyEvents, stream.id)).toEqual(parts);
    expect(rebuildText(earlyEvents)).toBe(`${CONTENT}!`);
    const lateEvents = (await late.waitFor(4 + ANSWER.length - 6 + 2)).filter((e) => e.messageStream.messageId === stream.id);
    expect(lateEvents).toHaveLength(3 + (ANSWER.length - 6) + 2);
    expect(fold(lateEvents, stream.id)).toEqual(parts);
    expect(rebuildText(lateEvents)).toBe(`${CONTENT}!`);
    const end = earlyEvents.at(-1)!.messageStream;
    expect(end).toMatchObject({ state: 'COMPLETED', part: null, partIndex: null });
    expect(compact(end.message!.parts)).toEqual(parts);

    const history = dataOf(await server.gql(user, MessagesDocument, { conversationId: c })).messages.nodes;
    expect(history.map((m) => m.id)).toEqual([stream.id]);
    dataOf(await server.gql(agent, AppendMessageChunkDocument, { id: probe.id, chunk: 'plain' }));
    const plain = dataOf(await server.gql(agent, CompleteMessageDocument, { id: probe.id })).completeMessage;
    expect(compact(plain.parts)).toEqual([{ type: 'TEXT', text: 'plain' }]);
    early.stop();
    late.stop();
  });

  it('starts a stream over for a subscriber that missed appends, with no gap and no duplicate', async () => {
    const c = await newConversation();
    const stream = await start(c, 'r2');
    const sub = await subscribed(c);
    dataOf(await append(stream.id, { type: 'TEXT', text: 'one ' }));
    await sub.waitFor(2);
    // Two appends whose events are lost: stored, never published.
    const repo = new AnswerStreamRepository(server.app.services.database.db);
    await repo.appendPart(stream.id, 1, [{ type: 'TEXT', text: 'one two ' }], 'two ', 4, LIMITS.contentChars);
    await repo.appendPart(
      stream.id,
      2,
      [
        { type: 'TEXT', text: 'one two ' },
        { type: 'DATA', data: 3 },
      ],
      '',
      0,
      LIMITS.contentChars,
    );
    dataOf(await append(stream.id, { type: 'TEXT', text: 'four' }));
    dataOf(await server.gql(agent, CompleteMessageDocument, { id: stream.id }));
    const events = await sub.waitFor(2 + 2 + 1 + 1);
    // The missed ones come from the database: all parts again, whole; the append that showed the gap is in them.
    expect(events.slice(2).map((e) => [e.messageStream.partIndex, e.messageStream.textOffset])).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
      [null, null],
    ]);
    const parts = [
      { type: 'TEXT', text: 'one two ' },
      { type: 'DATA', data: 3 },
      { type: 'TEXT', text: 'four' },
    ];
    expect(fold(events, stream.id)).toEqual(parts);
    expect(rebuildText(events)).toBe('one two four');
    expect(events.at(-1)!.messageStream.message!.content).toBe('one two four');
    sub.stop();
  });

  it('refuses bad parts with BAD_USER_INPUT and stores nothing; only the stream’s agent appends, and not after completion', async () => {
    const c = await newConversation();
    const stream = await start(c, 'r3');
    dataOf(await append(stream.id, { type: 'TEXT', text: 'kept' }));
    const bad: [unknown, string][] = [
      [{ type: 'TEXT', text: 'x'.repeat(LIMITS.contentChars + 1) }, 'part.text'],
      [{ type: 'REASONING', text: 'x', data: { no: 1 } }, 'part.data'],
      [{ type: 'TOOL_CALL', toolCallId: 'c' }, 'part.toolName'],
      [{ type: 'TOOL_RESULT', toolCallId: 'c' }, 'part.output'],
      [{ type: 'DATA', data: { blob: 'x'.repeat(LIMITS.partJsonBytes) } }, 'part.data'],
      [{ type: 'DATA', data: JSON.parse(`${'{"a":'.repeat(200)}1${'}'.repeat(200)}`) }, 'part.data'],
    ];
    for (const [part, field] of bad) {
      const refused = await append(stream.id, part as MessagePartInput);
      expect(codeOf(refused), JSON.stringify(part).slice(0, 80)).toBe('BAD_USER_INPUT');
      expect(refused.errors![0]!.extensions).toMatchObject({ field });
    }
    expect(codeOf(await append(stream.id, { type: 'IMAGE' as never, text: 'x' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await append(stream.id, { type: 'TEXT', text: 'mine' }, otherAgent))).toBe('FORBIDDEN');
    expect(codeOf(await append(stream.id, { type: 'TEXT', text: 'mine' }, user))).toBe('FORBIDDEN');

    // Parts per message.
    for (let i = 1; i < LIMITS.partsPerMessage; i++) dataOf(await append(stream.id, { type: 'DATA', data: i }));
    const tooMany = await append(stream.id, { type: 'DATA', data: 'one too many' });
    expect(codeOf(tooMany)).toBe('BAD_USER_INPUT');
    const done = dataOf(await server.gql(agent, CompleteMessageDocument, { id: stream.id })).completeMessage;
    expect(done.content).toBe('kept');
    expect(done.parts).toHaveLength(LIMITS.partsPerMessage);
    expect(codeOf(await append(stream.id, { type: 'TEXT', text: 'late' }))).toBe('BAD_USER_INPUT');
  });
});

describeTwoInstances('structured answers across two instances', () => {
  const servers = twoInstances();
  const org = freshOrg();

  it('parts appended on one instance reach subscribers of the other, early and late, each once and in order', async () => {
    const { a, b } = servers;
    const user = await a.token('uma', { org, name: 'Uma' });
    const agent = await a.token('assistant', { org, kind: 'agent', name: 'Assistant' });
    dataOf(await a.gql(agent, ViewerDocument));
    const c = dataOf(await a.gql(user, CreateConversationDocument, { input: { type: 'GROUP', name: 'two', participantIds: ['assistant'] } })).createConversation
      .id;
    const stream = dataOf(await a.gql(agent, StartMessageDocument, { input: { conversationId: c, runId: 'r1' } })).startMessage;
    const early = collect(b.ws(user), MessageStreamDocument, { conversationId: c });
    await early.waitFor(1);
    for (const part of ANSWER.slice(0, 5)) dataOf(await a.gql(agent, AppendMessagePartDocument, { id: stream.id, part }));
    const late = collect(b.ws(user), MessageStreamDocument, { conversationId: c });
    await late.waitFor(3);
    for (const part of ANSWER.slice(5)) dataOf(await a.gql(agent, AppendMessagePartDocument, { id: stream.id, part }));
    dataOf(await a.gql(agent, CompleteMessageDocument, { id: stream.id }));

    const earlyEvents = await early.waitFor(1 + ANSWER.length + 1);
    const lateEvents = await late.waitFor(3 + ANSWER.length - 5 + 1);
    expect(fold(earlyEvents, stream.id)).toEqual(PARTS);
    expect(fold(lateEvents, stream.id)).toEqual(PARTS);
    expect(earlyEvents.slice(1, -1).map((e) => e.messageStream.partIndex)).toEqual([0, 0, 1, 1, 2, 2, 2, 3, 4, 5, 6]);
    expect(rebuildText(lateEvents)).toBe(CONTENT);
    expect(compact(earlyEvents.at(-1)!.messageStream.message!.parts)).toEqual(PARTS);
    // No more than those: nothing repeated.
    await new Promise((r) => setTimeout(r, 200));
    expect(early.events).toHaveLength(1 + ANSWER.length + 1);
    expect(late.events).toHaveLength(3 + ANSWER.length - 5 + 1);
    early.stop();
    late.stop();
  });
});
