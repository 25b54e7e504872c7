import { CloseCode, handleProtocols, makeServer, type ServerOptions } from 'graphql-ws';
import type { Logger } from 'pino';
import type { WebSocket, WebSocketServer } from 'ws';

/**
 * Above this many bytes queued on a socket, a send waits until they are written: a subscriber
 * that reads slowly then holds up only its own stream, whose buffer (AsyncQueue) bounds it.
 */
const HIGH_WATER_BYTES = 1024 * 1024;

export type WsExtra = { socket: WebSocket };

/**
 * Serves the graphql-transport-ws protocol (graphql-ws's makeServer) on a `ws` server. It does
 * what graphql-ws's own `useServer` does, made to carry thousands of sockets on one instance:
 *
 * - a send returns at once unless the socket is backed up: waiting for every frame to be flushed
 *   costs a promise and a callback per delivery, which is most of a fan-out's work;
 * - one keep-alive timer for all sockets rather than one per socket: every `keepAliveMs` each
 *   socket is pinged, and one that has not answered the previous ping is dropped;
 * - the upgrade request is not kept for the socket's lifetime (nothing reads it after connect);
 * - errors go to the log, not to the console.
 */
export function serveGraphqlWs(
  wss: WebSocketServer,
  options: ServerOptions<Record<string, unknown> | undefined, WsExtra>,
  { keepAliveMs, log }: { keepAliveMs: number; log: Logger },
): { stop(): void } {
  const server = makeServer(options);
  wss.options.handleProtocols = handleProtocols;
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
    const closed = server.opened(
      {
        protocol: socket.protocol,
        send: (data) => {
          if (socket.readyState !== socket.OPEN) return;
          if (socket.bufferedAmount < HIGH_WATER_BYTES) {
            socket.send(data);
            return;
          }
          return new Promise<void>((resolve) => socket.send(data, () => resolve()));
        },
        close: (code, reason) => socket.close(code, reason),
        onMessage: (onMessage) =>
          socket.on('message', (data) => {
            onMessage(String(data)).catch((err: Error) => {
              log.error({ err }, 'websocket message handling failed');
              socket.close(CloseCode.InternalServerError, 'Internal server error');
            });
          }),
      },
      { socket },
    );
    socket.once('close', (code, reason) => void closed(code, String(reason)));
  });

  return { stop: () => clearInterval(keepAlive) };
}
