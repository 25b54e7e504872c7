import {
  type ExpertRequestFieldsFragment,
  type PresenceStatus,
  WebConversationDocument,
  type WebConversationFragment,
  WebConversationsDocument,
  WebMessagesDocument,
} from '../../client/generated/graphql.js';
import { createSwitchboardClient, type Message, type SwitchboardClient, SwitchboardError } from '../../client/index.js';
import type { Session } from './session.js';
import { fromHistory, fromLive, type ViewMessage } from './view-message.js';

/**
 * The signed-in chat's state and everything that changes it. Actions go through the project's
 * typed client (HTTP for requests, one graphql-ws socket for the rest); each change is announced
 * on a topic, and the components (./components) render from the state when a topic they show
 * changes. Components never change the state themselves: they call actions.
 */

export type Conversation = WebConversationFragment;
export type ExpertRequest = ExpertRequestFieldsFragment;

/** The open conversation, as the components see it. */
export type OpenConversation = {
  readonly id: string;
  /** In seq order. */
  readonly messages: readonly ViewMessage[];
  readonly hasOlder: boolean;
};

/** Why the open conversation's messages changed, which decides where the message pane scrolls. */
export type MessagesChange = 'opened' | 'older' | 'live' | 'mine' | 'updated';

/** The topics a component can listen to, with what each carries. */
type Topics = {
  /** The list: conversations, their order, previews, unread counts, titles and members. */
  conversations: [];
  presence: [];
  /** Another conversation was opened, or none is. */
  open: [];
  messages: [MessagesChange];
  typing: [];
  reply: [];
  /** The banner above the chat. */
  notice: [];
  /** The experts' queue of open requests. */
  desk: [];
  /** The chat stopped (signed out, or the session ended); with a message for the sign-in page. */
  end: [message: string | undefined];
};

export type ChatState = {
  readonly me: Session;
  conversations: Map<string, Conversation>;
  /** Presence by user id, as last heard. */
  presence: Map<string, PresenceStatus>;
  open: OpenConversation | null;
  /** The message the composer replies to. */
  replyTo: ViewMessage | null;
  notice: string | null;
  /** For experts: the org's open expert requests, oldest first. Null for everyone else. */
  desk: { requests: ExpertRequest[] } | null;
};

/** The open conversation with the bookkeeping components do not see. */
type Opened = {
  id: string;
  messages: ViewMessage[];
  hasOlder: boolean;
  olderCursor: string | null;
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
/** A notice in the banner goes away after this long. */
const NOTICE_MS = 8_000;

const visible = () => document.visibilityState === 'visible';

export class ChatStore {
  readonly state: ChatState;
  /** Aborted when the chat stops: components register their DOM listeners with it. */
  readonly signal: AbortSignal;

  private readonly client: SwitchboardClient;
  private readonly abort = new AbortController();
  private readonly listeners = new Map<keyof Topics, ((...args: never[]) => void)[]>();
  private readonly timers: ReturnType<typeof setTimeout>[] = [];
  private readonly names = new Map<string, string>();
  private opened: Opened | null = null;
  private offGlobal: (() => void) | null = null;
  private offDesk: (() => void) | null = null;
  private presenceSub: { key: string; off: () => void } | null = null;
  private refreshing: Promise<void> | null = null;
  private noticeTimer?: ReturnType<typeof setTimeout>;
  private typingAnnounced = false;
  private typingIdle?: ReturnType<typeof setTimeout>;
  private stopped = false;

  constructor(session: Session, endpoint: string) {
    this.client = createSwitchboardClient({ url: endpoint, token: session.token });
    this.signal = this.abort.signal;
    this.state = { me: session, conversations: new Map(), presence: new Map(), open: null, replyTo: null, notice: null, desk: null };
    this.names.set(session.userId, session.displayName);
  }

  on<T extends keyof Topics>(topic: T, listener: (...args: Topics[T]) => void): void {
    const listeners = this.listeners.get(topic) ?? [];
    listeners.push(listener as (...args: never[]) => void);
    this.listeners.set(topic, listeners);
  }

  private emit<T extends keyof Topics>(topic: T, ...args: Topics[T]): void {
    for (const listener of this.listeners.get(topic) ?? []) (listener as (...args: Topics[T]) => void)(...args);
  }

  // ---- Reading the state ----

  isMe(userId: string): boolean {
    return userId === this.state.me.userId;
  }

  /** The other person of a private conversation (yourself in a conversation with only you). */
  peerOf(c: Conversation) {
    return c.participants.find((p) => !this.isMe(p.user.id))?.user ?? c.participants[0]?.user;
  }

  titleOf(c: Conversation): string {
    if (c.type === 'PRIVATE') return this.peerOf(c)?.displayName ?? 'Private conversation';
    if (c.name) return c.name;
    return c.participants.map((p) => p.user.displayName).join(', ') || 'Group';
  }

  /** A user's presence as last heard, else as the conversation list said. */
  statusOf(userId: string, listed: PresenceStatus): PresenceStatus {
    const status = this.state.presence.get(userId) ?? listed;
    // This page's socket makes you ONLINE (unless you set another status), also when the list was
    // read before the socket was up, as it is after a reload.
    return status === 'OFFLINE' && this.isMe(userId) ? 'ONLINE' : status;
  }

  /** Newest activity first. */
  sortedConversations(): Conversation[] {
    return [...this.state.conversations.values()].sort((a, b) => b.lastActivityAt.localeCompare(a.lastActivityAt));
  }

  /** The open conversation's entry in the list, when it has one. */
  openConversation(): Conversation | undefined {
    return this.opened ? this.state.conversations.get(this.opened.id) : undefined;
  }

  /** The names of who is typing in the open conversation. */
  typingNames(): string[] {
    return [...(this.opened?.typing.keys() ?? [])].map((id) => this.names.get(id) ?? id);
  }

  // ---- Starting and stopping ----

  start(): void {
    // Every new message of every conversation: list order, previews and unread counts.
    this.offGlobal = this.client.onMessage(null, (m) => this.onAnyMessage(m));
    this.guard(this.startDesk());
    this.timers.push(
      setInterval(() => {
        this.guard(this.refresh());
        this.guard(this.refreshDesk());
      }, REFRESH_MS),
    );
    // The socket closes at the token's expiry; the page signs out then.
    this.timers.push(setTimeout(() => this.end('Your session has expired. Please sign in again.'), Math.max(0, this.state.me.expiresAt - Date.now())));
  }

  /** Stops everything; with a message, shown on the sign-in page. */
  end(message?: string): void {
    if (this.stopped) return;
    this.stopTyping();
    this.close();
    this.stopped = true;
    this.offGlobal?.();
    this.offDesk?.();
    this.presenceSub?.off();
    for (const t of this.timers) clearTimeout(t);
    clearTimeout(this.noticeTimer);
    void this.client.close();
    // Nothing of this session stays on the page.
    this.state.conversations.clear();
    this.state.notice = null;
    this.state.desk = null;
    this.emit('conversations');
    this.emit('notice');
    this.emit('desk');
    this.emit('end', message);
    this.abort.abort();
    this.listeners.clear();
  }

  /** Runs a promise, turning a failure into a notice (or, for a dead session, a sign-out). */
  guard(work: Promise<unknown>): void {
    work.catch((err) => this.report(err));
  }

  /**
   * What a failure means to the person: a dead session signs out; anything else is shown, in the
   * banner or by `show` (a form's own alert).
   */
  report(err: unknown, show: (message: string) => void = (message) => this.notify(message)): void {
    if (this.stopped) return;
    if (err instanceof SwitchboardError && err.code === 'UNAUTHENTICATED') {
      this.end('Your session is no longer valid. Please sign in again.');
      return;
    }
    show(err instanceof Error ? err.message : String(err));
  }

  /** Shows a message in the banner for a while. */
  notify(message: string | null): void {
    this.state.notice = message;
    clearTimeout(this.noticeTimer);
    if (message) this.noticeTimer = setTimeout(() => this.notify(null), NOTICE_MS);
    this.emit('notice');
  }

  /** The page became visible again: what arrived meanwhile is read now. */
  pageVisible(): void {
    this.markReadSoon();
    this.guard(this.refresh());
    this.guard(this.refreshDesk());
  }

  // ---- Conversation list ----

  /** Re-reads the conversation list (at most one read at a time). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const data = await this.client.request(WebConversationsDocument, { first: 100 });
        if (this.stopped) return;
        this.state.conversations = new Map(data.conversations.nodes.map((c) => [c.id, c]));
        for (const c of this.state.conversations.values()) {
          for (const p of c.participants) {
            this.names.set(p.user.id, p.user.displayName);
            this.state.presence.set(p.user.id, p.user.presence.status);
          }
        }
        const open = this.openConversation();
        if (open && visible()) {
          open.unreadCount = 0;
          this.markReadSoon();
        }
        this.emit('conversations');
        this.syncPresence();
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /**
   * One presence subscription for everyone the viewer talks with, and the viewer (a status set on
   * another device); renewed when that set changes.
   */
  private syncPresence(): void {
    const others = new Set<string>();
    for (const c of this.state.conversations.values()) for (const p of c.participants) if (!this.isMe(p.user.id)) others.add(p.user.id);
    // The server takes at most 500 users in one subscription.
    const ids = [this.state.me.userId, ...[...others].sort().slice(0, 499)];
    const key = ids.join('\n');
    if (this.presenceSub?.key === key) return;
    this.presenceSub?.off();
    this.presenceSub = {
      key,
      off: this.client.onPresence(ids, (e) => {
        this.state.presence.set(e.user.id, e.status);
        this.emit('presence');
      }),
    };
  }

  private onAnyMessage(m: Message): void {
    const c = this.state.conversations.get(m.conversationId);
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
        authorRole: m.authorRole,
        content: m.content,
        deletedAt: m.deletedAt,
        createdAt: m.createdAt,
        sender: { id: m.sender.id, displayName: m.sender.displayName },
      };
      if (m.createdAt > c.lastActivityAt) c.lastActivityAt = m.createdAt;
    }
    const viewing = this.opened?.id === m.conversationId && visible();
    if (!this.isMe(m.sender.id) && !viewing) c.unreadCount += 1;
    this.emit('conversations');
    // A SYSTEM note tells of an expert joining or handing back: members and who answers changed.
    if (m.authorRole === 'SYSTEM') this.guard(this.refresh());
  }

  /** Creates (or finds) the private conversation with `userId`; returns its id once it is listed. */
  async startPrivate(userId: string): Promise<string> {
    await this.requireUsers([userId]);
    const { id } = await this.client.directConversation(userId);
    await this.refresh();
    return id;
  }

  /** Creates a group with these members; returns its id once it is listed. */
  async startGroup(name: string, memberIds: string[]): Promise<string> {
    await this.requireUsers(memberIds);
    const { id } = await this.client.createConversation({ type: 'GROUP', name, participantIds: memberIds });
    await this.refresh();
    return id;
  }

  /** Refuses ids nobody has signed in or signed up with, instead of creating empty users. */
  private async requireUsers(ids: string[]): Promise<void> {
    const found = await Promise.all(ids.map((id) => this.client.user(id)));
    const missing = ids.filter((_, i) => !found[i]);
    if (missing.length) {
      throw new Error(`No user ${missing.map((id) => `“${id}”`).join(', ')} in your organization yet.`);
    }
  }

  // ---- The open conversation ----

  /** Opens a conversation (null: none). False when there is no such conversation of yours. */
  async open(id: string | null): Promise<boolean> {
    if (!id) {
      this.close();
      return true;
    }
    if (this.opened?.id === id) return true;
    if (!this.state.conversations.has(id)) {
      const { conversation } = await this.client.request(WebConversationDocument, { id });
      if (this.stopped) return true;
      if (!conversation) {
        this.notify('That conversation does not exist, or you are not in it.');
        this.close();
        return false;
      }
      this.state.conversations.set(id, conversation);
      this.emit('conversations');
      this.syncPresence();
    }
    await this.load(id);
    return true;
  }

  private close(): void {
    const open = this.opened;
    if (!open) return;
    this.stopTyping();
    for (const off of open.offs) off();
    for (const t of open.typing.values()) clearTimeout(t);
    clearTimeout(open.markTimer);
    this.opened = this.state.open = null;
    this.setReply(null);
    this.emit('open');
    this.emit('messages', 'opened');
    this.emit('typing');
    this.emit('conversations');
  }

  private async load(id: string): Promise<void> {
    this.close();
    const open: Opened = { id, messages: [], hasOlder: false, olderCursor: null, offs: [], typing: new Map(), readSeq: 0 };
    this.opened = this.state.open = open;
    this.emit('open');
    this.emit('messages', 'opened');
    this.emit('typing');
    this.emit('conversations');

    const { messages: page } = await this.client.request(WebMessagesDocument, { conversationId: id, last: PAGE });
    if (this.opened !== open) return;
    open.olderCursor = page.pageInfo.startCursor ?? null;
    open.hasOlder = page.pageInfo.hasPreviousPage;
    this.addMessages(open, page.nodes.map(fromHistory), 'opened');

    // Live from the last message shown: the server replays anything sent since, with no gap.
    const afterSeq = open.messages.at(-1)?.seq ?? 0;
    open.offs.push(
      this.client.onMessage(id, (m) => this.onLiveMessage(open, m), { afterSeq, onError: (err) => this.report(err) }),
      this.client.onMessageUpdated(id, (m) => this.replaceMessage(open, m)),
      this.client.onMessageDeleted(id, (m) => this.replaceMessage(open, m)),
      this.client.onTyping(id, (e) => {
        if (this.isMe(e.user.id)) return;
        this.setTyping(open, e.user.id, e.isTyping);
      }),
    );
    this.markReadSoon();
  }

  async loadOlder(): Promise<void> {
    const open = this.opened;
    if (!open?.olderCursor) return;
    const { messages: page } = await this.client.request(WebMessagesDocument, { conversationId: open.id, last: PAGE, before: open.olderCursor });
    if (this.opened !== open) return;
    open.olderCursor = page.pageInfo.startCursor ?? open.olderCursor;
    open.hasOlder = page.pageInfo.hasPreviousPage;
    this.addMessages(open, page.nodes.map(fromHistory), 'older');
  }

  private onLiveMessage(open: Opened, m: Message): void {
    if (this.opened !== open) return;
    this.setTyping(open, m.sender.id, false);
    this.addMessages(open, [fromLive(m)], this.isMe(m.sender.id) ? 'mine' : 'live');
    this.markReadSoon();
  }

  /** Inserts messages in seq order, ignoring ones already there. */
  private addMessages(open: Opened, messages: ViewMessage[], change: MessagesChange): void {
    for (const m of messages) {
      if (open.messages.some((shown) => shown.id === m.id)) continue;
      const filled = m.replyTo && m.replyTo.content === null ? this.fillQuote(open, m) : m;
      let index = open.messages.length;
      while (index > 0 && open.messages[index - 1]!.seq > filled.seq) index--;
      open.messages.splice(index, 0, filled);
    }
    this.emit('messages', change);
  }

  /** Puts the new version of a message (and of the replies quoting it) in place of the old. */
  private replaceMessage(open: Opened, m: Message): void {
    if (this.opened !== open || !open.messages.some((shown) => shown.id === m.id)) return;
    open.messages = open.messages.map((shown) => {
      if (shown.id === m.id) return { ...shown, content: m.content, editedAt: m.editedAt, deletedAt: m.deletedAt };
      if (shown.replyTo?.id === m.id) return { ...shown, replyTo: { ...shown.replyTo, content: m.content, deleted: Boolean(m.deletedAt) } };
      return shown;
    });
    this.emit('messages', 'updated');
  }

  /** A live reply carries only the quoted message's id: fill in the rest from what is shown, or read it. */
  private fillQuote(open: Opened, m: ViewMessage): ViewMessage {
    const quote = m.replyTo!;
    const known = open.messages.find((shown) => shown.id === quote.id);
    if (known) {
      const filled = { senderId: known.senderId, senderName: known.senderName, content: known.content, deleted: Boolean(known.deletedAt) };
      return { ...m, replyTo: { ...quote, ...filled } };
    }
    this.guard(
      this.client.request(WebMessagesDocument, { conversationId: open.id, since: m.createdAt, first: PAGE }).then(({ messages }) => {
        const full = messages.nodes.find((n) => n.id === m.id);
        if (!full?.replyTo || this.opened !== open) return;
        const replyTo = fromHistory(full).replyTo;
        open.messages = open.messages.map((shown) => (shown.id === m.id ? { ...shown, replyTo } : shown));
        this.emit('messages', 'updated');
      }),
    );
    return m;
  }

  /** Moves the read marker to the newest message shown, shortly, while the page is visible. */
  private markReadSoon(): void {
    const open = this.opened;
    if (!open || !visible()) return;
    clearTimeout(open.markTimer);
    open.markTimer = setTimeout(() => {
      if (this.opened !== open) return;
      const seq = open.messages.at(-1)?.seq ?? 0;
      const c = this.state.conversations.get(open.id);
      if (c && c.unreadCount !== 0) {
        c.unreadCount = 0;
        this.emit('conversations');
      }
      if (seq > open.readSeq) {
        open.readSeq = seq;
        this.guard(this.client.markRead(open.id, seq));
      }
    }, 200);
  }

  // ---- Typing ----

  private setTyping(open: Opened, userId: string, isTyping: boolean): void {
    clearTimeout(open.typing.get(userId));
    if (isTyping)
      open.typing.set(
        userId,
        setTimeout(() => this.setTyping(open, userId, false), TYPING_SHOWN_MS),
      );
    else open.typing.delete(userId);
    if (this.opened === open) this.emit('typing');
  }

  /** A keystroke in the composer: announce typing while there is text (the client sends at most one per 3 s). */
  typed(hasText: boolean): void {
    const open = this.opened;
    if (!open) return;
    clearTimeout(this.typingIdle);
    if (!hasText) {
      this.stopTyping();
      return;
    }
    this.typingAnnounced = true;
    this.client.setTyping(open.id, true).catch(() => {});
    this.typingIdle = setTimeout(() => this.stopTyping(), TYPING_IDLE_MS);
  }

  stopTyping(): void {
    clearTimeout(this.typingIdle);
    if (!this.typingAnnounced || !this.opened) return;
    this.typingAnnounced = false;
    this.client.setTyping(this.opened.id, false).catch(() => {});
  }

  // ---- The expert desk ----

  /** For experts (role `expert`): the queue of open requests, kept live. */
  private async startDesk(): Promise<void> {
    const viewer = await this.client.viewer();
    if (this.stopped || !viewer.roles.includes('expert')) return;
    this.state.desk = { requests: [] };
    // Listening first, so that nothing opened while the list is read is missed.
    this.offDesk = this.client.onExpertRequest((r) => this.onExpertRequest(r));
    await this.refreshDesk();
  }

  /** Re-reads the open requests (the feed tells only of changes, and not while the socket is down). */
  private async refreshDesk(): Promise<void> {
    if (!this.state.desk) return;
    const { nodes } = await this.client.expertRequests({ status: 'OPEN', first: 100 });
    if (this.stopped || !this.state.desk) return;
    this.state.desk.requests = nodes;
    this.emit('desk');
  }

  private onExpertRequest(r: ExpertRequest): void {
    const desk = this.state.desk;
    if (!desk) return;
    const others = desk.requests.filter((shown) => shown.id !== r.id);
    desk.requests = r.status === 'OPEN' ? [...others, r].sort((a, b) => a.createdAt.localeCompare(b.createdAt)) : others;
    this.emit('desk');
  }

  /** Takes a request: you join its conversation and answer from now on. Returns the conversation's id once it is listed. */
  async claim(id: string): Promise<string> {
    const claimed = await this.client.claimExpertRequest(id);
    this.onExpertRequest(claimed);
    await this.refresh();
    return claimed.conversationId;
  }

  /** Whether you answer the open conversation as its expert, and so may hand it back. */
  canHandBack(): boolean {
    const c = this.openConversation();
    return Boolean(this.state.desk && c && c.mode !== 'AGENT' && c.assignee?.id === this.state.me.userId);
  }

  /** Hands the open conversation back to the agent. */
  async handBack(): Promise<void> {
    const open = this.opened;
    if (!open) return;
    await this.client.handBackToAgent(open.id);
    const { conversation } = await this.client.request(WebConversationDocument, { id: open.id });
    if (this.stopped || !conversation) return;
    this.state.conversations.set(open.id, conversation);
    this.emit('conversations');
  }

  // ---- Sending ----

  setReply(m: ViewMessage | null): void {
    this.state.replyTo = m;
    this.emit('reply');
  }

  /** Sends to the open conversation; a failure is thrown for the composer to show. */
  async send(content: string, replyTo: ViewMessage | null): Promise<void> {
    const open = this.opened;
    if (!open) return;
    this.stopTyping();
    const sent = await this.client.sendMessage({ conversationId: open.id, content, replyToId: replyTo?.id });
    this.onLiveMessage(open, sent);
  }
}
