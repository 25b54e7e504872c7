// The expert desk: SYSTEM messages when an expert is requested, joins and hands back; who wrote
// each message (authorRole); admins assigning requests; requesters withdrawing them.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  AssignExpertRequestDocument,
  AuditLogDocument,
  CancelExpertRequestDocument,
  ClaimExpertRequestDocument,
  ConversationDocument,
  ConversationRunsDocument,
  ExpertRequestsDocument,
  ExpertRequestUpdatedDocument,
  HandBackToAgentDocument,
  MessageAddedDocument,
  type MessageAddedSubscription,
  RequestExpertDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import type { DomainEventMap } from '../../../src/events/domain-events.js';
import { DESK_MESSAGES } from '../../../src/modules/experts/expert.service.js';
import { freshOrg } from '../../kit/realtime.js';
import { allMessages, createGroup, expectCode, send } from '../../kit/requests.js';
import { codeOf, dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { type Collector, collect } from '../../kit/subscriptions.js';
import { describeTwoInstances, twoInstances } from '../../kit/two-instances.js';
import { subscribed } from './helpers.js';

const REQUESTED = DESK_MESSAGES.REQUESTED();
const joined = (name: string) => DESK_MESSAGES.JOINED(name);
const handedBack = (name: string) => DESK_MESSAGES.HANDED_BACK(name);
const WITHDRAWN = DESK_MESSAGES.CANCELLED();

/** What a conversation shows: who wrote each message, as clients tell them apart, and what it says. */
const shown = (messages: { authorRole: string; content: string; sender: { id: string } }[]) => messages.map((m) => [m.authorRole, m.sender.id, m.content]);
const live = (c: Collector<MessageAddedSubscription>) => shown(c.events.map((e) => e.messageAdded));

describe.each(backends)('expert desk on %s', (backend) => {
  let server: TestServer;
  const auth: Record<string, string> = {};
  const removals: (() => void)[] = [];

  beforeAll(async () => {
    server = await startServer({ backend });
    const people: [string, Record<string, unknown>][] = [
      ['uma', { name: 'Uma' }],
      ['max', { name: 'Max' }],
      ['assistant', { kind: 'agent', name: 'Assistant' }],
      ['erin', { roles: ['expert'], name: 'Erin' }],
      ['ezra', { roles: ['expert'], name: 'Ezra' }],
      ['ada', { roles: ['admin'], name: 'Ada' }],
    ];
    for (const [id, claims] of people) {
      auth[id] = await server.token(id, claims);
      dataOf(await server.gql(auth[id]!, ViewerDocument));
    }
    auth.acme = await server.token('uma', { org: 'acme', roles: ['admin'] });
  });
  afterEach(() => {
    for (const remove of removals.splice(0)) remove();
  });
  afterAll(() => server?.stop());

  const support = () => createGroup(server, auth.uma!, ['max', 'assistant'], 'support');
  const request = async (conversationId: string, reason?: string) =>
    dataOf(await server.gql(auth.uma!, RequestExpertDocument, { conversationId, reason })).requestExpert;
  const queueOf = (who: string) => subscribed(server, () => collect(server.ws(auth[who]!), ExpertRequestUpdatedDocument));
  const requests = async (status: 'OPEN' | 'CLAIMED' | 'CANCELLED') =>
    dataOf(await server.gql(auth.erin!, ExpertRequestsDocument, { status, first: 200 })).expertRequests.nodes;

  it('tells the conversation when an expert is requested, joins and hands back; authorRole says who wrote each message, live and in history', async () => {
    const c = await support();
    // Two viewers running the same document share each event's execution.
    const watchers = await Promise.all(
      ['uma', 'max'].map((who) => subscribed(server, () => collect(server.ws(auth[who]!), MessageAddedDocument, { conversationId: c }))),
    );
    await send(server, auth.assistant!, c, 'Let me look into it', { runId: 'r1' });
    const asked = await request(c, 'billing');
    dataOf(await server.gql(auth.erin!, ClaimExpertRequestDocument, { id: asked.id }));
    await send(server, auth.erin!, c, 'Erin from billing here');
    await send(server, auth.uma!, c, 'Thanks!');
    await send(server, auth.uma!, c, 'a note of my own', { kind: 'SYSTEM' });
    dataOf(await server.gql(auth.erin!, HandBackToAgentDocument, { conversationId: c }));

    const expected = [
      ['AGENT', 'assistant', 'Let me look into it'],
      ['SYSTEM', 'uma', REQUESTED],
      ['SYSTEM', 'erin', joined('Erin')],
      ['EXPERT', 'erin', 'Erin from billing here'],
      ['USER', 'uma', 'Thanks!'],
      ['SYSTEM', 'uma', 'a note of my own'],
      ['SYSTEM', 'erin', handedBack('Erin')],
    ];
    const history = await allMessages(server, auth.uma!, c);
    expect(shown(history)).toEqual(expected);
    for (const watcher of watchers) {
      await watcher.waitFor(expected.length);
      expect(live(watcher)).toEqual(expected);
      watcher.stop();
    }
    // Programs read the desk's notes from their metadata.
    expect(history.filter((m) => m.metadata).map((m) => m.metadata)).toEqual([
      { expertRequestId: asked.id, event: 'REQUESTED' },
      { expertRequestId: asked.id, event: 'JOINED' },
      { expertRequestId: asked.id, event: 'HANDED_BACK' },
    ]);
    // The desk's notes are no writes of the expert: her one message is.
    const audit = await server.app.services.audit.list('default', { limit: 1000, action: 'expert.write' });
    expect(audit.filter((e) => e.conversationId === c).map((e) => e.details)).toEqual([{ operation: 'sendMessage', messageId: history[3]!.id }]);
  });

  it('lets an admin assign an open request to an expert, who is added, takes over and hears of it live', async () => {
    const c = await support();
    await send(server, auth.assistant!, c, 'working on it', { runId: 'r2' });
    const queue = await queueOf('erin');
    const asked = await request(c, 'refund');
    await queue.waitFor(1);
    const raised: DomainEventMap['expertRequestChanged'][] = [];
    removals.push(server.app.services.events.on('expertRequestChanged', (e) => void raised.push(e)));

    const assign = (who: string, expertId: string, id = asked.id) => server.gql(auth[who]!, AssignExpertRequestDocument, { id, expertId });
    // Admins only; the one assigned must be an expert of the org.
    for (const who of ['uma', 'erin']) expectCode(await assign(who, 'erin'), 'FORBIDDEN');
    expectCode(await assign('ada', 'nobody'), 'NOT_FOUND');
    expectCode(await assign('ada', 'max'), 'BAD_USER_INPUT');
    expectCode(await assign('ada', 'x'.repeat(201)), 'BAD_USER_INPUT');
    expectCode(await assign('ada', 'erin', 'not-a-request'), 'NOT_FOUND');
    expectCode(await assign('acme', 'erin'), 'NOT_FOUND');
    expect((await requests('OPEN')).find((r) => r.id === asked.id)).toBeDefined();

    const assigned = dataOf(await assign('ada', 'erin')).assignExpertRequest;
    expect(assigned).toMatchObject({ id: asked.id, status: 'CLAIMED', claimedBy: { id: 'erin' } });
    const [, told] = await queue.waitFor(2);
    expect(told!.expertRequestUpdated).toMatchObject({ id: asked.id, status: 'CLAIMED', claimedBy: { id: 'erin' } });
    expect(raised.map((e) => [e.change, e.actor.userId, e.request.claimedBy])).toEqual([['CLAIMED', 'ada', 'erin']]);

    // Erin is in, answers from now on, and the agent waits; the admin did not join.
    const taken = dataOf(await server.gql(auth.erin!, ConversationRunsDocument, { id: c })).conversation!;
    expect(taken).toMatchObject({ mode: 'EXPERT', assignee: { id: 'erin' }, activeRuns: [{ runId: 'r2', state: 'PAUSED' }] });
    const participants = dataOf(await server.gql(auth.uma!, ConversationDocument, { id: c })).conversation!.participants;
    expect(participants.find((p) => p.user.id === 'erin')).toMatchObject({ role: 'ADMIN' });
    expect(participants.find((p) => p.user.id === 'ada')).toBeUndefined();
    expect(shown(await allMessages(server, auth.uma!, c)).slice(-1)).toEqual([['SYSTEM', 'erin', joined('Erin')]]);
    const audit = dataOf(await server.gql(auth.ada!, AuditLogDocument, { first: 50, action: 'expert.assign' })).auditLog.nodes;
    expect(audit.find((e) => e.conversationId === c)).toMatchObject({ actor: 'user:ada', subjectUserId: 'erin' });

    // Taken is taken.
    expectCode(await assign('ada', 'ezra'), 'CONFLICT');
    expectCode(await server.gql(auth.ezra!, ClaimExpertRequestDocument, { id: asked.id }), 'CONFLICT');
    const back = dataOf(await server.gql(auth.erin!, HandBackToAgentDocument, { conversationId: c })).handBackToAgent;
    expect(back.status).toBe('RESOLVED');
    queue.stop();
  });

  it('lets the requester withdraw an open request: CANCELLED, out of the queue, and the conversation is told', async () => {
    const c = await support();
    const queue = await queueOf('ezra');
    const asked = await request(c, 'never mind');
    await queue.waitFor(1);
    const raised: DomainEventMap['expertRequestChanged'][] = [];
    removals.push(server.app.services.events.on('expertRequestChanged', (e) => void raised.push(e)));
    const cancel = (who: string, id = asked.id) => server.gql(auth[who]!, CancelExpertRequestDocument, { id });

    for (const who of ['max', 'erin']) expectCode(await cancel(who), 'FORBIDDEN');
    expectCode(await cancel('acme'), 'NOT_FOUND');
    expectCode(await cancel('uma', 'not-a-request'), 'NOT_FOUND');
    const cancelled = dataOf(await cancel('uma')).cancelExpertRequest;
    expect(cancelled).toMatchObject({ id: asked.id, status: 'CANCELLED' });
    const [, told] = await queue.waitFor(2);
    expect(told!.expertRequestUpdated).toMatchObject({ id: asked.id, status: 'CANCELLED' });
    expect(raised.map((e) => [e.change, e.actor.userId])).toEqual([['CANCELLED', 'uma']]);
    expect((await requests('OPEN')).find((r) => r.id === asked.id)).toBeUndefined();
    expect((await requests('CANCELLED')).find((r) => r.id === asked.id)).toBeDefined();
    expect(shown(await allMessages(server, auth.uma!, c))).toEqual([
      ['SYSTEM', 'uma', REQUESTED],
      ['SYSTEM', 'uma', WITHDRAWN],
    ]);

    // Withdrawing again answers it as it is, and says nothing more; nobody takes it any more.
    expect(dataOf(await cancel('uma')).cancelExpertRequest.status).toBe('CANCELLED');
    expect(codeOf(await server.gql(auth.erin!, ClaimExpertRequestDocument, { id: asked.id }))).toBe('CONFLICT');
    expectCode(await server.gql(auth.ada!, AssignExpertRequestDocument, { id: asked.id, expertId: 'erin' }), 'CONFLICT');
    expect(await allMessages(server, auth.uma!, c)).toHaveLength(2);
    expect(raised).toHaveLength(1);

    // Asking again opens a new request; once an expert has it, the requester cannot withdraw it.
    const again = await request(c);
    expect(again.id).not.toBe(asked.id);
    dataOf(await server.gql(auth.erin!, ClaimExpertRequestDocument, { id: again.id }));
    expectCode(await cancel('uma', again.id), 'CONFLICT');
    // An admin may withdraw for the requester while it is open.
    dataOf(await server.gql(auth.erin!, HandBackToAgentDocument, { conversationId: c }));
    const third = await request(c);
    expect(dataOf(await server.gql(auth.ada!, CancelExpertRequestDocument, { id: third.id })).cancelExpertRequest.status).toBe('CANCELLED');
    queue.stop();
  });
});

describeTwoInstances('expert desk on two instances', () => {
  const servers = twoInstances();
  const org = freshOrg();
  const token = (sub: string, claims: Record<string, unknown> = {}) => servers.a.token(sub, { org, name: sub, ...claims });

  it('an assignment made on one instance reaches the expert on the other, and the desk’s notes arrive with their authorRole', async () => {
    const { a, b } = servers;
    const [uma, erin, ada] = await Promise.all([token('uma'), token('erin', { roles: ['expert'] }), token('ada', { roles: ['admin'] })]);
    for (const t of [uma, erin, ada]) dataOf(await a.gql(t, ViewerDocument));
    const c = await createGroup(a, uma, ['assistant']);
    const queue = await subscribed(b, () => collect(b.ws(erin), ExpertRequestUpdatedDocument));
    const watcher = await subscribed(b, () => collect(b.ws(uma), MessageAddedDocument, { conversationId: c }));

    const asked = dataOf(await a.gql(uma, RequestExpertDocument, { conversationId: c })).requestExpert;
    dataOf(await a.gql(ada, AssignExpertRequestDocument, { id: asked.id, expertId: 'erin' }));
    const events = await queue.waitFor(2);
    expect(events.map((e) => [e.expertRequestUpdated.status, e.expertRequestUpdated.claimedBy?.id ?? null])).toEqual([
      ['OPEN', null],
      ['CLAIMED', 'erin'],
    ]);
    // Erin answers through the other instance.
    await send(b, erin, c, 'Erin here');
    await watcher.waitFor(3);
    expect(live(watcher)).toEqual([
      ['SYSTEM', 'uma', REQUESTED],
      ['SYSTEM', 'erin', joined('erin')],
      ['EXPERT', 'erin', 'Erin here'],
    ]);
    queue.stop();
    watcher.stop();
  });
});
