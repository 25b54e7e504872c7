import { byId, h, presenceDot } from '../dom.js';
import type { ChatStore, MessagesChange } from '../store.js';
import type { ViewMessage } from '../view-message.js';
import { type MessageActions, messageElement } from './message.js';
import { StreamList } from './streams.js';

/**
 * The open conversation: its header (title, presence, members), its messages with their replies,
 * the button for older ones, "seen by" under the viewer's last message, agents' answers as they
 * stream, and who is typing. With none open, a placeholder instead; with no messages, an empty
 * state.
 */
export class MessagePane {
  private readonly placeholder = byId('conv-placeholder');
  private readonly pane = byId('conv-pane');
  private readonly title = byId('conv-title');
  private readonly presenceSlot = byId('conv-presence-slot');
  private readonly members = byId('conv-members');
  private readonly scroll = byId('messages-scroll');
  private readonly older = byId<HTMLButtonElement>('load-older');
  private readonly list = byId<HTMLOListElement>('messages');
  private readonly empty = byId('conv-empty-state');
  private readonly seenBy = h('li', { class: 'seen-by', 'data-testid': 'seen-by', 'aria-live': 'polite' });
  private readonly streams: StreamList;
  private readonly typing = byId('typing-indicator');
  private readonly handBack = byId<HTMLButtonElement>('hand-back');
  /** The element drawn for each message, redrawn when the store has a new version of it. */
  private readonly shown = new Map<string, { message: ViewMessage; el: HTMLLIElement }>();
  private readonly actions: MessageActions;

  constructor(private readonly store: ChatStore) {
    this.actions = {
      isMe: (userId) => store.isMe(userId),
      reply: (m) => store.setReply(m),
      showQuoted: (id) => this.showMessage(id),
      react: (m, emoji) => store.guard(store.toggleReaction(m, emoji)),
      openThread: (m) => store.guard(store.openThread(m)),
      togglePin: (m) => store.guard(store.togglePin(m)),
    };
    this.streams = new StreamList(store, byId<HTMLOListElement>('streams'));
    store.on('open', () => this.renderOpen());
    store.on('conversations', () => {
      this.renderHeader();
      this.renderSeenBy();
    });
    store.on('reveal', (id) => this.showMessage(id));
    store.on('presence', () => this.renderHeader());
    store.on('messages', (change) => this.renderMessages(change));
    store.on('typing', () => this.renderTyping());
    this.older.addEventListener(
      'click',
      () => {
        this.older.disabled = true;
        store
          .loadOlder()
          .catch((err) => store.report(err))
          .finally(() => (this.older.disabled = false));
      },
      { signal: store.signal },
    );
    this.handBack.addEventListener(
      'click',
      () => {
        this.handBack.disabled = true;
        store
          .handBack()
          .catch((err) => store.report(err))
          .finally(() => (this.handBack.disabled = false));
      },
      { signal: store.signal },
    );
    this.renderOpen();
    this.renderMessages('opened');
    this.renderTyping();
  }

  private renderOpen(): void {
    const open = this.store.state.open;
    this.placeholder.hidden = Boolean(open);
    this.pane.hidden = !open;
    this.renderHeader();
  }

  private renderHeader(): void {
    const { store } = this;
    const open = store.state.open;
    const c = store.openConversation();
    this.handBack.hidden = !store.canHandBack();
    if (!c) {
      this.title.textContent = open ? 'Conversation' : '';
      this.presenceSlot.replaceChildren();
      this.members.replaceChildren();
      return;
    }
    this.title.textContent = store.titleOf(c);
    const peer = c.type === 'PRIVATE' ? store.peerOf(c) : undefined;
    this.presenceSlot.replaceChildren(peer ? presenceDot(peer.id, peer.displayName, store.statusOf(peer.id, peer.presence.status), 'conv-presence') : '');
    if (c.type === 'PRIVATE') {
      this.members.textContent = peer ? `@${peer.id}` : '';
      return;
    }
    this.members.replaceChildren(
      ...c.participants.map((p) =>
        h(
          'span',
          { class: 'member' },
          presenceDot(p.user.id, p.user.displayName, store.statusOf(p.user.id, p.user.presence.status)),
          store.isMe(p.user.id) ? `${p.user.displayName} (you)` : p.user.displayName,
        ),
      ),
    );
  }

  /** Brings the list in line with the store's messages, drawing only new and changed ones. */
  private renderMessages(change: MessagesChange): void {
    const open = this.store.state.open;
    const messages = open?.messages ?? [];
    const wasNearBottom = this.nearBottom();
    const heightBefore = this.scroll.scrollHeight;
    this.seenBy.remove();
    const current = new Set<string>();
    let next: ChildNode | null = this.list.firstChild;
    for (const m of messages) {
      current.add(m.id);
      let entry = this.shown.get(m.id);
      if (entry && entry.message !== m) {
        if (entry.el === next) next = next.nextSibling;
        entry.el.remove();
        entry = undefined;
      }
      if (!entry) {
        entry = { message: m, el: messageElement(m, this.actions) };
        this.shown.set(m.id, entry);
      }
      if (entry.el === next) next = next.nextSibling;
      else this.list.insertBefore(entry.el, next);
    }
    for (const [id, entry] of this.shown) {
      if (current.has(id)) continue;
      entry.el.remove();
      this.shown.delete(id);
    }
    this.older.hidden = !open?.hasOlder;
    this.empty.hidden = !open || open.loading || messages.length > 0 || open.hasOlder || open.streams.length > 0;
    this.streams.render();
    this.renderSeenBy();

    if (change === 'opened' || change === 'mine' || ((change === 'live' || change === 'streams') && wasNearBottom)) this.scrollToBottom();
    // Keep what the reader was looking at in place.
    else if (change === 'older') this.scroll.scrollTop += this.scroll.scrollHeight - heightBefore;
  }

  /** "Seen by …" under the viewer's last message, from the others' read markers. */
  private renderSeenBy(): void {
    const { store } = this;
    const messages = store.state.open?.messages ?? [];
    const last = [...messages].reverse().find((m) => store.isMe(m.senderId) && m.authorRole !== 'SYSTEM');
    const names = last ? store.seenBy(last.seq) : [];
    const el = last && this.shown.get(last.id)?.el;
    if (!el || names.length === 0) {
      this.seenBy.remove();
      return;
    }
    // A big group's list is cut short: the first few, then how many more.
    const shown = names.length > 4 ? `${names.slice(0, 3).join(', ')} and ${names.length - 3} others` : names.join(', ');
    this.seenBy.textContent = `Seen by ${shown}`;
    this.seenBy.title = names.join(', ');
    if (el.nextSibling !== this.seenBy) el.after(this.seenBy);
  }

  private renderTyping(): void {
    const names = this.store.typingNames();
    this.typing.textContent =
      names.length === 0
        ? ''
        : names.length === 1
          ? `${names[0]} is typing…`
          : names.length === 2
            ? `${names[0]} and ${names[1]} are typing…`
            : `${names.length} people are typing…`;
  }

  private showMessage(id: string): void {
    const li = this.shown.get(id)?.el;
    if (!li) {
      this.store.notify('That message is further back: load older messages to see it.');
      return;
    }
    li.scrollIntoView({ block: 'center', behavior: 'smooth' });
    li.classList.add('highlight');
    setTimeout(() => li.classList.remove('highlight'), 1_500);
  }

  private nearBottom(): boolean {
    const s = this.scroll;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  private scrollToBottom(): void {
    this.scroll.scrollTop = this.scroll.scrollHeight;
  }
}
