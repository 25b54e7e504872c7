/**
 * Subscriber worker: holds many WebSockets in one process. Mode "graphql": a graphql-ws client
 * per socket with one messageAdded subscription. Mode "stream": the same with one messageStream
 * subscription (P1, P2), whose TEXT parts carry "i/sendTime/run;" (http-load's stream): parts
 * are counted by i, each expected once and in order. Mode "raw": a plain ws socket on the bare
 * broadcast server (the ceiling). Mode "sio": a socket.io-client socket of its own (no multiplexing)
 * on the Socket.IO reference server, joined to the conversation's room. Each socket counts what it receives for the current run, checks
 * seq order, and records send-to-receive latency from the send time in the message metadata.
 */
import { type Client, createClient } from 'graphql-ws';
import { io } from 'socket.io-client';
import WebSocket from 'ws';
import { MESSAGE_ADDED, MESSAGE_ADDED_MINIMAL, MESSAGE_STREAM } from '../lib/queries.js';
import { serveRpc } from '../lib/rpc.js';
import { nowMs, Samples, sleep } from '../lib/stats.js';

type Target = { token: string; conversationId: string };

type Sock = {
  conversationId: string;
  live: boolean;
  received: number;
  lastSeq: number;
  dups: number;
  gaps: number;
  /** Stream mode: the last part index received in the current run (-1: none yet). */
  lastPart: number;
  closed: boolean;
  close: () => void;
};

const sockets: Sock[] = [];
const lat = new Samples();
let runId = '';
let firstRecvAt = 0;
let lastRecvAt = 0;
let errorSamples: string[] = [];

type Msg = { seq?: number; metadata?: { t?: number; run?: string; probe?: boolean } | null };

function onMessage(s: Sock, m: Msg | undefined) {
  if (!m) return;
  const at = nowMs();
  const seq = m.seq ?? 0;
  if (s.lastSeq > 0) {
    if (seq <= s.lastSeq) s.dups++;
    else if (seq !== s.lastSeq + 1) s.gaps++;
  }
  if (seq > s.lastSeq) s.lastSeq = seq;
  const meta = m.metadata;
  if (meta?.probe) {
    s.live = true;
    return;
  }
  if (runId && meta?.run === runId) {
    s.received++;
    if (typeof meta.t === 'number') lat.push(at - meta.t);
    if (!firstRecvAt) firstRecvAt = at;
    lastRecvAt = at;
  }
}

type Chunk = { chunk?: string; state?: string };
const PART = /^(\d+)\/([\d.]+)\/([\w-]+);$/;

/** A messageStream event: any event proves the subscription live; parts of the current run count. */
function onChunk(s: Sock, e: Chunk | undefined) {
  if (!e) return;
  s.live = true;
  const m = e.state === 'STREAMING' && e.chunk ? PART.exec(e.chunk) : null;
  if (!m || !runId || m[3] !== runId) return;
  const at = nowMs();
  const i = Number(m[1]);
  if (i <= s.lastPart) {
    s.dups++;
    return;
  }
  if (i !== s.lastPart + 1) s.gaps++;
  s.lastPart = i;
  s.received++;
  lat.push(at - Number(m[2]));
  if (!firstRecvAt) firstRecvAt = at;
  lastRecvAt = at;
}

const noteError = (e: unknown) => {
  if (errorSamples.length < 5) errorSamples.push(typeof e === 'string' ? e : (JSON.stringify(e) ?? String(e)));
};

let selection = MESSAGE_ADDED;
let streamMode = false;

function openGraphql(url: string, t: Target): Promise<Sock> {
  return new Promise((resolve) => {
    let settled = false;
    const s: Sock = { conversationId: t.conversationId, live: false, received: 0, lastSeq: 0, dups: 0, gaps: 0, lastPart: -1, closed: false, close: () => {} };
    const client: Client = createClient({
      url,
      webSocketImpl: WebSocket,
      retryAttempts: 0,
      lazy: true,
      connectionParams: { authorization: `Bearer ${t.token}` },
      on: {
        connected: () => {
          settled = true;
          resolve(s);
        },
        closed: (event) => {
          s.closed = true;
          if (!settled) {
            settled = true;
            noteError(`closed before connecting: ${(event as { code?: number }).code}`);
            resolve(s);
          }
        },
      },
    });
    s.close = () => void client.dispose();
    client.subscribe<{ messageAdded?: Msg; messageStream?: Chunk }>(
      { query: selection, variables: { c: t.conversationId } },
      {
        next: (r) => {
          if (r.errors?.length) noteError(r.errors);
          if (streamMode) onChunk(s, r.data?.messageStream);
          else onMessage(s, r.data?.messageAdded);
        },
        error: (e) => {
          s.closed = true;
          noteError(e instanceof Error ? e.message : e);
        },
        complete: () => {
          s.closed = true;
        },
      },
    );
  });
}

function openRaw(url: string, t: Target): Promise<Sock> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url}?room=${encodeURIComponent(t.conversationId)}`);
    const s: Sock = {
      conversationId: t.conversationId,
      live: false,
      received: 0,
      lastSeq: 0,
      dups: 0,
      gaps: 0,
      lastPart: -1,
      closed: false,
      close: () => ws.close(),
    };
    ws.on('open', () => resolve(s));
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { payload?: { data?: { messageAdded?: Msg } } };
      onMessage(s, frame.payload?.data?.messageAdded);
    });
    ws.on('error', (e) => noteError(e.message));
    ws.on('close', () => {
      s.closed = true;
      resolve(s);
    });
  });
}

function openSio(url: string, t: Target): Promise<Sock> {
  return new Promise((resolve) => {
    // forceNew: one connection per socket, as many clients would hold (the default shares one per URL).
    const socket = io(url, { transports: ['websocket'], forceNew: true, reconnection: false, auth: { room: t.conversationId } });
    const s: Sock = {
      conversationId: t.conversationId,
      live: false,
      received: 0,
      lastSeq: 0,
      dups: 0,
      gaps: 0,
      lastPart: -1,
      closed: false,
      close: () => socket.close(),
    };
    socket.on('connect', () => resolve(s));
    socket.on('message', (m: Msg) => onMessage(s, m));
    socket.on('connect_error', (e) => {
      noteError(e.message);
      s.closed = true;
      resolve(s);
    });
    socket.on('disconnect', (reason) => {
      if (reason !== 'io client disconnect') noteError(`disconnected: ${reason}`);
      s.closed = true;
    });
  });
}

async function connect(p: { mode: 'graphql' | 'raw' | 'stream' | 'sio'; url: string; targets: Target[]; concurrency?: number; minimal?: boolean }) {
  const t0 = performance.now();
  streamMode = p.mode === 'stream';
  selection = streamMode ? MESSAGE_STREAM : p.minimal ? MESSAGE_ADDED_MINIMAL : MESSAGE_ADDED;
  let next = 0;
  const opened: Sock[] = [];
  await Promise.all(
    Array.from({ length: Math.min(p.concurrency ?? 50, p.targets.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= p.targets.length) return;
        const open = p.mode === 'raw' ? openRaw : p.mode === 'sio' ? openSio : openGraphql;
        const s = await open(p.url, p.targets[i]!);
        opened.push(s);
        sockets.push(s);
      }
    }),
  );
  return { opened: opened.length, closed: opened.filter((s) => s.closed).length, ms: performance.now() - t0, errorSamples };
}

function status() {
  return {
    sockets: sockets.length,
    live: sockets.filter((s) => s.live && !s.closed).length,
    closed: sockets.filter((s) => s.closed).length,
    notLiveConversations: [...new Set(sockets.filter((s) => !s.live).map((s) => s.conversationId))],
    errorSamples,
  };
}

function reset(p: { runId: string }) {
  runId = p.runId;
  lat.take();
  firstRecvAt = 0;
  lastRecvAt = 0;
  errorSamples = [];
  for (const s of sockets) {
    s.received = 0;
    s.dups = 0;
    s.gaps = 0;
    s.lastPart = -1;
  }
  return true;
}

const progress = () => sockets.reduce((n, s) => n + s.received, 0);

function result() {
  let min = Infinity;
  let max = 0;
  let dups = 0;
  let gaps = 0;
  for (const s of sockets) {
    min = Math.min(min, s.received);
    max = Math.max(max, s.received);
    dups += s.dups;
    gaps += s.gaps;
  }
  return {
    sockets: sockets.length,
    closed: sockets.filter((s) => s.closed).length,
    received: progress(),
    minPerSocket: sockets.length ? min : 0,
    maxPerSocket: max,
    dups,
    gaps,
    latencies: lat.take(),
    firstRecvAt,
    lastRecvAt,
    errorSamples,
  };
}

async function closeAll() {
  for (const s of sockets.splice(0)) s.close();
  await sleep(200);
  return true;
}

serveRpc({ connect, status, reset, progress, result, closeAll });
