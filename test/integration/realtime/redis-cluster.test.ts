// Two instances on a real Redis Cluster (three masters, each with a replica): events travel by
// sharded pub/sub within the shard that owns their topic, and a master that dies, replaced by its
// replica, costs no acknowledged message and no delivery.
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MessageAddedDocument } from '../../../src/client/generated/graphql.js';
import { keySlot } from '../../../src/pubsub/sharded.js';
import { topics } from '../../../src/pubsub/topics.js';
import { createGroup, freshOrg, sendText, UNLIMITED_ENV } from '../../kit/realtime.js';
import { redisClusterAvailable, startRedisCluster, type TestRedisCluster } from '../../kit/redis-cluster.js';
import { startServer, type TestServer } from '../../kit/server.js';
import { TEST_DATABASE_URL } from '../../kit/services.js';
import { collect, eventually } from '../../kit/subscriptions.js';

describe.skipIf(!TEST_DATABASE_URL || !(await redisClusterAvailable()))('two instances on a Redis Cluster', () => {
  let cluster: TestRedisCluster;
  let a: TestServer;
  let b: TestServer;
  const org = freshOrg();
  const token = (sub: string) => a.token(sub, { org, name: sub });
  const node = (port: number) => new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 1 });

  beforeAll(async () => {
    cluster = await startRedisCluster();
    const env = { ...UNLIMITED_ENV, REDIS_CLUSTER_NODES: cluster.env };
    a = await startServer({ backend: 'postgres', env });
    b = await startServer({ databaseUrl: a.databaseUrl, secret: a.secret, env });
  });
  afterAll(async () => {
    // B first: A owns the database and drops it.
    await b?.stop();
    await a?.stop();
    await cluster?.stop();
  });

  it('hashes topics and presence keys to the slots the cluster does', async () => {
    const redis = node(cluster.nodes[0]!.port);
    try {
      const names = [topics.messageAdded('c-1'), topics.presence('org', 'u:{x}'), 'sb:{presence}:online', 'sb:{presence}:leases:a', '{}x', 'é{'];
      for (const name of names) expect(keySlot(name)).toBe(Number(await redis.call('CLUSTER', 'KEYSLOT', name)));
      expect(keySlot('sb:{presence}:online')).toBe(keySlot('sb:{presence}:leases:org/user'));
    } finally {
      redis.disconnect();
    }
  });

  it('subscribes each topic only on the master that owns it, and never with classic SUBSCRIBE', async () => {
    const alice = await token('alice');
    const bob = await token('bob');
    const conversationId = await createGroup(a, alice, ['bob']);
    const topic = topics.messageAdded(conversationId);
    const onA = collect(a.ws(bob), MessageAddedDocument, { conversationId });
    const onB = collect(b.ws(bob), MessageAddedDocument, { conversationId });
    const owner = await cluster.masterOf(keySlot(topic));
    const count = async (port: number, kind: 'SHARDNUMSUB' | 'NUMSUB') => {
      const redis = node(port);
      try {
        return Number(((await redis.call('PUBSUB', kind, topic)) as [string, number])[1]);
      } finally {
        redis.disconnect();
      }
    };
    await eventually(async () => (await count(owner.port, 'SHARDNUMSUB')) === 2);
    for (const other of cluster.nodes.filter((n) => n !== owner)) expect(await count(other.port, 'SHARDNUMSUB')).toBe(0);
    for (const any of cluster.nodes) expect(await count(any.port, 'NUMSUB')).toBe(0);
    const sent = await sendText(a, alice, conversationId, 'sharded');
    for (const sub of [onA, onB]) expect((await sub.waitFor(1))[0]!.messageAdded).toMatchObject({ id: sent.id, seq: sent.seq });
  });

  it('follows a topic to its new master when a replica is promoted while the old master lives on', async () => {
    const alice = await token('alice');
    const bob = await token('bob');
    const conversationId = await createGroup(a, alice, ['bob']);
    const topic = topics.messageAdded(conversationId);
    const subscribers = [
      collect(a.ws(bob), MessageAddedDocument, { conversationId, afterSeq: 0 }),
      collect(b.ws(bob), MessageAddedDocument, { conversationId, afterSeq: 0 }),
    ];
    const acknowledged = [(await sendText(a, alice, conversationId, 'probe')).seq];
    await Promise.all(subscribers.map((s) => s.waitFor(1)));
    const master = await cluster.masterOf(keySlot(topic));
    const replica = await cluster.replicaOf(master);
    await cluster.promote(replica);
    expect((await cluster.masterOf(keySlot(topic))).port).toBe(replica.port);
    // Sends go on until both instances have subscribed the topic on its new master.
    const shardSubscribers = async () => {
      const redis = node(replica.port);
      try {
        return Number(((await redis.call('PUBSUB', 'SHARDNUMSUB', topic)) as [string, number])[1]);
      } finally {
        redis.disconnect();
      }
    };
    let i = 0;
    await eventually(async () => {
      acknowledged.push((await sendText(i % 2 ? b : a, alice, conversationId, `m${i++}`)).seq);
      return (await shardSubscribers()) === 2;
    });
    for (let end = i + 10; i < end; i++) acknowledged.push((await sendText(i % 2 ? b : a, alice, conversationId, `m${i}`)).seq);
    expect(acknowledged).toEqual(acknowledged.map((_, k) => k + 1));
    for (const sub of subscribers) expect((await sub.waitFor(acknowledged.length)).map((e) => e.messageAdded.seq)).toEqual(acknowledged);
  });

  it('loses no acknowledged message when the master owning the topic dies and its replica takes over', async () => {
    const alice = await token('alice');
    const bob = await token('bob');
    const carol = await token('carol');
    const conversationId = await createGroup(a, alice, ['bob', 'carol']);
    const subscribers = [
      collect(a.ws(bob), MessageAddedDocument, { conversationId, afterSeq: 0 }),
      collect(b.ws(bob), MessageAddedDocument, { conversationId, afterSeq: 0 }),
      collect(a.ws(carol), MessageAddedDocument, { conversationId, afterSeq: 0 }),
      collect(b.ws(carol), MessageAddedDocument, { conversationId, afterSeq: 0 }),
    ];
    // Every subscription is live before the first send (a probe is heard by all of them).
    const probe = await sendText(a, alice, conversationId, 'probe');
    await Promise.all(subscribers.map((s) => s.waitFor(1)));
    const acknowledged = [probe.seq];
    const send = async (i: number) => acknowledged.push((await sendText(i % 2 ? b : a, alice, conversationId, `m${i}`)).seq);

    let i = 0;
    for (; i < 30; i++) await send(i);
    const master = await cluster.masterOf(keySlot(topics.messageAdded(conversationId)));
    const killedAt = Date.now();
    await cluster.kill(master);
    // Keep sending, alternately through A and B, until the replica serves the slot, then some more.
    let failedOver = false;
    const takeover = cluster.waitUntilOk().then(() => {
      failedOver = true;
    });
    while (!failedOver) await send(i++);
    await takeover;
    const takeoverMs = Date.now() - killedAt;
    const duringFailover = i - 30;
    for (const end = i + 30; i < end; i++) await send(i);
    expect((await cluster.masterOf(keySlot(topics.messageAdded(conversationId)))).port).not.toBe(master.port);

    const all = acknowledged.map((_, k) => k + 1);
    expect(acknowledged).toEqual(all);
    for (const sub of subscribers) {
      const seqs = (await sub.waitFor(all.length)).map((e) => e.messageAdded.seq);
      expect(seqs).toEqual(all);
    }
    const caughtUpMs = Date.now() - killedAt;
    console.info(
      `redis cluster failover: replica took over ${takeoverMs} ms after the kill; ${duringFailover} sends during it; all ${all.length} seqs at ${subscribers.length} subscribers ${caughtUpMs} ms after the kill`,
    );
    // Nothing more arrives: no duplicate delivered late.
    await sendText(a, alice, conversationId, 'last');
    for (const sub of subscribers) {
      const seqs = (await sub.waitFor(all.length + 1)).map((e) => e.messageAdded.seq);
      expect(seqs).toEqual([...all, all.length + 1]);
    }
  });
});
