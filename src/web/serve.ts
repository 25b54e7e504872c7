import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { Logger } from 'pino';
import type { Config } from '../config.js';

/**
 * The web chat at `/`. Its TypeScript and CSS (src/web, with the typed client in src/client) are
 * bundled by esbuild in memory, once per process: at start, or on the first request in tests.
 * In development a page load rebuilds when a source file changed since the last build.
 */

// The chat is always bundled from its sources, also when the server runs compiled from dist/.
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WEB_DIR = join(ROOT, 'src', 'web');

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

/** Bundles the web chat in memory: index.html, app.js and app.css (with source maps). */
export async function buildWebBundle(): Promise<Bundle> {
  const builtAt = Date.now();
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { app: join(WEB_DIR, 'main.ts') },
    outdir: join(ROOT, '.web-bundle'),
    bundle: true,
    write: false,
    format: 'esm',
    platform: 'browser',
    target: ['es2022'],
    minify: true,
    sourcemap: 'linked',
    metafile: true,
    legalComments: 'none',
    charset: 'utf8',
    logLevel: 'silent',
  });
  const assets = new Map<string, Asset>();
  for (const file of result.outputFiles) assets.set(basename(file.path), asset(basename(file.path), Buffer.from(file.contents)));
  const html = join(WEB_DIR, 'index.html');
  assets.set('index.html', asset('index.html', await readFile(html)));
  const inputs = [html, ...Object.keys(result.metafile.inputs).filter((f) => !f.includes('node_modules')).map((f) => resolve(ROOT, f))];
  return { assets, inputs, builtAt };
}

let current: Promise<Bundle> | undefined;
let checking: Promise<Bundle> | undefined;

/** The bundle of this process, built on first use; a failed build is tried again next time. */
function bundle(): Promise<Bundle> {
  if (!current) {
    const building = buildWebBundle();
    building.catch(() => {
      if (current === building) current = undefined;
    });
    current = building;
  }
  return current;
}

/** In development: rebuild when a source file is newer than the bundle. */
function freshBundle(): Promise<Bundle> {
  checking ??= (async () => {
    try {
      const built = await bundle();
      const times = await Promise.all(built.inputs.map((f) => stat(f).then((s) => s.mtimeMs, () => Infinity)));
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
  // Tests start many servers that never load the page: they build on the first request.
  if (config.env !== 'test') {
    const started = Date.now();
    bundle().then(
      () => log.debug({ ms: Date.now() - started }, 'web chat built'),
      (err) => log.error({ err: (err as Error).message }, 'web chat build failed'),
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
    const load = name === 'index.html' && config.env === 'development' ? freshBundle() : bundle();
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
        log.error({ err: err.message }, 'web chat build failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('The web chat could not be built; see the server log.');
      },
    );
    return true;
  };
}
