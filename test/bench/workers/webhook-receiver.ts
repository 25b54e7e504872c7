/**
 * WH1's webhook receiver: a node:http server answering 200 to every delivery whose Standard
 * Webhooks signature verifies (with the `standardwebhooks` package, as a receiver would), counting
 * deliveries by event id (webhook-id) and the time from the event's commit (its `timestamp`, the
 * event row's creation in the send's transaction) and from the send (the message's metadata.t) to
 * its arrival. The same script, as a second process, is the ceiling's sender (`flood`): signed
 * events POSTed straight to the receiver at the server's delivery concurrency.
 */
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';
import { closedLoops } from '../lib/closed-loop.js';
import { HttpClient } from '../lib/http.js';
import { WEBHOOK_PROBE } from '../lib/queries.js';
import { serveRpc } from '../lib/rpc.js';
import { nowMs, Samples } from '../lib/stats.js';

let verifier: Webhook | undefined;
/** Deliveries per event id in the current run. */
let seen = new Map<string, number>();
let badSignatures = 0;
let otherEvents = 0;
let commitLat = new Samples();
let sendLat = new Samples();
let firstAt = 0;
let lastAt = 0;
/** Deliveries per second of the run (index: seconds since the reset). */
let perSecond: number[] = [];
let resetAt = nowMs();
let errorSamples: string[] = [];

type Payload = { id: string; type: string; timestamp: string; data?: { content?: string; metadata?: { t?: number } | null } };

/** Probe messages (sent to see that deliveries flow) are counted apart. */
let probes = 0;

function onDelivery(body: string, headers: http.IncomingHttpHeaders): number {
  const at = nowMs();
  let payload: Payload;
  try {
    payload = verifier!.verify(body, headers as Record<string, string>) as Payload;
  } catch (err) {
    badSignatures++;
    if (errorSamples.length < 5) errorSamples.push(`signature: ${(err as Error).message}`);
    return 401;
  }
  if (payload.type !== 'message.created') {
    otherEvents++;
    return 200;
  }
  if (payload.data?.content === WEBHOOK_PROBE) {
    probes++;
    return 200;
  }
  const id = String(headers['webhook-id']);
  const n = seen.get(id) ?? 0;
  seen.set(id, n + 1);
  if (n > 0) return 200;
  commitLat.push(at - Date.parse(payload.timestamp));
  const t = payload.data?.metadata?.t;
  if (typeof t === 'number') sendLat.push(at - t);
  if (!firstAt) firstAt = at;
  lastAt = at;
  const second = Math.floor((at - resetAt) / 1000);
  perSecond[second] = (perSecond[second] ?? 0) + 1;
  return 200;
}

let server: http.Server | undefined;

async function listen(p: { secret?: string }) {
  if (p.secret) verifier = new Webhook(p.secret);
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const status = verifier ? onDelivery(Buffer.concat(chunks).toString('utf8'), req.headers) : 503;
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': '2' });
      res.end('ok');
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

function setSecret(p: { secret: string }) {
  verifier = new Webhook(p.secret);
  return true;
}

function reset() {
  seen = new Map();
  probes = 0;
  badSignatures = 0;
  otherEvents = 0;
  commitLat = new Samples();
  sendLat = new Samples();
  firstAt = 0;
  lastAt = 0;
  perSecond = [];
  resetAt = nowMs();
  errorSamples = [];
  return true;
}

/** Events received at least once since the reset. */
const progress = () => seen.size;

function result() {
  let duplicates = 0;
  for (const n of seen.values()) duplicates += n - 1;
  return {
    unique: seen.size,
    duplicates,
    badSignatures,
    otherEvents,
    commitLatencies: commitLat.take(),
    sendLatencies: sendLat.take(),
    firstAt,
    lastAt,
    perSecond: Array.from(perSecond, (v) => v ?? 0),
    errorSamples,
  };
}

/** The ceiling: signed message.created events POSTed to `url` by `concurrency` loops. */
async function flood(p: { url: string; secret: string; concurrency: number; warmupMs: number; durationMs: number }) {
  const signer = new Webhook(p.secret);
  const client = new HttpClient(p.url, p.concurrency);
  const loops = Array.from({ length: p.concurrency }, () => ({ cls: 'flood', conversations: ['-'] }));
  try {
    return await closedLoops(loops, p, async () => {
      const id = randomUUID();
      const now = new Date();
      const body = JSON.stringify({ id, type: 'message.created', timestamp: now.toISOString(), data: { metadata: { t: nowMs() } } });
      const res = await client.post(body, {
        'webhook-id': id,
        'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
        'webhook-signature': signer.sign(id, now, body),
      });
      if (res.status !== 200) throw new Error(`${res.status} ${res.text}`);
    });
  } finally {
    client.close();
  }
}

serveRpc({ listen, setSecret, reset, progress, probes: () => probes, result, flood });
