import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ConversationRunsDocument,
  CreateConversationDocument,
  RequestExpertDocument,
  SendMessageDocument,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { dataOf, startServer, type TestServer } from '../kit/server.js';

/**
 * The web chat in a real browser: Debian's headless Chromium driven by playwright-core, against
 * a real server on PGlite with built-in accounts. Two people, each in a tab of their own (the
 * session is per tab), chat live. `.ci/run` installs Chromium; under CI=true a missing
 * Chromium fails this file instead of skipping it.
 *
 * SB_E2E_SCREENSHOTS=<dir> saves a screenshot of each page at the end, to look at.
 */

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const CI = process.env.CI === 'true';
/**
 * A page wait's deadline: far beyond what a step takes on a loaded machine (about a second), so
 * that a step that never happens fails naming what it waited for, not at vitest's timeout.
 */
const WAIT_MS = Number(process.env.SB_E2E_WAIT_MS ?? 120_000);

if (!HAVE_CHROMIUM) {
  const why = `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`;
  if (CI) {
    describe('web chat in a browser', () => {
      it('needs Chromium', () => {
        throw new Error(`${why}. .ci/run installs it.`);
      });
    });
  } else {
    console.warn(`[e2e] skipped: ${why}`);
  }
}

describe.skipIf(!HAVE_CHROMIUM)('web chat in a browser', () => {
  let server: TestServer;
  let base: string;
  let profile: string;
  let browser: BrowserContext;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    server = await startServer({
      // The second test sends a page and a half of history at once.
      env: { ACCOUNTS_ENABLED: 'true', RATE_LIMIT_USER_MESSAGES_PER_SEC: '1000', RATE_LIMIT_USER_MESSAGES_BURST: '1000' },
    });
    base = server.url.replace(/\/graphql$/, '');
    profile = mkdtempSync(join(tmpdir(), 'sb-e2e-chromium-'));
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      viewport: { width: 1100, height: 760 },
    });
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  async function openPage(name: string): Promise<Page> {
    const page = await browser.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`${name} console: ${m.text()}`);
    });
    await page.goto(`${base}/`);
    return page;
  }

  async function signUp(page: Page, userId: string, displayName: string, password: string) {
    await page.click('#tab-signup');
    await page.fill('#signup-user', userId);
    await page.fill('#signup-name', displayName);
    await page.fill('#signup-password', password);
    await page.click('#signup-submit');
    await page.locator('#me-name', { hasText: displayName }).waitFor();
  }

  const messageTexts = (page: Page) => page.locator('[data-testid=message] [data-testid=message-content]').allTextContents();
  const attr = (page: Page, selector: string, name: string) => page.locator(selector).first().getAttribute(name, { timeout: WAIT_MS });
  const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: WAIT_MS, interval: 100 });

  async function send(page: Page, text: string) {
    await page.fill('#composer-input', text);
    await page.press('#composer-input', 'Enter');
    await page.locator('[data-testid=message-content]', { hasText: text }).first().waitFor();
  }

  async function screenshot(page: Page, name: string) {
    const dir = process.env.SB_E2E_SCREENSHOTS;
    if (!dir || page.isClosed()) return;
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, `${name}.png`) });
  }

  it('two people sign up, start a conversation and chat live: unread, typing, presence, replies, history', async () => {
    const alice = await openPage('alice');
    const bob = await openPage('bob');

    // A wrong sign-in shows an error; then both create accounts.
    await alice.fill('#signin-user', 'alice');
    await alice.fill('#signin-password', 'not a password');
    await alice.click('#signin-submit');
    await alice.locator('#auth-error', { hasText: 'Wrong user id or password' }).waitFor();
    await screenshot(alice, 'sign-in');
    await signUp(alice, 'alice', 'Alice', 'alice-secret-1');
    await signUp(bob, 'bob', 'Bob', 'bob-secret-12');

    // Alice starts a private conversation with Bob by his user id.
    await alice.click('#new-conv-button');
    await alice.fill('#new-conv-user', 'nobody');
    await alice.click('#new-conv-submit');
    await alice.locator('#new-conv-error', { hasText: 'No user' }).waitFor();
    await alice.fill('#new-conv-user', 'bob');
    await alice.click('#new-conv-submit');
    await alice.locator('#conv-title', { hasText: 'Bob' }).waitFor();
    await poll(() => attr(alice, '[data-testid=conv-presence]', 'data-status')).toBe('ONLINE');

    // Her first messages reach Bob's list live, with an unread count.
    await send(alice, 'Hi Bob!');
    await send(alice, 'Are you there?');
    const bobItem = bob.locator('[data-testid=conv-item]');
    await bobItem.first().waitFor();
    await poll(() => bobItem.first().locator('[data-testid=unread-count]').textContent()).toBe('2');
    await poll(() => attr(bob, '[data-testid=conv-item] [data-testid=presence-dot]', 'data-status')).toBe('ONLINE');
    expect(await bobItem.first().locator('.conv-name').textContent()).toBe('Alice');
    // The preview of a private conversation does not repeat the other person's name.
    const preview = (page: Page, name: string) =>
      page.locator('[data-testid=conv-item]', { hasText: name }).locator('[data-testid=conv-preview]').textContent();
    expect(await preview(bob, 'Alice')).toBe('Are you there?');
    await screenshot(bob, 'bob-unread');

    // Bob opens it: the history is there, and reading clears the count.
    await bobItem.first().click();
    await bob.locator('#conv-title', { hasText: 'Alice' }).waitFor();
    await poll(() => messageTexts(bob)).toEqual(['Hi Bob!', 'Are you there?']);
    await poll(() => bobItem.first().locator('[data-testid=unread-count]').count()).toBe(0);
    expect(await attr(bob, '[data-testid=conv-presence]', 'data-status')).toBe('ONLINE');

    // Alice types: Bob sees it, and it goes away when she sends.
    await alice.locator('#composer-input').pressSequentially('One more th', { delay: 20 });
    await bob.locator('#typing-indicator', { hasText: 'Alice is typing…' }).waitFor();
    await alice.locator('#composer-input').pressSequentially('ing');
    await alice.press('#composer-input', 'Enter');
    await poll(() => messageTexts(bob)).toEqual(['Hi Bob!', 'Are you there?', 'One more thing']);
    await poll(() => bob.locator('#typing-indicator').textContent()).toBe('');

    // Bob replies to her first message: both see the quote.
    await bob.locator('[data-testid=message][data-seq="1"] [data-testid=reply-button]').click();
    await bob.locator('#reply-preview', { hasText: 'Hi Bob!' }).waitFor();
    await send(bob, 'Hello Alice, yes!');
    const quoteOn = (page: Page) => page.locator('[data-testid=message]', { hasText: 'Hello Alice, yes!' }).locator('[data-testid=reply-quote]');
    await poll(() => quoteOn(bob).textContent()).toContain('Hi Bob!');
    await poll(() => quoteOn(alice).textContent()).toContain('Hi Bob!');
    // The quoted message is Alice's: "You" to her, her name to Bob.
    const quoteAuthor = (page: Page) => quoteOn(page).locator('.quote-author').textContent();
    await poll(() => quoteAuthor(alice)).toBe('You');
    expect(await quoteAuthor(bob)).toBe('Alice');
    await poll(() => messageTexts(alice)).toEqual(['Hi Bob!', 'Are you there?', 'One more thing', 'Hello Alice, yes!']);
    await poll(() => preview(bob, 'Alice')).toBe('You: Hello Alice, yes!');
    await poll(() => preview(alice, 'Bob')).toBe('Hello Alice, yes!');
    // Alice was looking at the conversation: nothing unread for her.
    expect(await alice.locator('[data-testid=unread-count]').count()).toBe(0);

    await screenshot(alice, 'alice');
    await screenshot(bob, 'bob');

    // Read back from history after a reload, the quote is still hers.
    await alice.reload();
    await alice.locator('#conv-title', { hasText: 'Bob' }).waitFor();
    await poll(() => quoteAuthor(alice)).toBe('You');

    // Alice leaves: Bob sees her go offline.
    await alice.close();
    await poll(() => attr(bob, '[data-testid=conv-presence]', 'data-status')).toBe('OFFLINE');
    await poll(() => attr(bob, '[data-testid=conv-item] [data-testid=presence-dot]', 'data-status')).toBe('OFFLINE');

    // Bob reloads: still signed in, the same conversation open, its history and quote there.
    await bob.reload();
    await bob.locator('#conv-title', { hasText: 'Alice' }).waitFor();
    await poll(() => messageTexts(bob)).toEqual(['Hi Bob!', 'Are you there?', 'One more thing', 'Hello Alice, yes!']);
    await poll(() => quoteOn(bob).textContent()).toContain('Hi Bob!');
    expect(await attr(bob, '[data-testid=conv-presence]', 'data-status')).toBe('OFFLINE');
    expect(await bob.locator('[data-testid=message]').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.seq)))).toEqual([1, 2, 3, 4]);

    // Messages sent while Bob's page is away arrive once it is back, live.
    // Alice is a built-in account: only its own sign-in gives a token for her.
    const aliceToken = (
      await (
        await fetch(server.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ query: 'mutation { signIn(input: { userId: "alice", password: "alice-secret-1" }) { token } }' }),
        })
      ).json()
    ).data.signIn.token as string;
    const conversationId = (await bob.locator('[data-testid=conv-item]').first().getAttribute('data-conversation-id'))!;
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${aliceToken}` },
      body: JSON.stringify({
        query: 'mutation($c: ID!) { sendMessage(input: { conversationId: $c, content: "Sent from elsewhere" }) { seq } }',
        variables: { c: conversationId },
      }),
    });
    expect((await res.json()).data.sendMessage.seq).toBe(5);
    await poll(() => messageTexts(bob)).toContain('Sent from elsewhere');
    await screenshot(bob, 'bob-after-reload');

    expect(pageErrors).toEqual([]);
  });

  it('accepts a pasted token, starts a group, pages back through history, and signs out', async () => {
    const page = await openPage('carol');
    const carol = await server.token('carol', { name: 'Carol' });
    await page.click('#tab-token');
    await page.fill('#token-input', 'not-a-token');
    await page.click('#token-submit');
    await page.locator('#auth-error', { hasText: 'JWT' }).waitFor();
    await page.fill('#token-input', carol);
    await page.click('#token-submit');
    await page.locator('#me-name', { hasText: 'Carol' }).waitFor();
    await page.locator('#conv-empty').waitFor();

    // A group conversation with the two from before.
    await page.click('#new-conv-button');
    await page.check('#new-conv-group');
    await page.fill('#new-conv-name', 'Planning');
    await page.fill('#new-conv-members', 'alice, bob');
    await page.click('#new-conv-submit');
    await page.locator('#conv-title', { hasText: 'Planning' }).waitFor();
    await send(page, 'Welcome to planning');
    expect(await page.locator('#conv-members').textContent()).toContain('Bob');

    // More history than one page: the newest 50 first, older ones on request.
    const conversationId = decodeURIComponent(new URL(page.url()).hash.replace('#/c/', ''));
    for (let i = 1; i <= 55; i++) {
      const res = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${carol}` },
        body: JSON.stringify({
          query: 'mutation($c: ID!, $t: String!) { sendMessage(input: { conversationId: $c, content: $t }) { seq } }',
          variables: { c: conversationId, t: `note ${i}` },
        }),
      });
      expect((await res.json()).errors).toBeUndefined();
    }
    await poll(() => page.locator('[data-testid=message]').count()).toBe(56);
    await page.reload();
    await page.locator('#conv-title', { hasText: 'Planning' }).waitFor();
    // This page is connected, so Carol is online to herself too, also right after the reload.
    await poll(() => attr(page, '#conv-members [data-user-id="carol"]', 'data-status')).toBe('ONLINE');
    await poll(() => page.locator('[data-testid=message]').count()).toBe(50);
    expect(await page.locator('[data-testid=message]').first().getAttribute('data-seq')).toBe('7');
    await page.click('#load-older');
    await poll(() => page.locator('[data-testid=message]').count()).toBe(56);
    expect(await messageTexts(page).then((t) => t[0])).toBe('Welcome to planning');
    expect(await page.locator('#load-older').isHidden()).toBe(true);

    await page.click('#signout');
    await page.locator('#auth-view').waitFor();
    // Signed out for good: a reload does not bring the session back.
    await page.reload();
    await page.locator('#signin-form').waitFor();
    expect(await page.locator('#chat-view').isHidden()).toBe(true);

    // Someone else signs in on the same page: their own conversations, and each message once.
    await page.fill('#signin-user', 'alice');
    await page.fill('#signin-password', 'alice-secret-1');
    await page.click('#signin-submit');
    await page.locator('#me-name', { hasText: 'Alice' }).waitFor();
    await poll(() => page.locator('[data-testid=conv-item] .conv-name').allTextContents()).toEqual(['Planning', 'Bob']);
    // In a group, the preview says who wrote.
    expect(await page.locator('[data-testid=conv-item]', { hasText: 'Planning' }).locator('[data-testid=conv-preview]').textContent()).toBe('Carol: note 55');
    await page.locator('[data-testid=conv-item]', { hasText: 'Planning' }).click();
    await poll(() => page.locator('[data-testid=message]').count()).toBe(50);
    const longer = 'Alice is here, with the agenda for tomorrow and the notes of last week';
    await send(page, longer);
    await poll(() => messageTexts(page).then((t) => t.filter((text) => text === longer).length)).toBe(1);
    expect(await page.locator('[data-testid=message]').count()).toBe(51);

    // At phone width: who is signed in still shows, and the last message's preview is whole.
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.locator('#me-name').isVisible()).toBe(true);
    const planningPreview = page.locator('[data-testid=conv-item]', { hasText: 'Planning' }).locator('[data-testid=conv-preview]');
    await poll(() => planningPreview.textContent()).toBe(`You: ${longer}`);
    const overflow = await planningPreview.evaluate((el) => ({ x: el.scrollWidth > el.clientWidth, y: el.scrollHeight > el.clientHeight }));
    expect(overflow).toEqual({ x: false, y: false });
    await screenshot(page, 'alice-phone');
    await page.close();
    expect(pageErrors).toEqual([]);
  }, 120_000);

  it('gives experts the queue of open requests, live: claim, answer, hand back; the customer sees the desk’s notes', async () => {
    const dana = await server.token('dana', { name: 'Dana' });
    const erin = await server.token('erin', { name: 'Erin', roles: ['expert'] });
    const bot = await server.token('helper-bot', { name: 'Helper', kind: 'agent' });
    const asToken = async (page: Page, token: string, name: string) => {
      await page.click('#tab-token');
      await page.fill('#token-input', token);
      await page.click('#token-submit');
      await page.locator('#me-name', { hasText: name }).waitFor();
    };
    dataOf(await server.gql(bot, ViewerDocument));
    const customer = await openPage('dana');
    await asToken(customer, dana, 'Dana');
    // Only experts have the queue.
    expect(await customer.locator('[data-testid=desk]').isHidden()).toBe(true);
    const c = dataOf(await server.gql(dana, CreateConversationDocument, { input: { type: 'GROUP', name: 'Billing help', participantIds: ['helper-bot'] } }))
      .createConversation.id;
    dataOf(await server.gql(bot, SendMessageDocument, { input: { conversationId: c, content: 'Your invoice total is 1,000,000 EUR.', runId: 'r1' } }));
    await customer.locator('[data-testid=conv-item]', { hasText: 'Billing help' }).click();
    await customer.locator('[data-testid=message-content]', { hasText: '1,000,000' }).waitFor();

    const expert = await openPage('erin');
    await asToken(expert, erin, 'Erin');
    await expert.locator('[data-testid=desk]').waitFor();
    await expert.locator('#desk-empty').waitFor();

    // The customer asks for a human: the request reaches the queue live, the conversation is told.
    dataOf(await server.gql(dana, RequestExpertDocument, { conversationId: c, reason: 'The total looks wrong' }));
    const item = expert.locator('[data-testid=desk-item]', { hasText: 'The total looks wrong' });
    await item.waitFor();
    expect(await item.textContent()).toContain('Dana');
    expect(await expert.locator('[data-testid=desk-count]').textContent()).toBe('1');
    await customer.locator('[data-author-role=SYSTEM]', { hasText: 'Expert notified. You will receive a response shortly.' }).waitFor();
    await screenshot(expert, 'expert-queue');

    // Claiming joins and opens the conversation: the agent's answer, the notes, and the hand-back button.
    await item.locator('[data-testid=claim-button]').click();
    await expert.locator('#conv-title', { hasText: 'Billing help' }).waitFor();
    await expert.locator('[data-author-role=SYSTEM]', { hasText: 'Erin (expert) joined the conversation.' }).waitFor();
    await poll(() => expert.locator('[data-testid=desk-item]').count()).toBe(0);
    expect(await expert.locator('[data-author-role=AGENT] [data-testid=role-mark]').textContent()).toBe('AI');
    await expert.locator('#hand-back').waitFor();
    await send(expert, 'Hi Dana, Erin from billing here: the total is 1,000 EUR.');
    const answer = customer.locator('[data-author-role=EXPERT]', { hasText: 'Erin from billing' });
    await answer.waitFor();
    expect(await answer.locator('[data-testid=role-mark]').textContent()).toBe('Expert');
    await customer.locator('[data-author-role=SYSTEM]', { hasText: 'joined the conversation' }).waitFor();
    // The note tells the customer's page that Erin is in now.
    await customer.locator('#conv-members', { hasText: 'Erin' }).waitFor();
    await screenshot(expert, 'expert-claimed');
    await screenshot(customer, 'customer-with-expert');

    // Handing back: the note reaches both, the button goes, the agent answers again.
    await expert.click('#hand-back');
    await expert.locator('[data-author-role=SYSTEM]', { hasText: 'Erin handed the conversation back to the agent.' }).waitFor();
    await customer.locator('[data-author-role=SYSTEM]', { hasText: 'handed the conversation back' }).waitFor();
    await poll(() => expert.locator('#hand-back').isHidden()).toBe(true);
    // The list's preview of a note is the note itself, not "You: …".
    const preview = expert.locator('[data-testid=conv-item]', { hasText: 'Billing help' }).locator('[data-testid=conv-preview]');
    await poll(() => preview.textContent()).toBe('Erin handed the conversation back to the agent.');
    expect(dataOf(await server.gql(dana, ConversationRunsDocument, { id: c })).conversation).toMatchObject({
      mode: 'AGENT',
      activeRuns: [{ runId: 'r1', state: 'ACTIVE' }],
    });
    await screenshot(expert, 'expert-handed-back');
    await screenshot(customer, 'customer-handed-back');
    await expert.close();
    await customer.close();
    expect(pageErrors).toEqual([]);
  }, 120_000);
});
