import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createSwitchboardClient, type Message, SwitchboardError } from '../../../src/client/index.js';
import { startServer, type TestServer } from '../../kit/server.js';
import { eventually } from '../../kit/subscriptions.js';

describe('typed client', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startServer({ backend: 'pglite' });
  });
  afterAll(() => server?.stop());

  it('refreshes an expiring token through its callback, resumes listeners after the reconnect without a gap, and says it reconnected', async () => {
    let minted = 0;
    // Each token lives 3 s: the server closes the socket (4403) when it expires.
    const alice = createSwitchboardClient({
      url: server.url,
      webSocketImpl: WebSocket,
      token: () => {
        minted++;
        return server.token('alice', { expiresIn: 3 });
      },
    });
    const bob = createSwitchboardClient({ url: server.url, webSocketImpl: WebSocket, token: () => server.token('bob') });
    await alice.viewer();
    const conversation = await bob.createConversation({ type: 'GROUP', name: 'c', participantIds: ['alice'] });

    const seen: Message[] = [];
    let reconnects = 0;
    const offReconnect = alice.onReconnect(() => reconnects++);
    const off = alice.onMessage(conversation.id, (m) => seen.push(m), { afterSeq: 0 });
    // Messages keep coming, a few a second, until the listener has had to connect again twice with
    // a fresh token (one token for the first request, one per connection).
    const sends: Promise<Message>[] = [];
    while (minted < 4) {
      sends.push(bob.sendMessage({ conversationId: conversation.id, content: `m${sends.length + 1}` }));
      await new Promise((r) => setTimeout(r, 200));
    }
    await Promise.all(sends);
    await eventually(() => seen.length >= sends.length);
    expect(seen.map((m) => m.seq)).toEqual(Array.from({ length: sends.length }, (_, i) => i + 1));
    // The first connection is no reconnect; each later one is (3 tokens for connections: 2 reconnects).
    await eventually(() => reconnects >= 2);
    expect(reconnects).toBeLessThanOrEqual(minted - 2);
    offReconnect();
    off();
    await Promise.all([alice.close(), bob.close()]);
  });

  it('sends exactly once with an automatic clientMessageId and reports errors with their code', async () => {
    const carol = createSwitchboardClient({ url: server.url, token: () => server.token('carol') });
    const conversation = await carol.createConversation({ type: 'GROUP', name: 'solo' });
    const a = await carol.sendMessage({ conversationId: conversation.id, content: 'x', clientMessageId: 'fixed' });
    const b = await carol.sendMessage({ conversationId: conversation.id, content: 'x', clientMessageId: 'fixed' });
    const c = await carol.sendMessage({ conversationId: conversation.id, content: 'y' });
    expect(b.id).toBe(a.id);
    expect(c.clientMessageId).toMatch(/.+/);
    expect(c.seq).toBe(2);
    const err = await carol.sendMessage({ conversationId: conversation.id, content: 'z', clientMessageId: 'fixed' }).catch((e) => e);
    expect(err).toBeInstanceOf(SwitchboardError);
    expect(err.code).toBe('CONFLICT');
  });
});
