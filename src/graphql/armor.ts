import type { Plugin } from 'graphql-yoga';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import { GraphQLError } from 'graphql';

/** Query limits, checked at parse and validation time: before any resolver runs. */
export type QueryLimits = {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
  maxTokens: number;
  maxDirectives: number;
  /** A document longer than this is refused before it is parsed. */
  maxCharacters: number;
};

export const DEFAULT_QUERY_LIMITS: QueryLimits = {
  maxDepth: 12,
  maxAliases: 15,
  maxCost: 5_000,
  maxTokens: 3_000,
  maxDirectives: 20,
  // Room for a 16,000-character message written inline rather than as a variable.
  maxCharacters: 40_000,
};

const rejection = (message: string) =>
  new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });

/**
 * graphql-armor (depth, aliases, cost, tokens, directives, no field suggestions) plus a
 * character limit. Plugins of Yoga's envelop, so HTTP, SSE and WebSocket all pass through them.
 */
export function queryLimitPlugins(limits: QueryLimits = DEFAULT_QUERY_LIMITS): Plugin[] {
  const characterLimit: Plugin = {
    onParse({ params }) {
      const source = typeof params.source === 'string' ? params.source : params.source.body;
      if (source.length > limits.maxCharacters) {
        throw rejection(`Query is longer than ${limits.maxCharacters} characters`);
      }
    },
  };
  const onReject = [(_ctx: unknown, error: GraphQLError) => {
    // Armor's errors become contract errors: BAD_USER_INPUT.
    (error.extensions as Record<string, unknown>).code = 'BAD_USER_INPUT';
  }];
  return [
    characterLimit,
    EnvelopArmorPlugin({
      maxDepth: { n: limits.maxDepth, ignoreIntrospection: true, onReject },
      maxAliases: { n: limits.maxAliases, onReject },
      costLimit: { maxCost: limits.maxCost, ignoreIntrospection: true, onReject },
      maxTokens: { n: limits.maxTokens, onReject },
      maxDirectives: { n: limits.maxDirectives, onReject },
      blockFieldSuggestion: { enabled: true },
    }) as Plugin,
  ];
}
