import type { Logger } from 'pino';
import type { Viewer } from '../../auth/viewer.js';
import type { MessageRow } from '../../db/schema/index.js';
import type { Reaction } from '../../events/emitter.js';
import { errorMessage } from '../../observability/log-errors.js';
import type { RunService } from '../agents/run.service.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { ControlService } from './control.service.js';

/**
 * A HIGH or CRITICAL message from a person preempts the conversation's interruptible agent runs,
 * where the conversation asks for it (preemptOnPriority): one PREEMPT control event per run,
 * issued by the sender.
 */
export function preemptOnPriority(deps: {
  conversations: Pick<ConversationService, 'access'>;
  runs: Pick<RunService, 'interruptibleRuns'>;
  control: Pick<ControlService, 'send'>;
  log: Logger;
}): Reaction<'messageCommitted'> {
  // Decided at once for most sends (not urgent), which then wait for nothing.
  return function preemptOnPriority({ actor, message, via }) {
    if (via !== 'send' || actor.kind !== 'USER' || (message.priority !== 'HIGH' && message.priority !== 'CRITICAL')) return;
    return preempt(actor, message);
  };

  async function preempt(actor: Viewer, message: MessageRow): Promise<void> {
    // The conversation's setting is read only here: the send itself does not read the row.
    const access = await deps.conversations.access(actor, message.conversationId);
    if (!access?.conversation.preemptOnPriority) return;
    for (const run of await deps.runs.interruptibleRuns(message.conversationId)) {
      // A run that moved meanwhile refuses its PREEMPT; the others still get theirs.
      await deps.control
        .send(actor, message.conversationId, {
          event: 'PREEMPT',
          runId: run.runId,
          reason: `${message.priority} message ${message.id}`,
          traceId: message.traceId,
        })
        .catch((err: unknown) => deps.log.warn({ err: errorMessage(err), runId: run.runId }, 'a PREEMPT on a priority message failed'));
    }
  }
}
