import { describe, expect, it } from 'vitest';
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
