import type { Viewer } from '../../auth/viewer.js';
import { type Context, requireViewer } from '../../context.js';
import type { ConversationRow, ParticipantRow } from '../../db/schema/index.js';
import type { DomainEventMap } from '../../events/domain-events.js';
import type { DomainEvents } from '../../events/emitter.js';
import { AsyncQueue } from '../../lib/async-queue.js';
import type { EventBus } from '../../pubsub/pubsub.js';
import { viewerSnapshot } from '../../pubsub/snapshots.js';
import { type ConversationEventSnapshot, type ConversationEventType, topics } from '../../pubsub/topics.js';
import type { ConversationService } from '../conversations/conversation.service.js';
import { endWithCredential, tokenValid } from './token-expiry.js';

/** Whom one domain event tells what: an event type per user. */
type Delivery = { userId: string; type: ConversationEventType };

/**
 * The live conversation list: turns participant and conversation changes into ConversationEvents
 * on each concerned user's own topic (topics.conversationEvents), so that a subscriber hears of
 * exactly the conversations they take part in, on whichever instance, with nothing to filter.
 * Who is told is decided here, from the participants as they are after the change:
 *
 *   ADDED      the user: JOINED; those who were there before: PARTICIPANT_ADDED
 *   REMOVED    the user: LEFT; those still there: PARTICIPANT_REMOVED
 *   UPDATED    a read marker (READ) to every participant; the viewer's own settings
 *              (PARTICIPANT_UPDATED) to the viewer alone, since they are nobody else's business
 *   conversation UPDATED to every participant; DELETED to those who took part
 */
export class ConversationEventPublisher {
  constructor(
    private readonly bus: EventBus,
    private readonly conversations: Pick<ConversationService, 'participantsAndRow'>,
  ) {}

  /** Registers the reactions to the domain events. */
  register(events: DomainEvents): void {
    events.on('participantChanged', (event) => this.participantChanged(event));
    events.on('conversationChanged', (event) => this.conversationChanged(event));
  }

  private async participantChanged({ actor, change, participant, updated }: DomainEventMap['participantChanged']): Promise<void> {
    const found = await this.conversations.participantsAndRow(participant.conversationId);
    if (!found) return;
    const { conversation, participants } = found;
    const deliveries: Delivery[] = [];
    if (change === 'ADDED') {
      deliveries.push({ userId: participant.userId, type: 'JOINED' });
      // Those who joined with them (a new conversation's first participants) learn of it by JOINED only.
      for (const p of participants) {
        if (p.userId !== participant.userId && p.joinedAt < participant.joinedAt) deliveries.push({ userId: p.userId, type: 'PARTICIPANT_ADDED' });
      }
    } else if (change === 'REMOVED') {
      deliveries.push({ userId: participant.userId, type: 'LEFT' });
      for (const p of participants) if (p.userId !== participant.userId) deliveries.push({ userId: p.userId, type: 'PARTICIPANT_REMOVED' });
    } else if (updated === 'settings') {
      deliveries.push({ userId: participant.userId, type: 'PARTICIPANT_UPDATED' });
    } else {
      for (const p of participants) deliveries.push({ userId: p.userId, type: 'READ' });
    }
    await this.publish(actor, conversation, participant, deliveries);
  }

  private async conversationChanged({ actor, change, conversation, formerParticipantIds }: DomainEventMap['conversationChanged']): Promise<void> {
    if (change === 'DELETED') {
      await this.publish(
        actor,
        conversation,
        null,
        (formerParticipantIds ?? []).map((userId) => ({ userId, type: 'DELETED' })),
      );
    } else if (change === 'UPDATED') {
      const found = await this.conversations.participantsAndRow(conversation.id);
      if (!found) return;
      await this.publish(
        actor,
        found.conversation,
        null,
        found.participants.map((p) => ({ userId: p.userId, type: 'UPDATED' })),
      );
    }
    // CREATED: each first participant hears JOINED from their participantChanged.
  }

  private async publish(actor: Viewer, conversation: ConversationRow, participant: ParticipantRow | null, deliveries: Delivery[]): Promise<void> {
    const base = { conversation, participant, actor: viewerSnapshot(actor) };
    await Promise.all(
      deliveries.map(({ userId, type }) =>
        this.bus.publish(topics.conversationEvents(conversation.orgId, userId), { ...base, type } as ConversationEventSnapshot),
      ),
    );
  }
}

/**
 * `conversationEvents`: the viewer's own topic, optionally narrowed to one conversation (which
 * the viewer must take part in when subscribing). Events were addressed to the viewer when
 * published, from the participants of that moment; each is checked again for the credential.
 */
export async function conversationEventFeed(
  deps: { bus: EventBus; conversations: Pick<ConversationService, 'requireParticipant'> },
  ctx: Context,
  conversationId: string | null | undefined,
): Promise<AsyncQueue<ConversationEventSnapshot>> {
  const viewer = requireViewer(ctx);
  const queue = new AsyncQueue<ConversationEventSnapshot>();
  try {
    endWithCredential(ctx, queue);
    if (conversationId != null) await deps.conversations.requireParticipant(viewer, conversationId);
    const unlisten = await deps.bus.listen(topics.conversationEvents(viewer.orgId, viewer.userId), (event) => {
      if (conversationId != null && event.conversation.id !== conversationId) return;
      if (tokenValid(viewer)) queue.push(event);
    });
    queue.onFinish(unlisten);
    return queue;
  } catch (err) {
    queue.end();
    throw err;
  }
}
