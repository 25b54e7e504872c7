import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GraphQLError, type ExecutionArgs } from 'graphql';
import { CloseCode } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import pino, { type Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { resolveJwtSecret } from './auth/secret.js';
import type { Credentials } from './auth/authenticate.js';
import type { Viewer } from './auth/viewer.js';
import type { Config } from './config.js';
import { createContext, type Context } from './context.js';
import { openDatabase } from './db/client.js';
import { migrate } from './db/migrate.js';
import { AppError } from './graphql/errors.js';
import { createMaskError } from './graphql/mask.js';
import { schema } from './graphql/schema.js';
import { EventBus } from './pubsub/pubsub.js';
import { createServices, type Services } from './services.js';

/** Largest WebSocket frame accepted; bigger ones close the socket (1009). */
const WS_MAX_PAYLOAD = 256 * 1024;
/** Subscriptions one socket may hold at once. */
const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
/** Server pings this often; a peer that misses a pong is dropped (graphql-ws keep-alive). */
const WS_KEEPALIVE_MS = 12_000;

export type App = {
  config: Config;
  services: Services;
  yoga: YogaServerInstance<Record<string, unknown>, Context>;
  server: Server;
  /** Listens on `port` (0: any free port) and resolves with the bound port. */
  start(port?: number): Promise<{ port: number; url: string }>;
  /** Stops accepting, closes sockets (1001, "going away") and releases connections. */
  stop(): Promise<void>;
};

/** What the WebSocket layer keeps per socket, on graphql-ws's `extra`. */
type SocketState = { viewer?: Viewer; lease?: string; expiryTimer?: NodeJS.Timeout };

type InitialContext = {
  request?: Request;
  params?: { operationName?: string | null };
  /** Set on the WebSocket path: the viewer authenticated at connection_init. */
  socketViewer?: Viewer;
};

export async function createApp(config: Config, options: { log?: Logger } = {}): Promise<App> {
  const log = options.log ?? pino({ level: config.logLevel, base: { service: 'switchboard' } });
  const database = await openDatabase({
    url: config.databaseUrl,
    dataDir: config.databaseUrl ? undefined : config.dataDir === 'memory://' ? undefined : config.dataDir,
    poolMax: config.databasePoolMax,
    connectTimeoutMs: config.databaseConnectTimeoutMs,
    log,
  });
  await migrate(database);
  const bus = config.redisUrl ? await EventBus.redis(config.redisUrl, log) : EventBus.inProcess(log);
  const services = createServices({
    database,
    bus,
    log,
    jwt: { ...config.jwt, secret: resolveJwtSecret(config) },
  });
  services.presence.start();

  const header = (request: Request | undefined, name: string) => request?.headers.get(name) ?? null;

  const yoga = createYoga<Record<string, unknown>, Context>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: config.graphiql ? { title: 'Switchboard', subscriptionsProtocol: 'WS' } : false,
    landingPage: false,
    batching: false,
    maskedErrors: { maskError: createMaskError(log) },
    logging: {
      debug: (...args) => log.debug(args.map(String).join(' ')),
      info: (...args) => log.info(args.map(String).join(' ')),
      warn: (...args) => log.warn(args.map(String).join(' ')),
      error: (...args) => log.error(args.map(String).join(' ')),
    },
    context: async (initial: InitialContext) => {
      const requestId = header(initial.request, 'x-request-id')?.slice(0, 100) || randomUUID();
      if (initial.socketViewer) return createContext(services, initial.socketViewer, requestId);
      const viewer = await services.authenticate({
        authorization: header(initial.request, 'authorization'),
        apiKey: header(initial.request, 'x-api-key'),
        actAs: header(initial.request, 'x-act-as-user'),
        operation: initial.params?.operationName ?? null,
      });
      return createContext(services, viewer, requestId);
    },
  });

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
      return;
    }
    void yoga.handle(req, res);
  });

  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: WS_MAX_PAYLOAD });
  const sockets = new Set<WebSocket>();
  wss.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  useServer<Record<string, unknown> | undefined, SocketState>(
    {
      // Every operation on the socket goes through Yoga's envelop: same plugins, same context.
      execute: (args) => (args.rootValue as Enveloped).execute(args),
      subscribe: (args) => (args.rootValue as Enveloped).subscribe(args),
      onConnect: async (ctx) => {
        const params = ctx.connectionParams ?? {};
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
          if (!(err instanceof AppError)) log.error({ err }, 'websocket authentication failed');
          return false;
        }
        if (!viewer) return false;
        const state = ctx.extra as SocketState;
        state.viewer = viewer;
        if (viewer.credential.type === 'jwt') {
          // Nothing is delivered past the token's expiry: the socket closes at that moment.
          const ms = viewer.credential.expiresAt * 1000 - Date.now();
          state.expiryTimer = setTimeout(() => ctx.extra.socket.close(CloseCode.Forbidden, 'Token expired'), Math.max(0, ms));
        }
        state.lease = await services.presence.connected(viewer.orgId, viewer.userId);
        return true;
      },
      onClose: async (ctx) => {
        const state = ctx.extra as SocketState;
        clearTimeout(state.expiryTimer);
        if (state.lease) await services.presence.disconnected(state.lease).catch(() => {});
        if (state.viewer) await services.typing.stopAll(state.viewer.orgId, state.viewer.userId).catch(() => {});
      },
      onSubscribe: async (ctx, _id, payload) => {
        if (Object.keys(ctx.subscriptions).length >= MAX_SUBSCRIPTIONS_PER_SOCKET) {
          return [
            new GraphQLError(`At most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per socket`, {
              extensions: { code: 'RATE_LIMITED' },
            }),
          ];
        }
        const state = ctx.extra as SocketState;
        const enveloped = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params: payload,
          socketViewer: state.viewer,
        });
        let document;
        try {
          document = enveloped.parse(payload.query);
        } catch (err) {
          return [err instanceof GraphQLError ? err : new GraphQLError('Could not parse the query')];
        }
        const args: ExecutionArgs = {
          schema: enveloped.schema,
          operationName: payload.operationName,
          document,
          variableValues: payload.variables,
          contextValue: await enveloped.contextFactory(),
          rootValue: { execute: enveloped.execute, subscribe: enveloped.subscribe },
        };
        const errors = enveloped.validate(args.schema, args.document);
        if (errors.length) return errors;
        return args;
      },
    },
    wss,
    WS_KEEPALIVE_MS,
  );

  let stopping: Promise<void> | undefined;
  return {
    config,
    services,
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
        for (const socket of sockets) socket.close(1001, 'Server shutting down');
        wss.close();
        server.closeIdleConnections?.();
        await Promise.race([closed, new Promise((r) => setTimeout(r, 5_000))]);
        server.closeAllConnections?.();
        await services.presence.stop();
        await bus.close();
        await database.close();
      })()),
  };
}

type Enveloped = {
  execute: (args: ExecutionArgs) => never;
  subscribe: (args: ExecutionArgs) => never;
};
