import { type IncomingHttpHeaders, request } from 'node:http';
import WebSocket from 'ws';

/** What a browser sends that fetch would not let a test set as it likes (Host, Origin). */
export type BrowserHeaders = { origin?: string; host?: string; 'x-forwarded-proto'?: string };

/**
 * An HTTP request to `url` with exactly these headers; resolves with the status and headers of
 * the answer (its body is read and dropped).
 */
export function rawHttp(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A CORS preflight for a POST with a bearer token, as a browser sends it. */
export const preflight = (url: string, headers: BrowserHeaders) =>
  rawHttp(url, 'OPTIONS', {
    ...headers,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization, content-type',
  } as Record<string, string>);

/**
 * Opens a graphql-transport-ws socket with these headers: resolves with 101 once it opens (and
 * closes it), or with the status the server refused the upgrade with.
 */
export function upgradeStatus(wsUrl: string, headers: BrowserHeaders): Promise<number> {
  const { origin, ...rest } = headers;
  const socket = new WebSocket(wsUrl, 'graphql-transport-ws', { origin, headers: rest as Record<string, string> });
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      socket.close(1000);
      resolve(101);
    });
    socket.once('unexpected-response', (req, res) => {
      resolve(res.statusCode!);
      req.destroy();
    });
    socket.once('error', reject);
  });
}
