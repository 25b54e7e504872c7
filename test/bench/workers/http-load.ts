/**
 * HTTP load worker (Q1, M1, and the publishers of S1/X1). The closed loops (Q1, M1) each keep one
 * lean keep-alive connection (lib/raw-http.ts); the publishers use a node:http Agent. Latencies are
 * measured around each request, in milliseconds.
 */

import { type ClosedResult, closedLoops } from '../lib/closed-loop.js';
import { HttpClient } from '../lib/http.js';
import { Q1_MESSAGES, SEND_MESSAGE } from '../lib/queries.js';
import { RawHttpConnection } from '../lib/raw-http.js';
import { serveRpc } from '../lib/rpc.js';
import { nowMs, Samples, sleep } from '../lib/stats.js';

const WORKER = process.env.BENCH_WORKER ?? 'http';

export type Loop = { cls: string; token: string; kind: 'query' | 'send'; conversations: string[] };

type ClosedParams = { url: string; loops: Loop[]; warmupMs: number; durationMs: number };

const DATA_START = Buffer.from('{"data"');
const ERRORS_KEY = Buffer.from('"errors"');

/** True when a GraphQL response carries data and no errors (checked on the bytes, unparsed). */
function good(status: number, body: Buffer): boolean {
  return status === 200 && body.subarray(0, DATA_START.length).equals(DATA_START) && body.indexOf(ERRORS_KEY) < 0;
}

async function closed(p: ClosedParams): Promise<ClosedResult> {
  // One connection per loop, as a keep-alive agent with that many sockets would give.
  const connections = p.loops.map(() => new RawHttpConnection(new URL(p.url)));
  try {
    return await closedLoops(p.loops, p, async (loop, c, li, n) => {
      const body =
        loop.kind === 'query'
          ? JSON.stringify({ query: Q1_MESSAGES, variables: { c } })
          : JSON.stringify({
              query: SEND_MESSAGE,
              variables: {
                input: {
                  conversationId: c,
                  content: `bench message ${n} from ${WORKER} loop ${li}`,
                  clientMessageId: `${WORKER}-${li}-${n}-${Date.now()}`,
                },
              },
            });
      const res = await connections[li]!.post(body, { authorization: `Bearer ${loop.token}` });
      if (!good(res.status, res.body)) throw new Error(`${res.status} ${res.body.toString('utf8', 0, 300)}`);
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
    running.push(
      sendOne(p, { t: sentAt, run: p.runId, i }, i)
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

serveRpc({ closed, rate, probe });
