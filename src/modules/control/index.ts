import type { Logger } from 'pino';
import type { Db } from '../../db/client.js';
import type { DomainEvents } from '../../events/emitter.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import type { AnswerStreamService } from '../agents/answer-stream.service.js';
import type { RunService } from '../agents/run.service.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { MessageService } from '../messages/message.service.js';
import type { UserService } from '../users/user.service.js';
import { ControlRepository } from './control.repository.js';
import { ControlService } from './control.service.js';
import { preemptOnPriority } from './preempt-on-priority.js';

/**
 * Control events: who may steer which agent run or route a conversation, and what each event does.
 * A person's HIGH or CRITICAL message preempts the interruptible runs (a reaction to
 * messageCommitted), as a PREEMPT of theirs would.
 */
export function createControlModule(deps: {
  db: Db;
  bus: EventBus;
  log: Logger;
  events: DomainEvents;
  users: UserService;
  conversations: ConversationService;
  messages: MessageService;
  runs: RunService;
  answers: AnswerStreamService;
}) {
  const control = new ControlService(
    new ControlRepository(deps.db),
    deps.conversations,
    deps.users,
    deps.messages,
    deps.runs,
    deps.answers,
    deps.bus,
    deps.events,
  );
  deps.events.on('messageCommitted', preemptOnPriority({ conversations: deps.conversations, runs: deps.runs, control, log: deps.log }));
  return { control };
}
