import { h } from '../dom.js';
import type { ChatStore, Panel } from '../store.js';
import { messageElement } from './message.js';
import { panelActions } from './thread-panel.js';

/** The open conversation's pinned messages, most recently pinned first; each can be shown or unpinned. */
export function pinsBody(store: ChatStore, panel: Extract<Panel, { kind: 'pins' }>): HTMLElement {
  if (panel.messages === null) return h('p', { class: 'muted' }, 'Loading…');
  if (panel.messages.length === 0) return h('p', { class: 'muted', 'data-testid': 'pins-empty' }, 'Nothing pinned yet. Pin a message with its “Pin” button.');
  const actions = panelActions(store);
  return h(
    'ol',
    { class: 'messages', 'data-testid': 'pinned-list' },
    ...panel.messages.map((m) => {
      const li = messageElement(m, actions);
      const show = h('button', { type: 'button', class: 'msg-action show-pinned', 'data-testid': 'show-pinned' }, 'Show in conversation');
      show.addEventListener('click', () => store.guard(store.reveal(m)));
      li.append(show);
      return li;
    }),
  );
}
