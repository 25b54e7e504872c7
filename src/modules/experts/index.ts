import type { AuditLog } from '../../auth/audit.js';
import type { Db } from '../../db/client.js';
import type { DomainEvents } from '../../events/emitter.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import type { RunService } from '../agents/run.service.js';
import type { ControlService } from '../control/control.service.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { MessageService } from '../messages/message.service.js';
import type { UserService } from '../users/user.service.js';
import { auditExpertWrites } from './audit-writes.js';
import { ExpertRepository } from './expert.repository.js';
import { ExpertService } from './expert.service.js';

/** Expert requests (an agent's conversation handed to a human expert and back), and experts' audit. */
export function createExpertsModule(deps: {
  db: Db;
  bus: EventBus;
  events: DomainEvents;
  audit: AuditLog;
  conversations: ConversationService;
  messages: MessageService;
  users: UserService;
  runs: RunService;
  control: ControlService;
}) {
  const experts = new ExpertService(
    new ExpertRepository(deps.db),
    deps.conversations,
    deps.messages,
    deps.users,
    deps.control,
    deps.runs,
    deps.audit,
    deps.bus,
    deps.events,
  );
  auditExpertWrites(deps.events, deps.audit);
  return { experts };
}
