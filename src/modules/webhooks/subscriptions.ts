import type { Logger } from 'pino';
import { errorMessage } from '../../observability/log-errors.js';
import type { EventBus, Unlisten } from '../../pubsub/pubsub.js';
import { topics } from '../../pubsub/topics.js';
import { ALL_EVENTS, WEBHOOK_EVENTS } from './event-types.js';

/**
 * A change published on another instance can be lost (Redis away, a CLI without REDIS_URL): the
 * cache is read again, in the background, once it is this old.
 */
const MAX_AGE_MS = 30_000;

type Snapshot = Map<string, ReadonlySet<string>>;
const none: ReadonlySet<string> = new Set();

/**
 * Which orgs have an enabled webhook for which event, for the send statement to write its
 * outbox rows only when someone listens (MessageRepository). Loaded whole (one row per webhook)
 * and dropped on every change of any instance (topics.webhooksChanged), and when the bus comes
 * back after losing its connection: a send then waits for the load. Older than MAX_AGE_MS, it is
 * still used while it is read again.
 */
export class WebhookSubscriptions {
  private snapshot: Snapshot | undefined;
  private loadedAt = 0;
  private loading: Promise<Snapshot> | undefined;
  private unlisten: Unlisten | undefined;

  constructor(
    private readonly read: () => Promise<{ orgId: string; events: string[] }[]>,
    private readonly bus: EventBus,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    const unlisten = await this.bus.listen(topics.webhooksChanged, () => this.invalidate());
    const unReconnect = this.bus.onReconnect(() => this.invalidate());
    this.unlisten = () => {
      unlisten();
      unReconnect();
    };
    await this.load();
  }

  stop(): void {
    this.unlisten?.();
  }

  /** The orgs with an enabled webhook for `event`; at once when the cache is fresh. */
  subscribers(event: string): ReadonlySet<string> | Promise<ReadonlySet<string>> {
    if (this.snapshot) {
      if (Date.now() - this.loadedAt >= MAX_AGE_MS) this.load().catch(() => {});
      return this.snapshot.get(event) ?? none;
    }
    return this.load().then((snapshot) => snapshot.get(event) ?? none);
  }

  /** Whether an org has any enabled webhook, as far as the cache knows now (never waits). */
  listens(orgId: string): boolean {
    if (!this.snapshot) return false;
    for (const orgs of this.snapshot.values()) if (orgs.has(orgId)) return true;
    return false;
  }

  /** Tells every instance (this one at once) that an org's webhooks changed. */
  async changed(orgId: string): Promise<void> {
    this.invalidate();
    await this.bus.publish(topics.webhooksChanged, { orgId });
  }

  private invalidate(): void {
    this.snapshot = undefined;
    this.loading = undefined;
  }

  private load(): Promise<Snapshot> {
    if (this.loading) return this.loading;
    const loading = this.read().then(
      (rows) => {
        const snapshot: Map<string, Set<string>> = new Map(WEBHOOK_EVENTS.map((event) => [event, new Set<string>()]));
        for (const { orgId, events } of rows) {
          for (const event of events.includes(ALL_EVENTS) ? WEBHOOK_EVENTS : events) snapshot.get(event)?.add(orgId);
        }
        // Invalidated while loading: this answer may predate the change, so it is not kept.
        if (this.loading === loading) {
          this.snapshot = snapshot;
          this.loadedAt = Date.now();
          this.loading = undefined;
        }
        return snapshot;
      },
      (err: unknown) => {
        if (this.loading === loading) this.loading = undefined;
        this.log.warn({ err: errorMessage(err) }, 'loading webhook subscriptions failed');
        throw err;
      },
    );
    this.loading = loading;
    return loading;
  }
}
