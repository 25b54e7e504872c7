import { ForbiddenError } from '../graphql/errors.js';
import { decodeIntCursor, encodeCursor, forwardPage, type Page, type PageArgs } from '../lib/paging.js';
import { checkText, LIMITS } from '../lib/validate.js';
import type { AuditRepository, AuditRow } from './audit.repository.js';
import { isAdmin, isExpert, type Viewer } from './viewer.js';

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
  constructor(private readonly repo: AuditRepository) {}

  async record(entry: AuditEntry): Promise<void> {
    await this.repo.insert({
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
  async expertAccess(viewer: Viewer, conversationId: string, action: 'expert.read' | 'expert.write', details?: Record<string, unknown> | null): Promise<void> {
    if (!isExpert(viewer)) return;
    await this.record({ orgId: viewer.orgId, action, actor: `user:${viewer.userId}`, conversationId, details });
  }

  /** Newest first. */
  list(orgId: string, options: { beforeId?: number; limit: number; action?: string }): Promise<AuditRow[]> {
    return this.repo.list(orgId, options);
  }

  /** `auditLog`: the viewer's org's entries, newest first, for admins only. */
  async page(viewer: Viewer, args: PageArgs & { action?: string | null }): Promise<Page<AuditRow>> {
    if (!isAdmin(viewer)) throw new ForbiddenError('Only admins read the audit log');
    checkText('action', args.action, { max: LIMITS.shortTextChars });
    return forwardPage(
      args,
      (raw) => decodeIntCursor('audit', raw, Number.MAX_SAFE_INTEGER),
      (beforeId, limit) => this.repo.list(viewer.orgId, { beforeId, limit, action: args.action ?? undefined }),
      (e) => encodeCursor('audit', e.id),
    );
  }
}
