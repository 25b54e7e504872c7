import type { Reaction } from '../../events/emitter.js';
import type { TypingService } from './typing.service.js';

/** Whoever sends a message has stopped typing in that conversation. */
export function typingStopsOnSend(typing: TypingService): Reaction<'messageCommitted'> {
  return function typingStopsOnSend({ actor, message, via }) {
    if (via !== 'send') return;
    return typing.stopOnSend(actor.orgId, actor.userId, message.conversationId);
  };
}
