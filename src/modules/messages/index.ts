import DataLoader from 'dataloader';
import type { AuditLog } from '../../auth/audit.js';
import type { Viewer } from '../../auth/viewer.js';
import type { Database } from '../../db/client.js';
import type { MessageRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { byKey, groupBy } from '../../lib/loaders.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { UserService } from '../users/user.service.js';
import { MessageRepository, type OutboxSubscribers, type ThreadSummaryRow } from './message.repository.js';
import { MessageService } from './message.service.js';
import { MessageHistory } from './message-history.js';
import { MessageHistoryRepository } from './message-history.repository.js';

/**
 * Messages: sends (with the checks other modules add), edits, deletes and history pages. A send
 * raises messageCommitted; other modules react to it (see src/events).
 */
export function createMessagesModule(deps: {
  database: Database;
  bus: EventBus;
  events: DomainEvents;
  audit: AuditLog;
  users: UserService;
  conversations: ConversationService;
  /** Which orgs want message.created webhooks, written by the send statement itself. */
  outbox?: OutboxSubscribers;
}) {
  const repo = new MessageRepository(deps.database.db, deps.outbox);
  const messages = new MessageService(repo, deps.conversations, deps.users, deps.bus, deps.events);
  // History pages run prepared statements of their own through the database (Database.queryRows).
  const history = new MessageHistory(new MessageHistoryRepository(deps.database), deps.conversations, repo, deps.audit, messages);
  return {
    messages,
    history,
    loaders: {
      /** Each conversation's pinned messages, newest pin first (the conversation's field: its reader takes part). */
      pinnedMessages: (_viewer: Viewer | null) =>
        new DataLoader<string, MessageRow[]>(async (ids) => {
          const groups = groupBy(await repo.pinnedIn(ids), (m) => m.conversationId);
          return ids.map((id) => groups.get(id) ?? []);
        }),
      /** The summary of the thread under each message, null without replies (the same for every viewer). */
      threadSummary: (viewer: Viewer | null) =>
        new DataLoader<string, ThreadSummaryRow | null>(async (ids) => {
          const found = byKey(await repo.threadSummaries(viewer?.orgId ?? '', ids), (s) => s.threadId);
          return ids.map((id) => found.get(id) ?? null);
        }),
      /** Messages by id, in the viewer's org only (a replyTo of another org reads as none). */
      message: (viewer: Viewer | null) =>
        new DataLoader<string, MessageRow | null>(async (ids) => {
          const orgId = viewer?.orgId ?? '';
          const found = byKey(
            (await repo.byIds(ids)).filter((m) => m.orgId === orgId),
            (m) => m.id,
          );
          return ids.map((id) => found.get(id) ?? null);
        }),
    },
  };
}
