import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { operationChecksPlugin, refusal } from './operation-checks.js';

/** Query limits, checked before any resolver runs. */
export type QueryLimits = {
  maxDepth: number;
  maxAliases: number;
  /** Objects an answer may hold, pages counted at their size (cost.ts), variables included. */
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

/**
 * graphql-armor (depth, aliases, tokens, directives, no field suggestions) at parse and validation
 * time, a character limit, and the text and cost checks that need the variables
 * (operation-checks.ts). Plugins of Yoga's envelop, so HTTP, SSE and WebSocket all pass through
 * them; the WebSocket runs those checks itself too (its subscriptions skip envelop).
 * Armor's own cost limit is off: it runs in validation, where variables are unknown, and counts
 * a page size given as a variable as one row.
 */
export function queryLimitPlugins(limits: QueryLimits = DEFAULT_QUERY_LIMITS): Plugin[] {
  const characterLimit: Plugin = {
    onParse({ params }) {
      const source = typeof params.source === 'string' ? params.source : params.source.body;
      if (source.length > limits.maxCharacters) {
        throw refusal(`Query is longer than ${limits.maxCharacters} characters`);
      }
    },
  };
  const onReject = [
    (_ctx: unknown, error: GraphQLError) => {
      // Armor's errors become contract errors: BAD_USER_INPUT.
      (error.extensions as Record<string, unknown>).code = 'BAD_USER_INPUT';
    },
  ];
  return [
    characterLimit,
    EnvelopArmorPlugin({
      maxDepth: { n: limits.maxDepth, ignoreIntrospection: true, onReject },
      maxAliases: { n: limits.maxAliases, onReject },
      costLimit: { enabled: false },
      maxTokens: { n: limits.maxTokens, onReject },
      maxDirectives: { n: limits.maxDirectives, onReject },
      blockFieldSuggestion: { enabled: true },
    }) as Plugin,
    operationChecksPlugin(limits.maxCost),
  ];
}
