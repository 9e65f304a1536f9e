import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AiBotPeer, WeChatPeer } from '@wxbot/testing';
import { DEFAULT_REPLAY_WINDOW_SECONDS } from '../src/protocol.ts';
import { MemoryStore, createBot, generateEncodingAESKey, officialAccount, wecomAiBot, wecomApp, type Bot } from '../src/index.ts';
import { dedupTtlFor } from '../src/delivery/dedup.ts';
import { captureLogger } from './helpers.ts';

const KEY = generateEncodingAESKey();
const stamp = (offsetSeconds: number) => String(Math.floor(Date.now() / 1000) + offsetSeconds);

/** A MemoryStore that remembers the TTL each dedup mark was written with. */
class TtlRecordingStore extends MemoryStore {
  readonly ttls = new Map<string, number | undefined>();
  override setIfAbsent(key: string, value: string, ttlMs?: number): Promise<boolean> {
    this.ttls.set(key, ttlMs);
    return super.setIfAbsent(key, value, ttlMs);
  }
}

let bot: Bot;
let base: string;
let runs = 0;
const store = new TtlRecordingStore();
const logs = captureLogger();

beforeAll(async () => {
  bot = createBot({
    channels: [
      wecomApp({ corpId: 'wwreplay', token: 't', encodingAESKey: KEY, path: '/wecom' }),
      officialAccount({ appId: 'wxreplay', token: 't', path: '/oa' }),
      officialAccount({ appId: 'wxdrift', token: 't', path: '/drift', name: 'drift', replayWindowSeconds: false }),
      wecomAiBot({ token: 't', encodingAESKey: KEY, path: '/aibot' }),
    ],
    store,
    logger: logs.log,
  });
  bot.on('text', async (ctx) => {
    runs += 1;
    await ctx.reply('ok');
  });
  base = (await bot.start({ port: 0, host: '127.0.0.1' })).url;
});
afterAll(() => bot.stop());

const wecom = () => new WeChatPeer({ url: `${base}/wecom`, kind: 'wecomApp', token: 't', encodingAESKey: KEY, receiveId: 'wwreplay' });
const aibot = () => new AiBotPeer({ url: `${base}/aibot`, token: 't', encodingAESKey: KEY });
const oa = (path = '/oa') => new WeChatPeer({ url: `${base}${path}`, kind: 'officialAccount', token: 't', receiveId: 'wx' });

describe('replay window', () => {
  it('refuses a validly signed callback 30 days old, and one from the future, with a log line', async () => {
    const before = runs;
    expect((await wecom().text('fresh')).status).toBe(200);
    const old = await wecom().post(wecom().message('text', { Content: 'x' }), { timestamp: stamp(-30 * 86400) });
    expect(old.status).toBe(401);
    expect(old.body).toMatch(/replay window/);
    const ahead = await wecom().post(wecom().message('text', { Content: 'x' }), { timestamp: stamp(DEFAULT_REPLAY_WINDOW_SECONDS + 60) });
    expect(ahead.status).toBe(401);
    expect(runs).toBe(before + 1); // only the fresh text ran
    expect(logs.lines.some((l) => l['msg'] === 'callback refused' && /replay window/.test(String(l['reason'])))).toBe(true);
  });

  it('accepts timestamps inside the window (WeChat retries, clock skew)', async () => {
    const inside = await wecom().post(wecom().message('text', { Content: 'x' }), { timestamp: stamp(-(DEFAULT_REPLAY_WINDOW_SECONDS - 30)) });
    expect(inside.status).toBe(200);
  });

  it('applies to plain mode too (its signature does not cover the body), and can be switched off', async () => {
    const stale = await oa().post(oa().message('text', { Content: 'x' }), { timestamp: stamp(-3600) });
    expect(stale.status).toBe(401);
    const drifting = await oa('/drift').post(oa('/drift').message('text', { Content: 'x' }), { timestamp: stamp(-3600) });
    expect(drifting.status).toBe(200);
  });

  it('refuses a timestamp that is not a number of seconds', async () => {
    const response = await wecom().post(wecom().message('text', { Content: 'x' }), { timestamp: '17e8' });
    expect(response.status).toBe(400);
  });

  it('applies to the URL verification GET as to a POST: stale, ahead and non-numeric timestamps are refused, fresh ones answered', async () => {
    logs.lines.length = 0;
    for (const peer of [wecom(), oa()]) {
      const fresh = await peer.verify();
      expect(fresh).toMatchObject({ status: 200, body: fresh.expected });
      const stale = await peer.verify({ timestamp: stamp(-30 * 86400) });
      expect(stale.status).toBe(401);
      expect(stale.body).toMatch(/replay window/);
      expect(stale.body).not.toBe(stale.expected);
      expect((await peer.verify({ timestamp: stamp(DEFAULT_REPLAY_WINDOW_SECONDS + 60) })).status).toBe(401);
      const notNumber = await peer.verify({ timestamp: '17e8' });
      expect(notNumber.status).toBe(400);
      expect(notNumber.body).toBe('timestamp is not a number of seconds');
    }
    // One log line per refusal, with the skew.
    const refused = logs.lines.filter((l) => l['msg'] === 'callback refused' && l['method'] === 'GET');
    expect(refused).toHaveLength(6);
    expect(refused.some((l) => /^timestamp outside the replay window \(2592\d{3} s old/.test(String(l['reason'])))).toBe(true);
    // A channel with the window off verifies an old timestamp (a server whose clock drifts).
    expect((await oa('/drift').verify({ timestamp: stamp(-3600) })).status).toBe(200);
  });

  it('applies to the WeCom AI bot, its verification GET and its callbacks', async () => {
    const fresh = await aibot().verify();
    expect(fresh).toMatchObject({ status: 200, body: fresh.expected });
    expect((await aibot().verify({ timestamp: stamp(-3600) })).status).toBe(401);
    expect((await aibot().verify({ timestamp: 'soon' })).status).toBe(400);
    const before = runs;
    const payload = { msgid: 'aibot-stale', aibotid: 'b', chattype: 'single', from: { userid: 'u' }, msgtype: 'text', text: { content: 'x' } };
    expect((await aibot().post(payload, { timestamp: stamp(-3600) })).status).toBe(401);
    expect(runs).toBe(before);
  });

  it('keeps dedup marks at least as long as every window, both sides of now (24 h with a window off)', async () => {
    expect(dedupTtlFor([{ replayWindowSeconds: 315 }])).toBeGreaterThanOrEqual(2 * 315_000);
    expect(dedupTtlFor([{ replayWindowSeconds: 60 }])).toBe(5 * 60_000);
    expect(dedupTtlFor([{ replayWindowSeconds: 315 }, { replayWindowSeconds: false }])).toBe(24 * 3600_000);
    await wecom().text('mark me');
    const ttl = [...store.ttls].find(([key]) => key.startsWith('dedup:{wecomApp:'))?.[1];
    // This bot has a channel with the window off: its marks live 24 h.
    expect(ttl).toBe(24 * 3600_000);
  });
});
