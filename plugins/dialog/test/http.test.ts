/*
 * Dialogs over HTTP, as WeChat drives them: each answer is its own signed, encrypted callback;
 * the question goes back passively in the HTTP response. The state lives in the store, so the
 * dialog goes on after a restart (file store) and on another instance (Redis).
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WeChatPeer, shouldRunRedisTests } from '@wxbot/testing';
import { FileStore, createBot, createLogger, generateEncodingAESKey, officialAccount, type Bot, type Store } from '@wxbot/core';
import { RedisStore } from '@wxbot/redis';
import { afterAll, describe, expect, it } from 'vitest';
import { dialogs } from '../src/index.ts';
import { lookups, orderCommands, orderLookup, quick } from './orderDialog.ts';

const runRedis = await shouldRunRedisTests('dialog Redis tests');
const OA = { appId: 'wx-dialog', token: 'dialog-token', encodingAESKey: generateEncodingAESKey() };

/** Starts one bot instance on its own port with the given store. */
async function startInstance(store: Store): Promise<{ bot: Bot; peer: WeChatPeer }> {
  const bot = createBot({
    channels: [officialAccount({ ...OA, path: '/wx' })],
    plugins: [dialogs({ dialogs: [orderLookup, quick] }), orderCommands()],
    store,
    logger: createLogger({ level: 'silent' }),
  });
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  return { bot, peer: new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', ...OA, receiveId: OA.appId, accountId: 'gh_dialog' }) };
}

/** What the user sees: the passive reply's text. */
async function say(peer: WeChatPeer, text: string, from = 'o-user-1'): Promise<unknown> {
  const response = await peer.text(text, { from });
  expect(response.status).toBe(200);
  return response.reply?.['Content'];
}

describe('dialogs over HTTP', () => {
  it('answers a two-step order lookup across callbacks, and across a restart with the file store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxbot-dialog-'));
    const path = join(dir, 'store.json');
    try {
      const first = await startInstance(new FileStore({ path }));
      expect(await say(first.peer, '/order')).toBe('您的订单号是？');
      expect(await say(first.peer, '135790')).toBe('下单手机号的后四位？');
      await first.bot.stop();

      const second = await startInstance(new FileStore({ path }));
      const before = lookups.length;
      expect(await say(second.peer, '2468')).toBe('订单 135790（尾号 2468）：已发货');
      expect(lookups.slice(before)).toEqual(['135790/2468']);
      expect(await say(second.peer, '2468')).toBe('echo: 2468');
      await second.bot.stop();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.runIf(runRedis)('dialogs over HTTP on two instances sharing Redis', () => {
  const prefix = `wxbot-test:${randomUUID()}:`;
  afterAll(async () => {
    const cleanup = new RedisStore({ prefix: '' });
    const keys = await cleanup.client.keys(`${prefix}*`);
    if (keys.length) await cleanup.client.del(...keys);
    await cleanup.close();
  });

  it('goes on with each answer on whichever instance gets it; two users interleaved; cancel', async () => {
    const a = await startInstance(new RedisStore({ prefix }));
    const b = await startInstance(new RedisStore({ prefix }));
    try {
      expect(await say(a.peer, '/order', 'alice')).toBe('您的订单号是？');
      expect(await say(b.peer, '/order', 'bob')).toBe('您的订单号是？');
      expect(await say(b.peer, '111111', 'alice')).toBe('下单手机号的后四位？');
      expect(await say(a.peer, '222222', 'bob')).toBe('下单手机号的后四位？');
      expect(await say(a.peer, '1111', 'alice')).toBe('订单 111111（尾号 1111）：已发货');
      expect(await say(b.peer, '取消', 'bob')).toBe('已退出「查询订单」。');
      expect(await say(a.peer, '2222', 'bob')).toBe('echo: 2222');
    } finally {
      await a.bot.stop();
      await b.bot.stop();
    }
  });

  it('tells a late answer on the other instance that the question timed out', async () => {
    const a = await startInstance(new RedisStore({ prefix }));
    const b = await startInstance(new RedisStore({ prefix }));
    try {
      expect(await say(a.peer, '/quick', 'carol')).toBe('快说？');
      await new Promise((resolve) => setTimeout(resolve, 250));
      // The passive answer is the timeout text; the echo of the late text goes out actively.
      expect(await say(b.peer, '太晚了', 'carol')).toBe('「快问」等待回复超时，已结束。需要的话请重新开始。');
    } finally {
      await a.bot.stop();
      await b.bot.stop();
    }
  });
});
