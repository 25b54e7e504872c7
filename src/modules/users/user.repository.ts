import { and, asc, eq, gt, ilike, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { users, type UserRow } from '../../db/schema/index.js';

/** A user's columns as events carry them (UserSnapshot), for statements that join the sender in. */
export const USER_SNAPSHOT_COLUMNS = { orgId: users.orgId, id: users.id, displayName: users.displayName, kind: users.kind, roles: users.roles };

export type UserProfile = {
  orgId: string;
  id: string;
  /** Undefined: keep the stored one (a new user is named by its id). */
  displayName?: string;
  kind: 'USER' | 'AGENT';
  roles: string[];
};

export class UserRepository {
  constructor(private readonly db: Db) {}

  /** Creates the user or refreshes its profile from the token's claims; answers its display name. */
  async upsert(profile: UserProfile): Promise<string> {
    const { displayName } = profile;
    const rows = await this.db
      .insert(users)
      .values({ ...profile, displayName: displayName ?? profile.id })
      .onConflictDoUpdate({
        target: [users.orgId, users.id],
        set: { ...(displayName === undefined ? {} : { displayName }), kind: profile.kind, roles: profile.roles, updatedAt: sql`now()` },
      })
      .returning({ displayName: users.displayName });
    return rows[0]!.displayName;
  }

  /**
   * Makes sure the ids exist in the org, creating the missing ones as plain users named by their id.
   * Lets people add someone who has not signed in yet; the first token of that user fills the profile.
   */
  async ensureExist(orgId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .insert(users)
      .values(ids.map((id) => ({ orgId, id, displayName: id })))
      .onConflictDoNothing();
  }

  async byIds(orgId: string, ids: readonly string[]): Promise<UserRow[]> {
    if (ids.length === 0) return [];
    return this.db.select().from(users).where(and(eq(users.orgId, orgId), inArray(users.id, [...ids])));
  }

  /** Users of the org by id, optionally matching `search` in id or name, optionally among `onlyIds`. */
  async list(
    orgId: string,
    options: { search?: string; onlyIds?: string[]; afterId?: string; limit: number },
  ): Promise<UserRow[]> {
    const conditions = [eq(users.orgId, orgId)];
    if (options.search) {
      const pattern = `%${options.search.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
      conditions.push(or(ilike(users.id, pattern), ilike(users.displayName, pattern))!);
    }
    if (options.onlyIds) conditions.push(inArray(users.id, options.onlyIds));
    if (options.afterId !== undefined) conditions.push(gt(users.id, options.afterId));
    return this.db
      .select()
      .from(users)
      .where(and(...conditions))
      .orderBy(asc(users.id))
      .limit(options.limit);
  }
}
