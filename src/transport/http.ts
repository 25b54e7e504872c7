import type { IncomingMessage, ServerResponse } from 'node:http';
import { type FetchAPI, handleErrorFromRequestHandler, sendNodeResponse } from '@whatwg-node/server';
import type { Viewer } from '../auth/viewer.js';
import { clientAddress } from './client-address.js';

/** Largest request body accepted, as for a WebSocket frame; a bigger one is answered 413. */
export const HTTP_MAX_BODY_BYTES = 256 * 1024;

/**
 * The client address of each request handed to Yoga (see clientAddress), for its context
 * function: Yoga gets no server context (see createHttpHandler), and a header would be the
 * client's to write.
 */
const addresses = new WeakMap<Request, string>();

/** The client address of a request made by createHttpHandler; undefined for any other. */
export const clientAddressOf = (request: Request | undefined): string | undefined => (request ? addresses.get(request) : undefined);

/**
 * The viewer of each request made inside the server for someone it has authenticated already
 * (inProcessFetch): the context function takes it as it is. A request from outside is never here.
 */
const viewers = new WeakMap<Request, Viewer>();

/** The viewer a request made by inProcessFetch is for; undefined for any other. */
export const authenticatedViewerOf = (request: Request | undefined): Viewer | undefined => (request ? viewers.get(request) : undefined);

type FetchHandler = {
  fetchAPI: FetchAPI;
  /** Called with no server context (see createHttpHandler). */
  handleRequest(request: Request, serverContext?: Record<string, unknown>): Response | Promise<Response>;
};

/**
 * Hands HTTP requests to Yoga with their body already read. A GraphQL body is small and wanted
 * whole: read here into one string and refused over `maxBodyBytes`, it costs far less CPU than
 * Yoga's Node adapter streaming it through a web ReadableStream and a size-limiting
 * TransformStream (docs/performance.md). Yoga is created with `maxRequestBodySize: false`, since
 * every body it sees is bounded here; its HTTP handling (status codes, content negotiation, SSE)
 * is unchanged, and the response goes out through the adapter's own sendNodeResponse. GET and
 * HEAD (a query in the URL, GraphiQL) carry no body and go the same way.
 *
 * Yoga gets no server context ({ req, res }): the adapter would make each request's context an
 * `Object.create(serverContext)`, a new hidden class per request, which turns every context read
 * in Yoga, envelop and our resolvers megamorphic; nothing of ours reads req or res. Nor an abort
 * signal, which nothing of Yoga's we use listens to: an SSE stream ends when its client goes away
 * because sendNodeResponse destroys it, and one whose client left before it was ready is ended
 * here (abandon).
 */
export function createHttpHandler(yoga: FetchHandler, options: { trustedProxies?: number; maxBodyBytes?: number } = {}) {
  const { trustedProxies = 0, maxBodyBytes = HTTP_MAX_BODY_BYTES } = options;
  const { Request } = yoga.fetchAPI;

  const tooLarge = (res: ServerResponse) => {
    // Closing: the rest of the body is not read.
    res.writeHead(413, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
    res.end(JSON.stringify({ errors: [{ message: `Request body is larger than ${maxBodyBytes} bytes`, extensions: { code: 'BAD_USER_INPUT' } }] }));
  };

  const respond = (req: IncomingMessage, res: ServerResponse, body: string | null) => {
    const request = new Request(`http://${req.headers.host ?? 'localhost'}${req.url ?? '/'}`, {
      method: req.method,
      headers: req.headers as HeadersInit,
      body,
    });
    addresses.set(request, clientAddress(req, trustedProxies));
    Promise.resolve()
      .then(() => yoga.handleRequest(request))
      .catch((err: unknown) => handleErrorFromRequestHandler(err, yoga.fetchAPI.Response))
      .then((response) => {
        if (res.closed || res.destroyed) return abandon(response);
        return sendNodeResponse(response, res, req, true);
      })
      .catch(() => res.destroy());
  };

  return (req: IncomingMessage, res: ServerResponse): void => {
    if (req.method === 'GET' || req.method === 'HEAD') {
      respond(req, res, null);
      return;
    }
    if (Number(req.headers['content-length'] ?? 0) > maxBodyBytes) {
      tooLarge(res);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        req.removeAllListeners('data');
        req.pause();
        if (!res.headersSent) tooLarge(res);
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > maxBodyBytes) return;
      respond(req, res, chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8'));
    });
    // A client that goes away mid-body: nothing to answer.
    req.on('error', () => res.destroy());
  };
}

/**
 * A fetch that hands each request to Yoga in this process as `viewer`, from `address`: the MCP
 * endpoint's tools use the GraphQL API through it, with every plugin and rule, without
 * authenticating (and auditing an act-as) once more per call. Abort signals are ignored as in
 * createHttpHandler: a reader ends a stream by cancelling its body.
 */
export function inProcessFetch(yoga: FetchHandler, viewer: Viewer, address: string): typeof fetch {
  const { Request } = yoga.fetchAPI;
  return async (input, init) => {
    const request = new Request(input instanceof URL ? input.href : (input as string), init);
    addresses.set(request, address);
    viewers.set(request, viewer);
    return (await yoga.handleRequest(request)) as Response;
  };
}

/**
 * Ends an answer whose client left before it was ready. sendNodeResponse would skip it, but a
 * subscription's stream holds its source (a pub/sub subscription) from the moment it was made.
 * The stream only starts on its first read (Yoga's SSE stream then opens with a ping) and only a
 * started stream passes cancel on to the subscription, so it is read once and then cancelled.
 */
function abandon(response: Response): void {
  const body = response.body;
  if (!body || !response.headers.get('content-type')?.includes('text/event-stream')) return;
  const reader = body.getReader();
  reader
    .read()
    .then(() => reader.cancel())
    .catch(() => {});
}
