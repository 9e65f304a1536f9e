import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { echo } from '@wxbot/plugin-echo';
import { WeChatPeer, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { MemoryStore, createBot, generateEncodingAESKey, wecomKf, type Bot } from '../src/index.ts';
import { holdLock } from '../src/store/lease.ts';
import { captureLogger } from './helpers.ts';

const CORP = 'ww-kf-locks';
const SECRET = 'kf-lock-secret';
const KEY = generateEncodingAESKey();
const dir = mkdtempSync(join(tmpdir(), 'wxbot-kflocks-'));
let api: FakeWeChatApi;
const bots: Bot[] = [];
beforeAll(async () => {
  api = await startFakeWeChatApi({ credentials: [{ id: CORP, secret: SECRET }] });
});
afterAll(() => api.close());
afterEach(async () => {
  await Promise.all(bots.splice(0).map((b) => b.stop()));
});

let n = 0;
async function startKfBot(store = new MemoryStore()) {
  const logs = captureLogger();
  const bot = createBot({
    channels: [
      wecomKf({
        corpId: CORP,
        secret: SECRET,
        token: 't',
        encodingAESKey: KEY,
        apiBaseUrl: api.url,
        cursorFile: join(dir, `c${++n}.json`),
        syncLockTtlMs: 600,
        syncRetryBaseMs: 50,
      }),
    ],
    plugins: [echo()],
    store,
    logger: logs.log,
  });
  bots.push(bot);
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  const peer = new WeChatPeer({ url: `${url}/wecom/kf`, kind: 'wecomKf', token: 't', encodingAESKey: KEY, receiveId: CORP });
  const notify = (openKfId: string) => peer.event('kf_msg_or_event', { Token: `tok-${Date.now()}`, OpenKfId: openKfId }, { from: 'sys' });
  return { notify, logs, store };
}
const sentTo = (openKfId: string) => api.kf.sent.filter((m) => m['open_kfid'] === openKfId);

describe('KF sync locks and retries', () => {
  it("a dead instance's sync lock does not drop the notification: it is taken over after its short TTL, with a log line", async () => {
    const store = new MemoryStore();
    const { notify, logs } = await startKfBot(store);
    // A "dead instance": it took the lock and will never renew nor release it.
    await store.lock(`kf:sync-lock:wecomKf:wk-dead`, 1500);
    api.kf.push('wk-dead', { text: { content: 'anyone there?' } });
    await notify('wk-dead');
    await api.waitFor(() => sentTo('wk-dead').length === 1, 5000);
    expect(logs.lines.some((l) => String(l['msg']).startsWith('KF sync lock taken over'))).toBe(true);
  });

  it('a live holder keeps its lock past the TTL by renewing it (heartbeat)', async () => {
    const store = new MemoryStore();
    const held = await holdLock(store, 'renewed', 600, captureLogger().log);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(await store.lock('renewed', 600)).toBeUndefined();
    expect(held?.lost).toBe(false);
    await held?.release();
    expect(await store.lock('renewed', 600)).toBeDefined();
  });

  it('a failed sync_msg is retried with backoff until it succeeds', async () => {
    const { notify, logs } = await startKfBot();
    api.kf.push('wk-retry', { text: { content: 'retry me' } });
    api.failNext('/kf/sync_msg', { errcode: 45009, errmsg: 'api freq out of limit' }, 2);
    await notify('wk-retry');
    await api.waitFor(() => sentTo('wk-retry').length === 1, 5000);
    const retries = logs.lines.filter((l) => l['msg'] === 'KF sync failed; retrying');
    expect(retries).toHaveLength(2);
    // WeChat's answer in one line, no stack: an operator reads a line per retry while it lasts.
    expect(retries[0]).toMatchObject({ openKfId: 'wk-retry', attempt: 1, error: expect.stringContaining('cgi-bin/kf/sync_msg: errcode 45009') });
    expect(JSON.stringify(retries)).not.toContain('stack');
  });
});
