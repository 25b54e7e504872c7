import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AppendMessagePartDocument,
  CompleteMessageDocument,
  CreateConversationDocument,
  MessagesDocument,
  SendMessageDocument,
  StartMessageDocument,
  UserDocument,
  ViewerDocument,
} from '../../../src/client/generated/graphql.js';
import { dataOf, startServer, type TestServer } from '../../kit/server.js';
import { backends } from '../../kit/services.js';
import { eventually } from '../../kit/subscriptions.js';

/** `npm run chat` as a person uses it: a real process, typed at through stdin. */
describe('terminal chat', () => {
  let server: TestServer;
  let chat: ChildProcessWithoutNullStreams | undefined;
  let output = '';

  beforeAll(async () => {
    server = await startServer({ backend: 'pglite' });
  });
  afterAll(async () => {
    chat?.kill();
    await server?.stop();
  });

  it('shows what came while away, sends with `name: text`, lists unread with !check, shows live messages, exits', async () => {
    const bob = await server.token('bob', { name: 'Bob' });
    const alice = await server.token('alice', { name: 'Alice' });
    // Bob writes to Alice before she is connected.
    const conv = dataOf(await server.gql(bob, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: ['alice'] } })).createConversation.id;
    dataOf(await server.gql(bob, SendMessageDocument, { input: { conversationId: conv, content: 'are you there?' } }));

    chat = spawn(process.execPath, ['--import', 'tsx', 'src/cli/chat.ts', '--url', server.url, '--token', alice], {
      cwd: process.cwd(),
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    chat.stdout.on('data', (d) => (output += d.toString()));
    chat.stderr.on('data', (d) => (output += d.toString()));
    await eventually(() => output.includes('Bob: are you there?'));

    chat.stdin.write('bob: yes, here\n');
    await eventually(async () => {
      const history = dataOf(await server.gql(bob, MessagesDocument, { conversationId: conv, last: 5 })).messages.edges;
      return history.some((e) => e.node.content === 'yes, here' && e.node.sender.id === 'alice');
    });

    chat.stdin.write('!check\n');
    await eventually(() => output.includes('no unread messages'));

    dataOf(await server.gql(bob, SendMessageDocument, { input: { conversationId: conv, content: 'great, see you' } }));
    await eventually(() => output.includes('Bob: great, see you'));

    const exited = new Promise<number | null>((resolve) => chat!.on('exit', (code) => resolve(code)));
    chat.stdin.write('exit\n');
    expect(await exited).toBe(0);
  });
});

describe('terminal chat with an agent', () => {
  let server: TestServer;
  let chat: ChildProcessWithoutNullStreams | undefined;
  let output = '';

  beforeAll(async () => {
    server = await startServer({ backend: 'pglite' });
  });
  afterAll(async () => {
    chat?.kill();
    await server?.stop();
  });

  it("shows an agent's streamed answer as it arrives, its tool call and result on lines of their own, once", async () => {
    const alice = await server.token('alice', { name: 'Alice' });
    const helper = await server.token('helper', { name: 'Helper', kind: 'agent' });
    dataOf(await server.gql(helper, ViewerDocument));
    const conv = dataOf(await server.gql(alice, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: ['helper'] } })).createConversation.id;
    chat = spawn(process.execPath, ['--import', 'tsx', 'src/cli/chat.ts', '--url', server.url, '--token', alice], {
      cwd: process.cwd(),
      env: { ...process.env, FORCE_COLOR: '0' },
    });
    chat.stdout.on('data', (d) => (output += d.toString()));
    chat.stderr.on('data', (d) => (output += d.toString()));
    await eventually(() => output.includes('signed in as'));

    const id = dataOf(await server.gql(helper, StartMessageDocument, { input: { conversationId: conv, runId: 'r1' } })).startMessage.id;
    const append = async (part: Record<string, unknown>) => dataOf(await server.gql(helper, AppendMessagePartDocument, { id, part: part as never }));
    await append({ type: 'REASONING', text: 'Counting.' });
    await append({ type: 'TEXT', text: 'Let me ' });
    await append({ type: 'TEXT', text: 'count. ' });
    // Shown before the answer is complete. The chat subscribes when it starts: retry until it
    // has (a late subscription gets the parts so far).
    await eventually(() => output.includes('helper: (thinking) Counting.\n  Let me count. '));
    await append({ type: 'TOOL_CALL', toolCallId: 'c1', toolName: 'word_count', text: '{"text":"hi"}', input: { text: 'hi' } });
    await append({ type: 'TOOL_RESULT', toolCallId: 'c1', toolName: 'word_count', output: { words: 1 } });
    await append({ type: 'TEXT', text: 'One word.' });
    dataOf(await server.gql(helper, CompleteMessageDocument, { id }));
    await eventually(() => output.includes('One word.\n'));
    expect(output).toContain('helper: (thinking) Counting.\n  Let me count. \n  [word_count {"text":"hi"}]\n  [word_count → {"words":1}]\n  One word.\n');
    // The completed message is not shown a second time.
    await new Promise((r) => setTimeout(r, 300));
    expect(output).not.toContain('Helper: Let me count.');

    const exited = new Promise<number | null>((resolve) => chat!.on('exit', (code) => resolve(code)));
    chat.stdin.write('exit\n');
    expect(await exited).toBe(0);
  });
});

describe.each(backends)('terminal chat with --user on %s', (backend) => {
  let server: TestServer;
  let chat: ChildProcessWithoutNullStreams | undefined;
  let output = '';

  beforeAll(async () => {
    server = await startServer({ backend });
  });
  afterAll(async () => {
    chat?.kill();
    await server?.stop();
  });

  it('signs in with a token of its own and keeps the display name the user has', async () => {
    const alice = await server.token('alice', { name: 'Alice' });
    const bob = await server.token('bob', { name: 'Bob' });
    expect(dataOf(await server.gql(alice, ViewerDocument)).viewer.displayName).toBe('Alice');
    const conv = dataOf(await server.gql(bob, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: ['alice'] } })).createConversation.id;

    // Without --token it mints one with the server's secret, as `npm run chat -- --user alice` does.
    const env = { ...process.env };
    delete env.SWITCHBOARD_TOKEN;
    chat = spawn(process.execPath, ['--import', 'tsx', 'src/cli/chat.ts', '--user', 'alice', '--url', server.url], {
      cwd: process.cwd(),
      env: { ...env, JWT_SECRET: server.secret, FORCE_COLOR: '0' },
    });
    chat.stdout.on('data', (d) => (output += d.toString()));
    chat.stderr.on('data', (d) => (output += d.toString()));
    await eventually(() => output.includes('signed in as Alice (alice)'));

    chat.stdin.write('bob: from the terminal\n');
    await eventually(async () => {
      const history = dataOf(await server.gql(bob, MessagesDocument, { conversationId: conv, last: 5 })).messages.edges;
      return history.some((e) => e.node.content === 'from the terminal');
    });
    const history = dataOf(await server.gql(bob, MessagesDocument, { conversationId: conv, last: 5 })).messages.edges;
    expect(history.map((e) => [e.node.content, e.node.sender.id, e.node.sender.displayName])).toEqual([['from the terminal', 'alice', 'Alice']]);
    expect(dataOf(await server.gql(bob, UserDocument, { id: 'alice' })).user?.displayName).toBe('Alice');

    const exited = new Promise<number | null>((resolve) => chat!.on('exit', (code) => resolve(code)));
    chat.stdin.write('exit\n');
    expect(await exited).toBe(0);
  });
});
