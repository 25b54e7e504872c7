import pino from 'pino';
import { expect } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { openDatabase } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import type { AgentRunRow } from '../../src/db/schema/index.js';
import { RunRepository } from '../../src/modules/agents/run.repository.js';
import { Metrics } from '../../src/observability/metrics.js';
import { EventBus } from '../../src/pubsub/pubsub.js';
import { createServices, type Services } from '../../src/services.js';
import { memoryTemplate } from './pglite-template.js';
import { type Backend, createTestDatabase } from './services.js';

export type ModuleKit = {
  services: Services;
  /**
   * The viewer of a request by `id` (org `o` unless told), provisioned as a token's user is: the
   * rules see what they see behind the GraphQL layer.
   */
  viewer(id: string, options?: { kind?: Viewer['kind']; roles?: string[]; org?: string }): Promise<Viewer>;
  /** A run as stored, whatever its state (the services answer live runs only). */
  run(conversationId: string, runId: string): Promise<AgentRunRow | null>;
  close(): Promise<void>;
};

/**
 * The services of every module as createServices builds them for the app, over a fresh migrated
 * database and an in-process bus, with no server in front: for tests of the rules themselves,
 * which then need neither a port nor a request per check.
 */
export async function startModules(backend: Backend = 'pglite'): Promise<ModuleKit> {
  const log = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' });
  const created = backend === 'postgres' ? await createTestDatabase() : undefined;
  const database = await openDatabase({ url: created?.url, log, memoryTemplate: created ? undefined : await memoryTemplate() });
  await migrate(database);
  const bus = EventBus.inProcess(log);
  const services = createServices({ database, bus, log, metrics: new Metrics(), jwt: { secret: 'not used: no tokens here' } });
  const runs = new RunRepository(database.db);
  return {
    services,
    run: (conversationId, runId) => runs.get(conversationId, runId),
    viewer: async (id, { kind = 'USER', roles = [], org = 'o' } = {}) => {
      const displayName = await services.users.provision({ orgId: org, id, kind, roles });
      return { orgId: org, userId: id, displayName, kind, roles, credential: { type: 'jwt', expiresAt: Number.MAX_SAFE_INTEGER } };
    },
    close: async () => {
      services.membership.stop();
      services.apiKeys.stop();
      await services.presence.stop();
      await bus.close();
      await database.close();
      await created?.drop();
    },
  };
}

/**
 * Expects `attempt` to fail with the error code `code`, and `state` to read the same before and
 * after it: a refusal changes nothing.
 */
export async function expectRefused(code: string, attempt: () => Promise<unknown>, state: () => Promise<unknown>, label?: string): Promise<void> {
  const before = await state();
  await expect(attempt(), label).rejects.toMatchObject({ code });
  expect(await state(), label).toEqual(before);
}
