import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateConversationDocument, SendMessageDocument } from '../../src/client/generated/graphql.js';
import { dataOf, startServer, type TestServer } from '../kit/server.js';

/**
 * GraphiQL at /graphql in Debian's headless Chromium, with no network: every request to another
 * origin than the server's is refused, as offline or behind a strict firewall. The page must
 * render from what the server sends, and the README's first session must work in it as written:
 * a token in the Headers tab, the `messageAdded` subscription, messages in the result pane.
 * Like web-chat.test.ts, it fails under CI=true without Chromium and is skipped elsewhere.
 *
 * SB_E2E_SCREENSHOTS=<dir> saves screenshots of the pages, to look at.
 */

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
/**
 * As long as vitest's own timeout (vitest.config.ts) lets a test run: page waits have no deadline
 * of their own, since a loaded machine is slow, not wrong.
 */
const WAIT_MS = 900_000;

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
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    context = await browser.newContext({ viewport: { width: 1300, height: 800 } });
    await context.route('**/*', (route) => {
      const url = route.request().url();
      if (new URL(url).origin === origin) return route.continue();
      refused.push(url);
      return route.abort('internetdisconnected');
    });
  });

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

  /** Replaces the text of a Monaco editor, as a person selecting all and typing would. */
  async function replaceText(page: Page, editor: string, text: string) {
    await page.locator(`${editor} .monaco-editor`).click();
    await page.keyboard.press('Control+A');
    await page.keyboard.press('Delete');
    await page.keyboard.insertText(text);
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

  it("runs the README's subscription with the token from the Headers tab and shows each message", async () => {
    // The README's first session: Alice opens a conversation with Bob and says hello.
    const alice = await server.token('alice', { name: 'Alice' });
    const bob = await server.token('bob', { name: 'Bob' });
    const conv = dataOf(await server.gql(alice, CreateConversationDocument, { input: { type: 'PRIVATE', participantIds: ['bob'] } })).createConversation.id;
    dataOf(await server.gql(alice, SendMessageDocument, { input: { conversationId: conv, content: 'Hello Bob', clientMessageId: 'm-1' } }));

    // Bob, in GraphiQL: his token in the Headers tab, then the subscription as the README gives it.
    const page = await openGraphiQL();
    await page.locator('.graphiql-query-editor .monaco-editor .view-lines', { hasText: 'Welcome to Switchboard' }).waitFor();
    await replaceText(page, '.graphiql-query-editor', `subscription { messageAdded(conversationId: "${conv}", afterSeq: 0) { seq content sender { id } } }`);
    await page.getByText('Headers', { exact: true }).click();
    await replaceText(page, '.graphiql-editor-tool .graphiql-editor:not(.hidden)', `{"authorization": "Bearer ${bob}"}`);
    await page.locator('.graphiql-execute-button').click();

    const result = page.locator('.result-window');
    // The result pane shows the latest event (Monaco lays spaces out as no-break spaces).
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText, the text as laid out.
    const shown = async () => JSON.parse((await result.innerText()).replace(/\u00a0/g, ' ')) as unknown;
    const event = (seq: number, content: string) => ({ data: { messageAdded: { seq, content, sender: { id: 'alice' } } } });
    // afterSeq: 0 replays what is stored, then goes live.
    await result.locator('.view-lines', { hasText: 'Hello Bob' }).waitFor();
    expect(await shown()).toEqual(event(1, 'Hello Bob'));
    dataOf(await server.gql(alice, SendMessageDocument, { input: { conversationId: conv, content: 'Are you there?' } }));
    await result.locator('.view-lines', { hasText: 'Are you there?' }).waitFor();
    expect(await shown()).toEqual(event(2, 'Are you there?'));
    await screenshot(page, 'graphiql-subscription');

    expect(refused).toEqual([]);
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
