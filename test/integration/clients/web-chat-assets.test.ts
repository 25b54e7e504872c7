import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BrowserHeaders, preflight, upgradeStatus } from '../../kit/origins.js';
import { startServer, type TestServer } from '../../kit/server.js';

/** The web chat's files as the server serves them (the browser tests are in test/e2e). */
describe('web chat assets', () => {
  let server: TestServer;
  let base: string;
  beforeAll(async () => {
    server = await startServer();
    base = server.url.replace(/\/graphql$/, '');
  });
  afterAll(() => server?.stop());

  it('serves the page at / with a strict content security policy', async () => {
    const res = await fetch(`${base}/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    expect(html).toContain('<script type="module" src="/app.js"></script>');
    expect(html).toContain('id="signin-form"');
    // Nothing from elsewhere: no CDN.
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
  });

  it('serves the bundle built from src/web with the typed client in it', async () => {
    const js = await fetch(`${base}/app.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const code = await js.text();
    expect(code).toContain('graphql-transport-ws');
    expect(code).not.toMatch(/^import /m);
    const css = await fetch(`${base}/app.css`);
    expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
    expect(await css.text()).toContain('.conv-item');
  });

  it('answers a matching If-None-Match with 304 and refuses other methods', async () => {
    const first = await fetch(`${base}/app.js`);
    const etag = first.headers.get('etag')!;
    expect(etag).toMatch(/^".+"$/);
    expect((await fetch(`${base}/app.js`, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(`${base}/`, { method: 'POST' })).status).toBe(405);
    expect((await fetch(`${base}/nothing-here.js`)).status).toBe(404);
  });

  it('lets the page call the API and open its socket by whatever host name the server is reached at', async () => {
    // Production: localhost is not let in as such there, only as the server's own origin.
    const production = await startServer({ env: { NODE_ENV: 'production' } });
    try {
      const { port } = new URL(production.url);
      const own: BrowserHeaders[] = [
        { origin: `http://127.0.0.1:${port}` },
        { host: `localhost:${port}`, origin: `http://localhost:${port}` },
        { host: `chat.example.com:${port}`, origin: `http://chat.example.com:${port}` },
        // Behind a proxy that ends TLS and says so.
        { host: 'chat.example.com', 'x-forwarded-proto': 'https', origin: 'https://chat.example.com' },
      ];
      for (const headers of own) {
        const answer = await preflight(production.url, headers);
        expect(answer.headers['access-control-allow-origin'], JSON.stringify(headers)).toBe(headers.origin);
        expect(answer.headers['access-control-allow-credentials']).toBe('true');
        expect(await upgradeStatus(production.wsUrl, headers), JSON.stringify(headers)).toBe(101);
      }
      // A page of another host, or of this one without TLS when the proxy says it has it, is not its own.
      const foreign: BrowserHeaders[] = [
        { host: `chat.example.com:${port}`, origin: `http://other.example:${port}` },
        { host: 'chat.example.com', 'x-forwarded-proto': 'https', origin: 'http://chat.example.com' },
      ];
      for (const headers of foreign) {
        expect((await preflight(production.url, headers)).headers['access-control-allow-origin'], JSON.stringify(headers)).toBeUndefined();
        expect(await upgradeStatus(production.wsUrl, headers), JSON.stringify(headers)).toBe(403);
      }
    } finally {
      await production.stop();
    }
  });

  it('is off with WEB_CHAT=false', async () => {
    const plain = await startServer({ env: { WEB_CHAT: 'false' } });
    try {
      const res = await fetch(plain.url.replace(/\/graphql$/, '/'));
      expect(res.status).toBe(404);
    } finally {
      await plain.stop();
    }
  });
});
