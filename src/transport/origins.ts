import type { IncomingMessage } from 'node:http';
import type { Config } from '../config.js';

/** Development servers on this machine, any port. */
const LOCALHOST = /^http:\/\/(localhost|127\.0\.0\.1)(:\d+)?$/;

/**
 * Which web pages a browser lets call the API (CORS) and open a WebSocket to it. A page of the
 * server's own origin (the web chat at `/`, GraphiQL), the origins of CORS_ORIGINS and, outside
 * production, http://localhost:* and http://127.0.0.1:* get in with credentials; with `*` in
 * CORS_ORIGINS any other origin gets in without them, and otherwise it is refused. Requests
 * without an Origin (servers, command-line clients) are not a browser's and are not concerned.
 */
export function createOriginPolicy(config: Pick<Config, 'env' | 'corsOrigins'>) {
  const listed = new Set(config.corsOrigins.filter((o) => o !== '*'));
  const anyOrigin = config.corsOrigins.includes('*');
  const localhost = config.env !== 'production';

  const decide = (origin: string, host: string | null, forwardedProto: string | null): 'credentials' | 'anonymous' | 'refused' => {
    if (listed.has(origin) || (localhost && LOCALHOST.test(origin)) || origin === ownOrigin(host, forwardedProto)) return 'credentials';
    return anyOrigin ? 'anonymous' : 'refused';
  };

  const allows = (req: IncomingMessage): boolean => {
    const { origin, host } = req.headers;
    const proto = req.headers['x-forwarded-proto'];
    return !origin || decide(origin, host ?? null, Array.isArray(proto) ? proto[0]! : (proto ?? null)) !== 'refused';
  };

  return {
    /**
     * Yoga's `cors` option: false sends no CORS header (the browser keeps the answer from the
     * page); otherwise Yoga reflects the request's Origin (with Vary: Origin), as it does when
     * no origin is configured.
     */
    cors: (request: Request): { credentials: boolean } | false => {
      const origin = request.headers.get('origin');
      if (origin === null) return false;
      // The URL's host is the request's Host header (see transport/http.ts).
      const decision = decide(origin, new URL(request.url).host, request.headers.get('x-forwarded-proto'));
      return decision === 'refused' ? false : { credentials: decision === 'credentials' };
    },
    /**
     * The `ws` server's verifyClient: an upgrade whose Origin is refused is answered 403 before
     * the socket opens, so that pages elsewhere cannot use the socket from a visitor's browser
     * any more than they can read HTTP answers.
     */
    verifyClient: (info: { origin?: string; req: IncomingMessage }, done: (ok: boolean, code?: number, message?: string) => void): void => {
      if (allows(info.req)) done(true);
      else done(false, 403, 'Origin not allowed');
    },
    /** Whether a request's Origin, if it has one, may use the API (the MCP endpoint's check). */
    allows,
  };
}

/**
 * The origin the request was sent to: its Host, with the scheme a TLS-terminating proxy reports
 * in X-Forwarded-Proto (the server itself speaks plain HTTP). Neither header can be set by a page
 * on a WebSocket, and a client that is not a browser can send any Origin anyway.
 */
function ownOrigin(host: string | null, forwardedProto: string | null): string | null {
  if (!host) return null;
  const scheme = forwardedProto?.split(',')[0]?.trim().toLowerCase() === 'https' ? 'https' : 'http';
  try {
    return new URL(`${scheme}://${host}`).origin;
  } catch {
    return null;
  }
}
