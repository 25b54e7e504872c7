/**
 * The GraphQL documents the bench sends. They use the same fields as the client fragments in
 * src/client/operations (MessageFields with the sender's UserFields), so the payloads are what
 * a real client asks for.
 */
const MESSAGE_FIELDS = `
  id conversationId seq
  sender { id displayName kind roles }
  senderKind content contentType kind
  replyTo { id seq }
  priority interruptible preemptedBy runId traceId metadata clientMessageId
  createdAt editedAt deletedAt`;

/** Q1: the newest 50 messages of a conversation, with sender fields. */
export const Q1_MESSAGES = `query Q1($c: ID!) {
  messages(conversationId: $c, last: 50) {
    nodes { ${MESSAGE_FIELDS} }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

/** M1 and the publishers: a send, answered with what a client usually reads back. */
export const SEND_MESSAGE = `mutation Send($input: SendMessageInput!) {
  sendMessage(input: $input) { id seq createdAt }
}`;

/** S1 / C1 / X1: live messages of one conversation. */
export const MESSAGE_ADDED = `subscription S1($c: ID) {
  messageAdded(conversationId: $c) { ${MESSAGE_FIELDS} }
}`;

export const CREATE_CONVERSATION = `mutation Create($input: CreateConversationInput!) {
  createConversation(input: $input) { id }
}`;

export const ADD_PARTICIPANT = `mutation Add($c: ID!, $u: ID!) {
  addParticipant(conversationId: $c, userId: $u) { role }
}`;

/** S1 diagnostic: the smallest useful selection, to tell per-field cost from per-subscriber cost. */
export const MESSAGE_ADDED_MINIMAL = `subscription S1min($c: ID) {
  messageAdded(conversationId: $c) { seq metadata }
}`;

/** SR1: one page of search results, with the highlight and the message a client shows. */
export const SEARCH_MESSAGES = `query SR1($q: String!) {
  searchMessages(query: $q, first: 20) {
    edges { highlight node { ${MESSAGE_FIELDS} } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** RX1: a reaction; the grouped reactions reach clients through messageUpdated. */
export const ADD_REACTION = `mutation RX1($m: ID!, $e: String!) {
  addReaction(messageId: $m, emoji: $e) { id }
}`;

/** TH1: the newest 50 replies of a thread, with the same fields as Q1's history page. */
export const THREAD_PAGE = `query TH1($m: ID!) {
  threadReplies(messageId: $m, last: 50) {
    nodes { ${MESSAGE_FIELDS} }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}`;

/** P1/P2: an agent's streamed answer. */
export const START_MESSAGE = `mutation Start($input: StartMessageInput!) {
  startMessage(input: $input) { id }
}`;
export const APPEND_PART = `mutation Append($id: ID!, $part: MessagePartInput!) {
  appendMessagePart(id: $id, part: $part) { offset }
}`;
export const COMPLETE_MESSAGE = `mutation Complete($id: ID!) {
  completeMessage(id: $id) { id }
}`;
export const MESSAGE_STREAM = `subscription P1($c: ID!) {
  messageStream(conversationId: $c) { messageId offset chunk partIndex textOffset state }
}`;

/** WH1: a webhook for message.created (admins and API keys). */
export const CREATE_WEBHOOK = `mutation Hook($input: CreateWebhookInput!) {
  createWebhook(input: $input) { webhook { id } secret }
}`;
export const DELETE_WEBHOOK = `mutation Unhook($id: ID!) {
  deleteWebhook(id: $id)
}`;

/** RX1's emoji: 50 shortcodes, the most distinct emoji one message holds; round k uses the k-th. */
export const benchEmoji = (round: number) => `:r${round % 50}:`;

/** WH1: the content of the messages that show deliveries flow (the receiver counts them apart). */
export const WEBHOOK_PROBE = 'webhook probe';
