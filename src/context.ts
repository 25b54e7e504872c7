import type { Logger } from 'pino';
import type { Viewer } from './auth/viewer.js';
import { UnauthenticatedError } from './graphql/errors.js';
import type { Services } from './services.js';

/** How an operation came: an HTTP request (an SSE stream too), or a message on a WebSocket. */
export type Transport = 'http' | 'websocket';

/** What every resolver gets, for HTTP, SSE and WebSocket alike. */
export type Context = {
  viewer: Viewer | null;
  services: Services;
  loaders: Loaders;
  log: Logger;
  requestId: string;
  /** Where the request came from (transport/client-address.ts), for limits on anonymous work. */
  clientAddress: string;
  transport: Transport;
};

/** A request's loaders, one per relation resolvers batch (each module gives its own). */
export type Loaders = ReturnType<Services['loadersFor']>;

export function createContext(services: Services, viewer: Viewer | null, requestId: string, clientAddress: string): Context {
  const log = services.log.child({ requestId, user: viewer?.userId });
  return { viewer, services, loaders: services.loadersFor(viewer), log, requestId, clientAddress, transport: 'http' };
}

/**
 * The context of an operation sent over a WebSocket. A subscription's context lives as long as
 * the subscription (hours, thousands of them per instance), and most never log or load anything
 * of their own (each event gets fresh loaders, see perEvent in realtime.graphql.ts): the logger and the loaders
 * are made on first use, by getters on the prototype, so an idle one costs a few fields.
 */
export class SocketContext implements Context {
  private madeLog?: Logger;
  private madeLoaders?: Loaders;
  readonly transport: Transport = 'websocket';

  constructor(
    readonly services: Services,
    readonly viewer: Viewer,
    readonly requestId: string,
    readonly clientAddress: string,
  ) {}

  get log(): Logger {
    return (this.madeLog ??= this.services.log.child({ requestId: this.requestId, user: this.viewer.userId }));
  }

  get loaders(): Loaders {
    return (this.madeLoaders ??= this.services.loadersFor(this.viewer));
  }

  set loaders(loaders: Loaders) {
    this.madeLoaders = loaders;
  }
}

/** The viewer, or UNAUTHENTICATED. */
export function requireViewer(ctx: Context): Viewer {
  if (!ctx.viewer) throw new UnauthenticatedError();
  return ctx.viewer;
}
