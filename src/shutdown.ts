import type { Server } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import type { Database } from './db/client.js';
import type { FanOut } from './graphql/fan-out.js';
import type { EventBus } from './pubsub/pubsub.js';
import type { Services } from './services.js';
import type { Sockets } from './transport/ws-session.js';

/** Sockets get this long to finish their close handshake before they are cut. */
const WS_CLOSE_GRACE_MS = 2_000;
/** Then this long for the cut sockets' cleanup (presence, typing) to finish. */
const WS_CLEANUP_MS = 5_000;

export type Running = {
  server: Server;
  sockets: Sockets;
  fanOut: Pick<FanOut, 'endStreams'>;
  services: Pick<Services, 'membership' | 'apiKeys' | 'presence' | 'webhookDelivery'>;
  bus: EventBus;
  database: Database;
  /** How long requests in flight get to finish (SHUTDOWN_GRACE_MS). */
  shutdownGraceMs: number;
};

/**
 * How the app stops: it stops accepting, closes its sockets (1001, "going away") and ends its SSE
 * streams, so that clients reconnect elsewhere and resume; lets requests in flight finish; then
 * releases what the connections used (timers, presence leases, Redis, the database), in that order.
 */
export function createShutdown(running: Running): { stop(): Promise<void>; responded(): void } {
  let stopping: Promise<void> | undefined;
  return {
    stop: () => (stopping ??= stopInOrder(running)),
    /** Once stopping, a connection is closed as soon as its answer is out, not kept alive for another. */
    responded: () => {
      if (stopping) running.server.closeIdleConnections();
    },
  };
}

async function stopInOrder({ server, sockets, fanOut, services, bus, database, shutdownGraceMs }: Running): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  sockets.closeAll(1001, 'Server shutting down');
  // SSE streams end too, with a complete: their clients reconnect and resume likewise.
  fanOut.endStreams();
  sockets.stopAccepting();
  server.closeIdleConnections?.();
  // A peer that does not answer the close handshake is cut, so that its cleanup runs now.
  await Promise.race([sockets.cleanedUp(), delay(WS_CLOSE_GRACE_MS, undefined, { ref: false })]);
  sockets.terminateAll();
  await Promise.race([sockets.cleanedUp(), delay(WS_CLEANUP_MS, undefined, { ref: false })]);
  // Requests in flight get SHUTDOWN_GRACE_MS to finish; what is left then is cut.
  await Promise.race([closed, delay(shutdownGraceMs, undefined, { ref: false })]);
  server.closeAllConnections?.();
  services.membership.stop();
  services.apiKeys.stop();
  await services.webhookDelivery.stop();
  await services.presence.stop();
  await bus.close();
  await database.close();
}
