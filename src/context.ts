import DataLoader from 'dataloader';
import type { Logger } from 'pino';
import type { Viewer } from './auth/viewer.js';
import type { AgentRunRow, MessageRow, ParticipantRow, UserRow } from './db/schema/index.js';
import { UnauthenticatedError } from './graphql/errors.js';
import type { Presence } from './modules/realtime/presence.service.js';
import type { Services } from './services.js';

/** What every resolver gets, for HTTP, SSE and WebSocket alike. */
export type Context = {
  viewer: Viewer | null;
  services: Services;
  loaders: Loaders;
  log: Logger;
  requestId: string;
};

/** Per-request batching: a page of N rows costs one statement per relation, not N. */
export type Loaders = ReturnType<typeof createLoaders>;

/**
 * An object whose properties are made on first read. Contexts are made per request and, for
 * subscriptions, per delivered event: most use one or two loaders, so none is built in advance.
 */
function lazily<T extends Record<string, () => unknown>>(factories: T): { [K in keyof T]: ReturnType<T[K]> } {
  const made = {} as { [K in keyof T]: ReturnType<T[K]> };
  for (const key of Object.keys(factories) as (keyof T)[]) {
    Object.defineProperty(made, key, {
      enumerable: true,
      configurable: true,
      get: () => {
        const value = factories[key]!();
        Object.defineProperty(made, key, { value, enumerable: true });
        return value;
      },
    });
  }
  return made;
}

/** The loaders of one request; `user` may be given (subscriptions share user rows per instance). */
export function createLoaders(services: Services, viewer: Viewer | null, user?: () => DataLoader<string, UserRow | null>) {
  const orgId = viewer?.orgId ?? '';
  const { conversations, messages, users, presence, runs } = services;
  const byKey = <T, K>(rows: T[], key: (row: T) => K) => new Map(rows.map((r) => [key(r), r]));
  const groupBy = <T>(rows: T[], key: (row: T) => string) => {
    const groups = new Map<string, T[]>();
    for (const row of rows) {
      const k = key(row);
      const list = groups.get(k);
      if (list) list.push(row);
      else groups.set(k, [row]);
    }
    return groups;
  };

  return lazily({
    user:
      user ??
      (() =>
        new DataLoader<string, UserRow | null>(async (ids) => {
          const found = byKey(await users.byIds(orgId, ids), (u) => u.id);
          return ids.map((id) => found.get(id) ?? null);
        })),
    // Presence lives in Redis: while it is away, users read as OFFLINE rather than failing the
    // whole query they appear in.
    presence: () =>
      new DataLoader<string, Presence>((ids) =>
        presence.get(orgId, ids).catch((err: Error) => {
          services.log.warn({ err: err.message }, 'presence unavailable');
          return ids.map(() => ({ status: 'OFFLINE' as const, lastSeenAt: null }));
        }),
      ),
    participants: () =>
      new DataLoader<string, ParticipantRow[]>(async (ids) => {
        const groups = groupBy(await conversations.repo.participantsOf(ids), (p) => p.conversationId);
        return ids.map((id) => groups.get(id) ?? []);
      }),
    lastMessage: () =>
      new DataLoader<string, MessageRow | null>(async (ids) => {
        const found = byKey(await conversations.repo.lastMessagesOf(ids), (m) => m.conversationId);
        return ids.map((id) => found.get(id) ?? null);
      }),
    unreadCount: () =>
      new DataLoader<string, number>(async (ids) => {
        const counts = viewer ? await conversations.repo.unreadCounts(viewer.userId, ids) : new Map<string, number>();
        return ids.map((id) => counts.get(id) ?? 0);
      }),
    liveRuns: () =>
      new DataLoader<string, AgentRunRow[]>(async (ids) => {
        const groups = groupBy(await runs.repo.liveRunsOf(ids), (r) => r.conversationId);
        return ids.map((id) => groups.get(id) ?? []);
      }),
    message: () =>
      new DataLoader<string, MessageRow | null>(async (ids) => {
        const found = byKey(
          (await messages.repo.byIds(ids)).filter((m) => m.orgId === orgId),
          (m) => m.id,
        );
        return ids.map((id) => found.get(id) ?? null);
      }),
  });
}

export function createContext(services: Services, viewer: Viewer | null, requestId: string): Context {
  const log = services.log.child({ requestId, user: viewer?.userId });
  return { viewer, services, loaders: createLoaders(services, viewer), log, requestId };
}

/** The viewer, or UNAUTHENTICATED. */
export function requireViewer(ctx: Context): Viewer {
  if (!ctx.viewer) throw new UnauthenticatedError();
  return ctx.viewer;
}
