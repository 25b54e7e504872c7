import { type MessageSnapshot, messageSnapshot } from '../../pubsub/snapshots.js';
import type { MessageService } from '../messages/message.service.js';

/**
 * Stored messages for subscriptions that catch up (a resume with afterSeq, a hole in seq, a resync
 * after Redis came back). When pub/sub loses an event, every subscriber of the conversation on
 * this instance notices the same hole at once and asks for the same rows: one read serves them
 * all, and they share its snapshots (senders included, as live events carry them), so the fan-out
 * executes each of those messages once too where it can share, and no subscriber reads per message.
 * Only reads in flight are shared; nothing is kept after they answer, so nothing goes stale.
 */
export class CatchUpReader {
  private readonly inFlight = new Map<string, Promise<MessageSnapshot[]>>();

  constructor(private readonly messages: Pick<MessageService, 'storedAfter'>) {}

  /** Up to `limit` stored messages of the conversation with seq > afterSeq, ascending. */
  after(conversationId: string, afterSeq: number, limit: number): Promise<MessageSnapshot[]> {
    const key = `${conversationId}\u0000${afterSeq}\u0000${limit}`;
    let read = this.inFlight.get(key);
    if (!read) {
      read = this.messages
        .storedAfter(conversationId, afterSeq, limit)
        .then((rows) => rows.map(({ message, sender }) => messageSnapshot(message, sender)))
        .finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, read);
    }
    return read;
  }
}
