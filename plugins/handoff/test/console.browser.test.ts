import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, CORP, customerSays, KF_SECRET, pngImage, sentTexts, sleep, startKfBot, type KfBot } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const CI = process.env.CI === 'true';
const haveChromium = existsSync(CHROMIUM);
// In CI the browser is part of the machine: a missing one fails the test rather than skipping it.
const run = haveChromium || CI;
if (!run) console.warn(`agent console browser test skipped: ${CHROMIUM} is missing (apt install chromium; CI=true requires it)`);

// The README's screenshot is rewritten only on request (UPDATE_SCREENSHOT=1); otherwise a temp file.
const screenshot = process.env.UPDATE_SCREENSHOT
  ? resolve(dirname(fileURLToPath(import.meta.url)), '../../../docs/agent-console.png')
  : join(tmpdir(), `wxbot-agent-console-${process.pid}.png`);

describe.runIf(run)('agent console in a real browser (Debian chromium)', () => {
  let api: FakeWeChatApi;
  let kf: KfBot;
  let browser: Browser;

  beforeAll(async () => {
    api = await startFakeWeChatApi({ credentials: [{ id: CORP, secret: KF_SECRET }] });
    kf = await startKfBot(api, {
      cannedReplies: [
        { label: '营业时间', text: '我们每天 9:00–21:00 营业。' },
        { label: '退换货', text: '收货 7 天内可无理由退换。' },
      ],
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await kf?.bot.stop();
    await api?.close();
  });

  it('shows a customer message, takes over, sends a reply to kf/send_msg, and keeps the LLM out', { timeout: 60_000 }, async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 760 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });

    // Sign in through the login field (the token ends up in sessionStorage). The page is Chinese by default.
    await page.goto(`${kf.url}/agent/`);
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    await page.locator('#token').fill(ALICE);
    await page.getByRole('button', { name: '连接' }).click();
    await expect.poll(() => page.locator('#conn').textContent()).toBe('alice');

    // Their WeChat nicknames, as kf/customer/batchget gives them.
    api.profiles.kf.set('wm-customer-lin', { nickname: '林小姐' });
    api.profiles.kf.set('wm-customer-zhao', { nickname: '赵先生' });

    // Some talk with the bot, then the customer asks for a human.
    await customerSays(api, kf, 'wk-browser', 'wm-customer-lin', '你好，我周一下的订单还没发货');
    await api.waitFor(() => kf.llmCalls.length === 1);
    await customerSays(api, kf, 'wk-browser', 'wm-customer-lin', '请帮我转人工客服');
    const item = page.locator('#list li', { hasText: '林小姐' });
    await item.waitFor({ timeout: 10_000 });
    await expect.poll(() => item.locator('.badge').textContent()).toBe('1');
    // The unread count is in the tab's title too.
    await expect.poll(() => page.title()).toBe('(1) 客服工作台 · wxbot');
    await item.click();
    await page.locator('.msg.in', { hasText: '你好，我周一下的订单还没发货' }).waitFor();
    await page.locator('.msg.out', { hasText: 'bot: 你好，我周一下的订单还没发货' }).waitFor();

    await page.getByRole('button', { name: '接管' }).click();
    await expect.poll(() => page.locator('#title .sub').textContent()).toContain('你 正在处理');
    await page.locator('#reply').fill('您好，我是客服小艾，马上为您查询订单。');
    await page.locator('#reply').press('Enter');
    await api.waitFor(() => sentTexts(api, 'wk-browser', 'wm-customer-lin').includes('您好，我是客服小艾，马上为您查询订单。'), 10_000);
    await page.locator('.msg.agent', { hasText: '小艾' }).waitFor();

    // Held: the next message shows up in the page and never reaches the LLM stand-in.
    await customerSays(api, kf, 'wk-browser', 'wm-customer-lin', '订单号是 20240518-0021');
    await page.locator('.msg.in', { hasText: '20240518-0021' }).waitFor({ timeout: 10_000 });
    await sleep(200);
    expect(kf.llmCalls).toEqual(['你好，我周一下的订单还没发货']);
    expect(await page.locator('#reply').inputValue()).toBe('');

    // A photo from the customer, shown in the conversation.
    api.media.put('media-order-photo', { data: pngImage(240, 150, [250, 214, 165]), contentType: 'image/png', fileName: 'order.png' });
    api.kf.push('wk-browser', { external_userid: 'wm-customer-lin', image: { media_id: 'media-order-photo' } });
    await kf.notify('wk-browser');
    await page.locator('.msg.in img.thumb').waitFor({ timeout: 10_000 });
    // In the list as "[图片]"; read, since the agent is looking at it.
    await expect.poll(() => item.locator('.preview').textContent()).toBe('[图片]');
    await expect.poll(() => item.locator('.badge').count()).toBe(0);

    // A second customer waiting, so the screenshot shows a list.
    await customerSays(api, kf, 'wk-browser', 'wm-customer-zhao', '有人工客服吗？我收到的包裹破损了。');
    await page.locator('#list li', { hasText: '赵先生' }).waitFor({ timeout: 10_000 });
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('works from the keyboard, in English too, at 420 px, with canned replies, and recovers from a dropped connection at once', { timeout: 90_000 }, async () => {
    const page = await browser.newPage({ viewport: { width: 420, height: 800 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    // Keep the page's sockets reachable, to drop the connection as a network blip would.
    await page.addInitScript({
      content: `(() => {
        const Native = window.WebSocket;
        window.__sockets = [];
        window.WebSocket = class extends Native {
          constructor(url, protocols) { super(url, protocols); window.__sockets.push(this); }
        };
      })();`,
    });
    await page.goto(`${kf.url}/agent/?token=${ALICE}`);
    await expect.poll(() => page.locator('#conn').textContent()).toBe('alice');

    await customerSays(api, kf, 'wk-keys', 'wm-keys-1', '转人工');
    await customerSays(api, kf, 'wk-keys', 'wm-keys-2', '人工客服');
    // Both listed (the list may already hold the first test's conversations, so count is not enough).
    await page.locator('#list li', { hasText: 'wm-keys-1' }).waitFor({ timeout: 10_000 });
    await page.locator('#list li', { hasText: 'wm-keys-2' }).waitFor({ timeout: 10_000 });

    // 420 px: one column; the list first, the conversation (with a way back) after picking one.
    expect(await page.locator('#main').isVisible()).toBe(false);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(420);

    // Keyboard: focus the list, move down, take over with Alt+T, all without the mouse.
    const first = await page.locator('#list li').nth(0).getAttribute('data-id');
    const chosen = await page.locator('#list li').nth(1).getAttribute('data-id');
    await page.locator('#list li').first().focus();
    await page.keyboard.press('ArrowDown'); // nothing selected yet: the first
    expect(await page.locator('#list li.selected').getAttribute('data-id')).toBe(first);
    await page.keyboard.press('ArrowDown');
    expect(await page.locator('#list li.selected').getAttribute('data-id')).toBe(chosen);
    expect(await page.locator('#main').isVisible()).toBe(true);
    await page.keyboard.press('Alt+KeyT');
    await expect.poll(() => page.locator('#title .sub').textContent()).toContain('你 正在处理');
    await page.keyboard.press('ArrowUp');
    expect(await page.locator('#list li.selected').getAttribute('data-id')).toBe(first);

    // Canned replies fill the box; the agent sends them with Enter.
    await page.locator('#back').click();
    await page.locator(`#list li[data-id="${chosen}"]`).click();
    await page.locator('#canned').selectOption({ label: '营业时间' });
    expect(await page.locator('#reply').inputValue()).toBe('我们每天 9:00–21:00 营业。');
    await page.locator('#reply').press('Enter');
    await api.waitFor(() => api.kf.sent.some((m) => (m as { text?: { content?: string } }).text?.content === '我们每天 9:00–21:00 营业。'), 10_000);

    // English on request (from the list view), kept for the next visit.
    await page.locator('#back').click();
    await page.locator('#lang').selectOption('en');
    expect(await page.locator('html').getAttribute('lang')).toBe('en');
    expect(await page.locator('#takeover').textContent()).toBe('Take over');
    expect(await page.locator('h1').textContent()).toBe('Conversations');
    await page.reload();
    expect(await page.locator('#release').textContent()).toBe('Release to bot');
    await page.locator('#lang').selectOption('zh-CN');

    // A dropped connection: a countdown and "retry now"; after it, the buttons and box work at once.
    await expect.poll(() => page.locator('#conn').textContent()).toBe('alice');
    await page.locator(`#list li[data-id="${chosen}"]`).click();
    await page.evaluate('window.__sockets.at(-1).close()');
    await page.locator('#retry').waitFor();
    expect(await page.locator('#retry-text').textContent()).toMatch(/连接已断开，\d+ 秒后重试/);
    expect(await page.locator('#reply').isDisabled()).toBe(true);
    // The first wait is 1 s: on a fast machine the page may reconnect before the click lands.
    await page
      .getByRole('button', { name: '立即重试' })
      .click({ timeout: 2000 })
      .catch(() => {});
    await expect.poll(() => page.locator('#conn').textContent()).toBe('alice');
    expect(await page.locator('#retry').isVisible()).toBe(false);
    expect(await page.locator('#reply').isDisabled()).toBe(false);
    expect(await page.locator('#release').isDisabled()).toBe(false);
    await page.locator('#reply').fill('重新连上了');
    await page.locator('#reply').press('Enter');
    await api.waitFor(() => api.kf.sent.some((m) => (m as { text?: { content?: string } }).text?.content === '重新连上了'), 10_000);
    expect(problems).toEqual([]);
    await page.close();
  });
});
