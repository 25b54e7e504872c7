import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddParticipantDocument,
  AppendMessageChunkDocument,
  AuditLogDocument,
  ClaimExpertRequestDocument,
  CompleteMessageDocument,
  ControlEventSubDocument,
  ControlEventsDocument,
  ConversationDocument,
  ConversationRunsDocument,
  CreateConversationDocument,
  DeleteMessageDocument,
  EditMessageDocument,
  ExpertRequestsDocument,
  ExpertRequestUpdatedDocument,
  HandBackToAgentDocument,
  LeaveConversationDocument,
  MessageAddedDocument,
  MessageStreamDocument,
  MessagesDocument,
  MessagesFilteredDocument,
  RemoveParticipantDocument,
  RequestExpertDocument,
  SendControlDocument,
  SendMessageDocument,
  StartMessageDocument,
  UpdateConversationDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import { codeOf, dataOf, startServer, statementsOf, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { collect, eventually } from '../../kit/subscriptions.js';

/** Updated messages with their senders. */
const UpdatedWithSender = parse(`
  subscription UpdatedWithSender($conversationId: ID!) {
    messageUpdated(conversationId: $conversationId) { id preemptedBy sender { id displayName } }
  }
`) as TypedDocumentNode<
  { messageUpdated: { id: string; preemptedBy: string | null; sender: { id: string; displayName: string } } },
  { conversationId: string }
>;

describe.each(backends)('agents and experts on %s', (backend) => {
  let server: TestServer;
  let user: string; // the person talking to the assistant (conversation owner)
  let member: string; // another person in the conversation
  let agent: string; // the assistant
  let otherAgent: string;
  let expert: string;
  let admin: string;

  beforeAll(async () => {
    server = await startServer({ backend });
    user = await server.token('uma', { name: 'Uma' });
    member = await server.token('max');
    agent = await server.token('assistant', { kind: 'agent', name: 'Assistant' });
    otherAgent = await server.token('other-bot', { kind: 'agent' });
    expert = await server.token('erin', { roles: ['expert'], name: 'Erin' });
    admin = await server.token('ada', { roles: ['admin'] });
    // Provision everyone once so they can be added by id.
    for (const t of [user, member, agent, otherAgent, expert, admin]) dataOf(await server.gql(t, ViewerDocument));
  });
  afterAll(() => server?.stop());

  const newConversation = async () =>
    dataOf(
      await server.gql(user, CreateConversationDocument, {
        input: { type: 'GROUP', name: 'support', participantIds: ['max', 'assistant', 'other-bot'] },
      }),
    ).createConversation.id;
  const runs = async (id: string, as = user) => dataOf(await server.gql(as, ConversationRunsDocument, { id })).conversation!;
  const control = (as: string, conversationId: string, input: Record<string, unknown>) =>
    server.gql(as, SendControlDocument, { conversationId, input: input as never });
  const agentSays = (conversationId: string, runId: string, content: string, interruptible = true) =>
    server.gql(agent, SendMessageDocument, { input: { conversationId, content, runId, interruptible } });

  it('PREEMPT marks the run’s interruptible messages and ends its stream, keeping the text so far', async () => {
    const c = await newConversation();
    const m1 = dataOf(await agentSays(c, 'r2', 'part one')).sendMessage;
    const m2 = dataOf(await agentSays(c, 'r2', 'must stay', false)).sendMessage;
    const stream = dataOf(await server.gql(agent, StartMessageDocument, { input: { conversationId: c, runId: 'r2' } })).startMessage;
    dataOf(await server.gql(agent, AppendMessageChunkDocument, { id: stream.id, chunk: 'half an ans' }));
    const watcher = collect(server.ws(user), MessageStreamDocument, { conversationId: c });
    await watcher.waitFor(1); // catch-up with the text so far

    const event = dataOf(await control(user, c, { event: 'PREEMPT', runId: 'r2', reason: 'stop' })).sendControl;
    const [end] = (await watcher.waitFor(2)).slice(1);
    expect(end!.messageStream).toMatchObject({ messageId: stream.id, state: 'PREEMPTED', message: { content: 'half an ans', preemptedBy: event.id } });

    const history = dataOf(await server.gql(user, MessagesDocument, { conversationId: c })).messages.edges.map((e) => e.node);
    const byId = new Map(history.map((m) => [m.id, m]));
    expect(byId.get(m1.id)!.preemptedBy).toBe(event.id);
    expect(byId.get(m2.id)!.preemptedBy).toBeNull();
    expect(byId.get(stream.id)).toMatchObject({ content: 'half an ans', preemptedBy: event.id, seq: 3 });
    expect(codeOf(await server.gql(agent, AppendMessageChunkDocument, { id: stream.id, chunk: 'swer' }))).toBe('BAD_USER_INPUT');
    watcher.stop();
  });

  it('PREEMPT announces the marked messages with their sender, read by no subscription', async () => {
    // The same preempt in a conversation nobody watches gives the statements a preempt costs.
    const [c, quiet] = [await newConversation(), await newConversation()];
    const marked: string[] = [];
    for (const text of ['one', 'two']) marked.push(dataOf(await agentSays(c, 'r20', text)).sendMessage.id);
    for (const text of ['one', 'two']) dataOf(await agentSays(quiet, 'r21', text));
    const watcher = await server.live(() => collect(server.ws(member), UpdatedWithSender, { conversationId: c }));
    const probes = watcher.events.length;
    const watched = await statementsOf(server, async () => {
      const event = dataOf(await control(user, c, { event: 'PREEMPT', runId: 'r20' })).sendControl;
      await watcher.waitFor(probes + 2);
      return event;
    });
    watcher.stop();
    const unwatched = await statementsOf(server, async () => dataOf(await control(user, quiet, { event: 'PREEMPT', runId: 'r21' })));
    expect(watched.statements).toBe(unwatched.statements);
    const announced = watcher.events.slice(probes).map((e) => e.messageUpdated);
    expect(announced.sort((a, b) => a.id.localeCompare(b.id))).toEqual(
      [...marked].sort().map((id) => ({ id, preemptedBy: watched.result.id, sender: { id: 'assistant', displayName: 'Assistant' } })),
    );
  });

  it('streams an answer chunk by chunk; a late subscriber gets the text so far, then the rest; completion makes one message', async () => {
    const c = await newConversation();
    const early = await server.live(() => collect(server.ws(user), MessageStreamDocument, { conversationId: c }));
    const stream = dataOf(await server.gql(agent, StartMessageDocument, { input: { conversationId: c, runId: 'r3' } })).startMessage;
    const a = dataOf(await server.gql(agent, AppendMessageChunkDocument, { id: stream.id, chunk: 'Hel' })).appendMessageChunk;
    const b = dataOf(await server.gql(agent, AppendMessageChunkDocument, { id: stream.id, chunk: 'lo' })).appendMessageChunk;
    expect([a.offset, b.offset]).toEqual([0, 3]);

    const late = collect(server.ws(member), MessageStreamDocument, { conversationId: c });
    const [catchUp] = await late.waitFor(1);
    expect(catchUp!.messageStream).toMatchObject({ messageId: stream.id, offset: 0, chunk: 'Hello', state: 'STREAMING' });

    dataOf(await server.gql(agent, AppendMessageChunkDocument, { id: stream.id, chunk: ' wörld 👋' }));
    const done = dataOf(await server.gql(agent, CompleteMessageDocument, { id: stream.id })).completeMessage;
    expect(done).toMatchObject({ id: stream.id, seq: 1, content: 'Hello wörld 👋', runId: 'r3' });

    // The early subscriber saw every chunk in order; both rebuild the same text.
    const rebuild = (events: { messageStream: { offset: number; chunk: string } }[]) => {
      let text: string[] = [];
      for (const e of events) text = [...text.slice(0, e.messageStream.offset), ...Array.from(e.messageStream.chunk)];
      return text.join('');
    };
    const earlyEvents = await early.waitFor(5); // start, Hel, lo, rest, completion
    const lateEvents = await late.waitFor(3); // catch-up, rest, completion
    expect(rebuild(earlyEvents)).toBe('Hello wörld 👋');
    expect(rebuild(lateEvents)).toBe('Hello wörld 👋');
    expect(earlyEvents.at(-1)!.messageStream).toMatchObject({ state: 'COMPLETED', message: { seq: 1 } });
    const history = dataOf(await server.gql(user, MessagesDocument, { conversationId: c })).messages.nodes;
    expect(history).toEqual([{ id: stream.id, seq: 1 }]);
    early.stop();
    late.stop();
  });

  it('a paused run takes no completion: completeMessage is refused until RESUME, also while an expert has the conversation', async () => {
    const c = await newConversation();
    const stream = dataOf(await server.gql(agent, StartMessageDocument, { input: { conversationId: c, runId: 'r30', content: 'a draft' } })).startMessage;
    dataOf(await control(user, c, { event: 'PAUSE', runId: 'r30' }));
    const refused = await server.gql(agent, CompleteMessageDocument, { id: stream.id });
    expect(codeOf(refused)).toBe('BAD_USER_INPUT');
    expect(refused.errors![0]!.message).toContain('PAUSED');
    expect(dataOf(await server.gql(user, MessagesDocument, { conversationId: c })).messages.nodes).toEqual([]);

    // An expert claiming the conversation pauses the run: the agent still cannot post its draft.
    dataOf(await control(user, c, { event: 'RESUME', runId: 'r30' }));
    const request = dataOf(await server.gql(user, RequestExpertDocument, { conversationId: c })).requestExpert;
    dataOf(await server.gql(expert, ClaimExpertRequestDocument, { id: request.id }));
    expect((await runs(c)).activeRuns).toMatchObject([{ runId: 'r30', state: 'PAUSED' }]);
    expect(codeOf(await server.gql(agent, CompleteMessageDocument, { id: stream.id }))).toBe('BAD_USER_INPUT');
    // Only the desk's own notes: the expert was requested and joined.
    const notes = dataOf(await server.gql(user, MessagesDocument, { conversationId: c })).messages.edges;
    expect(notes.map((e) => [e.node.kind, e.node.authorRole])).toEqual([
      ['SYSTEM', 'SYSTEM'],
      ['SYSTEM', 'SYSTEM'],
    ]);

    // Handed back (a third note), the run is active again and the stream, still open, completes.
    dataOf(await server.gql(expert, HandBackToAgentDocument, { conversationId: c }));
    const done = dataOf(await server.gql(agent, CompleteMessageDocument, { id: stream.id })).completeMessage;
    expect(done).toMatchObject({ id: stream.id, seq: 4, content: 'a draft', runId: 'r30', authorRole: 'AGENT' });
  });

  it('PREEMPT lets a non-interruptible stream finish and keeps an interruptible one: no text is lost', async () => {
    const c = await newConversation();
    const start = (runId: string, content: string, interruptible: boolean) =>
      server.gql(agent, StartMessageDocument, { input: { conversationId: c, runId, content, interruptible } });
    const firm = dataOf(await start('r31', 'Step one. ', false)).startMessage;
    const loose = dataOf(await start('r31', 'maybe', true)).startMessage;
    const watcher = collect(server.ws(user), MessageStreamDocument, { conversationId: c });
    await watcher.waitFor(2); // catch-up: the text so far of both

    const event = dataOf(await control(user, c, { event: 'PREEMPT', runId: 'r31' })).sendControl;
    const [ended] = (await watcher.waitFor(3)).slice(2);
    expect(ended!.messageStream).toMatchObject({ messageId: loose.id, state: 'PREEMPTED', message: { content: 'maybe', preemptedBy: event.id } });
    expect((await runs(c)).activeRuns).toEqual([]);

    // The non-interruptible answer goes on to its end and becomes a message, not marked preempted.
    dataOf(await server.gql(agent, AppendMessageChunkDocument, { id: firm.id, chunk: 'Step two.' }));
    const done = dataOf(await server.gql(agent, CompleteMessageDocument, { id: firm.id })).completeMessage;
    expect(done).toMatchObject({ id: firm.id, content: 'Step one. Step two.', preemptedBy: null, runId: 'r31' });
    const last = (await watcher.waitFor(5)).at(-1)!.messageStream;
    expect(last).toMatchObject({ messageId: firm.id, state: 'COMPLETED', message: { content: 'Step one. Step two.' } });

    // The preempted run takes nothing new.
    expect(codeOf(await start('r31', 'more', false))).toBe('BAD_USER_INPUT');
    expect(codeOf(await agentSays(c, 'r31', 'more', false))).toBe('BAD_USER_INPUT');
    const history = dataOf(await server.gql(user, MessagesDocument, { conversationId: c })).messages.nodes;
    expect(history.map((m) => m.id).sort()).toEqual([firm.id, loose.id].sort());
    watcher.stop();
  });

  it('CANCEL discards a stream', async () => {
    const c = await newConversation();
    const watcher = await server.live(() => collect(server.ws(user), MessageStreamDocument, { conversationId: c }));
    const stream = dataOf(await server.gql(agent, StartMessageDocument, { input: { conversationId: c, runId: 'r5', content: 'draft' } })).startMessage;
    dataOf(await control(user, c, { event: 'CANCEL', runId: 'r5' }));
    const events = await watcher.waitFor(2);
    expect(events[1]!.messageStream).toMatchObject({ messageId: stream.id, state: 'CANCELLED', message: null });
    expect(dataOf(await server.gql(user, MessagesDocument, { conversationId: c })).messages.nodes).toEqual([]);
    watcher.stop();
  });

  it('hands a conversation from the agent to an expert and back, all of it audited', async () => {
    const c = await newConversation();
    dataOf(await control(user, c, { event: 'ROUTE', target: 'assistant' }));
    dataOf(await agentSays(c, 'r7', 'I can help with that'));
    const [agentControl, queue] = await server.live(
      () => [collect(server.ws(agent), ControlEventSubDocument, { conversationId: c }), collect(server.ws(expert), ExpertRequestUpdatedDocument)] as const,
      2,
    );

    expect(codeOf(await server.gql(member, ExpertRequestsDocument, {}))).toBe('FORBIDDEN');
    const request = dataOf(await server.gql(user, RequestExpertDocument, { conversationId: c, reason: 'billing' })).requestExpert;
    expect(request).toMatchObject({ status: 'OPEN', reason: 'billing', requestedBy: { id: 'uma' } });
    const [live] = await queue.waitFor(1);
    expect(live!.expertRequestUpdated).toMatchObject({ id: request.id, status: 'OPEN' });
    const open = dataOf(await server.gql(expert, ExpertRequestsDocument, {})).expertRequests.nodes;
    expect(open.map((r) => r.id)).toContain(request.id);

    const claimed = dataOf(await server.gql(expert, ClaimExpertRequestDocument, { id: request.id })).claimExpertRequest;
    expect(claimed).toMatchObject({ status: 'CLAIMED', claimedBy: { id: 'erin' } });
    expect(codeOf(await server.gql(expert, ClaimExpertRequestDocument, { id: request.id }))).toBe('CONFLICT');
    expect(await runs(c, expert)).toMatchObject({ mode: 'EXPERT', assignee: { id: 'erin' }, activeRuns: [{ runId: 'r7', state: 'PAUSED' }] });
    const told = await agentControl.waitFor(2);
    expect(told.map((e) => [e.controlEvent.event, e.controlEvent.target ?? e.controlEvent.runId])).toEqual([
      ['PAUSE', 'r7'],
      ['HANDOFF', 'erin'],
    ]);

    dataOf(await server.gql(expert, SendMessageDocument, { input: { conversationId: c, content: 'Hi, Erin from billing here' } }));
    dataOf(await server.gql(expert, MessagesDocument, { conversationId: c, last: 10 }));
    const back = dataOf(await server.gql(expert, HandBackToAgentDocument, { conversationId: c })).handBackToAgent;
    expect(back.status).toBe('RESOLVED');
    expect(await runs(c)).toMatchObject({ mode: 'AGENT', assignee: { id: 'assistant' }, activeRuns: [{ runId: 'r7', state: 'ACTIVE' }] });

    expect(codeOf(await server.gql(user, AuditLogDocument, {}))).toBe('FORBIDDEN');
    const audit = dataOf(await server.gql(admin, AuditLogDocument, { first: 50 })).auditLog.nodes.filter((e) => e.conversationId === c);
    expect(new Set(audit.map((e) => e.action))).toEqual(new Set(['expert.claim', 'expert.write', 'expert.read', 'expert.handback']));
    expect(audit.every((e) => e.actor === 'user:erin')).toBe(true);
    agentControl.stop();
    queue.stop();
  });

  it('audits each read and write of an expert: edits, deletes, streamed answers, replaying subscriptions; live deliveries are no entries', async () => {
    const c = dataOf(await server.gql(user, CreateConversationDocument, { input: { type: 'GROUP', name: 'audited', participantIds: ['erin', 'assistant'] } }))
      .createConversation.id;
    const entries = async () =>
      (await server.app.services.audit.list('default', { limit: 1000 }))
        .filter((e) => e.conversationId === c)
        .reverse()
        .map((e) => [e.action, e.actor, e.details]);
    const write = (operation: string, messageId: string) => ['expert.write', 'user:erin', { operation, messageId }];

    // Writes: a send, an edit, a delete; a stream's start, chunk and completion.
    const sent = dataOf(await server.gql(expert, SendMessageDocument, { input: { conversationId: c, content: 'Erin here' } })).sendMessage;
    dataOf(await server.gql(expert, EditMessageDocument, { id: sent.id, content: 'Erin from billing here' }));
    dataOf(await server.gql(expert, DeleteMessageDocument, { id: sent.id }));
    const stream = dataOf(await server.gql(expert, StartMessageDocument, { input: { conversationId: c, content: 'Let me ' } })).startMessage;
    dataOf(await server.gql(expert, AppendMessageChunkDocument, { id: stream.id, chunk: 'check.' }));
    dataOf(await server.gql(expert, CompleteMessageDocument, { id: stream.id }));
    // Others' reads and writes are not the expert's.
    const theirs = dataOf(await server.gql(user, SendMessageDocument, { input: { conversationId: c, content: 'thanks' } })).sendMessage;
    dataOf(await server.gql(user, EditMessageDocument, { id: theirs.id, content: 'thanks!' }));
    const writes = [
      write('sendMessage', sent.id),
      write('editMessage', sent.id),
      write('deleteMessage', sent.id),
      write('startMessage', stream.id),
      write('appendMessageChunk', stream.id),
      write('completeMessage', stream.id),
    ];
    expect(await entries()).toEqual(writes);

    // A subscription that replays stored messages is one read, however many it replays; the
    // live message after it is no entry of its own.
    const replay = collect(server.ws(expert), MessageAddedDocument, { conversationId: c, afterSeq: 0 });
    await replay.waitFor(3);
    const resumed = ['expert.read', 'user:erin', { operation: 'messageAdded', afterSeq: 0 }];
    expect(await entries()).toEqual([...writes, resumed]);
    dataOf(await server.gql(user, SendMessageDocument, { input: { conversationId: c, content: 'one more thing' } }));
    await replay.waitFor(4);
    replay.stop();
    expect(await entries()).toEqual([...writes, resumed]);
    // The streamed answers' subscription starts with the text so far of running streams: a read.
    const chunks = collect(server.ws(expert), MessageStreamDocument, { conversationId: c });
    const streamed = ['expert.read', 'user:erin', { operation: 'messageStream' }];
    await eventually(async () => (await entries()).length === writes.length + 2);
    expect(await entries()).toEqual([...writes, resumed, streamed]);
    chunks.stop();
  });

  it('lets an expert removed from a conversation back in only through a manager, not by claiming a request there', async () => {
    const c = await newConversation();
    const expertRequests = async () => dataOf(await server.gql(expert, ExpertRequestsDocument, {})).expertRequests.nodes;
    const participants = async () => dataOf(await server.gql(user, ConversationDocument, { id: c })).conversation!.participants;
    const participantIds = async () => (await participants()).map((p) => p.user.id).sort();
    dataOf(await server.gql(user, AddParticipantDocument, { conversationId: c, userId: 'erin' }));
    dataOf(await server.gql(user, RemoveParticipantDocument, { conversationId: c, userId: 'erin' }));
    const request = dataOf(await server.gql(user, RequestExpertDocument, { conversationId: c })).requestExpert;

    expect(codeOf(await server.gql(expert, ClaimExpertRequestDocument, { id: request.id }))).toBe('FORBIDDEN');
    expect((await expertRequests()).find((r) => r.id === request.id)).toMatchObject({ status: 'OPEN' });
    expect(await participantIds()).toEqual(['assistant', 'max', 'other-bot', 'uma']);

    // Added back by the owner, then leaving of her own accord: a claim may bring her back.
    dataOf(await server.gql(user, AddParticipantDocument, { conversationId: c, userId: 'erin' }));
    dataOf(await server.gql(expert, LeaveConversationDocument, { conversationId: c }));
    expect(dataOf(await server.gql(expert, ClaimExpertRequestDocument, { id: request.id })).claimExpertRequest.status).toBe('CLAIMED');
    expect((await participants()).find((p) => p.user.id === 'erin')).toMatchObject({ role: 'ADMIN' });
  });

  it('a HIGH message from a person preempts interruptible runs when the conversation says so; messages filter by priority and kind', async () => {
    const c = await newConversation();
    dataOf(await agentSays(c, 'r8', 'long answer…'));
    dataOf(await server.gql(user, SendMessageDocument, { input: { conversationId: c, content: 'not urgent', priority: 'HIGH' } }));
    expect((await runs(c)).activeRuns.map((r) => r.state)).toEqual(['ACTIVE']);

    dataOf(await server.gql(user, UpdateConversationDocument, { id: c, input: { preemptOnPriority: true } }));
    const urgent = dataOf(
      await server.gql(user, SendMessageDocument, { input: { conversationId: c, content: 'STOP, wrong account', priority: 'CRITICAL' } }),
    ).sendMessage;
    expect((await runs(c)).activeRuns).toEqual([]);
    const events = dataOf(await server.gql(user, ControlEventsDocument, { conversationId: c })).controlEvents.nodes;
    const preempt = events.find((e) => e.event === 'PREEMPT')!;
    expect(preempt).toMatchObject({ runId: 'r8', issuedBy: { id: 'uma' } });
    expect(preempt.reason).toContain(urgent.id);

    const critical = dataOf(await server.gql(user, MessagesFilteredDocument, { conversationId: c, priority: 'CRITICAL' })).messages.nodes;
    expect(critical.map((m) => m.content)).toEqual(['STOP, wrong account']);
    const preempted = dataOf(await server.gql(user, MessagesFilteredDocument, { conversationId: c, priority: 'NORMAL' })).messages.nodes;
    expect(preempted).toMatchObject([{ content: 'long answer…', preemptedBy: preempt.id }]);
    dataOf(await server.gql(agent, SendMessageDocument, { input: { conversationId: c, content: 'temp 21C', kind: 'NOTIFICATION' } }));
    const notes = dataOf(await server.gql(user, MessagesFilteredDocument, { conversationId: c, kind: 'NOTIFICATION' })).messages.nodes;
    expect(notes.map((m) => m.content)).toEqual(['temp 21C']);
  });
});
