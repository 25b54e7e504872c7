// Two (and for one test three) instances on one real Postgres and one real Redis: events cross
// instances, resume is gapless across them, presence survives a crashed instance, and sockets
// that die in every possible state leave no Redis channel subscribed.
import { print } from 'graphql';
import type { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ControlEventSubDocument,
  MessageAddedDocument,
  MessageUpdatedDocument,
  PresenceDocument,
  type PresenceSubscription,
  SendControlDocument,
  SetTypingDocument,
  TypingDocument,
  UserDocument,
  UsersDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import { idKey } from '../../../src/lib/id-names.js';
import { PRESENCE_KEYS } from '../../../src/modules/users/presence.service.js';
import { topics } from '../../../src/pubsub/topics.js';
import {
  consecutive,
  createGroup,
  freshOrg,
  numsub,
  type RawSocket,
  rawSocket,
  sendMany,
  sendText,
  spawnInstance,
  testRedis,
  UNLIMITED_ENV,
} from '../../kit/realtime.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from '../../kit/services.js';
import { type Collector, collect, eventually } from '../../kit/subscriptions.js';

/**
 * Short leases, so that a crashed instance's users lapse within seconds (production: 30 s / 10 s),
 * renewed often enough that a busy machine does not let a live one lapse. Typing never lapses:
 * whatever turns an indicator off is what the test does.
 */
const timing = { presence: { leaseTtlMs: 6_000, renewEveryMs: 300 }, typingTtlMs: 3_600_000 };

describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL)('two instances on one Postgres and one Redis', () => {
  let a: TestServer;
  let b: TestServer;
  let redis: Redis | Cluster;
  const org = freshOrg();
  /** A token for `sub` in this suite's own org (presence in Redis is shared by every suite). */
  const token = (sub: string, extra: { expiresIn?: string } = {}) => a.token(sub, { org, name: sub, ...extra });

  beforeAll(async () => {
    a = await startServer({ backend: 'postgres', redisUrl: TEST_REDIS_URL, env: UNLIMITED_ENV, timing });
    b = await startServer({ databaseUrl: a.databaseUrl, redisUrl: TEST_REDIS_URL, secret: a.secret, env: UNLIMITED_ENV, timing });
    redis = testRedis();
  });
  afterAll(async () => {
    // B first: A owns the database and drops it.
    await b?.stop();
    await a?.stop();
    redis?.disconnect();
  });

  it('delivers a message sent on A to subscribers on B', async () => {
    const alice = await token('alice');
    const bob = await token('bob');
    const conversationId = await createGroup(a, alice, ['bob']);
    const { seq } = await sendText(a, alice, conversationId, 'start');
    const one = collect(b.ws(bob), MessageAddedDocument, { conversationId, afterSeq: seq });
    const all = collect(b.ws(bob), MessageAddedDocument, {});
    const control = collect(b.ws(bob), ControlEventSubDocument, { conversationId });
    await eventually(async () => {
      await sendText(a, alice, conversationId, 'probe');
      return all.events.length > 0;
    });
    const sent = await sendText(a, alice, conversationId, 'across');
    await eventually(() => one.events.some((e) => e.messageAdded.id === sent.id) && all.events.some((e) => e.messageAdded.id === sent.id));
    const received = one.events.find((e) => e.messageAdded.id === sent.id)!.messageAdded;
    expect(received).toMatchObject({ content: 'across', seq: sent.seq, sender: { id: 'alice', displayName: 'alice' } });
    expect(
      consecutive(
        one.events.map((e) => e.messageAdded.seq),
        seq + 1,
      ),
    ).toBe(true);

    await eventually(async () => {
      await a.gql(alice, SendControlDocument, { conversationId, input: { event: 'RESUME', runId: 'r1' } });
      return control.events.length > 0;
    });
    expect(control.events[0]!.controlEvent).toMatchObject({ event: 'RESUME', issuedBy: { id: 'alice' } });
  });

  it('resumes on B with afterSeq: exactly the 200 messages sent on A while away, in order', async () => {
    const alice = await token('alice');
    const bob = await token('bob');
    const conversationId = await createGroup(a, alice, ['bob']);
    await sendMany(a, alice, conversationId, 3, 'early');
    const first = collect(b.ws(bob), MessageAddedDocument, { conversationId, afterSeq: 0 });
    const lastSeen = (await first.waitFor(3)).at(-1)!.messageAdded.seq;
    first.stop();

    const away = await sendMany(a, alice, conversationId, 200, 'away');
    const resumed = collect(b.ws(bob), MessageAddedDocument, { conversationId, afterSeq: lastSeen });
    const events = await resumed.waitFor(200);
    expect(events.map((e) => e.messageAdded.seq)).toEqual(away);
    expect(events.map((e) => e.messageAdded.content)).toEqual(away.map((_, i) => `away${i}`));
    expect(consecutive(away, lastSeen + 1)).toBe(true);
  });

  it('gives a live subscriber every seq once, in order, while both instances send at once', async () => {
    const alice = await token('alice');
    const bob = await token('bob');
    const conversationId = await createGroup(a, alice, ['bob']);
    const onA = collect(a.ws(bob), MessageAddedDocument, { conversationId, afterSeq: 0 });
    const onB = collect(b.ws(bob), MessageAddedDocument, { conversationId, afterSeq: 0 });
    await Promise.all([sendMany(a, alice, conversationId, 100, 'a'), sendMany(b, bob, conversationId, 100, 'b')]);
    for (const sub of [onA, onB]) {
      const seqs = (await sub.waitFor(200)).map((e) => e.messageAdded.seq);
      expect(seqs).toHaveLength(200);
      expect(consecutive(seqs, 1)).toBe(true);
    }
  });

  it('carries typing across instances, and stops it on send or disconnect on either one', async () => {
    const alice = await token('alice');
    const bob = await token('bob');
    const conversationId = await createGroup(a, alice, ['bob', 'typing-probe']);
    const probe = await token('typing-probe');
    const onB = collect(b.ws(bob), TypingDocument, { conversationId });
    // Until B's subscription is live, events may go unheard: a probe types until one is heard.
    await eventually(async () => {
      await a.gql(probe, SetTypingDocument, { conversationId, isTyping: true });
      return onB.events.length > 0;
    });
    const alices = () => onB.events.filter((e) => e.typing.user.id === 'alice').map((e) => e.typing.isTyping);
    // Set on A, heard on B.
    dataOf(await a.gql(alice, SetTypingDocument, { conversationId, isTyping: true }));
    await eventually(() => alices().length === 1);
    // Stopped by a send through B.
    await sendText(b, alice, conversationId, 'sent through B');
    await eventually(() => alices().length === 2);

    // Stopped by alice's socket on B closing, although it was set through A.
    const socket = await rawSocket(b.wsUrl, alice);
    dataOf(await a.gql(alice, SetTypingDocument, { conversationId, isTyping: true }));
    await eventually(() => alices().length === 3);
    socket.terminate();
    await eventually(() => alices().length === 4);
    expect(alices()).toEqual([true, false, true, false]);
  });

  /** Waits until a presence subscription hears a probe user connect (it is live from then on). */
  async function untilListening(sub: Collector<PresenceSubscription>, wsUrl: string, probeId: string) {
    const probe = await token(probeId);
    await eventually(async () => {
      const s = await rawSocket(wsUrl, probe);
      s.terminate();
      await s.closed;
      return sub.events.some((e) => e.presence.user.id === probeId);
    });
  }
  const statusOn = async (server: TestServer, id: string) => {
    const viewer = await token('observer');
    const { user } = dataOf(await server.gql(viewer, UserDocument, { id }));
    const online = dataOf(await server.gql(viewer, UsersDocument, { onlineOnly: true, first: 200 }));
    return `${user!.presence.status}${online.users.nodes.some((u) => u.id === id) ? '+listed' : ''}`;
  };

  it('keeps a user ONLINE while they have a socket on any instance, OFFLINE after the last', async () => {
    const dave = await token('dave');
    dataOf(await a.gql(dave, ViewerDocument));
    const watch = collect(a.ws(await token('bob')), PresenceDocument, { userIds: ['dave', 'probe-a'] });
    await untilListening(watch, b.wsUrl, 'probe-a');
    const daves = () => watch.events.filter((e) => e.presence.user.id === 'dave').map((e) => e.presence.status);

    const onB = await rawSocket(b.wsUrl, dave);
    await eventually(() => daves().length === 1);
    const onA = await rawSocket(a.wsUrl, dave);
    expect([await statusOn(a, 'dave'), await statusOn(b, 'dave')]).toEqual(['ONLINE+listed', 'ONLINE+listed']);

    onB.terminate();
    await onB.closed;
    // B has given up the lease of its socket, and A has renewed its own twice since: dave is still
    // ONLINE through his socket on A.
    const leases = async () =>
      (await redis.zrange(`${PRESENCE_KEYS.leases}${idKey(org, 'dave')}`, 0, -1, 'WITHSCORES')).filter((_, i) => i % 2 === 1).map(Number);
    await eventually(async () => (await leases()).length === 1);
    const [renewed] = await leases();
    await eventually(async () => (await leases())[0]! > renewed! + 2 * timing.presence.renewEveryMs);
    expect([await statusOn(a, 'dave'), await statusOn(b, 'dave')]).toEqual(['ONLINE+listed', 'ONLINE+listed']);

    onA.socket.close(1000);
    await eventually(() => daves().length === 2);
    expect(daves()).toEqual(['ONLINE', 'OFFLINE']);
    expect([await statusOn(a, 'dave'), await statusOn(b, 'dave')]).toEqual(['OFFLINE', 'OFFLINE']);
  });

  it('puts a user swept while connected back at the next renewal, and says ONLINE again', async () => {
    const [fay, gus] = await Promise.all([token('fay'), token('gus')]);
    const watch = collect(a.ws(await token('bob')), PresenceDocument, { userIds: ['fay', 'gus', 'probe-d'] });
    await untilListening(watch, b.wsUrl, 'probe-d');
    const heard = (id: string) => watch.events.filter((e) => e.presence.user.id === id).map((e) => e.presence.status);
    // Both on B, so that one renewal renews both; only fay is swept.
    const sockets = await Promise.all([rawSocket(b.wsUrl, gus), rawSocket(b.wsUrl, fay)]);
    await eventually(() => heard('fay').length === 1 && heard('gus').length === 1);

    // What another instance's sweep does when B stalled past the TTL: out of the index.
    // (A status read here could already see the next renewal: the second ONLINE says it ran.)
    await redis.zrem(PRESENCE_KEYS.online, idKey(org, 'fay'));
    await eventually(async () => (await statusOn(a, 'fay')) === 'ONLINE+listed');
    await eventually(() => heard('fay').length === 2);
    expect(heard('fay')).toEqual(['ONLINE', 'ONLINE']);
    expect(heard('gus')).toEqual(['ONLINE']);
    for (const s of sockets) s.terminate();
  });

  it('turns the users of a crashed instance OFFLINE when their leases lapse', async () => {
    const child = await spawnInstance({ databaseUrl: a.databaseUrl!, redisUrl: TEST_REDIS_URL!, secret: a.secret, timing, env: UNLIMITED_ENV });
    try {
      const erin = await token('erin');
      const watch = collect(a.ws(await token('bob')), PresenceDocument, { userIds: ['erin', 'probe-c'] });
      await untilListening(watch, child.wsUrl, 'probe-c');
      const erins = () => watch.events.filter((e) => e.presence.user.id === 'erin').map((e) => e.presence.status);

      const socket = await rawSocket(child.wsUrl, erin);
      await eventually(() => erins().length === 1);
      expect(await statusOn(b, 'erin')).toBe('ONLINE+listed');

      // SIGKILL: no close handler, no presence cleanup, no unsubscribe; its leases just stop renewing.
      await child.kill();
      await socket.closed;
      await eventually(() => erins().length === 2);
      expect(erins()).toEqual(['ONLINE', 'OFFLINE']);
      expect([await statusOn(a, 'erin'), await statusOn(b, 'erin')]).toEqual(['OFFLINE', 'OFFLINE']);
    } finally {
      await child.kill();
    }
  });

  it('leaves no Redis channel subscribed after 500 sockets die mid-connect, mid-subscribe and mid-subscription', async () => {
    const users = Array.from({ length: 10 }, (_, i) => `crowd${i}`);
    const owner = await token('owner');
    const tokens = await Promise.all(users.map((u) => token(u)));
    const conversationId = await createGroup(a, owner, users);
    await sendText(a, owner, conversationId, 'something to replay');
    const channels = [
      topics.messageAdded(conversationId),
      topics.messageUpdated(conversationId),
      topics.typing(conversationId),
      topics.controlEvent(conversationId),
      topics.membership(conversationId),
      topics.orgPresence(org),
      ...users.flatMap((u) => [topics.presence(org, u), topics.userMembership(org, u)]),
    ];
    // One long-lived subscriber on A: its channel must stay at 1, not drop to 0, afterwards.
    const keeper = collect(a.ws(owner), MessageAddedDocument, { conversationId, afterSeq: 0 });
    await keeper.waitFor(1);
    const baseline = await numsub(redis, channels);
    expect(baseline[topics.messageAdded(conversationId)]).toBe(1);
    const listeners = () => [a.app.services.bus.listenerCount(), b.app.services.bus.listenerCount()];
    const listenersBefore = listeners();

    const replay = { conversationId, afterSeq: 0 };
    const firstNext = (s: RawSocket) => s.waitFor((m) => m.type === 'next');
    const die = async (i: number) => {
      const server = i % 2 === 0 ? a : b;
      const jwt = tokens[i % tokens.length]!;
      switch (i % 4) {
        case 0: {
          // Mid-connect: gone before connection_init has been answered.
          const s = await rawSocket(server.wsUrl, null, { init: false });
          s.socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${jwt}` } }));
          s.terminate();
          return;
        }
        case 1: {
          // Mid-subscribe: gone right after sending subscribe, before anything was set up.
          const s = await rawSocket(server.wsUrl, jwt);
          s.subscribe('1', MessageAddedDocument, replay);
          s.subscribe('2', TypingDocument, { conversationId });
          s.subscribe('3', PresenceDocument, { userIds: users });
          s.subscribe('4', MessageAddedDocument, {});
          s.terminate();
          return;
        }
        case 2: {
          // Mid-subscription: established (the replayed message arrived), then cut.
          const s = await rawSocket(server.wsUrl, jwt);
          s.subscribe('1', MessageAddedDocument, replay);
          s.subscribe('2', ControlEventSubDocument, { conversationId });
          s.subscribe('3', MessageUpdatedDocument, { conversationId });
          s.subscribe('4', PresenceDocument, {});
          await firstNext(s);
          s.terminate();
          return;
        }
        default: {
          // A clean close after subscribing, for comparison.
          const s = await rawSocket(server.wsUrl, jwt);
          s.subscribe('1', MessageAddedDocument, replay);
          s.subscribe('2', MessageAddedDocument, {});
          await firstNext(s);
          s.socket.close(1000);
          await s.closed;
        }
      }
    };
    for (let batch = 0; batch < 500; batch += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, k) => die(batch + k)));
    }

    await eventually(async () => JSON.stringify(await numsub(redis, channels)) === JSON.stringify(baseline), 200);
    await eventually(() => JSON.stringify(listeners()) === JSON.stringify(listenersBefore));
    // Nobody was left ONLINE by a socket that died during connection_init.
    for (const u of users) await eventually(async () => (await statusOn(a, u)) === 'OFFLINE');
    // And the long-lived subscriber still hears new messages.
    const after = await sendText(b, owner, conversationId, 'still here');
    await eventually(() => keeper.events.some((e) => e.messageAdded.id === after.id));
  });

  it('releases the Redis channels of an SSE subscription when the client goes away', async () => {
    // Participants with no other subscription: the channel counts are the SSE stream's alone.
    const alice = await token('sse-alice');
    const conversationId = await createGroup(a, alice, ['sse-bob']);
    const channels = [topics.messageAdded(conversationId), topics.membership(conversationId)];
    const baseline = await numsub(redis, channels);
    const abort = new AbortController();
    const res = await fetch(b.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${alice}` },
      body: JSON.stringify({ query: print(MessageAddedDocument), variables: { conversationId, afterSeq: 0 } }),
      signal: abort.signal,
    });
    expect(res.status).toBe(200);
    await sendText(a, alice, conversationId, 'over SSE');
    const reader = res.body!.getReader();
    let text = '';
    while (!text.includes('over SSE')) text += new TextDecoder().decode((await reader.read()).value);
    expect((await numsub(redis, channels))[topics.messageAdded(conversationId)]).toBe(baseline[topics.messageAdded(conversationId)]! + 1);
    abort.abort();
    await eventually(async () => JSON.stringify(await numsub(redis, channels)) === JSON.stringify(baseline));
  });
});
