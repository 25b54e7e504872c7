import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AddParticipantDocument,
  AddReactionDocument,
  AppendMessagePartDocument,
  ChatMessagesDocument,
  CompleteMessageDocument,
  CreateConversationDocument,
  DeleteConversationDocument,
  MarkReadDocument,
  type MessagePartInput,
  PinMessageDocument,
  RunsDocument,
  SendMessageDocument,
  StartMessageDocument,
  UnpinMessageDocument,
  UpdateConversationDocument,
  ViewerDocument,
} from '../../src/client/generated/graphql.js';
import { topics } from '../../src/pubsub/topics.js';
import { dataOf, startServer, type TestServer } from '../kit/server.js';

/**
 * The web chat's everyday features in a real browser (Debian's headless Chromium, driven by
 * playwright-core, against a real server on PGlite): the conversation list kept live by
 * conversationEvents, "seen by", reactions, threads, mentions, pins, search, mute and archive, and
 * agents' answers as they stream. Alice uses the page; the others act through the API, so each
 * test shows what reaches her live. Like web-chat.test.ts, a missing Chromium fails under CI=true.
 *
 * SB_E2E_SCREENSHOTS=<dir> saves screenshots (desktop and phone width) to look at.
 */

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const HAVE_CHROMIUM = existsSync(CHROMIUM);
const CI = process.env.CI === 'true';
/**
 * A page wait's deadline: far beyond what a step takes on a loaded machine (about a second), so
 * that a step that never happens fails naming what it waited for, not at vitest's timeout.
 */
const WAIT_MS = Number(process.env.SB_E2E_WAIT_MS ?? 120_000);
const DESKTOP = { width: 1100, height: 760 };
const PHONE = { width: 390, height: 844 };

if (!HAVE_CHROMIUM) {
  const why = `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium) or set CHROMIUM_PATH`;
  if (CI) {
    describe('web chat, everyday features', () => {
      it('needs Chromium', () => {
        throw new Error(`${why}. .ci/run installs it.`);
      });
    });
  } else {
    console.warn(`[e2e] skipped: ${why}`);
  }
}

describe.skipIf(!HAVE_CHROMIUM)('web chat, everyday features', () => {
  let server: TestServer;
  let base: string;
  let profile: string;
  let browser: BrowserContext;
  const pageErrors: string[] = [];
  let alice: string;
  let bob: string;
  let carol: string;
  let bot: string;

  beforeAll(async () => {
    server = await startServer({ env: { ACCOUNTS_ENABLED: 'true' } });
    base = server.url.replace(/\/graphql$/, '');
    alice = await server.token('alice', { name: 'Alice' });
    bob = await server.token('bob', { name: 'Bob' });
    carol = await server.token('carol', { name: 'Carol' });
    bot = await server.token('helper-bot', { name: 'Helper', kind: 'agent' });
    for (const token of [alice, bob, carol, bot]) dataOf(await server.gql(token, ViewerDocument));
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
      viewport: DESKTOP,
    });
  });

  afterAll(async () => {
    await browser?.close().catch(() => {});
    await server?.stop();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  /** A page signed in as Alice with her token (in the desktop browser unless another context is given). */
  async function alicePage(context: BrowserContext = browser): Promise<Page> {
    const page = await context.newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(`console: ${m.text()}`);
    });
    await page.goto(`${base}/`);
    await page.click('#tab-token');
    await page.fill('#token-input', alice);
    await page.click('#token-submit');
    await page.locator('#me-name', { hasText: 'Alice' }).waitFor();
    return page;
  }

  const poll = <T>(fn: () => Promise<T>) => expect.poll(fn, { timeout: WAIT_MS, interval: 100 });
  const item = (page: Page, title: string) => page.locator('[data-testid=conv-item]', { hasText: title });
  const message = (page: Page, text: string) => page.locator('#messages [data-testid=message]', { hasText: text });

  async function group(name: string, by: string, members: string[]): Promise<string> {
    return dataOf(await server.gql(by, CreateConversationDocument, { input: { type: 'GROUP', name, participantIds: members } })).createConversation.id;
  }
  async function say(by: string, conversationId: string, content: string, extra: { threadId?: string; mentionIds?: string[] } = {}) {
    return dataOf(await server.gql(by, SendMessageDocument, { input: { conversationId, content, ...extra } })).sendMessage;
  }
  async function open(page: Page, title: string) {
    await item(page, title).click();
    await page.locator('#conv-title', { hasText: title }).waitFor();
  }
  async function send(page: Page, text: string) {
    await page.fill('#composer-input', text);
    await page.press('#composer-input', 'Enter');
    await message(page, text).waitFor();
  }

  /**
   * Saves the page at desktop and at phone width (SB_E2E_SCREENSHOTS), and in the dark scheme
   * with `dark`, then goes back to desktop.
   */
  async function screenshots(page: Page, name: string, options: { dark?: boolean } = {}) {
    const dir = process.env.SB_E2E_SCREENSHOTS;
    if (!dir) return;
    mkdirSync(dir, { recursive: true });
    await page.screenshot({ path: join(dir, `${name}-desktop.png`) });
    if (options.dark) {
      await page.emulateMedia({ colorScheme: 'dark' });
      await page.screenshot({ path: join(dir, `${name}-dark.png`) });
      await page.emulateMedia({ colorScheme: 'light' });
    }
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: join(dir, `${name}-phone.png`) });
    await page.setViewportSize(DESKTOP);
  }

  it('keeps the list live without polling: a new group, a rename, members, "seen by", leaving; an empty conversation says so', async () => {
    const running = async () => (await server.app.metrics.activeSubscriptions.get()).values[0]?.value ?? 0;
    const before = await running();
    const page = await alicePage();
    await page.locator('#conv-empty').waitFor();
    // The page's listeners (every new message, the list's events) are live before Bob acts: an
    // event sent while the socket still connects would be seen only at the next re-read.
    await poll(running).toBeGreaterThanOrEqual(before + 2);

    // Bob starts a group with Alice: it is in her list at once (JOINED), not after a refresh.
    const c = await group('Launch', bob, ['alice']);
    await item(page, 'Launch').waitFor();
    await open(page, 'Launch');
    await page.locator('[data-testid=empty-conversation]').waitFor();
    await screenshots(page, 'empty-conversation');

    // A rename reaches the list and the header (UPDATED); a new member the header (PARTICIPANT_ADDED).
    dataOf(await server.gql(bob, UpdateConversationDocument, { id: c, input: { name: 'Launch day' } }));
    await item(page, 'Launch day').waitFor();
    await page.locator('#conv-title', { hasText: 'Launch day' }).waitFor();
    dataOf(await server.gql(bob, AddParticipantDocument, { conversationId: c, userId: 'carol' }));
    await page.locator('#conv-members', { hasText: 'Carol' }).waitFor();

    // Alice writes; "seen by" follows the others' read markers (READ), under her last message.
    await send(page, 'Is everything ready?');
    expect(await page.locator('[data-testid=empty-conversation]').isHidden()).toBe(true);
    expect(await page.locator('[data-testid=seen-by]').count()).toBe(0);
    dataOf(await server.gql(bob, MarkReadDocument, { conversationId: c, seq: 1 }));
    await poll(() => page.locator('[data-testid=seen-by]').textContent()).toBe('Seen by Bob');
    dataOf(await server.gql(carol, MarkReadDocument, { conversationId: c, seq: 1 }));
    await poll(() => page.locator('[data-testid=seen-by]').textContent()).toBe('Seen by Bob, Carol');
    // It sits right under her message.
    expect(await message(page, 'Is everything ready?').evaluate((el) => (el.nextElementSibling as HTMLElement | null)?.dataset.testid)).toBe('seen-by');
    // Bob answers: her last message is still the one seen.
    await say(bob, c, 'Yes, all set.');
    await message(page, 'Yes, all set.').waitFor();
    await screenshots(page, 'seen-by');

    // Another group, then Bob removes her from it: it leaves her list (LEFT).
    const other = await group('Side project', bob, ['alice']);
    await item(page, 'Side project').waitFor();
    const res = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${bob}` },
      body: JSON.stringify({ query: 'mutation($c: ID!) { removeParticipant(conversationId: $c, userId: "alice") }', variables: { c: other } }),
    });
    expect((await res.json()).errors).toBeUndefined();
    await poll(() => item(page, 'Side project').count()).toBe(0);

    // Bob deletes the group she has open: it goes from the list and the page, and she is told why (DELETED).
    dataOf(await server.gql(bob, DeleteConversationDocument, { id: c }));
    await poll(() => item(page, 'Launch day').count()).toBe(0);
    await poll(() => page.locator('#chat-error').textContent()).toBe('That conversation was deleted.');
    expect(await page.locator('#conv-pane').isHidden()).toBe(true);
    expect(new URL(page.url()).hash).toBe('');
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('shows reactions grouped with counts, live from others, and toggles your own from the chips and the picker', async () => {
    const c = await group('Reactions', bob, ['alice']);
    const m = await say(bob, c, 'We shipped it!');
    const page = await alicePage();
    await open(page, 'Reactions');
    // Her page listens to the conversation's updates before Bob reacts: an update sent while its
    // subscription still starts is not replayed (updates have no resume, unlike new messages).
    await poll(async () => server.app.services.bus.listenerCount(topics.messageUpdated(c))).toBeGreaterThan(0);
    const chip = (emoji: string) => message(page, 'We shipped it!').locator(`[data-testid=reaction][data-emoji="${emoji}"]`);

    // Bob's reaction reaches her page live (messageUpdated).
    dataOf(await server.gql(bob, AddReactionDocument, { messageId: m.id, emoji: '👍' }));
    await poll(() => chip('👍').locator('[data-testid=reaction-count]').textContent()).toBe('1');
    expect(await chip('👍').getAttribute('aria-pressed')).toBe('false');

    // She joins it: two, hers pressed.
    await chip('👍').click();
    await poll(() => chip('👍').locator('[data-testid=reaction-count]').textContent()).toBe('2');
    expect(await chip('👍').getAttribute('aria-pressed')).toBe('true');

    // A new one from the picker.
    await message(page, 'We shipped it!').locator('[data-testid=add-reaction]').click();
    await message(page, 'We shipped it!').locator('[data-testid=reaction-picker] [data-emoji="🎉"]').click();
    await poll(() => chip('🎉').getAttribute('aria-pressed')).toBe('true');
    await screenshots(page, 'reactions', { dark: true });
    // The picker open, to look at.
    await message(page, 'We shipped it!').locator('[data-testid=add-reaction]').click();
    await screenshots(page, 'reaction-picker');
    await page.keyboard.press('Escape');

    // The server has what the page shows; clicking her 👍 again takes it back.
    const reactionsOf = async () =>
      dataOf(await server.gql(bob, ChatMessagesDocument, { conversationId: c, last: 1 })).messages.edges[0]!.node.reactions.map((r) => [r.emoji, r.count]);
    expect(await reactionsOf()).toEqual([
      ['👍', 2],
      ['🎉', 1],
    ]);
    await chip('👍').click();
    await poll(() => chip('👍').locator('[data-testid=reaction-count]').textContent()).toBe('1');
    expect(await chip('👍').getAttribute('aria-pressed')).toBe('false');
    await poll(reactionsOf).toEqual([
      ['👍', 1],
      ['🎉', 1],
    ]);
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('opens a thread in a side panel: the root, its replies live, a composer; the root shows the count', async () => {
    const c = await group('Threads', bob, ['alice']);
    const root = await say(bob, c, 'Where do we meet?');
    const page = await alicePage();
    await open(page, 'Threads');
    await message(page, 'Where do we meet?').locator('[data-testid=thread-button]').click();
    const panel = page.locator('[data-testid=side-panel]');
    await panel.locator('[data-testid=thread-root]', { hasText: 'Where do we meet?' }).waitFor();
    await panel.locator('text=No replies yet.').waitFor();
    // The keyboard is in the thread's composer.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('thread-input');

    // Her reply goes to the thread, not to the conversation's list.
    await page.fill('#thread-input', 'At the station');
    await page.press('#thread-input', 'Enter');
    const replies = panel.locator('[data-testid=thread-replies] [data-testid=message-content]');
    await poll(() => replies.allTextContents()).toEqual(['At the station']);
    const summary = message(page, 'Where do we meet?').locator('[data-testid=thread-summary]');
    await poll(() => summary.getAttribute('data-reply-count')).toBe('1');
    expect(await message(page, 'At the station').count()).toBe(0);

    // Bob's reply arrives in the panel live; the root counts two.
    await say(bob, c, 'Fine, at noon', { threadId: root.id });
    await poll(() => replies.allTextContents()).toEqual(['At the station', 'Fine, at noon']);
    await poll(() => summary.textContent()).toMatch(/^2 replies/);
    // The list's preview says where the last message went.
    await poll(() => item(page, 'Threads').locator('[data-testid=conv-preview]').textContent()).toBe('Bob in a thread: Fine, at noon');
    await screenshots(page, 'thread', { dark: true });

    // Closed and opened again from the summary, the thread is read back.
    await page.click('#side-panel-close');
    await poll(() => panel.isHidden()).toBe(true);
    await summary.click();
    await poll(() => replies.allTextContents()).toEqual(['At the station', 'Fine, at noon']);

    // A reply found by search opens in its thread.
    await page.click('#side-panel-close');
    await page.fill('#search-input', 'station');
    await page.press('#search-input', 'Enter');
    await page.locator('[data-testid=search-result]', { hasText: 'At the station' }).click();
    await panel.locator('[data-testid=thread-root]', { hasText: 'Where do we meet?' }).waitFor();
    await poll(() => replies.allTextContents()).toEqual(['At the station', 'Fine, at noon']);
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('completes mentions on @ from the participants, sends them as mentionIds and highlights them', async () => {
    const c = await group('Mentions', bob, ['alice', 'carol']);
    const page = await alicePage();
    await open(page, 'Mentions');

    await page.locator('#composer-input').pressSequentially('Thanks @Ca');
    const options = page.locator('[data-testid=mention-option]');
    await poll(() => options.allTextContents()).toEqual(['Carol @carol']);
    await screenshots(page, 'mention-autocomplete');
    await page.press('#composer-input', 'Enter');
    expect(await page.inputValue('#composer-input')).toBe('Thanks @Carol ');
    await page.locator('#composer-input').pressSequentially('for the notes');
    await page.press('#composer-input', 'Enter');
    const sent = message(page, 'Thanks @Carol for the notes');
    await sent.waitFor();
    await poll(() => sent.locator('[data-testid=mention]').getAttribute('data-user-id')).toBe('carol');
    const mentioned = async () =>
      dataOf(await server.gql(carol, ChatMessagesDocument, { conversationId: c, last: 1 })).messages.edges[0]!.node.mentions.map((u) => u.id);
    expect(await mentioned()).toEqual(['carol']);

    // A mention of Alice by Bob stands out on her page.
    await say(bob, c, 'Over to you @Alice', { mentionIds: ['alice'] });
    const mine = message(page, 'Over to you').locator('[data-testid=mention]');
    await mine.waitFor();
    expect(await mine.getAttribute('class')).toContain('me');
    await screenshots(page, 'mentions');

    // Mentioned elsewhere: that conversation's entry says so at once, and opening it clears it.
    const standup = await group('Standup', bob, ['alice']);
    await item(page, 'Standup').waitFor();
    await say(bob, standup, '@Alice can you start?', { mentionIds: ['alice'] });
    await item(page, 'Standup').locator('[data-testid=mention-count]').waitFor();
    expect(await item(page, 'Standup').locator('[data-testid=unread-count]').textContent()).toBe('1');
    await open(page, 'Standup');
    await poll(() => item(page, 'Standup').locator('[data-testid=mention-count]').count()).toBe(0);
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('pins and lists pinned messages, searches with safe highlights, mutes and archives', async () => {
    const c = await group('Pins and search', bob, ['alice']);
    const first = await say(bob, c, 'The budget is approved');
    await say(bob, c, 'Use <b>bold</b> & the quarterly numbers');
    const page = await alicePage();
    await open(page, 'Pins and search');

    // Pin from the message; the list of pins has it; Bob's unpin takes it off live.
    await message(page, 'The budget is approved').locator('[data-testid=pin-button]').click();
    await message(page, 'The budget is approved').locator('[data-testid=pin-mark]').waitFor();
    await page.click('#pins-button');
    const pinned = page.locator('[data-testid=pinned-list] [data-testid=message-content]');
    await poll(() => pinned.allTextContents()).toEqual(['The budget is approved']);
    dataOf(await server.gql(bob, PinMessageDocument, { id: (await say(bob, c, 'Second pin')).id }));
    await poll(() => pinned.allTextContents()).toEqual(['Second pin', 'The budget is approved']);
    await screenshots(page, 'pins');
    dataOf(await server.gql(bob, UnpinMessageDocument, { id: first.id }));
    await poll(() => pinned.allTextContents()).toEqual(['Second pin']);
    await poll(() => message(page, 'The budget is approved').locator('[data-testid=pin-mark]').count()).toBe(0);
    await page.locator('[data-testid=pinned-list] [data-testid=show-pinned]').click();
    await poll(() => message(page, 'Second pin').evaluate((el) => el.classList.contains('highlight'))).toBe(true);

    // Search: the matched word marked, the rest as text (no markup from a message).
    await page.fill('#search-input', 'quarterly');
    await page.press('#search-input', 'Enter');
    const result = page.locator('[data-testid=search-result]');
    await poll(() => result.count()).toBe(1);
    const highlight = result.locator('[data-testid=search-highlight]');
    expect(await highlight.textContent()).toBe('Use <b>bold</b> & the quarterly numbers');
    expect(await highlight.locator('mark').allTextContents()).toEqual(['quarterly']);
    expect(await highlight.locator('b').count()).toBe(0);
    await screenshots(page, 'search', { dark: true });
    // Picked from another conversation, the result opens its own and shows the message.
    await group('Elsewhere', bob, ['alice']);
    await open(page, 'Elsewhere');
    await result.click();
    await page.locator('#conv-title', { hasText: 'Pins and search' }).waitFor();
    await poll(() => message(page, 'quarterly').evaluate((el) => el.classList.contains('highlight'))).toBe(true);
    await page.fill('#search-input', 'nothingmatchesthis');
    await page.press('#search-input', 'Enter');
    await page.locator('[data-testid=search-empty]').waitFor();
    await page.click('#side-panel-close');

    // Mute: marked in the list.
    await page.click('#mute-button');
    await poll(() => item(page, 'Pins and search').getAttribute('data-muted')).toBe('true');
    expect(await page.locator('#mute-button').textContent()).toBe('Unmute');

    // Archive: out of the list, under "Archived"; a new message brings it back.
    await page.click('#archive-button');
    await poll(() => item(page, 'Pins and search').count()).toBe(0);
    await page.click('#archived-toggle');
    await item(page, 'Pins and search').waitFor();
    await screenshots(page, 'archived');
    await page.click('#archived-toggle');
    await poll(() => item(page, 'Pins and search').count()).toBe(0);
    await say(bob, c, 'Back to this one');
    await item(page, 'Pins and search').waitFor();
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('on a touch phone, shows message actions without hover and fits the screen', async () => {
    const c = await group('On the go', bob, ['alice']);
    const m = await say(bob, c, 'Can you check the figures before the call this afternoon?');
    dataOf(await server.gql(bob, AddReactionDocument, { messageId: m.id, emoji: '👍' }));
    let phone: Browser | undefined;
    try {
      phone = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
      const context = await phone.newContext({ viewport: PHONE, isMobile: true, hasTouch: true });
      const page = await alicePage(context);
      await open(page, 'On the go');
      const reply = message(page, 'Can you check').locator('[data-testid=reply-button]');
      // No pointer to hover with: the actions are always there.
      expect(Number(await reply.evaluate((el) => getComputedStyle(el).opacity))).toBeGreaterThan(0.5);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
      await message(page, 'Can you check').locator('[data-testid=add-reaction]').tap();
      const picker = message(page, 'Can you check').locator('[data-testid=reaction-picker]');
      await picker.waitFor();
      const box = await picker.boundingBox();
      expect(box!.x).toBeGreaterThanOrEqual(0);
      expect(box!.x + box!.width).toBeLessThanOrEqual(PHONE.width);
      const dir = process.env.SB_E2E_SCREENSHOTS;
      if (dir) await page.screenshot({ path: join(dir, 'touch-phone.png') });
      await picker.locator('[data-emoji="❤️"]').tap();
      await poll(() => message(page, 'Can you check').locator('[data-testid=reaction][data-emoji="❤️"]').getAttribute('aria-pressed')).toBe('true');
    } finally {
      await phone?.close();
    }
    expect(pageErrors).toEqual([]);
  });

  it("renders an agent's answer as it streams: text, collapsed reasoning, a tool call and its result; pause and stop", async () => {
    const c = await group('Assistant', bot, ['alice']);
    const page = await alicePage();
    await open(page, 'Assistant');
    const runState = async (runId: string) =>
      dataOf(await server.gql(alice, RunsDocument, { conversationId: c })).runs.nodes.find((r) => r.runId === runId)?.state;

    // The first answer streams: each part shows as it is appended.
    const s1 = dataOf(await server.gql(bot, StartMessageDocument, { input: { conversationId: c, runId: 'run-1' } })).startMessage;
    const append = async (id: string, part: MessagePartInput) => dataOf(await server.gql(bot, AppendMessagePartDocument, { id, part }));
    const answer = page.locator('[data-testid=streaming-answer]');
    await append(s1.id, { type: 'REASONING', text: 'The user wants the weather. ' });
    await answer.locator('[data-testid=part-reasoning]').waitFor();
    expect(await answer.locator('[data-testid=part-reasoning]').getAttribute('open')).toBeNull();
    await append(s1.id, { type: 'TOOL_CALL', toolCallId: 'call-1', toolName: 'weather', input: { city: 'Paris' } });
    await poll(() => answer.locator('[data-testid=part-tool]').getAttribute('data-done')).toBe('false');
    await append(s1.id, { type: 'TOOL_RESULT', toolCallId: 'call-1', output: { tempC: 21 } });
    await poll(() => answer.locator('[data-testid=part-tool-output]').textContent()).toContain('21');
    await append(s1.id, { type: 'TEXT', text: 'It is 21 °C ' });
    await append(s1.id, { type: 'TEXT', text: 'in Paris.' });
    await poll(() => answer.locator('[data-testid=part-text]').textContent()).toBe('It is 21 °C in Paris.');
    expect(await answer.locator('[data-testid=agent-name]').textContent()).toBe('Helper');
    await screenshots(page, 'streaming');

    // Pause: the run is held, the answer says so; Resume lets it go on.
    await answer.locator('[data-testid=pause-button]').click();
    await answer.locator('[data-testid=paused-indicator]').waitFor();
    expect(await runState('run-1')).toBe('PAUSED');
    await screenshots(page, 'streaming-paused');
    // After a reload the answer is back with its parts so far, still paused.
    await page.reload();
    await page.locator('#conv-title', { hasText: 'Assistant' }).waitFor();
    await poll(() => answer.locator('[data-testid=part-text]').textContent()).toBe('It is 21 °C in Paris.');
    await answer.locator('[data-testid=paused-indicator]').waitFor();
    expect(await answer.locator('[data-testid=part-tool-output]').textContent()).toContain('21');
    await answer.locator('[data-testid=resume-button]').click();
    await poll(() => answer.locator('[data-testid=paused-indicator]').count()).toBe(0);
    expect(await runState('run-1')).toBe('ACTIVE');

    // Completed, it becomes a message with its parts (the reasoning still collapsed).
    dataOf(await server.gql(bot, CompleteMessageDocument, { id: s1.id }));
    const done = page.locator(`#messages [data-message-id="${s1.id}"]`);
    await done.waitFor();
    await poll(() => answer.count()).toBe(0);
    expect(await done.locator('[data-testid=part-text]').textContent()).toBe('It is 21 °C in Paris.');
    expect(await done.locator('[data-testid=part-reasoning]').getAttribute('open')).toBeNull();
    await done.locator('[data-testid=part-reasoning] summary').click();
    expect(await done.locator('[data-testid=part-reasoning]').getAttribute('open')).toBe('');
    expect(await done.locator('[data-testid=part-tool-output]').textContent()).toContain('21');
    await screenshots(page, 'answer-complete', { dark: true });

    // Stop: CANCEL for the run; the answer goes, nothing is kept, the run is cancelled.
    const s2 = dataOf(
      await server.gql(bot, StartMessageDocument, { input: { conversationId: c, runId: 'run-2', content: 'Let me think about' } }),
    ).startMessage;
    await poll(() => answer.locator('[data-testid=part-text]').textContent()).toBe('Let me think about');
    await answer.locator('[data-testid=stop-button]').click();
    await poll(() => answer.count()).toBe(0);
    expect(await runState('run-2')).toBe('CANCELLED');
    expect(await page.locator(`[data-message-id="${s2.id}"]`).count()).toBe(0);
    await page.close();
    expect(pageErrors).toEqual([]);
  });
});
