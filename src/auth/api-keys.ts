import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { Db } from '../db/client.js';
import type { ApiKeyRow } from '../db/schema/index.js';
import { errorMessage } from '../observability/log-errors.js';
import { ApiKeyRepository } from './api-key.repository.js';

const KEY_PREFIX = 'sbk_';
/**
 * How long a revoked key may go on working on a running instance (keys are revoked by the CLI, a
 * process of its own): its checks are cached for half of it, and the connections it opened are
 * re-checked every half, so one opened on a check cached just before the revocation ends in time.
 */
export const REVOCATION_DELAY_MS = 10_000;
/** Keys re-checked per statement. */
const RECHECK_BATCH = 500;

const hashKey = (key: string) => createHash('sha256').update(key, 'utf8').digest('hex');

/** Service API keys. The key itself is shown once at creation; only its SHA-256 is stored. */
export class ApiKeys {
  private readonly cache = new Map<string, { row: ApiKeyRow | null; at: number }>();
  /** Keys of open connections (WebSockets, SSE streams), with what to do when one is revoked. */
  private readonly watched = new Map<string, Set<() => void>>();
  private timer?: NodeJS.Timeout;
  /** A re-check in flight: a tick that comes while the database is slow is skipped. */
  private rechecking = false;
  private readonly repo: ApiKeyRepository;

  constructor(
    db: Db,
    private readonly log?: Logger,
  ) {
    this.repo = new ApiKeyRepository(db);
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
   * when it opened. One timer re-checks every watched key in a few statements. Returns the unwatch.
   */
  watch(keyId: string, onRevoked: () => void): () => void {
    let callbacks = this.watched.get(keyId);
    if (!callbacks) this.watched.set(keyId, (callbacks = new Set()));
    callbacks.add(onRevoked);
    if (!this.timer) {
      this.timer = setInterval(() => {
        if (this.rechecking) return;
        this.rechecking = true;
        this.recheck()
          .catch((err: Error) => this.log?.warn({ err: errorMessage(err) }, 'API key re-check failed'))
          .finally(() => (this.rechecking = false));
      }, REVOCATION_DELAY_MS / 2);
      this.timer.unref();
    }
    return () => {
      callbacks.delete(onRevoked);
      if (callbacks.size === 0 && this.watched.get(keyId) === callbacks) this.watched.delete(keyId);
    };
  }

  /** Checks every watched key; tells the connections of revoked ones. */
  async recheck(): Promise<void> {
    const ids = [...this.watched.keys()];
    for (let i = 0; i < ids.length; i += RECHECK_BATCH) {
      const batch = ids.slice(i, i + RECHECK_BATCH);
      const alive = await this.repo.liveIds(batch);
      const revoked = batch.filter((id) => !alive.has(id));
      // Their cached checks go too, or a client reconnecting at once would get back in.
      if (revoked.length) this.cache.clear();
      for (const id of revoked) this.revoked(id);
    }
  }

  /** Tells the connections of a revoked key, once each; one that fails does not keep the others open. */
  private revoked(keyId: string): void {
    const callbacks = this.watched.get(keyId);
    this.watched.delete(keyId);
    for (const onRevoked of callbacks ?? []) {
      try {
        onRevoked();
      } catch (err) {
        this.log?.warn({ err: errorMessage(err) }, 'ending a connection of a revoked API key failed');
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
