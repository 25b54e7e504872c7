import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import { AppError } from '../graphql/errors.js';
import { describeOperation } from '../graphql/operation.js';
import type { RateLimiter } from './rate-limiter.js';

/**
 * Applies the rate limits to every mutation before it executes, on HTTP, SSE and WebSocket:
 * each `sendMessage` field costs a message token, every other mutation field a mutation token
 * (so aliasing ten sends into one request costs ten).
 */
export function rateLimitPlugin(limiter: RateLimiter): Plugin<Context> {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const viewer = args.contextValue.viewer;
      if (!viewer) return;
      const op = describeOperation(args.document, args.operationName);
      if (op?.type !== 'mutation') return;
      const sends = op.rootFields.filter((f) => f === 'sendMessage').length;
      const others = op.rootFields.length - sends;
      try {
        if (sends) await limiter.consume(viewer, 'message', sends);
        if (others) await limiter.consume(viewer, 'mutation', others);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        const retryAfter = String(err.extensions.retryAfter ?? 1);
        err.extensions.http = { status: 429, headers: { 'retry-after': retryAfter } };
        setResultAndStopExecution({ errors: [err] });
      }
    },
  };
}
