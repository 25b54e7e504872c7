import type { IncomingMessage, ServerResponse } from 'node:http';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Logger } from 'pino';
import type { Authenticator } from '../auth/authenticate.js';
import type { Viewer } from '../auth/viewer.js';
import { createSwitchboardClient } from '../client/index.js';
import { AppError } from '../graphql/errors.js';
import { createMcpServer } from '../mcp/server.js';
import { clientAddress } from './client-address.js';
import { HTTP_MAX_BODY_BYTES, inProcessFetch } from './http.js';

export const MCP_PATH = '/mcp';

type Yoga = Parameters<typeof inProcessFetch>[0];

export type McpHttpOptions = {
  yoga: Yoga;
  authenticate: Authenticator;
  /** Whether the request's Origin may use the API (transport/origins.ts). */
  allowsOrigin: (req: IncomingMessage) => boolean;
  /** MCP requests one user may have in progress on this instance (a wait holds one up to 60 s). */
  maxRequestsPerUser: number;
  trustedProxies: number;
  log: Logger;
};

/**
 * The MCP Streamable HTTP endpoint at /mcp, stateless: every POST is authenticated by its own
 * Authorization or X-API-Key header, as GraphQL requests are, and served by an MCP server made
 * for that request and its viewer, whose tools call the GraphQL API in process. No session lives
 * between requests, so any instance serves any request (no affinity) and nothing is left to
 * clean up when a client goes away; the limit is on requests in progress per user. Without
 * sessions there is no GET stream for server-initiated messages (405), which the tools do not need.
 *
 * Returns a handler that answers requests for /mcp and returns false for any other path.
 */
export function createMcpHttpHandler(options: McpHttpOptions) {
  const { yoga, authenticate, allowsOrigin, maxRequestsPerUser, trustedProxies, log } = options;
  const inProgress = new Map<string, number>();

  /** Counts a request of `viewer` until its response closes; false when the user is at the limit. */
  const admit = (viewer: Viewer, res: ServerResponse): boolean => {
    const key = `${viewer.orgId}\u0000${viewer.userId}`;
    const n = inProgress.get(key) ?? 0;
    if (n >= maxRequestsPerUser) return false;
    inProgress.set(key, n + 1);
    res.once('close', () => {
      const left = inProgress.get(key)! - 1;
      if (left === 0) inProgress.delete(key);
      else inProgress.set(key, left);
    });
    return true;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    // DNS rebinding: a page elsewhere must not reach the endpoint through a visitor's browser.
    if (!allowsOrigin(req)) return refuse(res, 403, 'Origin not allowed');
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      return refuse(res, 405, 'Method not allowed: this endpoint is stateless and takes POST only');
    }
    let viewer: Viewer | null;
    try {
      viewer = await authenticate({
        authorization: header(req, 'authorization'),
        apiKey: header(req, 'x-api-key'),
        actAs: header(req, 'x-act-as-user'),
        operation: 'mcp',
      });
    } catch (err) {
      if (!(err instanceof AppError)) throw err;
      return refuse(res, err.code === 'FORBIDDEN' ? 403 : 401, `${err.code}: ${err.message}`);
    }
    if (!viewer) return refuse(res, 401, 'UNAUTHENTICATED: send Authorization: Bearer <token> or X-API-Key');
    // Gone while it was authenticated: its close has been and would never free a slot.
    if (res.closed || res.destroyed) return;
    if (!admit(viewer, res)) {
      res.setHeader('retry-after', '1');
      return refuse(res, 429, `RATE_LIMITED: at most ${maxRequestsPerUser} MCP requests in progress per user`);
    }

    const client = createSwitchboardClient({
      // Only its path matters: the request never leaves the process.
      url: 'http://localhost/graphql',
      fetch: inProcessFetch(yoga, viewer, clientAddress(req, trustedProxies)),
    });
    const server = createMcpServer(client, { id: viewer.userId, displayName: viewer.displayName });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, maxRequestBodySize: HTTP_MAX_BODY_BYTES });
    // A client gone mid-call aborts the tool (a wait stops waiting) and frees the request's slot.
    res.once('close', () => void server.close().catch(() => {}));
    await server.connect(transport);
    await transport.handleRequest(req, res);
  };

  return (req: IncomingMessage, res: ServerResponse): boolean => {
    if (req.url?.split('?')[0] !== MCP_PATH) return false;
    handle(req, res).catch((err: unknown) => {
      log.error({ err }, 'MCP request failed');
      if (res.headersSent) res.destroy();
      else refuse(res, 500, 'Internal error', -32603);
    });
    return true;
  };
}

const header = (req: IncomingMessage, name: string): string | null => {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
};

/** A JSON-RPC error answer with no id, as the MCP transport gives for a request it refuses. */
function refuse(res: ServerResponse, status: number, message: string, code = -32000): void {
  if (status === 401) res.setHeader('www-authenticate', 'Bearer');
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ jsonrpc: '2.0', error: { code, message }, id: null }));
}
