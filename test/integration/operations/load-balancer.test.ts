// HAProxy and nginx, as configured in docs/deploy/, each in front of two instances of the service
// (processes of their own, as deployed): requests go round-robin with no stickiness, WebSockets
// pass through, and a rolling restart (SIGTERM one instance, start it again, then the other)
// while clients send and subscribe through the balancer loses no acknowledged message and no
// delivery.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { mintToken } from '../../../src/auth/jwt.js';
import { createSwitchboardClient, type SwitchboardClient } from '../../../src/client/index.js';
import { freePort } from '../../kit/faults.js';
import { haproxyAvailable, type LoadBalancer, nginxAvailable, startHaproxy, startNginx } from '../../kit/load-balancer.js';
import { consecutive, freshOrg } from '../../kit/realtime.js';
import { UNLIMITED_ENV } from '../../kit/server.js';
import { type ServiceProcess, spawnService } from '../../kit/service-process.js';
import { createTestDatabase, redisEnv, TEST_DATABASE_URL, TEST_REDIS_URL } from '../../kit/services.js';
import { eventually } from '../../kit/subscriptions.js';

const balancers = [
  { name: 'HAProxy', available: await haproxyAvailable(), start: startHaproxy },
  { name: 'nginx', available: await nginxAvailable(), start: startNginx },
];

for (const { name, available, start } of balancers)
  describe(`${name} in front of two instances`, () => {
    if (!TEST_DATABASE_URL || !TEST_REDIS_URL || !available) {
      it.skip('needs TEST_DATABASE_URL, TEST_REDIS_URL and the balancer', () => {});
      return;
    }

    const secret = randomBytes(32).toString('hex');
    const org = freshOrg();
    const token = (sub: string) => mintToken(secret, { sub, name: sub, org });
    let databaseUrl: string;
    let dropDatabase: (() => Promise<void>) | undefined;
    let ports: number[];
    const instances: ServiceProcess[] = [];
    let balancer: LoadBalancer;
    const clients: SwitchboardClient[] = [];

    const startInstance = (i: number) => {
      instances[i] = spawnService({ ...UNLIMITED_ENV, PORT: String(ports[i]), DATABASE_URL: databaseUrl, ...redisEnv(TEST_REDIS_URL!), JWT_SECRET: secret });
      return instances[i]!.listening;
    };
    /** Operations an instance logged serving (each process logs its own). */
    const served = (i: number) => instances[i]!.logs.filter((l) => l.msg === 'operation').length;
    const client = (sub: string) => {
      const c = createSwitchboardClient({ url: balancer.url, webSocketImpl: WebSocket, token: () => token(sub) });
      clients.push(c);
      return c;
    };

    beforeAll(async () => {
      const database = await createTestDatabase();
      databaseUrl = database.url;
      dropDatabase = database.drop;
      ports = [await freePort(), await freePort()];
      // One after the other: both apply the migrations at start.
      await startInstance(0);
      await startInstance(1);
      balancer = await start(await freePort(), ports);
    });
    afterAll(async () => {
      await Promise.all(clients.map((c) => c.close()));
      await balancer?.stop();
      for (const instance of instances) {
        if (instance.child.exitCode === null && instance.child.signalCode === null) instance.child.kill('SIGKILL');
        await instance.exited;
      }
      await dropDatabase?.();
    });

    it('sends requests to the instances in turn, with no stickiness, and passes WebSocket upgrades', async () => {
      // Both in rotation (HAProxy: two checks in a row bring a server up).
      await eventually(async () => {
        await fetch(balancer.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{__typename}"}' });
        return served(0) > 0 && served(1) > 0;
      });
      const before = [served(0), served(1)];
      const alice = client('alice');
      for (let i = 0; i < 10; i++) expect((await alice.viewer()).id).toBe('alice');
      // Log lines are written asynchronously.
      await eventually(() => served(0) + served(1) - before[0]! - before[1]! === 10);
      expect([served(0) - before[0]!, served(1) - before[1]!]).toEqual([5, 5]);

      const bob = client('bob');
      await bob.viewer();
      const conversation = await alice.createConversation({ type: 'GROUP', name: 'through the balancer', participantIds: ['bob'] });
      const heard: number[] = [];
      bob.onMessage(conversation.id, (m) => heard.push(m.seq), { afterSeq: 0 });
      const sent = await alice.sendMessage({ conversationId: conversation.id, content: 'over a WebSocket through HAProxy' });
      await eventually(() => heard.includes(sent.seq));
    });

    it('loses no acknowledged message and no delivery through a rolling restart', async () => {
      const alice = client('alice');
      const subscribers = ['bob', 'carol', 'bob', 'carol'].map((sub) => ({ sub, client: client(sub), seqs: [] as number[] }));
      for (const s of subscribers) await s.client.viewer();
      const conversation = await alice.createConversation({ type: 'GROUP', name: 'rolling restart', participantIds: ['bob', 'carol'] });
      const conversationId = conversation.id;
      for (const s of subscribers) s.client.onMessage(conversationId, (m) => s.seqs.push(m.seq), { afterSeq: 0 });

      const acknowledged: number[] = [];
      const failed: unknown[] = [];
      let sending = true;
      const sender = (async () => {
        for (let i = 0; sending; i++) {
          try {
            acknowledged.push((await alice.sendMessage({ conversationId, content: `m${i}` })).seq);
          } catch (err) {
            failed.push(err);
          }
        }
      })();
      const sendsSoFar = () => acknowledged.length + failed.length;

      const restarts: { instance: number; drainMs: number; backMs: number }[] = [];
      for (const i of [0, 1]) {
        const from = sendsSoFar();
        await eventually(() => sendsSoFar() >= from + 20);
        const draining = instances[i]!;
        const t0 = Date.now();
        draining.child.kill('SIGTERM');
        expect(await draining.exited).toBe(0);
        const drainMs = Date.now() - t0;
        await startInstance(i);
        // Back in rotation once it serves what the sender sends through the balancer.
        await eventually(() => served(i) > 0);
        restarts.push({ instance: i, drainMs, backMs: Date.now() - t0 });
      }
      const from = sendsSoFar();
      await eventually(() => sendsSoFar() >= from + 20);
      sending = false;
      await sender;

      expect(failed).toEqual([]);
      expect(consecutive(acknowledged, 1)).toBe(true);
      for (const s of subscribers) {
        await eventually(() => s.seqs.length >= acknowledged.length);
        expect(s.seqs).toEqual(acknowledged);
      }
      console.info(
        `rolling restart behind ${name}: ${acknowledged.length} sends acknowledged, none failed, each delivered once in order to ${subscribers.length} subscribers; ${restarts
          .map((r) => `instance ${r.instance + 1} drained in ${r.drainMs} ms, serving again ${r.backMs} ms after SIGTERM`)
          .join('; ')}`,
      );
    });
  });
