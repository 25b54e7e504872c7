import { randomBytes } from 'node:crypto';
import pg from 'pg';

/**
 * The real services the tests run against. PGlite is always there; Postgres and Redis when
 * TEST_DATABASE_URL / TEST_REDIS_URL are set. Under CI=true both must be set and reachable:
 * a missing service fails the run instead of skipping its tests.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;
const CI = process.env.CI === 'true';

if (CI && (!TEST_DATABASE_URL || !TEST_REDIS_URL)) {
  throw new Error('CI=true needs TEST_DATABASE_URL and TEST_REDIS_URL (see .ci/run)');
}

export type Backend = 'pglite' | 'postgres';
/** Backends every database-facing suite runs on. */
export const backends: Backend[] = TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

/** A fresh, empty database on the test Postgres server; `drop` removes it. */
export async function createTestDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (!TEST_DATABASE_URL) throw new Error('TEST_DATABASE_URL is not set');
  const name = `sb_test_${Date.now().toString(36)}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
