import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { withContractCode } from './contract-codes.js';
import { AppError } from './errors.js';

/**
 * Yoga's maskError. Errors meant for clients keep their message with a contract code: ours
 * (AppError) as they are, GraphQL's and Yoga's own (syntax, validation, variable coercion,
 * malformed requests) as BAD_USER_INPUT. Anything unexpected (a bug, a SQL error) is logged in
 * full and replaced by a bare INTERNAL_SERVER_ERROR: no stack, no SQL.
 */
export const createMaskError =
  (log: Logger) =>
  (error: unknown): Error => {
    const original = error instanceof GraphQLError ? error.originalError : error;
    if (original instanceof AppError) return error as Error;
    if (error instanceof GraphQLError && (!original || original instanceof GraphQLError || isClientInputError(error))) {
      return withContractCode(error);
    }
    log.error({ err: original }, 'unexpected error');
    return new GraphQLError('Internal server error', {
      nodes: error instanceof GraphQLError ? error.nodes : undefined,
      path: error instanceof GraphQLError ? error.path : undefined,
      extensions: { code: 'INTERNAL_SERVER_ERROR' },
    });
  };

/** Yoga wraps request-parsing failures (bad JSON body) with the parser's error as original. */
const isClientInputError = (error: GraphQLError) => {
  const status = (error.extensions?.http as { status?: number } | undefined)?.status;
  return status !== undefined && status >= 400 && status < 500;
};
