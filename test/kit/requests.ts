// Helpers of the integration suites on messages, auth, limits and errors: small wrappers over the
// typed documents, and assertions on error codes that also check the error leaks nothing (no
// stack, no SQL).
import { expect } from 'vitest';
import { ApiKeys } from '../../src/auth/api-keys.js';
import {
  ConversationDocument,
  CreateConversationDocument,
  MessagesDocument,
  SendMessageDocument,
  type SendMessageInput,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { type Auth, dataOf, type GqlResult, type TestServer } from './server.js';

/** Asserts that nothing in an error response gives away internals: stack traces, SQL, driver errors. */
export function expectNoLeak(result: GqlResult<unknown>): void {
  for (const error of result.errors ?? []) {
    const text = JSON.stringify(error);
    expect(text).not.toMatch(/stack|Failed query|\bselect\b.+\bfrom\b|\binsert into\b|\bupdate\b.+\bset\b|postgres|pglite|drizzle|\bat .+\.(ts|js):\d+/i);
    expect(error.extensions?.code).not.toBe('INTERNAL_SERVER_ERROR');
  }
}

/** Asserts the request failed with exactly `code` (and leaked nothing). */
export function expectCode(result: GqlResult<unknown>, code: string): void {
  expect(result.errors, `expected ${code}, got data ${JSON.stringify(result.data)}`).toBeDefined();
  expect(result.errors!.map((e) => e.extensions?.code)).toContain(code);
  expect(result.errors![0]!.extensions?.code).toBe(code);
  expectNoLeak(result);
}

/** A GROUP conversation created by `owner` with `others`; returns its id. */
export async function createGroup(server: TestServer, owner: Auth, others: string[], name = 'group'): Promise<string> {
  const { createConversation } = dataOf(await server.gql(owner, CreateConversationDocument, { input: { type: 'GROUP', name, participantIds: others } }));
  return createConversation.id;
}

export async function send(server: TestServer, auth: Auth, conversationId: string, content: string, extra: Partial<SendMessageInput> = {}) {
  return dataOf(await server.gql(auth, SendMessageDocument, { input: { conversationId, content, ...extra } })).sendMessage;
}

/** The conversation as `auth` sees it (must be a participant). */
export async function conversationOf(server: TestServer, auth: Auth, id: string) {
  const { conversation } = dataOf(await server.gql(auth, ConversationDocument, { id }));
  expect(conversation).not.toBeNull();
  return conversation!;
}

export const lastSeqOf = async (server: TestServer, auth: Auth, id: string) => (await conversationOf(server, auth, id)).lastSeq;

/** Every message of a conversation, in seq order (at most 200). */
export async function allMessages(server: TestServer, auth: Auth, conversationId: string) {
  const { messages } = dataOf(await server.gql(auth, MessagesDocument, { conversationId, first: 200 }));
  return messages.edges.map((e) => e.node);
}

/** Tokens for users, provisioned by one request each so later requests cost no provisioning write. */
export async function users<const T extends string>(server: TestServer, ids: readonly T[], claims: { org?: string } = {}): Promise<Record<T, string>> {
  const out = {} as Record<T, string>;
  for (const id of ids) {
    out[id] = await server.token(id, { name: `${id} name`, ...claims });
    dataOf(await server.gql(out[id], ViewerDocument));
  }
  return out;
}

/** An API key as the CLI makes one, with its own AGENT service user. */
export async function createApiKey(server: TestServer, options: { orgId: string; name: string; userId?: string }) {
  return new ApiKeys(server.app.services.database.db).create({ orgId: options.orgId, name: options.name, userId: options.userId ?? options.name });
}

/** Runs `n` async tasks at once and waits for all of them. */
export const concurrently = <T>(n: number, task: (i: number) => Promise<T>) => Promise.all(Array.from({ length: n }, (_, i) => task(i)));

/** 1..n */
export const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);
