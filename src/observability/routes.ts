import type { ServerResponse } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { clusterMetricsText } from '../cluster.js';
import type { Database } from '../db/client.js';
import type { EventBus } from '../pubsub/pubsub.js';
import { errorMessage } from './log-errors.js';
import type { Metrics } from './metrics.js';

/** A dependency that has not answered a readiness probe within this time is reported as such. */
const PROBE_TIMEOUT_MS = 1_000;

/**
 * The operator's routes: /health (alive: the process answers), /ready (it can serve) and /metrics
 * (Prometheus). The handler answers these paths and returns true; any other path it leaves alone.
 */
export function createOperatorRoutes(deps: { database: Database; bus: EventBus; metrics: Metrics; log: Logger }) {
  const { metrics, log } = deps;
  return (path: string | undefined, res: ServerResponse): boolean => {
    if (path === '/health') {
      // Whether it can serve is /ready.
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return true;
    }
    if (path === '/ready') {
      void readiness(deps).then((checks) => {
        const ready = checks.postgres === 'ok' && (checks.redis ?? 'ok') === 'ok';
        res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ready ? 'ready' : 'unavailable', checks }));
      });
      return true;
    }
    if (path === '/metrics') {
      // With WORKERS > 1, whichever worker answers reports the whole deployment.
      void (clusterMetricsText() ?? metrics.registry.metrics()).then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: Error) => {
          log.warn({ err: errorMessage(err) }, 'metrics unavailable');
          res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
        },
      );
      return true;
    }
    return false;
  };
}

/**
 * Postgres and (when configured) Redis answer within PROBE_TIMEOUT_MS. Without Redis there is
 * nothing to reach for pub/sub: the checks say it is in-process.
 */
async function readiness({ database, bus }: { database: Database; bus: EventBus }): Promise<Record<string, string>> {
  const probe = (check: () => Promise<unknown>) =>
    Promise.race([check().then(() => 'ok'), delay(PROBE_TIMEOUT_MS, 'timeout', { ref: false })]).catch((err: Error) => `error: ${err.message}`);
  const [postgres, redis] = await Promise.all([probe(() => database.ping()), bus.commands ? probe(() => bus.commands!.ping()) : undefined]);
  return redis === undefined ? { postgres, pubsub: bus.kind } : { postgres, redis };
}
