import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server } from 'node:http';
import { type DocumentNode, type ExecutionArgs, GraphQLError } from 'graphql';
import { CloseCode, type SubscribePayload } from 'graphql-ws';
import type { YogaServerInstance } from 'graphql-yoga';
import type { Logger } from 'pino';
import { type WebSocket, WebSocketServer } from 'ws';
import type { Credentials } from '../auth/authenticate.js';
import type { Viewer } from '../auth/viewer.js';
import type { Config } from '../config.js';
import { type Context, SocketContext } from '../context.js';
import { withContractCode } from '../graphql/contract-codes.js';
import { AppError } from '../graphql/errors.js';
import type { FanOut } from '../graphql/fan-out.js';
import { refuseOperation } from '../graphql/operation-checks.js';
import { atCredentialEnd, tokenValid } from '../modules/realtime/token-expiry.js';
import { errorMessage } from '../observability/log-errors.js';
import type { Metrics } from '../observability/metrics.js';
import { viewerSnapshot } from '../pubsub/snapshots.js';
import type { Services } from '../services.js';
import { clientAddress } from './client-address.js';
import { serveGraphqlWs, type WsContext, type WsExtra } from './graphql-ws.js';

/** Largest WebSocket frame accepted; bigger ones close the socket (1009). */
const WS_MAX_PAYLOAD = 256 * 1024;
/** Subscriptions one socket may hold at once. */
export const MAX_SUBSCRIPTIONS_PER_SOCKET = 100;
/** Server pings this often; a peer that misses a pong is dropped (graphql-ws keep-alive). */
const WS_KEEPALIVE_MS = 12_000;

/** What the WebSocket layer keeps per socket, on graphql-ws's `extra`. */
export type SocketState = WsExtra & {
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

type Yoga = YogaServerInstance<Record<string, unknown>, Context>;

/** What a socket's query or mutation executes with: Yoga's envelop, with every plugin. */
type Enveloped = Pick<ReturnType<Yoga['getEnveloped']>, 'execute'>;

export type SocketOptions = {
  config: Pick<Config, 'maxSocketsPerUser' | 'trustProxyHops' | 'queryLimits'>;
  services: Services;
  metrics: Metrics;
  log: Logger;
  yoga: Yoga;
  fanOut: Pick<FanOut, 'subscribe'>;
  /** Refuses upgrades from origins that are not allowed (transport/origins.ts). */
  verifyClient: WebSocketServer['options']['verifyClient'];
  keepAliveMs?: number;
};

/** The WebSockets of this instance, as stopping them needs them. */
export type Sockets = {
  /** Closes every open socket; each one's cleanup runs once it has closed. */
  closeAll(code: number, reason: string): void;
  /** Cuts every socket still open, so that its cleanup runs now. */
  terminateAll(): void;
  /** Stops taking new sockets and pinging open ones. */
  stopAccepting(): void;
  /** Settles once every socket open now has finished its cleanup (presence, typing). */
  cleanedUp(): Promise<void>;
};

/** Each open socket until its close cleanup has finished, with where it was opened from. */
type Tracked = Map<WebSocket, { cleanedUp: Promise<void>; done: () => void; clientAddress: string }>;

/**
 * GraphQL over WebSocket at /graphql on `server`: the protocol is transport/graphql-ws.ts, and
 * these are its session hooks: who the socket is (connection_init), how many one user may open,
 * its presence lease, its close when the credential ends, and each operation's checks.
 */
export function serveSockets(server: Server, options: SocketOptions): Sockets {
  const { config, log } = options;
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: WS_MAX_PAYLOAD, verifyClient: options.verifyClient });
  const sockets: Tracked = new Map();
  wss.on('connection', (socket, upgrade: IncomingMessage) => {
    let done!: () => void;
    const cleanedUp = new Promise<void>((resolve) => (done = resolve)).finally(() => sockets.delete(socket));
    // Operations on the socket come from where it was opened.
    sockets.set(socket, { cleanedUp, done, clientAddress: clientAddress(upgrade, config.trustProxyHops) });
  });
  const session = sessionHooks(options, sockets);
  const graphqlWs = serveGraphqlWs<SocketState>(
    wss,
    {
      ...session,
      // Parsing and validation go through Yoga's envelop (query limits) for every operation;
      // queries and mutations execute through it too. A subscription runs on the fan-out, which
      // does what envelop's subscription hooks would (masking, metrics) once per shared result.
      execute: (args) => (args.rootValue as Enveloped).execute(args),
      subscribe: (args) => options.fanOut.subscribe(args),
    },
    { keepAliveMs: options.keepAliveMs ?? WS_KEEPALIVE_MS, log },
  );
  return {
    closeAll: (code, reason) => {
      for (const socket of sockets.keys()) socket.close(code, reason);
    },
    terminateAll: () => {
      for (const socket of sockets.keys()) socket.terminate();
    },
    stopAccepting: () => {
      wss.close();
      graphqlWs.stop();
    },
    cleanedUp: () => Promise.all([...sockets.values()].map((s) => s.cleanedUp)).then(() => {}),
  };
}

function sessionHooks({ config, services, metrics, log, yoga }: SocketOptions, sockets: Tracked) {
  /** Open sockets per user on this instance (MAX_SOCKETS_PER_USER). */
  const socketsPerUser = new Map<string, number>();

  const onConnect = async (ctx: WsContext<SocketState>, params: Record<string, unknown>): Promise<boolean> => {
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
      state.socket.close(1008, `At most ${config.maxSocketsPerUser} open sockets per user`);
      return false;
    }
    socketsPerUser.set(userKey, open + 1);
    state.userKey = userKey;
    // Presence is best effort: while Redis is away a socket still connects and gets messages.
    const lease = await services.presence.connected(viewerSnapshot(viewer)).catch((err: Error) => {
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
    // Nothing is delivered past the token's expiry: the socket closes at that moment (and its
    // subscriptions drop any event that slips in before), so the client reconnects with a fresh
    // token and resubscribes. Likewise when its API key is revoked. Its streams leave this to the
    // socket (their context says it is a socket's, see endWithCredential).
    state.cancelCredentialEnd = atCredentialEnd(viewer, services.apiKeys, (reason) => state.socket.close(CloseCode.Forbidden, reason));
    return true;
  };

  const onClose = (ctx: WsContext<SocketState>): Promise<void> => {
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
    })().finally(() => sockets.get(state.socket)?.done());
  };

  const onSubscribe = async (ctx: WsContext<SocketState>, _id: string, payload: SubscribePayload): Promise<ExecutionArgs | readonly GraphQLError[]> => {
    // graphql-ws has already entered this one in ctx.subscriptions.
    if (ctx.subscriptions.size > MAX_SUBSCRIPTIONS_PER_SOCKET) {
      return [new GraphQLError(`At most ${MAX_SUBSCRIPTIONS_PER_SOCKET} subscriptions per socket`, { extensions: { code: 'RATE_LIMITED' } })];
    }
    const state = ctx.extra;
    // For parsing and validation (query limits); the context is made below.
    const enveloped = yoga.getEnveloped({ socket: state.socket, params: payload });
    let document: DocumentNode;
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
      contextValue: new SocketContext(services, state.viewer!, randomUUID(), sockets.get(state.socket)?.clientAddress ?? 'unknown'),
      // Queries and mutations execute through envelop (its plugins: rate limits, the log line);
      // subscriptions go to the fan-out directly (see serveSockets), whose subscribe resolvers
      // ignore the root value and whose events replace it.
      rootValue: { execute: enveloped.execute },
    };
    let errors: readonly GraphQLError[];
    try {
      errors = enveloped.validate(args.schema, args.document);
    } catch (err) {
      // graphql-armor throws its rejections (depth, aliases, directives) from inside validation.
      // Yoga turns that into an error result on HTTP and SSE; here, uncaught, it would be an
      // "internal error" of graphql-ws that leaves the subscribe unanswered.
      if (!(err instanceof GraphQLError)) throw err;
      errors = [err];
    }
    if (errors.length) return errors.map(withContractCode);
    // The checks that need the variables (text, cost), as Yoga's transports run them; a query or
    // mutation meets them again in envelop's execute, with the same answers.
    const refused = refuseOperation(args, config.queryLimits.maxCost);
    if (refused) return [withContractCode(refused)];
    return args;
  };

  return { onConnect, onClose, onSubscribe };
}
