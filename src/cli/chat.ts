// Terminal chat on the typed client:
//   npm run chat -- --user alice [--url http://localhost:4000/graphql] [--token JWT]
// Type `bob: hello` to message bob, `!check` to list unread conversations, `exit` to leave.
// Messages that arrived while you were away are shown when you connect.
// Without --token it mints a development token with the server's secret (JWT_SECRET or DATA_DIR),
// with no name in it: the user keeps the display name it has.
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { mintToken } from '../auth/jwt.js';
import { resolveJwtSecret } from '../auth/secret.js';
import { applyChunk, createSwitchboardClient, type Message, type MessageChunk, type MessagePart, SwitchboardError } from '../client/index.js';
import { loadConfig } from '../config.js';

const { values } = parseArgs({
  options: {
    user: { type: 'string', short: 'u' },
    url: { type: 'string', default: process.env.SWITCHBOARD_URL ?? 'http://localhost:4000/graphql' },
    token: { type: 'string', default: process.env.SWITCHBOARD_TOKEN },
  },
});

let token = values.token;
if (!token) {
  if (!values.user) {
    console.error('usage: npm run chat -- --user <id> [--url URL] [--token JWT]');
    process.exit(2);
  }
  const secret = resolveJwtSecret(loadConfig());
  if (!secret) {
    console.error('No local secret to mint a token with: pass --token');
    process.exit(2);
  }
  token = await mintToken(secret, { sub: values.user, expiresIn: '12h' });
}

const client = createSwitchboardClient({ url: values.url!, token, webSocketImpl: WebSocket });
// Created once the backlog is shown: stdin stays paused (and buffers what is typed) until then.
let rl: ReturnType<typeof createInterface> | undefined;
const out = (line: string) => {
  // Print above the prompt without mangling what is being typed.
  process.stdout.write(`\r\x1b[K${line}\n`);
  rl?.prompt(true);
};

let me: string;
let myName: string;
try {
  ({ id: me, displayName: myName } = await client.viewer());
} catch (err) {
  console.error(`cannot sign in at ${values.url}: ${(err as Error).message}`);
  process.exit(1);
}

/** Who a conversation is with, for `name: text` display. */
const peers = new Map<string, string>();
const label = (m: Message) => m.sender.displayName || m.sender.id;
const show = async (m: Message) => {
  watchStreams(m.conversationId);
  if (m.sender.id === me) return;
  // A streamed answer was shown as it came.
  if (!streamed.has(m.id)) {
    const where = peers.get(m.conversationId);
    out(`${label(m)}${where && where !== m.sender.id ? ` (in ${where})` : ''}: ${m.content}`);
  }
  await client.markRead(m.conversationId, m.seq).catch(() => {});
};

/**
 * Streamed answers, shown as they arrive: text as it is written, and each other part (reasoning,
 * a tool call and its result, a source, data) on a line of its own. While an answer streams its
 * line stays open below the prompt; the prompt comes back when it ends.
 */
const streams = new Map<string, MessagePart[]>();
const streamed = new Set<string>();
const watched = new Set<string>();
let openLine: string | undefined;
const write = (text: string) => process.stdout.write(text);
function watchStreams(conversationId: string) {
  if (watched.has(conversationId)) return;
  watched.add(conversationId);
  client.onStream(conversationId, showChunk);
}
function showChunk(e: MessageChunk) {
  let parts = streams.get(e.messageId) ?? [];
  streamed.add(e.messageId);
  if (openLine !== e.messageId) {
    write(`\r\x1b[K${openLine ? '\n' : ''}${peers.get(e.conversationId) ?? 'answer'}: `);
    openLine = e.messageId;
  }
  if (e.part && e.partIndex != null) {
    const before = parts[e.partIndex];
    parts = applyChunk(parts, e);
    streams.set(e.messageId, parts);
    write(partText(before, parts[e.partIndex]!, e.partIndex));
  }
  if (e.state !== 'STREAMING') {
    write(e.state === 'COMPLETED' ? '\n' : ` [${e.state.toLowerCase()}]\n`);
    streams.delete(e.messageId);
    openLine = undefined;
    rl?.prompt(true);
  }
}
/** What to print for a part going from `before` (none: new) to `after`. */
function partText(before: MessagePart | undefined, after: MessagePart, index: number): string {
  const prior = Array.from(before?.text ?? '');
  const all = Array.from(after.text ?? '');
  const more = all.slice(0, prior.length).join('') === (before?.text ?? '') ? all.slice(prior.length).join('') : '';
  const json = (value: unknown) => JSON.stringify(value);
  const line = index === 0 ? '' : '\n  ';
  switch (after.type) {
    case 'TEXT':
      return before ? more : `${line}${more}`;
    case 'REASONING':
      return before ? more : `${line}(thinking) ${more}`;
    case 'TOOL_CALL': {
      // The input as streamed; when none was, the parsed input once it is there.
      const ended = after.input != null && before?.input == null ? `${all.length ? '' : json(after.input)}]` : '';
      return `${before ? '' : `${line}[${after.toolName} `}${more}${ended}`;
    }
    case 'TOOL_RESULT':
      return before ? '' : `${line}[${after.toolName ?? after.toolCallId} → ${json(after.output)}]`;
    case 'SOURCE':
      return before ? '' : `${line}[source ${after.text ?? json(after.data)}]`;
    default:
      return before ? '' : `${line}[data ${json(after.data)}]`;
  }
}

/** Everything unread, conversation by conversation; marks it read. */
async function showUnread(announceNone: boolean) {
  const page = await client.conversations({ first: 100 });
  let any = false;
  for (const { node: c } of page.edges) {
    const others = c.participants.filter((p) => p.user.id !== me).map((p) => p.user.id);
    peers.set(c.id, c.type === 'PRIVATE' ? (others[0] ?? c.id) : (c.name ?? others.join(', ')));
    watchStreams(c.id);
    if (c.unreadCount === 0) continue;
    any = true;
    const mine = c.participants.find((p) => p.user.id === me);
    // Unread messages are the newest ones.
    const history = await client.history(c.id, { last: 200 });
    const unread = history.edges.map((e) => e.node).filter((m) => m.seq > (mine?.lastReadSeq ?? 0) && m.sender.id !== me && !m.deletedAt);
    out(`-- ${c.unreadCount} unread from ${peers.get(c.id)} --`);
    for (const m of unread) out(`${label(m)}: ${m.content}`);
    await client.markRead(c.id, c.lastSeq);
  }
  if (!any && announceNone) out('no unread messages');
}

async function handle(line: string) {
  const text = line.trim();
  if (!text) return;
  if (text === 'exit' || text === 'quit') {
    await client.close();
    process.exit(0);
  }
  if (text === '!check') return showUnread(true);
  const match = /^([^:\s]+):\s*(.+)$/.exec(text);
  if (!match) return out('type `name: message`, `!check` or `exit`');
  const [, to, content] = match;
  const conversation = await client.directConversation(to!);
  peers.set(conversation.id, to!);
  watchStreams(conversation.id);
  await client.sendMessage({ conversationId: conversation.id, content: content! });
}

console.log(`signed in as ${myName === me ? me : `${myName} (${me})`} at ${values.url}. Type "name: message", "!check" or "exit".`);
await showUnread(false);
client.onMessage(null, (m) => void show(m), { onError: (err) => out(`connection problem: ${JSON.stringify(err)}`) });
rl = createInterface({ input: process.stdin, output: process.stdout, prompt: '> ' });
rl.prompt();
rl.on(
  'line',
  (line) =>
    void handle(line)
      .catch((err) => out(err instanceof SwitchboardError ? `error (${err.code}): ${err.message}` : `error: ${(err as Error).message}`))
      .finally(() => rl?.prompt()),
);
rl.on('close', () => void client.close().then(() => process.exit(0)));
