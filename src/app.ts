import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError, NoSchemaIntrospectionCustomRule, type ExecutionArgs } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import pino, { type Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { resolveJwtSecret } from './auth/secret.js';
import type { Credentials } from './auth/authenticate.js';
import type { Viewer } from './auth/viewer.js';
import { clusterMetricsText } from './cluster.js';
import type { Config } from './config.js';
import { createContext, SocketContext, type Context } from './context.js';
import { openDatabase } from './db/client.js';
import { migrate } from './db/migrate.js';
import { sql } from 'drizzle-orm';
import { AppError } from './graphql/errors.js';
import { GRAPHIQL_OPTIONS, renderGraphiQL } from './graphiql.js';
import { createMaskError } from './graphql/mask.js';
import { schema } from './graphql/schema.js';
import type { PresenceTiming } from './modules/realtime/presence.service.js';
import { atCredentialEnd, tokenValid } from './modules/realtime/token-expiry.js';
import { EventBus } from './pubsub/pubsub.js';
import { viewerSnapshot } from './pubsub/snapshots.js';
import { queryLimitPlugins } from './graphql/armor.js';
import { refuseOperation } from './graphql/operation-checks.js';
import { contractCodesPlugin, withContractCode } from './graphql/contract-codes.js';
import { createFanOut } from './graphql/fan-out.js';
import { jitPlugin } from './graphql/jit.js';
import { Metrics } from './observability/metrics.js';
import { errorMessage, serializeError } from './observability/log-errors.js';
import { observabilityPlugin } from './observability/plugin.js';
import { rateLimitPlugin } from './ratelimit/plugin.js';
import { createServices, type Services } from './services.js';
import { serveGraphqlWs, type WsExtra } from './transport/graphql-ws.js';
import { clientAddress } from './transport/client-address.js';
import { clientAddressOf, createHttpHandler } from './transport/http.js';
import { createOriginPolicy } from './transport/origins.js';
import { createWebHandler } from './web/serve.js';

/** Largest WebSocket frame accepted; bigger ones close the socket (1009). */
const WS_MAX_PAYLOAD = 256 * 1024;
/** Subscriptions one socket may hold at once. */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
/** Server pings this often; a peer that misses a pong is dropped (graphql-ws keep-alive). */
const WS_KEEPALIVE_MS = 12_000;
/** On stop, sockets get this long to finish their close handshake before they are cut. */
const WS_CLOSE_GRACE_MS = 2_000;

export type AppOptions = {
  log?: Logger;
  /**
   * Timers that tests shorten to watch them run out (a crashed instance's leases, a dead peer);
   * production runs with the defaults.
   */
  timing?: { presence?: Partial<PresenceTiming>; wsKeepAliveMs?: number };
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

/** What the WebSocket layer keeps per socket, on graphql-ws's `extra`. */
type SocketState = WsExtra & {
  viewer?: Viewer;
  /** The socket's presence lease, released when it closes. */
  lease?: string;
  /** Stops waiting for the socket's credential to end (token expiry, API key revocation). */
  cancelCredentialEnd?: () => void;
  /** Set when the socket closed; connection_init may still be running then. */
  closed?: boolean;
  /** Counted in socketsPerUser until the socket closes. */
  userKey?: string;
};

type InitialContext = {
  request?: Request;
  params?: { operationName?: string | null };
};

export async function createApp(config: Config, options: AppOptions = {}): Promise<App> {
  // Asynchronous writes: a line per operation written synchronously costs a syscall per request;
  // queued lines go out together, and pino flushes what is left when the process exits.
  const baseLog = options.log ?? pino({ level: config.logLevel, base: { service: 'switchboard', pid: process.pid } }, pino.destination({ dest: 1, sync: false }));
  // Every error logged through it, the given logger's too, is told without parameter values.
  const log = baseLog.child({}, { serializers: { err: serializeError } });
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.databaseUrl ? undefined : config.dataDir === 'memory://' ? undefined : config.dataDir,
    poolMax: config.databasePoolMax,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    log,
  });
  await migrate(database);
  const bus = config.redisUrl ? await EventBus.redis(config.redisUrl, log) : EventBus.inProcess(log);
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
  });
  services.presence.start(options.timing?.presence);

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
      ...(config.introspection ? [] : [{ onValidate: ({ addValidationRule }: { addValidationRule: (r: unknown) => void }) => addValidationRule(NoSchemaIntrospectionCustomRule) }]),
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
      const viewer = await services.authenticate({
        authorization: header(initial.request, 'authorization'),
        apiKey: header(initial.request, 'x-api-key'),
        actAs: header(initial.request, 'x-act-as-user'),
        operation: initial.params?.operationName ?? null,
      });
      return createContext(services, viewer, requestId, clientAddressOf(initial.request) ?? 'unknown');
    },
  });

  /**
   * Postgres and (when configured) Redis answer within a second. Without Redis there is nothing
   * to reach for pub/sub: the checks say it is in-process.
   */
  const readiness = async (): Promise<Record<string, string>> => {
    const probe = (check: () => Promise<unknown>) =>
      Promise.race([check().then(() => 'ok'), delay(1_000).then(() => 'timeout')]).catch((err: Error) => `error: ${err.message}`);
    const [postgres, redis] = await Promise.all([
      probe(() => database.db.execute(sql`SELECT 1`)),
      bus.commands ? probe(() => bus.commands!.ping()) : undefined,
    ]);
    return redis === undefined ? { postgres, pubsub: bus.kind } : { postgres, redis };
  };
  /** Open sockets per user on this instance (MAX_SOCKETS_PER_USER). */
  const socketsPerUser = new Map<string, number>();

  /** Once stopping, a connection is closed as soon as its answer is out, not kept alive for another. */
  const closeWhenStopping = () => {
    if (stopping) server.closeIdleConnections();
  };
  const web = createWebHandler(config, log);
  const graphqlHttp = createHttpHandler(yoga, { trustedProxies: config.trustProxyHops });
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    res.on('close', closeWhenStopping);
    const path = req.url?.split('?')[0];
    if (path === '/health') {
      // Alive: the process answers. Whether it can serve is /ready.
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    if (path === '/ready') {
      void readiness().then((checks) => {
        const ready = checks.postgres === 'ok' && (checks.redis ?? 'ok') === 'ok';
        res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: ready ? 'ready' : 'unavailable', checks }));
      });
      return;
    }
    if (path === '/metrics') {
      // With WORKERS > 1, whichever worker answers reports the whole deployment.
      void (clusterMetricsText() ?? metrics.registry.metrics()).then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        (err: Error) => {
          log.warn({ err: errorMessage(err) }, 'metrics unavailable');
          res.writeHead(503, { 'content-type': 'text/plain' }).end('metrics unavailable\n');
        },
      );
      return;
    }
    if (web(req, res)) return;
    graphqlHttp(req, res);
  });

  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: WS_MAX_PAYLOAD, verifyClient: origins.verifyClient });
  /**
   * Every socket until its close cleanup (presence, typing) has finished: stop() waits for these
   * before it closes Redis and the database under them.
   */
  const sockets = new Map<WebSocket, { cleanedUp: Promise<void>; done: () => void; clientAddress: string }>();
  wss.on('connection', (socket, upgrade) => {
    let done!: () => void;
    const cleanedUp = new Promise<void>((resolve) => (done = resolve)).finally(() => sockets.delete(socket));
    // Operations on the socket come from where it was opened.
    sockets.set(socket, { cleanedUp, done, clientAddress: clientAddress(upgrade, config.trustProxyHops) });
  });

  const graphqlWs = serveGraphqlWs<SocketState>(
    wss,
    {
      // Parsing and validation go through Yoga's envelop (query limits) for every operation;
      // queries and mutations execute through it too. A subscription runs on the fan-out, which
      // does what envelop's subscription hooks would (masking, metrics) once per shared result.
      execute: (args) => (args.rootValue as Enveloped).execute(args),
      subscribe: (args) => fanOut.subscribe(args),
      onConnect: async (ctx, params) => {
        const state = ctx.extra;
        const str = (v: unknown) => (typeof v === 'string' ? v : null);
        let viewer: Viewer | null;
        try {
          const credentials: Credentials = {
            authorization: str(params.authorization) ?? str(params.Authorization),
            apiKey: str(params.apiKey) ?? str(params['x-api-key']),
            actAs: str(params.actAs) ?? str(params['x-act-as-user']),
            operation: 'websocket',
          };
          viewer = await services.authenticate(credentials);
        } catch (err) {
          // An AppError refuses the credentials (4403); anything else is ours, e.g. the database
          // away, and closes the socket so that the client tries again with the same ones.
          if (err instanceof AppError) return false;
          throw err;
        }
        // The verifier allows a little clock skew; a socket, unlike a request, would outlive it.
        if (!viewer || !tokenValid(viewer) || state.closed) return false;
        const userKey = `${viewer.orgId}\u0000${viewer.userId}`;
        const open = socketsPerUser.get(userKey) ?? 0;
        if (open >= config.maxSocketsPerUser) {
          // 1008 (policy violation): graphql-ws clients do not retry it, so they do not hammer.
          ctx.extra.socket.close(1008, `At most ${config.maxSocketsPerUser} open sockets per user`);
          return false;
        }
        socketsPerUser.set(userKey, open + 1);
        state.userKey = userKey;
        // Presence is best effort: while Redis is away a socket still connects and gets messages.
        const lease = await services.presence
          .connected(viewerSnapshot(viewer))
          .catch((err: Error) => {
            log.warn({ err: errorMessage(err) }, 'presence unavailable for a new socket');
            return undefined;
          });
        if (state.closed) {
          // The socket went away while we were registering it: onClose has run and saw no lease.
          if (lease) await services.presence.disconnected(lease).catch(() => {});
          return false;
        }
        state.viewer = viewer;
        state.lease = lease;
        metrics.openSockets.inc();
        // Nothing is delivered past the token's expiry: the socket closes at that moment (and
        // its subscriptions drop any event that slips in before), so the client reconnects with
        // a fresh token and resubscribes. Likewise when its API key is revoked.
        state.cancelCredentialEnd = atCredentialEnd(viewer, services.apiKeys, (reason) => ctx.extra.socket.close(CloseCode.Forbidden, reason));
        return true;
      },
      onClose: (ctx) => {
        const state = ctx.extra;
        state.closed = true;
        state.cancelCredentialEnd?.();
        if (state.userKey) {
          const left = (socketsPerUser.get(state.userKey) ?? 1) - 1;
          if (left > 0) socketsPerUser.set(state.userKey, left);
          else socketsPerUser.delete(state.userKey);
          state.userKey = undefined;
        }
        if (state.viewer) metrics.openSockets.dec();
        const { lease, viewer } = state;
        return (async () => {
          if (lease) await services.presence.disconnected(lease).catch((err) => log.warn({ err: errorMessage(err) }, 'presence cleanup failed'));
          if (viewer) await services.typing.stopAll(viewer.orgId, viewer.userId).catch((err) => log.warn({ err: errorMessage(err) }, 'typing cleanup failed'));
        })().finally(() => sockets.get(ctx.extra.socket)?.done());
      },
      onSubscribe: async (ctx, _id, payload) => {
        // graphql-ws has already entered this one in ctx.subscriptions.
        if (ctx.subscriptions.size > MAX_SUBSCRIPTIONS_PER_SOCKET) {
          return [
            new GraphQLError(`At most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per socket`, {
              extensions: { code: 'RATE_LIMITED' },
            }),
          ];
        }
        const state = ctx.extra;
        // For parsing and validation (query limits); the context is made below.
        const enveloped = yoga.getEnveloped({ socket: ctx.extra.socket, params: payload });
        let document;
        try {
          document = enveloped.parse(payload.query);
        } catch (err) {
          return [withContractCode(err instanceof GraphQLError ? err : new GraphQLError('Could not parse the query'))];
        }
        const args: ExecutionArgs = {
          schema: enveloped.schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          // Not Yoga's context (it copies every field into an object of its own): a lean one.
          contextValue: new SocketContext(services, state.viewer!, randomUUID(), sockets.get(ctx.extra.socket)?.clientAddress ?? 'unknown'),
          // Queries and mutations execute through envelop (its plugins: rate limits, the log line);
          // subscriptions go to the fan-out directly (see serveGraphqlWs below), whose subscribe
          // resolvers ignore the root value and whose events replace it.
          rootValue: { execute: enveloped.execute },
        };
        let errors: readonly GraphQLError[];
        try {
          errors = enveloped.validate(args.schema, args.document);
        } catch (err) {
          // graphql-armor throws its rejections (depth, aliases, directives) from inside
          // validation. Yoga turns that into an error result on HTTP and SSE; here, uncaught, it
          // would be an "internal error" of graphql-ws that leaves the subscribe unanswered.
          if (!(err instanceof GraphQLError)) throw err;
          errors = [err];
        }
        if (errors.length) return errors.map(withContractCode);
        // The checks that need the variables (text, cost), as Yoga's transports run them; a query
        // or mutation meets them again in envelop's execute, with the same answers.
        const refused = refuseOperation(args, config.queryLimits.maxCost);
        if (refused) return [withContractCode(refused)];
        return args;
      },
    },
    { keepAliveMs: options.timing?.wsKeepAliveMs ?? WS_KEEPALIVE_MS, log },
  );

  let stopping: Promise<void> | undefined;
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
    stop: () =>
      (stopping ??= (async () => {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        const cleanedUp = () => Promise.all([...sockets.values()].map((s) => s.cleanedUp));
        for (const socket of sockets.keys()) socket.close(1001, 'Server shutting down');
        // SSE streams end too, with a complete: their clients reconnect and resume likewise.
        fanOut.endStreams();
        wss.close();
        graphqlWs.stop();
        server.closeIdleConnections?.();
        // A peer that does not answer the close handshake is cut, so that its cleanup runs now.
        await Promise.race([cleanedUp(), delay(WS_CLOSE_GRACE_MS)]);
        for (const socket of sockets.keys()) socket.terminate();
        await Promise.race([cleanedUp(), delay(5_000)]);
        // Requests in flight get SHUTDOWN_GRACE_MS to finish; what is left then is cut.
        await Promise.race([closed, delay(config.shutdownGraceMs)]);
        server.closeAllConnections?.();
        services.membership.stop();
        services.apiKeys.stop();
        await services.presence.stop();
        await bus.close();
        await database.close();
      })()),
  };
}

/** Yoga's log arguments as a line; errors as errorMessage tells them (no parameter values). */
const logText = (args: unknown[]) => args.map((a) => (a instanceof Error ? errorMessage(a) : String(a))).join(' ');

const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/** What a socket's query or mutation executes with: Yoga's envelop, with every plugin. */
type Enveloped = Pick<ReturnType<YogaServerInstance<Record<string, unknown>, Context>['getEnveloped']>, 'execute'>;
