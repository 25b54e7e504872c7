import { byId, excerpt, h, presenceDot } from '../dom.js';
import { conversationHash } from '../routes.js';
import type { ChatStore, Conversation } from '../store.js';

/**
 * The sidebar's list of conversations, newest activity first, kept live by the store: a presence
 * dot (private) or a group mark, the title, a muted mark, the unread count (and an @ when you are
 * mentioned) and a preview of the last message. A click opens the conversation by its address.
 * "Archived" switches to the archived conversations and back.
 */
export class ConversationList {
  private readonly list = byId<HTMLUListElement>('conv-list');
  private readonly empty = byId('conv-empty');
  private readonly title = byId('sidebar-title');
  private readonly archived = byId<HTMLButtonElement>('archived-toggle');

  constructor(private readonly store: ChatStore) {
    this.archived.addEventListener('click', () => store.guard(store.showArchived(!store.state.showArchived)), { signal: store.signal });
    store.on('conversations', () => this.render());
    store.on('presence', () => this.render());
    this.render();
  }

  private render(): void {
    // The list is drawn anew: keep the keyboard on the item it was on.
    const focusedId = (document.activeElement as HTMLElement | null)?.dataset?.conversationId;
    const conversations = this.store.sortedConversations();
    this.list.replaceChildren(...conversations.map((c) => h('li', {}, this.item(c))));
    this.empty.hidden = conversations.length > 0;
    const archived = this.store.state.showArchived;
    this.title.textContent = archived ? 'Archived' : 'Conversations';
    this.empty.textContent = archived ? 'No archived conversations.' : 'No conversations yet. Start one with “New”.';
    this.archived.setAttribute('aria-pressed', String(archived));
    this.archived.textContent = archived ? 'Back' : 'Archived';
    if (focusedId) this.list.querySelector<HTMLElement>(`[data-conversation-id="${CSS.escape(focusedId)}"]`)?.focus();
  }

  private item(c: Conversation): HTMLButtonElement {
    const { store } = this;
    const peer = c.type === 'PRIVATE' ? store.peerOf(c) : undefined;
    const marker = peer
      ? presenceDot(peer.id, peer.displayName, store.statusOf(peer.id, peer.presence.status))
      : h('span', { class: 'group-icon', 'aria-hidden': 'true' });
    const unread = c.unreadCount > 0;
    const muted = Boolean(store.mine(c)?.muted);
    const button = h(
      'button',
      {
        type: 'button',
        class: `conv-item${unread ? ' unread' : ''}${muted ? ' muted-conv' : ''}`,
        'data-muted': String(muted),
        'data-testid': 'conv-item',
        'data-conversation-id': c.id,
        'aria-current': store.state.open?.id === c.id ? 'true' : 'false',
      },
      marker,
      h(
        'span',
        { class: 'conv-name' },
        store.titleOf(c),
        muted ? h('span', { class: 'muted-mark', 'data-testid': 'muted-mark', title: 'Muted', 'aria-label': '(muted)' }, ' 🔕') : null,
      ),
      h(
        'span',
        { class: 'badges' },
        c.unreadMentionCount > 0
          ? h('span', { class: 'badge mention-badge', 'data-testid': 'mention-count', 'aria-label': `${c.unreadMentionCount} mentioning you` }, '@')
          : null,
        unread ? h('span', { class: 'badge', 'data-testid': 'unread-count', 'aria-label': `${c.unreadCount} unread` }, String(c.unreadCount)) : null,
      ),
      h('span', { class: 'conv-preview', 'data-testid': 'conv-preview' }, this.preview(c)),
    );
    button.addEventListener('click', () => {
      location.hash = conversationHash(c.id);
    });
    return button;
  }

  /**
   * The last message, with who wrote it unless the title already says so (the other person of a
   * private conversation) or the message does (a SYSTEM note).
   */
  private preview(c: Conversation): string {
    const last = c.lastMessage;
    if (!last) return 'No messages yet';
    // The style cuts it at two lines; this only keeps a long text out of the page.
    const text = last.deletedAt ? 'message deleted' : excerpt(last.content, 200);
    // A SYSTEM note (an expert joined) says who did it itself.
    if (last.authorRole === 'SYSTEM') return text;
    const where = last.threadId ? ' in a thread' : '';
    if (this.store.isMe(last.sender.id)) return `You${where}: ${text}`;
    if (c.type === 'PRIVATE') return last.threadId ? `In a thread: ${text}` : text;
    return `${last.sender.displayName}${where}: ${text}`;
  }
}
