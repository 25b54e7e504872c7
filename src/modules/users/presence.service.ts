import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { idKey, idsOfKey } from '../../lib/id-names.js';
import { errorMessage } from '../../observability/log-errors.js';
import type { EventBus, RedisCommands } from '../../pubsub/pubsub.js';
import type { UserSnapshot } from '../../pubsub/snapshots.js';
import { type PresenceEvent, topics } from '../../pubsub/topics.js';
import type { PresenceStatus } from './presence-status.js';

export type { PresenceStatus };
export type Presence = { status: PresenceStatus; lastSeenAt: Date | null };

/**
 * A socket's lease is renewed every `renewEveryMs`; one not renewed for `leaseTtlMs` is dead, and
 * the sweep (on the same timer, on every instance) turns its user OFFLINE. So a crashed instance's
 * users go OFFLINE between `leaseTtlMs` and `leaseTtlMs + renewEveryMs` after its last renewal.
 */
export type PresenceTiming = { leaseTtlMs: number; renewEveryMs: number };
export const DEFAULT_PRESENCE_TIMING: PresenceTiming = { leaseTtlMs: 30_000, renewEveryMs: 10_000 };

/**
 * Where presence lives: in memory for one process, in Redis for several. A user is connected while
 * any of their sockets holds a live lease; leases of a crashed instance simply expire.
 */
interface PresenceStore {
  /** Adds a socket lease; true if the user had none before. */
  addLease(key: string, lease: string, expiresAt: number): Promise<boolean>;
  /** Removes a socket lease; true if it was the user's last. */
  removeLease(key: string, lease: string, now: number): Promise<boolean>;
  /**
   * Extends (or puts back) this instance's leases. Returns the users who had no live lease before:
   * they were swept as OFFLINE while their socket was open (this instance stalled past the TTL).
   */
  renewLeases(leases: { key: string; lease: string }[], expiresAt: number): Promise<string[]>;
  connected(keys: string[], now: number): Promise<boolean[]>;
  /** Users whose every lease expired; each is returned to exactly one caller across instances. */
  takeExpired(now: number): Promise<string[]>;
  connectedKeys(prefix: string, now: number): Promise<string[]>;
  getManual(keys: string[]): Promise<(PresenceStatus | null)[]>;
  manualEntries(prefix: string): Promise<[string, PresenceStatus][]>;
  setManual(key: string, status: PresenceStatus | null): Promise<void>;
  getLastSeen(keys: string[]): Promise<(number | null)[]>;
  setLastSeen(key: string, at: number): Promise<void>;
}

class MemoryPresenceStore implements PresenceStore {
  private readonly leases = new Map<string, Map<string, number>>();
  private readonly manual = new Map<string, PresenceStatus>();
  private readonly lastSeen = new Map<string, number>();

  private live(key: string, now: number) {
    const leases = this.leases.get(key);
    if (!leases) return 0;
    let n = 0;
    for (const exp of leases.values()) if (exp > now) n++;
    return n;
  }

  async addLease(key: string, lease: string, expiresAt: number) {
    const before = this.live(key, Date.now());
    const leases = this.leases.get(key) ?? new Map<string, number>();
    leases.set(lease, expiresAt);
    this.leases.set(key, leases);
    return before === 0;
  }
  async removeLease(key: string, lease: string, now: number) {
    const leases = this.leases.get(key);
    if (!leases?.delete(lease)) return false;
    if (this.live(key, now) > 0) return false;
    this.leases.delete(key);
    return true;
  }
  async renewLeases(list: { key: string; lease: string }[], expiresAt: number) {
    const now = Date.now();
    const back = new Set<string>();
    for (const { key, lease } of list) {
      if (this.live(key, now) === 0) back.add(key);
      const leases = this.leases.get(key) ?? new Map<string, number>();
      leases.set(lease, expiresAt);
      this.leases.set(key, leases);
    }
    return [...back];
  }
  async connected(keys: string[], now: number) {
    return keys.map((k) => this.live(k, now) > 0);
  }
  async takeExpired(now: number) {
    const expired: string[] = [];
    for (const key of this.leases.keys()) {
      if (this.live(key, now) === 0) {
        this.leases.delete(key);
        expired.push(key);
      }
    }
    return expired;
  }
  async connectedKeys(prefix: string, now: number) {
    return [...this.leases.keys()].filter((k) => k.startsWith(prefix) && this.live(k, now) > 0);
  }
  async getManual(keys: string[]) {
    return keys.map((k) => this.manual.get(k) ?? null);
  }
  async manualEntries(prefix: string) {
    return [...this.manual.entries()].filter(([k]) => k.startsWith(prefix));
  }
  async setManual(key: string, status: PresenceStatus | null) {
    if (status) this.manual.set(key, status);
    else this.manual.delete(key);
  }
  async getLastSeen(keys: string[]) {
    return keys.map((k) => this.lastSeen.get(k) ?? null);
  }
  async setLastSeen(key: string, at: number) {
    this.lastSeen.set(key, at);
  }
}

/** Leases renewed by one script call. */
const RENEW_BATCH = 1_000;
/**
 * Renews leases: KEYS[1] is the online index, KEYS[1 + n] the n-th lease's user's lease set;
 * ARGV is the new expiry, the sets' TTL, then (user key, lease) per lease. Answers the n of the
 * leases whose user was not in the index: swept as OFFLINE while still connected.
 */
const RENEW_SCRIPT = `
local swept = {}
for n = 1, #KEYS - 1 do
  redis.call('ZADD', KEYS[n + 1], ARGV[1], ARGV[2 + 2 * n])
  redis.call('PEXPIRE', KEYS[n + 1], ARGV[2])
  if redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[1 + 2 * n]) == 1 then swept[#swept + 1] = n end
end
return swept`;

export const PRESENCE_KEYS = {
  leases: 'sb:{presence}:leases:',
  online: 'sb:{presence}:online',
  manual: 'sb:{presence}:manual',
  seen: 'sb:{presence}:seen',
};

/**
 * Redis layout: `sb:{presence}:leases:<key>` is a sorted set of socket leases scored by expiry;
 * `sb:{presence}:online` a sorted set of users scored by their latest lease expiry (the sweep
 * index); `sb:{presence}:manual` and `sb:{presence}:seen` are hashes. <key> is idKey(org, user).
 * The hash tag keeps them in one Redis Cluster slot: a lease and the index change in one
 * transaction or script.
 */
class RedisPresenceStore implements PresenceStore {
  constructor(
    private readonly redis: RedisCommands,
    private readonly leaseTtlMs: number,
  ) {}

  private leaseKey = (key: string) => `${PRESENCE_KEYS.leases}${key}`;

  async addLease(key: string, lease: string, expiresAt: number) {
    const now = Date.now();
    const [[, before]] = (await this.redis
      .multi()
      .zcount(this.leaseKey(key), now, '+inf')
      .zadd(this.leaseKey(key), expiresAt, lease)
      .pexpire(this.leaseKey(key), this.leaseTtlMs * 2)
      .zadd(PRESENCE_KEYS.online, 'GT', expiresAt, key)
      .exec()) as [[null, number]];
    return before === 0;
  }
  async removeLease(key: string, lease: string, now: number) {
    // One script, so that a lease added on another instance between "none left" and taking the
    // user out of the index cannot be missed; only the caller whose ZREM removes the user from the
    // index announces OFFLINE.
    const removed = await this.redis.eval(
      `redis.call('ZREM', KEYS[1], ARGV[1])
       redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
       if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
       return redis.call('ZREM', KEYS[2], ARGV[3])`,
      2,
      this.leaseKey(key),
      PRESENCE_KEYS.online,
      lease,
      now,
      key,
    );
    return removed === 1;
  }
  async renewLeases(list: { key: string; lease: string }[], expiresAt: number) {
    const back: string[] = [];
    // A script per RENEW_BATCH leases, not three commands per lease: an instance holding thousands
    // of idle sockets made tens of thousands of command objects every renewal, and the garbage
    // collector's work on them was most of what it spent while idle. Every key has the {presence}
    // tag, so a script may name them all on a Redis Cluster too.
    for (let i = 0; i < list.length; i += RENEW_BATCH) {
      const batch = list.slice(i, i + RENEW_BATCH);
      const keys = [PRESENCE_KEYS.online, ...batch.map(({ key }) => this.leaseKey(key))];
      const args = [expiresAt, this.leaseTtlMs * 2, ...batch.flatMap(({ key, lease }) => [key, lease])];
      const swept = (await this.redis.eval(RENEW_SCRIPT, keys.length, ...keys, ...args)) as number[];
      for (const n of swept) back.push(batch[n - 1]!.key);
    }
    return [...new Set(back)];
  }
  async connected(keys: string[], now: number) {
    if (keys.length === 0) return [];
    const scores = await this.redis.zmscore(PRESENCE_KEYS.online, ...keys);
    return scores.map((s) => s !== null && Number(s) > now);
  }
  async takeExpired(now: number) {
    const candidates = await this.redis.zrangebyscore(PRESENCE_KEYS.online, '-inf', now, 'LIMIT', 0, 500);
    const taken: string[] = [];
    for (const key of candidates) {
      // A lease renewed meanwhile pushes the score past now; ZREM only if still expired.
      const removed = await this.redis.eval(
        "if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0') <= tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end return 0",
        1,
        PRESENCE_KEYS.online,
        key,
        now,
      );
      if (removed === 1) taken.push(key);
    }
    return taken;
  }
  async connectedKeys(prefix: string, now: number) {
    // The index holds every connected user of every org; fine for the sizes we serve per org.
    const keys = await this.redis.zrangebyscore(PRESENCE_KEYS.online, `(${now}`, '+inf');
    return keys.filter((k) => k.startsWith(prefix));
  }
  async getManual(keys: string[]) {
    if (keys.length === 0) return [];
    return (await this.redis.hmget(PRESENCE_KEYS.manual, ...keys)) as (PresenceStatus | null)[];
  }
  async manualEntries(prefix: string) {
    const all = await this.redis.hgetall(PRESENCE_KEYS.manual);
    return Object.entries(all).filter(([k]) => k.startsWith(prefix)) as [string, PresenceStatus][];
  }
  async setManual(key: string, status: PresenceStatus | null) {
    if (status) await this.redis.hset(PRESENCE_KEYS.manual, key, status);
    else await this.redis.hdel(PRESENCE_KEYS.manual, key);
  }
  async getLastSeen(keys: string[]) {
    if (keys.length === 0) return [];
    return (await this.redis.hmget(PRESENCE_KEYS.seen, ...keys)).map((v) => (v === null ? null : Number(v)));
  }
  async setLastSeen(key: string, at: number) {
    await this.redis.hset(PRESENCE_KEYS.seen, key, at);
  }
}

const keyOf = (orgId: string, userId: string) => idKey(orgId, userId);
const splitKey = (key: string) => {
  const [orgId, userId] = idsOfKey(key) as [string, string];
  return { orgId, userId };
};

/**
 * Presence: ONLINE while a user has an open socket on any instance, OFFLINE after the last one
 * closes or its instance dies (leases expire), unless set explicitly with `setStatus`.
 * Changes are published per user.
 */
export class PresenceService {
  private store: PresenceStore;
  /** This instance's open sockets, renewed on a timer. */
  private readonly local = new Map<string, { key: string; lease: string; user: UserSnapshot }>();
  private timer?: NodeJS.Timeout;
  private timing = DEFAULT_PRESENCE_TIMING;

  constructor(
    private readonly bus: EventBus,
    private readonly log: Logger,
    private readonly redis?: RedisCommands,
  ) {
    this.store = redis ? new RedisPresenceStore(redis, this.timing.leaseTtlMs) : new MemoryPresenceStore();
  }

  /**
   * Starts lease renewal and the sweep that turns users of dead instances OFFLINE. `timing` is
   * for tests that wait for a lease to lapse; call it before the first socket connects.
   */
  start(timing: Partial<PresenceTiming> = {}): void {
    this.timing = { ...DEFAULT_PRESENCE_TIMING, ...timing };
    if (this.redis) this.store = new RedisPresenceStore(this.redis, this.timing.leaseTtlMs);
    this.timer = setInterval(
      () => void this.tick().catch((err) => this.log.warn({ err: errorMessage(err) }, 'presence tick failed')),
      this.timing.renewEveryMs,
    );
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    const open = [...this.local.keys()];
    await Promise.all(open.map((id) => this.disconnected(id).catch(() => {})));
  }

  private async tick() {
    const now = Date.now();
    const open = [...this.local.values()];
    for (const key of await this.store.renewLeases(open, now + this.timing.leaseTtlMs)) {
      const { orgId, userId } = splitKey(key);
      await this.announce(orgId, userId, open.find((l) => l.key === key)?.user);
    }
    for (const key of await this.store.takeExpired(now)) {
      await this.store.setManual(key, null);
      const { orgId, userId } = splitKey(key);
      await this.announce(orgId, userId);
    }
  }

  /** A socket of the user opened; returns its id for `disconnected`. */
  async connected(user: UserSnapshot): Promise<string> {
    const key = keyOf(user.orgId, user.id);
    const lease = randomUUID();
    this.local.set(lease, { key, lease, user });
    let first: boolean;
    try {
      first = await this.store.addLease(key, lease, Date.now() + this.timing.leaseTtlMs);
    } catch (err) {
      // Not renewed by us, not left behind: the socket is refused, so is its lease.
      this.local.delete(lease);
      throw err;
    }
    await this.store.setLastSeen(key, Date.now());
    if (first) await this.announce(user.orgId, user.id, user);
    return lease;
  }

  async disconnected(lease: string): Promise<void> {
    const entry = this.local.get(lease);
    if (!entry) return;
    this.local.delete(lease);
    const now = Date.now();
    await this.store.setLastSeen(entry.key, now);
    if (await this.store.removeLease(entry.key, lease, now)) {
      await this.store.setManual(entry.key, null);
      await this.announce(entry.user.orgId, entry.user.id, entry.user);
    }
  }

  async get(orgId: string, userIds: readonly string[]): Promise<Presence[]> {
    const keys = userIds.map((id) => keyOf(orgId, id));
    const [connected, manual, seen] = await Promise.all([this.store.connected(keys, Date.now()), this.store.getManual(keys), this.store.getLastSeen(keys)]);
    return keys.map((_, i) => ({
      status: manual[i] ?? (connected[i] ? 'ONLINE' : 'OFFLINE'),
      lastSeenAt: seen[i] ? new Date(seen[i]!) : null,
    }));
  }

  /** Users of the org whose presence is not OFFLINE. */
  async onlineUserIds(orgId: string): Promise<string[]> {
    const prefix = keyOf(orgId, '');
    const [connectedKeys, manual] = await Promise.all([this.store.connectedKeys(prefix, Date.now()), this.store.manualEntries(prefix)]);
    const online = new Set(connectedKeys);
    for (const [key, status] of manual) {
      if (status === 'OFFLINE') online.delete(key);
      else online.add(key);
    }
    return [...online].map((k) => splitKey(k).userId);
  }

  /**
   * An explicit status (any of the four) that stands until changed or until the user's last
   * socket closes; it lets a user without a socket (HTTP-only bots) show as ONLINE or BUSY.
   */
  async setStatus(orgId: string, userId: string, status: PresenceStatus): Promise<Presence> {
    const key = keyOf(orgId, userId);
    await this.store.setManual(key, status);
    await this.store.setLastSeen(key, Date.now());
    return this.announce(orgId, userId);
  }

  /** Publishes the user's presence as it stands now (read back, so concurrent changes converge). */
  private async announce(orgId: string, userId: string, user?: UserSnapshot): Promise<Presence> {
    const [presence] = await this.get(orgId, [userId]);
    const event: PresenceEvent = { userId, user, status: presence!.status, lastSeenAt: presence!.lastSeenAt?.toISOString() ?? null };
    await Promise.all([this.bus.publish(topics.presence(orgId, userId), event), this.bus.publish(topics.orgPresence(orgId), event)]);
    return presence!;
  }
}
