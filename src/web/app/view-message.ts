import type { MessageAuthorRole, WebMessageFragment, WebPartFragment } from '../../client/generated/graphql.js';

export type Part = WebPartFragment;
export type Reaction = WebMessageFragment['reactions'][number];

/**
 * What the view needs of a message, from history, live events or a search. Never changed in
 * place: a change is a new object, which is how the message pane knows what to redraw.
 */
export type ViewMessage = {
  id: string;
  conversationId: string;
  seq: number;
  senderId: string;
  senderName: string;
  /** SYSTEM notes (an expert joined), an EXPERT's, an AGENT's or a USER's message. */
  authorRole: MessageAuthorRole;
  content: string;
  createdAt: string;
  editedAt: string | null;
  deletedAt: string | null;
  replyTo: Quote | null;
  /** The thread's root, for a reply in a thread. */
  threadId: string | null;
  /** For a thread's root: how many replies, and the last one's time. */
  thread: { replyCount: number; lastReplyAt: string | null } | null;
  reactions: readonly Reaction[];
  mentions: readonly { id: string; displayName: string }[];
  pinnedAt: string | null;
  /** An agent's structured answer (text, reasoning, tool calls); empty for plain text. */
  parts: readonly Part[];
};
/** The quoted message of a reply. */
export type Quote = { id: string; seq: number; senderId: string; senderName: string; content: string; deleted: boolean };

export const toView = (m: WebMessageFragment): ViewMessage => ({
  id: m.id,
  conversationId: m.conversationId,
  seq: m.seq,
  senderId: m.sender.id,
  senderName: m.sender.displayName,
  authorRole: m.authorRole,
  content: m.content,
  createdAt: m.createdAt,
  editedAt: m.editedAt ?? null,
  deletedAt: m.deletedAt ?? null,
  replyTo: m.replyTo
    ? {
        id: m.replyTo.id,
        seq: m.replyTo.seq,
        senderId: m.replyTo.sender.id,
        senderName: m.replyTo.sender.displayName,
        content: m.replyTo.content,
        deleted: Boolean(m.replyTo.deletedAt),
      }
    : null,
  threadId: m.threadId ?? null,
  thread: m.thread && m.thread.replyCount > 0 ? { replyCount: m.thread.replyCount, lastReplyAt: m.thread.lastReplyAt ?? null } : null,
  reactions: m.reactions,
  mentions: m.mentions,
  pinnedAt: m.pinnedAt ?? null,
  parts: m.parts,
});
