import { createHash, randomBytes } from 'node:crypto';
import { and, eq, inArray, isNull } from 'drizzle-orm';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import { apiKeys, type ApiKeyRow } from '../db/schema/index.js';
import { UserRepository } from '../modules/users/user.repository.js';
import { RecheckList } from '../lib/batched-recheck.js';

const KEY_PREFIX = 'sbk_';
/**
 * How long a revoked key may go on working on a running instance (keys are revoked by the CLI, a
 * process of its own): its checks are cached for half of it, and the connections it opened are
 * re-checked every half, so one opened on a check cached just before the revocation ends in time.
 */
export const REVOCATION_DELAY_MS = 10_000;

const hashKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

/** Service API keys. The key itself is shown once at creation; only its SHA-256 is stored. */
export class ApiKeys {
  private readonly cache = new Map<string, { row: ApiKeyRow | null; at: number }>();
  /** Keys of open connections (WebSockets, SSE streams), with what to do when one is revoked. */
  private readonly connections: RecheckList<string>;

  constructor(
    private readonly db: Db,
    log?: Logger,
  ) {
    this.connections = new RecheckList({ name: 'API key', everyMs: REVOCATION_DELAY_MS / 2, present: (ids) => this.live(ids), log });
  }

  /**
   * A new key for `userId`, whose user is made with it: a service (kind AGENT, named
   * `displayName` or the key's name) unless it is a person already (UserRepository.upsertService).
   */
  async create(options: { orgId: string; name: string; userId: string; displayName?: string }): Promise<{ key: string; row: ApiKeyRow }> {
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    const { orgId, name, userId } = options;
    const row = await this.db.transaction(async (tx) => {
      await new UserRepository(tx).upsertService({ orgId, id: userId, displayName: options.displayName ?? name });
      const [inserted] = await tx
        .insert(apiKeys)
        .values({ orgId, name, userId, keyHash: hashKey(key), prefix: key.slice(0, KEY_PREFIX.length + 6) })
        .returning();
      return inserted!;
    });
    return { key, row };
  }

  /** The live key row for a presented key, or null. Cached briefly: keys are checked per request. */
  async verify(key: string): Promise<ApiKeyRow | null> {
    if (!key.startsWith(KEY_PREFIX) || key.length > 200) return null;
    const hash = hashKey(key);
    const cached = this.cache.get(hash);
    if (cached && Date.now() - cached.at < REVOCATION_DELAY_MS / 2) return cached.row;
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

  /**
   * Calls `onRevoked` once a re-check finds the key revoked: a connection outlives the check made
   * when it opened. Returns the unwatch.
   */
  watch(keyId: string, onRevoked: () => void): () => void {
    return this.connections.watch(keyId, keyId, onRevoked);
  }

  /** Checks every watched key; tells the connections of revoked ones. */
  recheck(): Promise<void> {
    return this.connections.recheck();
  }

  stop(): void {
    this.connections.stop();
  }

  /** Which of the keys `ids` are not revoked. */
  private async live(ids: string[]): Promise<Set<string>> {
    const rows = await this.db
      .select({ id: apiKeys.id })
      .from(apiKeys)
      .where(and(inArray(apiKeys.id, ids), isNull(apiKeys.revokedAt)));
    // The cached checks of revoked keys go too, or a client reconnecting at once would get back in.
    if (rows.length < ids.length) this.cache.clear();
    return new Set(rows.map((k) => k.id));
  }
}
