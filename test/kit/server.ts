import { randomBytes } from 'node:crypto';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { type ExecutionResult, print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import pino, { type Logger } from 'pino';
import WebSocket from 'ws';
import { type App, type AppOptions, createApp } from '../../src/app.js';
import { type MintOptions, mintToken } from '../../src/auth/jwt.js';
import { loadConfig } from '../../src/config.js';
import { MessageRepository } from '../../src/modules/messages/message.repository.js';
import { waitingFor } from './pending.js';
import { memoryTemplate as pgliteTemplate } from './pglite-template.js';
import { type Backend, createTestDatabase, redisEnv } from './services.js';

/** Rate limits and the socket cap out of the way (the default of every test server). */
export const UNLIMITED_ENV: Record<string, string> = {
  RATE_LIMIT_USER_MESSAGES_PER_SEC: '100000',
  RATE_LIMIT_USER_MESSAGES_BURST: '100000',
  RATE_LIMIT_AGENT_MESSAGES_PER_SEC: '100000',
  RATE_LIMIT_AGENT_MESSAGES_BURST: '100000',
  RATE_LIMIT_USER_MUTATIONS_PER_SEC: '100000',
  RATE_LIMIT_USER_MUTATIONS_BURST: '100000',
  RATE_LIMIT_AGENT_MUTATIONS_PER_SEC: '100000',
  RATE_LIMIT_AGENT_MUTATIONS_BURST: '100000',
  RATE_LIMIT_ACCOUNT_ATTEMPTS_PER_SEC: '100000',
  RATE_LIMIT_ACCOUNT_ATTEMPTS_BURST: '100000',
  RATE_LIMIT_ACCOUNT_ATTEMPTS_TOTAL_PER_SEC: '100000',
  RATE_LIMIT_ACCOUNT_ATTEMPTS_TOTAL_BURST: '100000',
  MAX_SOCKETS_PER_USER: '10000',
};

export type GqlResult<T> = ExecutionResult<T> & { errors?: { message: string; extensions?: Record<string, unknown> }[] };

/** How a test client identifies itself: a token, or an API key with an optional act-as. */
export type Auth = string | { apiKey: string; actAs?: string } | null;

export type TestServer = {
  app: App;
  url: string;
  wsUrl: string;
  secret: string;
  /** The Postgres database this server uses (undefined on PGlite); pass it to a second instance. */
  databaseUrl?: string;
  /** A valid HS256 token for `sub` (24 h unless `expiresIn` says otherwise). */
  token(sub: string, options?: Omit<MintOptions, 'sub'>): Promise<string>;
  /** A GraphQL request over HTTP, as a client sends it. */
  gql<R, V>(auth: Auth, document: TypedDocumentNode<R, V>, variables?: V, headers?: Record<string, string>): Promise<GqlResult<R>>;
  /** A graphql-ws client with no retries, closed with the server. */
  ws(auth: Auth, options?: { connectionParams?: Record<string, unknown> }): Client;
  /**
   * Runs `open` (which subscribes) and resolves with what it returned once the server has started
   * `count` more subscriptions: from then on they are listening, and miss nothing published.
   */
  live<T>(open: () => T, count?: number): Promise<T>;
  stop(): Promise<void>;
};

export type ServerOptions = {
  backend?: Backend;
  /** Share a database between servers (two instances); otherwise each gets its own. */
  databaseUrl?: string;
  redisUrl?: string;
  secret?: string;
  env?: Record<string, string>;
  /** Shorter timers for tests that wait for one to run out (presence leases, keep-alive). */
  timing?: AppOptions['timing'];
  /** The app's logger (default: pino at TEST_LOG_LEVEL); tests that read the logs pass their own. */
  log?: AppOptions['log'];
};

/** Starts the real app on a free port: PGlite in memory, or a fresh Postgres database. */
export async function startServer(options: ServerOptions = {}): Promise<TestServer> {
  const secret = options.secret ?? randomBytes(32).toString('hex');
  let drop: (() => Promise<void>) | undefined;
  let databaseUrl = options.databaseUrl;
  if (!databaseUrl && options.backend === 'postgres') {
    const db = await createTestDatabase();
    databaseUrl = db.url;
    drop = db.drop;
  }
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATA_DIR: 'memory://',
    JWT_SECRET: secret,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Suites send fast on purpose; the rate-limit suites set their own limits through `env`.
    ...UNLIMITED_ENV,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    ...(options.redisUrl ? redisEnv(options.redisUrl) : {}),
    ...options.env,
  });
  const memoryTemplate = databaseUrl ? undefined : await pgliteTemplate();
  const app = await createApp(config, { timing: options.timing, log: options.log, memoryTemplate });
  const { port } = await app.start(0);
  const url = `http://127.0.0.1:${port}/graphql`;
  const wsUrl = `ws://127.0.0.1:${port}/graphql`;
  const clients: Client[] = [];
  // Subscriptions the server has started (a subscription counts once its source is listening).
  let started = 0;
  const startWaiters: (() => void)[] = [];
  const gauge = app.metrics.activeSubscriptions;
  const inc = gauge.inc.bind(gauge) as (...args: unknown[]) => void;
  gauge.inc = ((...args: unknown[]) => {
    inc(...args);
    started++;
    for (const w of startWaiters.splice(0)) w();
  }) as typeof gauge.inc;

  const authHeaders = (auth: Auth): Record<string, string> => {
    if (!auth) return {};
    if (typeof auth === 'string') return { authorization: `Bearer ${auth}` };
    return { 'x-api-key': auth.apiKey, ...(auth.actAs ? { 'x-act-as-user': auth.actAs } : {}) };
  };

  return {
    app,
    url,
    wsUrl,
    secret,
    databaseUrl,
    token: (sub, claims = {}) => mintToken(secret, { sub, ...claims }),
    gql: async (auth, document, variables, headers = {}) => {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...authHeaders(auth), ...headers },
        body: JSON.stringify({ query: print(document), variables }),
      });
      return (await res.json()) as GqlResult<never>;
    },
    ws: (auth, wsOptions = {}) => {
      const client = createClient({
        url: wsUrl,
        webSocketImpl: WebSocket,
        retryAttempts: 0,
        lazy: true,
        connectionParams:
          wsOptions.connectionParams ??
          (auth === null ? {} : typeof auth === 'string' ? { authorization: `Bearer ${auth}` } : { apiKey: auth.apiKey, actAs: auth.actAs }),
      });
      clients.push(client);
      return client;
    },
    live: async (open, count = 1) => {
      const target = started + count;
      const result = open();
      await waitingFor(
        () => `${target - started} more subscriptions to start`,
        () =>
          new Promise<void>((resolve) => {
            const check = () => (started >= target ? resolve() : startWaiters.push(check));
            check();
          }),
      );
      return result;
    },
    stop: async () => {
      await Promise.all(clients.map((c) => c.dispose()));
      await app.stop();
      await drop?.();
    },
  };
}

/** The data of a result, failing with the errors if there are any. */
export function dataOf<T>(result: GqlResult<T>): T {
  if (result.errors?.length) throw new Error(`GraphQL errors: ${JSON.stringify(result.errors)}`);
  return result.data as T;
}

/** The statements the server sends to its database while `task` runs (nothing else may run meanwhile). */
export async function statementsOf<T>(server: TestServer, task: () => Promise<T>): Promise<{ statements: number; result: T }> {
  const { stats } = server.app.services.database;
  const before = stats.statements;
  const result = await task();
  return { statements: stats.statements - before, result };
}

/** Subscriptions the server is running now (its switchboard_active_subscriptions gauge). */
export async function activeSubscriptions(server: TestServer): Promise<number> {
  return (await server.app.metrics.activeSubscriptions.get()).values[0]?.value ?? 0;
}

/** The extensions.code of the first error, or undefined. */
export const codeOf = (result: GqlResult<unknown>) => result.errors?.[0]?.extensions?.code as string | undefined;

/** A JSON logger whose lines are kept in `lines` (parsed), for tests that read what was logged. */
export function capturedLog(level: 'debug' | 'info' = 'info'): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const stream = { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) };
  return { log: pino({ level, base: { service: 'switchboard' } }, stream), lines };
}

/**
 * The messages repository on the server's database, for tests that store messages behind the
 * service's back (nothing published) or drive the group commit directly.
 */
export const messageRepository = (server: TestServer) => new MessageRepository(server.app.services.database.db);
