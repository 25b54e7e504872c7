import { and, desc, eq, lt } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { auditLog } from '../db/schema/index.js';
import { isExpert, type Viewer } from './viewer.js';

export type AuditEntry = {
  orgId: string;
  /** e.g. "act_as", "expert.claim" */
  action: string;
  /** `user:<id>` or `apikey:<id>` */
  actor: string;
  subjectUserId?: string | null;
  conversationId?: string | null;
  details?: Record<string, unknown> | null;
};

/** Who acted for whom and who looked at what: append-only. */
export class AuditLog {
  constructor(private readonly db: Db) {}

  async record(entry: AuditEntry): Promise<void> {
    await this.db.insert(auditLog).values({
      orgId: entry.orgId,
      action: entry.action,
      actor: entry.actor,
      subjectUserId: entry.subjectUserId ?? null,
      conversationId: entry.conversationId ?? null,
      details: entry.details ?? null,
    });
  }

  /**
   * Records an expert reading or writing a conversation, one entry per request (history pages,
   * replaying subscriptions, message and stream writes); others' access is not recorded.
   */
  async expertAccess(
    viewer: Viewer,
    conversationId: string,
    action: 'expert.read' | 'expert.write',
    details?: Record<string, unknown> | null,
  ): Promise<void> {
    if (!isExpert(viewer)) return;
    await this.record({ orgId: viewer.orgId, action, actor: `user:${viewer.userId}`, conversationId, details });
  }

  /** Newest first. */
  async list(orgId: string, options: { beforeId?: number; limit: number; action?: string }) {
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
