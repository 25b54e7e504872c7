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
