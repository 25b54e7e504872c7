import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversationDocument, MessagesDocument, SendMessageDocument, UserDocument, ViewerDocument } from '../../../src/client/generated/graphql.js';
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
