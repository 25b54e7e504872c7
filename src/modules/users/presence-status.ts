/**
 * The statuses a user's presence takes. Presence lives in Redis, not in a Postgres enum, so this
 * list is where the PresenceStatus enum of the API takes its values from.
 */
export const presenceStatuses = ['ONLINE', 'AWAY', 'BUSY', 'OFFLINE'] as const;

export type PresenceStatus = (typeof presenceStatuses)[number];
