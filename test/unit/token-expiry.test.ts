// Who ends a subscription when its credential ends: the stream itself over HTTP (SSE), the socket
// on a WebSocket, where a stream that completed would not be subscribed again by the client.
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import type { Viewer } from '../../src/auth/viewer.js';
import { createContext, SocketContext } from '../../src/context.js';
import { AsyncQueue } from '../../src/lib/async-queue.js';
import { endWithCredential } from '../../src/modules/realtime/token-expiry.js';
import type { Services } from '../../src/services.js';

/** Only what making a context reads; a JWT viewer never reaches the API keys. */
const services = { log: pino({ enabled: false }), loadersFor: () => ({}) } as unknown as Services;

const expiredNow = (): Viewer => ({
  orgId: 'default',
  userId: 'bob',
  displayName: 'Bob',
  kind: 'USER',
  roles: [],
  credential: { type: 'jwt', expiresAt: Math.floor(Date.now() / 1000) },
});

describe('endWithCredential', () => {
  it("ends an HTTP operation's stream when its token expires, and leaves a socket operation's to its socket", async () => {
    // The socket's first: had it a timer of its own, that timer would fire before the other's.
    const onSocket = new AsyncQueue<never>();
    endWithCredential(new SocketContext(services, expiredNow(), 'socket-request', '127.0.0.1'), onSocket);
    const overHttp = new AsyncQueue<never>();
    endWithCredential(createContext(services, expiredNow(), 'http-request', '127.0.0.1'), overHttp);

    for await (const _ of overHttp) throw new Error('nothing was pushed');
    expect(overHttp.done).toBe(true);
    expect(onSocket.done).toBe(false);
    onSocket.end();
  });
});
