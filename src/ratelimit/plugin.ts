import type { Plugin } from 'graphql-yoga';
import type { Context } from '../context.js';
import { AppError } from '../graphql/errors.js';
import { describeOperation } from '../graphql/operation.js';
import type { RateLimiter } from './rate-limiter.js';

/**
 * Applies the rate limits to every mutation before it executes, on HTTP, SSE and WebSocket:
 * each `sendMessage` field costs a message token, every other mutation field a mutation token
 * (so aliasing ten sends into one request costs ten). `signIn` and `signUp` fields also cost
 * the client address's account attempts, with or without a viewer.
 */
export function rateLimitPlugin(limiter: RateLimiter): Plugin<Context> {
  return {
    async onExecute({ args, setResultAndStopExecution }) {
      const { viewer, clientAddress } = args.contextValue;
      const op = describeOperation(args.document, args.operationName);
      if (op?.type !== 'mutation') return;
      const attempts = op.rootFields.filter((f) => f === 'signIn' || f === 'signUp').length;
      if (!viewer && !attempts) return;
      const sends = viewer ? op.rootFields.filter((f) => f === 'sendMessage').length : 0;
      const others = viewer ? op.rootFields.length - sends : 0;
      try {
        if (attempts) await limiter.consumeAccountAttempts(clientAddress, attempts);
        if (sends) await limiter.consume(viewer!, 'message', sends);
        if (others) await limiter.consume(viewer!, 'mutation', others);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        setResultAndStopExecution({ errors: [err] });
      }
    },
  };
}
