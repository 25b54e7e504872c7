import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import type { Config } from '../config.js';

/**
 * The web chat at `/`. `npm run build` bundles it into dist/web/app, beside this file compiled,
 * and the compiled server serves those files as they are. Run from its TypeScript (`npm run dev`,
 * the tests), the server bundles src/web/app in memory instead, once, on the first request in
 * tests; in development a page load rebuilds when a source file changed since the last build.
 */

const COMPILED = import.meta.url.endsWith('.js');
/** dist/web/app when compiled. */
const BUILT_DIR = fileURLToPath(new URL('./app/', import.meta.url));

type Asset = { body: Buffer; type: string; etag: string };
type Bundle = { assets: Map<string, Asset>; inputs: string[]; builtAt: number };

/** URL path -> asset name. Nothing else is served from here. */
const ROUTES: Record<string, string> = {
  '/': 'index.html',
  '/app.js': 'app.js',
  '/app.css': 'app.css',
  '/app.js.map': 'app.js.map',
  '/app.css.map': 'app.css.map',
};

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  map: 'application/json; charset=utf-8',
};

// connect-src 'self' covers the WebSocket to the same host and port (CSP Level 3).
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const asset = (name: string, body: Buffer): Asset => ({
  body,
  type: TYPES[name.split('.').pop()!] ?? 'application/octet-stream',
  etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
});

/** The files `npm run build` wrote, for the compiled server. */
async function readBuilt(): Promise<Bundle> {
  const assets = new Map<string, Asset>();
  for (const name of new Set(Object.values(ROUTES))) {
    const body = await readFile(join(BUILT_DIR, name)).catch(() => {
      throw new Error(`The web chat is not built (${join(BUILT_DIR, name)} is missing): run \`npm run build\`, or set WEB_CHAT=false`);
    });
    assets.set(name, asset(name, body));
  }
  return { assets, inputs: [], builtAt: Date.now() };
}

/** The chat bundled in memory from its sources, for the server run from TypeScript. */
async function bundleSources(): Promise<Bundle> {
  const builtAt = Date.now();
  // Loaded only here, so that the compiled server never loads esbuild.
  const { bundleWebChat } = await import('./bundle.js');
  const { files, inputs } = await bundleWebChat();
  const assets = new Map<string, Asset>();
  for (const [name, body] of files) assets.set(name, asset(name, Buffer.from(body)));
  return { assets, inputs, builtAt };
}

let current: Promise<Bundle> | undefined;
let checking: Promise<Bundle> | undefined;

/** The bundle of this process, built on first use; a failed build is tried again next time. */
function bundle(): Promise<Bundle> {
  if (!current) {
    const building = COMPILED ? readBuilt() : bundleSources();
    building.catch(() => {
      if (current === building) current = undefined;
    });
    current = building;
  }
  return current;
}

/** In development, from TypeScript: rebuild when a source file is newer than the bundle. */
function freshBundle(): Promise<Bundle> {
  checking ??= (async () => {
    try {
      const built = await bundle();
      const times = await Promise.all(
        built.inputs.map((f) =>
          stat(f).then(
            (s) => s.mtimeMs,
            () => Infinity,
          ),
        ),
      );
      if (times.some((t) => t > built.builtAt)) {
        current = undefined;
        return await bundle();
      }
      return built;
    } finally {
      checking = undefined;
    }
  })();
  return checking;
}

export type WebHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * A request handler for `/` and the chat's assets: returns true when it answered the request,
 * false to let the next handler (Yoga) have it.
 */
export function createWebHandler(config: Pick<Config, 'env' | 'webChat'>, log: Logger): WebHandler {
  if (!config.webChat) return () => false;
  // Tests start many servers that never load the page: they bundle on the first request.
  if (config.env !== 'test') {
    bundle().then(
      () => log.debug(COMPILED ? 'web chat loaded' : 'web chat bundled'),
      (err) => log.error({ err: (err as Error).message }, 'web chat unavailable'),
    );
  }

  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    const name = ROUTES[path];
    if (!name) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return true;
    }
    const load = name === 'index.html' && config.env === 'development' && !COMPILED ? freshBundle() : bundle();
    load.then(
      (built) => {
        const file = built.assets.get(name);
        if (!file) {
          res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('Not found');
          return;
        }
        const headers: Record<string, string> = {
          'content-type': file.type,
          etag: file.etag,
          'cache-control': 'no-cache',
          'x-content-type-options': 'nosniff',
          'referrer-policy': 'no-referrer',
        };
        if (name === 'index.html') headers['content-security-policy'] = CSP;
        if (req.headers['if-none-match'] === file.etag) {
          res.writeHead(304, headers).end();
          return;
        }
        headers['content-length'] = String(file.body.length);
        res.writeHead(200, headers).end(req.method === 'HEAD' ? undefined : file.body);
      },
      (err: Error) => {
        log.error({ err: err.message }, 'web chat unavailable');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('The web chat is not available; see the server log.');
      },
    );
    return true;
  };
}
