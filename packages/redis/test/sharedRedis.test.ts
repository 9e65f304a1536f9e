import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeChatPeer, newMsgId, shouldRunRedisTests, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { createBot, createLogger, generateEncodingAESKey, officialAccount, wecomKf, type Bot, type OfficialAccountChannel } from '@wxbot/core';
import { RedisStore } from '../src/index.ts';

// In CI Redis is part of the machine, so these tests must run (and fail loudly if it is down).
const runRedis = await shouldRunRedisTests('shared-Redis tests');

const OA = { appId: 'wx-shared', appSecret: 'shared-oa-secret', token: 'shared-token', encodingAESKey: generateEncodingAESKey() };
const KF = { corpId: 'ww-shared', secret: 'shared-kf-secret', token: 'shared-kf-token', encodingAESKey: generateEncodingAESKey() };
const prefix = `wxbot-test:${randomUUID()}:`;

describe.runIf(runRedis)('two instances sharing one Redis store', () => {
  let api: FakeWeChatApi;
  const bots: Bot[] = [];
  const urls: string[] = [];
  let handled = 0;

  beforeAll(async () => {
    api = await startFakeWeChatApi({
      credentials: [
        { id: OA.appId, secret: OA.appSecret },
        { id: KF.corpId, secret: KF.secret },
      ],
    });
    for (let i = 0; i < 2; i++) {
      const bot = createBot({
        channels: [officialAccount({ ...OA, apiBaseUrl: api.url }), wecomKf({ ...KF, apiBaseUrl: api.url })],
        store: new RedisStore({ url: 'redis://127.0.0.1:6379', prefix }),
        logger: createLogger({ level: 'silent' }),
      });
      bot.on('text', async (ctx) => {
        handled += 1;
        await ctx.reply(`instance ${i}: ${ctx.message.type === 'text' ? ctx.message.text : ''}`);
      });
      bots.push(bot);
      urls.push((await bot.start({ port: 0, host: '127.0.0.1' })).url);
    }
  });

  afterAll(async () => {
    await Promise.all(bots.map((b) => b.stop()));
    await api.close();
    const redis = new Redis('redis://127.0.0.1:6379');
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  const oaPeer = (i: number) => new WeChatPeer({ url: `${urls[i]}/wx`, kind: 'officialAccount', token: OA.token, encodingAESKey: OA.encodingAESKey, receiveId: OA.appId });
  const kfPeer = (i: number) => new WeChatPeer({ url: `${urls[i]}/wecom/kf`, kind: 'wecomKf', token: KF.token, encodingAESKey: KF.encodingAESKey, receiveId: KF.corpId });

  it('share one access token: 100 concurrent calls over both instances cause one gettoken', async () => {
    const clients = bots.map((b) => (b.channels[0] as OfficialAccountChannel).api!);
    await Promise.all(Array.from({ length: 100 }, (_, i) => clients[i % 2]!.post('cgi-bin/message/custom/send', { touser: `o${i}`, msgtype: 'text', text: { content: 'x' } })));
    expect(api.tokenCalls(OA.appId)).toBe(1);
  });

  it('share one dedup set: a retry sent to the other instance is not processed again', async () => {
    const msgId = newMsgId();
    const before = handled;
    const first = await oaPeer(0).text('重试', { msgId });
    const retry = await oaPeer(1).text('重试', { msgId });
    expect(handled - before).toBe(1);
    expect(first.reply).toMatchObject({ Content: 'instance 0: 重试' });
    expect(retry.reply).toMatchObject({ Content: 'instance 0: 重试' });
  });

  it('share one KF cursor: what one instance synced, the other never repeats', async () => {
    for (let i = 0; i < 3; i++) api.kf.push('wk-shared', { text: { content: `a${i}` } });
    await kfPeer(0).event('kf_msg_or_event', { Token: 't0', OpenKfId: 'wk-shared' });
    await api.waitFor(() => api.kf.sent.length === 3);
    for (let i = 0; i < 2; i++) api.kf.push('wk-shared', { text: { content: `b${i}` } });
    await kfPeer(1).event('kf_msg_or_event', { Token: 't1', OpenKfId: 'wk-shared' });
    await api.waitFor(() => api.kf.sent.length === 5);
    await new Promise((r) => setTimeout(r, 150));
    // Durable mode: the synced messages are jobs, run by whichever instance's worker is free.
    const texts = api.kf.sent.map((m) => (m['text'] as { content: string }).content.replace(/^instance \d: /, ''));
    expect(texts).toEqual(['a0', 'a1', 'a2', 'b0', 'b1']);
  });

  it('never sync one open_kfid in parallel, even when both instances are notified at once', async () => {
    api.kf.syncDelayMs = 40;
    try {
      for (let i = 0; i < 4; i++) api.kf.push('wk-both', { text: { content: `c${i}` } });
      await Promise.all(Array.from({ length: 20 }, (_, i) => kfPeer(i % 2).event('kf_msg_or_event', { Token: `t${i}`, OpenKfId: 'wk-both' })));
      await api.waitFor(() => api.kf.sent.filter((m) => m['open_kfid'] === 'wk-both').length === 4);
      await new Promise((r) => setTimeout(r, 300));
      expect(api.kf.maxConcurrentSyncs('wk-both')).toBe(1);
      expect(api.kf.sent.filter((m) => m['open_kfid'] === 'wk-both')).toHaveLength(4);
    } finally {
      api.kf.syncDelayMs = 0;
    }
  });
});
