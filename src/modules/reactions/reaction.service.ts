import type { Viewer } from '../../auth/viewer.js';
import type { MessageRow } from '../../db/schema/index.js';
import type { DomainEvents } from '../../events/emitter.js';
import { BadInputError } from '../../graphql/errors.js';
import { charLength, isStorableText } from '../../lib/validate.js';
import type { MessageService } from '../messages/message.service.js';
import type { ReactionRepository } from './reaction.repository.js';

/** Distinct emoji one message holds at most (API.md). */
export const MAX_EMOJI_PER_MESSAGE = 50;
/** A `:shortcode:` is at most this long, colons included (API.md). */
export const MAX_SHORTCODE_CHARS = 64;

/** One emoji as Unicode lists it (RGI: with its modifiers, flags and ZWJ sequences). */
// biome-ignore lint/complexity/useRegexLiterals: a literal with the v flag needs TypeScript's es2024 target
const ONE_EMOJI = new RegExp('^\\p{RGI_Emoji}$', 'v');
/** `:thumbsup:`, `:+1:`, `:party-parrot:`: what chat services name custom emoji with. */
const SHORTCODE = /^:[a-z0-9_+-]+:$/i;

/** Whether `emoji` is one emoji or a `:shortcode:` of at most 64 characters. */
export function isEmoji(emoji: string): boolean {
  if (emoji.length > MAX_SHORTCODE_CHARS * 2 || !isStorableText(emoji)) return false;
  if (SHORTCODE.test(emoji)) return charLength(emoji) <= MAX_SHORTCODE_CHARS;
  return ONE_EMOJI.test(emoji);
}

function checkEmoji(emoji: string): void {
  if (!isEmoji(emoji)) {
    throw new BadInputError(`\`emoji\` must be one emoji or a :shortcode: of at most ${MAX_SHORTCODE_CHARS} characters`, 'emoji');
  }
}

/**
 * Reactions to messages: participants of a message's conversation add and remove theirs, each
 * (message, user, emoji) at most once. Every change reaches `messageUpdated`.
 */
export class ReactionService {
  constructor(
    private readonly repo: ReactionRepository,
    private readonly messages: MessageService,
    private readonly events: DomainEvents,
  ) {}

  /** Adds the viewer's reaction; adding it again changes nothing. */
  async add(viewer: Viewer, messageId: string, emoji: string): Promise<MessageRow> {
    checkEmoji(emoji);
    const { message, sender } = await this.messages.requireAccess(viewer, messageId);
    if (message.deletedAt) throw new BadInputError('A deleted message takes no reactions', 'messageId');
    const { outcome, row } = await this.repo.add({ messageId, orgId: viewer.orgId, userId: viewer.userId, emoji }, MAX_EMOJI_PER_MESSAGE);
    if (outcome === 'TOO_MANY_EMOJI') {
      throw new BadInputError(`A message holds at most ${MAX_EMOJI_PER_MESSAGE} different emoji`, 'emoji');
    }
    if (row) {
      await Promise.all([
        this.messages.announceUpdated(message, viewer, sender),
        this.events.emit('reactionChanged', { actor: viewer, change: 'ADDED', reaction: row, message }),
      ]);
    }
    return message;
  }

  /** Removes the viewer's reaction; removing one that is not there changes nothing. */
  async remove(viewer: Viewer, messageId: string, emoji: string): Promise<MessageRow> {
    checkEmoji(emoji);
    const { message, sender } = await this.messages.requireAccess(viewer, messageId);
    const row = await this.repo.remove(messageId, viewer.userId, emoji);
    if (row) {
      await Promise.all([
        this.messages.announceUpdated(message, viewer, sender),
        this.events.emit('reactionChanged', { actor: viewer, change: 'REMOVED', reaction: row, message }),
      ]);
    }
    return message;
  }
}
