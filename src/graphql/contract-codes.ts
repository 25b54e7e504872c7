import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ERROR_CODES } from './errors.js';

/** The `extensions.code` values of API.md, for looking up a code of unknown origin. */
export const CONTRACT_CODES: ReadonlySet<string> = new Set(ERROR_CODES);

/**
 * A client's error with a code of the contract: GraphQL's and Yoga's own codes for a request that
 * cannot run (GRAPHQL_PARSE_FAILED, GRAPHQL_VALIDATION_FAILED, BAD_REQUEST, none) become
 * BAD_USER_INPUT. Errors that already carry a contract code are returned as they are.
 */
export function withContractCode(error: GraphQLError): GraphQLError {
  const code = error.extensions?.code;
  if (typeof code === 'string' && CONTRACT_CODES.has(code)) return error;
  const { originalError: hidden, ...extensions } = error.extensions ?? {};
  // Yoga answers a body that is not JSON 400 under every Accept (it is no GraphQL request), but
  // tells it from a query that does not parse (200 under application/json) by the originalError
  // it leaves in the extensions. That is dropped here, so the 400 is made unconditional instead.
  if (hidden !== undefined && isHttpHint(extensions.http)) extensions.http = { ...extensions.http, spec: false };
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    path: error.path,
    extensions: { ...extensions, code: 'BAD_USER_INPUT' },
  });
}

/**
 * Yoga adds GRAPHQL_VALIDATION_FAILED to validation errors after maskError has seen them; this
 * rewrites the codes of every result that leaves over HTTP or SSE (the WebSocket path maps its
 * parse and validation errors itself).
 */
export function contractCodesPlugin(): Plugin {
  return {
    onResultProcess({ result, setResult }) {
      if (Array.isArray(result) || !result || typeof result !== 'object' || !('errors' in result)) return;
      const errors = (result as { errors?: readonly GraphQLError[] }).errors;
      if (!errors?.length || errors.every((e) => CONTRACT_CODES.has(String(e.extensions?.code)))) return;
      setResult({ ...(result as object), errors: errors.map((e) => (e instanceof GraphQLError ? withContractCode(e) : e)) } as never);
    },
  };
}

/** Yoga's `extensions.http`: the status and headers an error asks for on HTTP. */
const isHttpHint = (value: unknown): value is { status?: number; spec?: boolean } => typeof value === 'object' && value !== null;
