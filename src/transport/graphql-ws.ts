import { type ExecutionArgs, type ExecutionResult, GraphQLError, getOperationAST } from 'graphql';
import {
  areGraphQLErrors,
  CloseCode,
  GRAPHQL_TRANSPORT_WS_PROTOCOL,
  type Message,
  MessageType,
  parseMessage,
  type SubscribePayload,
  stringifyMessage,
} from 'graphql-ws';
import type { Logger } from 'pino';
import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Above this many bytes queued on a socket, a send waits until they are written: a subscriber
 * that reads slowly then holds up only its own stream, whose buffer (AsyncQueue) bounds it.
 */
const HIGH_WATER_BYTES = 1024 * 1024;
/**
 * The close code when connection_init fails on our side (the database or Redis away): graphql-ws's
 * 4500, not 4403, which tells the client its credentials were refused and to get new ones. The
 * graphql-ws client takes 4500 as final; the typed client (src/client) subscribes again after it.
 */
const CONNECT_FAILED = CloseCode.InternalServerError;
/** A socket must send connection_init within this time (graphql-ws's default). */
const CONNECTION_INIT_WAIT_MS = 3_000;

export type WsExtra = { socket: WebSocket };

/** One socket's protocol state, handed to the hooks. */
export type WsContext<E extends WsExtra> = {
  readonly extra: E;
  /** Operations running on the socket, by the id the client gave them. */
  readonly subscriptions: Map<string, Operation>;
  acknowledged: boolean;
};

type Result = ExecutionResult | AsyncIterableIterator<ExecutionResult>;

/** One operation of a socket; its identity tells it from a later one reusing its id. */
type Operation = { iterator?: AsyncIterator<unknown> };

export type WsHooks<E extends WsExtra> = {
  /**
   * Decides on connection_init, given its payload (not kept): false closes the socket with 4403
   * (refused credentials), a throw with 4500 (the server could not decide: try again).
   */
  onConnect(ctx: WsContext<E>, params: Record<string, unknown>): Promise<boolean>;
  /** After the socket closed and its operations were stopped. */
  onClose(ctx: WsContext<E>, code: number, reason: string): Promise<void> | void;
  /** Turns a subscribe message into execution arguments, or into errors to answer with. */
  onSubscribe(ctx: WsContext<E>, id: string, payload: SubscribePayload): Promise<ExecutionArgs | readonly GraphQLError[]>;
  execute(args: ExecutionArgs): Result | Promise<Result>;
  subscribe(args: ExecutionArgs): Result | Promise<Result>;
};

/**
 * The GraphQL over WebSocket protocol (graphql-transport-ws, as graphql-ws's client speaks it) on
 * a `ws` server, with graphql-ws's own message parsing and close codes.
 *
 * Ours rather than graphql-ws's server because of fan-out: one message to a conversation with
 * 1,000 subscribers is one shared result (see fanOutPlugin), and here it is serialized once: each
 * `next` frame is the shared payload's JSON with the subscription's id around it. graphql-ws would
 * serialize it 1,000 times and wait for each frame to be flushed before the next. Also:
 *
 * - a send returns at once unless the socket is backed up (HIGH_WATER_BYTES);
 * - one keep-alive timer for all sockets: every `keepAliveMs` each socket is pinged, and one that
 *   has not answered the previous ping is dropped;
 * - nothing per socket beyond what the protocol needs: the upgrade request is not kept.
 */
export function serveGraphqlWs<E extends WsExtra>(
  wss: WebSocketServer,
  hooks: WsHooks<E>,
  { keepAliveMs, log }: { keepAliveMs: number; log: Logger },
): { stop(): void } {
  wss.options.handleProtocols = agreeToProtocol;
  wss.on('error', (err) => log.error({ err }, 'websocket server error'));

  /** Sockets pinged and not heard from since. */
  const awaitingPong = new WeakSet<WebSocket>();
  const keepAlive = setInterval(() => {
    for (const socket of wss.clients) {
      if (socket.readyState !== socket.OPEN) continue;
      if (awaitingPong.has(socket)) {
        socket.terminate();
        continue;
      }
      awaitingPong.add(socket);
      socket.ping();
    }
  }, keepAliveMs);
  keepAlive.unref();

  wss.on('connection', (socket) => {
    socket.on('error', (err: Error & { code?: string }) => log.warn({ err: err.message, code: err.code }, 'websocket error'));
    socket.on('pong', () => awaitingPong.delete(socket));
    if (socket.protocol !== GRAPHQL_TRANSPORT_WS_PROTOCOL) {
      // Told of its close all the same: whoever tracks sockets must see this one go.
      const ctx: WsContext<E> = { extra: { socket } as E, subscriptions: new Map(), acknowledged: false };
      socket.once('close', (code, reason) => void hooks.onClose(ctx, code, String(reason)));
      socket.close(CloseCode.SubprotocolNotAcceptable, 'Subprotocol not acceptable');
      return;
    }
    const connection = new Connection<E>(socket, hooks, log);
    socket.on('message', (data) => connection.receive(String(data)));
    socket.once('close', (code, reason) => void connection.closed(code, String(reason)));
  });

  return { stop: () => clearInterval(keepAlive) };
}

/**
 * The subprotocol agreed to in the handshake: graphql-transport-ws when offered, else the first
 * one offered. Agreeing to none would make the client fail the handshake itself (1006, no reason
 * given); agreed to, the socket opens and is closed at once with 4406 (see above), which says why.
 */
function agreeToProtocol(protocols: Set<string>): string {
  return protocols.has(GRAPHQL_TRANSPORT_WS_PROTOCOL) ? GRAPHQL_TRANSPORT_WS_PROTOCOL : protocols.values().next().value!;
}

/** `next` payloads already serialized, by result: a shared result is serialized once. */
const serialized = new WeakMap<object, string>();

function payloadJson(result: ExecutionResult): string {
  let json = serialized.get(result);
  if (json === undefined) {
    json = JSON.stringify(result.errors?.length ? { ...result, errors: result.errors.map(errorJson) } : result);
    serialized.set(result, json);
  }
  return json;
}

/**
 * An error as the client gets it. `extensions.http` (a status and headers for Yoga's HTTP
 * responses, e.g. a 429's Retry-After) is internal: Yoga strips it on HTTP and SSE, so here too.
 */
function errorJson(error: GraphQLError): ReturnType<GraphQLError['toJSON']> {
  const json = error.toJSON();
  if (json.extensions && 'http' in json.extensions) {
    const { http: _internal, ...extensions } = json.extensions;
    return { ...json, extensions };
  }
  return json;
}

class Connection<E extends WsExtra> {
  readonly ctx: WsContext<E>;
  private initReceived = false;
  private initTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: WebSocket,
    private readonly hooks: WsHooks<E>,
    private readonly log: Logger,
  ) {
    this.ctx = { extra: { socket } as E, subscriptions: new Map(), acknowledged: false };
    this.initTimer = setTimeout(() => {
      if (!this.initReceived) socket.close(CloseCode.ConnectionInitialisationTimeout, 'Connection initialisation timeout');
    }, CONNECTION_INIT_WAIT_MS);
  }

  receive(data: string): void {
    this.handle(data).catch((err: Error) => this.failed(err));
  }

  private failed(err: Error): void {
    this.log.error({ err }, 'websocket message handling failed');
    this.socket.close(CloseCode.InternalServerError, 'Internal server error');
  }

  async closed(code: number, reason: string): Promise<void> {
    clearTimeout(this.initTimer);
    const running = [...this.ctx.subscriptions.values()];
    this.ctx.subscriptions.clear();
    // Settled, not all: one stream failing to stop must not skip the socket's cleanup (onClose).
    await Promise.allSettled(running.map((op) => op.iterator?.return?.()));
    await this.hooks.onClose(this.ctx, code, reason);
  }

  private send(data: string): void | Promise<void> {
    const socket = this.socket;
    if (socket.readyState !== socket.OPEN) return;
    if (socket.bufferedAmount < HIGH_WATER_BYTES) {
      socket.send(data);
      return;
    }
    return new Promise<void>((resolve) => socket.send(data, () => resolve()));
  }

  private async handle(data: string): Promise<void> {
    const { ctx, socket } = this;
    let message: Message;
    try {
      message = parseMessage(data);
    } catch {
      socket.close(CloseCode.BadRequest, 'Invalid message received');
      return;
    }
    switch (message.type) {
      case MessageType.ConnectionInit: {
        if (this.initReceived) {
          socket.close(CloseCode.TooManyInitialisationRequests, 'Too many initialisation requests');
          return;
        }
        this.initReceived = true;
        clearTimeout(this.initTimer);
        this.initTimer = undefined;
        const params = message.payload && typeof message.payload === 'object' ? message.payload : {};
        let accepted: boolean;
        try {
          accepted = await this.hooks.onConnect(ctx, params);
        } catch (err) {
          this.log.error({ err }, 'websocket connection_init failed');
          socket.close(CONNECT_FAILED, 'Internal server error');
          return;
        }
        if (!accepted) {
          socket.close(CloseCode.Forbidden, 'Forbidden');
          return;
        }
        ctx.acknowledged = true;
        await this.send(stringifyMessage({ type: MessageType.ConnectionAck }));
        return;
      }
      case MessageType.Ping:
        await this.send(stringifyMessage(message.payload ? { type: MessageType.Pong, payload: message.payload } : { type: MessageType.Pong }));
        return;
      case MessageType.Pong:
        return;
      case MessageType.Subscribe:
        // Not awaited: the operation runs as long as the subscription does, and this frame's
        // handling is done once it has started.
        this.subscribe(message.id, message.payload).catch((err: Error) => this.failed(err));
        return;
      case MessageType.Complete: {
        const running = ctx.subscriptions.get(message.id);
        ctx.subscriptions.delete(message.id);
        await running?.iterator?.return?.();
        return;
      }
      default:
        // A server-to-client message type from the client.
        socket.close(CloseCode.BadRequest, `Unexpected message of type ${message.type} received`);
    }
  }

  private async subscribe(id: string, payload: SubscribePayload): Promise<void> {
    const { ctx, socket } = this;
    if (!ctx.acknowledged) {
      socket.close(CloseCode.Unauthorized, 'Unauthorized');
      return;
    }
    if (ctx.subscriptions.has(id)) {
      socket.close(CloseCode.SubscriberAlreadyExists, `Subscriber for ${id} already exists`);
      return;
    }
    const operation: Operation = {};
    ctx.subscriptions.set(id, operation);
    // Until the client completes it (or the socket closes): a later operation may reuse the id.
    const active = () => ctx.subscriptions.get(id) === operation;
    // The frames of this operation: only the payload differs between them.
    const head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
    const error = (errors: readonly GraphQLError[]) => this.send(stringifyMessage({ id, type: MessageType.Error, payload: errors.map(errorJson) }));
    try {
      const argsOrErrors = await this.hooks.onSubscribe(ctx, id, payload);
      if (areGraphQLErrors(argsOrErrors)) {
        if (active()) await error(argsOrErrors);
        return;
      }
      const args = argsOrErrors as ExecutionArgs;
      const definition = getOperationAST(args.document, args.operationName);
      if (!definition) {
        const message = 'Unable to identify operation: name it with operationName';
        if (active()) await error([new GraphQLError(message, { extensions: { code: 'BAD_USER_INPUT' } })]);
        return;
      }
      if (!active()) return;
      const result = await (definition.operation === 'subscription' ? this.hooks.subscribe(args) : this.hooks.execute(args));
      if (Symbol.asyncIterator in result) {
        if (!active()) {
          await result.return?.();
          return;
        }
        operation.iterator = result;
        try {
          for await (const next of result) {
            if (!active()) break;
            await this.send(`${head}${payloadJson(next)}}`);
          }
        } catch (err) {
          // The fan-out masks what it throws; anything else is reported by its message.
          const reported = err instanceof GraphQLError ? err : new GraphQLError(String((err as Error)?.message ?? err), { originalError: err as Error });
          if (active()) await error([reported]);
          return;
        }
      } else if (active()) {
        await this.send(`${head}${payloadJson(result)}}`);
      }
      if (active()) await this.send(stringifyMessage({ id, type: MessageType.Complete }));
    } finally {
      if (active()) ctx.subscriptions.delete(id);
    }
  }
}
