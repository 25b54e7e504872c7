import { byId, setAlert } from '../dom.js';
import type { ChatStore } from '../store.js';

/** The bar above the chat: who is signed in, the sign-out button, and the banner for notices. */
export class TopBar {
  private readonly meName = byId('me-name');
  private readonly signOut = byId<HTMLButtonElement>('signout');
  private readonly banner = byId('chat-error');

  constructor(private readonly store: ChatStore) {
    const { me } = store.state;
    this.meName.textContent = me.displayName;
    this.meName.title = `${me.userId} (${me.org})`;
    this.signOut.addEventListener('click', () => store.end(), { signal: store.signal });
    store.on('notice', () => this.renderNotice());
    this.renderNotice();
  }

  private renderNotice(): void {
    setAlert(this.banner, this.store.state.notice);
  }
}
