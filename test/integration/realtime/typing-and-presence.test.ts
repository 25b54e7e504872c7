// Typing indicators and presence on one instance: the lapse, stopping on send and on disconnect,
// ONLINE/AWAY/BUSY/OFFLINE, and queries that agree with the events.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceSubscription, TypingSubscription } from '../../../src/client/generated/graphql.js';
import {
  MessageAddedDocument,
  PresenceDocument,
  SetTypingDocument,
  TypingDocument,
  UpdatePresenceDocument,
  UserDocument,
  UsersDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import { createGroup, freshOrg, rawSocket, sendText, sleep, UNLIMITED_ENV } from '../../kit/realtime.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends, TEST_REDIS_URL } from '../../kit/services.js';
import { type Collector, collect, eventually } from '../../kit/subscriptions.js';

/** Bob watches typing in a new conversation of alice's; resolves once the subscription is live. */
async function watchTyping(server: TestServer, alice: string, bob: string) {
  const conversationId = await createGroup(server, alice, ['bob']);
  const sub = await server.live(() => collect(server.ws(bob), TypingDocument, { conversationId }));
  return { conversationId, sub };
}
const aliceTyping = (sub: Collector<TypingSubscription>) => sub.events.filter((e) => e.typing.user.id === 'alice').map((e) => e.typing.isTyping);

/**
 * A short lapse, so that the test watching it need not wait the production 8 s (yet long enough
 * that an event is delivered before it lapses on a busy machine).
 */
const LAPSE_MS = 2_000;

describe.each(backends)('a typing indicator nobody turns off, on %s', (backend) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ backend, timing: { typingTtlMs: LAPSE_MS } });
  });
  afterAll(() => server?.stop());

  it('lapses no sooner than the lapse time after the last setTyping(true), which is not announced again', async () => {
    const alice = await server.token('alice', { name: 'Alice' });
    const { conversationId, sub } = await watchTyping(server, alice, await server.token('bob'));
    dataOf(await server.gql(alice, SetTypingDocument, { conversationId, isTyping: true }));
    await eventually(() => aliceTyping(sub).length === 1);
    // Half the lapse later, a refresh: the indicator lasts from then on.
    await sleep(LAPSE_MS / 2);
    const refreshedAt = Date.now();
    dataOf(await server.gql(alice, SetTypingDocument, { conversationId, isTyping: true }));
    // Nothing else happens: the server turns it off by itself, timed from the refresh. A busy
    // machine only makes that late; timers keep whole milliseconds, hence the one of slack.
    await eventually(() => aliceTyping(sub).length === 2);
    expect(Date.now() - refreshedAt).toBeGreaterThanOrEqual(LAPSE_MS - 1);
    expect(aliceTyping(sub)).toEqual([true, false]);
    expect(sub.events.at(-1)!.typing).toEqual({ conversationId, user: { id: 'alice' }, isTyping: false });
  });
});

describe.each(backends)('typing and presence on %s', (backend) => {
  let server: TestServer;
  let alice: string;
  let bob: string;

  beforeAll(async () => {
    // Typing never lapses here: whatever turns an indicator off is what the test does.
    server = await startServer({ backend, env: UNLIMITED_ENV, timing: { typingTtlMs: 3_600_000 } });
    alice = await server.token('alice', { name: 'Alice' });
    bob = await server.token('bob', { name: 'Bob' });
  });
  afterAll(() => server?.stop());

  it('turns typing off when the typist sends a message', async () => {
    const { conversationId, sub } = await watchTyping(server, alice, bob);
    dataOf(await server.gql(alice, SetTypingDocument, { conversationId, isTyping: true }));
    await eventually(() => aliceTyping(sub).length === 1);
    await sendText(server, alice, conversationId, 'done typing');
    await eventually(() => aliceTyping(sub).length === 2);
    expect(aliceTyping(sub)).toEqual([true, false]);
  });

  it('turns typing off when the typist’s socket closes', async () => {
    const { conversationId, sub } = await watchTyping(server, alice, bob);
    const socket = await rawSocket(server.wsUrl, alice);
    dataOf(await server.gql(alice, SetTypingDocument, { conversationId, isTyping: true }));
    await eventually(() => aliceTyping(sub).length === 1);
    socket.terminate();
    await eventually(() => aliceTyping(sub).length === 2);
    expect(aliceTyping(sub)).toEqual([true, false]);
  });

  /**
   * Until a presence subscription is live, a socket opening may go unheard: a probe user connects
   * and disconnects until the subscription hears of it. Tests then look only at other users.
   */
  async function untilListening(sub: Collector<PresenceSubscription>, probe: string, probeId: string) {
    await eventually(async () => {
      const s = await rawSocket(server.wsUrl, probe);
      s.terminate();
      await s.closed;
      return sub.events.some((e) => e.presence.user.id === probeId);
    });
  }

  /** Presence as bob reads it by query: User.presence, and whether users(onlineOnly) lists the user. */
  async function presenceOf(id: string) {
    const { user } = dataOf(await server.gql(bob, UserDocument, { id }));
    const online = dataOf(await server.gql(bob, UsersDocument, { onlineOnly: true, first: 200 }));
    return { status: user!.presence.status, listed: online.users.nodes.some((u) => u.id === id) };
  }

  it('is ONLINE while a socket is open, follows updatePresence, and is OFFLINE after the last closes', async () => {
    const dave = await server.token('dave', { name: 'Dave' });
    dataOf(await server.gql(dave, ViewerDocument)); // provisioned, never connected
    const probe = await server.token('probe-1');
    const all = collect(server.ws(bob), PresenceDocument, { userIds: ['dave', 'probe-1'] });
    await untilListening(all, probe, 'probe-1');
    const daves = () => all.events.filter((e) => e.presence.user.id === 'dave').map((e) => e.presence);
    const statuses = () => daves().map((p) => p.status);
    expect(await presenceOf('dave')).toEqual({ status: 'OFFLINE', listed: false });

    const first = await rawSocket(server.wsUrl, dave);
    await eventually(() => daves().length === 1);
    expect(daves()[0]).toMatchObject({ status: 'ONLINE' });
    expect(daves()[0]!.lastSeenAt).not.toBeNull();
    expect(await presenceOf('dave')).toEqual({ status: 'ONLINE', listed: true });

    // A second socket changes nothing; closing one of two changes nothing.
    const second = await rawSocket(server.wsUrl, dave);
    first.terminate();
    await first.closed;

    dataOf(await server.gql(dave, UpdatePresenceDocument, { status: 'AWAY' }));
    await eventually(() => daves().length === 2);
    expect(await presenceOf('dave')).toEqual({ status: 'AWAY', listed: true });
    dataOf(await server.gql(dave, UpdatePresenceDocument, { status: 'BUSY' }));
    await eventually(() => daves().length === 3);
    expect(await presenceOf('dave')).toEqual({ status: 'BUSY', listed: true });

    second.socket.close(1000);
    await eventually(() => daves().length === 4);
    expect(statuses()).toEqual(['ONLINE', 'AWAY', 'BUSY', 'OFFLINE']);
    expect(await presenceOf('dave')).toEqual({ status: 'OFFLINE', listed: false });
  });

  it('streams the presence of the whole org when no users are named, and of no other org', async () => {
    const orgWide: Collector<PresenceSubscription> = collect(server.ws(bob), PresenceDocument, {});
    const outsider = await server.token('erin', { org: 'elsewhere' });
    const insider = await server.token('frank');
    await untilListening(orgWide, await server.token('probe-2'), 'probe-2');
    const frankEvents = () => orgWide.events.filter((e) => e.presence.user.id === 'frank').length;
    const before = frankEvents();
    const other = await rawSocket(server.wsUrl, outsider);
    // Frank's event comes after erin's would have: it is the barrier for the negative check.
    const mine = await rawSocket(server.wsUrl, insider);
    await eventually(() => frankEvents() === before + 1);
    expect(orgWide.events.some((e) => e.presence.user.id === 'erin')).toBe(false);
    other.terminate();
    mine.terminate();
  });
});

/** The in-process bus, and Redis when the suite has one. */
const buses = TEST_REDIS_URL ? ['in-process', 'redis'] : ['in-process'];

describe.each(buses)('orgs whose names mimic another org’s topics, on the %s bus', (bus) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ redisUrl: bus === 'redis' ? TEST_REDIS_URL : undefined });
  });
  afterAll(() => server?.stop());

  it('keeps an org named "<org>:user:<user>" from hearing that user’s presence, and ids with ":" from another org’s messages', async () => {
    const acme = freshOrg();
    // Named as acme's alice's presence topic would be, were ids not escaped.
    const mimic = `${acme}:user:alice`;
    const watcher = await server.token('watcher', { org: mimic });
    const orgWide = collect(server.ws(watcher), PresenceDocument, {});
    await eventually(async () => {
      const probe = await rawSocket(server.wsUrl, await server.token('probe', { org: mimic }));
      probe.terminate();
      await probe.closed;
      return orgWide.events.some((e) => e.presence.user.id === 'probe');
    });
    const alice = await rawSocket(server.wsUrl, await server.token('alice', { org: acme }));
    // The mimic org's own event comes after alice's would have: the barrier for the negative check.
    const insider = await rawSocket(server.wsUrl, await server.token('insider', { org: mimic }));
    await eventually(() => orgWide.events.some((e) => e.presence.user.id === 'insider'));
    expect(orgWide.events.filter((e) => e.presence.user.id === 'alice')).toEqual([]);
    alice.terminate();
    insider.terminate();

    // acme's "alice:user:bob" has the membership topic the mimic org's bob would have.
    const lookalike = await server.token('alice:user:bob', { org: acme });
    const own = await createGroup(server, lookalike, ['alice']);
    const all = collect(server.ws(lookalike), MessageAddedDocument, {});
    const heard = () => all.events.map((e) => e.messageAdded.content);
    const barrier = (content: string) =>
      eventually(async () => {
        await sendText(server, lookalike, own, content);
        return heard().includes(content);
      });
    await barrier('mine');
    const bob = await server.token('bob', { org: mimic });
    const theirs = await createGroup(server, bob, ['carl']);
    await barrier('after their conversation began');
    await sendText(server, bob, theirs, 'for the mimic org only');
    await barrier('after their message');
    expect(all.events.filter((e) => e.messageAdded.conversationId !== own)).toEqual([]);
    expect(heard()).not.toContain('for the mimic org only');
    all.stop();
    orgWide.stop();
  });
});
