import { afterAll, beforeAll, describe } from 'vitest';
import { type ServerOptions, startServer, type TestServer } from './server.js';
import { TEST_DATABASE_URL, TEST_REDIS_URL } from './services.js';

/** `describe` for suites on two instances: they need the test Postgres and Redis, so run there only. */
export const describeTwoInstances = describe.skipIf(!TEST_DATABASE_URL || !TEST_REDIS_URL);

export type TwoInstances = { a: TestServer; b: TestServer };

/**
 * Two servers on one fresh Postgres database, one Redis and one JWT secret, as two instances of a
 * deployment, for the `describe` that calls this: started before its tests, stopped after them.
 * Read `a` and `b` inside the tests (they are set once the suite has started).
 */
export function twoInstances(options: Pick<ServerOptions, 'env' | 'timing'> = {}): TwoInstances {
  const servers = {} as TwoInstances;
  beforeAll(async () => {
    servers.a = await startServer({ ...options, backend: 'postgres', redisUrl: TEST_REDIS_URL });
    servers.b = await startServer({ ...options, databaseUrl: servers.a.databaseUrl, redisUrl: TEST_REDIS_URL, secret: servers.a.secret });
  });
  afterAll(async () => {
    // B first: A owns the database and drops it.
    await servers.b?.stop();
    await servers.a?.stop();
  });
  return servers;
}
