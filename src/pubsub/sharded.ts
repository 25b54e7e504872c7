import type { PubSubEngine } from 'graphql-subscriptions';
import { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { errorMessage } from '../observability/log-errors.js';

export type ClusterNode = { host: string; port: number };

/** The CRC16 (XMODEM) Redis Cluster hashes keys with. */
const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** The cluster slot of a key or shard channel, hash tags (`{...}`) included. */
export function keySlot(key: string): number {
  let bytes = Buffer.from(key);
  const open = bytes.indexOf(0x7b);
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1);
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc % 16384;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());

/**
 * Sharded pub/sub on Redis Cluster: SPUBLISH through the cluster client, and one subscriber
 * connection per master that owns a watched topic, so a message travels only within the shard
 * that owns its topic. ioredis' own sharded subscribers resubscribe without saying when they are
 * done, and a stream must know that to re-read what it missed; so this keeps its own connections:
 * when one is lost (its master died) `onLost` is called, the slot map is re-read until the
 * promoted replica owns the slots, every topic is subscribed again, and once Redis has confirmed
 * each SSUBSCRIBE `onBack` is called.
 */
export class ShardedPubSub implements Pick<PubSubEngine, 'publish' | 'subscribe' | 'unsubscribe'> {
  onLost: () => void = () => {};
  onBack: () => void = () => {};
  private nextId = 1;
  private readonly handlers = new Map<string, Map<number, (payload: unknown) => void>>();
  private readonly topicOf = new Map<number, string>();
  /** The master each topic is subscribed on, once Redis has confirmed it. */
  private readonly subscribedOn = new Map<string, string>();
  /** SSUBSCRIBEs not yet confirmed, per topic: later listeners of the topic wait for them too. */
  private readonly pending = new Map<string, Promise<void>>();
  private readonly connections = new Map<string, Redis>();
  private healing?: Promise<void>;
  /** A connection was lost while healing: heal once more before saying all is back. */
  private dirty = false;
  private lost = false;
  private closed = false;

  constructor(
    readonly cluster: Cluster,
    private readonly log: Logger,
  ) {
    // A slot can change master while the old one lives on (a manual failover, resharding): Redis
    // then drops the old master's subscriptions of it without the connection closing. Each
    // refresh of the slot map looks for topics whose master changed.
    cluster.on('refresh', () => this.checkOwners());
  }

  async publish(topic: string, payload: unknown): Promise<void> {
    await this.cluster.spublish(topic, JSON.stringify(payload));
  }

  async subscribe(topic: string, onMessage: (payload: unknown) => void): Promise<number> {
    const id = this.nextId++;
    let handlers = this.handlers.get(topic);
    const first = !handlers;
    if (!handlers) {
      handlers = new Map();
      this.handlers.set(topic, handlers);
    }
    handlers.set(id, onMessage);
    this.topicOf.set(id, topic);
    if (first) {
      const subscribed = this.subscribeTopic(topic).finally(() => this.pending.delete(topic));
      this.pending.set(topic, subscribed);
    }
    try {
      await this.pending.get(topic);
    } catch (err) {
      this.unsubscribe(id);
      throw err;
    }
    return id;
  }

  unsubscribe(id: number): void {
    const topic = this.topicOf.get(id);
    if (topic === undefined) return;
    this.topicOf.delete(id);
    const handlers = this.handlers.get(topic)!;
    handlers.delete(id);
    if (handlers.size > 0) return;
    this.handlers.delete(topic);
    const node = this.subscribedOn.get(topic);
    this.subscribedOn.delete(topic);
    const connection = node === undefined ? undefined : this.connections.get(node);
    if (connection?.status === 'ready') connection.sunsubscribe(topic).catch(() => {});
  }

  async close(): Promise<void> {
    this.closed = true;
    const connections = [...this.connections.values()];
    this.connections.clear();
    const quit = Promise.allSettled([this.cluster.quit(), ...connections.map((c) => c.quit())]);
    await Promise.race([quit, sleep(1_000)]);
    this.cluster.disconnect();
    for (const c of connections) c.disconnect();
  }

  /** Subscribes one topic on its master; while healing, healing does it. */
  private async subscribeTopic(topic: string): Promise<void> {
    for (;;) {
      if (this.closed) throw new Error('event bus closed');
      if (this.healing) {
        await this.healing;
        if (this.subscribedOn.has(topic) || !this.handlers.has(topic)) return;
        continue;
      }
      try {
        const node = this.masterOf(topic);
        await this.ssubscribe(node, topic);
        this.subscribed(topic, node);
        return;
      } catch (err) {
        this.log.warn({ err: errorMessage(err), topic }, 'ssubscribe failed: re-reading the cluster slots');
        void this.heal();
        await sleep(100);
      }
    }
  }

  /** Records a confirmed SSUBSCRIBE, or undoes it if the last listener left meanwhile. */
  private subscribed(topic: string, node: string) {
    if (this.handlers.has(topic)) {
      this.subscribedOn.set(topic, node);
      return;
    }
    const connection = this.connections.get(node);
    if (connection?.status === 'ready') connection.sunsubscribe(topic).catch(() => {});
  }

  private masterOf(topic: string): string {
    const node = this.cluster.slots[keySlot(topic)]?.[0];
    if (!node) throw new Error(`no master known for the slot of ${topic}`);
    return node;
  }

  /** SSUBSCRIBE on a master's connection; rejects if the master does not own the slot (MOVED). */
  private ssubscribe(node: string, topic: string): Promise<void> {
    const connection = this.connection(node);
    return new Promise<void>((resolve, reject) => {
      // ioredis leaves an SSUBSCRIBE answered with MOVED unsettled and emits 'moved' instead.
      const moved = () => {
        connection.disconnect();
        reject(new Error(`MOVED: ${node} does not own ${topic}`));
      };
      connection.once('moved', moved);
      connection.ssubscribe(topic).then(
        () => {
          connection.off('moved', moved);
          resolve();
        },
        (err: Error) => {
          connection.off('moved', moved);
          reject(err);
        },
      );
    });
  }

  /** The subscriber connection to a master, opened on first use; it never reconnects by itself. */
  private connection(node: string): Redis {
    const existing = this.connections.get(node);
    if (existing && existing.status !== 'end' && existing.status !== 'close') return existing;
    const separator = node.lastIndexOf(':');
    const connection = new Redis({
      host: node.slice(0, separator),
      port: Number(node.slice(separator + 1)),
      connectTimeout: 5_000,
      maxRetriesPerRequest: 0,
      // A dead master is replaced by its replica at another address: heal() finds it.
      retryStrategy: () => null,
    });
    this.connections.set(node, connection);
    connection.on('error', (err: Error) => this.log.warn({ err: errorMessage(err), node }, 'redis shard subscriber error'));
    connection.on('smessage', (topic: string, message: string) => this.deliver(topic, message));
    connection.once('end', () => {
      if (this.connections.get(node) === connection) this.connections.delete(node);
      let watched = false;
      for (const [topic, on] of this.subscribedOn) {
        if (on !== node) continue;
        this.subscribedOn.delete(topic);
        watched = true;
      }
      if (!watched || this.closed) return;
      this.log.warn({ node }, 'redis shard subscriber lost');
      if (!this.lost) {
        this.lost = true;
        this.onLost();
      }
      if (this.healing) this.dirty = true;
      void this.heal();
    });
    return connection;
  }

  /** Topics subscribed on a node that no longer owns their slot are subscribed again. */
  private checkOwners() {
    if (this.closed) return;
    let moved: string[];
    try {
      moved = [...this.subscribedOn].filter(([topic, node]) => this.masterOf(topic) !== node).map(([topic]) => topic);
    } catch {
      return;
    }
    if (moved.length === 0) return;
    // Healing compares every topic with the slot map anyway; it only needs to look once more.
    if (this.healing) {
      this.dirty = true;
      return;
    }
    this.log.warn({ topics: moved.length }, 'redis slots moved to another master: subscribing there');
    for (const topic of moved) {
      const connection = this.connections.get(this.subscribedOn.get(topic)!);
      if (connection?.status === 'ready') connection.sunsubscribe(topic).catch(() => {});
    }
    if (!this.lost) {
      this.lost = true;
      this.onLost();
    }
    void this.heal();
  }

  private deliver(topic: string, message: string) {
    const handlers = this.handlers.get(topic);
    if (!handlers) return;
    let payload: unknown;
    try {
      payload = JSON.parse(message);
    } catch (err) {
      this.log.error({ err: errorMessage(err), topic }, 'unparseable event');
      return;
    }
    for (const handler of [...handlers.values()]) handler(payload);
  }

  /**
   * Re-reads the slot map and subscribes every watched topic that is not subscribed on its
   * master, until all are; then, if a connection had been lost, says so with `onBack`.
   */
  private heal(): Promise<void> {
    if (this.healing) return this.healing;
    this.healing = (async () => {
      for (let attempt = 0; !this.closed; attempt++) {
        this.dirty = false;
        try {
          await new Promise<void>((resolve, reject) => this.cluster.refreshSlotsCache((err) => (err ? reject(err) : resolve())));
          const missing = [...this.handlers.keys()].filter((t) => this.subscribedOn.get(t) !== this.masterOf(t));
          await Promise.all(
            missing.map(async (topic) => {
              const node = this.masterOf(topic);
              await this.ssubscribe(node, topic);
              this.subscribed(topic, node);
            }),
          );
          if (!this.dirty) return;
        } catch (err) {
          this.log.warn({ err: errorMessage(err), attempt }, 'redis shard subscribers not back yet');
          await sleep(Math.min(100 * 2 ** attempt, 1_000));
        }
      }
    })().finally(() => {
      this.healing = undefined;
      if (this.lost && !this.closed) {
        this.lost = false;
        this.log.info('redis shard subscribers back: streams resync from the database');
        this.onBack();
      }
    });
    return this.healing;
  }
}

/** A Redis Cluster client for commands and SPUBLISH, connected. */
export async function connectCluster(nodes: ClusterNode[], log: Logger): Promise<Cluster> {
  const cluster = new Cluster(nodes, {
    lazyConnect: true,
    // A publish or a command fails rather than queue while a shard has no master.
    enableOfflineQueue: false,
    // ioredis re-reads the slot map only on errors unless told to; ShardedPubSub needs to see a
    // slot change master even when no command failed.
    slotsRefreshInterval: 2_000,
    redisOptions: { maxRetriesPerRequest: 1, connectTimeout: 5_000 },
  });
  cluster.on('error', (err: Error) => log.warn({ err: errorMessage(err), client: 'cluster' }, 'redis connection error'));
  await cluster.connect();
  return cluster;
}
