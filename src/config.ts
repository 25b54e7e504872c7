import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { DEFAULT_QUERY_LIMITS, type QueryLimits } from './graphql/armor.js';
import { DEFAULT_WEBHOOK_OPTIONS, type WebhookOptions } from './modules/webhooks/options.js';
import { parseSecretKeys } from './modules/webhooks/secret-box.js';
import { DEFAULT_RATE_LIMITS, type RateLimits } from './ratelimit/rate-limiter.js';

/**
 * The service's whole configuration, read from the environment once at start.
 * Everything else takes a Config; nothing outside this file and drizzle.config.ts reads process.env.
 */
const optionalString = z
  .string()
  .trim()
  .transform((v) => (v === '' ? undefined : v))
  .optional();

const booleanString = z.enum(['true', 'false', '1', '0', 'yes', 'no']).transform((v) => v === 'true' || v === '1' || v === 'yes');

const urlWithScheme = (schemes: string[]) =>
  optionalString.refine(
    (v) => {
      if (v === undefined) return true;
      try {
        return schemes.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${schemes.join(' or ')}//` },
  );

/** `host:port` (an IPv6 host in brackets), as REDIS_CLUSTER_NODES lists them. */
const clusterNode = (v: string): { host: string; port: number } | undefined => {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:[\]]+):(\d{1,5})$/.exec(v);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
};

const clusterNodes = optionalString
  .refine((v) => v === undefined || v.split(',').every((n) => clusterNode(n.trim()) !== undefined), {
    message: 'must be a comma-separated list of host:port',
  })
  .transform((v) => v?.split(',').map((n) => clusterNode(n.trim())!));

/**
 * Whether `v` is an origin as a browser sends it: scheme, host and port only, lowercase host. No
 * pattern (`https://*.example.com`): origins are matched exactly.
 */
const isOrigin = (v: string) => {
  try {
    return !v.includes('*') && new URL(v).origin === v;
  } catch {
    return false;
  }
};

const MAX_WORKERS = 64;
/** What WORKERS=auto starts: a worker per core the process may use, at most MAX_WORKERS. */
export const autoWorkers = () => Math.min(availableParallelism(), MAX_WORKERS);

const rate = (fallback: number) => z.coerce.number().positive().max(1_000_000).default(fallback);
const limit = (fallback: number) => z.coerce.number().int().min(1).max(10_000_000).default(fallback);

const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    HOST: z.string().default('0.0.0.0'),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    DATABASE_URL: urlWithScheme(['postgres:', 'postgresql:']),
    DATABASE_POOL_MAX: z.coerce.number().int().min(1).max(500).default(20),
    DATABASE_CONNECT_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
    DATA_DIR: z.string().min(1).default('./data'),
    REDIS_URL: urlWithScheme(['redis:', 'rediss:']),
    REDIS_CLUSTER_NODES: clusterNodes,
    JWT_SECRET: optionalString.refine((v) => v === undefined || v.length >= 32, {
      message: 'must be at least 32 characters (HS256 needs a 256-bit key)',
    }),
    JWT_ISSUER: optionalString,
    JWT_AUDIENCE: optionalString,
    JWT_JWKS_URL: urlWithScheme(['https:', 'http:']),
    GRAPHIQL: booleanString.optional(),
    INTROSPECTION: booleanString.optional(),
    ACCOUNTS_ENABLED: booleanString.optional(),
    ACCOUNTS_ORG: optionalString.refine((v) => v === undefined || (v.length <= 200 && !v.includes('\u0000')), {
      message: 'must be at most 200 characters, without NUL',
    }),
    WEB_CHAT: booleanString.optional(),
    CORS_ORIGINS: optionalString
      .transform((v) =>
        (v ?? '')
          .split(',')
          .map((o) => o.trim())
          .filter(Boolean),
      )
      .refine((list) => list.every((o) => o === '*' || isOrigin(o)), {
        message:
          'must be * or a comma-separated list of exact origins such as https://chat.example.com (scheme, host and port; no path, trailing slash or wildcard)',
      }),
    RATE_LIMIT_USER_MESSAGES_PER_SEC: rate(DEFAULT_RATE_LIMITS.userMessages.perSecond),
    RATE_LIMIT_USER_MESSAGES_BURST: rate(DEFAULT_RATE_LIMITS.userMessages.burst),
    RATE_LIMIT_AGENT_MESSAGES_PER_SEC: rate(DEFAULT_RATE_LIMITS.agentMessages.perSecond),
    RATE_LIMIT_AGENT_MESSAGES_BURST: rate(DEFAULT_RATE_LIMITS.agentMessages.burst),
    RATE_LIMIT_USER_MUTATIONS_PER_SEC: rate(DEFAULT_RATE_LIMITS.userMutations.perSecond),
    RATE_LIMIT_USER_MUTATIONS_BURST: rate(DEFAULT_RATE_LIMITS.userMutations.burst),
    RATE_LIMIT_AGENT_MUTATIONS_PER_SEC: rate(DEFAULT_RATE_LIMITS.agentMutations.perSecond),
    RATE_LIMIT_AGENT_MUTATIONS_BURST: rate(DEFAULT_RATE_LIMITS.agentMutations.burst),
    RATE_LIMIT_ACCOUNT_ATTEMPTS_PER_SEC: rate(DEFAULT_RATE_LIMITS.accountAttempts.perSecond),
    RATE_LIMIT_ACCOUNT_ATTEMPTS_BURST: rate(DEFAULT_RATE_LIMITS.accountAttempts.burst),
    RATE_LIMIT_ACCOUNT_ATTEMPTS_TOTAL_PER_SEC: rate(DEFAULT_RATE_LIMITS.accountAttemptsTotal.perSecond),
    RATE_LIMIT_ACCOUNT_ATTEMPTS_TOTAL_BURST: rate(DEFAULT_RATE_LIMITS.accountAttemptsTotal.burst),
    TRUST_PROXY_HOPS: z.coerce.number().int().min(0).max(10).default(0),
    MAX_SOCKETS_PER_USER: z.coerce.number().int().min(1).max(10_000).default(20),
    MCP_HTTP: booleanString.optional(),
    MCP_MAX_REQUESTS_PER_USER: z.coerce.number().int().min(1).max(10_000).default(10),
    QUERY_MAX_DEPTH: limit(DEFAULT_QUERY_LIMITS.maxDepth),
    QUERY_MAX_ALIASES: limit(DEFAULT_QUERY_LIMITS.maxAliases),
    QUERY_MAX_COST: limit(DEFAULT_QUERY_LIMITS.maxCost),
    QUERY_MAX_TOKENS: limit(DEFAULT_QUERY_LIMITS.maxTokens),
    QUERY_MAX_CHARACTERS: limit(DEFAULT_QUERY_LIMITS.maxCharacters),
    WEBHOOK_ALLOW_PRIVATE: booleanString.optional(),
    WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(DEFAULT_WEBHOOK_OPTIONS.timeoutMs),
    WEBHOOK_CONCURRENCY: z.coerce.number().int().min(1).max(1_000).default(DEFAULT_WEBHOOK_OPTIONS.concurrency),
    WEBHOOK_RETRY_BASE_SECONDS: z.coerce.number().int().min(1).max(3_600).default(DEFAULT_WEBHOOK_OPTIONS.retryBaseSeconds),
    WEBHOOK_DISABLE_AFTER_FAILURES: z.coerce.number().int().min(1).max(1_000_000).default(DEFAULT_WEBHOOK_OPTIONS.disableAfter),
    WEBHOOK_SECRET_KEY: optionalString.transform((v, ctx) => {
      try {
        return parseSecretKeys(v);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: (err as Error).message });
        return z.NEVER;
      }
    }),
    WEBHOOK_RETENTION_DAYS: z.coerce.number().int().min(1).max(3_650).default(DEFAULT_WEBHOOK_OPTIONS.retentionDays),
    SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(10_000),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error', 'silent']).default('info'),
    WORKERS: z
      .string()
      .trim()
      .default('1')
      .refine((v) => v === 'auto' || (/^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= MAX_WORKERS), {
        message: `must be auto or a whole number from 1 to ${MAX_WORKERS}`,
      })
      .transform((v) => (v === 'auto' ? v : Number(v))),
  })
  .strip();

export type Config = {
  env: 'development' | 'production' | 'test';
  host: string;
  port: number;
  /** Unset: embedded PGlite in `dataDir`. */
  databaseUrl?: string;
  databasePoolMax: number;
  databaseConnectTimeoutMs: number;
  dataDir: string;
  /** Unset (and no cluster): in-process pub/sub (one instance only). */
  redisUrl?: string;
  /** Redis Cluster seed nodes: sharded pub/sub instead of `redisUrl`. */
  redisClusterNodes?: { host: string; port: number }[];
  jwt: {
    /** Unset together with jwksUrl: a secret generated once and kept in `dataDir`. */
    secret?: string;
    issuer?: string;
    audience?: string;
    jwksUrl?: string;
  };
  graphiql: boolean;
  /**
   * Built-in accounts (signUp / signIn with a password, answered with an HS256 token): on by
   * default in embedded mode (no DATABASE_URL), where there is usually no identity provider.
   */
  accountsEnabled: boolean;
  /** The one org built-in accounts sign up and sign in to: anonymous input never picks one. */
  accountsOrg: string;
  /** The web chat at `/`. */
  webChat: boolean;
  /**
   * Origins that browsers may call the API from with credentials, besides the server's own (and
   * localhost outside production); `*` lets any other origin in without credentials.
   */
  corsOrigins: string[];
  /** Schema introspection; on by default except in production. */
  introspection: boolean;
  rateLimits: RateLimits;
  /**
   * Reverse proxies in front of the server whose X-Forwarded-For is believed (see
   * transport/client-address.ts); 0: the peer's address is the client's.
   */
  trustProxyHops: number;
  queryLimits: QueryLimits;
  /** Open WebSockets one user may hold on one instance. */
  maxSocketsPerUser: number;
  /** The MCP endpoint at /mcp, and the requests one user may have in progress there per instance. */
  mcp: { http: boolean; maxRequestsPerUser: number };
  /**
   * Webhook delivery: at most `concurrency` in flight per instance, `timeoutMs` each, retried from
   * `retryBaseSeconds` on, disabled after `disableAfter` failures in a row, their log and events
   * kept `retentionDays` after they end; their secrets sealed with `secretKeys` (the first; none:
   * stored as they are); `allowPrivate` lets webhooks use http and private, loopback and
   * link-local addresses (tests, development).
   */
  webhooks: WebhookOptions;
  /** How long SIGTERM waits for in-flight requests before closing what is left. */
  shutdownGraceMs: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** Processes serving the port (src/cluster.ts); 1: this process alone. */
  workers: number;
};

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses the environment; throws ConfigError naming every bad variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const parsed = envSchema.safeParse(env);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((issue) => `${issue.path.join('.') || '(env)'}: ${issue.message}`));
  }
  const e = parsed.data;
  if (e.ACCOUNTS_ENABLED && e.JWT_JWKS_URL && !e.JWT_SECRET) {
    throw new ConfigError(['ACCOUNTS_ENABLED: built-in accounts sign HS256 tokens and need JWT_SECRET when JWT_JWKS_URL is set']);
  }
  // Checked for `auto` even on a one-core machine, so that a configuration valid on one machine
  // is valid on every machine.
  if (e.REDIS_URL && e.REDIS_CLUSTER_NODES) {
    throw new ConfigError(['REDIS_CLUSTER_NODES: set either it or REDIS_URL, not both']);
  }
  if (e.WORKERS !== 1) {
    const missing = [
      ...(e.DATABASE_URL ? [] : ['DATABASE_URL: required when WORKERS is not 1 (the embedded PGlite database serves one process)']),
      ...(e.REDIS_URL || e.REDIS_CLUSTER_NODES ? [] : ['REDIS_URL: required when WORKERS is not 1 (in-process pub/sub would not reach the other workers)']),
    ];
    if (missing.length) throw new ConfigError(missing);
  }
  return {
    env: e.NODE_ENV,
    host: e.HOST,
    port: e.PORT,
    databaseUrl: e.DATABASE_URL,
    databasePoolMax: e.DATABASE_POOL_MAX,
    databaseConnectTimeoutMs: e.DATABASE_CONNECT_TIMEOUT_MS,
    dataDir: e.DATA_DIR,
    redisUrl: e.REDIS_URL,
    redisClusterNodes: e.REDIS_CLUSTER_NODES,
    jwt: {
      secret: e.JWT_SECRET,
      issuer: e.JWT_ISSUER,
      audience: e.JWT_AUDIENCE,
      jwksUrl: e.JWT_JWKS_URL,
    },
    graphiql: e.GRAPHIQL ?? e.NODE_ENV !== 'production',
    accountsEnabled: e.ACCOUNTS_ENABLED ?? (!e.DATABASE_URL && !(e.JWT_JWKS_URL && !e.JWT_SECRET)),
    accountsOrg: e.ACCOUNTS_ORG ?? 'default',
    webChat: e.WEB_CHAT ?? true,
    corsOrigins: e.CORS_ORIGINS,
    introspection: e.INTROSPECTION ?? e.GRAPHIQL ?? e.NODE_ENV !== 'production',
    rateLimits: {
      userMessages: { perSecond: e.RATE_LIMIT_USER_MESSAGES_PER_SEC, burst: e.RATE_LIMIT_USER_MESSAGES_BURST },
      agentMessages: { perSecond: e.RATE_LIMIT_AGENT_MESSAGES_PER_SEC, burst: e.RATE_LIMIT_AGENT_MESSAGES_BURST },
      userMutations: { perSecond: e.RATE_LIMIT_USER_MUTATIONS_PER_SEC, burst: e.RATE_LIMIT_USER_MUTATIONS_BURST },
      agentMutations: { perSecond: e.RATE_LIMIT_AGENT_MUTATIONS_PER_SEC, burst: e.RATE_LIMIT_AGENT_MUTATIONS_BURST },
      accountAttempts: { perSecond: e.RATE_LIMIT_ACCOUNT_ATTEMPTS_PER_SEC, burst: e.RATE_LIMIT_ACCOUNT_ATTEMPTS_BURST },
      accountAttemptsTotal: { perSecond: e.RATE_LIMIT_ACCOUNT_ATTEMPTS_TOTAL_PER_SEC, burst: e.RATE_LIMIT_ACCOUNT_ATTEMPTS_TOTAL_BURST },
    },
    trustProxyHops: e.TRUST_PROXY_HOPS,
    queryLimits: {
      maxDepth: e.QUERY_MAX_DEPTH,
      maxAliases: e.QUERY_MAX_ALIASES,
      maxCost: e.QUERY_MAX_COST,
      maxTokens: e.QUERY_MAX_TOKENS,
      maxDirectives: DEFAULT_QUERY_LIMITS.maxDirectives,
      maxCharacters: e.QUERY_MAX_CHARACTERS,
    },
    maxSocketsPerUser: e.MAX_SOCKETS_PER_USER,
    mcp: { http: e.MCP_HTTP ?? true, maxRequestsPerUser: e.MCP_MAX_REQUESTS_PER_USER },
    webhooks: {
      allowPrivate: e.WEBHOOK_ALLOW_PRIVATE ?? false,
      timeoutMs: e.WEBHOOK_TIMEOUT_MS,
      concurrency: e.WEBHOOK_CONCURRENCY,
      retryBaseSeconds: e.WEBHOOK_RETRY_BASE_SECONDS,
      disableAfter: e.WEBHOOK_DISABLE_AFTER_FAILURES,
      retentionDays: e.WEBHOOK_RETENTION_DAYS,
      secretKeys: e.WEBHOOK_SECRET_KEY,
    },
    shutdownGraceMs: e.SHUTDOWN_GRACE_MS,
    logLevel: e.LOG_LEVEL,
    workers: e.WORKERS === 'auto' ? autoWorkers() : e.WORKERS,
  };
}
