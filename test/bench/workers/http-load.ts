/**
 * HTTP load worker (Q1, M1, and the publishers of S1/X1). The closed loops (Q1, M1) each keep one
 * lean keep-alive connection (lib/raw-http.ts); the publishers use a node:http Agent. Latencies are
 * measured around each request, in milliseconds.
 */

import { type ClosedResult, closedLoops } from '../lib/closed-loop.js';
import { HttpClient } from '../lib/http.js';
import {
  ADD_REACTION,
  APPEND_PART,
  benchEmoji,
  COMPLETE_MESSAGE,
  Q1_MESSAGES,
  SEARCH_MESSAGES,
  SEND_MESSAGE,
  START_MESSAGE,
  THREAD_PAGE,
} from '../lib/queries.js';
import { RawHttpConnection } from '../lib/raw-http.js';
import { serveRpc } from '../lib/rpc.js';
import { nowMs, Samples, sleep } from '../lib/stats.js';

const WORKER = process.env.BENCH_WORKER ?? 'http';

/**
 * What a loop does, on a target picked at random from `conversations` (for `react`, in order):
 *  - query: Q1's history page of the conversation; send: a plain send to it;
 *  - sendRich: a send that replies in a thread and mentions someone; the target is
 *    "conversationId threadId mentionedUserId";
 *  - thread: TH1's thread page; the target is the thread's root message;
 *  - search: SR1's search; the target is the query;
 *  - react: RX1's addReaction; the targets are messages, walked in order with the emoji changing
 *    every round, so every reaction is a new one.
 */
export type Loop = { cls: string; token: string; kind: 'query' | 'send' | 'sendRich' | 'thread' | 'search' | 'react'; conversations: string[] };

type ClosedParams = { url: string; loops: Loop[]; warmupMs: number; durationMs: number };

const DATA_START = Buffer.from('{"data"');
const ERRORS_KEY = Buffer.from('"errors"');
const HIGHLIGHT_KEY = Buffer.from('"highlight"');

/** True when a GraphQL response carries data and no errors (checked on the bytes, unparsed). */
function good(status: number, body: Buffer): boolean {
  return status === 200 && body.subarray(0, DATA_START.length).equals(DATA_START) && body.indexOf(ERRORS_KEY) < 0;
}

async function closed(p: ClosedParams): Promise<ClosedResult> {
  // One connection per loop, as a keep-alive agent with that many sockets would give.
  const connections = p.loops.map(() => new RawHttpConnection(new URL(p.url)));
  const steps = p.loops.map(() => 0);
  const bodyOf = (loop: Loop, c: string, li: number, n: number) => {
    switch (loop.kind) {
      case 'query':
        return JSON.stringify({ query: Q1_MESSAGES, variables: { c } });
      case 'thread':
        return JSON.stringify({ query: THREAD_PAGE, variables: { m: c } });
      case 'search':
        return JSON.stringify({ query: SEARCH_MESSAGES, variables: { q: c } });
      case 'react': {
        const k = steps[li]!++;
        const m = loop.conversations[k % loop.conversations.length];
        return JSON.stringify({ query: ADD_REACTION, variables: { m, e: benchEmoji(Math.floor(k / loop.conversations.length)) } });
      }
      default: {
        const [conversationId, threadId, mention] = c.split(' ');
        const input: Record<string, unknown> = {
          conversationId,
          content: `bench message ${n} from ${WORKER} loop ${li}`,
          clientMessageId: `${WORKER}-${li}-${n}-${Date.now()}`,
        };
        if (loop.kind === 'sendRich') Object.assign(input, { threadId, mentionIds: [mention] });
        return JSON.stringify({ query: SEND_MESSAGE, variables: { input } });
      }
    }
  };
  try {
    return await closedLoops(p.loops, p, async (loop, c, li, n) => {
      const body = bodyOf(loop, c, li, n);
      const res = await connections[li]!.post(body, { authorization: `Bearer ${loop.token}` });
      if (!good(res.status, res.body)) throw new Error(`${res.status} ${res.body.toString('utf8', 0, 300)}`);
      // A search that finds nothing would be cheap and prove nothing.
      if (loop.kind === 'search' && res.body.indexOf(HIGHLIGHT_KEY) < 0) throw new Error(`no results: ${res.body.toString('utf8', 0, 300)}`);
    });
  } finally {
    for (const c of connections) c.close();
  }
}

type RateParams = {
  url: string;
  token: string;
  conversationId: string;
  rate: number;
  durationMs: number;
  runId: string;
  /** POST to a bare ws server's /publish instead of the GraphQL endpoint (the ceiling). */
  raw?: boolean;
  maxInFlight?: number;
  /** Sends go to these in turn instead (WH1 over many conversations, P2's ceiling over 100 rooms). */
  targets?: { conversationId: string; token: string }[];
};

export type RateResult = {
  attempted: number;
  ok: number;
  failed: number;
  latencies: Float64Array;
  firstSendAt: number;
  lastSendAt: number;
  errorSamples: string[];
};

const rateClients = new Map<string, HttpClient>();
const clientFor = (url: string) => {
  let c = rateClients.get(url);
  if (!c) rateClients.set(url, (c = new HttpClient(url, 64)));
  return c;
};

/** The message a publisher sends: the send time and run id ride in metadata. */
function publishBody(p: Pick<RateParams, 'raw' | 'conversationId'>, metadata: Record<string, unknown>, i: number): string {
  const content = `fan-out message ${i} sent by the bench publisher`;
  if (p.raw) {
    return JSON.stringify({
      room: p.conversationId,
      message: {
        conversationId: p.conversationId,
        sender: { id: 'bench-publisher', displayName: 'Bench Publisher', kind: 'USER', roles: [] },
        senderKind: 'USER',
        content,
        contentType: 'text/plain',
        kind: 'CHAT',
        replyTo: null,
        priority: 'NORMAL',
        interruptible: false,
        preemptedBy: null,
        runId: null,
        traceId: null,
        metadata,
        clientMessageId: null,
        editedAt: null,
        deletedAt: null,
      },
    });
  }
  return JSON.stringify({ query: SEND_MESSAGE, variables: { input: { conversationId: p.conversationId, content, metadata } } });
}

async function sendOne(p: RateParams, metadata: Record<string, unknown>, i: number) {
  const client = clientFor(p.url);
  const body = publishBody(p, metadata, i);
  if (p.raw) return client.post(body, {}, '/publish');
  return client.post(body, { authorization: `Bearer ${p.token}` });
}

/** Open loop: message i leaves at t0 + i/rate, whatever the previous ones are doing. */
async function rate(p: RateParams): Promise<RateResult> {
  const total = Math.max(1, Math.round((p.rate * p.durationMs) / 1000));
  const interval = 1000 / p.rate;
  const maxInFlight = p.maxInFlight ?? 64;
  const lat = new Samples();
  const errorSamples: string[] = [];
  let ok = 0;
  let failed = 0;
  let inFlight = 0;
  let firstSendAt = 0;
  let lastSendAt = 0;
  const running: Promise<void>[] = [];
  const t0 = performance.now() + 5;
  for (let i = 0; i < total; i++) {
    const due = t0 + i * interval;
    const wait = due - performance.now();
    if (wait > 1) await sleep(wait);
    while (inFlight >= maxInFlight) await sleep(1);
    inFlight++;
    const sentAt = nowMs();
    if (i === 0) firstSendAt = sentAt;
    lastSendAt = sentAt;
    const start = performance.now();
    const target = p.targets?.[i % p.targets.length];
    running.push(
      sendOne(target ? { ...p, ...target } : p, { t: sentAt, run: p.runId, i }, i)
        .then((res) => {
          if (res.status === 200 && !res.text.includes('"errors"')) {
            ok++;
            lat.push(performance.now() - start);
          } else {
            failed++;
            if (errorSamples.length < 5) errorSamples.push(`${res.status} ${res.text.slice(0, 300)}`);
          }
        })
        .catch((err) => {
          failed++;
          if (errorSamples.length < 5) errorSamples.push(String(err));
        })
        .finally(() => inFlight--),
    );
  }
  await Promise.all(running);
  return { attempted: total, ok, failed, latencies: lat.take(), firstSendAt, lastSendAt, errorSamples };
}

/** Probes: one message per conversation that subscribers use to show they are live; not counted. */
async function probe(p: { url: string; probes: { conversationId: string; token: string }[]; raw?: boolean }) {
  await Promise.all(
    p.probes.map(async ({ conversationId, token }) => {
      const res = await sendOne({ url: p.url, raw: p.raw, token, conversationId, rate: 1, durationMs: 0, runId: 'probe' }, { probe: true, t: nowMs() }, -1);
      if (res.status !== 200 || res.text.includes('"errors"')) throw new Error(`probe failed: ${res.status} ${res.text.slice(0, 300)}`);
    }),
  );
  return true;
}

type Agent = { token: string; conversationId: string };

/** Agents' connections: one each (P2 has 100 agents, each with one request at a time). */
const agentClients = new Map<string, HttpClient>();

/** A GraphQL request of an agent; throws on any error. */
async function agentCall<T>(url: string, token: string, query: string, variables: Record<string, unknown>): Promise<T> {
  let client = agentClients.get(url);
  if (!client) agentClients.set(url, (client = new HttpClient(url, 256)));
  const res = await client.post(JSON.stringify({ query, variables }), { authorization: `Bearer ${token}` });
  const parsed = JSON.parse(res.text) as { data?: T; errors?: unknown[] };
  if (res.status !== 200 || parsed.errors?.length || !parsed.data) throw new Error(`${res.status} ${res.text.slice(0, 300)}`);
  return parsed.data;
}

/** A stream in its own run, as an agent answers (a run ends when its last stream completes). */
async function startStream(url: string, a: Agent, runId: string, content?: string) {
  const { startMessage } = await agentCall<{ startMessage: { id: string } }>(url, a.token, START_MESSAGE, {
    input: { conversationId: a.conversationId, runId, content },
  });
  return startMessage.id;
}

/** Makes the subscribers of each conversation see a stream event: a short answer, started and completed. */
async function streamProbe(p: { url: string; probes: Agent[] }) {
  await Promise.all(
    p.probes.map(async (a) => {
      const id = await startStream(p.url, a, `probe-${Math.random().toString(36).slice(2, 10)}`, 'probe');
      await agentCall(p.url, a.token, COMPLETE_MESSAGE, { id });
    }),
  );
  return true;
}

export type StreamResult = RateResult & { perAgentRate: number[]; streams: number };

/**
 * P1/P2: each agent streams TEXT parts into its conversation, one append after the other (an agent
 * awaits each append, which keeps its parts in order), part i due at t0 + i/rate. A part's text is
 * "i/sendTime/runTag;", which the subscribers read back. Every `rotateEvery` parts the answer is
 * completed and a new one started (a message holds at most 16,000 characters).
 */
async function stream(p: { url: string; agents: Agent[]; rate: number; durationMs: number; runTag: string; rotateEvery: number }): Promise<StreamResult> {
  const total = Math.max(1, Math.round((p.rate * p.durationMs) / 1000));
  const interval = 1000 / p.rate;
  const lat = new Samples();
  const errorSamples: string[] = [];
  let ok = 0;
  let failed = 0;
  let streams = 0;
  let firstSendAt = 0;
  let lastSendAt = 0;
  const perAgentRate: number[] = [];
  const t0 = performance.now() + 20;
  await Promise.all(
    p.agents.map(async (a, ai) => {
      let id = '';
      let inStream = 0;
      // Agents start a little apart, as they would.
      const start = t0 + (ai / p.agents.length) * interval;
      let done = 0;
      let lastSent = start;
      for (let i = 0; i < total; i++) {
        const due = start + i * interval;
        const wait = due - performance.now();
        if (wait > 1) await sleep(wait);
        try {
          if (!id || inStream >= p.rotateEvery) {
            if (id) await agentCall(p.url, a.token, COMPLETE_MESSAGE, { id });
            id = await startStream(p.url, a, `${p.runTag}-${ai}-${streams++}`);
            inStream = 0;
          }
          const sentAt = nowMs();
          lastSent = performance.now();
          if (!firstSendAt || sentAt < firstSendAt) firstSendAt = sentAt;
          lastSendAt = Math.max(lastSendAt, sentAt);
          const began = performance.now();
          await agentCall(p.url, a.token, APPEND_PART, { id, part: { type: 'TEXT', text: `${i}/${sentAt.toFixed(1)}/${p.runTag};` } });
          lat.push(performance.now() - began);
          inStream++;
          ok++;
          done++;
        } catch (err) {
          failed++;
          if (errorSamples.length < 5) errorSamples.push(String(err).slice(0, 300));
        }
      }
      // On schedule, part i leaves at start + i × interval: the rate is parts over the span they left in.
      perAgentRate.push(done / ((lastSent - start + interval) / 1000));
      if (id) await agentCall(p.url, a.token, COMPLETE_MESSAGE, { id }).catch(() => {});
    }),
  );
  return { attempted: total * p.agents.length, ok, failed, latencies: lat.take(), firstSendAt, lastSendAt, errorSamples, perAgentRate, streams };
}

serveRpc({ closed, rate, probe, streamProbe, stream });
