import http from 'node:http';

/** A keep-alive HTTP client for GraphQL over HTTP: a fixed pool of `connections` sockets. */
export class HttpClient {
  readonly agent: http.Agent;
  private readonly url: URL;

  constructor(url: string, connections: number) {
    this.url = new URL(url);
    this.agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections, scheduling: 'fifo' });
  }

  /** POSTs a JSON body; resolves with the status and the raw body text. */
  post(body: string, headers: Record<string, string> = {}, path = this.url.pathname): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.url.hostname,
          port: this.url.port,
          path,
          method: 'POST',
          agent: this.agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  }

  /** A GraphQL request; throws on transport errors and on GraphQL errors. */
  async gql<T = any>(token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const { status, text } = await this.post(JSON.stringify({ query, variables }), { authorization: `Bearer ${token}` });
    let parsed: { data?: T; errors?: unknown[] };
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(`HTTP ${status}: ${text.slice(0, 300)}`);
    }
    if (parsed.errors?.length || !parsed.data) throw new Error(`HTTP ${status}: ${JSON.stringify(parsed.errors).slice(0, 500)}`);
    return parsed.data;
  }

  close() {
    this.agent.destroy();
  }
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
export async function pool<T, R>(items: T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= items.length) return;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}
