import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cannedRepliesFrom } from '@wxbot/plugin-keyword';
import { startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALICE, CORP, customerSays, dir, KF_SECRET, pngImage, sentTexts, startKfBot, type KfBot } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const CI = process.env.CI === 'true';
const run = existsSync(CHROMIUM) || CI;
if (!run) console.warn(`agent console browser test skipped: ${CHROMIUM} is missing (apt install chromium; CI=true requires it)`);

const FAQ = fileURLToPath(new URL('../../../examples/faq/rules.yaml', import.meta.url));

describe.runIf(run)('agent console in a real browser: names, images, FAQ canned replies, a restart that loses conversations', () => {
  let api: FakeWeChatApi;
  let browser: Browser;

  beforeAll(async () => {
    api = await startFakeWeChatApi({ credentials: [{ id: CORP, secret: KF_SECRET }] });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await api?.close();
  });

  async function open(kf: KfBot, width: number): Promise<{ page: Page; problems: string[] }> {
    const page = await browser.newPage({ viewport: { width, height: 800 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(String(error)));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    await page.goto(`${kf.url}/agent/?token=${ALICE}`);
    await expect.poll(() => page.locator('#conn').textContent()).toBe('alice');
    return { page, problems };
  }

  it("at 420 px: the customer's nickname, their image as a preview, an image sent by the agent, and the FAQ's answers as canned replies", { timeout: 90_000 }, async () => {
    const kf = await startKfBot(api, { cannedReplies: () => cannedRepliesFrom(FAQ) });
    try {
      api.profiles.kf.set('wm-browser-lin', { nickname: '林小姐' });
      const { page, problems } = await open(kf, 420);

      await customerSays(api, kf, 'wk-media', 'wm-browser-lin', '转人工');
      // The nickname, not the raw external_userid, once kf/customer/batchget answered.
      const item = page.locator('#list li', { hasText: '林小姐' });
      await item.waitFor({ timeout: 10_000 });
      expect(await item.locator('.who').textContent()).toBe('林小姐');
      await item.click();
      await expect.poll(() => page.locator('#title .name').textContent()).toBe('林小姐 (wm-browser-lin)');

      // The customer sends a photo: shown as an image, loaded with the token in a header.
      api.media.put('media-browser-photo', { data: pngImage(48, 32, [220, 40, 40]), contentType: 'image/png', fileName: 'photo.png' });
      api.kf.push('wk-media', { external_userid: 'wm-browser-lin', image: { media_id: 'media-browser-photo' } });
      await kf.notify('wk-media');
      const preview = page.locator('.msg.in img.thumb');
      await preview.waitFor({ timeout: 10_000 });
      await expect.poll(() => preview.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(48);
      expect(await preview.getAttribute('src')).toMatch(/^blob:/);

      // The agent sends an image with the 图片 button (a file chooser): uploaded, then sent through kf/send_msg.
      expect(await page.locator('#attach').isVisible()).toBe(true);
      expect(await page.locator('#attach').textContent()).toBe('图片');
      const chooser = page.waitForEvent('filechooser');
      await page.locator('#attach').click();
      await (await chooser).setFiles({ name: 'map.png', mimeType: 'image/png', buffer: pngImage(64, 40, [7, 193, 96]) });
      const sent = await api.waitFor(() => api.kf.sent.find((m) => m['touser'] === 'wm-browser-lin' && m['msgtype'] === 'image'), 10_000);
      const mediaId = (sent!['image'] as { media_id: string }).media_id;
      expect(api.media.get(mediaId)?.data.length).toBeGreaterThan(0);
      const own = page.locator('.msg.agent img.thumb');
      await own.waitFor({ timeout: 10_000 });
      await expect.poll(() => own.evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)).toBe(64);

      // Not JPEG/PNG: said in the page's language, nothing sent.
      const before = api.kf.sent.length;
      const chooser2 = page.waitForEvent('filechooser');
      await page.locator('#attach').click();
      await (await chooser2).setFiles({ name: 'notes.png', mimeType: 'image/png', buffer: Buffer.from('not really a picture') });
      await expect.poll(() => page.locator('#notice').textContent()).toBe('只能发送 JPG 或 PNG 图片');
      expect(api.kf.sent.length).toBe(before);

      // The FAQ file's answers are the canned replies.
      const labels = await page.locator('#canned option').allTextContents();
      expect(labels).toEqual(expect.arrayContaining(['你们几点开门', '退款怎么申请', '价格']));
      await page.locator('#canned').selectOption({ label: '你们几点开门' });
      expect(await page.locator('#reply').inputValue()).toBe('营业时间：每天 9:00–21:00，节假日照常营业。');
      await page.locator('#reply').press('Enter');
      await api.waitFor(() => sentTexts(api, 'wk-media', 'wm-browser-lin').includes('营业时间：每天 9:00–21:00，节假日照常营业。'), 10_000);

      // Still one column that fits 420 px, with the image button in reach.
      expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(420);
      const box = await page.locator('#attach').boundingBox();
      expect(box && box.x + box.width).toBeLessThanOrEqual(420);
      // The refused upload above is the only failed request.
      expect(problems.filter((p) => !p.includes('status of 415'))).toEqual([]);
      await page.close();
    } finally {
      await kf.bot.stop();
    }
  });

  it('a restart of a bot that keeps nothing (stateFile: false): the console says how many conversations were lost', { timeout: 90_000 }, async () => {
    const first = await startKfBot(api, { stateFile: false }, { cursorFile: join(dir, 'lost-cursor.json') });
    const port = Number(new URL(first.url).port);
    let second: KfBot | undefined;
    try {
      const { page, problems } = await open(first, 1024);
      await customerSays(api, first, 'wk-lost', 'wm-lost-1', '人工');
      await customerSays(api, first, 'wk-lost', 'wm-lost-2', '人工客服');
      await expect.poll(() => page.locator('#list li').count()).toBe(2);
      expect(await page.locator('#lost').isVisible()).toBe(false);

      await first.bot.stop();
      second = await startKfBot(api, { stateFile: false }, { cursorFile: join(dir, 'lost-cursor.json'), port });
      await expect.poll(() => page.locator('#conn').textContent(), { timeout: 20_000 }).toBe('alice');
      await page.locator('#lost').waitFor();
      expect(await page.locator('#lost-text').textContent()).toBe('服务器已重启，会话未保存：2 个会话已丢失，客户再发消息时将由机器人应答。');
      expect(await page.locator('#list li').count()).toBe(0);
      await page.getByRole('button', { name: '知道了' }).click();
      expect(await page.locator('#lost').isVisible()).toBe(false);
      expect(problems).toEqual([]);
      await page.close();
    } finally {
      await second?.bot.stop();
    }
  });

  it("notifies (opt-in) of a new waiting conversation, and keeps the list's order while the pointer is over it", { timeout: 90_000 }, async () => {
    const kf = await startKfBot(api);
    try {
      const context = await browser.newContext({ viewport: { width: 1024, height: 700 } });
      await context.grantPermissions(['notifications']);
      // What the page asks the browser to show (headless chromium shows nothing itself).
      await context.addInitScript({
        content: `(() => {
          const Native = window.Notification;
          window.__notes = [];
          function Recorded(title, options) { window.__notes.push({ title, body: options && options.body }); return { close() {} }; }
          Object.defineProperty(Recorded, 'permission', { get: () => Native.permission });
          Recorded.requestPermission = () => Native.requestPermission();
          window.Notification = Recorded;
        })();`,
      });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(String(error)));
      await page.goto(`${kf.url}/agent/?token=${ALICE}`);
      await expect.poll(() => page.locator('#conn').textContent()).toBe('alice');
      const notes = () => page.evaluate('window.__notes') as Promise<{ title: string; body: string }[]>;

      // Not opted in: nothing.
      expect(await page.locator('#notify').textContent()).toBe('开启新会话提醒');
      await customerSays(api, kf, 'wk-notes', 'wm-early', '人工');
      await page.locator('#list li', { hasText: 'wm-early' }).waitFor({ timeout: 10_000 });
      expect(await notes()).toEqual([]);

      // Opted in: a new waiting conversation is announced.
      await page.locator('#notify').click();
      await expect.poll(() => page.locator('#notify').textContent()).toBe('新会话提醒：已开');
      await customerSays(api, kf, 'wk-notes', 'wm-later', '转人工');
      await expect.poll(notes, { timeout: 10_000 }).toEqual([{ title: '新会话等待接入', body: expect.stringContaining('wm-later') }]);

      // The pointer over the list: a new message for the lower conversation does not move it up…
      const order = () => page.locator('#list li').evaluateAll((items) => items.map((li) => (li as unknown as { dataset: { id: string } }).dataset.id));
      const [top, bottom] = await order();
      expect(bottom).toContain('wm-early');
      await page.locator('#list li').nth(1).hover();
      await customerSays(api, kf, 'wk-notes', 'wm-early', '还有人吗？');
      await expect.poll(() => page.locator('#list li').nth(1).locator('.preview').textContent(), { timeout: 10_000 }).toBe('还有人吗？');
      expect(await order()).toEqual([top, bottom]);
      // …until the pointer leaves: then the newest is on top.
      await page.mouse.move(900, 600);
      await expect.poll(order).toEqual([bottom, top]);
      expect(problems).toEqual([]);
      await context.close();
    } finally {
      await kf.bot.stop();
    }
  });
});
