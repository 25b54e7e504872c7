import type { Viewer } from '../auth/viewer.js';
import type { ControlEventRow, MessageRow, UserRow } from '../db/schema/index.js';

/**
 * What travels through pub/sub: full JSON snapshots (dates as ISO strings), so delivering an
 * event to a subscriber needs no database read. The sender is embedded for the same reason.
 */
export type UserSnapshot = Pick<UserRow, 'orgId' | 'id' | 'displayName' | 'kind' | 'roles'>;

export type MessageSnapshot = Omit<MessageRow, 'createdAt' | 'editedAt' | 'deletedAt' | 'pinnedAt'> & {
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  pinnedAt: string | null;
  sender?: UserSnapshot;
};

export type ControlEventSnapshot = Omit<ControlEventRow, 'createdAt' | 'effectiveAt'> & {
  createdAt: string;
  effectiveAt: string;
};

const iso = (d: Date | string | null) => (d === null ? null : typeof d === 'string' ? d : d.toISOString());

export function messageSnapshot(row: MessageRow | MessageSnapshot, sender?: UserSnapshot): MessageSnapshot {
  return {
    ...row,
    createdAt: iso(row.createdAt)!,
    editedAt: iso(row.editedAt),
    deletedAt: iso(row.deletedAt),
    pinnedAt: iso(row.pinnedAt),
    sender: sender ?? (row as MessageSnapshot).sender,
  };
}

/** A user as events carry it: without the row's timestamps. */
export function userSnapshot(user: UserSnapshot): UserSnapshot {
  return { orgId: user.orgId, id: user.id, displayName: user.displayName, kind: user.kind, roles: user.roles };
}

/** The viewer as events carry it (a sender, a typist, a present user): no read needed. */
export function viewerSnapshot(viewer: Viewer): UserSnapshot {
  return { orgId: viewer.orgId, id: viewer.userId, displayName: viewer.displayName, kind: viewer.kind, roles: viewer.roles };
}

export function controlEventSnapshot(row: ControlEventRow): ControlEventSnapshot {
  return { ...row, createdAt: iso(row.createdAt)!, effectiveAt: iso(row.effectiveAt)! };
}
