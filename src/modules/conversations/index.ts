import DataLoader from 'dataloader';
import type { Viewer } from '../../auth/viewer.js';
import type { Db } from '../../db/client.js';
import type { MessageRow, ParticipantRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { byKey, groupBy } from '../../lib/loaders.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import type { UserService } from '../users/user.service.js';
import { ConversationRepository } from './conversation.repository.js';
import { ConversationService } from './conversation.service.js';

/** Conversations, who takes part in them, and their read markers. */
export function createConversationsModule(deps: { db: Db; bus: EventBus; events: DomainEvents; users: UserService }) {
  const repo = new ConversationRepository(deps.db);
  const conversations = new ConversationService(repo, deps.users, deps.bus, deps.events);
  return {
    conversations,
    loaders: {
      participants: (_viewer: Viewer | null) =>
        new DataLoader<string, ParticipantRow[]>(async (ids) => {
          const groups = groupBy(await repo.participantsOf(ids), (p) => p.conversationId);
          return ids.map((id) => groups.get(id) ?? []);
        }),
      lastMessage: (_viewer: Viewer | null) =>
        new DataLoader<string, MessageRow | null>(async (ids) => {
          const found = byKey(await repo.lastMessagesOf(ids), (m) => m.conversationId);
          return ids.map((id) => found.get(id) ?? null);
        }),
      /** Conversations' last seqs: whether an archived one has had a message since. */
      lastSeq: (_viewer: Viewer | null) =>
        new DataLoader<string, number>(async (ids) => {
          const seqs = await repo.lastSeqsOf(ids);
          return ids.map((id) => seqs.get(id) ?? 0);
        }),
      unreadMentionCount: (viewer: Viewer | null) =>
        new DataLoader<string, number>(async (ids) => {
          const counts = viewer ? await repo.unreadMentionCounts(viewer.userId, ids) : new Map<string, number>();
          return ids.map((id) => counts.get(id) ?? 0);
        }),
      unreadCount: (viewer: Viewer | null) =>
        new DataLoader<string, number>(async (ids) => {
          const counts = viewer ? await repo.unreadCounts(viewer.userId, ids) : new Map<string, number>();
          return ids.map((id) => counts.get(id) ?? 0);
        }),
    },
  };
}
