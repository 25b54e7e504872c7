import type { SendCheck } from '../messages/message.service.js';
import type { RunService } from './run.service.js';

/**
 * An agent's message in a run registers the run, and is refused while the run is paused or has
 * ended: the agent must obey the control events.
 */
export function outputNeedsActiveRun(runs: Pick<RunService, 'requireActive'>): SendCheck {
  return (viewer, { conversationId, runId, traceId, priority }) => {
    if (viewer.kind !== 'AGENT' || !runId) return null;
    return async () => {
      await runs.requireActive(viewer, conversationId, runId, traceId, priority);
    };
  };
}
