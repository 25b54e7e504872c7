import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { NoSchemaIntrospectionCustomRule } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import pino, { type Logger } from 'pino';
import { resolveJwtSecret } from './auth/secret.js';
import type { Config } from './config.js';
import { type Context, createContext } from './context.js';
import { openDatabase } from './db/client.js';
import { migrate } from './db/migrate.js';
import { GRAPHIQL_OPTIONS, renderGraphiQL } from './graphiql.js';
import { queryLimitPlugins } from './graphql/armor.js';
import { contractCodesPlugin } from './graphql/contract-codes.js';
import { createFanOut } from './graphql/fan-out.js';
import { jitPlugin } from './graphql/jit.js';
import { createMaskError } from './graphql/mask.js';
import { schema } from './graphql/schema.js';
import type { PresenceTiming } from './modules/users/presence.service.js';
import { errorMessage, serializeError } from './observability/log-errors.js';
import { Metrics } from './observability/metrics.js';
import { observabilityPlugin } from './observability/plugin.js';
import { createOperatorRoutes } from './observability/routes.js';
import { EventBus } from './pubsub/pubsub.js';
import { rateLimitPlugin } from './ratelimit/plugin.js';
import { createServices, type Services } from './services.js';
import { createShutdown } from './shutdown.js';
import { authenticatedViewerOf, clientAddressOf, createHttpHandler } from './transport/http.js';
import { createMcpHttpHandler } from './transport/mcp-http.js';
import { createOriginPolicy } from './transport/origins.js';
import { serveSockets } from './transport/ws-session.js';
import { createWebHandler } from './web/serve.js';

/** How long an idle HTTP connection is kept open for the next request. */
export const IDLE_CONNECTION_MS = 65_000;

export type AppOptions = {
  log?: Logger;
  /**
   * Timers that tests shorten to watch them run out (a crashed instance's leases, a dead peer, a
   * typing indicator), or lengthen so that only what they test can end one; production runs
   * with the defaults.
   */
  timing?: { presence?: Partial<PresenceTiming>; wsKeepAliveMs?: number; typingTtlMs?: number };
  /** What an embedded database in memory starts from (see DatabaseOptions.memoryTemplate): tests. */
  memoryTemplate?: Blob;
};

export type App = {
  config: Config;
  services: Services;
  metrics: Metrics;
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  server: Server;
  /** Listens on `port` (0: any free port) and resolves with the bound port. */
  start(port?: number): Promise<{ port: number; url: string }>;
  /** Stops accepting, closes sockets (1001, "going away") and releases connections. */
  stop(): Promise<void>;
};

type InitialContext = {
  request?: Request;
  params?: { operationName?: string | null };
};

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  // Asynchronous writes: a line per operation written synchronously costs a syscall per request;
  // queued lines go out together, and pino flushes what is left when the process exits.
  const baseLog =
    options.log ?? pino({ level: config.logLevel, base: { service: 'switchboard', pid: process.pid } }, pino.destination({ dest: 1, sync: false }));
  // Every error logged through it, the given logger's too, is told without parameter values.
  const log = baseLog.child({}, { serializers: { err: serializeError } });
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.databaseUrl ? undefined : config.dataDir === 'memory://' ? undefined : config.dataDir,
    memoryTemplate: options.memoryTemplate,
    poolMax: config.databasePoolMax,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    log,
  });
  await migrate(database);
  const bus = await EventBus.connect(config, log);
  const metrics = new Metrics();
  bus.onPublishFailure = () => metrics.publishFailures.inc();
  const services = createServices({
    database,
    bus,
    log,
    metrics,
    jwt: { ...config.jwt, secret: resolveJwtSecret(config) },
    accounts: { enabled: config.accountsEnabled, org: config.accountsOrg },
    rateLimits: config.rateLimits,
    webhooks: config.webhooks,
    typingTtlMs: options.timing?.typingTtlMs,
  });
  services.presence.start(options.timing?.presence);
  await services.webhookDelivery.start();

  const header = (request: Request | undefined, name: string) => request?.headers.get(name) ?? null;

  const maskError = createMaskError(log);
  const fanOut = createFanOut({ maskError, metrics });
  const origins = createOriginPolicy(config);
  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.graphiql ? GRAPHIQL_OPTIONS : false,
    renderGraphiQL,
    landingPage: false,
    cors: origins.cors,
    // One operation per request: a batch would multiply every limit below.
    batching: false,
    // Bodies are read and bounded before Yoga sees them (transport/http.ts).
    maxRequestBodySize: false,
    maskedErrors: { maskError },
    plugins: [
      // Limits run before any resolver, on HTTP, SSE and WebSocket (see queryLimitPlugins).
      ...queryLimitPlugins(config.queryLimits),
      ...(config.introspection
        ? []
        : [{ onValidate: ({ addValidationRule }: { addValidationRule: (r: unknown) => void }) => addValidationRule(NoSchemaIntrospectionCustomRule) }]),
      contractCodesPlugin(),
      rateLimitPlugin(services.rateLimiter),
      observabilityPlugin(metrics),
      // Queries run compiled once they recur (graphql-jit); results are what graphql-js gives.
      jitPlugin(),
      // Last: it replaces how subscriptions execute, after the others have seen them.
      fanOut.plugin,
    ],
    logging: {
      debug: (...args) => log.debug(logText(args)),
      info: (...args) => log.info(logText(args)),
      warn: (...args) => log.warn(logText(args)),
      // Yoga reports a client's unparsable or invalid request here too, and each error maskError
      // has logged already: a warning, not an error of ours.
      error: (...args) => log.warn(logText(args)),
    },
    context: async (initial: InitialContext) => {
      const requestId = header(initial.request, 'x-request-id')?.slice(0, 100) || randomUUID();
      const viewer =
        authenticatedViewerOf(initial.request) ??
        (await services.authenticate({
          authorization: header(initial.request, 'authorization'),
          apiKey: header(initial.request, 'x-api-key'),
          actAs: header(initial.request, 'x-act-as-user'),
          operation: initial.params?.operationName ?? null,
        }));
      return createContext(services, viewer, requestId, clientAddressOf(initial.request) ?? 'unknown');
    },
  });

  const operatorRoutes = createOperatorRoutes({ database, bus, metrics, log });
  const web = createWebHandler(config, log);
  const graphqlHttp = createHttpHandler(yoga, { trustedProxies: config.trustProxyHops });
  const mcpHttp = config.mcp.http
    ? createMcpHttpHandler({
        yoga,
        authenticate: services.authenticate,
        allowsOrigin: origins.allows,
        maxRequestsPerUser: config.mcp.maxRequestsPerUser,
        trustedProxies: config.trustProxyHops,
        log,
      })
    : () => false;
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.on('close', shutdown.responded);
    if (operatorRoutes(req.url?.split('?')[0], res)) return;
    if (mcpHttp(req, res)) return;
    if (web(req, res)) return;
    graphqlHttp(req, res);
  });
  // A request sent on an idle connection just as the server closes it fails with a reset. Node's
  // 5 s made that common for clients that wait a few seconds between requests (or a busy client
  // late to close its side); after a minute it is rare, and a load balancer in front (about 60 s
  // idle) closes first. Headers of a request may take as long as the connection may sit idle.
  server.keepAliveTimeout = IDLE_CONNECTION_MS;
  server.headersTimeout = IDLE_CONNECTION_MS + 1_000;
  const sockets = serveSockets(server, {
    config,
    services,
    metrics,
    log,
    yoga,
    fanOut,
    verifyClient: origins.verifyClient,
    keepAliveMs: options.timing?.wsKeepAliveMs,
  });
  const shutdown = createShutdown({ server, sockets, fanOut, services, bus, database, shutdownGraceMs: config.shutdownGraceMs });

  return {
    config,
    services,
    metrics,
    yoga,
    server,
    start: (port = config.port) =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, config.host, () => {
          const bound = (server.address() as AddressInfo).port;
          log.info({ port: bound, database: database.kind, pubsub: bus.kind }, 'switchboard listening');
          resolve({ port: bound, url: `http://127.0.0.1:${bound}/graphql` });
        });
      }),
    stop: shutdown.stop,
  };
}

/** Yoga's log arguments as a line; errors as errorMessage tells them (no parameter values). */
const logText = (args: unknown[]) => args.map((a) => (a instanceof Error ? errorMessage(a) : String(a))).join(' ');
