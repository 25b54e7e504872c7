import { GraphQLError } from 'graphql';
import type { Logger } from 'pino';
import { AppError, type ErrorCode } from './errors.js';

const CONTRACT_CODES = new Set<string>([
  'UNAUTHENTICATED',
  'FORBIDDEN',
  'NOT_FOUND',
  'BAD_USER_INPUT',
  'CONFLICT',
  'RATE_LIMITED',
  'INTERNAL_SERVER_ERROR',
] satisfies ErrorCode[]);

/**
 * Yoga's maskError. Errors meant for clients keep their message with a contract code: ours
 * (AppError) as they are, GraphQL's and Yoga's own (syntax, validation, variable coercion,
 * malformed requests) as BAD_USER_INPUT. Anything unexpected (a bug, a SQL error) is logged in
 * full and replaced by a bare INTERNAL_SERVER_ERROR: no stack, no SQL.
 */
export const createMaskError = (log: Logger) => (error: unknown): Error => {
  const original = error instanceof GraphQLError ? error.originalError : error;
  if (original instanceof AppError) return error as Error;
  if (error instanceof GraphQLError && (!original || original instanceof GraphQLError || isClientInputError(error))) {
    const code = error.extensions?.code;
    if (typeof code === 'string' && CONTRACT_CODES.has(code)) return error;
    const { originalError: _hidden, ...extensions } = error.extensions ?? {};
    return new GraphQLError(error.message, {
      nodes: error.nodes,
      source: error.source,
      positions: error.positions,
      path: error.path,
      extensions: { ...extensions, code: 'BAD_USER_INPUT' },
    });
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
