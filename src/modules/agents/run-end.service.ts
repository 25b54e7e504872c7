import type { Viewer } from '../../auth/viewer.js';
import type { AgentRunRow } from '../../db/schema/index.js';
import { checkText, LIMITS } from '../../lib/validate.js';
import type { AnswerStreamService } from './answer-stream.service.js';
import { LIVE_RUN_STATES } from './run.repository.js';
import { type RunService, runNotActiveError } from './run.service.js';

/**
 * `completeRun` and `failRun`: an agent ending its own run. Completing keeps what its open streams
 * hold as messages; failing discards them. Repeating the same end answers the run as it is.
 */
export class RunEndService {
  constructor(
    private readonly runs: RunService,
    private readonly answers: Pick<AnswerStreamService, 'endRunStreams'>,
  ) {}

  async complete(viewer: Viewer, conversationId: string, runId: string): Promise<AgentRunRow> {
    const run = await this.end(viewer, conversationId, runId, 'COMPLETED', null);
    await this.answers.endRunStreams(viewer, conversationId, runId, { state: 'COMPLETED' });
    return run;
  }

  async fail(viewer: Viewer, conversationId: string, runId: string, reason: string | null | undefined): Promise<AgentRunRow> {
    checkText('reason', reason, { max: LIMITS.reasonChars, allowEmpty: true });
    const run = await this.end(viewer, conversationId, runId, 'FAILED', reason ?? null);
    await this.answers.endRunStreams(viewer, conversationId, runId, { state: 'CANCELLED' });
    return run;
  }

  private async end(viewer: Viewer, conversationId: string, runId: string, state: 'COMPLETED' | 'FAILED', reason: string | null): Promise<AgentRunRow> {
    const verb = state === 'COMPLETED' ? 'it cannot complete' : 'it cannot fail';
    const run = await this.runs.requireOwn(viewer, conversationId, runId);
    if (run.state === state) return run;
    if (!LIVE_RUN_STATES.includes(run.state)) throw runNotActiveError(run, verb);
    const ended = await this.runs.transition(viewer, conversationId, runId, LIVE_RUN_STATES, { state, reason });
    if (ended) return ended;
    // It ended meanwhile (its last stream completed, or a CANCEL): the same end is no error.
    const now = (await this.runs.get(conversationId, runId))!;
    if (now.state === state) return now;
    throw runNotActiveError(now, verb);
  }
}
