import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { type Conversation, type Message, operations as ops, type SwitchboardClient, SwitchboardError } from '../client/index.js';

/**
 * The tools an MCP client gets, each one or two calls of the typed client: over HTTP for the
 * stdio server, in process for /mcp, so every rule, limit and audit of the GraphQL API applies
 * as it does to any other client. Results are JSON (structured content, and the same as text).
 */

/** Bounds of what one tool call may ask for; GraphQL's own limits still apply behind them. */
const MCP_LIMITS = {
  conversationsPerPage: 50,
  messagesPerPage: 100,
  searchHitsPerPage: 50,
  participantsShown: 20,
  maxWaitSeconds: 60,
  defaultWaitSeconds: 30,
} as const;

/**
 * Once a wait has its first message, how long it goes on gathering the ones right behind it (a
 * backlog arrives as a burst) before it answers; the next wait picks up after the last seq.
 */
const GATHER_MS = 50;

const id = (what: string) => z.string().min(1).max(200).describe(what);
const cursor = z.string().min(1).max(512);

/** A message as a model reads it: who, when, what, and where it stands in the conversation. */
function messageView(m: Message) {
  return {
    id: m.id,
    seq: m.seq,
    sender: { id: m.sender.id, name: m.sender.displayName, kind: m.sender.kind },
    content: m.content,
    kind: m.kind,
    priority: m.priority,
    createdAt: m.createdAt,
    ...(m.replyTo ? { replyToSeq: m.replyTo.seq } : {}),
    ...(m.runId ? { runId: m.runId } : {}),
    ...(m.metadata != null ? { metadata: m.metadata } : {}),
    ...(m.editedAt ? { editedAt: m.editedAt } : {}),
    ...(m.deletedAt ? { deletedAt: m.deletedAt } : {}),
  };
}

function conversationView(c: Conversation) {
  return {
    id: c.id,
    type: c.type,
    name: c.name,
    mode: c.mode,
    participantCount: c.participants.length,
    participants: c.participants
      .slice(0, MCP_LIMITS.participantsShown)
      .map((p) => ({ id: p.user.id, name: p.user.displayName, kind: p.user.kind, role: p.role })),
    lastSeq: c.lastSeq,
    unreadCount: c.unreadCount,
    lastMessage: c.lastMessage ? messageView(c.lastMessage) : null,
    updatedAt: c.updatedAt,
  };
}

const ok = (result: Record<string, unknown>): CallToolResult => ({
  content: [{ type: 'text', text: JSON.stringify(result) }],
  structuredContent: result,
});

/**
 * A failed call as the model should see it: the contract code first (NOT_FOUND, FORBIDDEN,
 * BAD_USER_INPUT, RATE_LIMITED, …) and the server's message, in a result marked as an error.
 */
function toolError(err: unknown): CallToolResult {
  let text: string;
  if (err instanceof SwitchboardError) {
    const retryAfter = err.extensions.retryAfter;
    text = `${err.code}: ${err.message}${err.code === 'RATE_LIMITED' && retryAfter != null && !err.message.includes('retry') ? ` (retry in ${retryAfter} s)` : ''}`;
  } else {
    // No answer at all (stdio: the server is down or unreachable).
    text = `UNAVAILABLE: Switchboard did not answer (${err instanceof Error ? err.message : String(err)})`;
  }
  return { content: [{ type: 'text', text }], isError: true };
}

const run =
  <A>(handler: (args: A, signal: AbortSignal) => Promise<Record<string, unknown>>) =>
  async (args: A, extra: { signal: AbortSignal }): Promise<CallToolResult> => {
    try {
      return ok(await handler(args, extra.signal));
    } catch (err) {
      return toolError(err);
    }
  };

/**
 * Messages of `conversationId` after `afterSeq`: those already stored come at once, else the
 * first to arrive within `timeoutSeconds`; at most `limit`, in seq order, none twice.
 */
async function waitForMessages(
  client: SwitchboardClient,
  args: { conversationId: string; afterSeq: number; timeoutSeconds: number; limit: number },
  signal: AbortSignal,
) {
  const stop = new AbortController();
  const end = () => stop.abort();
  signal.addEventListener('abort', end, { once: true });
  const deadline = setTimeout(end, args.timeoutSeconds * 1000);
  let gather: ReturnType<typeof setTimeout> | undefined;
  const messages: Message[] = [];
  let lastSeq = args.afterSeq;
  try {
    const events = client.subscribeOverHttp(ops.MessageAddedDocument, { conversationId: args.conversationId, afterSeq: args.afterSeq }, stop.signal);
    for await (const { messageAdded: m } of events) {
      if (m.seq <= lastSeq) continue;
      messages.push(m);
      lastSeq = m.seq;
      if (messages.length >= args.limit) break;
      gather ??= setTimeout(end, GATHER_MS);
    }
  } finally {
    clearTimeout(deadline);
    clearTimeout(gather);
    signal.removeEventListener('abort', end);
  }
  return { messages: messages.map(messageView), lastSeq, timedOut: messages.length === 0 };
}

/** Registers Switchboard's tools on `server`, each acting through `client` (one viewer's). */
export function registerTools(server: McpServer, client: SwitchboardClient): void {
  server.registerTool(
    'list_conversations',
    {
      title: 'List conversations',
      description:
        'Your conversations, most recent activity first, with participants, unread count, lastSeq and the last message. ' +
        'Pass `nextCursor` from a result as `after` for the next page.',
      inputSchema: {
        limit: z.number().int().min(1).max(MCP_LIMITS.conversationsPerPage).default(20).describe('Conversations per page'),
        after: cursor.optional().describe('`nextCursor` of the previous page'),
        type: z.enum(['PRIVATE', 'GROUP']).optional().describe('Only this type'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    run(async ({ limit, after, type }) => {
      const page = await client.conversations({ first: limit, after, type });
      return {
        conversations: page.edges.map((e) => conversationView(e.node)),
        nextCursor: page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null,
      };
    }),
  );

  server.registerTool(
    'read_history',
    {
      title: 'Read message history',
      description:
        'Messages of a conversation in seq order: the newest `limit` by default; `before` an `olderCursor` for earlier ones, ' +
        '`after` a `newerCursor` for later ones. Deleted messages keep their seq with empty content.',
      inputSchema: {
        conversationId: id('The conversation'),
        limit: z.number().int().min(1).max(MCP_LIMITS.messagesPerPage).default(20).describe('Messages per page'),
        before: cursor.optional().describe('`olderCursor` of a result: the messages before it'),
        after: cursor.optional().describe('`newerCursor` of a result: the messages after it'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    run(async ({ conversationId, limit, before, after }) => {
      // Forward from `after`, else backward from `before` or from the newest.
      const page = await client.history(conversationId, after ? { first: limit, after, before } : { last: limit, before });
      const { pageInfo } = page;
      return {
        messages: page.edges.map((e) => messageView(e.node)),
        olderCursor: pageInfo.startCursor,
        hasOlder: pageInfo.hasPreviousPage,
        newerCursor: pageInfo.endCursor,
        hasNewer: pageInfo.hasNextPage,
      };
    }),
  );

  server.registerTool(
    'send_message',
    {
      title: 'Send a message',
      description:
        'Sends a message to a conversation you take part in and returns it with its seq. ' +
        'Give the same `clientMessageId` when retrying so that it is stored once.',
      inputSchema: {
        conversationId: id('The conversation'),
        content: z.string().min(1).describe('The text'),
        replyToId: id('Id of the message this answers').optional(),
        kind: z.enum(['CHAT', 'COMMAND', 'NOTIFICATION']).optional().describe('Default CHAT'),
        priority: z.enum(['LOW', 'NORMAL', 'HIGH', 'CRITICAL']).optional().describe('Default NORMAL'),
        runId: z.string().min(1).max(200).optional().describe('The agent run this message belongs to, if any'),
        clientMessageId: z.string().min(1).max(200).optional().describe('Idempotency key: a retry with the same one returns the original'),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
    },
    run(async (input) => ({ message: messageView(await client.sendMessage(input)) })),
  );

  server.registerTool(
    'wait_for_messages',
    {
      title: 'Wait for new messages',
      description:
        'Messages of a conversation with seq greater than `afterSeq`: those already there at once, else the first to arrive ' +
        `within \`timeoutSeconds\` (at most ${MCP_LIMITS.maxWaitSeconds}). Call again with the returned \`lastSeq\` to miss nothing. ` +
        'An empty result with timedOut means nothing came.',
      inputSchema: {
        conversationId: id('The conversation'),
        afterSeq: z.number().int().min(0).describe('The last seq you have seen (lastSeq of list_conversations, read_history or a previous wait)'),
        timeoutSeconds: z
          .number()
          .min(1)
          .max(MCP_LIMITS.maxWaitSeconds)
          .default(MCP_LIMITS.defaultWaitSeconds)
          .describe('How long to wait for a first message'),
        limit: z.number().int().min(1).max(MCP_LIMITS.messagesPerPage).default(50).describe('At most this many messages'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    run((args, signal) => waitForMessages(client, args, signal)),
  );

  server.registerTool(
    'search',
    {
      title: 'Search messages',
      description:
        'Full-text search over the messages of your conversations (words, "a phrase", or, -word), best match first; ' +
        '`conversationId` keeps one conversation. Each hit has the message and `highlight` (escaped HTML with <mark> around the matches). ' +
        'Pass `nextCursor` as `after` for more.',
      inputSchema: {
        query: z.string().min(1).max(256).describe('What to look for'),
        conversationId: id('Only this conversation').optional(),
        senderId: id('Only messages from this user').optional(),
        limit: z.number().int().min(1).max(MCP_LIMITS.searchHitsPerPage).default(20).describe('Hits per page'),
        after: cursor.optional().describe('`nextCursor` of the previous page'),
      },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    run(async ({ query, conversationId, senderId, limit, after }) => {
      const page = await client.searchMessages(query, { conversationId, senderId, first: limit, after });
      return {
        hits: page.edges.map((e) => ({ conversationId: e.node.conversationId, message: messageView(e.node), highlight: e.highlight })),
        nextCursor: page.pageInfo.hasNextPage ? page.pageInfo.endCursor : null,
      };
    }),
  );

  server.registerTool(
    'request_expert',
    {
      title: 'Ask for a human expert',
      description:
        'Asks for a human expert to take over the conversation (an expert claims it and answers from then on). ' +
        'Returns the request; if one is already open, that one.',
      inputSchema: {
        conversationId: id('The conversation'),
        reason: z.string().min(1).max(1000).optional().describe('What the expert should know'),
      },
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
    },
    run(async ({ conversationId, reason }) => {
      const { requestExpert: r } = await client.request(ops.RequestExpertDocument, { conversationId, reason });
      return {
        expertRequest: {
          id: r.id,
          conversationId: r.conversationId,
          status: r.status,
          reason: r.reason,
          requestedBy: r.requestedBy.id,
          claimedBy: r.claimedBy?.id ?? null,
          createdAt: r.createdAt,
        },
      };
    }),
  );
}
