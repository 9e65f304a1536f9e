/*
 * examples/oa-echo end to end: the CLI starts the example as a user would (credentials in
 * environment variables), and a fake WeChat signs and encrypts callbacks and decrypts the
 * answers with Tencent's own crypto.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateEncodingAESKey } from '@wxbot/core';
import { WeChatPeer } from '@wxbot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWxbot, stopWxbot, type WxbotProcess } from '../../../test/support/wxbotProcess.ts';
import { HELP, WELCOME } from '../bot.config.ts';

const env = {
  WX_APP_ID: 'wx-oa-echo-example',
  WX_TOKEN: 'oa-echo-token',
  WX_AES_KEY: generateEncodingAESKey(),
  WX_APP_SECRET: '',
  WX_API_BASE: '',
  PORT: '',
  LOG_LEVEL: 'info',
  LOG_FORMAT: 'json',
};

const cwd = mkdtempSync(join(tmpdir(), 'wxbot-oa-echo-'));
let cli: WxbotProcess;
let safe: WeChatPeer;
let url: string;

beforeAll(async () => {
  cli = startWxbot('examples/oa-echo/bot.config.ts', env, cwd);
  url = await cli.ready;
  safe = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: env.WX_TOKEN, encodingAESKey: env.WX_AES_KEY, receiveId: env.WX_APP_ID, accountId: 'gh_oa_echo' });
});
afterAll(async () => {
  if (cli) await stopWxbot(cli.child);
  rmSync(cwd, { recursive: true, force: true });
});

describe('examples/oa-echo', () => {
  it('passes the URL verification WeChat sends when the URL is saved', async () => {
    const result = await safe.verify();
    expect(result).toMatchObject({ status: 200, body: result.expected });
  });

  it('echoes a text in safe mode: the answer is encrypted for the AppID and decrypts to the same text', async () => {
    const response = await safe.text('你好，回声', { from: 'o-user-text' });
    expect(response.body).toContain('<Encrypt>');
    expect(response.reply).toMatchObject({ MsgType: 'text', Content: '你好，回声', ToUserName: 'o-user-text', FromUserName: 'gh_oa_echo' });
  });

  it('echoes an image with its MediaId', async () => {
    const response = await safe.post(safe.message('image', { PicUrl: 'https://example.com/cat.jpg', MediaId: 'media-cat-1' }, { from: 'o-user-image' }));
    expect(response.reply).toMatchObject({ MsgType: 'image', Image: { MediaId: 'media-cat-1' }, ToUserName: 'o-user-image' });
  });

  it('greets a new follower (the inline plugin)', async () => {
    const response = await safe.event('subscribe', {}, { from: 'o-user-new' });
    expect(response.reply).toMatchObject({ MsgType: 'text', Content: WELCOME, ToUserName: 'o-user-new' });
  });

  it('answers /help from the inline plugin instead of echoing it', async () => {
    const response = await safe.text('/help');
    expect(response.reply).toMatchObject({ MsgType: 'text', Content: HELP });
  });

  it('refuses plaintext callbacks while an EncodingAESKey is set (their signature does not cover the body)', async () => {
    const plain = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: env.WX_TOKEN, receiveId: env.WX_APP_ID, mode: 'plain' });
    const response = await plain.text('plain echo');
    expect(response.status).toBe(401);
    expect(response.body).toMatch(/plaintext callback refused/);
  });

  it('refuses a callback signed with another token, and never logs the credentials', async () => {
    const forged = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: 'wrong-token', encodingAESKey: env.WX_AES_KEY, receiveId: env.WX_APP_ID });
    expect((await forged.text('forged')).status).toBe(401);
    expect(cli.output()).not.toContain(env.WX_TOKEN);
    expect(cli.output()).not.toContain(env.WX_AES_KEY);
  });
});
