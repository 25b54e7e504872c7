import DataLoader from 'dataloader';
import { createLoaders, type Context, type Loaders } from '../../context.js';
import type { UserRow } from '../../db/schema/index.js';
import type { Services } from '../../services.js';

/** How long a user row read for one event serves the other subscribers of this instance. */
const SHARED_USER_MS = 5_000;
const MAX_SHARED_USERS = 10_000;

type Entry = { at: number; row: Promise<UserRow | null> };
const sharedByApp = new WeakMap<Services, Map<string, Entry>>();

/**
 * User rows for the fields an event snapshot does not carry (a control event's `issuedBy`, the
 * sender of an edited message), shared by every subscriber on this instance for a few seconds:
 * an event fanned out to N subscribers costs one read, not N. User rows are the same for every
 * viewer of an org, so sharing them leaks nothing.
 */
function sharedUserLoader(services: Services, orgId: string): DataLoader<string, UserRow | null> {
  let cache = sharedByApp.get(services);
  if (!cache) sharedByApp.set(services, (cache = new Map()));
  const shared = cache;
  return new DataLoader(async (ids) => {
    const now = Date.now();
    if (shared.size > MAX_SHARED_USERS) {
      for (const [key, entry] of shared) if (now - entry.at > SHARED_USER_MS) shared.delete(key);
    }
    const key = (id: string) => `${orgId}\u0000${id}`;
    const missing = ids.filter((id) => {
      const entry = shared.get(key(id));
      return !entry || now - entry.at > SHARED_USER_MS;
    });
    if (missing.length > 0) {
      const rows = services.users.byIds(orgId, missing);
      for (const id of missing) {
        const row = rows.then((found) => found.find((u) => u.id === id) ?? null);
        // A failed read is not remembered.
        row.catch(() => shared.delete(key(id)));
        shared.set(key(id), { at: now, row });
      }
    }
    return Promise.all(ids.map((id) => shared.get(key(id))!.row));
  });
}

/**
 * Loaders for one event of a subscription. A subscription's context lives as long as the
 * subscription, and so would its DataLoader caches: a `presence` or `replyTo` read once would be
 * served stale for hours. So each event starts with fresh loaders, and user rows come from the
 * instance-wide cache above.
 */
export function eventLoaders(ctx: Context): Loaders {
  const viewer = ctx.viewer;
  return createLoaders(ctx.services, viewer, viewer ? () => sharedUserLoader(ctx.services, viewer.orgId) : undefined);
}
