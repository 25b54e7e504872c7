import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import { describeOperation } from '../graphql/operation.js';
import type { Metrics } from './metrics.js';

/**
 * One log line per operation (request id, user, operation, duration, error codes) and the
 * operation metrics. Running subscriptions and their deliveries are counted where they run
 * (src/graphql/fan-out.ts), for every transport.
 */
export function observabilityPlugin(metrics: Metrics): Plugin<Context> {
  return {
    onExecute({ args }) {
      const started = performance.now();
      const op = describeOperation(args.document, args.operationName);
      return {
        onExecuteDone({ result }) {
          if (isAsyncIterable(result)) return;
          const seconds = (performance.now() - started) / 1000;
          const label = op?.rootFields[0] ?? 'unknown';
          metrics.operationDuration.observe({ type: op?.type ?? 'unknown', operation: label }, seconds);
          const codes = result.errors?.map((e) => e.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
          args.contextValue.log.info(
            { operation: op?.name ?? label, type: op?.type, fields: op?.rootFields, ms: Math.round(seconds * 10_000) / 10, errors: codes },
            'operation',
          );
        },
      };
    },
  };
}
