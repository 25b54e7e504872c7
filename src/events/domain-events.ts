import type { Viewer } from '../auth/viewer.js';
import type {
  AgentRunRow,
  ControlEventRow,
  ConversationRow,
  EvaluationRow,
  ExpertRequestRow,
  MessageRow,
  MessageStreamRow,
  ParticipantRow,
  ReactionRow,
  WebhookRow,
} from '../db/schema/index.js';

/**
 * The service's own events: what happened, raised in process once the write is committed, for
 * other modules to react to (typing, audit, preemption, metrics, and webhooks later). Each carries
 * the rows as stored and its actor, the viewer whose request caused it. The webhook event each
 * maps onto is named in its comment.
 *
 * Pub/sub topics (pubsub/topics.ts) are something else: what clients see, across instances.
 */
export type DomainEventMap = {
  /**
   * `message.created`: a message was stored, by a send (`via: 'send'`), as what a streamed
   * answer left (`via: 'stream'`: completed, or cut short by PREEMPT with its text kept), or as a
   * SYSTEM message the service wrote for the actor (`via: 'system'`: an expert requested, joining,
   * handing back).
   */
  messageCommitted: { actor: Viewer; message: MessageRow; via: 'send' | 'stream' | 'system' };
  /** `message.updated`: its sender changed the content. */
  messageEdited: { actor: Viewer; message: MessageRow };
  /** `message.deleted`: soft-deleted, the row as it is now (no content). */
  messageDeleted: { actor: Viewer; message: MessageRow };
  /** `message.pinned`, `.unpinned` (the message as it is now). */
  messagePinChanged: { actor: Viewer; change: 'PINNED' | 'UNPINNED'; message: MessageRow };
  /** `reaction.added`, `.removed`: a user's reaction to a message (the message as it is). */
  reactionChanged: { actor: Viewer; change: 'ADDED' | 'REMOVED'; reaction: ReactionRow; message: MessageRow };
  /**
   * `conversation.created`, `.updated`, `.deleted`. UPDATED includes who answers (mode and
   * assignee, by ROUTE or HANDOFF); DELETED carries the row as it was.
   */
  conversationChanged: {
    actor: Viewer;
    change: 'CREATED' | 'UPDATED' | 'DELETED';
    conversation: ConversationRow;
    /** DELETED: who took part in it until then (their rows went with it). */
    formerParticipantIds?: string[];
  };
  /**
   * `participant.added`, `.removed`; UPDATED (the read marker moved, or the user's own muted or
   * archived) has no webhook. REMOVED carries the row as it was. A deleted GROUP raises conversationChanged only.
   */
  participantChanged: {
    actor: Viewer;
    change: 'ADDED' | 'REMOVED' | 'UPDATED';
    participant: ParticipantRow;
    /** UPDATED: what changed, the read marker unless said otherwise, or the user's own settings. */
    updated?: 'readMarker' | 'settings';
  };
  /** `control.created`: a control event was stored (after its effect on runs and routing). */
  controlIssued: { actor: Viewer; control: ControlEventRow };
  /**
   * `run.updated`: a run was registered (STARTED: its agent first spoke in it), moved by a control
   * event (UPDATED: state or priority), or ended (ENDED: COMPLETED, FAILED, CANCELLED, PREEMPTED).
   */
  runChanged: { actor: Viewer; change: 'STARTED' | 'UPDATED' | 'ENDED'; run: AgentRunRow };
  /**
   * No webhook: a streamed answer started, grew (the row as before the chunk), completed or was
   * ended by CANCEL or PREEMPT. What it leaves as a message is a messageCommitted of its own.
   */
  answerStreamChanged: {
    actor: Viewer;
    change: 'STARTED' | 'APPENDED' | 'COMPLETED' | 'CANCELLED' | 'PREEMPTED';
    stream: MessageStreamRow;
  };
  /**
   * `expert_request.opened`, `.claimed`, `.resolved`. CLAIMED also when an admin assigned the
   * request to an expert (the actor is the admin, `request.claimedBy` the expert). CANCELLED (its
   * requester withdrew it) has no webhook.
   */
  expertRequestChanged: { actor: Viewer; change: 'OPENED' | 'CLAIMED' | 'RESOLVED' | 'CANCELLED'; request: ExpertRequestRow };
  /** No webhook: a webhook failed so many times in a row that it was disabled (no actor: the service did it). */
  webhookDisabled: { webhook: WebhookRow };
  /**
   * `evaluation.created`: an evaluator stored a verdict on a message. Raised before the expert
   * request a FAIL may open (its own expertRequestChanged OPENED).
   */
  evaluationCreated: { actor: Viewer; evaluation: EvaluationRow };
};

export type DomainEventName = keyof DomainEventMap;
