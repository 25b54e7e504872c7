// WORKERS=2: one deployment is a primary and two worker processes on one port, seen from outside:
// requests and sockets spread over the workers, events cross between them through Redis,
// /metrics counts for the whole deployment, a killed worker is replaced, SIGTERM stops all.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintToken } from '../../../src/auth/jwt.js';
import { MessageAddedDocument } from '../../../src/client/generated/graphql.js';
import { topics } from '../../../src/pubsub/topics.js';
import { freePort } from '../../kit/faults.js';
import { freshOrg, numsub, type RawSocket, rawSocket, type ServerMessage, testRedis } from '../../kit/realtime.js';
import { UNLIMITED_ENV } from '../../kit/server.js';
import { type ServiceProcess, spawnService } from '../../kit/service-process.js';
import { createTestDatabase, redisEnv, TEST_DATABASE_URL, TEST_REDIS_URL } from '../../kit/services.js';
import { eventually } from '../../kit/subscriptions.js';

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)('WORKERS=2: one deployment of two worker processes', () => {
  let service: ServiceProcess;
  let base: string;
  let dataDir: string;
  let dropDatabase: (() => Promise<void>) | undefined;
  const logs = () => service.logs;
  const secret = randomBytes(32).toString('hex');
  const org = freshOrg();
  const token = (sub: string) => mintToken(secret, { sub, name: sub, org });

  const started = () =>
    logs()
      .filter((l) => l.msg === 'worker started')
      .map((l) => l.pid!);
  const exited = () =>
    logs()
      .filter((l) => l.msg?.startsWith('worker exited'))
      .map((l) => l.pid!);
  const liveWorkers = () => started().filter((pid) => !exited().includes(pid));
  /** The worker processes that logged serving an operation (every app log line carries its pid). */
  const servedBy = (operation: string) =>
    new Set(
      logs()
        .filter((l) => l.msg === 'operation' && l.operation === operation)
        .map((l) => l.pid),
    );

  /** One request on a connection of its own, so that successive requests spread over the workers. */
  const http = (path: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(`${base}${path}`, { method: init.method ?? 'GET', headers: init.headers, agent: false }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      });
      req.on('error', reject);
      req.end(init.body);
    });
  const gql = async (auth: string, query: string, variables?: Record<string, unknown>) => {
    const { body } = await http('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` },
      body: JSON.stringify({ query, variables }),
    });
    const result = JSON.parse(body) as { data?: Record<string, any>; errors?: unknown[] };
    if (result.errors) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
    return result.data!;
  };
  const send = (auth: string, conversationId: string, content: string) =>
    gql(auth, 'mutation($c: ID!, $t: String!) { sendMessage(input: {conversationId: $c, content: $t}) { id } }', { c: conversationId, t: content });

  beforeAll(async () => {
    const database = await createTestDatabase();
    dropDatabase = database.drop;
    dataDir = mkdtempSync(join(tmpdir(), 'sb-cluster-'));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    service = spawnService({
      ...UNLIMITED_ENV,
      PORT: String(port),
      DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      ...redisEnv(TEST_REDIS_URL!),
      JWT_SECRET: secret,
      WORKERS: '2',
    });
    await eventually(() => {
      if (service.child.exitCode !== null) throw new Error(`the service exited with ${service.child.exitCode}: ${service.stderr()}`);
      return liveWorkers().length === 2;
    });
  });

  afterAll(async () => {
    for (const pid of [...liveWorkers(), service?.child.pid]) if (pid && alive(pid)) process.kill(pid, 'SIGKILL');
    await dropDatabase?.();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers GraphQL over HTTP on every connection', async () => {
    const alice = await token('alice');
    const answers = await Promise.all(Array.from({ length: 4 }, () => gql(alice, '{ viewer { id displayName } }')));
    expect(answers).toEqual(Array(4).fill({ viewer: { id: 'alice', displayName: 'alice' } }));
    // Both workers answered some (log lines are written asynchronously).
    await eventually(() => servedBy('viewer').size === 2);
  });

  it('delivers a message sent over HTTP to subscribers on every worker', async () => {
    const alice = await token('alice');
    const bob = await token('bob');
    const { createConversation } = await gql(alice, 'mutation { createConversation(input: {type: GROUP, name: "cluster", participantIds: ["bob"]}) { id } }');
    const conversationId = createConversation.id as string;
    // Connections go to the workers in turn: six sockets are three on each.
    const sockets: RawSocket[] = [];
    for (let i = 0; i < 6; i++) {
      const socket = await rawSocket(`${base.replace('http', 'ws')}/graphql`, bob);
      socket.subscribe('live', MessageAddedDocument, { conversationId });
      sockets.push(socket);
    }
    const got = (content: string) => (m: ServerMessage) =>
      m.type === 'next' && (m.payload as { data?: { messageAdded?: { content: string } } }).data?.messageAdded?.content === content;
    try {
      // The subscriptions are live (no afterSeq, no replay) once a probe reaches every socket.
      await eventually(async () => {
        await send(alice, conversationId, 'probe');
        return sockets.every((s) => s.messages.some(got('probe')));
      });
      // Each worker holds one Redis subscription to the conversation for its sockets.
      const redis = testRedis();
      try {
        expect((await numsub(redis, [topics.messageAdded(conversationId)]))[topics.messageAdded(conversationId)]).toBe(2);
      } finally {
        redis.disconnect();
      }
      // Each send lands on one worker; the sockets on the other get it through Redis.
      for (const content of ['one', 'two', 'three', 'four']) await send(alice, conversationId, content);
      await Promise.all(sockets.flatMap((s) => ['one', 'two', 'three', 'four'].map((content) => s.waitFor(got(content)))));
    } finally {
      for (const socket of sockets) socket.socket.close();
    }
  });

  it('reports the metrics of the whole deployment at /metrics', async () => {
    const alice = await token('alice');
    for (let i = 0; i < 6; i++) await gql(alice, '{ conversations(first: 1) { nodes { id } } }');
    await eventually(() => servedBy('conversations').size === 2);
    // Whichever worker answers, it counts all six, some of which the other worker served.
    for (let i = 0; i < 2; i++) {
      const { status, body } = await http('/metrics');
      expect(status).toBe(200);
      const line = body.split('\n').find((l) => l.startsWith('switchboard_operation_duration_seconds_count{') && l.includes('operation="conversations"'));
      expect(line).toMatch(/ 6$/);
    }
  });

  it('replaces a worker killed with SIGKILL and keeps answering', async () => {
    const [victim, survivor] = liveWorkers();
    process.kill(victim, 'SIGKILL');
    await eventually(() => liveWorkers().length === 2 && !liveWorkers().includes(victim));
    expect(logs().find((l) => l.msg?.startsWith('worker exited') && l.pid === victim)).toMatchObject({ code: null, signal: 'SIGKILL' });
    expect(liveWorkers()).toContain(survivor);
    const alice = await token('alice');
    const answers = await Promise.all(Array.from({ length: 4 }, () => gql(alice, '{ viewer { id } }')));
    expect(answers).toEqual(Array(4).fill({ viewer: { id: 'alice' } }));
  });

  it('printed its URLs on stderr once, from the primary, also after replacing a worker', () => {
    expect(service.stderr()).toBe(`Switchboard is running: GraphQL ${base}/graphql, GraphiQL ${base}/graphql in a browser, web chat ${base}/\n`);
  });

  it('stops the primary and every worker with code 0 on SIGTERM', async () => {
    const workers = liveWorkers();
    service.child.kill('SIGTERM');
    // 0, not 1: the primary did not have to kill a worker that failed to stop in time.
    expect(await service.exited).toBe(0);
    expect(workers.filter(alive)).toEqual([]);
  });
});

describe('WORKERS=2 without Redis', () => {
  it('refuses to start, naming REDIS_URL', async () => {
    const refused = spawnService({ WORKERS: '2', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/unused' });
    expect(await refused.exited).toBe(2);
    expect(refused.stderr()).toContain('REDIS_URL');
  });
});

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)('WORKERS=2 on a port in use', () => {
  it('says which variable to change and stops, instead of starting worker after worker', async () => {
    const database = await createTestDatabase();
    const dataDir = mkdtempSync(join(tmpdir(), 'sb-cluster-'));
    const occupant = createServer();
    await new Promise<void>((resolve) => occupant.listen(0, '127.0.0.1', resolve));
    const { port } = occupant.address() as AddressInfo;
    try {
      const refused = spawnService({ PORT: String(port), DATA_DIR: dataDir, DATABASE_URL: database.url, ...redisEnv(TEST_REDIS_URL!), WORKERS: '2' });
      expect(await refused.exited).toBe(1);
      expect(refused.stderr()).toContain(`switchboard cannot start: port ${port} on 127.0.0.1 is already in use. Set PORT to a free port`);
      expect(refused.logs.filter((l) => l.msg === 'worker exited: starting another')).toEqual([]);
      expect(refused.logs.map((l) => l.msg)).toContain('a worker cannot start with this configuration: giving up');
    } finally {
      await new Promise((resolve) => occupant.close(resolve));
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
