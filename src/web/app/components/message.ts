import { append, excerpt, fullTime, h, shortTime } from '../dom.js';
import type { ViewMessage } from '../view-message.js';
import { partsElement } from './parts.js';
import { reactionChips, reactionPicker } from './reactions.js';

export type MessageActions = {
  isMe: (userId: string) => boolean;
  /** The Reply button (a quoted reply); absent where a message cannot be replied to (a thread). */
  reply?: (m: ViewMessage) => void;
  /** A click on the quote of a reply: show the quoted message. */
  showQuoted?: (id: string) => void;
  react: (m: ViewMessage, emoji: string) => void;
  /** Opens the message's thread; absent inside a thread. */
  openThread?: (m: ViewMessage) => void;
  togglePin: (m: ViewMessage) => void;
};

/** The mark after the author's name of an expert's or an agent's message. */
const ROLE_MARK: Partial<Record<ViewMessage['authorRole'], string>> = { EXPERT: 'Expert', AGENT: 'AI' };

/**
 * One message: the quote it replies to, who and when, the text (or an agent's parts) with its
 * mentions marked, its reactions, its thread's summary, and its actions (reply, thread, pin). A
 * SYSTEM message (an expert was requested, joined, handed back) is a note across the
 * conversation instead, with its time.
 */
export function messageElement(m: ViewMessage, actions: MessageActions): HTMLLIElement {
  const mine = actions.isMe(m.senderId);
  const system = m.authorRole === 'SYSTEM';
  const li = h('li', {
    id: `msg-${m.id}`,
    class: `message${system ? ' system' : mine ? ' mine' : ''}${m.deletedAt ? ' deleted' : ''}${m.pinnedAt ? ' pinned' : ''}`,
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
  const live = !m.deletedAt;
  const button = (label: string, testId: string, aria: string, run: () => void) => {
    const b = h('button', { type: 'button', class: 'msg-action', 'data-testid': testId, 'aria-label': aria }, label);
    b.addEventListener('click', run);
    return b;
  };
  append(
    li,
    quoteElement(m, actions),
    h(
      'div',
      { class: 'meta' },
      h('span', { class: 'author' }, mine ? 'You' : m.senderName),
      mark ? h('span', { class: `role-mark ${m.authorRole.toLowerCase()}`, 'data-testid': 'role-mark' }, mark) : null,
      h('time', { datetime: m.createdAt, title: fullTime(m.createdAt) }, shortTime(m.createdAt)),
      m.editedAt && live ? h('span', { class: 'edited' }, '(edited)') : null,
      m.pinnedAt ? h('span', { class: 'pin-mark', 'data-testid': 'pin-mark', title: 'Pinned' }, '📌') : null,
      h(
        'span',
        { class: 'msg-actions' },
        live && actions.reply ? button('Reply', 'reply-button', `Reply to ${m.senderName}`, () => actions.reply!(m)) : null,
        live && actions.openThread ? button('Thread', 'thread-button', 'Reply in a thread', () => actions.openThread!(m)) : null,
        live ? button(m.pinnedAt ? 'Unpin' : 'Pin', 'pin-button', m.pinnedAt ? 'Unpin this message' : 'Pin this message', () => actions.togglePin(m)) : null,
        live ? reactionPicker((emoji) => actions.react(m, emoji)) : null,
      ),
    ),
    m.deletedAt
      ? h('p', { class: 'content', 'data-testid': 'message-content' }, 'This message was deleted.')
      : m.parts.length > 1 || (m.parts.length === 1 && m.parts[0]!.type !== 'TEXT')
        ? h('div', { 'data-testid': 'message-content' }, partsElement(m.parts))
        : h('p', { class: 'content', 'data-testid': 'message-content' }, ...withMentions(m.content, m.mentions, actions.isMe)),
    live ? reactionChips(m.reactions, (emoji) => actions.react(m, emoji), actions.isMe) : null,
    live && m.thread && actions.openThread ? threadSummary(m, actions.openThread) : null,
  );
  return li;
}

function quoteElement(m: ViewMessage, actions: MessageActions): HTMLButtonElement | null {
  const quoted = m.replyTo;
  if (!quoted) return null;
  // Your own quoted message is "You", as your own messages are.
  const quotedAuthor = actions.isMe(quoted.senderId) ? 'You' : quoted.senderName;
  const quote = h(
    'button',
    {
      type: 'button',
      class: 'quote',
      'data-testid': 'reply-quote',
      'data-reply-to-seq': quoted.seq,
      'aria-label': `In reply to ${quotedAuthor === 'You' ? 'you' : quotedAuthor}: ${excerpt(quoted.content, 120)}. Show it.`,
    },
    h('span', { class: 'quote-author' }, quotedAuthor),
    h('span', { class: 'quote-text' }, quoted.deleted ? 'message deleted' : excerpt(quoted.content, 140)),
  );
  quote.addEventListener('click', () => actions.showQuoted?.(quoted.id));
  return quote;
}

function threadSummary(m: ViewMessage, open: (m: ViewMessage) => void): HTMLButtonElement {
  const { replyCount, lastReplyAt } = m.thread!;
  const b = h(
    'button',
    { type: 'button', class: 'thread-summary', 'data-testid': 'thread-summary', 'data-reply-count': replyCount },
    `${replyCount} ${replyCount === 1 ? 'reply' : 'replies'}`,
    lastReplyAt ? h('span', { class: 'muted' }, ` · last ${shortTime(lastReplyAt)}`) : null,
  );
  b.addEventListener('click', () => open(m));
  return b;
}

/**
 * The text with each mention (`@` and the person's display name or id) marked; a mention of the
 * viewer stands out more. Only text nodes and spans are made, so the content stays text.
 */
export function withMentions(text: string, mentions: ViewMessage['mentions'], isMe: (userId: string) => boolean): (string | HTMLElement)[] {
  if (!mentions.length) return [text];
  const names = new Map<string, string>();
  for (const u of mentions) {
    names.set(`@${u.displayName}`, u.id);
    names.set(`@${u.id}`, u.id);
  }
  // Longest first, so that "@Ann Lee" wins over "@Ann".
  const pattern = new RegExp(
    [...names.keys()]
      .sort((a, b) => b.length - a.length)
      .map(escapeRegExp)
      .join('|'),
    'g',
  );
  const out: (string | HTMLElement)[] = [];
  let last = 0;
  for (const match of text.matchAll(pattern)) {
    const id = names.get(match[0])!;
    out.push(text.slice(last, match.index));
    out.push(h('span', { class: `mention${isMe(id) ? ' me' : ''}`, 'data-testid': 'mention', 'data-user-id': id }, match[0]));
    last = match.index + match[0].length;
  }
  out.push(text.slice(last));
  return out;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
