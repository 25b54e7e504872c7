import net from 'node:net';

/**
 * One keep-alive HTTP/1.1 connection that sends POSTs, one at a time, and returns each
 * response's status and body bytes. The closed loops (Q1, M1) use it instead of node:http, whose
 * client (request objects, header parsing, a string of every 27 KB body) cost the load workers
 * 0.2 ms of CPU per request: a fifth of what the whole machine had per request at the Q1 target,
 * spent on the load generator, not the service. Only the request head's fixed part is kept; the
 * request is what node:http would send, and the server cannot tell them apart.
 */
export class RawHttpConnection {
  private socket: net.Socket | undefined;
  private buffer: Buffer = Buffer.alloc(0);
  private pending: { resolve: (r: RawResponse) => void; reject: (err: Error) => void } | undefined;
  private readonly head: string;

  constructor(private readonly url: URL) {
    this.head = `POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: keep-alive\r\nContent-Type: application/json\r\n`;
  }

  /** POSTs a JSON body with extra headers; resolves with the status and the body bytes. */
  post(body: string, headers: Record<string, string>): Promise<RawResponse> {
    let head = this.head;
    for (const name in headers) head += `${name}: ${headers[name]}\r\n`;
    const request = Buffer.from(`${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    return new Promise((resolve, reject) => {
      if (this.pending) return reject(new Error('one request at a time per connection'));
      this.pending = { resolve, reject };
      this.connected().write(request);
    });
  }

  close(): void {
    this.socket?.destroy();
    this.socket = undefined;
  }

  private connected(): net.Socket {
    if (this.socket && !this.socket.destroyed) return this.socket;
    this.buffer = Buffer.alloc(0);
    const socket = net.connect(Number(this.url.port), this.url.hostname);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
      this.parse();
    });
    const fail = (err: Error) => {
      // A late event of a socket already replaced must not touch its successor's request.
      if (this.socket !== socket) return;
      this.socket = undefined;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('connection closed')));
    this.socket = socket;
    return socket;
  }

  /** Completes the pending request once its whole response is in the buffer. */
  private parse(): void {
    const end = this.buffer.indexOf(HEADER_END);
    if (end < 0 || !this.pending) return;
    const headText = this.buffer.toString('latin1', 0, end);
    const length = /\r\ncontent-length: *(\d+)/i.exec(headText);
    if (!length) {
      this.pending.reject(new Error(`response without Content-Length: ${headText.slice(0, 200)}`));
      this.pending = undefined;
      this.close();
      return;
    }
    const bodyStart = end + HEADER_END.length;
    const bodyEnd = bodyStart + Number(length[1]);
    if (this.buffer.length < bodyEnd) return;
    const response = { status: Number(headText.slice(9, 12)), body: this.buffer.subarray(bodyStart, bodyEnd) };
    this.buffer = this.buffer.subarray(bodyEnd);
    // The server closes after this response (a 413 does): the next request takes a new connection.
    if (/\r\nconnection: *close/i.test(headText)) this.close();
    const p = this.pending;
    this.pending = undefined;
    p.resolve(response);
  }
}

export type RawResponse = { status: number; body: Buffer };

const HEADER_END = Buffer.from('\r\n\r\n');
