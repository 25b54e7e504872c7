import type { MessageAuthorRole, WebMessageFragment } from '../../client/generated/graphql.js';
import type { Message } from '../../client/index.js';

/** What the view needs of a message, whether it came from history or live. Never changed in place: a change is a new object. */
export type ViewMessage = {
  id: string;
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
};
/** The quoted message of a reply; its sender and `content` are null until they are known. */
export type Quote = { id: string; seq: number; senderId: string | null; senderName: string | null; content: string | null; deleted: boolean };

export const fromHistory = (m: WebMessageFragment): ViewMessage => ({
  id: m.id,
  seq: m.seq,
  senderId: m.sender.id,
  senderName: m.sender.displayName,
  authorRole: m.authorRole,
  content: m.content,
  createdAt: m.createdAt,
  editedAt: m.editedAt,
  deletedAt: m.deletedAt,
  replyTo: m.replyTo && {
    id: m.replyTo.id,
    seq: m.replyTo.seq,
    senderId: m.replyTo.sender.id,
    senderName: m.replyTo.sender.displayName,
    content: m.replyTo.content,
    deleted: Boolean(m.replyTo.deletedAt),
  },
});

export const fromLive = (m: Message): ViewMessage => ({
  id: m.id,
  seq: m.seq,
  senderId: m.sender.id,
  senderName: m.sender.displayName,
  authorRole: m.authorRole,
  content: m.content,
  createdAt: m.createdAt,
  editedAt: m.editedAt,
  deletedAt: m.deletedAt,
  replyTo: m.replyTo && { id: m.replyTo.id, seq: m.replyTo.seq, senderId: null, senderName: null, content: null, deleted: false },
});
