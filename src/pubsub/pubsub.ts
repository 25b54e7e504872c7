import { PubSub as InProcessEngine, type PubSubEngine } from 'graphql-subscriptions';
import { RedisPubSub } from 'graphql-redis-subscriptions';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Topic } from './topics.js';

export type Unlisten = () => void;

/**
 * Publish/subscribe between the instances of the service: in-process without REDIS_URL,
 * Redis (two connections: one publishes, one subscribes) with it.
 */
export class EventBus {
  /** Publish failures since start; a failed publish never fails the write that caused it. */
  publishFailures = 0;

  private constructor(
    private readonly engine: PubSubEngine,
    private readonly log: Logger,
    readonly kind: 'in-process' | 'redis',
    private readonly redis?: { publisher: Redis; subscriber: Redis },
  ) {}

  static inProcess(log: Logger): EventBus {
    return new EventBus(new InProcessEngine(), log, 'in-process');
  }

  static async redis(url: string, log: Logger): Promise<EventBus> {
    const common = { lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 5_000 };
    // Publishing must fail fast while Redis is away rather than queue without bound.
    const publisher = new Redis(url, { ...common, enableOfflineQueue: false });
    // The subscriber queues its (re)subscribe commands and resubscribes by itself on reconnect.
    const subscriber = new Redis(url, { ...common, maxRetriesPerRequest: null });
    for (const [name, client] of [['publisher', publisher], ['subscriber', subscriber]] as const) {
      client.on('error', (err: Error) => log.warn({ err: err.message, client: name }, 'redis connection error'));
    }
    await Promise.all([publisher.connect(), subscriber.connect()]);
    const engine = new RedisPubSub({ publisher, subscriber });
    return new EventBus(engine, log, 'redis', { publisher, subscriber });
  }

  /** Publishes after a commit. Logs and counts a failure instead of throwing. */
  async publish<P>(topic: Topic<P>, payload: P): Promise<void> {
    try {
      await this.engine.publish(topic, payload);
    } catch (err) {
      this.publishFailures++;
      this.log.error({ err: (err as Error).message, topic }, 'publish failed');
    }
  }

  /** Calls `onEvent` for every event on `topic` until the returned function is called. */
  async listen<P>(topic: Topic<P>, onEvent: (payload: P) => void): Promise<Unlisten> {
    const id = await this.engine.subscribe(topic, onEvent, {});
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.engine.unsubscribe(id);
    };
  }

  /** A Redis connection for plain commands (presence, typing, rate limits); none in-process. */
  get commands(): Redis | undefined {
    return this.redis?.publisher;
  }

  async close(): Promise<void> {
    if (this.redis) {
      this.redis.publisher.disconnect();
      this.redis.subscriber.disconnect();
    }
  }
}
