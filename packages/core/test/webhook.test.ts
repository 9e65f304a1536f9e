import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { createBot, replies, UnsupportedReplyError, WeChatApiError, wecomWebhook, type Bot, type WecomWebhookChannel } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

/*
 * The WeCom group robot as a send-only channel, against the fake API's webhook endpoints, which
 * refuse the 21st message of a window with 45009 as WeCom does. The window is shortened (5 per
 * 400 ms on both sides) so pacing shows in a second; the code paths are the 20-a-minute ones.
 */

const KEY = '693a91f6-7aoc-4bc4-97a0-0ec2sifa5aaa';
const BUSY_KEY = 'busy-robot-key';
const LIMIT = { perWindow: 5, windowMs: 400 };
const PNG = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('fake png body')]);

let api: FakeWeChatApi;
/** Another robot's API with a longer window, so the other sender's burst is surely still in it when ours comes. */
let busyApi: FakeWeChatApi;
const BUSY_LIMIT = { perWindow: 3, windowMs: 1500 };
let bot: Bot;
let alerts: WecomWebhookChannel;
let busy: WecomWebhookChannel;
const logs = captureLogger();

beforeAll(async () => {
  api = await startFakeWeChatApi({ webhook: { keys: [KEY], ...LIMIT } });
  busyApi = await startFakeWeChatApi({ webhook: { keys: [BUSY_KEY], ...BUSY_LIMIT } });
  alerts = wecomWebhook({ name: 'alerts', key: `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${KEY}`, apiBaseUrl: api.url, rateLimit: LIMIT });
  busy = wecomWebhook({ name: 'busy', key: BUSY_KEY, apiBaseUrl: busyApi.url, rateLimit: BUSY_LIMIT });
  bot = createBot({ channels: [alerts, busy, wecomWebhook({ name: 'removed', key: 'no-such-robot', apiBaseUrl: api.url })], logger: logs.log });
  await bot.init();
});
afterAll(async () => {
  await bot.stop();
  await api.close();
  await busyApi.close();
});

/** Waits for the window to be empty again, so each test starts with the full budget. */
const freshWindow = () => new Promise((resolve) => setTimeout(resolve, LIMIT.windowMs + 50));

describe('wecomWebhook: what it sends', () => {
  it('sends texts with mentions, markdown, news and template cards through bot.sendTo and its own methods', async () => {
    await bot.sendTo('alerts', { user: 'zhangsan|@all' }, '服务器 CPU 95%');
    await alerts.sendText('请值班同学处理', { mentionedMobileList: ['13800001111'] });
    await bot.sendTo('alerts', { user: '' }, replies.markdown('## 告警\n> <font color="warning">CPU 95%</font>'));
    await bot.sendTo('alerts', { user: '' }, replies.news({ title: '周报', description: '第 48 周', url: 'https://example.com/w48', picUrl: 'https://example.com/p.png' }));
    await alerts.sendTemplateCard({ card_type: 'text_notice', main_title: { title: '发布完成' }, card_action: { type: 1, url: 'https://example.com' } });
    expect(api.webhook.sent(KEY)).toEqual([
      { msgtype: 'text', text: { content: '服务器 CPU 95%', mentioned_list: ['zhangsan', '@all'] } },
      { msgtype: 'text', text: { content: '请值班同学处理', mentioned_mobile_list: ['13800001111'] } },
      { msgtype: 'markdown', markdown: { content: '## 告警\n> <font color="warning">CPU 95%</font>' } },
      { msgtype: 'news', news: { articles: [{ title: '周报', description: '第 48 周', url: 'https://example.com/w48', picurl: 'https://example.com/p.png' }] } },
      { msgtype: 'template_card', template_card: { card_type: 'text_notice', main_title: { title: '发布完成' }, card_action: { type: 1, url: 'https://example.com' } } },
    ]);
    await freshWindow();
  });

  it('sends images as base64 with their md5, and files through upload_media', async () => {
    const before = api.webhook.sent(KEY).length;
    const imageId = await alerts.uploadMedia('image', { data: PNG, fileName: 'chart.png' });
    await bot.sendTo('alerts', { user: '' }, replies.image(imageId));
    await alerts.sendImage(PNG);
    await alerts.sendFile({ data: Buffer.from('date,cpu\n11-30,95\n'), fileName: 'cpu.csv', contentType: 'text/csv' });
    const voiceId = await alerts.uploadMedia('voice', { data: Buffer.from('#!AMR\nfake audio'), fileName: 'say.amr' });
    await bot.sendTo('alerts', { user: '' }, replies.voice(voiceId));
    const image = { msgtype: 'image', image: { base64: PNG.toString('base64'), md5: createHash('md5').update(PNG).digest('hex') } };
    const [file, voice] = api.webhook.uploads.slice(-2);
    expect(file).toMatchObject({ key: KEY, type: 'file', fileName: 'cpu.csv' });
    expect(file!.data.toString()).toBe('date,cpu\n11-30,95\n');
    expect(voice).toMatchObject({ type: 'voice', mediaId: voiceId });
    // The fake checked each md5 against the decoded bytes before accepting.
    expect(api.webhook.sent(KEY).slice(before)).toEqual([image, image, { msgtype: 'file', file: { media_id: file!.mediaId } }, { msgtype: 'voice', voice: { media_id: voiceId } }]);
    await freshWindow();
  });
});

describe('wecomWebhook: the 20-a-minute limit', () => {
  it('paces a burst: every message is delivered, in order, never more than the limit per window, and the wait is logged', async () => {
    const before = api.webhook.attempts.length;
    const burst = Array.from({ length: 12 }, (_, i) => bot.sendTo('alerts', { user: '' }, `第 ${i + 1} 条`));
    await Promise.all(burst);
    const attempts = api.webhook.attempts.slice(before);
    expect(attempts.map((a) => a.errcode)).toEqual(Array(12).fill(0)); // not one 45009: paced, not refused
    expect(attempts.map((a) => (a.body as { text: { content: string } }).text.content)).toEqual(Array.from({ length: 12 }, (_, i) => `第 ${i + 1} 条`));
    expect(api.webhook.peakPerWindow(KEY)).toBeLessThanOrEqual(LIMIT.perWindow);
    expect(logs.text()).toMatch(/webhook rate limit \(5 per 0.4 s\) reached: a message waits \d+ ms/);
    await freshWindow();
  });

  it('when other senders used the window up (45009), waits and retries instead of dropping', async () => {
    // Another system posting with the same key fills the window first.
    for (let i = 0; i < BUSY_LIMIT.perWindow; i++) {
      await fetch(`${busyApi.url}/cgi-bin/webhook/send?key=${BUSY_KEY}`, { method: 'POST', body: JSON.stringify({ msgtype: 'text', text: { content: `other ${i}` } }) });
    }
    await Promise.all([busy.sendText('ours 1'), busy.sendText('ours 2')]);
    const ours = busyApi.webhook.attempts.filter((a) => a.key === BUSY_KEY && JSON.stringify(a.body).includes('ours'));
    expect(ours.some((a) => a.errcode === 45009)).toBe(true);
    expect(busyApi.webhook.sent(BUSY_KEY).slice(-2)).toEqual([
      { msgtype: 'text', text: { content: 'ours 1' } },
      { msgtype: 'text', text: { content: 'ours 2' } },
    ]);
    expect(logs.text()).toContain('webhook refused with 45009');
  });
});

describe('wecomWebhook: errors', () => {
  it('surfaces errcodes as WeChatApiError without the key, and refuses what a robot cannot send', async () => {
    const removed = (await bot.sendTo('removed', { user: '' }, 'hi').catch((e: unknown) => e)) as WeChatApiError;
    expect(removed).toBeInstanceOf(WeChatApiError);
    expect(removed.errcode).toBe(93000);
    expect(removed.message).toMatch(/invalid webhook url.*check the key/);
    expect(removed.message).not.toContain('no-such-robot');

    const long = (await alerts.sendMarkdown('长'.repeat(1500)).catch((e: unknown) => e)) as WeChatApiError;
    expect(long.errcode).toBe(40058);
    expect(long.message).toContain('markdown.content exceeds 4096 bytes');

    await expect(bot.sendTo('alerts', { user: '' }, replies.video('v1'))).rejects.toBeInstanceOf(UnsupportedReplyError);
    await expect(bot.sendTo('alerts', { user: '' }, replies.image('media-of-another-api'))).rejects.toThrow(/must come from its uploadMedia\('image'/);
    expect(JSON.stringify(logs.lines)).not.toContain(KEY);
  });

  it('has no callback: its path answers 404', () => {
    expect(() => alerts.verify()).toThrow(/only sends/);
  });
});
