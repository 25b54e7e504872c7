/**
 * The typed Switchboard client, for applications, agents and services (Node or browser):
 *
 *   const sb = createSwitchboardClient({ url: 'http://localhost:4000/graphql', token: () => getToken() });
 *   const off = sb.onMessage(conversationId, (m) => console.log(m.seq, m.content));
 *   await sb.sendMessage({ conversationId, content: 'hello' });
 *
 * Requests go over HTTP, listeners over one graphql-ws socket that reconnects by itself; after a
 * reconnect each message listener resumes with `afterSeq` = the last seq it saw, so no message
 * is missed or repeated. Documents and types are generated from src/client/operations (codegen.ts).
 */
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { print } from 'graphql';
import { type Client, createClient } from 'graphql-ws';
import * as ops from './generated/graphql.js';

export * as operations from './generated/graphql.js';

type TokenSource = string | (() => string | Promise<string>);

export type SwitchboardClientOptions = {
  /** The GraphQL endpoint, e.g. http://localhost:4000/graphql (the socket uses the same path). */
  url: string;
  /** A JWT, or a function returning a fresh one (called for every request and every reconnect). */
  token?: TokenSource;
  /** A service API key instead of a token. */
  apiKey?: string;
  /** With an API key: act as this user of the key's org. */
  actAs?: string;
  /** WebSocket implementation where there is no global one (Node: `import WebSocket from 'ws'`). */
  webSocketImpl?: unknown;
  fetch?: typeof fetch;
  /** How often a failed send is retried (same clientMessageId, so never twice stored). */
  sendRetries?: number;
};

/** A GraphQL error from the server, with its contract code (UNAUTHENTICATED, CONFLICT, …). */
export class SwitchboardError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly extensions: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'SwitchboardError';
  }
}

export type Message = ops.MessageFieldsFragment;
export type MessagePart = ops.MessagePartFieldsFragment;
export type MessageChunk = ops.MessageStreamSubscription['messageStream'];

/**
 * A stream's parts with one `messageStream` event applied: the event's part is put at its
 * `partIndex`, its text from `textOffset` on, its other fields over the part's. Events that catch
 * a subscriber up (also after a reconnect) have `textOffset` 0 and replace what is there, so
 * applying every event in order gives the parts as the agent streamed them, none twice.
 */
export function applyChunk(parts: readonly MessagePart[], chunk: Pick<MessageChunk, 'part' | 'partIndex' | 'textOffset'>): MessagePart[] {
  const { part, partIndex } = chunk;
  if (!part || partIndex == null) return [...parts];
  const next = [...parts];
  const existing = next[partIndex];
  const merged: MessagePart = { ...(existing ?? part) };
  for (const [key, value] of Object.entries(part) as [keyof MessagePart, unknown][]) {
    if (value !== null && value !== undefined && key !== 'text') (merged as Record<string, unknown>)[key] = value;
  }
  // textOffset counts characters (code points), not UTF-16 units.
  if (part.text != null)
    merged.text =
      Array.from(existing?.text ?? '')
        .slice(0, chunk.textOffset ?? 0)
        .join('') + part.text;
  next[partIndex] = merged;
  return next;
}
export type Conversation = ops.ConversationFieldsFragment;
/** A message with its reactions, thread summary, mentions and pin. */
export type ChatMessage = ops.ChatMessageFieldsFragment;
export type ConversationEvent = ops.ConversationEventsSubscription['conversationEvents'];
type Vars<D> = D extends TypedDocumentNode<unknown, infer V> ? V : never;
type Unsubscribe = () => void;

const TYPING_REFRESH_MS = 3_000;

export function createSwitchboardClient(options: SwitchboardClientOptions) {
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const wsUrl = options.url.replace(/^http/, 'ws');
  const token = async () => (typeof options.token === 'function' ? await options.token() : options.token);

  const headers = async (): Promise<Record<string, string>> => {
    const h: Record<string, string> = { 'content-type': 'application/json' };
    if (options.apiKey) {
      h['x-api-key'] = options.apiKey;
      if (options.actAs) h['x-act-as-user'] = options.actAs;
    } else {
      const t = await token();
      if (t) h.authorization = `Bearer ${t}`;
    }
    return h;
  };

  /** One request over HTTP; GraphQL errors become a SwitchboardError. */
  async function request<R, V>(document: TypedDocumentNode<R, V>, variables?: V): Promise<R> {
    const res = await fetchImpl(options.url, {
      method: 'POST',
      headers: await headers(),
      body: JSON.stringify({ query: print(document), variables }),
    });
    let body: { data?: R; errors?: GraphQLErrorJson[] };
    try {
      body = await res.json();
    } catch {
      throw new SwitchboardError(`HTTP ${res.status}`, res.status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT');
    }
    const error = body.errors?.[0];
    if (error) throw errorOf(error);
    return body.data as R;
  }

  /**
   * One subscription over HTTP as server-sent events, where no socket is wanted (a short wait):
   * yields each event's data until the server completes the stream or `signal` aborts it, and
   * never reconnects, so a caller resumes with its own cursor (afterSeq). Errors throw.
   */
  async function* subscribeOverHttp<R, V>(document: TypedDocumentNode<R, V>, variables: V, signal?: AbortSignal): AsyncGenerator<R> {
    let res: Response;
    try {
      res = await fetchImpl(options.url, {
        method: 'POST',
        headers: { ...(await headers()), accept: 'text/event-stream' },
        body: JSON.stringify({ query: print(document), variables }),
        signal,
      });
    } catch (err) {
      if (signal?.aborted) return;
      throw err;
    }
    if (!res.body || !res.headers.get('content-type')?.includes('text/event-stream')) {
      // Refused before any stream began (bad credentials, limits): a JSON answer.
      const body = (await res.json().catch(() => ({}))) as { errors?: GraphQLErrorJson[] };
      throw errorOf(
        body.errors?.[0] ?? { message: `HTTP ${res.status}`, extensions: { code: res.status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_USER_INPUT' } },
      );
    }
    const reader = res.body.getReader();
    // A pending read ends (done) when the stream is cancelled, also where the fetch ignores the signal.
    const cancel = () => void reader.cancel().catch(() => {});
    signal?.addEventListener('abort', cancel, { once: true });
    if (signal?.aborted) cancel();
    const events: EventSourceMessage[] = [];
    const parser = createParser({ onEvent: (event) => events.push(event) });
    const decoder = new TextDecoder();
    try {
      for (;;) {
        const { value, done } = await reader.read().catch((err: unknown) => {
          if (signal?.aborted) return { value: undefined, done: true as const };
          throw err;
        });
        if (done) return;
        parser.feed(decoder.decode(value, { stream: true }));
        for (const event of events.splice(0)) {
          if (event.event === 'complete') return;
          if (event.event !== 'next') continue;
          const result = JSON.parse(event.data) as { data?: R; errors?: GraphQLErrorJson[] };
          if (result.errors?.length) throw errorOf(result.errors[0]!);
          yield result.data as R;
        }
      }
    } finally {
      signal?.removeEventListener('abort', cancel);
      cancel();
    }
  }

  let socket: Client | undefined;
  let connections = 0;
  const reconnectListeners = new Set<() => void>();
  const ws = () =>
    (socket ??= createClient({
      url: wsUrl,
      webSocketImpl: options.webSocketImpl,
      lazy: true,
      // Reconnect forever (with graphql-ws's backoff): a token callback gets a fresh token each time.
      retryAttempts: Number.POSITIVE_INFINITY,
      shouldRetry: () => true,
      connectionParams: async () => (options.apiKey ? { apiKey: options.apiKey, actAs: options.actAs } : { authorization: `Bearer ${await token()}` }),
      on: {
        connected: () => {
          if (connections++ === 0) return;
          for (const listener of reconnectListeners) listener();
        },
      },
    }));

  /**
   * Listens to a subscription; `onData` gets each event. Returns the function that stops it.
   * graphql-ws reconnects by itself except after a close it takes as final: 4500 or 1011, which
   * the server sends when it could not check the credentials (its database away). The listener
   * then subscribes again after a growing pause, as graphql-ws would have.
   */
  function listen<R, V>(document: TypedDocumentNode<R, V>, variables: V, onData: (data: R) => void, onError?: (err: unknown) => void): Unsubscribe {
    // graphql-ws resends this same payload object when it resubscribes after a reconnect, so a
    // listener can move its variables forward (afterSeq) as events arrive.
    const payload = { query: print(document), variables: variables as Record<string, unknown> };
    let stopped = false;
    let failures = 0;
    let retry: ReturnType<typeof setTimeout> | undefined;
    let stop: Unsubscribe = () => {};
    const start = () => {
      stop = ws().subscribe<R>(payload, {
        next: (result) => {
          failures = 0;
          if (result.data) onData(result.data as R);
          else if (result.errors?.length) onError?.(result.errors);
        },
        error: (err) => {
          if (stopped) return;
          if (!isServerFailureClose(err)) return onError?.(err);
          retry = setTimeout(start, Math.min(30_000, 1_000 * 2 ** failures++) * (0.5 + Math.random() / 2));
        },
        complete: () => {},
      });
    };
    start();
    return () => {
      stopped = true;
      clearTimeout(retry);
      stop();
    };
  }

  const typingSentAt = new Map<string, number>();

  return {
    request,
    subscribeOverHttp,
    /** Any subscription over the socket, with the listeners' reconnects; returns the function that stops it. */
    subscribe: listen,

    viewer: async () => (await request(ops.ViewerDocument)).viewer,
    user: async (id: string) => (await request(ops.UserDocument, { id })).user,
    users: async (args: Vars<typeof ops.UsersDocument> = {}) => (await request(ops.UsersDocument, args)).users,

    conversation: async (id: string) => (await request(ops.ConversationDocument, { id })).conversation,
    conversations: async (args: Vars<typeof ops.ConversationsDocument> = {}) => (await request(ops.ConversationsDocument, args)).conversations,
    createConversation: async (input: ops.CreateConversationInput) => (await request(ops.CreateConversationDocument, { input })).createConversation,
    /** The PRIVATE conversation with `userId`, created on first use. */
    directConversation: async (userId: string) =>
      (await request(ops.CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: [userId] } })).createConversation,
    updateConversation: async (id: string, input: ops.UpdateConversationInput) =>
      (await request(ops.UpdateConversationDocument, { id, input })).updateConversation,
    addParticipant: async (conversationId: string, userId: string, role?: ops.ParticipantRole) =>
      (await request(ops.AddParticipantDocument, { conversationId, userId, role })).addParticipant,
    removeParticipant: async (conversationId: string, userId: string) =>
      (await request(ops.RemoveParticipantDocument, { conversationId, userId })).removeParticipant,
    leaveConversation: async (conversationId: string) => (await request(ops.LeaveConversationDocument, { conversationId })).leaveConversation,

    /**
     * Sends a message exactly once: a clientMessageId is added when missing, and a send that
     * fails on the way (network, server error) is retried with the same id.
     */
    sendMessage: async (input: ops.SendMessageInput): Promise<Message> => {
      const withId = { ...input, clientMessageId: input.clientMessageId ?? randomId() };
      const attempts = (options.sendRetries ?? 3) + 1;
      for (let attempt = 1; ; attempt++) {
        try {
          return (await request(ops.SendMessageDocument, { input: withId })).sendMessage;
        } catch (err) {
          const retryable = !(err instanceof SwitchboardError) || err.code === 'INTERNAL_SERVER_ERROR';
          if (!retryable || attempt >= attempts) throw err;
          await sleep(200 * 2 ** (attempt - 1));
        }
      }
    },
    editMessage: async (id: string, content: string) => (await request(ops.EditMessageDocument, { id, content })).editMessage,
    deleteMessage: async (id: string) => (await request(ops.DeleteMessageDocument, { id })).deleteMessage,
    /** A page of history (`last: 50` is the newest 50). */
    history: async (conversationId: string, page: Omit<Vars<typeof ops.MessagesDocument>, 'conversationId'> = { last: 50 }) =>
      (await request(ops.MessagesDocument, { conversationId, ...page })).messages,
    markRead: async (conversationId: string, seq: number) => (await request(ops.MarkReadDocument, { conversationId, seq })).markRead,

    /** A page of history with reactions, threads, mentions and pins (`topLevel: true` leaves thread replies out). */
    chatHistory: async (conversationId: string, page: Omit<Vars<typeof ops.ChatMessagesDocument>, 'conversationId'> = { last: 50 }) =>
      (await request(ops.ChatMessagesDocument, { conversationId, ...page })).messages,
    /** Adds your reaction (one emoji or a :shortcode:); adding it again changes nothing. */
    react: async (messageId: string, emoji: string): Promise<ChatMessage> => (await request(ops.AddReactionDocument, { messageId, emoji })).addReaction,
    unreact: async (messageId: string, emoji: string): Promise<ChatMessage> => (await request(ops.RemoveReactionDocument, { messageId, emoji })).removeReaction,
    pin: async (messageId: string): Promise<ChatMessage> => (await request(ops.PinMessageDocument, { id: messageId })).pinMessage,
    unpin: async (messageId: string): Promise<ChatMessage> => (await request(ops.UnpinMessageDocument, { id: messageId })).unpinMessage,
    /** Replies in a message's thread, in seq order (reply with `sendMessage({ threadId })`). */
    threadReplies: async (messageId: string, page: Omit<Vars<typeof ops.ThreadRepliesDocument>, 'messageId'> = { first: 50 }) =>
      (await request(ops.ThreadRepliesDocument, { messageId, ...page })).threadReplies,
    /** Messages mentioning you, newest first. */
    mentions: async (page: Vars<typeof ops.MentionsDocument> = {}) => (await request(ops.MentionsDocument, page)).mentions,
    /** Full-text search over your conversations; each edge's `highlight` is escaped HTML with <mark>s. */
    searchMessages: async (query: string, options: Omit<Vars<typeof ops.SearchMessagesDocument>, 'query'> = {}) =>
      (await request(ops.SearchMessagesDocument, { query, ...options })).searchMessages,
    /** Your own settings in a conversation: muted, archived (until the next message). */
    updateParticipantSettings: async (conversationId: string, input: ops.ParticipantSettingsInput) =>
      (await request(ops.UpdateParticipantSettingsDocument, { conversationId, input })).updateParticipantSettings,
    mute: async (conversationId: string, muted = true) =>
      (await request(ops.UpdateParticipantSettingsDocument, { conversationId, input: { muted } })).updateParticipantSettings,
    archive: async (conversationId: string, archived = true) =>
      (await request(ops.UpdateParticipantSettingsDocument, { conversationId, input: { archived } })).updateParticipantSettings,
    /** Your conversations with their unread mention counts and your settings; `archived: true` lists the archived ones. */
    chatConversations: async (args: Vars<typeof ops.ChatConversationsDocument> = {}) => (await request(ops.ChatConversationsDocument, args)).conversations,
    /** Public groups of your org (names holding `search`). */
    publicConversations: async (args: Vars<typeof ops.PublicConversationsDocument> = {}) =>
      (await request(ops.PublicConversationsDocument, args)).publicConversations,
    joinConversation: async (conversationId: string) => (await request(ops.JoinConversationDocument, { conversationId })).joinConversation,

    sendControl: async (conversationId: string, input: ops.ControlEventInput) =>
      (await request(ops.SendControlDocument, { conversationId, input })).sendControl,
    controlEvents: async (conversationId: string, page: { first?: number; after?: string } = {}) =>
      (await request(ops.ControlEventsDocument, { conversationId, ...page })).controlEvents,

    /** Webhooks of the org (admins and API keys); the secret is in createWebhook's answer only. */
    webhooks: async () => (await request(ops.WebhooksDocument)).webhooks,
    createWebhook: async (input: ops.CreateWebhookInput) => (await request(ops.CreateWebhookDocument, { input })).createWebhook,
    updateWebhook: async (id: string, input: ops.UpdateWebhookInput) => (await request(ops.UpdateWebhookDocument, { id, input })).updateWebhook,
    deleteWebhook: async (id: string) => (await request(ops.DeleteWebhookDocument, { id })).deleteWebhook,
    rotateWebhookSecret: async (id: string) => (await request(ops.RotateWebhookSecretDocument, { id })).rotateWebhookSecret,
    webhookDeliveries: async (webhookId: string, page: Omit<Vars<typeof ops.WebhookDeliveriesDocument>, 'webhookId'> = {}) =>
      (await request(ops.WebhookDeliveriesDocument, { webhookId, ...page })).webhookDeliveries,
    redeliverWebhook: async (deliveryId: string) => (await request(ops.RedeliverWebhookDocument, { deliveryId })).redeliverWebhook,

    /** Typing indicator, throttled: repeated `true` goes out at most every 3 s; `false` at once. */
    setTyping: async (conversationId: string, isTyping: boolean) => {
      const now = Date.now();
      if (isTyping && now - (typingSentAt.get(conversationId) ?? 0) < TYPING_REFRESH_MS) return;
      if (isTyping) typingSentAt.set(conversationId, now);
      else typingSentAt.delete(conversationId);
      await request(ops.SetTypingDocument, { conversationId, isTyping });
    },
    updatePresence: async (status: ops.PresenceStatus) => (await request(ops.UpdatePresenceDocument, { status })).updatePresence,

    // Streamed answers (agents).
    startMessage: async (input: ops.StartMessageInput) => (await request(ops.StartMessageDocument, { input })).startMessage,
    appendChunk: async (id: string, chunk: string) => (await request(ops.AppendMessageChunkDocument, { id, chunk })).appendMessageChunk,
    /** Appends a part (TEXT, REASONING, TOOL_CALL, TOOL_RESULT, SOURCE, DATA); see applyChunk for how it lands. */
    appendPart: async (id: string, part: ops.MessagePartInput) => (await request(ops.AppendMessagePartDocument, { id, part })).appendMessagePart,
    completeMessage: async (id: string) => (await request(ops.CompleteMessageDocument, { id })).completeMessage,

    // Runs (agents end their own; anyone in the conversation lists them).
    runs: async (conversationId: string, args: Omit<Vars<typeof ops.RunsDocument>, 'conversationId'> = {}) =>
      (await request(ops.RunsDocument, { conversationId, ...args })).runs,
    completeRun: async (conversationId: string, runId: string) => (await request(ops.CompleteRunDocument, { conversationId, runId })).completeRun,
    failRun: async (conversationId: string, runId: string, reason?: string) => (await request(ops.FailRunDocument, { conversationId, runId, reason })).failRun,
    /** Creates or updates users of the org (API keys, admins). */
    // Services: users of the org, verdicts on messages (API keys, admins; agents evaluate too).
    upsertUsers: async (input: ops.UpsertUserInput[]) => (await request(ops.UpsertUsersDocument, { input })).upsertUsers,
    evaluateMessage: async (messageId: string, input: ops.EvaluationInput) =>
      (await request(ops.EvaluateMessageDocument, { messageId, input })).evaluateMessage,

    // The expert desk.
    requestExpert: async (conversationId: string, reason?: string) => (await request(ops.RequestExpertDocument, { conversationId, reason })).requestExpert,
    cancelExpertRequest: async (id: string) => (await request(ops.CancelExpertRequestDocument, { id })).cancelExpertRequest,
    expertRequests: async (args: Vars<typeof ops.ExpertRequestsDocument> = {}) => (await request(ops.ExpertRequestsDocument, args)).expertRequests,
    claimExpertRequest: async (id: string) => (await request(ops.ClaimExpertRequestDocument, { id })).claimExpertRequest,
    assignExpertRequest: async (id: string, expertId: string) => (await request(ops.AssignExpertRequestDocument, { id, expertId })).assignExpertRequest,
    handBackToAgent: async (conversationId: string) => (await request(ops.HandBackToAgentDocument, { conversationId })).handBackToAgent,

    /**
     * New messages of one conversation (or, with null, of all yours). With a conversation, the
     * listener starts after `afterSeq` (default: now) and resumes after the last seq it saw
     * whenever the socket reconnects, so it never misses or repeats a message.
     */
    onMessage: (
      conversationId: string | null,
      handler: (m: Message) => void,
      opts: { afterSeq?: number; onError?: (err: unknown) => void } = {},
    ): Unsubscribe => {
      const variables: Vars<typeof ops.MessageAddedDocument> = { conversationId, afterSeq: opts.afterSeq };
      return listen(
        ops.MessageAddedDocument,
        variables,
        (data) => {
          const m = data.messageAdded;
          if (conversationId) {
            if (variables.afterSeq != null && m.seq <= variables.afterSeq) return;
            variables.afterSeq = m.seq;
          }
          handler(m);
        },
        opts.onError,
      );
    },
    onMessageUpdated: (conversationId: string, handler: (m: Message) => void): Unsubscribe =>
      listen(ops.MessageUpdatedDocument, { conversationId }, (d) => handler(d.messageUpdated)),
    onMessageDeleted: (conversationId: string, handler: (m: Message) => void): Unsubscribe =>
      listen(ops.MessageDeletedDocument, { conversationId }, (d) => handler(d.messageDeleted)),
    /** Changes to messages with their reactions, thread summary and pin (messageUpdated). */
    onMessageChanged: (conversationId: string, handler: (m: ChatMessage) => void): Unsubscribe =>
      listen(ops.ChatMessageUpdatedDocument, { conversationId }, (d) => handler(d.messageUpdated)),
    /**
     * Your conversation list, live: JOINED, LEFT, UPDATED, DELETED, participant changes and read
     * markers (READ) of all your conversations, or of one with `conversationId`.
     */
    onConversationEvent: (handler: (e: ConversationEvent) => void, opts: { conversationId?: string; onError?: (err: unknown) => void } = {}): Unsubscribe =>
      listen(ops.ConversationEventsDocument, { conversationId: opts.conversationId }, (d) => handler(d.conversationEvents), opts.onError),
    onTyping: (conversationId: string, handler: (e: ops.TypingSubscription['typing']) => void): Unsubscribe =>
      listen(ops.TypingDocument, { conversationId }, (d) => handler(d.typing)),
    onPresence: (userIds: string[] | null, handler: (e: ops.PresenceSubscription['presence']) => void): Unsubscribe =>
      listen(ops.PresenceDocument, { userIds }, (d) => handler(d.presence)),
    onControl: (conversationId: string, handler: (e: ops.ControlEventFieldsFragment) => void): Unsubscribe =>
      listen(ops.ControlEventSubDocument, { conversationId }, (d) => handler(d.controlEvent)),
    /**
     * Streamed answers of a conversation: first the parts so far of running streams, then each
     * append (`part` at `partIndex`: fold them with applyChunk), then each stream's end. After a
     * reconnect it starts over the same way, so applyChunk leaves no gap and no duplicate.
     */
    onStream: (conversationId: string, handler: (e: MessageChunk) => void): Unsubscribe =>
      listen(ops.MessageStreamDocument, { conversationId }, (d) => handler(d.messageStream)),
    /** The org's expert requests as they are opened, claimed, resolved and cancelled (experts and admins). */
    onExpertRequest: (handler: (r: ops.ExpertRequestFieldsFragment) => void): Unsubscribe =>
      listen(ops.ExpertRequestUpdatedDocument, {}, (d) => handler(d.expertRequestUpdated)),

    /**
     * Calls `listener` each time the socket is up again after it went down. Subscriptions resume
     * by themselves, but what happened while the socket was down reached nobody: a list that
     * events keep current should be read again then. Returns the function that stops it.
     */
    onReconnect: (listener: () => void): Unsubscribe => {
      reconnectListeners.add(listener);
      return () => reconnectListeners.delete(listener);
    },

    /** Closes the socket (listeners stop). */
    close: async () => {
      // graphql-ws's dispose() awaits the last connection attempt, and rejects with that
      // connection's close when it already went (a lazy socket closes by itself once its last
      // listener stops: 1000 "All Subscriptions Gone"). Closed either way.
      await Promise.resolve(socket?.dispose()).catch(() => {});
      socket = undefined;
    },
  };
}

export type SwitchboardClient = ReturnType<typeof createSwitchboardClient>;

type GraphQLErrorJson = { message: string; extensions?: Record<string, unknown> };

const errorOf = (error: GraphQLErrorJson) => new SwitchboardError(error.message, String(error.extensions?.code ?? 'INTERNAL_SERVER_ERROR'), error.extensions);

/** A socket the server closed because it failed, not because of anything the client did. */
const isServerFailureClose = (err: unknown) => typeof err === 'object' && err !== null && 'code' in err && (err.code === 4500 || err.code === 1011);

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const randomId = () =>
  typeof globalThis.crypto?.randomUUID === 'function' ? globalThis.crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`;
