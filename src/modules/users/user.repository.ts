import { and, asc, eq, gt, ilike, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { type UserRow, users } from '../../db/schema/index.js';

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

/** What upsertUsers says of a user; undefined fields keep what is stored. */
export type ServiceProfile = { id: string; displayName?: string; kind?: 'USER' | 'AGENT'; roles?: string[] };

export class UserRepository {
  constructor(private readonly db: Db) {}

  /**
   * Creates the user or refreshes its profile from a token's claims and answers its display name
   * (the token's, or the stored one when the token has none); null, writing nothing, when the id is
   * a built-in account's. Checked in the statement itself, so no sign-up can slip in between a
   * check and the write. A placeholder becomes the token's user.
   */
  async upsert(profile: UserProfile): Promise<string | null> {
    const { displayName } = profile;
    const rows = await this.db
      .insert(users)
      .values({ ...profile, displayName: displayName ?? profile.id, source: 'TOKEN' })
      .onConflictDoUpdate({
        target: [users.orgId, users.id],
        set: {
          ...(displayName === undefined ? {} : { displayName }),
          kind: profile.kind,
          roles: profile.roles,
          source: sql`CASE WHEN ${users.source} = 'PLACEHOLDER' THEN 'TOKEN'::user_source ELSE ${users.source} END`,
          updatedAt: sql`now()`,
        },
        setWhere: sql`${users.source} <> 'ACCOUNT'`,
      })
      .returning({ displayName: users.displayName });
    return rows[0]?.displayName ?? null;
  }

  /**
   * An API key's own user, made a service (kind AGENT) when the key creates it or finds only a
   * placeholder; refreshed when it is a service already. A person's row (from a token or an
   * account) is left as it is: the key then acts as that person by default.
   */
  async upsertService(profile: { orgId: string; id: string; displayName: string }): Promise<void> {
    await this.db
      .insert(users)
      .values({ ...profile, kind: 'AGENT', roles: [], source: 'SERVICE' })
      .onConflictDoUpdate({
        target: [users.orgId, users.id],
        set: { displayName: profile.displayName, kind: 'AGENT', roles: [], source: 'SERVICE', updatedAt: sql`now()` },
        setWhere: sql`${users.source} IN ('SERVICE', 'PLACEHOLDER')`,
      });
  }

  /**
   * Creates or updates users of the org for a service (upsertUsers), all or none: in one
   * transaction, in id order so two batches naming the same users cannot deadlock. A field left
   * out keeps what is stored (a new user: named by its id, a USER with no roles). New users and
   * placeholders become SERVICE users; rows from tokens and accounts keep their source.
   */
  async upsertMany(orgId: string, profiles: ServiceProfile[]): Promise<UserRow[]> {
    const sorted = [...profiles].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    return this.db.transaction(async (tx) => {
      const rows: UserRow[] = [];
      for (const p of sorted) {
        const given = {
          ...(p.displayName === undefined ? {} : { displayName: p.displayName }),
          ...(p.kind === undefined ? {} : { kind: p.kind }),
          ...(p.roles === undefined ? {} : { roles: p.roles }),
        };
        const [row] = await tx
          .insert(users)
          .values({ orgId, id: p.id, displayName: p.id, kind: 'USER', roles: [], ...given, source: 'SERVICE' })
          .onConflictDoUpdate({
            target: [users.orgId, users.id],
            set: {
              ...given,
              source: sql`CASE WHEN ${users.source} = 'PLACEHOLDER' THEN 'SERVICE'::user_source ELSE ${users.source} END`,
              updatedAt: sql`now()`,
            },
          })
          .returning();
        rows.push(row!);
      }
      return rows;
    });
  }

  /**
   * Makes sure the ids exist in the org, creating the missing ones as placeholders named by their id.
   * Lets people add someone who has not signed in yet; the first token of that user fills the profile.
   */
  async ensureExist(orgId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.db
      .insert(users)
      .values(ids.map((id) => ({ orgId, id, displayName: id, source: 'PLACEHOLDER' as const })))
      .onConflictDoNothing();
  }

  /** A built-in account's user row, or null when the id is no account (any more). */
  async account(orgId: string, id: string): Promise<UserRow | null> {
    const rows = await this.db
      .select()
      .from(users)
      .where(and(eq(users.orgId, orgId), eq(users.id, id), eq(users.source, 'ACCOUNT')))
      .limit(1);
    return rows[0] ?? null;
  }

  async byIds(orgId: string, ids: readonly string[]): Promise<UserRow[]> {
    if (ids.length === 0) return [];
    return this.db
      .select()
      .from(users)
      .where(and(eq(users.orgId, orgId), inArray(users.id, [...ids])));
  }

  /** Users of the org by id, optionally matching `search` in id or name, optionally among `onlyIds`. */
  async list(orgId: string, options: { search?: string; onlyIds?: string[]; afterId?: string; limit: number }): Promise<UserRow[]> {
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
