import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { print } from 'graphql';
import type { Client } from 'graphql-ws';
import { Cluster, Redis } from 'ioredis';
import WebSocket from 'ws';
import type { AppOptions } from '../../src/app.js';
import { CreateConversationDocument, SendMessageDocument } from '../../src/client/generated/graphql.js';
import { keySlot } from '../../src/pubsub/sharded.js';
import { waitingFor } from './pending.js';
import { dataOf, type TestServer } from './server.js';
import { redisEnv, TEST_REDIS_CLUSTER_NODES, TEST_REDIS_URL } from './services.js';

/**
 * Helpers for the real-time suites: raw protocol sockets (for what a well-behaved graphql-ws
 * client never does, such as vanishing mid-subscribe), close codes, and Redis channel counts.
 */

export type Closed = { code: number; reason: string };

/** Resolves with the close code the next time the client's socket closes. */
export function nextClose(client: Client): Promise<Closed> {
  return new Promise((resolve) => {
    const off = client.on('closed', (event) => {
      off();
      const e = event as { code: number; reason: string };
      resolve({ code: e.code, reason: String(e.reason ?? '') });
    });
  });
}

/** A message of the graphql-transport-ws protocol as the server sends it. */
export type ServerMessage = { type: string; id?: string; payload?: unknown };

/** A bare graphql-transport-ws socket: speaks the protocol by hand and can die at any moment. */
export type RawSocket = {
  socket: WebSocket;
  messages: ServerMessage[];
  closed: Promise<Closed>;
  /** Sends `subscribe` for `document` with id `id` (no waiting for anything). */
  subscribe<R, V>(id: string, document: TypedDocumentNode<R, V>, variables?: V): void;
  /** Resolves when a message matching `match` has arrived; rejects if the socket closes first. */
  waitFor(match: (m: ServerMessage) => boolean): Promise<ServerMessage>;
  /** Cuts the TCP connection without a close frame, as a crashed client or a pulled cable would. */
  terminate(): void;
};

/**
 * Opens a raw socket and, unless `init` is false, sends connection_init with the token and waits
 * for the ack. `autoPong: false` makes it a dead peer that never answers the server's pings;
 * `localAddress` opens it from another loopback address (another client, to the server).
 */
export async function rawSocket(
  wsUrl: string,
  token: string | null,
  options: { init?: boolean; autoPong?: boolean; localAddress?: string } = {},
): Promise<RawSocket> {
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { autoPong: options.autoPong ?? true, localAddress: options.localAddress });
  const messages: ServerMessage[] = [];
  const waiters: (() => void)[] = [];
  socket.on('message', (data) => {
    messages.push(JSON.parse(String(data)) as ServerMessage);
    for (const w of waiters.splice(0)) w();
  });
  socket.on('error', () => {});
  const closed = new Promise<Closed>((resolve) => socket.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  closed.then(() => {
    for (const w of waiters.splice(0)) w();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  let isClosed = false;
  void closed.then(() => (isClosed = true));

  const raw: RawSocket = {
    socket,
    messages,
    closed,
    subscribe: (id, document, variables) => socket.send(JSON.stringify({ id, type: 'subscribe', payload: { query: print(document), variables } })),
    waitFor: (match) =>
      waitingFor(
        () => `a message matching ${String(match)}; got ${JSON.stringify(messages)}`,
        () =>
          new Promise((resolve, reject) => {
            const check = () => {
              const found = messages.find(match);
              if (found) resolve(found);
              else if (isClosed) reject(new Error(`socket closed; got ${JSON.stringify(messages)}`));
              else waiters.push(check);
            };
            check();
          }),
      ),
    terminate: () => socket.terminate(),
  };
  if (options.init !== false) {
    socket.send(JSON.stringify({ type: 'connection_init', payload: token ? { authorization: `Bearer ${token}` } : {} }));
    await raw.waitFor((m) => m.type === 'connection_ack');
  }
  return raw;
}

/** A plain Redis connection to the test server (or cluster), for looking at what the instances leave there. */
export function testRedis(): Redis | Cluster {
  if (!TEST_REDIS_URL) throw new Error('TEST_REDIS_URL is not set');
  if (TEST_REDIS_CLUSTER_NODES) return new Cluster(TEST_REDIS_CLUSTER_NODES.split(','));
  return new Redis(TEST_REDIS_URL);
}

/**
 * How many connections are subscribed to each channel: PUBSUB NUMSUB, or on a cluster, where
 * the instances subscribe sharded, PUBSUB SHARDNUMSUB asked of the master owning the channel.
 */
export async function numsub(redis: Redis | Cluster, channels: string[]): Promise<Record<string, number>> {
  if (redis instanceof Cluster) {
    await redis.ping();
    const counts: Record<string, number> = {};
    for (const channel of channels) {
      const owner = redis.slots[keySlot(channel)]![0];
      const node = redis.nodes('master').find((n) => `${n.options.host}:${n.options.port}` === owner)!;
      const [, count] = (await node.call('PUBSUB', 'SHARDNUMSUB', channel)) as [string, number];
      counts[channel] = Number(count);
    }
    return counts;
  }
  const flat = (await redis.call('PUBSUB', 'NUMSUB', ...channels)) as (string | number)[];
  const counts: Record<string, number> = {};
  for (let i = 0; i < flat.length; i += 2) counts[String(flat[i])] = Number(flat[i + 1]);
  return counts;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Also the default of startServer; spawned instances (spawnInstance) take it explicitly. */
export { UNLIMITED_ENV } from './server.js';

/** A fresh org name, so suites sharing one Redis never see each other's presence. */
export const freshOrg = () => `org-${Math.random().toString(36).slice(2, 10)}`;

/** A GROUP conversation of `owner` with `others`; returns its id. */
export async function createGroup(server: TestServer, owner: string, others: string[]): Promise<string> {
  const { createConversation } = dataOf(
    await server.gql(owner, CreateConversationDocument, { input: { type: 'GROUP', name: 'realtime', participantIds: others } }),
  );
  return createConversation.id;
}

/** Sends a text message and returns it. */
export async function sendText(server: TestServer, auth: string, conversationId: string, content: string) {
  return dataOf(await server.gql(auth, SendMessageDocument, { input: { conversationId, content } })).sendMessage;
}

/** Sends `n` messages one after the other; returns their seqs. */
export async function sendMany(server: TestServer, auth: string, conversationId: string, n: number, prefix = 'm'): Promise<number[]> {
  const seqs: number[] = [];
  for (let i = 0; i < n; i++) seqs.push((await sendText(server, auth, conversationId, `${prefix}${i}`)).seq);
  return seqs;
}

/** Sends `n` messages, `concurrency` at a time (their order is whatever the server makes of it). */
export async function sendBulk(server: TestServer, auth: string, conversationId: string, n: number, concurrency = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < n) await sendText(server, auth, conversationId, `bulk${next++}`);
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
}

/** Whether the seqs run first, first+1, … with no gap and no repeat. */
export const consecutive = (seqs: number[], first: number) => seqs.every((s, i) => s === first + i);

export type ChildInstance = { url: string; wsUrl: string; process: ChildProcess; kill(): Promise<void> };

/**
 * Starts an instance in a child process on the given database and Redis, with `secret` so that
 * tokens minted by an in-process server work there too. `kill()` is SIGKILL: a crash.
 */
export async function spawnInstance(options: {
  databaseUrl: string;
  redisUrl: string;
  secret: string;
  timing?: AppOptions['timing'];
  env?: Record<string, string>;
}): Promise<ChildInstance> {
  const main = fileURLToPath(new URL('./instance-main.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    env: {
      ...process.env,
      NODE_ENV: 'test',
      HOST: '127.0.0.1',
      PORT: '0',
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: '',
      REDIS_CLUSTER_NODES: '',
      ...redisEnv(options.redisUrl),
      JWT_SECRET: options.secret,
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      SB_TEST_TIMING: JSON.stringify(options.timing ?? {}),
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const port = await new Promise<number>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += String(d);
      const match = /\{"port":(\d+)\}/.exec(out);
      if (match) resolve(Number(match[1]));
    });
    child.once('exit', (code) => reject(new Error(`instance exited with ${code} before listening: ${stderr}`)));
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    url: `http://127.0.0.1:${port}/graphql`,
    wsUrl: `ws://127.0.0.1:${port}/graphql`,
    process: child,
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
