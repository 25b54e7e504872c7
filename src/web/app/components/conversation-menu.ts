import { byId } from '../dom.js';
import type { ChatStore } from '../store.js';

/** The open conversation's own buttons: its pinned messages, mute, archive. */
export class ConversationMenu {
  private readonly pins = byId<HTMLButtonElement>('pins-button');
  private readonly mute = byId<HTMLButtonElement>('mute-button');
  private readonly archive = byId<HTMLButtonElement>('archive-button');

  constructor(private readonly store: ChatStore) {
    const { signal } = store;
    this.pins.addEventListener('click', () => store.guard(store.openPins()), { signal });
    this.mute.addEventListener('click', () => this.run(this.mute, () => store.setMuted(!this.settings().muted)), { signal });
    this.archive.addEventListener(
      'click',
      () =>
        this.run(this.archive, async () => {
          const archived = !this.settings().archived;
          await store.setArchived(archived);
          // Archived, it leaves the list it was in: close it, as it is out of sight.
          if (archived !== store.state.showArchived) location.hash = '';
        }),
      { signal },
    );
    store.on('conversations', () => this.render());
    store.on('open', () => this.render());
    this.render();
  }

  private settings() {
    const c = this.store.openConversation();
    const mine = c && this.store.mine(c);
    return { muted: Boolean(mine?.muted), archived: Boolean(mine?.archived) };
  }

  private render(): void {
    const { muted, archived } = this.settings();
    this.mute.textContent = muted ? 'Unmute' : 'Mute';
    this.mute.setAttribute('aria-pressed', String(muted));
    this.archive.textContent = archived ? 'Unarchive' : 'Archive';
  }

  private run(button: HTMLButtonElement, work: () => Promise<void>): void {
    button.disabled = true;
    work()
      .catch((err) => this.store.report(err))
      .finally(() => (button.disabled = false));
  }
}
