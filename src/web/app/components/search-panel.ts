import { byId, fullTime, h, shortTime } from '../dom.js';
import type { ChatStore, Panel, SearchResult } from '../store.js';
import { highlightNodes } from './highlight.js';

/** The search box in the top bar: a query (Enter) shows its results in the side panel. */
export class SearchBox {
  private readonly form = byId<HTMLFormElement>('search-form');
  private readonly input = byId<HTMLInputElement>('search-input');

  constructor(store: ChatStore) {
    this.form.addEventListener(
      'submit',
      (e) => {
        e.preventDefault();
        const query = this.input.value.trim();
        if (query) store.guard(store.search(query));
      },
      { signal: store.signal },
    );
  }
}

/** Search results, best match first: where, who, when, and the text with the matched words marked. */
export function searchBody(store: ChatStore, panel: Extract<Panel, { kind: 'search' }>): HTMLElement {
  if (panel.results === null) return h('p', { class: 'muted' }, `Searching for “${panel.query}”…`);
  if (panel.results.length === 0) return h('p', { class: 'muted', 'data-testid': 'search-empty' }, `Nothing found for “${panel.query}”.`);
  return h(
    'div',
    {},
    h('p', { class: 'muted search-summary' }, `${panel.results.length}${panel.results.length === 30 ? '+' : ''} found for “${panel.query}”`),
    h('ol', { class: 'search-results', 'data-testid': 'search-results' }, ...panel.results.map((r) => h('li', {}, resultButton(store, r)))),
  );
}

function resultButton(store: ChatStore, r: SearchResult): HTMLButtonElement {
  const { message: m } = r;
  const c = store.state.conversations.get(m.conversationId);
  const b = h(
    'button',
    { type: 'button', class: 'search-result', 'data-testid': 'search-result', 'data-message-id': m.id },
    h(
      'span',
      { class: 'search-result-meta' },
      h('strong', {}, c ? store.titleOf(c) : 'Conversation'),
      ` · ${store.isMe(m.senderId) ? 'You' : m.senderName} · `,
      h('time', { datetime: m.createdAt, title: fullTime(m.createdAt) }, shortTime(m.createdAt)),
    ),
    h('span', { class: 'search-result-text', 'data-testid': 'search-highlight' }, ...highlightNodes(r.highlight)),
  );
  b.addEventListener('click', () => store.guard(store.reveal(m)));
  return b;
}
