import { EventEmitter } from 'node:events';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { PubSub as InProcessEngine, type PubSubEngine } from 'graphql-subscriptions';
import { type Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { errorMessage } from '../observability/log-errors.js';
import { type ClusterNode, connectCluster, ShardedPubSub } from './sharded.js';
import type { Topic } from './topics.js';

export type Unlisten = () => void;

/** Where plain commands go: one Redis, or a Redis Cluster (multi-key commands in one slot). */
export type RedisCommands = Redis | Cluster;

/**
 * Publish/subscribe between the instances of the service: in-process without REDIS_URL,
 * Redis (two connections: one publishes, one subscribes) with it, and sharded pub/sub on a
 * Redis Cluster with REDIS_CLUSTER_NODES.
 */
export class EventBus {
  /** Publish failures since start; a failed publish never fails the write that caused it. */
  publishFailures = 0;
  /** Told of each failed publish (metrics). */
  onPublishFailure: () => void = () => {};
  private closed = false;
  private readonly reconnectListeners = new Set<() => void>();
  private readonly disconnectListeners = new Set<() => void>();
  /** Local listeners per topic: what hygiene checks and metrics look at. */
  private readonly listeners = new Map<string, number>();

  private constructor(
    private readonly engine: Pick<PubSubEngine, 'publish' | 'subscribe' | 'unsubscribe'>,
    private readonly log: Logger,
    readonly kind: 'in-process' | 'redis',
    private readonly redis?: { commands: RedisCommands; close: () => Promise<void> },
  ) {}

  /** The bus the configuration asks for: Redis Cluster, one Redis, or in-process. */
  static async connect(config: { redisUrl?: string; redisClusterNodes?: ClusterNode[] }, log: Logger): Promise<EventBus> {
    if (config.redisClusterNodes) return EventBus.redisCluster(config.redisClusterNodes, log);
    if (config.redisUrl) return EventBus.redis(config.redisUrl, log);
    return EventBus.inProcess(log);
  }

  static async redisCluster(nodes: ClusterNode[], log: Logger): Promise<EventBus> {
    const cluster = await connectCluster(nodes, log);
    const engine = new ShardedPubSub(cluster, log);
    const bus = new EventBus(engine, log, 'redis', { commands: cluster, close: () => engine.close() });
    // As with one Redis: streams hold on while a shard's subscriber is away and re-read the
    // database once every topic is subscribed again on the shard's (new) master.
    engine.onLost = () => {
      for (const listener of bus.disconnectListeners) listener();
    };
    engine.onBack = () => {
      for (const listener of bus.reconnectListeners) listener();
    };
    return bus;
  }

  static inProcess(log: Logger): EventBus {
    // Every subscriber of a topic is one listener; Node's default cap of 10 would warn of a leak.
    const eventEmitter = new EventEmitter();
    eventEmitter.setMaxListeners(0);
    return new EventBus(new InProcessEngine({ eventEmitter }), log, 'in-process');
  }

  static async redis(url: string, log: Logger): Promise<EventBus> {
    const common = { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000 };
    // Publishing must fail fast while Redis is away rather than queue without bound.
    const publisher = new Redis(url, { ...common, enableOfflineQueue: false });
    // The subscriber queues its (re)subscribe commands and resubscribes by itself on reconnect.
    const subscriber = new Redis(url, { ...common, maxRetriesPerRequest: null });
    for (const [name, client] of [
      ['publisher', publisher],
      ['subscriber', subscriber],
    ] as const) {
      client.on('error', (err: Error) => log.warn({ err: errorMessage(err), client: name }, 'redis connection error'));
    }
    await Promise.all([publisher.connect(), subscriber.connect()]);
    const engine = new RedisPubSub({ publisher, subscriber });
    const close = async () => {
      // QUIT lets commands already sent finish (the UNSUBSCRIBE of a stream that just ended)
      // rather than fail them; a Redis that does not answer is cut after a moment.
      const quit = Promise.allSettled([publisher.quit(), subscriber.quit()]);
      await Promise.race([quit, new Promise((resolve) => setTimeout(resolve, 1_000).unref())]);
      publisher.disconnect();
      subscriber.disconnect();
    };
    const bus = new EventBus(engine, log, 'redis', { commands: publisher, close });
    // Events published while the subscriber was away are lost (pub/sub is at-most-once): when it is
    // back (ioredis resubscribes by itself), streams re-read what they may have missed, and lost
    // removals are looked for in the database (MembershipWatch) from the moment it goes.
    let lost = false;
    subscriber.on('close', () => {
      if (lost) return;
      lost = true;
      for (const listener of bus.disconnectListeners) listener();
    });
    subscriber.on('ready', () => {
      if (!lost) return;
      lost = false;
      // ioredis emits 'ready' just before it sends the SUBSCRIBEs again. A stream that re-read the
      // database now could miss a message committed after its read but published before Redis
      // took the SUBSCRIBE. Redis answers a connection's commands in order, so once a PING sent
      // after them is answered the channels are live again: only then do streams re-read.
      setImmediate(() => {
        void subscriber
          .ping()
          .catch(() => {})
          .then(() => {
            // Lost again meanwhile: the next 'ready' resyncs (and memberships stay held until then).
            if (lost) return;
            log.info('redis subscriber reconnected: streams resync from the database');
            for (const listener of bus.reconnectListeners) listener();
          });
      });
    });
    return bus;
  }

  /** Publishes after a commit. Logs and counts a failure instead of throwing. */
  async publish<P>(topic: Topic<P>, payload: P): Promise<void> {
    try {
      await this.engine.publish(topic, payload);
    } catch (err) {
      this.publishFailures++;
      this.onPublishFailure();
      this.log.error({ err: errorMessage(err), topic }, 'publish failed');
    }
  }

  /** Calls `onEvent` for every event on `topic` until the returned function is called. */
  async listen<P>(topic: Topic<P>, onEvent: (payload: P) => void): Promise<Unlisten> {
    // Both engines call listeners in a loop inside the emitter (in-process: inside publish()); one
    // throwing would starve the listeners after it and surface in the publisher or the Redis client.
    const guarded = (payload: P) => {
      try {
        onEvent(payload);
      } catch (err) {
        this.log.error({ err, topic }, 'event listener failed');
      }
    };
    const id = await this.engine.subscribe(topic, guarded, {});
    this.listeners.set(topic, (this.listeners.get(topic) ?? 0) + 1);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const left = this.listeners.get(topic)! - 1;
      if (left > 0) this.listeners.set(topic, left);
      else this.listeners.delete(topic);
      // After close the connection is gone, and its subscriptions with it; an UNSUBSCRIBE sent
      // now would only fail (unhandled, inside graphql-redis-subscriptions).
      if (!this.closed) this.engine.unsubscribe(id);
    };
  }

  /** Listens to several topics as one; if any of them cannot be listened to, none stays. */
  async listenAll<P>(topicList: Topic<P>[], onEvent: (payload: P) => void): Promise<Unlisten> {
    const results = await Promise.allSettled(topicList.map((topic) => this.listen(topic, onEvent)));
    const unlisteners = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const unlistenAll = () => {
      for (const unlisten of unlisteners) unlisten();
    };
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure) {
      unlistenAll();
      throw failure.reason;
    }
    return unlistenAll;
  }

  /** Calls `listener` whenever the Redis subscriber comes back after losing its connection. */
  onReconnect(listener: () => void): Unlisten {
    this.reconnectListeners.add(listener);
    return () => this.reconnectListeners.delete(listener);
  }

  /** Calls `listener` whenever the Redis subscriber loses its connection (once per loss). */
  onDisconnect(listener: () => void): Unlisten {
    this.disconnectListeners.add(listener);
    return () => this.disconnectListeners.delete(listener);
  }

  /** Listeners on this instance: of one topic, or of all topics together. */
  listenerCount(topic?: string): number {
    if (topic !== undefined) return this.listeners.get(topic) ?? 0;
    let total = 0;
    for (const n of this.listeners.values()) total += n;
    return total;
  }

  /** A Redis connection for plain commands (presence, typing, rate limits); none in-process. */
  get commands(): RedisCommands | undefined {
    return this.redis?.commands;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.redis?.close();
  }
}
