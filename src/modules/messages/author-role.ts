import type { MessageRow } from '../../db/schema/index.js';

/** Who wrote a message, as clients show it; computed, so it is no column of its own. */
export const authorRoles = ['USER', 'AGENT', 'EXPERT', 'SYSTEM'] as const;

export type AuthorRole = (typeof authorRoles)[number];

/**
 * SYSTEM for a message of kind SYSTEM (whoever sent it), EXPERT for a sender holding the `expert`
 * role, else AGENT or USER by the sender's kind. `senderRoles` are the roles of the sender as the
 * message came with it (an event's snapshot, a history page), or as stored.
 */
export function authorRole(message: Pick<MessageRow, 'kind' | 'senderKind'>, senderRoles: readonly string[]): AuthorRole {
  if (message.kind === 'SYSTEM') return 'SYSTEM';
  if (senderRoles.includes('expert')) return 'EXPERT';
  return message.senderKind;
}
