import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, CORP, customerSays, KF_SECRET, sentTexts, sleep, startKfBot, type KfBot } from './helpers.ts';

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
    kf = await startKfBot(api);
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

    // Sign in through the login field (the token ends up in sessionStorage).
    await page.goto(`${kf.url}/agent/`);
    await page.locator('#token').fill(ALICE);
    await page.getByRole('button', { name: 'Connect' }).click();
    await expect.poll(() => page.locator('#conn').textContent()).toBe('alice');

    // Some talk with the bot, then the customer asks for a human. (English texts: the machine that
    // takes the README screenshot may have no CJK fonts; the protocol tests use Chinese.)
    await customerSays(api, kf, 'wk-browser', 'wm-customer-lin', 'Hi, my order from Monday has not shipped yet');
    await api.waitFor(() => kf.llmCalls.length === 1);
    await customerSays(api, kf, 'wk-browser', 'wm-customer-lin', 'Can I talk to a human please?');
    const item = page.locator('#list li', { hasText: 'wm-customer-lin' });
    await item.waitFor({ timeout: 10_000 });
    await expect.poll(() => item.locator('.badge').textContent()).toBe('1');
    await item.click();
    await page.locator('.msg.in', { hasText: 'Hi, my order from Monday has not shipped yet' }).waitFor();
    await page.locator('.msg.out', { hasText: 'bot: Hi, my order from Monday has not shipped yet' }).waitFor();

    await page.getByRole('button', { name: 'Take over' }).click();
    await expect.poll(() => page.locator('#title .sub').textContent()).toContain('held by you');
    await page.locator('#reply').fill('Hello, this is Ivy from customer service. Let me check your order.');
    await page.locator('#reply').press('Enter');
    await api.waitFor(() => sentTexts(api, 'wk-browser', 'wm-customer-lin').includes('Hello, this is Ivy from customer service. Let me check your order.'), 10_000);
    await page.locator('.msg.agent', { hasText: 'Ivy' }).waitFor();

    // Held: the next message shows up in the page and never reaches the LLM stand-in.
    await customerSays(api, kf, 'wk-browser', 'wm-customer-lin', 'The order number is 20240518-0021');
    await page.locator('.msg.in', { hasText: '20240518-0021' }).waitFor({ timeout: 10_000 });
    await sleep(200);
    expect(kf.llmCalls).toEqual(['Hi, my order from Monday has not shipped yet']);
    expect(await page.locator('#reply').inputValue()).toBe('');

    // A second customer waiting, so the screenshot shows a list.
    await customerSays(api, kf, 'wk-browser', 'wm-customer-zhao', 'Is a human there? My parcel arrived damaged.');
    await page.locator('#list li', { hasText: 'parcel arrived damaged' }).waitFor();
    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
    expect(problems).toEqual([]);
  });
});
