import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { MemoryStore, WeChatApiError, type Store } from '../src/index.ts';
import { WeChatApiClient } from '../src/protocol.ts';
import { captureLogger } from './helpers.ts';

const CORP = 'ww-api-corp';
const SECRET = 'api-secret-value';
let api: FakeWeChatApi;

beforeAll(async () => {
  api = await startFakeWeChatApi({
    credentials: [CORP, 'wx-oa', 'wx-stable', 'wx-forced', 'wx-spent'].map((id) => ({ id, secret: id === CORP ? SECRET : 'oa-secret' })),
    stableTokenForceLimit: { minIntervalMs: 0 },
  });
});
afterAll(() => api.close());

function client(store: Store = new MemoryStore(), extra: { timeoutMs?: number; retries?: number } = {}) {
  const logs = captureLogger();
  const c = new WeChatApiClient({ credential: { kind: 'wecom', corpId: CORP, secret: SECRET }, baseUrl: api.url, store, log: logs.log, ...extra });
  return { c, logs };
}

describe('WeChatApiClient', () => {
  let before: number;
  beforeEach(() => {
    before = api.tokenCalls(CORP);
  });

  it('100 concurrent calls on a cold cache cause exactly one gettoken', async () => {
    const { c } = client();
    const results = await Promise.all(Array.from({ length: 100 }, () => c.post('cgi-bin/kf/service_state/get', { open_kfid: 'wk1', external_userid: 'u1' })));
    expect(results.every((r) => r.errcode === 0)).toBe(true);
    expect(api.tokenCalls(CORP) - before).toBe(1);
  });

  it('an expired token (42001) is dropped, refreshed once, and the call succeeds', async () => {
    const { c, logs } = client();
    await c.post('cgi-bin/kf/service_state/get', { open_kfid: 'wk1', external_userid: 'u1' });
    api.expireTokens();
    const result = await c.post('cgi-bin/kf/service_state/get', { open_kfid: 'wk1', external_userid: 'u1' });
    expect(result.errcode).toBe(0);
    expect(api.tokenCalls(CORP) - before).toBe(2);
    expect(logs.text()).toMatch(/"errcode":42001/);
  });

  it('a revoked token (40014) is refreshed once, never in a loop', async () => {
    const { c } = client();
    await c.accessToken();
    // Two faults: the first call and its one retry. A third call would succeed, so a loop would show.
    api.failNext('kf/service_state/get', { errcode: 40014, errmsg: 'invalid access_token' }, 2);
    const error = await c.post('cgi-bin/kf/service_state/get', { open_kfid: 'wk1', external_userid: 'u1' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WeChatApiError);
    expect((error as WeChatApiError).errcode).toBe(40014);
    expect(api.tokenCalls(CORP) - before).toBe(2); // the cold fetch + exactly one refresh
  });

  it('retries 5xx and dropped connections with backoff, then gives up', async () => {
    const { c } = client(new MemoryStore(), { retries: 2 });
    api.failNext('kf/service_state/get', { status: 502 }, 2);
    expect((await c.post('cgi-bin/kf/service_state/get', { open_kfid: 'wk1', external_userid: 'u1' })).errcode).toBe(0);
    api.failNext('kf/service_state/get', { drop: true }, 1);
    expect((await c.post('cgi-bin/kf/service_state/get', { open_kfid: 'wk1', external_userid: 'u1' })).errcode).toBe(0);
    api.failNext('kf/service_state/get', { status: 500 }, 3);
    const error = (await c.post('cgi-bin/kf/service_state/get', { open_kfid: 'wk1', external_userid: 'u1' }).catch((e: unknown) => e)) as WeChatApiError;
    expect(error).toBeInstanceOf(WeChatApiError);
    expect(error.message).toMatch(/HTTP 500/);
  });

  it('a slow answer times out and is retried', async () => {
    const { c } = client(new MemoryStore(), { timeoutMs: 200, retries: 1 });
    await c.accessToken();
    api.failNext('kf/service_state/get', { delayMs: 1000 }, 1);
    const started = Date.now();
    expect((await c.post('cgi-bin/kf/service_state/get', { open_kfid: 'wk1', external_userid: 'u1' })).errcode).toBe(0);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('never sends a message twice: a send that timed out or got a 5xx is not retried', async () => {
    const { c } = client(new MemoryStore(), { timeoutMs: 200, retries: 2 });
    await c.accessToken();
    const sends = () => api.calls.filter((call) => call.path === '/cgi-bin/message/send').length;
    const before = sends();
    api.failNext('message/send', { delayMs: 600 }, 1);
    const timedOut = (await c.post('cgi-bin/message/send', { touser: 'u', agentid: 1, msgtype: 'text', text: { content: 'once' } }).catch((e: unknown) => e)) as WeChatApiError;
    expect(timedOut).toBeInstanceOf(WeChatApiError);
    api.failNext('message/send', { status: 502 }, 1);
    expect(await c.post('cgi-bin/message/send', { touser: 'u', agentid: 1, msgtype: 'text', text: { content: 'once' } }).catch((e: unknown) => e)).toBeInstanceOf(WeChatApiError);
    expect(sends() - before).toBe(2);
  });

  it('other errcodes become a typed WeChatApiError without the token', async () => {
    const { c } = client();
    const token = await c.accessToken();
    api.failNext('message/send', { errcode: 60020, errmsg: 'not allow to access from your ip' });
    const error = (await c.post('cgi-bin/message/send', { touser: 'u', agentid: 1, msgtype: 'text', text: { content: 'x' } }).catch((e: unknown) => e)) as WeChatApiError;
    expect(error).toMatchObject({ name: 'WeChatApiError', errcode: 60020, endpoint: 'cgi-bin/message/send' });
    expect(JSON.stringify(error) + error.message + String(error.stack)).not.toContain(token);
  });

  it('uploads media and downloads it back; media/get errors are typed', async () => {
    const { c } = client();
    const data = Buffer.from([0x89, 0x50, 0x4e, 0x47, 1, 2, 3, 255]);
    const mediaId = await c.uploadMedia('image', { data, fileName: '图.png', contentType: 'image/png' });
    const file = await c.downloadMedia(mediaId);
    expect(file.data.equals(data)).toBe(true);
    expect(file.contentType).toMatch(/image\/png/);
    expect(file.fileName).toBe('图.png');
    const error = (await c.downloadMedia('no-such-media').catch((e: unknown) => e)) as WeChatApiError;
    expect(error.errcode).toBe(40007);
    // A user's own text or JSON file is a file, not an API answer.
    const json = Buffer.from('{"hello":"world"}');
    const jsonId = await c.uploadMedia('file', { data: json, fileName: 'data.json', contentType: 'application/json' });
    expect((await c.downloadMedia(jsonId)).data.equals(json)).toBe(true);
  });

  it('a failed media call is a WeChatApiError saying what failed, without the token', async () => {
    const { c } = client(new MemoryStore(), { retries: 1 });
    const token = await c.accessToken();
    // A download is retried; an upload is not (it may have been stored): each fails once here.
    api.failNext('media/get', { status: 502 }, 2);
    const download = (await c.downloadMedia('m1').catch((e: unknown) => e)) as WeChatApiError;
    api.failNext('media/upload', { status: 500 }, 1);
    const upload = (await c.uploadMedia('image', { data: Buffer.from([1, 2, 3]), fileName: 'a.png', contentType: 'image/png' }).catch((e: unknown) => e)) as WeChatApiError;
    for (const [error, status] of [
      [download, 502],
      [upload, 500],
    ] as const) {
      expect(error).toBeInstanceOf(WeChatApiError);
      expect(error.message).toContain(`request failed: HTTP ${status}`);
      expect(JSON.stringify(error) + error.message + String(error.stack)).not.toContain(token);
    }
  });

  it("fetches Official Account tokens from /cgi-bin/token with tokenEndpoint: 'token'", async () => {
    const c = new WeChatApiClient({
      credential: { kind: 'officialAccount', appId: 'wx-oa', secret: 'oa-secret', tokenEndpoint: 'token' },
      baseUrl: api.url,
      store: new MemoryStore(),
      log: captureLogger().log,
    });
    await c.post('cgi-bin/message/custom/send', { touser: 'o1', msgtype: 'text', text: { content: 'hi' } });
    expect(api.calls.some((call) => call.path === '/cgi-bin/token' && call.query['grant_type'] === 'client_credential' && call.query['appid'] === 'wx-oa')).toBe(true);
    expect(api.calls.some((call) => call.path === '/cgi-bin/stable_token' && (call.body as { appid?: string }).appid === 'wx-oa')).toBe(false);
    expect(api.officialAccount.sent.at(-1)).toMatchObject({ touser: 'o1', text: { content: 'hi' } });
  });
});

describe('WeChatApiClient: Official Account stable_token', () => {
  const oaClient = (appId: string, extra: { forceRefreshLimit?: { perDay?: number; minIntervalMs?: number } } = {}) => {
    const logs = captureLogger();
    const c = new WeChatApiClient({ credential: { kind: 'officialAccount', appId, secret: 'oa-secret' }, baseUrl: api.url, store: new MemoryStore(), log: logs.log, ...extra });
    return { c, logs };
  };
  const send = (c: WeChatApiClient, content: string) => c.post('cgi-bin/message/custom/send', { touser: 'o1', msgtype: 'text', text: { content } });
  const stableCalls = (appId: string) =>
    api.calls.filter((call) => call.path === '/cgi-bin/stable_token' && (call.body as { appid?: string }).appid === appId).map((call) => call.body);

  it('uses POST /cgi-bin/stable_token by default, without force_refresh; a refused token is replaced by a normal call when WeChat has a new one', async () => {
    const { c } = oaClient('wx-stable');
    await send(c, 'one');
    expect(stableCalls('wx-stable')).toEqual([{ grant_type: 'client_credential', appid: 'wx-stable', secret: 'oa-secret', force_refresh: false }]);
    expect(api.calls.some((call) => call.path === '/cgi-bin/token' && call.query['appid'] === 'wx-stable')).toBe(false);
    // Revoked, and WeChat issues another on a normal call: no force_refresh is spent.
    api.revokeTokens();
    await send(c, 'two');
    expect(stableCalls('wx-stable').map((body) => (body as { force_refresh: boolean }).force_refresh)).toEqual([false, false]);
    expect(api.textsTo('o1').slice(-2)).toEqual(['one', 'two']);
  });

  it('forces a refresh only when WeChat refused the token and a normal call hands it back', async () => {
    const { c, logs } = oaClient('wx-forced');
    await send(c, 'before');
    api.revokeTokens({ stableStillServed: true });
    await send(c, 'after');
    expect(stableCalls('wx-forced').map((body) => (body as { force_refresh: boolean }).force_refresh)).toEqual([false, false, true]);
    expect(api.textsTo('o1').at(-1)).toBe('after');
    expect(logs.text()).toContain('forcing a refresh');
  });

  it('keeps to the daily force_refresh limit and says why when it is spent', async () => {
    const { c } = oaClient('wx-spent', { forceRefreshLimit: { perDay: 1, minIntervalMs: 0 } });
    await send(c, 'first');
    api.revokeTokens({ stableStillServed: true });
    await send(c, 'second');
    api.revokeTokens({ stableStillServed: true });
    const error = (await send(c, 'third').catch((e: unknown) => e)) as WeChatApiError;
    expect(error).toBeInstanceOf(WeChatApiError);
    expect(error.message).toMatch(/force_refresh was used 1 times today \(WeChat allows 1 a day\)/);
    expect(stableCalls('wx-spent').filter((body) => (body as { force_refresh: boolean }).force_refresh)).toHaveLength(1);
    expect(JSON.stringify(error) + error.message).not.toContain('oa-secret');
  });
});
