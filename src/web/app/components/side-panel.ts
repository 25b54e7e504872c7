import { byId } from '../dom.js';
import type { ChatStore } from '../store.js';
import { pinsBody } from './pins-panel.js';
import { searchBody } from './search-panel.js';
import { ThreadComposer, threadBody } from './thread-panel.js';

const TITLES = { thread: 'Thread', pins: 'Pinned messages', search: 'Search' } as const;

/**
 * The panel beside the conversation (over it on a phone): a thread with its composer, the pinned
 * messages, or search results, whichever the store's `panel` says. Escape or × closes it.
 */
export class SidePanel {
  private readonly aside = byId('side-panel');
  private readonly title = byId('side-panel-title');
  private readonly body = byId('side-panel-body');
  private readonly close = byId<HTMLButtonElement>('side-panel-close');
  private readonly composer: ThreadComposer;
  private shownKind: string | null = null;

  constructor(private readonly store: ChatStore) {
    const { signal } = store;
    this.composer = new ThreadComposer(store);
    this.close.addEventListener('click', () => store.closePanel(), { signal });
    this.aside.addEventListener(
      'keydown',
      (e) => {
        if (e.key === 'Escape' && !e.defaultPrevented) store.closePanel();
      },
      { signal },
    );
    store.on('panel', () => this.render());
    this.render();
  }

  private render(): void {
    const { store } = this;
    const panel = store.state.panel;
    this.aside.hidden = !panel;
    document.body.classList.toggle('with-panel', Boolean(panel));
    this.composer.show(panel?.kind === 'thread' ? panel.root : null);
    if (!panel) {
      this.shownKind = null;
      this.body.replaceChildren();
      return;
    }
    this.title.textContent = TITLES[panel.kind];
    const scrolledToEnd = this.body.scrollHeight - this.body.scrollTop - this.body.clientHeight < 40;
    const content = panel.kind === 'thread' ? threadBody(store, panel) : panel.kind === 'pins' ? pinsBody(store, panel) : searchBody(store, panel);
    this.body.replaceChildren(content);
    // A thread follows its newest reply, as the conversation does.
    if (panel.kind === 'thread' && (scrolledToEnd || this.shownKind !== 'thread')) this.body.scrollTop = this.body.scrollHeight;
    // The keyboard goes to the new panel: a thread's composer (see ThreadComposer.show), else its close button.
    if (this.shownKind !== panel.kind && panel.kind !== 'thread') this.close.focus({ preventScroll: true });
    this.shownKind = panel.kind;
  }
}
