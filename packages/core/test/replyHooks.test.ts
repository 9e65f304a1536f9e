import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeChatPeer } from '@wxbot/testing';
import { createBot, definePlugin, officialAccount, type Bot, type Reply } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

/** A plugin whose outgoing-reply hook throws: on "before" before calling next(), on "after" after it. */
const brokenHook = definePlugin({
  name: 'stamp',
  setup(scope) {
    scope.onReply(async (out, next) => {
      const text = out.reply.type === 'text' ? out.reply.text : '';
      if (text.includes('before')) throw new Error('stamp hook broke before next');
      await next();
      if (text.includes('after')) throw new Error('stamp hook broke after next');
    });
  },
});

/** A later hook that still runs: it marks what passes it. */
const marker = definePlugin({
  name: 'marker',
  setup(scope) {
    scope.onReply((out, next) => next(out.reply.type === 'text' ? { ...out, reply: { type: 'text', text: `${out.reply.text} ✓` } } : out));
  },
});

const echoing = definePlugin({
  name: 'echo',
  setup(scope) {
    scope.on('text', (ctx) => ctx.reply(ctx.text ?? ''));
  },
});

let bot: Bot;
let peer: WeChatPeer;
const logs = captureLogger();
const sent: Reply[] = [];

beforeAll(async () => {
  bot = createBot({ channels: [officialAccount({ appId: 'wxhooks', token: 't' })], plugins: [brokenHook(), marker(), echoing()], logger: logs.log });
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  (bot.channels[0] as { send?: unknown }).send = async (_to: unknown, reply: Reply) => void sent.push(reply);
  peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: 't', receiveId: 'wxhooks' });
});
afterAll(() => bot.stop());

const errors = () => logs.lines.filter((l) => l['level'] === 50);

describe('a reply hook (onReply) that throws', () => {
  it('before next(): logged naming the plugin that registered it, skipped, and the reply still goes out', async () => {
    const response = await peer.text('before');
    expect(response.status).toBe(200);
    // The failing hook is skipped; the hooks after it still see the reply.
    expect(response.reply).toMatchObject({ Content: 'before ✓' });
    const lines = errors();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ plugin: 'stamp', msg: 'plugin "stamp" failed in its reply hook (onReply); the reply goes on without it' });
    expect(String((lines[0]!['err'] as { message: string }).message)).toBe('stamp hook broke before next');
    // Nothing is blamed on the plugin that replied.
    expect(logs.text()).not.toContain('plugin \\"echo\\" failed');
    expect(logs.lines.some((l) => l['plugin'] === 'echo' && l['level'] === 50)).toBe(false);
  });

  it('after next(): the reply was delivered once; the hook is named, the sender not blamed', async () => {
    logs.lines.length = 0;
    const response = await peer.text('after');
    expect(response.reply).toMatchObject({ Content: 'after ✓' });
    const lines = errors();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ plugin: 'stamp', msg: 'plugin "stamp" failed in its reply hook (onReply); after passing the reply on' });
  });

  it('sendTo goes through as well', async () => {
    logs.lines.length = 0;
    await bot.sendTo('officialAccount', { user: 'u' }, 'note before');
    expect(sent).toEqual([{ type: 'text', text: 'note before ✓' }]);
    expect(errors()).toMatchObject([{ plugin: 'stamp' }]);
  });
});

describe('a reply hook (onReply) that returns without calling next()', () => {
  const dropper = definePlugin({
    name: 'dropper',
    setup(scope) {
      scope.onReply(async () => {}); // forgot next(): every reply is dropped
    },
  });

  it('drops the reply, and outside production says so once, naming the plugin', async () => {
    const own = captureLogger();
    const quiet = createBot({ channels: [officialAccount({ appId: 'wxdrop', token: 't' })], plugins: [dropper(), echoing()], logger: own.log, devChecks: true });
    const { url } = await quiet.start({ port: 0, host: '127.0.0.1' });
    try {
      const dropPeer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: 't', receiveId: 'wxdrop' });
      expect((await dropPeer.text('one')).reply).toBeUndefined();
      expect((await dropPeer.text('two')).reply).toBeUndefined();
      const warnings = own.lines.filter((l) => l['level'] === 40 && String(l['msg']).includes('reply hook'));
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatchObject({
        plugin: 'dropper',
        msg: expect.stringContaining('plugin "dropper" dropped a reply in its reply hook (onReply): the hook returned without calling next()'),
      });
    } finally {
      await quiet.stop();
    }
  });

  it('with devChecks off (production) drops it silently', async () => {
    const own = captureLogger();
    const quiet = createBot({ channels: [officialAccount({ appId: 'wxdrop', token: 't' })], plugins: [dropper(), echoing()], logger: own.log, devChecks: false });
    const { url } = await quiet.start({ port: 0, host: '127.0.0.1' });
    try {
      const dropPeer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: 't', receiveId: 'wxdrop' });
      expect((await dropPeer.text('one')).reply).toBeUndefined();
      expect(own.lines.filter((l) => String(l['msg']).includes('reply hook'))).toEqual([]);
    } finally {
      await quiet.stop();
    }
  });
});
