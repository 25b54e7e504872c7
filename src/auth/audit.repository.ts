import { and, desc, eq, lt } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { auditLog } from '../db/schema/index.js';

export type AuditRow = typeof auditLog.$inferSelect;

export class AuditRepository {
  constructor(private readonly db: Db) {}

  async insert(values: typeof auditLog.$inferInsert): Promise<void> {
    await this.db.insert(auditLog).values(values);
  }

  /** The org's entries, newest first, before `beforeId`, of one action if given. */
  async list(orgId: string, options: { beforeId?: number; limit: number; action?: string }): Promise<AuditRow[]> {
    const conditions = [eq(auditLog.orgId, orgId)];
    if (options.beforeId !== undefined) conditions.push(lt(auditLog.id, options.beforeId));
    if (options.action) conditions.push(eq(auditLog.action, options.action));
    return this.db
      .select()
      .from(auditLog)
      .where(and(...conditions))
      .orderBy(desc(auditLog.id))
      .limit(options.limit);
  }
}
