import {
  type ExpertRequestFieldsFragment,
  type PresenceStatus,
  WebAddReactionDocument,
  WebAnyMessageAddedDocument,
  WebControlDocument,
  WebConversationDocument,
  WebConversationEventsDocument,
  type WebConversationEventsSubscription,
  type WebConversationFragment,
  WebConversationsDocument,
  WebMessageAddedDocument,
  WebMessageDeletedDocument,
  type WebMessageFragment,
  WebMessagesDocument,
  WebMessageUpdatedDocument,
  WebParticipantSettingsDocument,
  WebPinDocument,
  WebPinnedDocument,
  WebRemoveReactionDocument,
  WebRunsDocument,
  WebSearchDocument,
  WebSendMessageDocument,
  WebStreamDocument,
  type WebStreamSubscription,
  WebThreadRepliesDocument,
  WebUnpinDocument,
} from '../../client/generated/graphql.js';
import { applyChunk, createSwitchboardClient, type SwitchboardClient, SwitchboardError } from '../../client/index.js';
import { conversationHash } from './routes.js';
import type { Session } from './session.js';
import { type Part, toView, type ViewMessage } from './view-message.js';

/**
 * The signed-in chat's state and everything that changes it. Actions go through the project's
 * typed client (HTTP for requests, one graphql-ws socket for the rest); each change is announced
 * on a topic, and the components (./components) render from the state when a topic they show
 * changes. Components never change the state themselves: they call actions.
 */

export type Conversation = WebConversationFragment;
export type ExpertRequest = ExpertRequestFieldsFragment;

/** An agent's answer while it streams: its parts so far, and whether its run is paused. */
export type StreamView = {
  readonly id: string;
  readonly runId: string | null;
  readonly agentName: string;
  readonly parts: readonly Part[];
  readonly paused: boolean;
};

/** The open conversation, as the components see it. */
export type OpenConversation = {
  readonly id: string;
  /** Its top-level messages (thread replies are in their thread), in seq order. */
  readonly messages: readonly ViewMessage[];
  readonly hasOlder: boolean;
  /** Until its first page of history is in. */
  readonly loading: boolean;
  /** Agents' answers still streaming, oldest first. */
  readonly streams: readonly StreamView[];
};

export type SearchResult = {
  message: ViewMessage;
  /** The content as the server marked it: escaped HTML with <mark>s (see components/highlight.ts). */
  highlight: string;
};

/** What the side panel shows: a thread, the pinned messages, or search results (null: loading). */
export type Panel =
  | { kind: 'thread'; root: ViewMessage; replies: ViewMessage[] | null }
  | { kind: 'pins'; messages: ViewMessage[] | null }
  | { kind: 'search'; query: string; results: SearchResult[] | null };

/** Why the open conversation's messages changed, which decides where the message pane scrolls. */
export type MessagesChange = 'opened' | 'older' | 'live' | 'mine' | 'updated' | 'streams';

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
  /** The side panel: a thread, the pins or search results. */
  panel: [];
  /** Show a message of the open conversation (a search result was picked). */
  reveal: [messageId: string];
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
  /** The list shows the archived conversations instead of the others. */
  showArchived: boolean;
  panel: Panel | null;
};

/** The open conversation with the bookkeeping components do not see. */
type Opened = {
  id: string;
  messages: ViewMessage[];
  hasOlder: boolean;
  loading: boolean;
  streams: StreamView[];
  /** The agent of each run heard of, and the runs now paused. */
  runAgents: Map<string, string>;
  pausedRuns: Set<string>;
  /** Resolved once the first page of history is in. */
  ready: Promise<void>;
  loaded: () => void;
  /** The newest seq heard of, thread replies included: how far the read marker may go. */
  heardSeq: number;
  olderCursor: string | null;
  offs: (() => void)[];
  /** Who is typing, with the timer that forgets them if their "stopped" never comes. */
  typing: Map<string, ReturnType<typeof setTimeout>>;
  readSeq: number;
  markTimer?: ReturnType<typeof setTimeout>;
};

const PAGE = 50;
/** Replies a thread panel shows at most (the server's page cap). */
const THREAD_PAGE = 200;
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
  private offGlobal: (() => void)[] = [];
  private offDesk: (() => void) | null = null;
  private presenceSub: { key: string; off: () => void } | null = null;
  private refreshing: Promise<void> | null = null;
  /** How often the viewer left (or lost) each conversation: a read that began before is stale. */
  private readonly departures = new Map<string, number>();
  private noticeTimer?: ReturnType<typeof setTimeout>;
  private typingAnnounced = false;
  private typingIdle?: ReturnType<typeof setTimeout>;
  private stopped = false;

  constructor(session: Session, endpoint: string) {
    this.client = createSwitchboardClient({ url: endpoint, token: session.token });
    this.signal = this.abort.signal;
    this.state = {
      me: session,
      conversations: new Map(),
      presence: new Map(),
      open: null,
      replyTo: null,
      notice: null,
      desk: null,
      showArchived: false,
      panel: null,
    };
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

  /** The viewer's own participation in a conversation: their read marker and settings. */
  mine(c: Conversation) {
    return c.participants.find((p) => this.isMe(p.user.id));
  }

  /**
   * Who has read up to `seq` (the viewer's last message) besides the viewer, by their read
   * markers, which READ events keep current.
   */
  seenBy(seq: number): string[] {
    const c = this.openConversation();
    if (!c) return [];
    return c.participants.filter((p) => !this.isMe(p.user.id) && p.lastReadSeq >= seq).map((p) => p.user.displayName);
  }

  /** Whom the viewer may mention in the open conversation: its other participants. */
  mentionCandidates(): { id: string; displayName: string }[] {
    return (this.openConversation()?.participants ?? []).filter((p) => !this.isMe(p.user.id)).map((p) => p.user);
  }

  /** The names of who is typing in the open conversation. */
  typingNames(): string[] {
    return [...(this.opened?.typing.keys() ?? [])].map((id) => this.names.get(id) ?? id);
  }

  // ---- Starting and stopping ----

  start(): void {
    // Every new message of every conversation: list order, previews and unread counts; and the
    // list's own changes (joined, left, renamed, read), so that nothing needs polling.
    this.offGlobal.push(
      this.client.subscribe(WebAnyMessageAddedDocument, {}, (d) => this.onAnyMessage(d.messageAdded)),
      this.client.subscribe(WebConversationEventsDocument, {}, (d) => this.onConversationEvent(d.conversationEvents)),
      // Events sent while the socket was down are lost: read again what they would have changed.
      // (The open conversation's messages resume from the last seq heard by themselves.)
      this.client.onReconnect(() => this.caughtUp()),
    );
    this.guard(this.startDesk());
    // The socket closes at the token's expiry; the page signs out then.
    this.timers.push(setTimeout(() => this.end('Your session has expired. Please sign in again.'), Math.max(0, this.state.me.expiresAt - Date.now())));
  }

  /** Stops everything; with a message, shown on the sign-in page. */
  end(message?: string): void {
    if (this.stopped) return;
    this.stopTyping();
    this.close();
    this.stopped = true;
    for (const off of this.offGlobal) off();
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
   * Like guard, for work about a conversation while it is open: once it is closed (left, deleted,
   * or another one opened), its failure is no news, and would hide the notice that said why.
   */
  private guardOpen(open: Opened, work: Promise<unknown>): void {
    work.catch((err) => {
      if (this.opened === open) this.report(err);
    });
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
    this.caughtUp();
  }

  /** Reads again what events keep current, after a time they may not have arrived. */
  private caughtUp(): void {
    this.guard(this.refresh());
    this.guard(this.refreshDesk());
    if (this.opened) this.guardOpen(this.opened, this.readRuns(this.opened));
  }

  // ---- Conversation list ----

  /** Re-reads the conversation list (at most one read at a time). */
  refresh(): Promise<void> {
    this.refreshing ??= (async () => {
      try {
        const archived = this.state.showArchived;
        const departures = new Map(this.departures);
        const data = await this.client.request(WebConversationsDocument, { first: 100, archived });
        if (this.stopped || archived !== this.state.showArchived) return;
        // A conversation left while the list was read is not put back.
        const stale = (id: string) => this.departures.get(id) !== departures.get(id);
        this.state.conversations = new Map(data.conversations.nodes.filter((c) => !stale(c.id)).map((c) => [c.id, c]));
        for (const c of this.state.conversations.values()) {
          for (const p of c.participants) {
            this.names.set(p.user.id, p.user.displayName);
            this.state.presence.set(p.user.id, p.user.presence.status);
          }
        }
        // What is open and in view is read (markReadSoon clears its counts).
        this.markReadSoon();
        this.emit('conversations');
        this.syncPresence();
      } finally {
        this.refreshing = null;
      }
    })();
    return this.refreshing;
  }

  /** Switches the list between the archived conversations and the others. */
  async showArchived(archived: boolean): Promise<void> {
    this.state.showArchived = archived;
    this.emit('conversations');
    // A read already under way is of the other list: this one is read after it.
    await this.refreshing?.catch(() => {});
    await this.refresh();
  }

  private onConversationEvent(e: WebConversationEventsSubscription['conversationEvents']): void {
    const id = e.conversation.id;
    const c = this.state.conversations.get(id);
    switch (e.type) {
      case 'LEFT':
      case 'DELETED':
        this.departures.set(id, (this.departures.get(id) ?? 0) + 1);
        this.state.conversations.delete(id);
        if (this.opened?.id === id) {
          this.notify(e.type === 'LEFT' ? 'You are no longer in that conversation.' : 'That conversation was deleted.');
          history.replaceState(null, '', location.pathname + location.search);
          this.close();
        }
        this.emit('conversations');
        return;
      case 'READ': {
        const p = e.participant && c?.participants.find((shown) => shown.user.id === e.participant!.user.id);
        if (!p || p.lastReadSeq >= e.participant!.lastReadSeq) return;
        p.lastReadSeq = e.participant!.lastReadSeq;
        this.emit('conversations');
        return;
      }
      case 'PARTICIPANT_UPDATED': {
        const p = c && this.mine(c);
        if (!p || !e.participant) return;
        p.muted = e.participant.muted;
        p.archived = e.participant.archived;
        // Archiving (here or on another device) moves it to the other list.
        if (p.archived !== this.state.showArchived) this.state.conversations.delete(id);
        this.emit('conversations');
        return;
      }
      default:
        // Joined, renamed, members changed: read it anew, as the list shows it.
        this.guard(this.reloadConversation(id));
    }
  }

  private async reloadConversation(id: string): Promise<void> {
    const departures = this.departures.get(id) ?? 0;
    // NOT_FOUND: the viewer left it (or it went) while the event that asked for this read travelled.
    const conversation = await this.client.request(WebConversationDocument, { id }).then(
      (d) => d.conversation,
      (err) => (err instanceof SwitchboardError && err.code === 'NOT_FOUND' ? null : Promise.reject(err)),
    );
    // Read before a LEFT or DELETED that has arrived since: it must not put the conversation back.
    if (this.stopped || (this.departures.get(id) ?? 0) !== departures) return;
    if (!conversation) {
      this.state.conversations.delete(id);
    } else {
      const archived = Boolean(this.mine(conversation)?.archived);
      if (archived !== this.state.showArchived && this.opened?.id !== id) this.state.conversations.delete(id);
      else this.state.conversations.set(id, conversation);
      for (const p of conversation.participants) this.names.set(p.user.id, p.user.displayName);
      // What the reader is looking at is read, whatever the server counted a moment ago.
      if (this.opened?.id === id && visible()) {
        conversation.unreadCount = 0;
        conversation.unreadMentionCount = 0;
        this.markReadSoon();
      }
    }
    this.emit('conversations');
    this.syncPresence();
  }

  /** Mutes or unmutes the open conversation for the viewer. */
  async setMuted(muted: boolean): Promise<void> {
    await this.updateSettings({ muted });
  }

  /** Archives the open conversation (it leaves the list until a new message arrives), or brings it back. */
  async setArchived(archived: boolean): Promise<void> {
    await this.updateSettings({ archived });
  }

  private async updateSettings(input: { muted?: boolean; archived?: boolean }): Promise<void> {
    const open = this.opened;
    if (!open) return;
    const { updateParticipantSettings: settings } = await this.client.request(WebParticipantSettingsDocument, { conversationId: open.id, input });
    const c = this.state.conversations.get(open.id);
    const p = c && this.mine(c);
    if (!c || !p) return;
    p.muted = settings.muted;
    p.archived = settings.archived;
    this.emit('conversations');
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

  private onAnyMessage(m: WebMessageFragment): void {
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
        threadId: m.threadId,
        deletedAt: m.deletedAt,
        createdAt: m.createdAt,
        sender: { id: m.sender.id, displayName: m.sender.displayName },
      };
      if (m.createdAt > c.lastActivityAt) c.lastActivityAt = m.createdAt;
    }
    const viewing = this.opened?.id === m.conversationId && visible();
    if (!this.isMe(m.sender.id) && !viewing) {
      c.unreadCount += 1;
      if (m.mentions.some((u) => this.isMe(u.id))) c.unreadMentionCount += 1;
    }
    // A new message brings an archived conversation back (the server unarchives it).
    const mine = this.mine(c);
    if (mine?.archived) mine.archived = false;
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
    // Pins and threads belong to the conversation; search results are across them all.
    if (this.state.panel && this.state.panel.kind !== 'search') this.closePanel();
    this.emit('open');
    this.emit('messages', 'opened');
    this.emit('typing');
    this.emit('conversations');
  }

  private async load(id: string): Promise<void> {
    this.close();
    const open: Opened = {
      id,
      messages: [],
      hasOlder: false,
      loading: true,
      streams: [],
      runAgents: new Map(),
      pausedRuns: new Set(),
      olderCursor: null,
      offs: [],
      typing: new Map(),
      readSeq: 0,
      heardSeq: 0,
      ready: Promise.resolve(),
      loaded: () => {},
    };
    open.ready = new Promise((resolve) => (open.loaded = resolve));
    this.opened = this.state.open = open;
    this.emit('open');
    this.emit('messages', 'opened');
    this.emit('typing');
    this.emit('conversations');

    const { messages: page } = await this.client.request(WebMessagesDocument, { conversationId: id, last: PAGE, topLevel: true });
    if (this.opened !== open) return;
    open.olderCursor = page.pageInfo.startCursor ?? null;
    open.hasOlder = page.pageInfo.hasPreviousPage;
    open.loading = false;
    this.addMessages(open, page.nodes.map(toView), 'opened');
    open.heardSeq = page.nodes.at(-1)?.seq ?? 0;
    open.loaded();

    // Live from the last message shown: the server replays anything sent since, with no gap. The
    // listener moves afterSeq on, so that a reconnect resumes after the last message heard.
    const live = { conversationId: id, afterSeq: page.nodes.at(-1)?.seq ?? 0 };
    const onStreams = this.client.subscribe(WebStreamDocument, { conversationId: id }, (d) => this.onStream(open, d.messageStream));
    open.offs.push(
      this.client.subscribe(
        WebMessageAddedDocument,
        live,
        (d) => {
          if (d.messageAdded.seq <= live.afterSeq) return;
          live.afterSeq = d.messageAdded.seq;
          this.onLiveMessage(open, d.messageAdded);
        },
        (err) => this.report(err),
      ),
      this.client.subscribe(WebMessageUpdatedDocument, { conversationId: id }, (d) => this.replaceMessage(open, d.messageUpdated)),
      this.client.subscribe(WebMessageDeletedDocument, { conversationId: id }, (d) => this.replaceMessage(open, d.messageDeleted)),
      this.client.onTyping(id, (e) => {
        if (this.isMe(e.user.id)) return;
        this.setTyping(open, e.user.id, e.isTyping);
      }),
      onStreams,
      // Steering changes what the streams show: paused, or gone.
      this.client.onControl(id, () => this.guardOpen(open, this.readRuns(open))),
    );
    this.markReadSoon();
  }

  async loadOlder(): Promise<void> {
    const open = this.opened;
    if (!open?.olderCursor) return;
    const { messages: page } = await this.client.request(WebMessagesDocument, {
      conversationId: open.id,
      last: PAGE,
      before: open.olderCursor,
      topLevel: true,
    });
    if (this.opened !== open) return;
    open.olderCursor = page.pageInfo.startCursor ?? open.olderCursor;
    open.hasOlder = page.pageInfo.hasPreviousPage;
    this.addMessages(open, page.nodes.map(toView), 'older');
  }

  private onLiveMessage(open: Opened, message: WebMessageFragment): void {
    if (this.opened !== open) return;
    const m = toView(message);
    open.heardSeq = Math.max(open.heardSeq, m.seq);
    this.setTyping(open, m.senderId, false);
    if (m.threadId) this.addThreadReply(m);
    else this.addMessages(open, [m], this.isMe(m.senderId) ? 'mine' : 'live');
    this.markReadSoon();
  }

  /** Inserts messages in seq order, ignoring ones already there; a streamed answer takes its stream's place. */
  private addMessages(open: Opened, messages: ViewMessage[], change: MessagesChange): void {
    for (const m of messages) {
      if (open.messages.some((shown) => shown.id === m.id)) continue;
      let index = open.messages.length;
      while (index > 0 && open.messages[index - 1]!.seq > m.seq) index--;
      open.messages.splice(index, 0, m);
    }
    const ids = new Set(messages.map((m) => m.id));
    if (open.streams.some((s) => ids.has(s.id))) open.streams = open.streams.filter((s) => !ids.has(s.id));
    this.emit('messages', change);
  }

  /** Puts the new version of a message wherever it is shown: the list, quotes, the side panel. */
  private replaceMessage(open: Opened, message: WebMessageFragment): void {
    if (this.opened !== open) return;
    const m = toView(message);
    if (open.messages.some((shown) => shown.id === m.id || shown.replyTo?.id === m.id)) {
      open.messages = open.messages.map((shown) => {
        if (shown.id === m.id) return { ...m, replyTo: shown.replyTo };
        if (shown.replyTo?.id === m.id) return { ...shown, replyTo: { ...shown.replyTo, content: m.content, deleted: Boolean(m.deletedAt) } };
        return shown;
      });
      this.emit('messages', 'updated');
    }
    const panel = this.state.panel;
    if (panel?.kind === 'thread') {
      if (panel.root.id === m.id) panel.root = m;
      else if (panel.replies?.some((r) => r.id === m.id)) panel.replies = panel.replies.map((r) => (r.id === m.id ? m : r));
      else return;
      this.emit('panel');
    } else if (panel?.kind === 'pins' && panel.messages) {
      const others = panel.messages.filter((p) => p.id !== m.id);
      const wasThere = others.length !== panel.messages.length;
      if (!m.pinnedAt && !wasThere) return;
      panel.messages = m.pinnedAt && !m.deletedAt ? [...others, m].sort((a, b) => b.pinnedAt!.localeCompare(a.pinnedAt!)) : others;
      this.emit('panel');
    }
  }

  /**
   * What the reader looks at is read: the list's count goes at once, and the read marker moves
   * to the newest message heard shortly after (one request for a burst of messages).
   */
  private markReadSoon(): void {
    const open = this.opened;
    if (!open || !visible()) return;
    const c = this.state.conversations.get(open.id);
    if (c && (c.unreadCount !== 0 || c.unreadMentionCount !== 0)) {
      c.unreadCount = 0;
      c.unreadMentionCount = 0;
      this.emit('conversations');
    }
    clearTimeout(open.markTimer);
    open.markTimer = setTimeout(() => {
      if (this.opened !== open) return;
      const seq = Math.max(open.heardSeq, open.messages.at(-1)?.seq ?? 0);
      if (seq > open.readSeq) {
        open.readSeq = seq;
        this.guardOpen(open, this.client.markRead(open.id, seq));
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

  /**
   * Sends to the open conversation (in a thread with `threadId`); a failure is thrown for the
   * composer to show. `mentionIds`: the participants picked with @ whose name is still in the text.
   */
  async send(content: string, options: { replyTo?: ViewMessage | null; threadId?: string; mentionIds?: string[] } = {}): Promise<void> {
    const open = this.opened;
    if (!open) return;
    this.stopTyping();
    const { sendMessage: sent } = await this.client.request(WebSendMessageDocument, {
      input: {
        conversationId: open.id,
        content,
        replyToId: options.replyTo?.id,
        threadId: options.threadId,
        mentionIds: options.mentionIds?.length ? options.mentionIds : undefined,
        clientMessageId: crypto.randomUUID(),
      },
    });
    this.onLiveMessage(open, sent);
  }

  // ---- Reactions and pins ----

  /** Adds the viewer's reaction, or takes it back when they had made it. */
  async toggleReaction(m: ViewMessage, emoji: string): Promise<void> {
    const open = this.opened;
    if (!open) return;
    const mine = m.reactions.some((r) => r.emoji === emoji && r.viewerReacted);
    const changed = mine
      ? (await this.client.request(WebRemoveReactionDocument, { messageId: m.id, emoji })).removeReaction
      : (await this.client.request(WebAddReactionDocument, { messageId: m.id, emoji })).addReaction;
    this.replaceMessage(open, changed);
  }

  async togglePin(m: ViewMessage): Promise<void> {
    const open = this.opened;
    if (!open) return;
    const changed = m.pinnedAt
      ? (await this.client.request(WebUnpinDocument, { id: m.id })).unpinMessage
      : (await this.client.request(WebPinDocument, { id: m.id })).pinMessage;
    this.replaceMessage(open, changed);
  }

  // ---- The side panel: a thread, the pins, search results ----

  closePanel(): void {
    if (!this.state.panel) return;
    this.state.panel = null;
    this.emit('panel');
  }

  /** Opens a message's thread: the root, its replies in order, and a composer for more. */
  async openThread(root: ViewMessage): Promise<void> {
    const panel: Panel = { kind: 'thread', root, replies: null };
    this.state.panel = panel;
    this.emit('panel');
    const { threadReplies } = await this.client.request(WebThreadRepliesDocument, { messageId: root.id, first: THREAD_PAGE });
    if (this.state.panel !== panel) return;
    // Replies heard live while the page was read are kept.
    const read = threadReplies.nodes.map(toView);
    const heard = (panel.replies ?? []).filter((r) => !read.some((n) => n.id === r.id));
    panel.replies = [...read, ...heard].sort((a, b) => a.seq - b.seq);
    this.emit('panel');
  }

  private addThreadReply(m: ViewMessage): void {
    const panel = this.state.panel;
    if (panel?.kind !== 'thread' || panel.root.id !== m.threadId) return;
    if (panel.replies?.some((r) => r.id === m.id)) return;
    panel.replies = [...(panel.replies ?? []), m].sort((a, b) => a.seq - b.seq);
    this.emit('panel');
  }

  async openPins(): Promise<void> {
    const open = this.opened;
    if (!open) return;
    const panel: Panel = { kind: 'pins', messages: null };
    this.state.panel = panel;
    this.emit('panel');
    const { conversation } = await this.client.request(WebPinnedDocument, { id: open.id });
    if (this.state.panel !== panel) return;
    panel.messages = (conversation?.pinnedMessages ?? []).map(toView);
    this.emit('panel');
  }

  /** Searches the viewer's conversations; the results show in the side panel, best match first. */
  async search(query: string): Promise<void> {
    const panel: Panel = { kind: 'search', query, results: null };
    this.state.panel = panel;
    this.emit('panel');
    try {
      const { searchMessages } = await this.client.request(WebSearchDocument, { query, first: 30 });
      if (this.state.panel !== panel) return;
      panel.results = searchMessages.edges.map((e) => ({ message: toView(e.node), highlight: e.highlight }));
    } catch (err) {
      if (this.state.panel === panel) panel.results = [];
      throw err;
    } finally {
      this.emit('panel');
    }
  }

  /**
   * Shows a message: its conversation opened and the message in view; a reply in a thread shows
   * its root, with the thread open beside it.
   */
  async reveal(m: ViewMessage): Promise<void> {
    if (this.opened?.id !== m.conversationId) {
      location.hash = conversationHash(m.conversationId);
      await this.open(m.conversationId);
    }
    const open = this.opened;
    if (!open || open.id !== m.conversationId) return;
    await open.ready;
    if (this.opened !== open) return;
    const root = m.threadId ? open.messages.find((shown) => shown.id === m.threadId) : undefined;
    this.emit('reveal', m.threadId ?? m.id);
    if (root) await this.openThread(root);
  }

  // ---- Agents' streamed answers ----

  private onStream(open: Opened, e: WebStreamSubscription['messageStream']): void {
    if (this.opened !== open) return;
    const index = open.streams.findIndex((s) => s.id === e.messageId);
    if (e.state !== 'STREAMING') {
      // Completed answers stay until their message arrives (it takes their place); others go.
      if (index >= 0 && (e.state === 'CANCELLED' || open.messages.some((m) => m.id === e.messageId))) {
        open.streams = open.streams.filter((s) => s.id !== e.messageId);
        this.emit('messages', 'streams');
      }
      return;
    }
    if (open.messages.some((m) => m.id === e.messageId)) return;
    const known = open.streams[index];
    if (!known && e.runId && !open.runAgents.has(e.runId)) this.guardOpen(open, this.readRuns(open));
    const stream: StreamView = {
      id: e.messageId,
      runId: e.runId ?? null,
      agentName: (e.runId && open.runAgents.get(e.runId)) || known?.agentName || 'Agent',
      parts: applyChunk(known?.parts ?? [], e),
      paused: Boolean(e.runId && open.pausedRuns.has(e.runId)),
    };
    open.streams = index >= 0 ? open.streams.map((s, i) => (i === index ? stream : s)) : [...open.streams, stream];
    this.emit('messages', 'streams');
  }

  /** Reads the conversation's runs: whose each is, and which are paused. */
  private async readRuns(open: Opened): Promise<void> {
    const [active, paused] = await Promise.all(
      (['ACTIVE', 'PAUSED'] as const).map((state) => this.client.request(WebRunsDocument, { conversationId: open.id, state })),
    );
    if (this.opened !== open) return;
    open.pausedRuns = new Set(paused!.runs.nodes.map((r) => r.runId));
    for (const r of [...active!.runs.nodes, ...paused!.runs.nodes]) open.runAgents.set(r.runId, r.agent.displayName);
    open.streams = open.streams.map((s) => ({
      ...s,
      agentName: (s.runId && open.runAgents.get(s.runId)) || s.agentName,
      paused: Boolean(s.runId && open.pausedRuns.has(s.runId)),
    }));
    this.emit('messages', 'streams');
  }

  /** Steers the run of a streaming answer: CANCEL stops it, PAUSE and RESUME hold and release it. */
  async steer(stream: StreamView, event: 'CANCEL' | 'PAUSE' | 'RESUME'): Promise<void> {
    const open = this.opened;
    if (!open || !stream.runId) return;
    await this.client.request(WebControlDocument, { conversationId: open.id, input: { event, runId: stream.runId } });
    await this.readRuns(open);
  }
}
