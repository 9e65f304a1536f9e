import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WeChatPeer, shouldRunRedisTests, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { createBot, createLogger, generateEncodingAESKey, wecomKf, type Bot, type WecomKfChannel } from '@wxbot/core';
import { RedisStore } from '../src/index.ts';

/**
 * Issue 12, defect 5: Redis restarted empty loses the KF cursor and the "answered" marks, and
 * `sync_msg` without a cursor returns the account's last 3 days: they were all answered again.
 * A pass with no saved cursor now starts from now (older messages skipped, one warning)
 * unless the channel says `emptyCursor: 'history'`.
 */
const runRedis = await shouldRunRedisTests('KF cursor wipe tests');
const KF = { corpId: 'ww-wipe', secret: 'wipe-kf-secret', token: 'wipe-kf-token', encodingAESKey: generateEncodingAESKey() };
const prefix = `wxbot-test:${randomUUID()}:`;

describe.runIf(runRedis)('a Redis restarted empty (KF cursor and marks gone)', () => {
  let api: FakeWeChatApi;
  let redis: Redis;
  const bots: Bot[] = [];

  beforeAll(async () => {
    api = await startFakeWeChatApi({ credentials: [{ id: KF.corpId, secret: KF.secret }] });
    redis = new Redis('redis://127.0.0.1:6379');
  });
  afterEach(async () => {
    await Promise.all(bots.splice(0).map((b) => b.stop()));
  });
  afterAll(async () => {
    await api.close();
    await flushPrefix();
    redis.disconnect();
  });

  /** What a Redis restarted without persistence looks like to this test's keys. */
  async function flushPrefix(): Promise<number> {
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    return keys.length;
  }

  async function start(options: { emptyCursor?: 'now' | 'history' } = {}) {
    const logs: Record<string, unknown>[] = [];
    const bot = createBot({
      channels: [wecomKf({ ...KF, apiBaseUrl: api.url, ...options })],
      store: new RedisStore({ url: 'redis://127.0.0.1:6379', prefix }),
      logger: createLogger({ level: 'info', destination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) } }),
    });
    const handled: string[] = [];
    bot.on('text', (ctx) => {
      handled.push(ctx.message.type === 'text' ? ctx.message.text : '');
      return ctx.reply(`re: ${ctx.message.type === 'text' ? ctx.message.text : ''}`);
    });
    bots.push(bot);
    const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
    const peer = new WeChatPeer({ url: `${url}/wecom/kf`, kind: 'wecomKf', token: KF.token, encodingAESKey: KF.encodingAESKey, receiveId: KF.corpId });
    let n = 0;
    const notify = (openKfId: string) => peer.event('kf_msg_or_event', { Token: `tok-${++n}`, OpenKfId: openKfId }, { from: 'sys' });
    return { bot, logs, notify, handled, url };
  }

  const answered = (openKfId: string) => api.kf.sent.filter((m) => m['open_kfid'] === openKfId).map((m) => (m['text'] as { content: string }).content);
  /** Waits until the bot's KF syncs are idle (every handed-over message answered, cursor saved). */
  const idle = (bot: Bot) => (bot.channels[0] as WecomKfChannel).kf!.syncer.idle();

  /** Three messages answered, then ten minutes "pass" (their send_time moves back), then Redis loses everything. */
  async function answeredThenWiped(openKfId: string) {
    const first = await start();
    const history = [0, 1, 2].map((i) => api.kf.push(openKfId, { text: { content: `old ${i}` } }));
    await first.notify(openKfId);
    await api.waitFor(() => answered(openKfId).length === 3);
    await idle(first.bot);
    expect(await redis.get(`${prefix}kf:cursor:wecomKf:${openKfId}`)).toBeTruthy();
    for (const message of history) message.send_time -= 600;
    // The instance goes with its Redis (its durable engine's queues live there too).
    await first.bot.stop();
    expect(await flushPrefix()).toBeGreaterThan(0);
    expect(await redis.get(`${prefix}kf:cursor:wecomKf:${openKfId}`)).toBeNull();
  }

  it("default 'now': the history is not answered again, only the new message; one warning says why", async () => {
    await answeredThenWiped('wk-wipe-now');
    const second = await start();
    api.kf.push('wk-wipe-now', { text: { content: 'new after the wipe' } });
    await second.notify('wk-wipe-now');
    await api.waitFor(() => answered('wk-wipe-now').length === 4);
    await idle(second.bot);
    // Nothing else runs late: the skipped ones were never handed over.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(answered('wk-wipe-now')).toEqual(['re: old 0', 're: old 1', 're: old 2', 're: new after the wipe']);
    expect(second.handled).toEqual(['new after the wipe']);
    expect(second.logs.find((l) => String(l['msg']).startsWith('KF sync found no saved cursor'))).toMatchObject({ level: 40, openKfId: 'wk-wipe-now', skipped: 3 });
    // The cursor is saved again past everything: the next notification answers only what is new.
    api.kf.push('wk-wipe-now', { text: { content: 'later' } });
    await second.notify('wk-wipe-now');
    await api.waitFor(() => answered('wk-wipe-now').length === 5);
    await idle(second.bot);
    expect(answered('wk-wipe-now').at(-1)).toBe('re: later');
  });

  it('a cursor WeChat rejects (50100, expired) is dropped from Redis once, counted, and the sync goes on from now', async () => {
    const first = await start();
    const history = [0, 1, 2].map((i) => api.kf.push('wk-expired', { text: { content: `old ${i}` } }));
    await first.notify('wk-expired');
    await api.waitFor(() => answered('wk-expired').length === 3);
    await idle(first.bot);
    const saved = await redis.get(`${prefix}kf:cursor:wecomKf:wk-expired`);
    expect(saved).toBeTruthy();
    for (const message of history) message.send_time -= 600;
    await first.bot.stop();

    api.kf.expireCursors(); // WeChat no longer takes the saved cursor
    const second = await start();
    api.kf.push('wk-expired', { text: { content: 'new' } });
    await second.notify('wk-expired');
    await api.waitFor(() => answered('wk-expired').length === 4, 5000);
    await idle(second.bot);
    expect(second.handled).toEqual(['new']);
    const cursor = await redis.get(`${prefix}kf:cursor:wecomKf:wk-expired`);
    expect(cursor).toBeTruthy();
    expect(cursor).not.toBe(saved);
    expect(second.logs.filter((l) => String(l['msg']).startsWith('KF sync cursor rejected by WeChat'))).toEqual([
      expect.objectContaining({ level: 40, openKfId: 'wk-expired', errcode: 50100 }),
    ]);
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    expect(metrics).toContain('wxbot_kf_cursor_dropped_total{channel="wecomKf"} 1');
    expect(metrics).toMatch(/wxbot_api_calls_total\{endpoint="[^"]*sync_msg",result="50100"\} 1\n/);
    // The new cursor works: the next notification answers only what is new, no rejection.
    api.kf.push('wk-expired', { text: { content: 'later' } });
    await second.notify('wk-expired');
    await api.waitFor(() => answered('wk-expired').length === 5, 5000);
    await idle(second.bot);
    expect(answered('wk-expired')).toEqual(['re: old 0', 're: old 1', 're: old 2', 're: new', 're: later']);
    expect(await (await fetch(`${second.url}/metrics`)).text()).toMatch(/result="50100"\} 1\n/);
  });

  it("emptyCursor: 'history' answers what sync_msg returns from the start (the documented cost after a wipe)", async () => {
    await answeredThenWiped('wk-wipe-history');
    const second = await start({ emptyCursor: 'history' });
    api.kf.push('wk-wipe-history', { text: { content: 'new after the wipe' } });
    await second.notify('wk-wipe-history');
    await api.waitFor(() => answered('wk-wipe-history').length === 4 && second.handled.length === 4);
    await idle(second.bot);
    // The plugins (an LLM) run on the 3 days again; only the client msgids that KF sends carry
    // (derived from each message) let the fake, as WeChat, recognise the answers as repeats.
    expect(second.handled.sort()).toEqual(['new after the wipe', 'old 0', 'old 1', 'old 2']);
    expect(api.kf.repeatedMsgIds).toBe(3);
  });
});
