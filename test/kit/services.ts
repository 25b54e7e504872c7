import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';

/**
 * The real services the tests run against. PGlite is always there; Postgres and Redis when
 * TEST_DATABASE_URL / TEST_REDIS_URL are set. Under CI=true both must be set and reachable:
 * a missing service fails the run instead of skipping its tests.
 */
export const TEST_DATABASE_URL = process.env.TEST_DATABASE_URL || undefined;
export const TEST_REDIS_URL = process.env.TEST_REDIS_URL || undefined;
const CI = process.env.CI === 'true';
/**
 * With TEST_REDIS_CLUSTER=true the global setup starts a Redis Cluster (test/kit/redis-cluster.ts)
 * and the suites that run on the test Redis run on it instead: its nodes, as REDIS_CLUSTER_NODES.
 */
export const TEST_REDIS_CLUSTER_NODES: string | undefined = (process.env.VITEST && inject('redisClusterNodes')) || undefined;

/** The service's Redis settings for `url`: the test Redis is the test cluster when there is one. */
export function redisEnv(url: string): Record<string, string> {
  return url === TEST_REDIS_URL && TEST_REDIS_CLUSTER_NODES ? { REDIS_CLUSTER_NODES: TEST_REDIS_CLUSTER_NODES } : { REDIS_URL: url };
}

if (CI && (!TEST_DATABASE_URL || !TEST_REDIS_URL)) {
  throw new Error('CI=true needs TEST_DATABASE_URL and TEST_REDIS_URL (see .ci/run)');
}

export type Backend = 'pglite' | 'postgres';
/** Backends every database-facing suite runs on (the pass on a Redis Cluster repeats only Postgres). */
export const backends: Backend[] = TEST_REDIS_CLUSTER_NODES ? ['postgres'] : TEST_DATABASE_URL ? ['pglite', 'postgres'] : ['pglite'];

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
