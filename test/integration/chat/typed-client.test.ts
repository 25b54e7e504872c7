// The typed client's everyday-chat methods and listeners: reactions, threads, mentions, pins,
// search, settings, public groups, and the live conversation list, each listener stopping when
// its unsubscribe is called.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type ChatMessage, type ConversationEvent, createSwitchboardClient } from '../../../src/client/index.js';
import { startServer, type TestServer } from '../../kit/server.js';
import { eventually } from '../../kit/subscriptions.js';

describe('typed client: everyday chat', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ backend: 'pglite' });
  });
  afterAll(() => server?.stop());

  it('reacts, threads, mentions, pins, searches and follows the conversation list', async () => {
    const alice = createSwitchboardClient({ url: server.url, webSocketImpl: WebSocket, token: () => server.token('alice', { name: 'Alice' }) });
    const bob = createSwitchboardClient({ url: server.url, webSocketImpl: WebSocket, token: () => server.token('bob', { name: 'Bob' }) });
    await bob.viewer();
    const events: ConversationEvent[] = [];
    const offEvents = bob.onConversationEvent((e) => events.push(e));
    // Live only: create conversations until the listener has heard of one.
    let conversationId = '';
    await eventually(async () => {
      conversationId = (await alice.createConversation({ type: 'GROUP', name: 'client chat', participantIds: ['bob'] })).id;
      return events.some((e) => e.type === 'JOINED' && e.conversation.id === conversationId);
    });

    const root = await alice.sendMessage({ conversationId, content: 'Where shall we have lunch, @bob?', mentionIds: ['bob'] });
    const changed: ChatMessage[] = [];
    const offChanged = bob.onMessageChanged(conversationId, (m) => changed.push(m));
    await eventually(async () => {
      await bob.unreact(root.id, '🍕');
      await bob.react(root.id, '🍕');
      return changed.some((m) => m.reactions.length === 1);
    });
    const reply = await bob.sendMessage({ conversationId, content: 'The pizza place', threadId: root.id });
    const pinned = await alice.pin(root.id);
    expect(pinned.pinnedBy?.id).toBe('alice');

    const history = await bob.chatHistory(conversationId, { last: 10, topLevel: true });
    const top = history.edges.map((e) => e.node);
    expect(top).toHaveLength(1);
    expect(top[0]).toMatchObject({
      id: root.id,
      reactions: [{ emoji: '🍕', count: 1, viewerReacted: true }],
      thread: { replyCount: 1 },
      mentions: [{ id: 'bob' }],
    });
    expect((await alice.threadReplies(root.id)).edges.map((e) => e.node.id)).toEqual([reply.id]);
    expect((await bob.mentions()).edges.map((e) => e.node.id)).toEqual([root.id]);
    const found = await bob.searchMessages('lunch');
    expect(found.edges.map((e) => e.highlight)).toEqual(['Where shall we have <mark>lunch</mark>, @bob?']);

    await bob.markRead(conversationId, reply.seq);
    await eventually(() => events.some((e) => e.type === 'READ' && e.participant?.user.id === 'bob'));
    await bob.archive(conversationId);
    expect((await bob.chatConversations({ archived: true })).edges.map((e) => e.node.id)).toEqual([conversationId]);
    const unreacted = await bob.unreact(root.id, '🍕');
    expect(unreacted.reactions).toEqual([]);
    await alice.unpin(root.id);

    await alice.updateConversation(conversationId, { isPublic: true });
    const carol = createSwitchboardClient({ url: server.url, token: () => server.token('carol') });
    expect((await carol.publicConversations({ search: 'client' })).edges.map((e) => e.node.id)).toEqual([conversationId]);
    expect((await carol.joinConversation(conversationId)).role).toBe('MEMBER');
    await eventually(() => events.some((e) => e.type === 'PARTICIPANT_ADDED' && e.participant?.user.id === 'carol'));

    offEvents();
    offChanged();
    const heard = events.length;
    await alice.updateConversation(conversationId, { name: 'renamed' });
    await new Promise((r) => setTimeout(r, 200));
    expect(events.length).toBe(heard);
    await Promise.all([alice.close(), bob.close(), carol.close()]);
  });
});
