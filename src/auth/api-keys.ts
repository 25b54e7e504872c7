import { createHash, randomBytes } from 'node:crypto';
import { and, eq, isNull } from 'drizzle-orm';
import type { Db } from '../db/client.js';
import { apiKeys, type ApiKeyRow } from '../db/schema/index.js';

const KEY_PREFIX = 'sbk_';
const CACHE_TTL_MS = 30_000;

const hashKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

/** Service API keys. The key itself is shown once at creation; only its SHA-256 is stored. */
export class ApiKeys {
  private readonly cache = new Map<string, { row: ApiKeyRow | null; at: number }>();

  constructor(private readonly db: Db) {}

  async create(options: { orgId: string; name: string; userId: string }): Promise<{ key: string; row: ApiKeyRow }> {
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    const [row] = await this.db
      .insert(apiKeys)
      .values({ ...options, keyHash: hashKey(key), prefix: key.slice(0, KEY_PREFIX.length + 6) })
      .returning();
    return { key, row: row! };
  }

  /** The live key row for a presented key, or null. Cached briefly: keys are checked per request. */
  async verify(key: string): Promise<ApiKeyRow | null> {
    if (!key.startsWith(KEY_PREFIX) || key.length > 200) return null;
    const hash = hashKey(key);
    const cached = this.cache.get(hash);
    if (cached && Date.now() - cached.at < CACHE_TTL_MS) return cached.row;
    const rows = await this.db
      .select()
      .from(apiKeys)
      .where(and(eq(apiKeys.keyHash, hash), isNull(apiKeys.revokedAt)));
    const row = rows[0] ?? null;
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { row, at: Date.now() });
    return row;
  }

  async list(orgId: string): Promise<ApiKeyRow[]> {
    return this.db.select().from(apiKeys).where(eq(apiKeys.orgId, orgId));
  }

  async revoke(id: string): Promise<boolean> {
    const rows = await this.db
      .update(apiKeys)
      .set({ revokedAt: new Date() })
      .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
      .returning({ id: apiKeys.id });
    this.cache.clear();
    return rows.length > 0;
  }
}
