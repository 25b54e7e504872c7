import type { DomainEvents } from '../events/emitter.js';
import type { Metrics } from './metrics.js';

/** switchboard_messages_sent_total counts sends (not what streamed answers leave). */
export function countMessagesSent(events: DomainEvents, metrics: Metrics): void {
  events.on('messageCommitted', function countMessageSent({ via }) {
    if (via === 'send') metrics.messagesSent.inc();
  });
}
