import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WeChatPeer, newMsgId } from '@wxbot/testing';
import { echo } from '@wxbot/plugin-echo';
import { createBot, generateEncodingAESKey, officialAccount, replies, wecomApp, type Bot } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

const OA = { appId: 'wx-test-app', token: 'oa-token', encodingAESKey: generateEncodingAESKey() };
const OA2 = { appId: 'wx-second', token: 'oa-plain-token' };
const WECOM = { corpId: 'ww-test-corp', token: 'wecom-token', encodingAESKey: generateEncodingAESKey(), agentId: 1000002 };

let bot: Bot;
let base: string;
const logs = captureLogger();
let handled = 0;

beforeAll(async () => {
  bot = createBot({
    channels: [
      officialAccount({ ...OA, path: '/wx', allowPlain: true }),
      officialAccount({ ...OA, name: 'strict', path: '/wx-strict' }),
      officialAccount({ ...OA2, name: 'second', path: '/wx2' }),
      wecomApp({ ...WECOM, path: '/wecom/callback' }),
    ],
    plugins: [echo()],
    logger: logs.log,
    bodyLimitBytes: 64 * 1024,
  });
  bot.use(async (_ctx, next) => {
    handled += 1;
    await next();
  });
  bot.command('news', (ctx) => ctx.reply(replies.news({ title: '标题', description: 'd', url: 'https://example.com', picUrl: 'https://example.com/p.png' })));
  bot.command('music', (ctx) => ctx.reply({ type: 'music', title: 't', musicUrl: 'http://m', thumbMediaId: 'thumb' }));
  bot.command('video', (ctx) => ctx.reply(replies.video('vid', 'title', 'desc')));
  bot.command('news3', (ctx) => ctx.reply(replies.news({ title: 'a' }, { title: 'b' }, { title: 'c' })));
  bot.command('boom', () => {
    throw new Error('plugin exploded');
  });
  bot.event('subscribe', (ctx) => ctx.reply('欢迎关注'));
  bot.event('template_card_event', (ctx) => ctx.reply(`card ${ctx.message.cardType} ${ctx.message.eventKey} ${ctx.message.taskId} ${ctx.message.responseCode}`));
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  base = url;
});
afterAll(() => bot.stop());

const oaPeer = (mode: 'plain' | 'safe' | 'compat') =>
  new WeChatPeer({ url: `${base}/wx`, kind: 'officialAccount', token: OA.token, encodingAESKey: OA.encodingAESKey, receiveId: OA.appId, accountId: 'gh_account', mode });
const wecomPeer = () =>
  new WeChatPeer({ url: `${base}/wecom/callback`, kind: 'wecomApp', token: WECOM.token, encodingAESKey: WECOM.encodingAESKey, receiveId: WECOM.corpId, agentId: WECOM.agentId });

describe('Official Account', () => {
  it('answers the GET verification with echostr', async () => {
    const result = await oaPeer('plain').verify();
    expect(result.status).toBe(200);
    expect(result.body).toBe(result.expected);
  });

  it('refuses a GET with a wrong signature', async () => {
    const result = await oaPeer('plain').verify({ signature: 'f'.repeat(40) });
    expect(result.status).toBe(401);
    expect(result.body).toMatch(/signature/);
  });

  it.each(['plain', 'safe', 'compat'] as const)('echoes text in %s mode', async (mode) => {
    const response = await oaPeer(mode).text('你好 <b>&amp;</b> ]]> end');
    expect(response.status).toBe(200);
    expect(response.reply).toMatchObject({ MsgType: 'text', Content: '你好 <b>&amp;</b> ]]> end', ToUserName: 'user-1', FromUserName: 'gh_account' });
    if (mode !== 'plain') expect(response.body).toContain('<Encrypt>');
  });

  it('echoes image and voice, answers news, music and video', async () => {
    const peer = oaPeer('safe');
    expect((await peer.post(peer.message('image', { PicUrl: 'http://p', MediaId: 'img-1' }))).reply).toMatchObject({ MsgType: 'image', Image: { MediaId: 'img-1' } });
    expect((await peer.post(peer.message('voice', { MediaId: 'v-1', Format: 'amr', Recognition: '你好' }))).reply).toMatchObject({ MsgType: 'voice', Voice: { MediaId: 'v-1' } });
    expect((await peer.text('/news')).reply).toMatchObject({ MsgType: 'news', ArticleCount: '1', Articles: { item: { Title: '标题', Url: 'https://example.com' } } });
    expect((await peer.text('/music')).reply).toMatchObject({ MsgType: 'music', Music: { ThumbMediaId: 'thumb', MusicUrl: 'http://m' } });
    expect((await peer.text('/video')).reply).toMatchObject({ MsgType: 'video', Video: { MediaId: 'vid', Title: 'title' } });
  });

  it('a passive news answer to a message carries one article, as WeChat shows', async () => {
    const response = await oaPeer('plain').text('/news3');
    expect(response.reply).toMatchObject({ MsgType: 'news', ArticleCount: '1', Articles: { item: { Title: 'a' } } });
  });

  it('answers events', async () => {
    const response = await oaPeer('plain').event('subscribe', { EventKey: '' });
    expect(response.reply).toMatchObject({ Content: '欢迎关注' });
  });

  it('answers success for a message no plugin answers', async () => {
    const response = await oaPeer('plain').post(oaPeer('plain').message('location', { Location_X: '23.1', Location_Y: '113.3', Scale: '20', Label: 'x' }));
    expect(response).toMatchObject({ status: 200, body: 'success' });
  });

  it('trusts only the ciphertext in compat mode', async () => {
    const peer = oaPeer('compat');
    const fields = peer.message('text', { Content: 'real' });
    const { query, body } = peer.buildCallback(fields);
    const forged = body.replace('<Content><![CDATA[real]]></Content>', '<Content><![CDATA[forged]]></Content>');
    const res = await fetch(`${base}/wx?${query}`, { method: 'POST', body: forged, headers: { 'content-type': 'text/xml' } });
    expect(peer.openReply(await res.text())).toMatchObject({ Content: 'real' });
  });

  it('with an EncodingAESKey (and no allowPlain), refuses plaintext callbacks: their signature does not cover the body', async () => {
    const forged = new WeChatPeer({ url: `${base}/wx-strict`, kind: 'officialAccount', token: OA.token, receiveId: OA.appId, mode: 'plain' });
    const response = await forged.text('pretend to be someone');
    expect(response.status).toBe(401);
    expect(response.body).toMatch(/plaintext callback refused/);
    const safe = new WeChatPeer({ url: `${base}/wx-strict`, kind: 'officialAccount', token: OA.token, encodingAESKey: OA.encodingAESKey, receiveId: OA.appId, mode: 'safe' });
    expect((await safe.text('real')).reply).toMatchObject({ Content: 'real' });
  });

  it('an encrypted callback to an account without an EncodingAESKey is a 400', async () => {
    const peer = new WeChatPeer({ url: `${base}/wx2`, kind: 'officialAccount', token: OA2.token, encodingAESKey: generateEncodingAESKey(), receiveId: OA2.appId, mode: 'safe' });
    const response = await peer.text('hello');
    expect(response.status).toBe(400);
    expect(response.body).toMatch(/no EncodingAESKey is configured/);
  });

  it('a repeated query parameter is a 400, not a crash', async () => {
    const res = await fetch(`${base}/wx?signature=a&signature=b&timestamp=1&nonce=2`, { method: 'POST', body: '<xml></xml>', headers: { 'content-type': 'text/xml' } });
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/repeated query parameter signature/);
  });

  it('hosts a second account on its own path with its own token', async () => {
    const peer = new WeChatPeer({ url: `${base}/wx2`, kind: 'officialAccount', token: OA2.token, receiveId: OA2.appId, mode: 'plain' });
    expect((await peer.text('second')).reply).toMatchObject({ Content: 'second' });
    const wrong = new WeChatPeer({ url: `${base}/wx2`, kind: 'officialAccount', token: OA.token, receiveId: OA2.appId, mode: 'plain' });
    expect((await wrong.text('x')).status).toBe(401);
  });
});

describe('WeCom app', () => {
  it('verifies the URL by decrypting echostr', async () => {
    const result = await wecomPeer().verify();
    expect(result).toMatchObject({ status: 200, body: result.expected });
  });

  it('restores a + that arrived as a space in echostr', async () => {
    // Find an echostr containing '+', and send it unescaped so the query decoder makes it a space.
    const peer = wecomPeer();
    const { encrypt, getSignature } = await import('@wecom/crypto');
    let echostr = '';
    let expected = '';
    for (let i = 0; !echostr.includes('+'); i++) {
      expected = String(1e12 + i);
      echostr = encrypt(WECOM.encodingAESKey, expected, WECOM.corpId);
    }
    const now = String(Math.floor(Date.now() / 1000));
    const signature = getSignature(WECOM.token, now, '2', echostr);
    const res = await fetch(`${base}/wecom/callback?msg_signature=${signature}&timestamp=${now}&nonce=2&echostr=${echostr.replaceAll('=', '%3D').replaceAll('/', '%2F')}`);
    expect(await res.text()).toBe(expected);
    expect(peer.options.kind).toBe('wecomApp');
  });

  it('types template_card_event callbacks', async () => {
    const reply = (await wecomPeer().event('template_card_event', { EventKey: 'btn-yes', TaskId: 'task-7', CardType: 'button_interaction', ResponseCode: 'rc-1' })).reply;
    expect(reply).toMatchObject({ Content: 'card button_interaction btn-yes task-7 rc-1' });
  });

  it('refuses verification signed with another token', async () => {
    const result = await new WeChatPeer({ ...wecomPeer().options, token: 'other' }).verify();
    expect(result.status).toBe(401);
  });

  it('echoes text, image and voice with encrypted passive replies', async () => {
    const peer = wecomPeer();
    expect((await peer.text('企业微信')).reply).toMatchObject({ MsgType: 'text', Content: '企业微信', ToUserName: 'user-1', FromUserName: WECOM.corpId });
    expect((await peer.post(peer.message('image', { PicUrl: 'http://p', MediaId: 'm-img' }))).reply).toMatchObject({ Image: { MediaId: 'm-img' } });
    expect((await peer.post(peer.message('voice', { MediaId: 'm-voice', Format: 'amr' }))).reply).toMatchObject({ Voice: { MediaId: 'm-voice' } });
  });

  it('a reply WeCom cannot send passively, with no secret for the API: WeChat gets success and the failure is logged', async () => {
    const response = await wecomPeer().text('/music');
    expect(response.body).toBe('success');
    await new Promise((r) => setTimeout(r, 50));
    expect(logs.text()).toMatch(/cannot deliver this music reply: a music reply cannot go passively on this channel, and the channel has no active API \(configure its secret\)/);
  });
});

describe('bad input', () => {
  const post = (path: string, query: string, body: string, type = 'text/xml') => fetch(`${base}${path}?${query}`, { method: 'POST', body, headers: { 'content-type': type } });

  it('wrong or missing signature: 401 and no plugin runs', async () => {
    const before = handled;
    const peer = oaPeer('plain');
    expect((await peer.post(peer.message('text', { Content: 'x' }), { signature: '0'.repeat(40) })).status).toBe(401);
    const { body } = peer.buildCallback(peer.message('text', { Content: 'x' }));
    expect((await post('/wx', 'timestamp=1&nonce=2', body)).status).toBe(401);
    const wp = wecomPeer();
    expect((await wp.post(wp.message('text', { Content: 'x' }), { signature: 'a'.repeat(40) })).status).toBe(401);
    expect(handled).toBe(before);
  });

  it('receiveid of another corp: 401', async () => {
    const wp = wecomPeer();
    const res = await wp.post(wp.message('text', { Content: 'x' }), { receiveId: 'ww-attacker' });
    expect(res.status).toBe(401);
    expect(res.body).toMatch(/receiveid/);
  });

  it('broken XML, bad base64, bad padding: 400', async () => {
    const peer = oaPeer('plain');
    const { query } = peer.buildCallback({});
    expect((await post('/wx', query.toString(), '<xml><a>unclosed</xml>')).status).toBe(400);
    expect((await post('/wx', query.toString(), 'not xml at all')).status).toBe(400);
    const wp = wecomPeer();
    const bad = wp.buildCallback(wp.message('text', { Content: 'x' }), { encrypt: '@@@not-base64@@@' });
    expect((await post('/wecom/callback', bad.query.toString(), bad.body)).status).toBe(400);
    const blocks = wp.buildCallback(wp.message('text', { Content: 'x' }), { encrypt: Buffer.alloc(64, 7).toString('base64') });
    const res = await post('/wecom/callback', blocks.query.toString(), blocks.body);
    expect([400, 401]).toContain(res.status);
  });

  it('DOCTYPE or ENTITY: 400, nothing expanded', async () => {
    const peer = oaPeer('plain');
    const { query } = peer.buildCallback({});
    const xxe = '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY x SYSTEM "file:///etc/passwd">]><xml><Content>&x;</Content></xml>';
    const res = await post('/wx', query.toString(), xxe);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/DOCTYPE/);
  });

  it('oversized body: 413', async () => {
    const peer = oaPeer('plain');
    const { query } = peer.buildCallback({});
    const res = await post('/wx', query.toString(), `<xml><Content>${'x'.repeat(70 * 1024)}</Content></xml>`);
    expect(res.status).toBe(413);
  });

  it('empty body: 400; unknown path: 404', async () => {
    const { query } = oaPeer('plain').buildCallback({});
    expect((await post('/wx', query.toString(), '')).status).toBe(400);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });

  it('a plugin that throws: logged with its name, WeChat gets success, the server lives on', async () => {
    const response = await oaPeer('plain').text('/boom');
    expect(response).toMatchObject({ status: 200, body: 'success' });
    expect(logs.lines.some((l) => l['msg'] === 'middleware failed' && JSON.stringify(l['err']).includes('plugin exploded'))).toBe(true);
    expect((await oaPeer('plain').text('still alive')).reply).toMatchObject({ Content: 'still alive' });
  });

  it('healthz answers 200', async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });

  it('refusals are counted in /metrics by channel', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(Number(/wxbot_callbacks_total\{channel="officialAccount",outcome="refused"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(5);
    expect(Number(/wxbot_callbacks_total\{channel="wecomApp",outcome="refused"\} (\d+)/.exec(text)?.[1])).toBeGreaterThanOrEqual(3);
  });
});

describe('retries', () => {
  it('a retried callback (same MsgId) never runs the plugins twice and gets the first reply', async () => {
    const peer = oaPeer('safe');
    const msgId = newMsgId();
    const before = handled;
    const first = await peer.text('once', { msgId });
    const retry = await peer.text('once', { msgId });
    expect(handled - before).toBe(1);
    expect(retry.reply).toMatchObject({ Content: 'once' });
    expect(first.reply).toMatchObject({ Content: 'once' });
  });

  it('a retried event (same sender, CreateTime, event) runs once', async () => {
    const peer = oaPeer('plain');
    const before = handled;
    const createTime = 1_700_000_123;
    const a = await peer.event('subscribe', {}, { from: 'retry-user', createTime });
    const b = await peer.event('subscribe', {}, { from: 'retry-user', createTime });
    expect(handled - before).toBe(1);
    expect(b.body).toBe(a.body);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/wxbot_callbacks_total\{channel="officialAccount",outcome="retry"\} [1-9]/);
  });

  it('secrets never reach the log', () => {
    const text = logs.text();
    for (const secret of [OA.token, OA.encodingAESKey, WECOM.token, WECOM.encodingAESKey]) expect(text).not.toContain(secret);
  });
});

describe('a dedup store that fails', () => {
  it('neither hangs retries nor refuses messages', async () => {
    const { MemoryStore } = await import('../src/index.ts');
    class FlakyStore extends MemoryStore {
      failSets = 0;
      failClaims = 0;
      override async set(key: string, value: string, ttl?: number) {
        if (key.startsWith('dedup:') && this.failSets-- > 0) throw new Error('store down (set)');
        return super.set(key, value, ttl);
      }
      override async setIfAbsent(key: string, value: string, ttl?: number) {
        if (key.startsWith('dedup:') && this.failClaims-- > 0) throw new Error('store down (setIfAbsent)');
        return super.setIfAbsent(key, value, ttl);
      }
    }
    const store = new FlakyStore();
    const flaky = createBot({ channels: [officialAccount({ appId: 'wx-flaky', token: 'flaky' })], plugins: [echo()], store, logger: captureLogger().log });
    const { url } = await flaky.start({ port: 0, host: '127.0.0.1' });
    try {
      const peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: 'flaky', receiveId: 'wx-flaky', mode: 'plain' });
      store.failSets = 1;
      const msgId = newMsgId();
      expect((await peer.text('one', { msgId })).reply).toMatchObject({ Content: 'one' });
      expect((await peer.text('one', { msgId })).status).toBe(200); // the retry answers, it does not hang
      store.failClaims = 1;
      expect((await peer.text('two')).reply).toMatchObject({ Content: 'two' }); // processed without dedup
    } finally {
      await flaky.stop();
    }
  });
});
