import DataLoader from 'dataloader';
import type { Viewer } from '../../auth/viewer.js';
import type { Db } from '../../db/client.js';
import type { DomainEvents } from '../../events/emitter.js';
import { groupBy } from '../../lib/loaders.js';
import type { MessageService } from '../messages/message.service.js';
import { type ReactionGroupRow, ReactionRepository } from './reaction.repository.js';
import { ReactionService } from './reaction.service.js';

/** Reactions to messages: who reacted with which emoji. */
export function createReactionsModule(deps: { db: Db; events: DomainEvents; messages: MessageService }) {
  const repo = new ReactionRepository(deps.db);
  return {
    reactions: new ReactionService(repo, deps.messages, deps.events),
    loaders: {
      /** Each message's reactions grouped by emoji, in the viewer's org; the same for every viewer. */
      reactions: (viewer: Viewer | null) =>
        new DataLoader<string, ReactionGroupRow[]>(async (ids) => {
          const groups = groupBy(await repo.groupsOf(viewer?.orgId ?? '', ids), (g) => g.messageId);
          return ids.map((id) => groups.get(id) ?? []);
        }),
    },
  };
}
