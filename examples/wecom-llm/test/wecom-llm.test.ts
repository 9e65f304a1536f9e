/*
 * examples/wecom-llm end to end: a fake OpenAI (whose answer shows which earlier turns it was
 * sent) and a fake WeChat API, the example started through the CLI with its environment
 * pointing at both, and a fake WeCom that signs and encrypts the callbacks.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateEncodingAESKey } from '@wxbot/core';
import { WeChatPeer, startFakeOpenAI, startFakeWeChatApi, type FakeChatRequest, type FakeOpenAI, type FakeWeChatApi } from '@wxbot/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWxbot, stopWxbot, type WxbotProcess } from '../../../test/support/wxbotProcess.ts';
import { SYSTEM_PROMPT } from '../bot.config.ts';

const CORP = 'ww-wecom-llm-example';
const SECRET = 'wecom-llm-app-secret';
const AGENT_ID = 1000002;
const TOKEN = 'wecom-llm-token';
const KEY = generateEncodingAESKey();
/** Short, so the test does not wait 4 s for the slow answer to miss it. */
const REPLY_WINDOW_MS = 1500;

/** The texts of the user messages of a chat request, oldest first. */
const userTexts = (request: FakeChatRequest) => request.messages.filter((m) => m.role === 'user').map((m) => String(m.content));

/** A model that says what it was told before: proof that the bot sent the remembered turns. */
function rememberingModel(request: FakeChatRequest): string {
  const said = userTexts(request);
  const latest = said.at(-1) ?? '';
  const previous = said.at(-2);
  return previous === undefined ? `第一次聊天。你说：${latest}` : `你上一句说的是“${previous}”，这一句是“${latest}”。`;
}

const cwd = mkdtempSync(join(tmpdir(), 'wxbot-wecom-llm-'));
let api: FakeWeChatApi;
let openai: FakeOpenAI;
let cli: WxbotProcess;
let peer: WeChatPeer;

beforeAll(async () => {
  [api, openai] = await Promise.all([startFakeWeChatApi({ credentials: [{ id: CORP, secret: SECRET, kind: 'wecomApp' }] }), startFakeOpenAI()]);
  openai.chat.reply = rememberingModel;
  cli = startWxbot(
    'examples/wecom-llm/bot.config.ts',
    {
      WECOM_CORP_ID: CORP,
      WECOM_AGENT_ID: String(AGENT_ID),
      WECOM_SECRET: SECRET,
      WECOM_TOKEN: TOKEN,
      WECOM_AES_KEY: KEY,
      WECOM_API_BASE: api.url,
      OPENAI_BASE_URL: openai.url,
      OPENAI_API_KEY: openai.apiKey!,
      OPENAI_MODEL: 'fake-chat-model',
      LLM_SYSTEM_PROMPT: '',
      REPLY_WINDOW_MS: String(REPLY_WINDOW_MS),
      REDIS_URL: '',
      STORE_FILE: '',
      PORT: '',
      LOG_LEVEL: 'info',
      LOG_FORMAT: 'json',
    },
    cwd, // so the FileStore lands in this test's own .wxbot/
  );
  const url = await cli.ready;
  peer = new WeChatPeer({ url: `${url}/wecom/callback`, kind: 'wecomApp', token: TOKEN, encodingAESKey: KEY, receiveId: CORP, agentId: AGENT_ID });
});
afterAll(async () => {
  if (cli) await stopWxbot(cli.child);
  await Promise.all([api?.close(), openai?.close()]);
  rmSync(cwd, { recursive: true, force: true });
});

describe('examples/wecom-llm', () => {
  it('remembers the previous turn: the second answer reflects the first message', async () => {
    const first = await peer.text('我叫小王，在市场部', { from: 'zhangsan' });
    expect(first.reply).toMatchObject({ MsgType: 'text', ToUserName: 'zhangsan', Content: '第一次聊天。你说：我叫小王，在市场部' });

    const second = await peer.text('我在哪个部门？', { from: 'zhangsan' });
    expect(second.reply?.['Content']).toBe('你上一句说的是“我叫小王，在市场部”，这一句是“我在哪个部门？”。');

    // What the model got: the Chinese system prompt, the remembered turn, then the new text.
    const request = openai.chat.requests.at(-1)!;
    expect(request.model).toBe('fake-chat-model');
    expect(request.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'user']);
    expect(request.messages[0]?.content).toBe(SYSTEM_PROMPT);
    expect(request.messages[2]?.content).toBe('第一次聊天。你说：我叫小王，在市场部');

    // The memory is kept in the FileStore under the working directory's .wxbot/.
    const storeFile = join(cwd, '.wxbot/wecom-llm-store.json');
    await api.waitFor(() => existsSync(storeFile) && readFileSync(storeFile, 'utf8').includes('llm:memory:wecomApp:zhangsan'));
  });

  it('keeps conversations apart, and /reset forgets one', async () => {
    expect((await peer.text('你好', { from: 'lisi' })).reply?.['Content']).toBe('第一次聊天。你说：你好');
    expect((await peer.text('/reset', { from: 'zhangsan' })).reply?.['Content']).toBe('好的，之前的对话我已经忘掉了，我们重新开始吧。');
    expect((await peer.text('还记得我吗？', { from: 'zhangsan' })).reply?.['Content']).toBe('第一次聊天。你说：还记得我吗？');
  });

  it('a model slower than the reply window: WeCom gets "success", the answer comes through message/send', async () => {
    openai.chat.delayMs = REPLY_WINDOW_MS + 1000;
    try {
      const started = Date.now();
      const response = await peer.text('帮我写一段周报开头', { from: 'wangwu' });
      expect(response.body).toBe('success');
      expect(response.reply).toBeUndefined();
      expect(Date.now() - started).toBeLessThan(REPLY_WINDOW_MS + 900);

      const sent = await api.waitFor(() => api.wecom.sent.find((m) => m['touser'] === 'wangwu'), 6000);
      expect(sent).toMatchObject({ agentid: AGENT_ID, msgtype: 'text', text: { content: '第一次聊天。你说：帮我写一段周报开头' } });
    } finally {
      openai.chat.delayMs = 0;
    }
  });

  it('never logs the app secret, the AES key or the OpenAI key', () => {
    for (const secret of [SECRET, KEY, openai.apiKey!]) expect(cli.output()).not.toContain(secret);
  });
});
