import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { echo } from '@wxbot/plugin-echo';
import { WeChatPeer, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { MemoryStore, createBot, definePlugin, generateEncodingAESKey, wecomApp, wecomKf, type Bot, type HandoffEvent, type Plugin, type Store } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

const CORP = 'ww-kf-corp';
const KF_SECRET = 'kf-secret';
const APP_SECRET = 'app-secret';
const TOKEN = 'kf-callback-token';
const KEY = generateEncodingAESKey();
const dir = mkdtempSync(join(tmpdir(), 'wxbot-kf-'));
let api: FakeWeChatApi;
const bots: Bot[] = [];

beforeAll(async () => {
  api = await startFakeWeChatApi({
    credentials: [
      { id: CORP, secret: KF_SECRET },
      { id: CORP, secret: APP_SECRET },
    ],
  });
});
afterAll(() => api.close());
afterEach(async () => {
  await Promise.all(bots.splice(0).map((b) => b.stop()));
});

let kfCount = 0;
/** A bot with a KF channel (echo + hand-off on 人工), and a peer that notifies it. */
async function startKfBot(options: { cursorFile?: string; syncLimit?: number; store?: Store; plugins?: Plugin[] } = {}) {
  const logs = captureLogger();
  const bot = createBot({
    channels: [
      wecomKf({
        corpId: CORP,
        secret: KF_SECRET,
        token: TOKEN,
        encodingAESKey: KEY,
        apiBaseUrl: api.url,
        cursorFile: options.cursorFile ?? join(dir, `cursor-${++kfCount}.json`),
        syncLimit: options.syncLimit,
      }),
    ],
    plugins: [...(options.plugins ?? []), echo()],
    store: options.store,
    logger: logs.log,
  });
  bot.hears('人工', (ctx) => ctx.handoff({ reason: 'asked for a human' }));
  bot.event('enter_session', (ctx) => ctx.reply('您好，欢迎咨询！'));
  bot.hears('long', (ctx) => ctx.reply('长'.repeat(1500)));
  bots.push(bot);
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  const peer = new WeChatPeer({ url: `${url}/wecom/kf`, kind: 'wecomKf', token: TOKEN, encodingAESKey: KEY, receiveId: CORP });
  const notify = (openKfId: string) => peer.event('kf_msg_or_event', { Token: `sync-token-${Date.now()}`, OpenKfId: openKfId }, { from: 'sys' });
  return { bot, peer, notify, logs, url };
}

const sentTo = (openKfId: string) => api.kf.sent.filter((m) => m['open_kfid'] === openKfId);
const textsTo = (openKfId: string) => sentTo(openKfId).map((m) => (m['text'] as { content: string } | undefined)?.content);

describe('WeChat Customer Service', () => {
  it('verifies the callback URL', async () => {
    const { peer } = await startKfBot();
    const result = await peer.verify();
    expect(result).toMatchObject({ status: 200, body: result.expected });
  });

  it("acknowledges at once, syncs, and the customer's text is answered through kf/send_msg", async () => {
    const { notify } = await startKfBot();
    api.kf.push('wk-basic', { text: { content: '你好，客服' } });
    const response = await notify('wk-basic');
    expect(response.body).toBe('success');
    await api.waitFor(() => sentTo('wk-basic').length === 1);
    expect(sentTo('wk-basic')[0]).toMatchObject({ touser: 'wm-customer-1', open_kfid: 'wk-basic', msgtype: 'text', text: { content: '你好，客服' } });
    const sync = api.calls.find((c) => c.path === '/cgi-bin/kf/sync_msg');
    expect(sync?.body).toMatchObject({ open_kfid: 'wk-basic', token: expect.stringMatching(/^sync-token-/) });
  });

  it('pages across several sync_msg pages, answering every message once and in order', async () => {
    const { notify } = await startKfBot({ syncLimit: 10 });
    const syncsBefore = api.kf.syncCalls;
    for (let i = 0; i < 25; i++) api.kf.push('wk-paging', { text: { content: `m${i}` } });
    await notify('wk-paging');
    await api.waitFor(() => sentTo('wk-paging').length === 25);
    expect(textsTo('wk-paging')).toEqual(Array.from({ length: 25 }, (_, i) => `m${i}`));
    expect(api.kf.syncCalls - syncsBefore).toBe(3);
  });

  it('a restart neither loses nor repeats messages (cursor kept in a file)', async () => {
    const cursorFile = join(dir, 'restart.json');
    const first = await startKfBot({ cursorFile, syncLimit: 2 });
    for (let i = 0; i < 5; i++) api.kf.push('wk-restart', { text: { content: `before ${i}` } });
    await first.notify('wk-restart');
    await api.waitFor(() => sentTo('wk-restart').length === 5);
    await first.bot.stop();
    bots.splice(bots.indexOf(first.bot), 1);

    for (let i = 0; i < 3; i++) api.kf.push('wk-restart', { text: { content: `after ${i}` } });
    const second = await startKfBot({ cursorFile, syncLimit: 2 }); // a fresh process: new memory store, same cursor file
    await second.notify('wk-restart');
    await api.waitFor(() => sentTo('wk-restart').length === 8);
    await new Promise((r) => setTimeout(r, 100));
    expect(textsTo('wk-restart')).toEqual([...[0, 1, 2, 3, 4].map((i) => `before ${i}`), ...[0, 1, 2].map((i) => `after ${i}`)]);
  });

  it('a cursor WeChat rejects (50100, expired) is dropped once, counted, and the sync goes on from now', async () => {
    const cursorFile = join(dir, 'expired.json');
    const first = await startKfBot({ cursorFile });
    api.kf.push('wk-expired', { text: { content: 'first' } });
    await first.notify('wk-expired');
    await api.waitFor(() => sentTo('wk-expired').length === 1);
    await first.bot.stop();
    bots.splice(bots.indexOf(first.bot), 1);

    // WeChat no longer takes the saved cursor; meanwhile an old message (an hour ago) and a new one.
    api.kf.expireCursors();
    api.kf.push('wk-expired', { text: { content: 'an hour ago' }, send_time: Math.floor(Date.now() / 1000) - 3600 });
    api.kf.push('wk-expired', { text: { content: 'new' } });
    const repeats = api.kf.repeatedMsgIds;
    const second = await startKfBot({ cursorFile });
    await second.notify('wk-expired');
    await api.waitFor(() => sentTo('wk-expired').length === 2, 5000);
    // The new cursor works: one more message is one more sync, no rejection.
    api.kf.push('wk-expired', { text: { content: 'later' } });
    await second.notify('wk-expired');
    await api.waitFor(() => sentTo('wk-expired').length === 3, 5000);
    expect(textsTo('wk-expired')).toEqual(['first', 'new', 'later']);
    // 'first' (within the minute before the notification) went again with its msgid: absorbed.
    expect(api.kf.repeatedMsgIds - repeats).toBeLessThanOrEqual(1);
    const warnings = second.logs.lines.filter((l) => typeof l['msg'] === 'string' && (l['msg'] as string).startsWith('KF sync cursor rejected by WeChat'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, errcode: 50100, openKfId: 'wk-expired' });
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    expect(metrics).toContain('wxbot_kf_cursor_dropped_total{channel="wecomKf"} 1');
    // Rejected once, not retried: one sync_msg answered 50100 in this process.
    expect(metrics).toMatch(/wxbot_api_calls_total\{endpoint="[^"]*sync_msg",result="50100"\} 1\n/);
  });

  it('a burst of 50 notifications causes no parallel syncs of one open_kfid', async () => {
    const { notify } = await startKfBot();
    api.kf.syncDelayMs = 30;
    try {
      for (let i = 0; i < 20; i++) api.kf.push('wk-burst', { text: { content: `b${i}` } });
      await Promise.all(Array.from({ length: 50 }, () => notify('wk-burst')));
      await api.waitFor(() => sentTo('wk-burst').length === 20);
      await new Promise((r) => setTimeout(r, 200));
      expect(api.kf.maxConcurrentSyncs('wk-burst')).toBe(1);
      expect(sentTo('wk-burst')).toHaveLength(20);
    } finally {
      api.kf.syncDelayMs = 0;
    }
  });

  it('greets on enter_session through send_msg_on_event with the welcome code', async () => {
    const { notify } = await startKfBot();
    const code = api.kf.pushEnterSession('wk-welcome', 'wm-new-customer');
    await notify('wk-welcome');
    await api.waitFor(() => api.kf.sentOnEvent.some((m) => m['code'] === code));
    expect(api.kf.sentOnEvent.find((m) => m['code'] === code)).toMatchObject({ msgtype: 'text', text: { content: '您好，欢迎咨询！' } });
  });

  it('ctx.handoff() moves the session to the waiting pool with service_state/trans', async () => {
    const { notify } = await startKfBot();
    api.kf.setState('wk-handoff', 'wm-customer-1', 1);
    api.kf.push('wk-handoff', { text: { content: '人工' } });
    await notify('wk-handoff');
    await api.waitFor(() => api.kf.transitions.some((t) => t.open_kfid === 'wk-handoff'));
    expect(api.kf.transitions.find((t) => t.open_kfid === 'wk-handoff')).toMatchObject({ from: 1, to: 2, external_userid: 'wm-customer-1' });
  });

  it('a reply refused because a human holds the session (95018) is logged as such and not retried', async () => {
    const { notify, logs } = await startKfBot();
    api.kf.setState('wk-human', 'wm-customer-1', 3, 'servicer-zhang');
    api.kf.push('wk-human', { text: { content: 'are you there' } });
    const sendsBefore = api.calls.filter((c) => c.path === '/cgi-bin/kf/send_msg').length;
    await notify('wk-human');
    await api.waitFor(() => logs.text().includes('a human servicer holds this session'));
    await new Promise((r) => setTimeout(r, 100));
    expect(api.calls.filter((c) => c.path === '/cgi-bin/kf/send_msg').length - sendsBefore).toBe(1);
    expect(sentTo('wk-human')).toHaveLength(0);
  });

  it('bot.sendTo reaches a customer unprompted, and surfaces a 95018 refusal to its caller', async () => {
    const { bot } = await startKfBot();
    api.kf.setState('wk-sendto', 'wm-sendto', 1);
    await bot.sendTo('wecomKf', { user: 'wm-sendto', openKfId: 'wk-sendto' }, '您的订单已发货');
    expect(textsTo('wk-sendto')).toEqual(['您的订单已发货']);
    api.kf.setState('wk-sendto', 'wm-sendto', 3, 'servicer-li');
    const error = await bot.sendTo('wecomKf', { user: 'wm-sendto', openKfId: 'wk-sendto' }, 'again').catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'WeChatApiError', errcode: 95018 });
  });

  it('with hand-offs taken in the app, ctx.handoff() leaves the KF session with the bot', async () => {
    const handled: HandoffEvent[] = [];
    const desk = definePlugin({ name: 'desk', setup: (scope) => scope.handleHandoffs((e) => void handled.push(e)) });
    const { bot, notify } = await startKfBot({ plugins: [desk()] });
    const events: boolean[] = [];
    bot.events.on('handoff', (e) => void events.push(e.handledByPlatform));
    api.kf.push('wk-inapp', { external_userid: 'wm-inapp', text: { content: '人工' } });
    await notify('wk-inapp');
    await api.waitFor(() => events.length === 1);
    expect(events).toEqual([false]);
    expect(handled.map((e) => e.options.reason)).toEqual(['asked for a human']);
    expect(api.kf.transitions.filter((t) => t.open_kfid === 'wk-inapp')).toEqual([]);
  });

  it('ignores messages a human servicer wrote (origin 5), and answers each msgid once', async () => {
    const { notify } = await startKfBot();
    api.kf.push('wk-origin', { origin: 5, servicer_userid: 'zhang', text: { content: 'from a human' } });
    api.kf.push('wk-origin', { text: { content: 'from the customer' } });
    await notify('wk-origin');
    await notify('wk-origin');
    await api.waitFor(() => sentTo('wk-origin').length >= 1);
    await new Promise((r) => setTimeout(r, 150));
    expect(textsTo('wk-origin')).toEqual(['from the customer']);
  });

  it('splits a text longer than 2048 bytes into ordered pieces', async () => {
    const { notify } = await startKfBot();
    api.kf.push('wk-long', { text: { content: 'long' } });
    await notify('wk-long');
    await api.waitFor(() => sentTo('wk-long').length === 3);
    const texts = textsTo('wk-long') as string[];
    expect(texts.join('')).toBe('长'.repeat(1500));
    expect(texts.every((t) => Buffer.byteLength(t) <= 2048)).toBe(true);
  });

  it('a kf_msg_or_event on a WeCom app channel is synced with the app secret and answered through KF', async () => {
    const logs = captureLogger();
    const bot = createBot({
      channels: [wecomApp({ corpId: CORP, secret: APP_SECRET, agentId: 1000002, token: TOKEN, encodingAESKey: KEY, apiBaseUrl: api.url, kfCursorStore: new MemoryStore() })],
      plugins: [echo()],
      logger: logs.log,
    });
    bots.push(bot);
    const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
    const peer = new WeChatPeer({ url: `${url}/wecom/callback`, kind: 'wecomApp', token: TOKEN, encodingAESKey: KEY, receiveId: CORP, agentId: 1000002 });
    api.kf.push('wk-via-app', { text: { content: 'via the app' } });
    const before = api.tokenCalls(CORP, APP_SECRET);
    expect((await peer.event('kf_msg_or_event', { Token: 't', OpenKfId: 'wk-via-app' })).body).toBe('success');
    await api.waitFor(() => sentTo('wk-via-app').length === 1);
    expect(textsTo('wk-via-app')).toEqual(['via the app']);
    expect(api.tokenCalls(CORP, APP_SECRET) - before).toBe(1);
  });
});
