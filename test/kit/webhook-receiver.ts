// A webhook receiver in the test process: records every POST, verifies signatures with the
// standardwebhooks package, and answers as the test says.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

/** Fast retries and a short timeout, and receivers on 127.0.0.1 allowed. */
export const WEBHOOK_TEST_ENV = { WEBHOOK_ALLOW_PRIVATE: 'true', WEBHOOK_RETRY_BASE_SECONDS: '1', WEBHOOK_TIMEOUT_MS: '10000' };

export type Received = {
  headers: Record<string, string>;
  body: string;
  payload: { id: string; type: string; timestamp: string; data: Record<string, unknown> };
};

/** What to do with a request: answer with a status, or hold it (never answer). */
export type Answer = number | 'hold';

export type Receiver = {
  url: string;
  received: Received[];
  /** Chooses the answer per request (default 200). */
  answer: (request: Received) => Answer;
  /** Resolves once `predicate` holds for what was received (checked on every request). */
  until(predicate: (received: Received[]) => boolean): Promise<Received[]>;
  /** Whether `request` is signed with `secret` (standardwebhooks' verify). */
  verifies(request: Received, secret: string): boolean;
  close(): Promise<void>;
};

export async function startReceiver(): Promise<Receiver> {
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  const held = new Set<ServerResponse>();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const request: Received = { headers: req.headers as Record<string, string>, body, payload: JSON.parse(body) as Received['payload'] };
      received.push(request);
      const answer = receiver.answer(request);
      if (answer === 'hold') held.add(res);
      else res.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'x'.repeat(5_000));
      for (const waiter of [...waiters]) waiter();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const receiver: Receiver = {
    url: `http://127.0.0.1:${port}/hooks`,
    received,
    answer: () => 200,
    until: (predicate) =>
      new Promise((resolve) => {
        const check = () => {
          if (!predicate(received)) return;
          waiters.delete(check);
          resolve(received);
        };
        waiters.add(check);
        check();
      }),
    verifies: (request, secret) => {
      try {
        new Webhook(secret).verify(request.body, request.headers);
        return true;
      } catch {
        return false;
      }
    },
    close: async () => {
      for (const res of held) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  return receiver;
}
