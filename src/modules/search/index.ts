import type { AuditLog } from '../../auth/audit.js';
import type { Db } from '../../db/client.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import { SearchRepository } from './search.repository.js';
import { SearchService } from './search.service.js';

/** Full-text search over messages, by Postgres (see SearchRepository). */
export function createSearchModule(deps: { db: Db; audit: AuditLog; conversations: ConversationService }) {
  return { search: new SearchService(new SearchRepository(deps.db), deps.conversations, deps.audit) };
}
