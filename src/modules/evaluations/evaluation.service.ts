import { isAdmin, type Viewer } from '../../auth/viewer.js';
import type { EvaluationRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { BadInputError, ForbiddenError, NotFoundError } from '../../graphql/errors.js';
import { checkJson, checkText, isUuid, LIMITS } from '../../lib/validate.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import type { ExpertService } from '../experts/expert.service.js';
import type { MessageService } from '../messages/message.service.js';
import type { EvaluationRepository } from './evaluation.repository.js';

/** Scores are a few named numbers, not documents. */
export const SCORES_MAX_BYTES = 4 * 1024;

export type EvaluationInput = { verdict: EvaluationRow['verdict']; scores?: unknown; reason?: string | null };

/**
 * Seed 003's quality loop: an evaluator (an agent, a service's API key, an admin) stores a verdict
 * on a message. A FAIL on an agent's answer while the agent answers the conversation (mode AGENT)
 * puts a human in the loop: it opens an expert request with the evaluation's reason.
 */
export class EvaluationService {
  constructor(
    private readonly repo: EvaluationRepository,
    private readonly messages: MessageService,
    private readonly conversations: ConversationService,
    private readonly experts: ExpertService,
    private readonly events: DomainEvents,
  ) {}

  async evaluate(viewer: Viewer, messageId: string, input: EvaluationInput): Promise<EvaluationRow> {
    if (viewer.kind !== 'AGENT' && viewer.credential.type !== 'apiKey' && !isAdmin(viewer)) {
      throw new ForbiddenError('Only agents, API keys and admins evaluate messages');
    }
    checkText('reason', input.reason, { max: LIMITS.reasonChars, allowEmpty: true });
    checkJson('scores', input.scores, SCORES_MAX_BYTES);
    // Evaluators are services of the org: they judge any message of it, taking part or not.
    const message = isUuid(messageId) ? await this.messages.find(viewer.orgId, messageId) : null;
    if (!message) throw new NotFoundError('Message');
    if (message.deletedAt) throw new BadInputError('A deleted message cannot be evaluated', 'messageId');

    const evaluation = await this.repo.insert({
      messageId,
      conversationId: message.conversationId,
      orgId: viewer.orgId,
      evaluatorId: viewer.userId,
      verdict: input.verdict,
      scores: input.scores ?? null,
      reason: input.reason ?? null,
    });
    await this.events.emit('evaluationCreated', { actor: viewer, evaluation });
    if (evaluation.verdict === 'FAIL' && message.senderKind === 'AGENT') {
      const access = await this.conversations.access(viewer, message.conversationId);
      if (access?.conversation.mode === 'AGENT') await this.experts.open(viewer, message.conversationId, evaluation.reason);
    }
    return evaluation;
  }

  /** The evaluations of messages of the org, oldest first (Message.evaluations). */
  async ofMessages(orgId: string, messageIds: readonly string[]): Promise<EvaluationRow[]> {
    return (await this.repo.ofMessages(messageIds)).filter((e) => e.orgId === orgId);
  }
}
