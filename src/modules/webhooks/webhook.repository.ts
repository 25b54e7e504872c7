import { and, desc, eq, gt, inArray, isNull, lt, ne, notExists, or, sql } from 'drizzle-orm';
import type { Database, Db } from '../../db/client.js';
import { type WebhookDeliveryRow, type WebhookEventRow, type WebhookRow, webhookDeliveries, webhookEvents, webhooks } from '../../db/schema/index.js';

/**
 * Every enabled webhook's org and events (the subscriptions cache). Sent on the driver itself, not
 * through drizzle: a refresh runs at any moment, outside requests, and must not count among the
 * statements tests count per request (Database.stats).
 */
export async function enabledSubscriptions(database: Database): Promise<{ orgId: string; events: string[] }[]> {
  const text = 'select org_id as "orgId", events from webhooks where enabled';
  const result = database.pool
    ? await database.pool.query<{ orgId: string; events: string[] }>(text)
    : await database.pglite!.query<{ orgId: string; events: string[] }>(text);
  return result.rows;
}

export type DeliveryKey = { createdAt: Date; id: string };

/** What a delivery attempt needs: the delivery, its webhook and its event. */
export type DeliveryJob = { delivery: WebhookDeliveryRow; webhook: WebhookRow; event: WebhookEventRow };

/** The webhooks of orgs, their events and deliveries: all the SQL of the webhooks module. */
export class WebhookRepository {
  /** job's statement, prepared: every delivery attempt starts with it (see prepareJob). */
  private readonly jobStatement: ReturnType<typeof prepareJob>;

  constructor(private readonly db: Db) {
    this.jobStatement = prepareJob(db);
  }

  async insert(values: { id: string; orgId: string; url: string; events: string[]; secret: string }): Promise<WebhookRow> {
    const [row] = await this.db.insert(webhooks).values(values).returning();
    return row!;
  }

  async list(orgId: string): Promise<WebhookRow[]> {
    return this.db.select().from(webhooks).where(eq(webhooks.orgId, orgId)).orderBy(webhooks.createdAt, webhooks.id);
  }

  async byId(orgId: string, id: string): Promise<WebhookRow | null> {
    const rows = await this.db
      .select()
      .from(webhooks)
      .where(and(eq(webhooks.orgId, orgId), eq(webhooks.id, id)));
    return rows[0] ?? null;
  }

  /** Changes a webhook of the org; enabling it again starts its failure count over. */
  async update(orgId: string, id: string, changes: { url?: string; events?: string[]; enabled?: boolean; secret?: string }): Promise<WebhookRow | null> {
    const [row] = await this.db
      .update(webhooks)
      .set({ ...changes, ...(changes.enabled ? { failureCount: 0 } : {}), updatedAt: sql`now()` })
      .where(and(eq(webhooks.orgId, orgId), eq(webhooks.id, id)))
      .returning();
    return row ?? null;
  }

  async delete(orgId: string, id: string): Promise<boolean> {
    const rows = await this.db
      .delete(webhooks)
      .where(and(eq(webhooks.orgId, orgId), eq(webhooks.id, id)))
      .returning({ id: webhooks.id });
    return rows.length > 0;
  }

  /** A page of a webhook's deliveries, newest first. */
  async deliveries(
    webhookId: string,
    status: WebhookDeliveryRow['status'] | undefined,
    after: DeliveryKey | undefined,
    limit: number,
  ): Promise<WebhookDeliveryRow[]> {
    return this.db
      .select()
      .from(webhookDeliveries)
      .where(
        and(
          eq(webhookDeliveries.webhookId, webhookId),
          status ? eq(webhookDeliveries.status, status) : undefined,
          after
            ? or(lt(webhookDeliveries.createdAt, after.createdAt), and(eq(webhookDeliveries.createdAt, after.createdAt), lt(webhookDeliveries.id, after.id)))
            : undefined,
        ),
      )
      .orderBy(desc(webhookDeliveries.createdAt), desc(webhookDeliveries.id))
      .limit(limit);
  }

  async delivery(orgId: string, id: string): Promise<WebhookDeliveryRow | null> {
    const rows = await this.db
      .select()
      .from(webhookDeliveries)
      .where(and(eq(webhookDeliveries.orgId, orgId), eq(webhookDeliveries.id, id)));
    return rows[0] ?? null;
  }

  /** A delivery with what its attempt needs; null once its webhook or event is gone. */
  async job(deliveryId: string): Promise<DeliveryJob | null> {
    const rows = await this.jobStatement.execute({ deliveryId });
    return rows[0] ?? null;
  }

  /**
   * Records an attempt, and its webhook's run of failures: a success ends it, a failure makes it
   * one longer and, at `disableAfter`, disables the webhook. Answers whether this attempt
   * disabled it.
   */
  async recordAttempt(
    job: DeliveryJob,
    attempt: { ok: boolean; status: number | null; excerpt: string | null; final: boolean; nextAttemptAt: Date | null },
    disableAfter: number,
  ): Promise<{ disabled: boolean }> {
    // The webhook's row first, then the delivery's, as deleteWebhook's cascade takes them: the
    // other order could deadlock with it.
    return this.db.transaction(async (tx) => {
      const [hook] = await tx
        .update(webhooks)
        .set(
          attempt.ok
            ? { failureCount: 0 }
            : {
                failureCount: sql`${webhooks.failureCount} + 1`,
                enabled: sql`${webhooks.enabled} and ${webhooks.failureCount} + 1 < ${disableAfter}`,
              },
        )
        // A success ends a run of failures; without one the row is left alone (no lock taken).
        .where(and(eq(webhooks.id, job.webhook.id), attempt.ok ? gt(webhooks.failureCount, 0) : undefined))
        .returning({ enabled: webhooks.enabled, failureCount: webhooks.failureCount });
      await tx
        .update(webhookDeliveries)
        .set({
          status: attempt.ok ? 'SUCCEEDED' : attempt.final ? 'FAILED' : 'PENDING',
          attempts: sql`${webhookDeliveries.attempts} + 1`,
          responseStatus: attempt.status,
          responseExcerpt: attempt.excerpt,
          lastAttemptAt: sql`now()`,
          nextAttemptAt: attempt.ok || attempt.final ? null : attempt.nextAttemptAt,
        })
        .where(eq(webhookDeliveries.id, job.delivery.id));
      return { disabled: !!hook && !hook.enabled && hook.failureCount === disableAfter };
    });
  }

  /** Ends a delivery without sending it. */
  async abandon(id: string, excerpt: string): Promise<void> {
    await this.db.update(webhookDeliveries).set({ status: 'FAILED', responseExcerpt: excerpt, nextAttemptAt: null }).where(eq(webhookDeliveries.id, id));
  }

  /**
   * Makes a delivery pending again, with a job of its own, in one transaction (redeliverWebhook);
   * its attempts and log are kept.
   */
  async reopen(id: string): Promise<WebhookDeliveryRow | null> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx.update(webhookDeliveries).set({ status: 'PENDING', nextAttemptAt: sql`now()` }).where(eq(webhookDeliveries.id, id)).returning();
      // Purged (or deleted with its webhook) since it was looked up.
      if (!row) return null;
      await tx.execute(sql`select webhook_enqueue(array[${id}]::uuid[])`);
      return row;
    });
  }

  /**
   * Deletes, in batches of `batch` rows, the deliveries that ended before `before` (neither
   * created nor attempted since) and then the events from before it that no delivery refers to.
   */
  async purge(before: Date, batch = 5_000): Promise<{ deliveries: number; events: number }> {
    const rounds = async (statement: () => Promise<number>) => {
      let total = 0;
      for (let n = batch; n === batch; total += n) n = await statement();
      return total;
    };
    const deliveries = await rounds(async () => {
      const old = this.db
        .select({ id: webhookDeliveries.id })
        .from(webhookDeliveries)
        .where(
          and(
            lt(webhookDeliveries.createdAt, before),
            ne(webhookDeliveries.status, 'PENDING'),
            or(isNull(webhookDeliveries.lastAttemptAt), lt(webhookDeliveries.lastAttemptAt, before)),
          ),
        )
        .limit(batch);
      // Checked again on the row itself: one redelivered meanwhile is pending again, and stays.
      const ended = and(inArray(webhookDeliveries.id, old), ne(webhookDeliveries.status, 'PENDING'));
      return (await this.db.delete(webhookDeliveries).where(ended).returning({ id: webhookDeliveries.id })).length;
    });
    const events = await rounds(async () => {
      const orphans = this.db
        .select({ id: webhookEvents.id })
        .from(webhookEvents)
        .where(
          and(
            lt(webhookEvents.createdAt, before),
            notExists(this.db.select({ one: sql`1` }).from(webhookDeliveries).where(eq(webhookDeliveries.eventId, webhookEvents.id))),
          ),
        )
        .limit(batch);
      return (await this.db.delete(webhookEvents).where(inArray(webhookEvents.id, orphans)).returning({ id: webhookEvents.id })).length;
    });
    return { deliveries, events };
  }

  /** Every webhook's stored secret (sealing them again under a new key, WebhookQueue.start). */
  async secrets(): Promise<{ id: string; secret: string }[]> {
    return this.db.select({ id: webhooks.id, secret: webhooks.secret }).from(webhooks);
  }

  /** Replaces a stored secret, unless it was changed meanwhile (a rotation). */
  async replaceSecret(id: string, from: string, to: string): Promise<void> {
    await this.db
      .update(webhooks)
      .set({ secret: to })
      .where(and(eq(webhooks.id, id), eq(webhooks.secret, from)));
  }

  /** Whether the delivery queue's tables are there (pg-boss installs them at its first start). */
  async queueInstalled(): Promise<boolean> {
    const rows = await this.db.execute<{ installed: boolean }>(sql`select to_regclass('pgboss.job') is not null as installed`);
    return (rows as unknown as { rows?: { installed: boolean }[] }).rows?.[0]?.installed ?? false;
  }

  /** Enqueues every pending delivery (once, when the queue was just installed). */
  async enqueuePending(): Promise<void> {
    await this.db.execute(sql`select webhook_enqueue(array(select id from ${webhookDeliveries} where status = 'PENDING'))`);
  }
}

/**
 * A delivery with its webhook and event: three rows' columns, which drizzle would build into SQL
 * anew for every attempt (a tenth of the server's time while delivering, in WH1's profile).
 */
const prepareJob = (db: Db) =>
  db
    .select({ delivery: webhookDeliveries, webhook: webhooks, event: webhookEvents })
    .from(webhookDeliveries)
    .innerJoin(webhooks, eq(webhooks.id, webhookDeliveries.webhookId))
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookDeliveries.eventId))
    .where(eq(webhookDeliveries.id, sql.placeholder('deliveryId')))
    .prepare('webhook_delivery_job');
