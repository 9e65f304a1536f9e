import { describe, expect, it, vi } from 'vitest';
import { WeChatPeer } from '@wxbot/testing';
import { createBot, definePlugin, officialAccount } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

describe('a plugin that hangs', () => {
  it('WeChat gets success when the window closes, and a warning names the plugin', async () => {
    const logs = captureLogger();
    const stuck = definePlugin({
      name: 'stuck',
      setup(bot) {
        bot.on('text', () => new Promise<void>(() => {})); // never settles
      },
    });
    const bot = createBot({
      channels: [officialAccount({ appId: 'wx-hang', token: 'hang-token', replyWindowMs: 200 })],
      plugins: [stuck()],
      logger: logs.log,
      slowHandlerWarnMs: 300,
      shutdownGraceMs: 200,
    });
    const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
    try {
      const peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: 'hang-token', receiveId: 'wx-hang', mode: 'plain' });
      const started = Date.now();
      expect((await peer.text('are you there?')).body).toBe('success');
      expect(Date.now() - started).toBeLessThan(1000);
      const deadline = Date.now() + 3000;
      while (!logs.lines.some((l) => l['plugin'] === 'stuck' && String(l['msg']).includes('may hang')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(logs.lines.find((l) => String(l['msg']).includes('may hang'))).toMatchObject({ plugin: 'stuck', level: 40 });
      expect((await fetch(`${url}/healthz`)).status).toBe(200);
    } finally {
      await bot.stop();
    }
  });
});

describe('the in-flight sweeper', () => {
  it('is set by the first message, stays while nothing is in flight, and goes at stop()', async () => {
    // Only intervals faked: the sweeper is the bot's one interval, counted by vi.getTimerCount().
    // It stays when a sweep finds nothing in flight (fa8f9a4: one that stopped itself was set
    // again by the next message, which deoptimized handleCallback), so stop() must clear it.
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    try {
      const bot = createBot({ channels: [officialAccount({ appId: 'wx-sweep', token: 'sweep-token' })], logger: captureLogger().log, slowHandlerWarnMs: 300 });
      bot.on('text', (ctx) => ctx.reply('ok'));
      await bot.init();
      const intervals = vi.getTimerCount();
      const peer = new WeChatPeer({ url: 'http://unused', kind: 'officialAccount', token: 'sweep-token', receiveId: 'wx-sweep', mode: 'plain' });
      const send = async (msgId: string) => {
        const { query, body } = peer.buildCallback(peer.message('text', { Content: 'hi' }, { msgId }));
        return bot.handleCallback(bot.channels[0]!, Object.fromEntries(query), body);
      };
      expect(await send('91001')).toContain('ok');
      expect(vi.getTimerCount()).toBe(intervals + 1);
      vi.advanceTimersByTime(1000); // three sweeps, nothing in flight
      expect(vi.getTimerCount()).toBe(intervals + 1);
      expect(await send('91002')).toContain('ok');
      expect(vi.getTimerCount()).toBe(intervals + 1);
      await bot.stop();
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('stopping', () => {
  it('lets a message in the pipeline finish and answer before the server goes', async () => {
    const slow = definePlugin({
      name: 'slow',
      setup(bot) {
        bot.on('text', async (ctx) => {
          await new Promise((r) => setTimeout(r, 300));
          await ctx.reply('done');
        });
      },
    });
    const bot = createBot({ channels: [officialAccount({ appId: 'wx-stop', token: 'stop-token' })], plugins: [slow()], logger: captureLogger().log });
    const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
    const peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: 'stop-token', receiveId: 'wx-stop', mode: 'plain' });
    const answer = peer.text('finish please');
    await new Promise((r) => setTimeout(r, 100));
    await bot.stop();
    expect((await answer).reply).toMatchObject({ Content: 'done' });
  });
});
