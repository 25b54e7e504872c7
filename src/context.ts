import DataLoader from 'dataloader';
import type { Logger } from 'pino';
import type { Viewer } from './auth/viewer.js';
import type { AgentRunRow, MessageRow, ParticipantRow, UserRow } from './db/schema/index.js';
import { UnauthenticatedError } from './graphql/errors.js';
import type { Presence } from './modules/realtime/presence.service.js';
import type { Services } from './services.js';
import { errorMessage } from './observability/log-errors.js';

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

/**
 * Per-request batching: a page of N rows costs one statement per relation, not N.
 *
 * Each loader is made on first read. Contexts are made per request and, for subscriptions, per
 * delivered event: most use one or two loaders, so none is built in advance (and the getters live
 * on the prototype, so a context that reads none costs no closures either).
 */
export class Loaders {
  private made: {
    user?: DataLoader<string, UserRow | null>;
    presence?: DataLoader<string, Presence>;
    participants?: DataLoader<string, ParticipantRow[]>;
    lastMessage?: DataLoader<string, MessageRow | null>;
    unreadCount?: DataLoader<string, number>;
    liveRuns?: DataLoader<string, AgentRunRow[]>;
    message?: DataLoader<string, MessageRow | null>;
  } = {};

  constructor(
    private readonly services: Services,
    private readonly viewer: Viewer | null,
  ) {}

  private get orgId(): string {
    return this.viewer?.orgId ?? '';
  }

  get user(): DataLoader<string, UserRow | null> {
    return (this.made.user ??= new DataLoader(async (ids) => {
        const found = byKey(await this.services.users.byIds(this.orgId, ids), (u) => u.id);
        return ids.map((id) => found.get(id) ?? null);
      }));
  }

  /**
   * Presence lives in Redis: while it is away, users read as OFFLINE rather than failing the
   * whole query they appear in.
   */
  get presence(): DataLoader<string, Presence> {
    return (this.made.presence ??= new DataLoader((ids) =>
      this.services.presence.get(this.orgId, ids).catch((err: Error) => {
        this.services.log.warn({ err: errorMessage(err) }, 'presence unavailable');
        return ids.map(() => ({ status: 'OFFLINE' as const, lastSeenAt: null }));
      }),
    ));
  }

  get participants(): DataLoader<string, ParticipantRow[]> {
    return (this.made.participants ??= new DataLoader(async (ids) => {
      const groups = groupBy(await this.services.conversations.repo.participantsOf(ids), (p) => p.conversationId);
      return ids.map((id) => groups.get(id) ?? []);
    }));
  }

  get lastMessage(): DataLoader<string, MessageRow | null> {
    return (this.made.lastMessage ??= new DataLoader(async (ids) => {
      const found = byKey(await this.services.conversations.repo.lastMessagesOf(ids), (m) => m.conversationId);
      return ids.map((id) => found.get(id) ?? null);
    }));
  }

  get unreadCount(): DataLoader<string, number> {
    return (this.made.unreadCount ??= new DataLoader(async (ids) => {
      const counts = this.viewer
        ? await this.services.conversations.repo.unreadCounts(this.viewer.userId, ids)
        : new Map<string, number>();
      return ids.map((id) => counts.get(id) ?? 0);
    }));
  }

  get liveRuns(): DataLoader<string, AgentRunRow[]> {
    return (this.made.liveRuns ??= new DataLoader(async (ids) => {
      const groups = groupBy(await this.services.runs.repo.liveRunsOf(ids), (r) => r.conversationId);
      return ids.map((id) => groups.get(id) ?? []);
    }));
  }

  get message(): DataLoader<string, MessageRow | null> {
    return (this.made.message ??= new DataLoader(async (ids) => {
      const found = byKey(
        (await this.services.messages.repo.byIds(ids)).filter((m) => m.orgId === this.orgId),
        (m) => m.id,
      );
      return ids.map((id) => found.get(id) ?? null);
    }));
  }
}

const byKey = <T, K>(rows: T[], key: (row: T) => K) => new Map(rows.map((r) => [key(r), r]));

function groupBy<T>(rows: T[], key: (row: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const row of rows) {
    const k = key(row);
    const list = groups.get(k);
    if (list) list.push(row);
    else groups.set(k, [row]);
  }
  return groups;
}

export function createContext(services: Services, viewer: Viewer | null, requestId: string, clientAddress: string): Context {
  const log = services.log.child({ requestId, user: viewer?.userId });
  return { viewer, services, loaders: new Loaders(services, viewer), log, requestId, clientAddress, transport: 'http' };
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
    return (this.madeLoaders ??= new Loaders(this.services, this.viewer));
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
