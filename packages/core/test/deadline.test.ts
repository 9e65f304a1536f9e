import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeChatPeer, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { createBot, generateEncodingAESKey, officialAccount, replies, wecomApp, type Bot } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

const OA = { appId: 'wx-deadline', appSecret: 'oa-secret', token: 'oa-token', encodingAESKey: generateEncodingAESKey() };
const WECOM = { corpId: 'ww-deadline', secret: 'app-secret', agentId: 1000005, token: 'wecom-token', encodingAESKey: generateEncodingAESKey() };
let api: FakeWeChatApi;
let bot: Bot;
let base: string;
const logs = captureLogger();
/** Opens the gate the 'held' plugin waits at: a test opens it once it has the callback's answer. */
let openGate: () => void = () => undefined;

beforeAll(async () => {
  api = await startFakeWeChatApi({
    credentials: [
      { id: OA.appId, secret: OA.appSecret },
      { id: WECOM.corpId, secret: WECOM.secret },
    ],
  });
  bot = createBot({
    channels: [
      officialAccount({ ...OA, apiBaseUrl: api.url, replyWindowMs: 300 }),
      wecomApp({ ...WECOM, apiBaseUrl: api.url, replyWindowMs: 300 }),
      // A window longer than a test may take: a callback that waited for it would fail the test.
      officialAccount({ ...OA, name: 'patient', path: '/wx-patient', apiBaseUrl: api.url, replyWindowMs: 10 * 60_000 }),
    ],
    logger: logs.log,
  });
  bot.hears('held', async (ctx) => {
    // Runs until the test has the callback's answer: as an LLM often does, past the window.
    await new Promise<void>((resolve) => (openGate = resolve));
    await ctx.reply('慢慢来的回答');
  });
  bot.hears('slow', async (ctx) => {
    await sleep(700); // longer than the window: as an LLM often is
    await ctx.reply('慢慢来的回答');
  });
  bot.hears('several', async (ctx) => {
    await ctx.reply('first');
    await ctx.reply('second');
    await ctx.reply(replies.news({ title: 'third', url: 'https://example.com/3' }));
  });
  bot.hears('long', (ctx) => ctx.reply('长'.repeat(1500)));
  bot.hears('silent', async () => {
    await sleep(50);
  });
  ({ url: base } = await bot.start({ port: 0, host: '127.0.0.1' }));
});
afterAll(async () => {
  await bot.stop();
  await api.close();
});

const oaPeer = () => new WeChatPeer({ url: `${base}/wx`, kind: 'officialAccount', token: OA.token, encodingAESKey: OA.encodingAESKey, receiveId: OA.appId, mode: 'safe' });
const wecomPeer = () =>
  new WeChatPeer({ url: `${base}/wecom/callback`, kind: 'wecomApp', token: WECOM.token, encodingAESKey: WECOM.encodingAESKey, receiveId: WECOM.corpId, agentId: WECOM.agentId });

describe('replies past the reply window', () => {
  it('Official Account: a slow plugin makes WeChat get success in time, and the answer arrives through message/custom/send', async () => {
    // The plugin waits until the callback is answered: an answer that waited for it never comes.
    const response = await oaPeer().text('held', { from: 'o-slow-user' });
    expect(response.body).toBe('success');
    expect(api.officialAccount.sent.find((m) => m['touser'] === 'o-slow-user')).toBeUndefined();
    openGate();
    const sent = await api.waitFor(() => api.officialAccount.sent.find((m) => m['touser'] === 'o-slow-user'));
    expect(sent).toMatchObject({ msgtype: 'text', text: { content: '慢慢来的回答' } });
  });

  it('WeCom app: the late answer goes through message/send with the agent id', async () => {
    const response = await wecomPeer().text('slow', { from: 'zhangsan' });
    expect(response.body).toBe('success');
    const sent = await api.waitFor(() => api.wecom.sent.find((m) => m['touser'] === 'zhangsan'));
    expect(sent).toMatchObject({ agentid: WECOM.agentId, msgtype: 'text', text: { content: '慢慢来的回答' } });
  });

  it('several replies: the first passively, the rest actively, in order', async () => {
    const response = await oaPeer().text('several', { from: 'o-several' });
    expect(response.reply).toMatchObject({ MsgType: 'text', Content: 'first' });
    await api.waitFor(() => api.officialAccount.sent.filter((m) => m['touser'] === 'o-several').length === 2);
    const active = api.officialAccount.sent.filter((m) => m['touser'] === 'o-several');
    expect(active[0]).toMatchObject({ msgtype: 'text', text: { content: 'second' } });
    expect(active[1]).toMatchObject({ msgtype: 'news', news: { articles: [{ title: 'third', url: 'https://example.com/3' }] } });
  });

  it('a text split in several parts goes out whole through the API, in order', async () => {
    const response = await oaPeer().text('long', { from: 'o-long' });
    expect(response.body).toBe('success');
    await api.waitFor(() => api.officialAccount.sent.filter((m) => m['touser'] === 'o-long').length === 3);
    const parts = api.officialAccount.sent.filter((m) => m['touser'] === 'o-long').map((m) => (m['text'] as { content: string }).content);
    expect(parts.join('')).toBe('长'.repeat(1500));
  });

  it('a split text whose first part fails still sends the later parts, and the failure is logged', async () => {
    api.failNext('message/custom/send', { errcode: 45047, errmsg: 'out of response count limit' });
    expect((await oaPeer().text('long', { from: 'o-long-fail' })).body).toBe('success');
    await api.waitFor(() => api.officialAccount.sent.filter((m) => m['touser'] === 'o-long-fail').length === 2);
    const parts = api.officialAccount.sent.filter((m) => m['touser'] === 'o-long-fail').map((m) => (m['text'] as { content: string }).content);
    expect('长'.repeat(1500).endsWith(parts.join(''))).toBe(true);
    await api.waitFor(() => logs.lines.some((l) => l['msg'] === 'a part of a split reply could not be sent; sending the rest' && l['part'] === 1 && l['parts'] === 3));
  });

  it('a plugin that answers nothing lets the callback finish at once with success', async () => {
    // The patient channel's window outlasts the test: success came when the pipeline ended.
    const peer = new WeChatPeer({ url: `${base}/wx-patient`, kind: 'officialAccount', token: OA.token, encodingAESKey: OA.encodingAESKey, receiveId: OA.appId, mode: 'safe' });
    expect((await peer.text('silent')).body).toBe('success');
  });

  it('an API failure of a late reply is logged, never crashes', async () => {
    api.failNext('message/custom/send', { errcode: 45015, errmsg: 'response out of time limit or subscription is canceled' });
    expect((await oaPeer().text('slow', { from: 'o-gone' })).body).toBe('success');
    await api.waitFor(() => logs.text().includes('45015'));
    expect((await oaPeer().text('several')).reply).toMatchObject({ Content: 'first' });
  });

  it('GET /metrics reports passive and active replies, API calls by result, and callbacks by outcome', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const value = (pattern: RegExp) => Number(pattern.exec(text)?.[1] ?? 0);
    expect(value(/wxbot_reply_latency_seconds_count\{channel="officialAccount",mode="active"\} (\d+)/)).toBeGreaterThanOrEqual(3);
    expect(value(/wxbot_reply_latency_seconds_count\{channel="officialAccount",mode="passive"\} (\d+)/)).toBeGreaterThanOrEqual(2);
    expect(value(/wxbot_api_calls_total\{endpoint="cgi-bin\/message\/custom\/send",result="ok"\} (\d+)/)).toBeGreaterThanOrEqual(3);
    expect(value(/wxbot_api_calls_total\{endpoint="cgi-bin\/message\/custom\/send",result="45015"\} (\d+)/)).toBe(1);
    expect(value(/wxbot_callbacks_total\{channel="officialAccount",outcome="no-reply"\} (\d+)/)).toBeGreaterThanOrEqual(2);
    // The 45015 late reply, and the split reply whose first part failed (its ctx.reply rejects).
    expect(value(/wxbot_plugin_errors_total\{plugin="\(middleware\)"\} (\d+)/)).toBe(2);
  });
});
