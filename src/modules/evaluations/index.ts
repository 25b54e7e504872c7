import DataLoader from 'dataloader';
import type { Viewer } from '../../auth/viewer.js';
import type { Db } from '../../db/client.js';
import type { EvaluationRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { groupBy } from '../../lib/loaders.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { ExpertService } from '../experts/expert.service.js';
import type { MessageService } from '../messages/message.service.js';
import { EvaluationRepository } from './evaluation.repository.js';
import { EvaluationService } from './evaluation.service.js';

/** Evaluations: verdicts on messages; a failed agent answer brings in an expert. */
export function createEvaluationsModule(deps: {
  db: Db;
  events: DomainEvents;
  messages: MessageService;
  conversations: ConversationService;
  experts: ExpertService;
}) {
  const evaluations = new EvaluationService(new EvaluationRepository(deps.db), deps.messages, deps.conversations, deps.experts, deps.events);
  return {
    evaluations,
    loaders: {
      /** `Message.evaluations`, in the viewer's org only. */
      evaluations: (viewer: Viewer | null) =>
        new DataLoader<string, EvaluationRow[]>(async (ids) => {
          const groups = groupBy(await evaluations.ofMessages(viewer?.orgId ?? '', ids), (e) => e.messageId);
          return ids.map((id) => groups.get(id) ?? []);
        }),
    },
  };
}
