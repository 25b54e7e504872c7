import type { Logger } from 'pino';
import type { AuditLog } from '../../auth/audit.js';
import type { DomainEvents } from '../../events/emitter.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { MessageService } from '../messages/message.service.js';
import { CatchUpReader } from './catch-up.js';
import { ConversationEventPublisher } from './conversation-events.js';
import { Feeds } from './feeds.js';
import { MembershipWatch } from './membership-watch.js';
import { TypingService } from './typing.service.js';
import { typingStopsOnSend } from './typing-stops-on-send.js';

/**
 * What subscriptions deliver: the feeds of messages, typing and control events, with the
 * instance-wide re-checks that keep them to current participants, typing indicators, and each
 * user's conversation events (the live conversation list).
 */
export function createRealtimeModule(deps: {
  bus: EventBus;
  log: Logger;
  events: DomainEvents;
  audit: AuditLog;
  conversations: ConversationService;
  messages: MessageService;
  /** Tests shorten or lengthen the typing lapse; production runs with the default. */
  typingTtlMs?: number;
}) {
  const typing = new TypingService(deps.bus, deps.conversations, deps.bus.commands, deps.typingTtlMs);
  const membership = new MembershipWatch(deps.conversations, deps.log, deps.bus);
  const feeds = new Feeds({
    bus: deps.bus,
    audit: deps.audit,
    conversations: deps.conversations,
    membership,
    catchUp: new CatchUpReader(deps.messages),
    typingTtlMs: typing.ttlMs,
  });
  deps.events.on('messageCommitted', typingStopsOnSend(typing));
  new ConversationEventPublisher(deps.bus, deps.conversations).register(deps.events);
  return { typing, membership, feeds };
}
