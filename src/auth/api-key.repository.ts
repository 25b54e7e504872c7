import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { type ApiKeyRow, apiKeys } from '../db/schema/index.js';
import { UserRepository } from '../modules/users/user.repository.js';

export class ApiKeyRepository {
  constructor(private readonly db: Db) {}

  /**
   * Stores a key with its user, in one transaction: a service (kind AGENT) named `displayName`
   * unless the user is a person already (UserRepository.upsertService).
   */
  async create(key: Pick<typeof apiKeys.$inferInsert, 'orgId' | 'name' | 'userId' | 'keyHash' | 'prefix'>, displayName: string): Promise<ApiKeyRow> {
    return this.db.transaction(async (tx) => {
      await new UserRepository(tx).upsertService({ orgId: key.orgId, id: key.userId, displayName });
      const [inserted] = await tx.insert(apiKeys).values(key).returning();
      return inserted!;
    });
  }

  /** The key with this hash, unless it was revoked. */
  async live(keyHash: string): Promise<ApiKeyRow | null> {
    const rows = await this.db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, keyHash), isNull(apiKeys.revokedAt)));
    return rows[0] ?? null;
  }

  async list(orgId: string): Promise<ApiKeyRow[]> {
    return this.db.select().from(apiKeys).where(eq(apiKeys.orgId, orgId));
  }

  /** Revokes a live key; false if there was none. */
  async revoke(id: string): Promise<boolean> {
    const rows = await this.db
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    return rows.length > 0;
  }

  /** Which of these keys are not revoked. */
  async liveIds(ids: string[]): Promise<Set<string>> {
    const rows = await this.db
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(inArray(apiKeys.id, ids), isNull(apiKeys.revokedAt)));
    return new Set(rows.map((k) => k.id));
  }
}
