/*
 * examples/order-dialog end to end: the CLI starts the example as a user would, a fake WeChat
 * signs and encrypts each answer as its own callback, and the dialog goes on across a restart
 * of the process (its FileStore).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateEncodingAESKey } from '@wxbot/core';
import { WeChatPeer } from '@wxbot/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { startWxbot, stopWxbot, type WxbotProcess } from '../../../test/support/wxbotProcess.ts';
import { GREETING, ORDER_QUESTION, PHONE_QUESTION } from '../bot.config.ts';

const env = {
  WX_APP_ID: 'wx-order-dialog',
  WX_TOKEN: 'order-dialog-token',
  WX_AES_KEY: generateEncodingAESKey(),
  WX_APP_SECRET: '',
  WX_API_BASE: '',
  PORT: '',
  REDIS_URL: '',
  STORE_FILE: '',
};
const cwd = mkdtempSync(join(tmpdir(), 'wxbot-order-dialog-'));
let cli: WxbotProcess | undefined;
let peer: WeChatPeer;
/** Two process starts on a loaded machine take a while. */
const SLOW = 120_000;

async function start(): Promise<WeChatPeer> {
  cli = startWxbot('examples/order-dialog/bot.config.ts', env, cwd);
  const url = await cli.ready;
  return new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: env.WX_TOKEN, encodingAESKey: env.WX_AES_KEY, receiveId: env.WX_APP_ID });
}

const say = async (peer: WeChatPeer, text: string, from = 'o-buyer') => (await peer.text(text, { from })).reply?.['Content'];

afterAll(async () => {
  if (cli) await stopWxbot(cli.child);
  rmSync(cwd, { recursive: true, force: true });
});

describe('examples/order-dialog', () => {
  it(
    'lists its commands, looks an order up in two steps, and goes on after a restart',
    async () => {
      peer = await start();
      expect(await say(peer, '/help')).toBe('可用命令：\n/order — 查询订单进度');
      expect(await say(peer, '你好')).toBe(GREETING);
      expect(await say(peer, '查订单')).toBe(ORDER_QUESTION);
      expect(await say(peer, '12345')).toBe('订单号是 9 位数字，例如 202411001，请再输入一次：');
      expect(await say(peer, '202411001')).toBe(PHONE_QUESTION);

      await stopWxbot(cli!.child);
      peer = await start();
      expect(await say(peer, '1234')).toBe('订单 202411001：已发货，顺丰 SF1234567890123，预计明天送达');
      expect(await say(peer, '1234')).toBe(GREETING);
    },
    SLOW,
  );

  it(
    'answers a wrong phone tail with "not found", leaves on 取消, and keeps buyers apart',
    async () => {
      peer ??= await start();
      expect(await say(peer, '/order', 'a')).toBe(ORDER_QUESTION);
      expect(await say(peer, '/order', 'b')).toBe(ORDER_QUESTION);
      expect(await say(peer, '202411002', 'a')).toBe(PHONE_QUESTION);
      expect(await say(peer, '取消', 'b')).toBe('已退出「查询订单」。');
      expect(await say(peer, '9999', 'a')).toBe('没有找到订单 202411002（尾号 9999）。请核对后再发送“查订单”，或回复“人工”。');
      expect(await say(peer, '/nope', 'b')).toBe('没有 /nope 这个命令。发送 /help 查看可用命令。');
    },
    SLOW,
  );
});
