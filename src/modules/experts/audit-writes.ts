import type { AuditLog } from '../../auth/audit.js';
import { isExpert } from '../../auth/viewer.js';
import type { DomainEvents } from '../../events/emitter.js';

/** The operations of an answer stream's changes made by its own agent (CANCEL and PREEMPT are control events). */
const STREAM_OPERATIONS = { STARTED: 'startMessage', APPENDED: 'appendMessageChunk', COMPLETED: 'completeMessage' } as const;

/**
 * Every write of an expert to a conversation is audited (`expert.write`, with the operation and
 * the message), as their reads are where they happen (AuditLog.expertAccess).
 */
export function auditExpertWrites(events: DomainEvents, audit: AuditLog): void {
  const write = (actor: Parameters<AuditLog['expertAccess']>[0], conversationId: string, operation: string, messageId: string) =>
    audit.expertAccess(actor, conversationId, 'expert.write', { operation, messageId });

  events.on('messageCommitted', function auditExpertSend({ actor, message, via }) {
    // Checked here first: most senders are no experts, and their sends need no details object.
    if (via === 'send' && isExpert(actor)) return write(actor, message.conversationId, 'sendMessage', message.id);
  });
  events.on('messageEdited', function auditExpertEdit({ actor, message }) {
    if (isExpert(actor)) return write(actor, message.conversationId, 'editMessage', message.id);
  });
  events.on('messageDeleted', function auditExpertDelete({ actor, message }) {
    if (isExpert(actor)) return write(actor, message.conversationId, 'deleteMessage', message.id);
  });
  events.on('answerStreamChanged', function auditExpertStream({ actor, change, stream }) {
    const operation = change === 'STARTED' || change === 'APPENDED' || change === 'COMPLETED' ? STREAM_OPERATIONS[change] : null;
    if (operation && isExpert(actor)) return write(actor, stream.conversationId, operation, stream.id);
  });
}
