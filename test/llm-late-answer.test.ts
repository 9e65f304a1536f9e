import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBot, generateEncodingAESKey, officialAccount, type Bot } from '@wxbot/core';
import { keyword } from '@wxbot/plugin-keyword';
import { llm } from '@wxbot/plugin-llm';
import { WeChatPeer, startFakeOpenAI, startFakeWeChatApi, type FakeOpenAI, type FakeWeChatApi } from '@wxbot/testing';

// An LLM slower than WeChat's window on an Official Account: WeChat must get `success` in
// time, and the answer must still reach the user, through message/custom/send.
const OA = { appId: 'wx-llm-late', appSecret: 'oa-secret', token: 'llm-late-token', encodingAESKey: generateEncodingAESKey() };
let api: FakeWeChatApi;
let openai: FakeOpenAI;
let bot: Bot;
let peer: WeChatPeer;

beforeAll(async () => {
  api = await startFakeWeChatApi({ credentials: [{ id: OA.appId, secret: OA.appSecret }] });
  openai = await startFakeOpenAI();
  openai.chat.delayMs = 900;
  bot = createBot({
    channels: [officialAccount({ ...OA, apiBaseUrl: api.url, replyWindowMs: 400 })],
    plugins: [keyword({ rules: [{ keywords: '营业时间', reply: '每天 9:00–21:00' }] }), llm({ baseURL: openai.url, apiKey: openai.apiKey ?? undefined, systemPrompt: '你是客服' })],
    logger: { level: 'silent' },
  });
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: OA.token, encodingAESKey: OA.encodingAESKey, receiveId: OA.appId });
});
afterAll(async () => {
  await bot.stop();
  await openai.close();
  await api.close();
});

describe('keyword first, then a slow LLM, on an Official Account', () => {
  it('a keyword answer goes back passively at once', async () => {
    expect((await peer.text('营业时间', { from: 'o-fast' })).reply).toMatchObject({ Content: '每天 9:00–21:00' });
    expect(openai.chat.requests).toHaveLength(0);
  });

  it('an LLM answer slower than the window arrives through message/custom/send, and the next turn remembers it', async () => {
    const started = Date.now();
    expect((await peer.text('推荐一款适合送礼的茶', { from: 'o-slow' })).body).toBe('success');
    expect(Date.now() - started).toBeLessThan(800);
    const first = await api.waitFor(() => api.officialAccount.sent.find((m) => m['touser'] === 'o-slow'));
    expect(first).toMatchObject({ msgtype: 'text', text: { content: '回答: 推荐一款适合送礼的茶' } });

    await peer.text('价格大概多少', { from: 'o-slow' });
    await api.waitFor(() => api.officialAccount.sent.filter((m) => m['touser'] === 'o-slow').length === 2);
    const messages = openai.chat.requests.at(-1)!.messages.map((m) => `${m.role}: ${String(m.content)}`);
    expect(messages).toEqual(['system: 你是客服', 'user: 推荐一款适合送礼的茶', 'assistant: 回答: 推荐一款适合送礼的茶', 'user: 价格大概多少']);
  });
});
