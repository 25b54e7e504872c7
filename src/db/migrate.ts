import { fileURLToPath } from 'node:url';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import type { PoolClient } from 'pg';
import type { Database } from './client.js';

const migrationsFolder = fileURLToPath(new URL('../../drizzle', import.meta.url));
// Any constant will do; it only has to be the same for every instance of the service.
const MIGRATION_LOCK = 7_446_201;

/** Applies the migrations in drizzle/. Safe when several instances start at once. */
export async function migrate(database: Database): Promise<void> {
  if (database.pglite) {
    await migratePglite(drizzlePglite({ client: database.pglite }), { migrationsFolder });
    return;
  }
  // drizzle's migrator has no lock of its own: two instances starting together would both
  // try to apply the same migration.
  await underStartupLock(database, (client) => migratePg(drizzlePg({ client }), { migrationsFolder }));
}

/**
 * Runs `setup` while no other instance runs its own (migrations, installing the webhook queue):
 * instances starting together on a new database would race to create the same objects. PGlite
 * has one process at a time anyway.
 */
export async function underStartupLock<T>(database: Database, setup: (client: PoolClient) => Promise<T>): Promise<T> {
  if (!database.pool) return setup(undefined as unknown as PoolClient);
  const client = await database.pool.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    return await setup(client);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => {});
    client.release();
  }
}
