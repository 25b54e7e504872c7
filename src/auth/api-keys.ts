import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import type { ApiKeyRow } from '../db/schema/index.js';
import { RecheckList } from '../lib/batched-recheck.js';
import { ApiKeyRepository } from './api-key.repository.js';

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
  private readonly repo: ApiKeyRepository;

  constructor(db: Db, log?: Logger) {
    this.repo = new ApiKeyRepository(db);
    this.connections = new RecheckList({ name: 'API key', everyMs: REVOCATION_DELAY_MS / 2, present: (ids) => this.live(ids), log });
  }

  /**
   * A new key for `userId`, whose user is made with it: a service (kind AGENT, named
   * `displayName` or the key's name) unless it is a person already (UserRepository.upsertService).
   */
  async create(options: { orgId: string; name: string; userId: string; displayName?: string }): Promise<{ key: string; row: ApiKeyRow }> {
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    const { orgId, name, userId } = options;
    const row = await this.repo.create(
      { orgId, name, userId, keyHash: hashKey(key), prefix: key.slice(0, KEY_PREFIX.length + 6) },
      options.displayName ?? name,
    );
    return { key, row };
  }

  /** The live key row for a presented key, or null. Cached briefly: keys are checked per request. */
  async verify(key: string): Promise<ApiKeyRow | null> {
    if (!key.startsWith(KEY_PREFIX) || key.length > 200) return null;
    const hash = hashKey(key);
    const cached = this.cache.get(hash);
    if (cached && Date.now() - cached.at < REVOCATION_DELAY_MS / 2) return cached.row;
    const row = await this.repo.live(hash);
    if (this.cache.size > 10_000) this.cache.clear();
    this.cache.set(hash, { row, at: Date.now() });
    return row;
  }

  async list(orgId: string): Promise<ApiKeyRow[]> {
    return this.repo.list(orgId);
  }

  async revoke(id: string): Promise<boolean> {
    const revoked = await this.repo.revoke(id);
    this.cache.clear();
    return revoked;
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
    const alive = await this.repo.liveIds(ids);
    // The cached checks of revoked keys go too, or a client reconnecting at once would get back in.
    if (alive.size < ids.length) this.cache.clear();
    return alive;
  }
}
