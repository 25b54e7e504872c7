import { and, eq } from 'drizzle-orm';
import type { Db } from '../../db/client.js';
import { accounts, type UserRow, users } from '../../db/schema/index.js';
import { ConflictError } from '../../graphql/errors.js';
import { pgErrorCode, UNIQUE_VIOLATION } from '../../lib/pg-errors.js';

export class AccountRepository {
  constructor(private readonly db: Db) {}

  /** Whether the id is known in the org at all: as a user (from a token, or added to a conversation) or an account. */
  async userExists(orgId: string, userId: string): Promise<boolean> {
    const rows = await this.db
      .select({ id: users.id })
      .from(users)
      .where(and(eq(users.orgId, orgId), eq(users.id, userId)))
      .limit(1);
    return rows.length > 0;
  }

  /**
   * Creates the user and its account in one transaction. CONFLICT when the id is taken, also when
   * another sign-up for the same id wins the race between the check and this insert.
   */
  async create(user: { orgId: string; id: string; displayName: string }, passwordHash: string): Promise<UserRow> {
    try {
      return await this.db.transaction(async (tx) => {
        const [row] = await tx
          .insert(users)
          .values({ orgId: user.orgId, id: user.id, displayName: user.displayName, kind: 'USER', roles: [], source: 'ACCOUNT' })
          .onConflictDoNothing()
          .returning();
        if (!row) throw new ConflictError(`User id "${user.id}" is taken`);
        await tx.insert(accounts).values({ orgId: user.orgId, userId: user.id, passwordHash });
        return row;
      });
    } catch (err) {
      if (pgErrorCode(err) === UNIQUE_VIOLATION) throw new ConflictError(`User id "${user.id}" is taken`);
      throw err;
    }
  }

  /** The account's stored hash with its user, or null. */
  async find(orgId: string, userId: string): Promise<{ passwordHash: string; user: UserRow } | null> {
    const rows = await this.db
      .select({ passwordHash: accounts.passwordHash, user: users })
      .from(accounts)
      .innerJoin(users, and(eq(users.orgId, accounts.orgId), eq(users.id, accounts.userId)))
      .where(and(eq(accounts.orgId, orgId), eq(accounts.userId, userId)))
      .limit(1);
    return rows[0] ?? null;
  }
}
