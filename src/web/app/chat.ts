import {
  WebConversationDocument,
  WebConversationsDocument,
  WebMessagesDocument,
  type WebConversationFragment,
  type WebMessageFragment,
} from '../../client/generated/graphql.js';
import { createSwitchboardClient, SwitchboardError, type Message, type SwitchboardClient } from '../../client/index.js';
import { append, byId, excerpt, fullTime, h, presenceDot, setAlert, shortTime, updatePresenceDots } from './dom.js';
import type { Session } from './session.js';

/** What the view needs of a message, whether it came from history or live. */
type ViewMessage = {
  id: string;
  seq: number;
  senderId: string;
  senderName: string;
  content: string;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  replyTo: Quote | null;
};
/** The quoted message of a reply; `content` is null until it is known. */
type Quote = { id: string; seq: number; senderName: string | null; content: string | null; deleted: boolean };

type OpenConversation = {
  id: string;
  messages: ViewMessage[];
  byId: Map<string, ViewMessage>;
  olderCursor: string | null;
  hasOlder: boolean;
  offs: (() => void)[];
  /** Who is typing, with the timer that forgets them if their "stopped" never comes. */
  typing: Map<string, ReturnType<typeof setTimeout>>;
  readSeq: number;
  markTimer?: ReturnType<typeof setTimeout>;
};

const PAGE = 50;
/** The list is re-read this often (and when the tab comes back), to catch what no event tells. */
const REFRESH_MS = 30_000;
/** Someone's "typing" is dropped after this long without news (the server's own expiry is 8 s). */
const TYPING_SHOWN_MS = 10_000;
/** Our own "typing" is withdrawn after this long without a keystroke. */
const TYPING_IDLE_MS = 5_000;

const fromHistory = (m: WebMessageFragment): ViewMessage => ({
  id: m.id,
  seq: m.seq,
  senderId: m.sender.id,
  senderName: m.sender.displayName,
  content: m.content,
  createdAt: m.createdAt,
  editedAt: m.editedAt,
  deletedAt: m.deletedAt,
  replyTo: m.replyTo && {
    id: m.replyTo.id,
    seq: m.replyTo.seq,
    senderName: m.replyTo.sender.displayName,
    content: m.replyTo.content,
    deleted: Boolean(m.replyTo.deletedAt),
  },
});

const fromLive = (m: Message): ViewMessage => ({
  id: m.id,
  seq: m.seq,
  senderId: m.sender.id,
  senderName: m.sender.displayName,
  content: m.content,
  createdAt: m.createdAt,
  editedAt: m.editedAt,
  deletedAt: m.deletedAt,
  replyTo: m.replyTo && { id: m.replyTo.id, seq: m.replyTo.seq, senderName: null, content: null, deleted: false },
});

/**
 * The signed-in chat: conversation list with unread counts and presence, one open conversation
 * with live messages, replies and typing, and the new-conversation dialog. Everything goes
 * through the project's typed client: HTTP for requests, one graphql-ws socket for the rest.
 */
export class Chat {
  private readonly client: SwitchboardClient;
  private readonly abort = new AbortController();
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  private conversations = new Map<string, WebConversationFragment>();
  private readonly presence = new Map<string, string>();
  private readonly names = new Map<string, string>();
  private open: OpenConversation | null = null;
  private offGlobal: (() => void) | null = null;
  private presenceSub: { key: string; off: () => void } | null = null;
  private refreshing: Promise<void> | null = null;
  private replyTo: ViewMessage | null = null;
  private typingAnnounced = false;
  private typingIdle?: ReturnType<typeof setTimeout>;
  private stopped = false;

  private readonly el = {
    meName: byId('me-name'),
    signOut: byId<HTMLButtonElement>('signout'),
    list: byId<HTMLUListElement>('conv-list'),
    empty: byId('conv-empty'),
    placeholder: byId('conv-placeholder'),
    pane: byId('conv-pane'),
    title: byId('conv-title'),
    presenceSlot: byId('conv-presence-slot'),
    members: byId('conv-members'),
    scroll: byId('messages-scroll'),
    older: byId<HTMLButtonElement>('load-older'),
    messages: byId<HTMLOListElement>('messages'),
    typing: byId('typing-indicator'),
    composer: byId<HTMLFormElement>('composer'),
    input: byId<HTMLTextAreaElement>('composer-input'),
    send: byId<HTMLButtonElement>('composer-send'),
    composerError: byId('composer-error'),
    replyPreview: byId('reply-preview'),
    replyText: byId('reply-preview-text'),
    replyCancel: byId<HTMLButtonElement>('reply-cancel'),
    chatError: byId('chat-error'),
    newButton: byId<HTMLButtonElement>('new-conv-button'),
    dialog: byId<HTMLDialogElement>('new-conv-dialog'),
    newForm: byId<HTMLFormElement>('new-conv-form'),
    newPrivate: byId<HTMLInputElement>('new-conv-private'),
    newGroup: byId<HTMLInputElement>('new-conv-group'),
    newPrivateFields: byId('new-conv-private-fields'),
    newGroupFields: byId('new-conv-group-fields'),
    newUser: byId<HTMLInputElement>('new-conv-user'),
    newName: byId<HTMLInputElement>('new-conv-name'),
    newMembers: byId<HTMLInputElement>('new-conv-members'),
    newError: byId('new-conv-error'),
    newCancel: byId<HTMLButtonElement>('new-conv-cancel'),
    newSubmit: byId<HTMLButtonElement>('new-conv-submit'),
  };

  constructor(
    private readonly session: Session,
    endpoint: string,
    /** Called once the chat has stopped because of signing out or a dead session. */
    private readonly onEnd: (message?: string) => void,
  ) {
    this.client = createSwitchboardClient({ url: endpoint, token: session.token });
    this.names.set(session.userId, session.displayName);
  }

  start(): void {
    const { el } = this;
    type Events = HTMLElementEventMap & WindowEventMap & DocumentEventMap;
    const on = <K extends keyof Events>(target: EventTarget, type: K, fn: (e: Events[K]) => void) =>
      target.addEventListener(type, fn as EventListener, { signal: this.abort.signal });

    el.meName.textContent = this.session.displayName;
    el.meName.title = `${this.session.userId} (${this.session.org})`;
    on(el.signOut, 'click', () => this.end());
    on(el.older, 'click', () => this.guard(this.loadOlder()));
    on(el.composer, 'submit', (e) => {
      e.preventDefault();
      this.guard(this.send());
    });
    on(el.input, 'keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        el.composer.requestSubmit();
      } else if (e.key === 'Escape' && this.replyTo) {
        this.setReply(null);
      }
    });
    on(el.input, 'input', () => this.typed());
    on(el.input, 'blur', () => this.stopTyping());
    on(el.replyCancel, 'click', () => {
      this.setReply(null);
      el.input.focus();
    });
    on(el.newButton, 'click', () => this.openDialog());
    on(el.newCancel, 'click', () => el.dialog.close());
    on(el.newPrivate, 'change', () => this.dialogKind());
    on(el.newGroup, 'change', () => this.dialogKind());
    on(el.newForm, 'submit', (e) => {
      e.preventDefault();
      void this.createConversation();
    });
    on(window, 'hashchange', () => this.guard(this.openFromHash()));
    on(document, 'visibilitychange', () => {
      if (document.visibilityState !== 'visible') return;
      this.markReadSoon();
      this.guard(this.refresh());
    });

    // Every new message of every conversation: list order, previews and unread counts.
    this.offGlobal = this.client.onMessage(null, (m) => this.onAnyMessage(m));
    const interval = setInterval(() => this.guard(this.refresh()), REFRESH_MS);
    this.timers.push(interval);
    // The socket closes at the token's expiry; the page signs out then.
    this.timers.push(setTimeout(() => this.end('Your session has expired. Please sign in again.'), Math.max(0, this.session.expiresAt - Date.now())));
    this.guard(this.refresh().then(() => this.openFromHash()));
  }

  /** Stops everything; with a message, shown on the sign-in page. */
  end(message?: string): void {
    if (this.stopped) return;
    this.stopped = true;
    this.stopTyping();
    this.closeConversation();
    this.offGlobal?.();
    this.presenceSub?.off();
    for (const t of this.timers) clearTimeout(t);
    this.abort.abort();
    if (this.el.dialog.open) this.el.dialog.close();
    this.el.list.replaceChildren();
    void this.client.close();
    if (location.hash) history.replaceState(null, '', location.pathname + location.search);
    this.onEnd(message);
  }

  /** Runs a promise, turning a failure into a message (or, for a dead session, a sign-out). */
  private guard(work: Promise<unknown>): void {
    work.catch((err) => this.fail(err));
  }

  private fail(err: unknown, where: HTMLElement = this.el.chatError): void {
    if (this.stopped) return;
    if (err instanceof SwitchboardError && err.code === 'UNAUTHENTICATED') {
      this.end('Your session is no longer valid. Please sign in again.');
      return;
    }
    setAlert(where, err instanceof Error ? err.message : String(err));
    if (where === this.el.chatError) {
      const t = setTimeout(() => setAlert(where, null), 8_000);
      this.timers.push(t);
    }
  }

  // ---- Conversation list ----

  /** Re-reads the conversation list (at most one read at a time). */
  private refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const data = await this.client.request(WebConversationsDocument, { first: 100 });
        if (this.stopped) return;
        this.conversations = new Map(data.conversations.nodes.map((c) => [c.id, c]));
        for (const c of this.conversations.values()) {
          for (const p of c.participants) {
            this.names.set(p.user.id, p.user.displayName);
            this.presence.set(p.user.id, p.user.presence.status);
          }
        }
        const open = this.open && this.conversations.get(this.open.id);
        if (open && document.visibilityState === 'visible') {
          open.unreadCount = 0;
          this.markReadSoon();
        }
        this.renderList();
        this.renderHeader();
        this.syncPresence();
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  private peerOf(c: WebConversationFragment) {
    return c.participants.find((p) => p.user.id !== this.session.userId)?.user ?? c.participants[0]?.user;
  }

  private titleOf(c: WebConversationFragment): string {
    if (c.type === 'PRIVATE') return this.peerOf(c)?.displayName ?? 'Private conversation';
    if (c.name) return c.name;
    return c.participants.map((p) => p.user.displayName).join(', ') || 'Group';
  }

  private renderList(): void {
    const { list, empty } = this.el;
    const focusedId = (document.activeElement as HTMLElement | null)?.dataset?.conversationId;
    const sorted = [...this.conversations.values()].sort((a, b) => b.lastActivityAt.localeCompare(a.lastActivityAt));
    list.replaceChildren(
      ...sorted.map((c) => {
        const title = this.titleOf(c);
        const peer = c.type === 'PRIVATE' ? this.peerOf(c) : undefined;
        const marker = peer
          ? presenceDot(peer.id, peer.displayName, this.presence.get(peer.id) ?? peer.presence.status)
          : h('span', { class: 'group-icon', 'aria-hidden': 'true' });
        const last = c.lastMessage;
        const preview = last
          ? `${last.sender.id === this.session.userId ? 'You' : last.sender.displayName}: ${last.deletedAt ? 'message deleted' : excerpt(last.content, 60)}`
          : 'No messages yet';
        const unread = c.unreadCount > 0;
        const button = h(
          'button',
          {
            type: 'button',
            class: `conv-item${unread ? ' unread' : ''}`,
            'data-testid': 'conv-item',
            'data-conversation-id': c.id,
            'aria-current': this.open?.id === c.id ? 'true' : 'false',
          },
          marker,
          h('span', { class: 'conv-name' }, title),
          unread
            ? h('span', { class: 'badge', 'data-testid': 'unread-count', 'aria-label': `${c.unreadCount} unread` }, String(c.unreadCount))
            : h('span', {}),
          h('span', { class: 'conv-preview' }, preview),
        );
        button.addEventListener('click', () => {
          location.hash = `#/c/${encodeURIComponent(c.id)}`;
        });
        return h('li', {}, button);
      }),
    );
    empty.hidden = sorted.length > 0;
    if (focusedId) list.querySelector<HTMLElement>(`[data-conversation-id="${CSS.escape(focusedId)}"]`)?.focus();
  }

  /** One presence subscription for everyone the viewer talks with; renewed when that set changes. */
  private syncPresence(): void {
    const ids = new Set<string>();
    for (const c of this.conversations.values()) for (const p of c.participants) if (p.user.id !== this.session.userId) ids.add(p.user.id);
    const sorted = [...ids].sort().slice(0, 500);
    const key = sorted.join('\n');
    if (this.presenceSub?.key === key) return;
    this.presenceSub?.off();
    this.presenceSub = sorted.length
      ? {
          key,
          off: this.client.onPresence(sorted, (e) => {
            this.presence.set(e.user.id, e.status);
            updatePresenceDots(document, e.user.id, e.status);
          }),
        }
      : null;
  }

  private onAnyMessage(m: Message): void {
    const c = this.conversations.get(m.conversationId);
    if (!c) {
      // A conversation we have not seen yet: someone started it with us.
      this.guard(this.refresh());
      return;
    }
    if (m.seq > c.lastSeq) c.lastSeq = m.seq;
    if (!c.lastMessage || m.seq >= c.lastMessage.seq) {
      c.lastMessage = {
        id: m.id,
        seq: m.seq,
        content: m.content,
        deletedAt: m.deletedAt,
        createdAt: m.createdAt,
        sender: { id: m.sender.id, displayName: m.sender.displayName },
      };
      if (m.createdAt > c.lastActivityAt) c.lastActivityAt = m.createdAt;
    }
    const viewing = this.open?.id === m.conversationId && document.visibilityState === 'visible';
    if (m.sender.id !== this.session.userId && !viewing) c.unreadCount += 1;
    this.renderList();
  }

  // ---- One conversation ----

  private async openFromHash(): Promise<void> {
    const match = /^#\/c\/(.+)$/.exec(location.hash);
    const id = match ? decodeURIComponent(match[1]!) : null;
    if (!id) {
      this.closeConversation();
      return;
    }
    if (this.open?.id === id) return;
    if (!this.conversations.has(id)) {
      const { conversation } = await this.client.request(WebConversationDocument, { id });
      if (!conversation) {
        setAlert(this.el.chatError, 'That conversation does not exist, or you are not in it.');
        history.replaceState(null, '', location.pathname + location.search);
        this.closeConversation();
        return;
      }
      this.conversations.set(id, conversation);
      this.renderList();
      this.syncPresence();
    }
    await this.openConversation(id);
  }

  private closeConversation(): void {
    const open = this.open;
    if (!open) return;
    this.stopTyping();
    for (const off of open.offs) off();
    for (const t of open.typing.values()) clearTimeout(t);
    clearTimeout(open.markTimer);
    this.open = null;
    this.setReply(null);
    this.el.pane.hidden = true;
    this.el.placeholder.hidden = false;
    this.renderList();
  }

  private async openConversation(id: string): Promise<void> {
    this.closeConversation();
    const open: OpenConversation = { id, messages: [], byId: new Map(), olderCursor: null, hasOlder: false, offs: [], typing: new Map(), readSeq: 0 };
    this.open = open;
    const { el } = this;
    el.placeholder.hidden = true;
    el.pane.hidden = false;
    el.messages.replaceChildren();
    el.older.hidden = true;
    setAlert(el.composerError, null);
    this.renderTyping();
    this.renderHeader();
    this.renderList();

    const { messages: page } = await this.client.request(WebMessagesDocument, { conversationId: id, last: PAGE });
    if (this.open !== open) return;
    open.olderCursor = page.pageInfo.startCursor ?? null;
    open.hasOlder = page.pageInfo.hasPreviousPage;
    this.addMessages(page.nodes.map(fromHistory));
    el.older.hidden = !open.hasOlder;
    this.scrollToBottom();

    // Live from the last message shown: the server replays anything sent since, with no gap.
    const afterSeq = open.messages.at(-1)?.seq ?? 0;
    open.offs.push(
      this.client.onMessage(id, (m) => this.onLiveMessage(open, m), { afterSeq, onError: (err) => this.fail(err) }),
      this.client.onMessageUpdated(id, (m) => this.replaceMessage(open, m)),
      this.client.onMessageDeleted(id, (m) => this.replaceMessage(open, m)),
      this.client.onTyping(id, (e) => {
        if (e.user.id === this.session.userId) return;
        this.setTyping(open, e.user.id, e.isTyping);
      }),
    );
    this.markReadSoon();
    el.input.focus();
  }

  private renderHeader(): void {
    const open = this.open;
    const c = open && this.conversations.get(open.id);
    const { title, presenceSlot, members } = this.el;
    if (!c) {
      title.textContent = open ? 'Conversation' : '';
      presenceSlot.replaceChildren();
      members.replaceChildren();
      return;
    }
    title.textContent = this.titleOf(c);
    const peer = c.type === 'PRIVATE' ? this.peerOf(c) : undefined;
    presenceSlot.replaceChildren(
      peer ? presenceDot(peer.id, peer.displayName, this.presence.get(peer.id) ?? peer.presence.status, 'conv-presence') : '',
    );
    if (c.type === 'PRIVATE') {
      members.textContent = peer ? `@${peer.id}` : '';
    } else {
      members.replaceChildren(
        ...c.participants.map((p) =>
          h(
            'span',
            { class: 'member' },
            presenceDot(p.user.id, p.user.displayName, this.presence.get(p.user.id) ?? p.user.presence.status),
            p.user.id === this.session.userId ? `${p.user.displayName} (you)` : p.user.displayName,
          ),
        ),
      );
    }
  }

  private onLiveMessage(open: OpenConversation, m: Message): void {
    if (this.open !== open) return;
    this.setTyping(open, m.sender.id, false);
    const wasAtBottom = this.nearBottom();
    this.addMessages([fromLive(m)]);
    if (wasAtBottom || m.sender.id === this.session.userId) this.scrollToBottom();
    this.markReadSoon();
  }

  private replaceMessage(open: OpenConversation, m: Message): void {
    const existing = open.byId.get(m.id);
    if (this.open !== open || !existing) return;
    Object.assign(existing, { content: m.content, editedAt: m.editedAt, deletedAt: m.deletedAt });
    this.renderMessage(existing);
    // Replies quoting it show the change too.
    for (const other of open.messages) {
      if (other.replyTo?.id === m.id) {
        other.replyTo.content = m.content;
        other.replyTo.deleted = Boolean(m.deletedAt);
        this.renderMessage(other);
      }
    }
  }

  /** Inserts messages in seq order (ignoring ones already shown) and renders them. */
  private addMessages(messages: ViewMessage[]): void {
    const open = this.open;
    if (!open) return;
    for (const m of messages) {
      if (open.byId.has(m.id)) continue;
      if (m.replyTo && m.replyTo.content === null) this.fillQuote(open, m);
      open.byId.set(m.id, m);
      let index = open.messages.length;
      while (index > 0 && open.messages[index - 1]!.seq > m.seq) index--;
      open.messages.splice(index, 0, m);
      const li = this.messageElement(m);
      const next = open.messages[index + 1];
      const nextEl = next ? document.getElementById(`msg-${next.id}`) : null;
      this.el.messages.insertBefore(li, nextEl);
    }
  }

  /** A live reply carries only the quoted message's id: fill in the rest from what is shown, or read it. */
  private fillQuote(open: OpenConversation, m: ViewMessage): void {
    const quote = m.replyTo!;
    const known = open.byId.get(quote.id);
    if (known) {
      Object.assign(quote, { senderName: known.senderName, content: known.content, deleted: Boolean(known.deletedAt) });
      return;
    }
    this.guard(
      this.client.request(WebMessagesDocument, { conversationId: open.id, since: m.createdAt, first: PAGE }).then(({ messages }) => {
        const full = messages.nodes.find((n) => n.id === m.id);
        if (!full?.replyTo || this.open !== open) return;
        m.replyTo = fromHistory(full).replyTo;
        this.renderMessage(m);
      }),
    );
  }

  private messageElement(m: ViewMessage): HTMLLIElement {
    const mine = m.senderId === this.session.userId;
    const li = h('li', {
      id: `msg-${m.id}`,
      class: `message${mine ? ' mine' : ''}${m.deletedAt ? ' deleted' : ''}`,
      'data-testid': 'message',
      'data-seq': m.seq,
      'data-message-id': m.id,
      'data-sender-id': m.senderId,
    });
    const quote = m.replyTo
      ? h(
          'button',
          {
            type: 'button',
            class: 'quote',
            'data-testid': 'reply-quote',
            'data-reply-to-seq': m.replyTo.seq,
            'aria-label': `In reply to ${m.replyTo.senderName ?? 'a message'}${m.replyTo.content ? `: ${excerpt(m.replyTo.content, 120)}` : ''}. Show it.`,
          },
          h('span', { class: 'quote-author' }, m.replyTo.senderName ?? `Message #${m.replyTo.seq}`),
          h('span', { class: 'quote-text' }, m.replyTo.deleted ? 'message deleted' : m.replyTo.content === null ? '…' : excerpt(m.replyTo.content, 140)),
        )
      : null;
    quote?.addEventListener('click', () => this.showMessage(m.replyTo!.id));
    const reply = h('button', { type: 'button', class: 'reply', 'data-testid': 'reply-button', 'aria-label': `Reply to ${m.senderName}` }, 'Reply');
    reply.addEventListener('click', () => {
      this.setReply(m);
      this.el.input.focus();
    });
    append(
      li,
      quote,
      h(
        'div',
        { class: 'meta' },
        h('span', { class: 'author' }, mine ? 'You' : m.senderName),
        h('time', { datetime: m.createdAt, title: fullTime(m.createdAt) }, shortTime(m.createdAt)),
        m.editedAt && !m.deletedAt ? h('span', { class: 'edited' }, '(edited)') : null,
        m.deletedAt ? null : reply,
      ),
      h('p', { class: 'content', 'data-testid': 'message-content' }, m.deletedAt ? 'This message was deleted.' : m.content),
    );
    return li;
  }

  private renderMessage(m: ViewMessage): void {
    document.getElementById(`msg-${m.id}`)?.replaceWith(this.messageElement(m));
  }

  private showMessage(id: string): void {
    const li = document.getElementById(`msg-${id}`);
    if (!li) {
      setAlert(this.el.chatError, 'That message is further back: load older messages to see it.');
      return;
    }
    li.scrollIntoView({ block: 'center', behavior: 'smooth' });
    li.classList.add('highlight');
    setTimeout(() => li.classList.remove('highlight'), 1_500);
  }

  private async loadOlder(): Promise<void> {
    const open = this.open;
    if (!open?.olderCursor) return;
    const { older, scroll } = this.el;
    older.disabled = true;
    try {
      const { messages: page } = await this.client.request(WebMessagesDocument, { conversationId: open.id, last: PAGE, before: open.olderCursor });
      if (this.open !== open) return;
      const before = scroll.scrollHeight;
      this.addMessages(page.nodes.map(fromHistory));
      // Keep what the reader was looking at in place.
      scroll.scrollTop += scroll.scrollHeight - before;
      open.olderCursor = page.pageInfo.startCursor ?? open.olderCursor;
      open.hasOlder = page.pageInfo.hasPreviousPage;
      older.hidden = !open.hasOlder;
    } finally {
      older.disabled = false;
    }
  }

  private nearBottom(): boolean {
    const s = this.el.scroll;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }

  private scrollToBottom(): void {
    this.el.scroll.scrollTop = this.el.scroll.scrollHeight;
  }

  /** Moves the read marker to the newest message shown, shortly, while the page is visible. */
  private markReadSoon(): void {
    const open = this.open;
    if (!open || document.visibilityState !== 'visible') return;
    clearTimeout(open.markTimer);
    open.markTimer = setTimeout(() => {
      if (this.open !== open) return;
      const seq = open.messages.at(-1)?.seq ?? 0;
      const c = this.conversations.get(open.id);
      if (c && c.unreadCount !== 0) {
        c.unreadCount = 0;
        this.renderList();
      }
      if (seq > open.readSeq) {
        open.readSeq = seq;
        this.guard(this.client.markRead(open.id, seq));
      }
    }, 200);
  }

  // ---- Typing ----

  private setTyping(open: OpenConversation, userId: string, isTyping: boolean): void {
    clearTimeout(open.typing.get(userId));
    if (isTyping) open.typing.set(userId, setTimeout(() => this.setTyping(open, userId, false), TYPING_SHOWN_MS));
    else open.typing.delete(userId);
    if (this.open === open) this.renderTyping();
  }

  private renderTyping(): void {
    const names = [...(this.open?.typing.keys() ?? [])].map((id) => this.names.get(id) ?? id);
    this.el.typing.textContent =
      names.length === 0
        ? ''
        : names.length === 1
          ? `${names[0]} is typing…`
          : names.length === 2
            ? `${names[0]} and ${names[1]} are typing…`
            : `${names.length} people are typing…`;
  }

  /** A keystroke in the composer: announce typing (the client sends at most one per 3 s). */
  private typed(): void {
    const open = this.open;
    if (!open) return;
    clearTimeout(this.typingIdle);
    if (this.el.input.value.trim() === '') {
      this.stopTyping();
      return;
    }
    this.typingAnnounced = true;
    this.client.setTyping(open.id, true).catch(() => {});
    this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  private stopTyping(): void {
    clearTimeout(this.typingIdle);
    if (!this.typingAnnounced || !this.open) return;
    this.typingAnnounced = false;
    this.client.setTyping(this.open.id, false).catch(() => {});
  }

  // ---- Sending ----

  private setReply(m: ViewMessage | null): void {
    this.replyTo = m;
    const { replyPreview, replyText } = this.el;
    replyPreview.hidden = !m;
    replyText.textContent = m ? `Replying to ${m.senderId === this.session.userId ? 'yourself' : m.senderName}: ${excerpt(m.content, 100)}` : '';
  }

  private async send(): Promise<void> {
    const open = this.open;
    const { input, composerError } = this.el;
    const content = input.value.trim();
    if (!open || !content) return;
    const replyTo = this.replyTo;
    input.value = '';
    this.setReply(null);
    this.stopTyping();
    setAlert(composerError, null);
    try {
      const sent = await this.client.sendMessage({ conversationId: open.id, content, replyToId: replyTo?.id });
      this.onLiveMessage(open, sent);
    } catch (err) {
      if (this.open === open && input.value === '') {
        input.value = content;
        this.setReply(replyTo);
      }
      this.fail(err, composerError);
    }
  }

  // ---- New conversation ----

  private openDialog(): void {
    const { el } = this;
    el.newForm.reset();
    this.dialogKind();
    setAlert(el.newError, null);
    el.dialog.showModal();
    el.newUser.focus();
  }

  private dialogKind(): void {
    const group = this.el.newGroup.checked;
    this.el.newGroupFields.hidden = !group;
    this.el.newPrivateFields.hidden = group;
  }

  private async createConversation(): Promise<void> {
    const { el } = this;
    setAlert(el.newError, null);
    el.newSubmit.disabled = true;
    try {
      const me = this.session.userId;
      let id: string;
      if (el.newPrivate.checked) {
        const userId = el.newUser.value.trim();
        if (!userId) throw new Error('Enter the user id of the person to talk with.');
        if (userId === me) throw new Error('That is you: enter someone else’s user id.');
        await this.requireUsers([userId]);
        id = (await this.client.directConversation(userId)).id;
      } else {
        const name = el.newName.value.trim();
        const ids = [...new Set(el.newMembers.value.split(/[\s,;]+/).filter((s) => s && s !== me))];
        if (!name) throw new Error('Give the group a name.');
        if (ids.length === 0) throw new Error('Add at least one member by user id.');
        await this.requireUsers(ids);
        id = (await this.client.createConversation({ type: 'GROUP', name, participantIds: ids })).id;
      }
      el.dialog.close();
      await this.refresh();
      location.hash = `#/c/${encodeURIComponent(id)}`;
    } catch (err) {
      this.fail(err, el.newError);
    } finally {
      el.newSubmit.disabled = false;
    }
  }

  /** Refuses ids nobody has signed in or signed up with, instead of creating empty users. */
  private async requireUsers(ids: string[]): Promise<void> {
    const found = await Promise.all(ids.map((id) => this.client.user(id)));
    const missing = ids.filter((_, i) => !found[i]);
    if (missing.length) {
      throw new Error(`No user ${missing.map((id) => `“${id}”`).join(', ')} in your organization yet.`);
    }
  }
}

