import DataLoader from 'dataloader';
import type { Logger } from 'pino';
import type { Viewer } from '../../auth/viewer.js';
import type { Db } from '../../db/client.js';
import type { UserRow } from '../../db/schema/index.js';
import { byKey } from '../../lib/loaders.js';
import { errorMessage } from '../../observability/log-errors.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { type Presence, PresenceService } from './presence.service.js';
import { UserRepository } from './user.repository.js';
import { UserService } from './user.service.js';

/** Users (who people and agents are) and their presence (whether they are around). */
export function createUsersModule({ db, bus, log }: { db: Db; bus: EventBus; log: Logger }) {
  // Presence lives in Redis when there is one, shared by every instance.
  const presence = new PresenceService(bus, log, bus.commands);
  const users = new UserService(new UserRepository(db), presence, log);
  const orgOf = (viewer: Viewer | null) => viewer?.orgId ?? '';
  return {
    users,
    presence,
    loaders: {
      user: (viewer: Viewer | null) =>
        new DataLoader<string, UserRow | null>(async (ids) => {
          const found = byKey(await users.byIds(orgOf(viewer), ids), (u) => u.id);
          return ids.map((id) => found.get(id) ?? null);
        }),
      /**
       * While Redis is away, users read as OFFLINE rather than failing the whole query they
       * appear in.
       */
      presence: (viewer: Viewer | null) =>
        new DataLoader<string, Presence>((ids) =>
          presence.get(orgOf(viewer), ids).catch((err: Error) => {
            log.warn({ err: errorMessage(err) }, 'presence unavailable');
            return ids.map(() => ({ status: 'OFFLINE' as const, lastSeenAt: null }));
          }),
        ),
    },
  };
}
