import { append, excerpt, fullTime, h, shortTime } from '../dom.js';
import type { ViewMessage } from '../view-message.js';

export type MessageActions = {
  isMe: (userId: string) => boolean;
  /** The Reply button. */
  reply: (m: ViewMessage) => void;
  /** A click on the quote of a reply: show the quoted message. */
  showQuoted: (id: string) => void;
};

/** The mark after the author's name of an expert's or an agent's message. */
const ROLE_MARK: Partial<Record<ViewMessage['authorRole'], string>> = { EXPERT: 'Expert', AGENT: 'AI' };

/**
 * One message of the open conversation: the quote it replies to, who and when, the text, and a
 * Reply button. A SYSTEM message (an expert was requested, joined, handed back) is a note across
 * the conversation instead, with its time.
 */
export function messageElement(m: ViewMessage, actions: MessageActions): HTMLLIElement {
  const mine = actions.isMe(m.senderId);
  const system = m.authorRole === 'SYSTEM';
  const li = h('li', {
    id: `msg-${m.id}`,
    class: `message${system ? ' system' : mine ? ' mine' : ''}${m.deletedAt ? ' deleted' : ''}`,
    'data-testid': 'message',
    'data-seq': m.seq,
    'data-message-id': m.id,
    'data-sender-id': m.senderId,
    'data-author-role': m.authorRole,
  });
  if (system) {
    append(
      li,
      h('p', { class: 'content', 'data-testid': 'message-content' }, m.deletedAt ? 'This message was deleted.' : m.content),
      h('time', { datetime: m.createdAt, title: fullTime(m.createdAt) }, shortTime(m.createdAt)),
    );
    return li;
  }
  const mark = ROLE_MARK[m.authorRole];
  const quoted = m.replyTo;
  // Your own quoted message is "You", as your own messages are.
  const quotedAuthor = quoted && (quoted.senderId !== null && actions.isMe(quoted.senderId) ? 'You' : quoted.senderName);
  const quote = quoted
    ? h(
        'button',
        {
          type: 'button',
          class: 'quote',
          'data-testid': 'reply-quote',
          'data-reply-to-seq': quoted.seq,
          'aria-label': `In reply to ${quotedAuthor === 'You' ? 'you' : (quotedAuthor ?? 'a message')}${quoted.content ? `: ${excerpt(quoted.content, 120)}` : ''}. Show it.`,
        },
        h('span', { class: 'quote-author' }, quotedAuthor ?? `Message #${quoted.seq}`),
        h('span', { class: 'quote-text' }, quoted.deleted ? 'message deleted' : quoted.content === null ? '…' : excerpt(quoted.content, 140)),
      )
    : null;
  quote?.addEventListener('click', () => actions.showQuoted(quoted!.id));
  const reply = h('button', { type: 'button', class: 'reply', 'data-testid': 'reply-button', 'aria-label': `Reply to ${m.senderName}` }, 'Reply');
  reply.addEventListener('click', () => actions.reply(m));
  append(
    li,
    quote,
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'author' }, mine ? 'You' : m.senderName),
      mark ? h('span', { class: `role-mark ${m.authorRole.toLowerCase()}`, 'data-testid': 'role-mark' }, mark) : null,
      h('time', { datetime: m.createdAt, title: fullTime(m.createdAt) }, shortTime(m.createdAt)),
      m.editedAt && !m.deletedAt ? h('span', { class: 'edited' }, '(edited)') : null,
      m.deletedAt ? null : reply,
    ),
    h('p', { class: 'content', 'data-testid': 'message-content' }, m.deletedAt ? 'This message was deleted.' : m.content),
  );
  return li;
}
