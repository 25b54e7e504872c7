import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../kit/server.js';

/**
 * GraphiQL at /graphql in Debian's headless Chromium, with no network: every request to another
 * origin than the server's is refused, as offline or behind a strict firewall. The page must
 * render from what the server sends.
 * Like web-chat.test.ts, it fails under CI=true without Chromium and is skipped elsewhere.
 *
 * SB_E2E_SCREENSHOTS=<dir> saves screenshots of the pages, to look at.
 */

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const WAIT_MS = 30_000;

if (!HAVE_CHROMIUM && process.env.CI === 'true') {
  describe('GraphiQL in a browser', () => {
    it('needs Chromium', () => {
      throw new Error(`Chromium not found at ${CHROMIUM}. .ci/run installs it.`);
    });
  });
}

describe.skipIf(!HAVE_CHROMIUM)('GraphiQL in a browser, offline', () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  /** Requests the page tried to send elsewhere than the server. */
  const refused: string[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startServer();
    const origin = new URL(server.url).origin;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    context = await browser.newContext({ viewport: { width: 1300, height: 800 } });
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      refused.push(url);
      return route.abort('internetdisconnected');
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
  });

  async function openGraphiQL(): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
    await page.goto(server.url);
    return page;
  }

  async function screenshot(page: Page, name: string) {
    const dir = process.env.SB_E2E_SCREENSHOTS;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, `${name}.png`) });
  }

  it('renders the editor with nothing from other hosts', async () => {
    const page = await openGraphiQL();
    await page.locator('.graphiql-query-editor .monaco-editor .view-lines', { hasText: 'Welcome to Switchboard' }).waitFor();
    await page.locator('.graphiql-execute-button').waitFor();
    await screenshot(page, 'graphiql');
    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
