import { and, asc, eq, gt } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type ControlEventRow, controlEvents } from '../../db/schema/index.js';

export class ControlRepository {
  constructor(private readonly db: Db) {}

  async insert(values: typeof controlEvents.$inferInsert): Promise<ControlEventRow> {
    const [row] = await this.db.insert(controlEvents).values(values).returning();
    return row!;
  }

  /** Events of a conversation in the order they were issued. */
  async page(conversationId: string, afterPosition: number | undefined, limit: number): Promise<ControlEventRow[]> {
    const conditions = [eq(controlEvents.conversationId, conversationId)];
    if (afterPosition !== undefined) conditions.push(gt(controlEvents.position, afterPosition));
    return this.db
      .select()
      .from(controlEvents)
      .where(and(...conditions))
      .orderBy(asc(controlEvents.position))
      .limit(limit);
  }
}
