import PgBoss from 'pg-boss';
import type { Logger } from 'pino';
import type { Database } from '../../db/client.js';
import { underStartupLock } from '../../db/migrate.js';
import type { WebhookRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { pgError } from '../../lib/pg-errors.js';
import { errorMessage } from '../../observability/log-errors.js';
import type { SecretBox } from './secret-box.js';
import type { WebhookSender } from './sender.js';
import type { WebhookSubscriptions } from './subscriptions.js';
import type { DeliveryJob, WebhookRepository } from './webhook.repository.js';

/** pg-boss' queue of deliveries; the migration's webhook_enqueue() names it too. */
export const DELIVERY_QUEUE = 'webhook-delivery';

/**
 * Retries after the first attempt. pg-boss waits between base × 2^(n-1) and base × 2^n seconds
 * before retry n, so the last one comes at least base × (2^14 - 1) seconds (45 hours at the
 * default base of 10 s) after the first attempt.
 */
export const RETRY_LIMIT = 14;
/** pg-boss' queue of the purge of old deliveries and events (see `purge`). */
export const RETENTION_QUEUE = 'webhook-retention';
/**
 * How often the purge runs. Every instance asks for it, but pg-boss keeps one job per period
 * (a singleton key and slot) and runs one at a time (the queue's singleton policy).
 */
const PURGE_EVERY_SECONDS = 3_600;
/** Pollers per instance; each fetches a batch and delivers it concurrently. */
const MAX_POLLERS = 4;
/** How often idle pollers look for deliveries another instance (or a retry) made due. */
const POLL_SECONDS = 1;

export type QueueOptions = {
  /** Deliveries in flight per instance at most. */
  concurrency: number;
  /** Seconds before the first retry (see RETRY_LIMIT). */
  retryBaseSeconds: number;
  /** A single attempt's limit (WebhookSender). */
  timeoutMs: number;
  /** Failed attempts in a row that disable a webhook. */
  disableAfter: number;
  /** Days a delivery is logged after it ended (succeeded or failed for good); see `purge`. */
  retentionDays: number;
};

type JobData = { deliveryId: string };

/**
 * Delivers webhook events with pg-boss, on Postgres and on PGlite alike (its `db` adapter, below):
 * jobs are inserted by the outbox trigger in the transaction of the change (webhook_enqueue), taken
 * with SKIP LOCKED (one instance per job), retried with growing delays, and given back to the queue
 * when the instance holding one dies (expiry). A bounded number run at a time per instance.
 */
/** What a lost race to create pg-boss' schema, tables or queue fails with. */
const DUPLICATE_CODES = new Set(['23505', '42P06', '42P07', '42710']);

export class WebhookQueue {
  private boss: PgBoss | undefined;
  private readonly workers: string[] = [];
  /** pg-boss' statements and our job handlers still running; see `stop`. */
  private readonly inFlight = new InFlight();
  private purgeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly database: Database,
    private readonly repo: WebhookRepository,
    private readonly sender: WebhookSender,
    private readonly box: SecretBox,
    private readonly subscriptions: WebhookSubscriptions,
    private readonly events: DomainEvents,
    private readonly log: Logger,
    private readonly options: QueueOptions,
  ) {}

  /**
   * Starts pg-boss and its delivery queue. Instances starting together on a new database race to
   * create its schema and the queue: the one that loses gets a duplicate error and tries again,
   * finding them made.
   */
  private async install(attempt = 1): Promise<PgBoss> {
    const boss = new PgBoss({ db: this.inFlight.wrapDb(bossDb(this.database)), schedule: false, maintenanceIntervalSeconds: 10 });
    boss.on('error', (err: Error) => this.log.warn({ err: errorMessage(err) }, 'webhook queue error'));
    try {
      await boss.start();
      const queue = {
        name: DELIVERY_QUEUE,
        retryLimit: RETRY_LIMIT,
        retryDelay: this.options.retryBaseSeconds,
        retryBackoff: true,
        expireInSeconds: Math.ceil(this.options.timeoutMs / 1000) * 2 + 5,
      };
      if (await boss.getQueue(DELIVERY_QUEUE)) await boss.updateQueue(DELIVERY_QUEUE, queue);
      else await boss.createQueue(DELIVERY_QUEUE, queue);
      if (!(await boss.getQueue(RETENTION_QUEUE))) await boss.createQueue(RETENTION_QUEUE, { name: RETENTION_QUEUE, policy: 'singleton' });
      return boss;
    } catch (err) {
      const code = pgError(err)?.code;
      if (attempt >= 3 || !code || !DUPLICATE_CODES.has(code)) throw err;
      await boss.stop({ graceful: false, wait: true }).catch(() => {});
      return this.install(attempt + 1);
    }
  }

  async start(): Promise<void> {
    const boss = await underStartupLock(this.database, async () => {
      const installed = await this.repo.queueInstalled();
      const started = await this.install();
      // Deliveries written before pg-boss was installed here have no job yet.
      if (!installed) await this.repo.enqueuePending();
      await this.resealSecrets();
      return started;
    });
    this.boss = boss;
    const pollers = Math.min(MAX_POLLERS, this.options.concurrency);
    const batchSize = Math.max(1, Math.floor(this.options.concurrency / pollers));
    for (let i = 0; i < pollers; i++) {
      const id: string = await boss.work<JobData>(
        DELIVERY_QUEUE,
        { batchSize, pollingIntervalSeconds: POLL_SECONDS, includeMetadata: true },
        this.inFlight.wrap(async (jobs: PgBoss.JobWithMetadata<JobData>[]) => {
          await Promise.all(jobs.map((job) => this.attempt(boss, job)));
          // A full batch: there may be more waiting, so fetch again without the pause.
          if (jobs.length === batchSize) boss.notifyWorker(id);
        }),
      );
      this.workers.push(id);
    }
    // Another instance's purge job is found at this poll; this instance's own one at once.
    const purger = await boss.work(
      RETENTION_QUEUE,
      { pollingIntervalSeconds: PURGE_EVERY_SECONDS / 12 },
      this.inFlight.wrap(async () => {
        const purged = await this.purge();
        if (purged.deliveries || purged.events) this.log.info(purged, 'webhook log purged');
      }),
    );
    const askForPurge = () =>
      boss
        .send(RETENTION_QUEUE, {}, { singletonKey: 'purge', singletonSeconds: PURGE_EVERY_SECONDS })
        .then((id) => id && boss.notifyWorker(purger))
        .catch((err: unknown) => this.log.warn({ err: errorMessage(err) }, 'webhook purge not scheduled'));
    await askForPurge();
    this.purgeTimer = setInterval(askForPurge, PURGE_EVERY_SECONDS * 1000).unref();
  }

  /**
   * Deletes the deliveries that ended (SUCCEEDED, or FAILED for good) more than `retentionDays`
   * ago, and the events older than that left without a delivery. Pending deliveries are kept
   * whatever their age: they are still being retried, and their event with them.
   */
  async purge(): Promise<{ deliveries: number; events: number }> {
    return this.repo.purge(new Date(Date.now() - this.options.retentionDays * 86_400_000));
  }

  /**
   * Seals the stored secrets that are plain or under an older key with the current key, once
   * per start (under the startup lock, so instances do not do it twice at once). One that no
   * configured key opens is left as it is, and said.
   */
  private async resealSecrets(): Promise<void> {
    for (const { id, secret } of await this.repo.secrets()) {
      if (!this.box.stale(secret)) continue;
      try {
        await this.repo.replaceSecret(id, secret, this.box.seal(id, this.box.open(id, secret)));
      } catch (err) {
        this.log.warn({ webhookId: id, err: errorMessage(err) }, 'webhook secret not sealed again');
      }
    }
  }

  /** Looks for deliveries now rather than at the next poll: this instance just committed some. */
  wake(): void {
    for (const id of this.workers) this.boss?.notifyWorker(id);
  }

  /** Makes a delivery again; it keeps its log. */
  async redeliver(deliveryId: string) {
    const row = await this.repo.reopen(deliveryId);
    this.wake();
    return row;
  }

  async stop(): Promise<void> {
    const boss = this.boss;
    this.boss = undefined;
    clearInterval(this.purgeTimer);
    // Deliveries in flight finish (or time out); those not started stay queued for any instance.
    await boss?.stop({ graceful: true, wait: true, timeout: this.options.timeoutMs + 1_000 });
    // pg-boss returns with a poller's fetch still in flight (its jobs then run) and completes jobs
    // without awaiting: what it started must end before the database closes, or the statement
    // fails on a closed pool as a rejection nobody handles, which ends the process.
    await this.inFlight.settled();
    this.sender.close();
  }

  private async attempt(boss: PgBoss, job: PgBoss.JobWithMetadata<JobData>): Promise<void> {
    try {
      const found = await this.repo.job(job.data.deliveryId);
      // Gone with its webhook, or already made (a job given back after a crash, a redelivery).
      if (found?.delivery.status !== 'PENDING') return;
      if (!found.webhook.enabled) {
        await this.repo.abandon(found.delivery.id, 'not sent: the webhook is disabled');
        return;
      }
      // A secret whose key is not configured throws: the job is retried, as for any failure here.
      const secret = this.box.open(found.webhook.id, found.webhook.secret);
      const result = await this.sender.send(
        { url: found.webhook.url, secret },
        {
          id: found.event.id,
          type: found.event.type,
          timestamp: found.event.createdAt.toISOString(),
          data: found.event.data,
        },
      );
      const final = !result.ok && job.retryCount >= job.retryLimit;
      let nextAttemptAt: Date | null = null;
      if (!result.ok && !final) {
        await boss.fail(DELIVERY_QUEUE, job.id, { message: result.excerpt ?? `status ${result.status}` });
        nextAttemptAt = (await boss.getJobById<JobData>(DELIVERY_QUEUE, job.id))?.startAfter ?? null;
      }
      const { disabled } = await this.repo.recordAttempt(found, { ...result, final, nextAttemptAt }, this.options.disableAfter);
      if (disabled) await this.disabled(found);
    } catch (err) {
      // This job alone goes back to the queue, to be retried later; the batch's others are done.
      this.log.warn({ err: errorMessage(err), deliveryId: job.data.deliveryId }, 'webhook delivery failed');
      await boss.fail(DELIVERY_QUEUE, job.id, { message: errorMessage(err) }).catch(() => {});
    }
  }

  private async disabled({ webhook }: DeliveryJob): Promise<void> {
    this.log.warn({ webhookId: webhook.id, orgId: webhook.orgId, failures: this.options.disableAfter }, 'webhook disabled after failing in a row');
    await this.subscriptions.changed(webhook.orgId);
    await this.events.emit('webhookDisabled', { webhook: { ...webhook, enabled: false } satisfies WebhookRow });
  }
}

/**
 * pg-boss' database adapter over the service's own: its pool on Postgres (no pool of pg-boss'
 * own), PGlite in embedded mode. pg-boss sends several statements in one text only without
 * parameters (its schema, its locked maintenance), which PGlite runs with exec.
 */
/** Promises still running, of pg-boss' statements and of our job handlers. */
class InFlight {
  private readonly running = new Set<Promise<unknown>>();

  private track<T>(promise: Promise<T>): Promise<T> {
    this.running.add(promise);
    const done = () => this.running.delete(promise);
    promise.then(done, done);
    return promise;
  }

  wrapDb(db: PgBoss.Db): PgBoss.Db {
    return { executeSql: (text, values) => this.track(db.executeSql(text, values)) };
  }

  wrap<A extends unknown[], T>(handler: (...args: A) => Promise<T>): (...args: A) => Promise<T> {
    return (...args) => this.track(handler(...args));
  }

  /** Until nothing runs, including what a settling promise starts in its callbacks. */
  async settled(): Promise<void> {
    do {
      await Promise.allSettled([...this.running]);
      // A fetch's jobs start their handler, and a handler's end its completion, in callbacks
      // that run before the next turn of the event loop.
      await new Promise((resolve) => setImmediate(resolve));
    } while (this.running.size > 0);
  }
}

function bossDb(database: Database): PgBoss.Db {
  if (database.pool) {
    const pool = database.pool;
    return { executeSql: (text, values) => pool.query(text, values) };
  }
  const pglite = database.pglite!;
  return {
    executeSql: async (text, values) => {
      if (values?.length) return pglite.query(text, values);
      const results = await pglite.exec(text);
      return results[results.length - 1] ?? { rows: [] };
    },
  };
}
