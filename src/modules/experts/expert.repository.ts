import { and, asc, eq, gt, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type ExpertRequestRow, expertRequests } from '../../db/schema/index.js';

type Status = ExpertRequestRow['status'];
/** Keyset position in the experts' queue (oldest first). */
export type QueueKey = { at: Date; id: string };

export class ExpertRepository {
  constructor(private readonly db: Db) {}

  /** The conversation's request that is still open or claimed, if any. */
  async pendingFor(conversationId: string): Promise<ExpertRequestRow | null> {
    const rows = await this.db
      .select()
      .from(expertRequests)
      .where(and(eq(expertRequests.conversationId, conversationId), inArray(expertRequests.status, ['OPEN', 'CLAIMED'])));
    return rows[0] ?? null;
  }

  async insert(values: typeof expertRequests.$inferInsert): Promise<ExpertRequestRow> {
    const [row] = await this.db.insert(expertRequests).values(values).returning();
    return row!;
  }

  /** The org's requests in a status, oldest first, after `after`. */
  async page(orgId: string, status: Status, after: QueueKey | undefined, limit: number): Promise<ExpertRequestRow[]> {
    return this.db
      .select()
      .from(expertRequests)
      .where(
        and(
          eq(expertRequests.orgId, orgId),
          eq(expertRequests.status, status),
          after ? or(gt(expertRequests.createdAt, after.at), and(eq(expertRequests.createdAt, after.at), gt(expertRequests.id, after.id))) : undefined,
        ),
      )
      .orderBy(asc(expertRequests.createdAt), asc(expertRequests.id))
      .limit(limit);
  }

  async byId(orgId: string, id: string): Promise<ExpertRequestRow | null> {
    const rows = await this.db
      .select()
      .from(expertRequests)
      .where(and(eq(expertRequests.id, id), eq(expertRequests.orgId, orgId)));
    return rows[0] ?? null;
  }

  /** Claims an OPEN request for `claimedBy`; null if it was not open any more. */
  async claim(id: string, claimedBy: string, previousAssigneeId: string | null): Promise<ExpertRequestRow | null> {
    const [claimed] = await this.db
      .update(expertRequests)
      .set({ status: 'CLAIMED', claimedBy, claimedAt: sql`now()`, previousAssigneeId })
      .where(and(eq(expertRequests.id, id), eq(expertRequests.status, 'OPEN')))
      .returning();
    return claimed ?? null;
  }

  /** The conversation's claimed request, if an expert has it. */
  async claimedFor(conversationId: string): Promise<ExpertRequestRow | null> {
    const rows = await this.db
      .select()
      .from(expertRequests)
      .where(and(eq(expertRequests.conversationId, conversationId), eq(expertRequests.status, 'CLAIMED')));
    return rows[0] ?? null;
  }

  /** Cancels an OPEN request; null if it was not open any more. */
  async cancel(id: string): Promise<ExpertRequestRow | null> {
    const [cancelled] = await this.db
      .update(expertRequests)
      .set({ status: 'CANCELLED', resolvedAt: sql`now()` })
      .where(and(eq(expertRequests.id, id), eq(expertRequests.status, 'OPEN')))
      .returning();
    return cancelled ?? null;
  }

  async resolve(id: string): Promise<ExpertRequestRow> {
    const [resolved] = await this.db.update(expertRequests).set({ status: 'RESOLVED', resolvedAt: sql`now()` }).where(eq(expertRequests.id, id)).returning();
    return resolved!;
  }
}
