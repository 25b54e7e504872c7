import { asc, inArray } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type EvaluationRow, evaluations } from '../../db/schema/index.js';

export class EvaluationRepository {
  constructor(private readonly db: Db) {}

  async insert(values: typeof evaluations.$inferInsert): Promise<EvaluationRow> {
    const [row] = await this.db.insert(evaluations).values(values).returning();
    return row!;
  }

  /** The evaluations of these messages, oldest first. */
  async ofMessages(messageIds: readonly string[]): Promise<EvaluationRow[]> {
    if (messageIds.length === 0) return [];
    return this.db
      .select()
      .from(evaluations)
      .where(inArray(evaluations.messageId, [...messageIds]))
      .orderBy(asc(evaluations.createdAt), asc(evaluations.id));
  }
}
