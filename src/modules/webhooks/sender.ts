import http from 'node:http';
import https from 'node:https';
import { Webhook } from 'standardwebhooks';
import { checkUrl, guardedLookup, type UrlPolicy } from './url-policy.js';

/** What one POST came to. */
export type AttemptResult = {
  ok: boolean;
  /** The receiver's status; null when there was no answer (refused, timed out, unsafe address). */
  status: number | null;
  /** The start of the response body, or what went wrong. */
  excerpt: string | null;
};

/** The event as it is POSTed (Standard Webhooks' recommended body). */
export type WebhookPayload = { id: string; type: string; timestamp: string; data: unknown };

/** Response bytes read (and characters kept): receivers' bodies are not stored beyond this. */
const EXCERPT_BYTES = 512;

export type SenderOptions = {
  policy: UrlPolicy;
  /** Whole attempt, connection to last byte read. */
  timeoutMs: number;
  /** Connections kept per receiver host. */
  maxSockets: number;
};

/**
 * POSTs signed events (Standard Webhooks: webhook-id, webhook-timestamp, webhook-signature).
 * Connects only to allowed addresses (url-policy.ts), follows no redirect (a 3xx is a failure),
 * and gives up after `timeoutMs`.
 */
export class WebhookSender {
  private readonly agents: { 'http:': http.Agent; 'https:': https.Agent };
  private readonly lookup: ReturnType<typeof guardedLookup>;

  constructor(private readonly options: SenderOptions) {
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets };
    this.agents = { 'http:': new http.Agent(agentOptions), 'https:': new https.Agent(agentOptions) };
    this.lookup = guardedLookup(options.policy);
  }

  async send(target: { url: string; secret: string }, payload: WebhookPayload): Promise<AttemptResult> {
    let url: URL;
    try {
      url = checkUrl(target.url, this.options.policy);
    } catch (err) {
      return { ok: false, status: null, excerpt: `refused: URL ${(err as Error).message}` };
    }
    const body = JSON.stringify(payload);
    const now = new Date();
    const signature = new Webhook(target.secret).sign(payload.id, now, body);
    const headers = {
      'content-type': 'application/json',
      'content-length': String(Buffer.byteLength(body)),
      'user-agent': 'Switchboard-Webhooks/1',
      'webhook-id': payload.id,
      'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
      'webhook-signature': signature,
    };
    const protocol = url.protocol as 'http:' | 'https:';
    const request = protocol === 'https:' ? https.request : http.request;
    return new Promise<AttemptResult>((resolve) => {
      let settled = false;
      const finish = (result: AttemptResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const req = request(url, { method: 'POST', headers, agent: this.agents[protocol], lookup: this.lookup as never }, (res) => {
        const status = res.statusCode ?? 0;
        const chunks: Buffer[] = [];
        let size = 0;
        const done = () => {
          const excerpt = Buffer.concat(chunks)
            .subarray(0, EXCERPT_BYTES)
            .toString('utf8')
            .replace(/\uFFFD+$/, '');
          finish({ ok: status >= 200 && status < 300, status, excerpt: excerpt || null });
        };
        res.on('data', (chunk: Buffer) => {
          if (size >= EXCERPT_BYTES) return;
          chunks.push(chunk);
          size += chunk.length;
          // Enough to show: the rest is not read (the connection is dropped rather than reused).
          if (size >= EXCERPT_BYTES) {
            done();
            res.destroy();
          }
        });
        res.on('end', done);
        res.on('error', done);
      });
      const timer = setTimeout(() => {
        finish({ ok: false, status: null, excerpt: `timed out after ${this.options.timeoutMs} ms` });
        req.destroy();
      }, this.options.timeoutMs);
      req.on('error', (err) => finish({ ok: false, status: null, excerpt: `failed: ${err.message}`.slice(0, EXCERPT_BYTES) }));
      req.end(body);
    });
  }

  close(): void {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }
}
