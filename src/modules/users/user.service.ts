import type { Logger } from 'pino';
import { isAdmin, type Viewer } from '../../auth/viewer.js';
import type { UserRow } from '../../db/schema/index.js';
import { BadInputError, ForbiddenError, UnauthenticatedError } from '../../graphql/errors.js';
import { decodeCursor, encodeCursor, forwardPage, type Page, type PageArgs } from '../../lib/paging.js';
import { checkText, LIMITS } from '../../lib/validate.js';
import { type UserSnapshot, userSnapshot } from '../../pubsub/snapshots.js';
import type { PresenceService } from './presence.service.js';
import type { ServiceProfile, UserProfile, UserRepository } from './user.repository.js';

/** How long a provisioned profile is trusted before the next token refreshes the row. */
const PROVISION_TTL_MS = 60_000;
/**
 * How long an account's row is trusted before the next request re-reads it: roles an admin
 * changes, or an account removed, take effect within this.
 */
const ACCOUNT_TTL_MS = 10_000;
const CACHE_MAX = 100_000;
/** Users one upsertUsers may name, and roles one user may hold. */
export const UPSERT_USERS_MAX = 100;
const ROLES_MAX = 20;

/** A user as upsertUsers takes it; null fields, like absent ones, keep what is stored. */
export type UpsertUserInput = {
  id: string;
  displayName?: string | null;
  kind?: 'USER' | 'AGENT' | null;
  roles?: readonly string[] | null;
};

export class UserService {
  private readonly provisioned = new Map<string, { fingerprint: string; at: number; displayName: string }>();
  private readonly accounts = new Map<string, { row: UserRow; at: number }>();

  constructor(
    private readonly repo: UserRepository,
    private readonly presence: PresenceService,
    private readonly log?: Logger,
  ) {}

  /**
   * Just-in-time provisioning: creates or updates the user from token claims. Skips the write
   * while the same claims were seen recently, so a busy client costs no write per request.
   * Answers the user's display name: the token's, or the stored one when the token has none.
   * UNAUTHENTICATED when the id is a built-in account's: a token from elsewhere never adopts it.
   */
  async provision(profile: UserProfile): Promise<string> {
    const key = `${profile.orgId}\u0000${profile.id}`;
    const fingerprint = JSON.stringify([profile.displayName ?? null, profile.kind, profile.roles]);
    const seen = this.provisioned.get(key);
    const now = Date.now();
    if (seen && seen.fingerprint === fingerprint && now - seen.at < PROVISION_TTL_MS) return seen.displayName;
    const displayName = await this.repo.upsert(profile);
    if (displayName === null) {
      this.log?.warn({ org: profile.orgId, userId: profile.id }, 'refused a token for the id of a built-in account');
      throw new UnauthenticatedError(`User id "${profile.id}" belongs to a built-in account: sign in with its password (signIn) for a token`);
    }
    if (this.provisioned.size > CACHE_MAX) this.provisioned.clear();
    this.provisioned.set(key, { fingerprint, at: now, displayName });
    return displayName;
  }

  /**
   * The row of a built-in account, for its tokens (see TokenClaims.account), or null. Kept briefly,
   * so a busy client costs no read per request.
   */
  async account(orgId: string, id: string): Promise<UserRow | null> {
    const key = `${orgId}\u0000${id}`;
    const cached = this.accounts.get(key);
    const now = Date.now();
    if (cached && now - cached.at < ACCOUNT_TTL_MS) return cached.row;
    const row = await this.repo.account(orgId, id);
    if (this.accounts.size > CACHE_MAX) this.accounts.clear();
    if (row) this.accounts.set(key, { row, at: now });
    else this.accounts.delete(key);
    return row;
  }

  /**
   * Creates or updates users of the viewer's org, for admins and API keys (services that keep
   * their own user directory). The whole batch is checked before anything is written, and written
   * all or nothing. Answers the users as stored, in the order asked.
   */
  async upsertMany(viewer: Viewer, input: readonly UpsertUserInput[]): Promise<UserRow[]> {
    if (!isAdmin(viewer) && viewer.credential.type !== 'apiKey') {
      throw new ForbiddenError('Only admins and API keys create or update users');
    }
    if (input.length > UPSERT_USERS_MAX) throw new BadInputError(`At most ${UPSERT_USERS_MAX} users at once`, 'input');
    const seen = new Set<string>();
    const profiles: ServiceProfile[] = input.map((user) => {
      checkText('id', user.id, { max: LIMITS.shortTextChars });
      if (seen.has(user.id)) throw new BadInputError(`User "${user.id}" is named twice`, 'id');
      seen.add(user.id);
      checkText('displayName', user.displayName, { max: LIMITS.nameChars });
      let roles: string[] | undefined;
      if (user.roles != null) {
        roles = [...new Set(user.roles)];
        if (roles.length > ROLES_MAX) throw new BadInputError(`A user has at most ${ROLES_MAX} roles`, 'roles');
        for (const role of roles) checkText('roles', role, { max: LIMITS.shortTextChars });
      }
      return { id: user.id, displayName: user.displayName ?? undefined, kind: user.kind ?? undefined, roles };
    });
    if (profiles.length === 0) return [];
    const rows = await this.repo.upsertMany(viewer.orgId, profiles);
    // An account's new roles apply to its next request here; other instances within ACCOUNT_TTL_MS.
    for (const row of rows) this.accounts.delete(`${row.orgId}\u0000${row.id}`);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return profiles.map((p) => byId.get(p.id)!);
  }

  /** Creates placeholder users for ids not seen yet in the viewer's org (see UserRepository.ensureExist). */
  ensureExist(orgId: string, ids: string[]): Promise<void> {
    return this.repo.ensureExist(orgId, ids);
  }

  byIds(orgId: string, ids: readonly string[]): Promise<UserRow[]> {
    return this.repo.byIds(orgId, ids);
  }

  /** Users as events carry them (senders of messages announced by someone else), by id: one read. */
  async snapshots(orgId: string, ids: Iterable<string>): Promise<Map<string, UserSnapshot>> {
    const unique = [...new Set(ids)];
    if (unique.length === 0) return new Map();
    return new Map((await this.repo.byIds(orgId, unique)).map((user) => [user.id, userSnapshot(user)]));
  }

  /** The org's users, by id, for people pickers and discovery. */
  async list(viewer: Viewer, args: PageArgs & { search?: string | null; onlineOnly?: boolean | null }): Promise<Page<UserRow>> {
    checkText('search', args.search, { max: 200, allowEmpty: true });
    return forwardPage(
      args,
      (raw) => decodeCursor('user', raw),
      async (afterId, limit) => {
        const onlyIds = args.onlineOnly ? await this.presence.onlineUserIds(viewer.orgId) : undefined;
        return this.repo.list(viewer.orgId, { search: args.search || undefined, onlyIds, afterId, limit });
      },
      (u) => encodeCursor('user', u.id),
    );
  }
}
