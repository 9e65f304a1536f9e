import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeWeChatApi, type FakeWeChatApi } from '../src/index.ts';

// Plain fetch on purpose: the fake must stand on its own, independent of wxbot's own client.

const CORP = 'ww-corp-1';
const KF_SECRET = 'kf-secret';
const APP_SECRET = 'app-secret';
const APPID = 'wx-app-1';
const OA_SECRET = 'oa-secret';
const KFID = 'wk-kf-1';
const CUSTOMER = 'wm-customer-1';

let api: FakeWeChatApi;

beforeEach(async () => {
  api = await startFakeWeChatApi({
    credentials: [
      { id: CORP, secret: KF_SECRET, kind: 'wecomKf' },
      { id: CORP, secret: APP_SECRET, kind: 'wecomApp' },
      { id: APPID, secret: OA_SECRET },
    ],
  });
});
afterEach(async () => {
  await api.close();
});

type Body = Record<string, unknown>;

async function get(path: string, query: Record<string, string>): Promise<Body> {
  const response = await fetch(`${api.url}${path}?${new URLSearchParams(query)}`);
  return (await response.json()) as Body;
}

async function post(path: string, token: string, body: unknown): Promise<Body> {
  const response = await fetch(`${api.url}${path}?access_token=${encodeURIComponent(token)}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return (await response.json()) as Body;
}

async function wecomToken(secret = KF_SECRET): Promise<string> {
  const answer = await get('/cgi-bin/gettoken', { corpid: CORP, corpsecret: secret });
  expect(answer.errcode).toBe(0);
  return String(answer.access_token);
}

function sendText(token: string, content: string, touser = CUSTOMER): Promise<Body> {
  return post('/cgi-bin/kf/send_msg', token, { touser, open_kfid: KFID, msgtype: 'text', text: { content } });
}

describe('fake WeChat API: access tokens', () => {
  it('issues WeCom and Official Account tokens in their real shapes and counts requests', async () => {
    const wecom = await get('/cgi-bin/gettoken', { corpid: CORP, corpsecret: KF_SECRET });
    expect(wecom).toMatchObject({ errcode: 0, errmsg: 'ok', expires_in: 7200 });
    expect(wecom.access_token).toEqual(expect.any(String));

    // The OA doc's success sample has no errcode at all.
    const oa = await get('/cgi-bin/token', { grant_type: 'client_credential', appid: APPID, secret: OA_SECRET });
    expect(oa).toEqual({ access_token: expect.any(String), expires_in: 7200 });

    expect(api.tokenCalls(CORP)).toBe(1);
    expect(api.tokenCalls(APPID)).toBe(1);
    expect(api.tokenCalls(CORP, APP_SECRET)).toBe(0);
    expect(api.tokenCalls()).toBe(2);
  });

  it('refuses unknown ids, wrong secrets and missing parameters with the documented errcodes', async () => {
    expect((await get('/cgi-bin/gettoken', { corpid: 'nope', corpsecret: KF_SECRET })).errcode).toBe(40013);
    expect((await get('/cgi-bin/gettoken', { corpid: CORP, corpsecret: 'wrong' })).errcode).toBe(40001);
    expect((await get('/cgi-bin/gettoken', { corpsecret: KF_SECRET })).errcode).toBe(41002);
    expect((await get('/cgi-bin/token', { grant_type: 'client_credential', appid: 'nope', secret: OA_SECRET })).errcode).toBe(40013);
    expect((await get('/cgi-bin/token', { grant_type: 'client_credential', appid: APPID, secret: 'wrong' })).errcode).toBe(40125);
    expect((await get('/cgi-bin/token', { grant_type: 'password', appid: APPID, secret: OA_SECRET })).errcode).toBe(40002);
    // errmsg carries a trace id like the real one: clients must branch on errcode.
    const bad = await get('/cgi-bin/gettoken', { corpid: CORP, corpsecret: 'wrong' });
    expect(bad.errmsg).toMatch(/^invalid credential, hint: \[/);
  });

  it('answers 41001, 40014, 42001 for missing, unknown and expired tokens', async () => {
    const token = await wecomToken();
    expect((await post('/cgi-bin/kf/service_state/get', '', { open_kfid: KFID, external_userid: CUSTOMER })).errcode).toBe(41001);
    expect((await post('/cgi-bin/kf/service_state/get', 'not-a-token', { open_kfid: KFID, external_userid: CUSTOMER })).errcode).toBe(40014);
    expect((await post('/cgi-bin/kf/service_state/get', token, { open_kfid: KFID, external_userid: CUSTOMER })).errcode).toBe(0);

    api.expireTokens();
    expect((await post('/cgi-bin/kf/service_state/get', token, { open_kfid: KFID, external_userid: CUSTOMER })).errcode).toBe(42001);
    const fresh = await wecomToken();
    expect((await post('/cgi-bin/kf/service_state/get', fresh, { open_kfid: KFID, external_userid: CUSTOMER })).errcode).toBe(0);
  });

  it('revokeTokens makes WeCom tokens 40014 and Official Account tokens 40001', async () => {
    const wecom = await wecomToken();
    const oa = String((await get('/cgi-bin/token', { grant_type: 'client_credential', appid: APPID, secret: OA_SECRET })).access_token);
    api.revokeTokens();
    expect((await sendText(wecom, 'hi')).errcode).toBe(40014);
    const custom = await post('/cgi-bin/message/custom/send', oa, { touser: 'o-user', msgtype: 'text', text: { content: 'hi' } });
    expect(custom.errcode).toBe(40001);
  });

  it('records the User-Agent of the request behind each delivery and call (which process sent it)', async () => {
    const oa = String((await get('/cgi-bin/token', { grant_type: 'client_credential', appid: APPID, secret: OA_SECRET })).access_token);
    const response = await fetch(`${api.url}/cgi-bin/message/custom/send?access_token=${encodeURIComponent(oa)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'user-agent': 'wxbot (pid 4242)' },
      body: JSON.stringify({ touser: 'o-ua', msgtype: 'text', text: { content: 'from 4242' } }),
    });
    expect(((await response.json()) as Body).errcode).toBe(0);
    expect(api.deliveries.find((d) => d.user === 'o-ua')).toMatchObject({ text: 'from 4242', userAgent: 'wxbot (pid 4242)' });
    expect(api.calls.at(-1)).toMatchObject({ path: '/cgi-bin/message/custom/send', userAgent: 'wxbot (pid 4242)' });
  });

  it('a new Official Account token replaces the old one after the overlap', async () => {
    await api.close();
    api = await startFakeWeChatApi({ credentials: [{ id: APPID, secret: OA_SECRET }], officialAccountTokenOverlapMs: 0 });
    const query = { grant_type: 'client_credential', appid: APPID, secret: OA_SECRET };
    const first = String((await get('/cgi-bin/token', query)).access_token);
    const second = String((await get('/cgi-bin/token', query)).access_token);
    const message = { touser: 'o-user', msgtype: 'text', text: { content: 'hi' } };
    expect((await post('/cgi-bin/message/custom/send', first, message)).errcode).toBe(40001);
    expect(await post('/cgi-bin/message/custom/send', second, message)).toEqual({ errcode: 0, errmsg: 'ok' });
  });

  it("keeps each secret's token to its own API (48002) and each family to its host (40014)", async () => {
    const appToken = await wecomToken(APP_SECRET);
    expect((await sendText(appToken, 'hi')).errcode).toBe(48002);
    const oa = String((await get('/cgi-bin/token', { grant_type: 'client_credential', appid: APPID, secret: OA_SECRET })).access_token);
    expect((await sendText(oa, 'hi')).errcode).toBe(40014);
  });
});

describe('fake WeChat API: Official Account stable_token', () => {
  async function stable(body: Body): Promise<Body> {
    const response = await fetch(`${api.url}/cgi-bin/stable_token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    return (await response.json()) as Body;
  }
  const normal = { grant_type: 'client_credential', appid: APPID, secret: OA_SECRET, force_refresh: false };
  const forced = { ...normal, force_refresh: true };
  const message = { touser: 'o-user', msgtype: 'text', text: { content: 'hi' } };

  it('returns the same token while it is valid, isolated from /cgi-bin/token', async () => {
    const first = await stable(normal);
    expect(first).toEqual({ access_token: expect.any(String), expires_in: 7200 });
    const again = await stable({ grant_type: 'client_credential', appid: APPID, secret: OA_SECRET }); // force_refresh defaults to false
    expect(again.access_token).toBe(first.access_token);
    expect(Number(again.expires_in)).toBeLessThanOrEqual(7200);
    // A /cgi-bin/token call does not replace it (the doc: the two are isolated), nor the reverse.
    const classic = String((await get('/cgi-bin/token', { grant_type: 'client_credential', appid: APPID, secret: OA_SECRET })).access_token);
    await stable(forced);
    expect(await post('/cgi-bin/message/custom/send', classic, message)).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(api.tokenCalls(APPID)).toBe(4);
    expect(api.stableTokenCalls()).toBe(3);
    expect(api.stableTokenCalls({ forced: true })).toBe(1);
  });

  it('force_refresh invalidates the old token at once and issues a new one', async () => {
    const old = String((await stable(normal)).access_token);
    expect(await post('/cgi-bin/message/custom/send', old, message)).toEqual({ errcode: 0, errmsg: 'ok' });
    const renewed = String((await stable(forced)).access_token);
    expect(renewed).not.toBe(old);
    expect((await post('/cgi-bin/message/custom/send', old, message)).errcode).toBe(40001);
    expect(await post('/cgi-bin/message/custom/send', renewed, message)).toEqual({ errcode: 0, errmsg: 'ok' });
    expect((await stable(normal)).access_token).toBe(renewed);
  });

  it('limits force_refresh per day and in time, and checks the request', async () => {
    await api.close();
    api = await startFakeWeChatApi({ credentials: [{ id: APPID, secret: OA_SECRET }], stableTokenForceLimit: { perDay: 2, minIntervalMs: 0 } });
    expect((await stable(forced)).access_token).toEqual(expect.any(String));
    expect((await stable(forced)).access_token).toEqual(expect.any(String));
    expect((await stable(forced)).errcode).toBe(45009);
    expect((await stable(normal)).access_token).toEqual(expect.any(String));
    await api.close();
    api = await startFakeWeChatApi({ credentials: [{ id: APPID, secret: OA_SECRET }] });
    await stable(forced);
    expect((await stable(forced)).errcode).toBe(45011); // 30 s apart
    expect((await stable({ ...normal, secret: 'wrong' })).errcode).toBe(40125);
    expect((await stable({ ...normal, grant_type: 'password' })).errcode).toBe(40002);
    const form = await fetch(`${api.url}/cgi-bin/stable_token?grant_type=client_credential&appid=${APPID}&secret=${OA_SECRET}`, { method: 'POST' });
    expect(((await form.json()) as Body).errcode).toBe(47001);
  });

  it('revokeTokens: stable_token issues a new one, or keeps handing out the revoked one', async () => {
    const first = String((await stable(normal)).access_token);
    api.revokeTokens();
    const second = String((await stable(normal)).access_token);
    expect(second).not.toBe(first);
    api.revokeTokens({ stableStillServed: true });
    expect((await stable(normal)).access_token).toBe(second);
    expect((await post('/cgi-bin/message/custom/send', second, message)).errcode).toBe(40001);
    const third = String((await stable(forced)).access_token);
    expect(await post('/cgi-bin/message/custom/send', third, message)).toEqual({ errcode: 0, errmsg: 'ok' });
  });
});

describe('fake WeChat API: kf/sync_msg', () => {
  it('pages 25 messages by limit 10 with cursors and has_more', async () => {
    const token = await wecomToken();
    for (let i = 1; i <= 25; i++) api.kf.push(KFID, { text: { content: `m${i}` } });

    const contents = (page: Body): string[] => (page.msg_list as Body[]).map((m) => String((m.text as Body).content));
    const page1 = await post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID, limit: 10 });
    expect(page1).toMatchObject({ errcode: 0, errmsg: 'ok', has_more: 1 });
    expect(contents(page1)).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
    const page2 = await post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID, limit: 10, cursor: page1.next_cursor });
    expect(page2.has_more).toBe(1);
    expect(contents(page2)[0]).toBe('m11');
    const page3 = await post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID, limit: 10, cursor: page2.next_cursor });
    expect(page3.has_more).toBe(0);
    expect(contents(page3)).toEqual(['m21', 'm22', 'm23', 'm24', 'm25']);

    // A cursor from the middle resumes there; a cursor at the end yields nothing new.
    const again = await post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID, cursor: page1.next_cursor });
    expect(contents(again)).toHaveLength(15);
    expect(again.has_more).toBe(0);
    const done = await post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID, cursor: page3.next_cursor });
    expect(done).toMatchObject({ errcode: 0, has_more: 0, msg_list: [], next_cursor: page3.next_cursor });
    expect(api.kf.syncCalls).toBe(5);
  });

  it('fills the msg_list envelope as the doc shows, and keeps accounts apart', async () => {
    const token = await wecomToken();
    const pushed = api.kf.push(KFID, { msgtype: 'image' });
    api.kf.push('wk-other', { text: { content: 'elsewhere' } });
    const code = api.kf.pushEnterSession(KFID, 'wm-customer-2', { scene: 'qr' });

    const page = await post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID, cursor: '' });
    const [image, enter] = page.msg_list as Body[];
    expect(page.msg_list).toHaveLength(2);
    expect(image).toEqual({
      msgid: pushed.msgid,
      send_time: expect.any(Number),
      origin: 3,
      msgtype: 'image',
      open_kfid: KFID,
      external_userid: CUSTOMER,
      image: { media_id: expect.any(String) },
    });
    // Events carry open_kfid and external_userid inside `event` only (sync_msg doc).
    expect(enter).toEqual({
      msgid: expect.any(String),
      send_time: expect.any(Number),
      origin: 4,
      msgtype: 'event',
      event: { event_type: 'enter_session', open_kfid: KFID, external_userid: 'wm-customer-2', scene: 'qr', scene_param: '', welcome_code: code },
    });
    const ids = new Set(api.kf.queued.map((m) => m.msgid));
    expect(ids.size).toBe(3);
  });

  it('refuses a cursor it never issued', async () => {
    const token = await wecomToken();
    expect((await post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID, cursor: 'garbage' })).errcode).toBe(50100);
  });

  it('expires the cursors it issued: 50100 for those, later ones work', async () => {
    const token = await wecomToken();
    const old = (await post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID })).next_cursor;
    expect((await post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID, cursor: old })).errcode).toBe(0);
    api.kf.expireCursors();
    expect(await post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID, cursor: old })).toMatchObject({ errcode: 50100, errmsg: expect.stringContaining('cursor expired') });
    const fresh = (await post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID })).next_cursor;
    expect((await post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID, cursor: fresh })).errcode).toBe(0);
  });

  it('records concurrent syncs per open_kfid', async () => {
    const token = await wecomToken();
    api.kf.syncDelayMs = 100;
    await Promise.all([1, 2, 3].map(() => post('/cgi-bin/kf/sync_msg', token, { open_kfid: KFID })));
    await post('/cgi-bin/kf/sync_msg', token, { open_kfid: 'wk-other' });
    expect(api.kf.maxConcurrentSyncs(KFID)).toBe(3);
    expect(api.kf.maxConcurrentSyncs('wk-other')).toBe(1);
    expect(api.kf.syncCalls).toBe(4);
  });
});

describe('fake WeChat API: kf/send_msg and session state', () => {
  it('records sends, echoes a given msgid and validates the message', async () => {
    api.kf.setState(KFID, CUSTOMER, 0); // a customer wrote: the session is open, the API may send
    const token = await wecomToken();
    const sent = await sendText(token, '你好');
    expect(sent).toEqual({ errcode: 0, errmsg: 'ok', msgid: expect.any(String) });
    const own = await post('/cgi-bin/kf/send_msg', token, { touser: CUSTOMER, open_kfid: KFID, msgid: 'my_id-1', msgtype: 'text', text: { content: 'x' } });
    expect(own.msgid).toBe('my_id-1');
    expect(api.kf.sent).toEqual([
      { touser: CUSTOMER, open_kfid: KFID, msgtype: 'text', text: { content: '你好' } },
      { touser: CUSTOMER, open_kfid: KFID, msgid: 'my_id-1', msgtype: 'text', text: { content: 'x' } },
    ]);

    expect((await sendText(token, 'a'.repeat(2048))).errcode).toBe(0);
    expect((await sendText(token, '字'.repeat(683))).errcode).toBe(45002); // 2049 bytes
    expect((await sendText(token, '')).errcode).toBe(44004);
    expect((await post('/cgi-bin/kf/send_msg', token, { open_kfid: KFID, msgtype: 'text', text: { content: 'x' } })).errcode).toBe(40096);
    expect((await post('/cgi-bin/kf/send_msg', token, { touser: CUSTOMER, msgtype: 'text', text: { content: 'x' } })).errcode).toBe(95000);
    expect((await post('/cgi-bin/kf/send_msg', token, { touser: CUSTOMER, open_kfid: KFID, msgtype: 'sticker', sticker: {} })).errcode).toBe(40008);
    expect((await post('/cgi-bin/kf/send_msg', token, { touser: CUSTOMER, open_kfid: KFID, msgtype: 'image', image: { media_id: 'nope' } })).errcode).toBe(40007);
    expect(api.kf.sent).toHaveLength(3);
  });

  it('answers 95018 while a human servicer holds the session', async () => {
    const token = await wecomToken();
    api.kf.push(KFID, { text: { content: 'human please' } }); // opens the session: state 0
    const state = (): Promise<Body> => post('/cgi-bin/kf/service_state/get', token, { open_kfid: KFID, external_userid: CUSTOMER });
    expect(await state()).toEqual({ errcode: 0, errmsg: 'ok', service_state: 0 });

    const trans = await post('/cgi-bin/kf/service_state/trans', token, { open_kfid: KFID, external_userid: CUSTOMER, service_state: 3, servicer_userid: 'zhangsan' });
    expect(trans).toEqual({ errcode: 0, errmsg: 'ok', msg_code: expect.any(String) });
    expect(await state()).toEqual({ errcode: 0, errmsg: 'ok', service_state: 3, servicer_userid: 'zhangsan' });
    expect(api.kf.transitions).toEqual([{ open_kfid: KFID, external_userid: CUSTOMER, from: 0, to: 3, servicer_userid: 'zhangsan', at: expect.any(Number) }]);

    const refused = await sendText(token, 'still there?');
    expect(refused.errcode).toBe(95018);
    expect(refused.errmsg).toMatch(/^send msg session status invalid/);
    expect(api.kf.sent).toEqual([]);
  });

  it('lets the API send only while the session is new (0) or with the bot (1)', async () => {
    const token = await wecomToken();
    for (const [state, errcode] of [
      [0, 0],
      [1, 0],
      [2, 95018],
      [3, 95018],
      [4, 95018],
    ] as const) {
      api.kf.setState(KFID, CUSTOMER, state, state === 3 ? 'zhangsan' : undefined);
      expect((await sendText(token, `in state ${state}`)).errcode).toBe(errcode);
    }
  });

  it('enforces the documented state transitions', async () => {
    const token = await wecomToken();
    const trans = (to: number, servicer?: string): Promise<Body> =>
      post('/cgi-bin/kf/service_state/trans', token, { open_kfid: KFID, external_userid: CUSTOMER, service_state: to, ...(servicer ? { servicer_userid: servicer } : {}) });
    expect((await trans(1)).errcode).toBe(95016); // never started: state 4 is final
    api.kf.push(KFID, { text: { content: 'hi' } });
    expect(await trans(1)).toEqual({ errcode: 0, errmsg: 'ok' });
    expect((await trans(3)).errcode).toBe(95014); // state 3 needs a servicer
    expect((await trans(2)).errcode).toBe(0);
    expect((await trans(1)).errcode).toBe(95016); // the waiting pool cannot go back to the bot
    expect((await trans(4)).msg_code).toEqual(expect.any(String));
    expect(api.kf.transitions.map((t) => `${t.from}->${t.to}`)).toEqual(['0->1', '1->2', '2->4']);
  });
});

describe('fake WeChat API: kf/send_msg_on_event', () => {
  it('accepts a welcome_code once, then refuses it', async () => {
    const token = await wecomToken();
    const code = api.kf.pushEnterSession(KFID, CUSTOMER);
    const welcome = { code, msgtype: 'text', text: { content: '欢迎' } };
    expect(await post('/cgi-bin/kf/send_msg_on_event', token, welcome)).toEqual({ errcode: 0, errmsg: 'ok', msgid: expect.any(String) });
    expect((await post('/cgi-bin/kf/send_msg_on_event', token, welcome)).errcode).toBe(41050);
    expect((await post('/cgi-bin/kf/send_msg_on_event', token, { ...welcome, code: 'never-issued' })).errcode).toBe(41050);
    expect((await post('/cgi-bin/kf/send_msg_on_event', token, { msgtype: 'text', text: { content: 'x' } })).errcode).toBe(41049);
    expect(api.kf.sentOnEvent).toEqual([welcome]);
  });

  it('refuses an expired code and message types other than text and msgmenu', async () => {
    await api.close();
    api = await startFakeWeChatApi({ credentials: [{ id: CORP, secret: KF_SECRET }], eventCodeTtlMs: 50 });
    const token = await wecomToken();
    const code = api.kf.pushEnterSession(KFID);
    expect((await post('/cgi-bin/kf/send_msg_on_event', token, { code, msgtype: 'image', image: { media_id: 'x' } })).errcode).toBe(40008);
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect((await post('/cgi-bin/kf/send_msg_on_event', token, { code, msgtype: 'text', text: { content: 'late' } })).errcode).toBe(41050);
  });
});

describe('fake WeChat API: media', () => {
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0x10, 0x20]);

  it('serves registered media with its headers, and 40007 as JSON otherwise', async () => {
    const token = await wecomToken();
    api.media.put('m-1', { data: png, contentType: 'image/png', fileName: 'a.png' });
    const response = await fetch(`${api.url}/cgi-bin/media/get?access_token=${token}&media_id=m-1`);
    expect(response.headers.get('content-type')).toBe('image/png');
    expect(response.headers.get('content-disposition')).toBe('attachment; filename="a.png"');
    expect(Buffer.from(await response.arrayBuffer())).toEqual(png);

    const missing = await fetch(`${api.url}/cgi-bin/media/get?access_token=${token}&media_id=nope`);
    expect(missing.status).toBe(200);
    expect(missing.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await missing.json()).toMatchObject({ errcode: 40007 });
  });

  it('round-trips an upload through media/get, and the media_id becomes sendable', async () => {
    api.kf.setState(KFID, CUSTOMER, 0); // a customer wrote: the session is open, the API may send
    const token = await wecomToken();
    const form = new FormData();
    form.append('media', new Blob([png], { type: 'image/png' }), '图片.png');
    const response = await fetch(`${api.url}/cgi-bin/media/upload?access_token=${token}&type=image`, { method: 'POST', body: form });
    const uploaded = (await response.json()) as Body;
    expect(uploaded).toEqual({ errcode: 0, errmsg: '', type: 'image', media_id: expect.any(String), created_at: expect.stringMatching(/^\d+$/) });
    expect(api.media.uploads).toMatchObject([{ media_id: uploaded.media_id, type: 'image', fileName: '图片.png', contentType: 'image/png' }]);

    const back = await fetch(`${api.url}/cgi-bin/media/get?access_token=${token}&media_id=${String(uploaded.media_id)}`);
    expect(Buffer.from(await back.arrayBuffer())).toEqual(png);
    expect(back.headers.get('content-disposition')).toBe(`attachment; filename="__.png"; filename*=UTF-8''${encodeURIComponent('图片.png')}`);

    const sent = await post('/cgi-bin/kf/send_msg', token, { touser: CUSTOMER, open_kfid: KFID, msgtype: 'image', image: { media_id: uploaded.media_id } });
    expect(sent.errcode).toBe(0);
  });

  it('parses the WeCom doc\'s own multipart sample (name="media";filename=...; filelength=6)', async () => {
    const token = await wecomToken();
    const boundary = '-------------------------acebdf13572468';
    const body = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="media";filename="wework.txt"; filelength=6\r\nContent-Type: application/octet-stream\r\n\r\n`),
      Buffer.from('mytext'),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const response = await fetch(`${api.url}/cgi-bin/media/upload?access_token=${token}&type=file`, {
      method: 'POST',
      headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
      body,
    });
    expect(await response.json()).toMatchObject({ errcode: 0, type: 'file' });
    expect(api.media.uploads[0]?.data.toString()).toBe('mytext');
    expect(api.media.uploads[0]?.fileName).toBe('wework.txt');
  });

  it('refuses a bad type or a missing file', async () => {
    const token = await wecomToken();
    const form = new FormData();
    form.append('media', new Blob([png]), 'a.png');
    const badType = await fetch(`${api.url}/cgi-bin/media/upload?access_token=${token}&type=gif`, { method: 'POST', body: form });
    expect(((await badType.json()) as Body).errcode).toBe(40005);
    const empty = new FormData();
    empty.append('other', 'x');
    const noFile = await fetch(`${api.url}/cgi-bin/media/upload?access_token=${token}&type=image`, { method: 'POST', body: empty });
    expect(((await noFile.json()) as Body).errcode).toBe(44001);
  });
});

describe('fake WeChat API: WeCom app and Official Account sends', () => {
  it('records message/send, truncating text past 2048 bytes as the doc says', async () => {
    const token = await wecomToken(APP_SECRET);
    const answer = await post('/cgi-bin/message/send', token, { touser: 'zhangsan', msgtype: 'text', agentid: 1000002, text: { content: 'hello' } });
    expect(answer).toMatchObject({ errcode: 0, errmsg: 'ok', msgid: expect.any(String) });
    await post('/cgi-bin/message/send', token, { touser: 'zhangsan', msgtype: 'text', agentid: 1000002, text: { content: '长'.repeat(1000) } });
    expect(api.wecom.sent[0]).toEqual({ touser: 'zhangsan', msgtype: 'text', agentid: 1000002, text: { content: 'hello' } });
    expect((api.wecom.sent[1]?.text as Body | undefined)?.content).toBe('长'.repeat(682)); // 2046 bytes: no split character
    expect((await post('/cgi-bin/message/send', token, { touser: 'zhangsan', msgtype: 'text', text: { content: 'x' } })).errcode).toBe(41011);
  });

  it('records message/custom/send', async () => {
    const token = String((await get('/cgi-bin/token', { grant_type: 'client_credential', appid: APPID, secret: OA_SECRET })).access_token);
    const message = { touser: 'o-user', msgtype: 'text', text: { content: 'hi' } };
    expect(await post('/cgi-bin/message/custom/send', token, message)).toEqual({ errcode: 0, errmsg: 'ok' });
    expect(api.officialAccount.sent).toEqual([message]);
    const noUser = await post('/cgi-bin/message/custom/send', token, { msgtype: 'text', text: { content: 'hi' } });
    expect(noUser.errcode).toBe(40003);
    expect(noUser.errmsg).toMatch(/ rid: /); // OA style trace suffix
  });
});

describe('fake WeChat API: who the users are', () => {
  it('kf/customer/batchget names known customers and lists the others as invalid; 1 to 100 ids', async () => {
    api.profiles.kf.set(CUSTOMER, { nickname: '张三', avatar: 'http://avatar' });
    const token = await wecomToken();
    expect(await post('/cgi-bin/kf/customer/batchget', token, { external_userid_list: [CUSTOMER, 'wm-nobody'], need_enter_session_context: 0 })).toEqual({
      errcode: 0,
      errmsg: 'ok',
      customer_list: [{ external_userid: CUSTOMER, nickname: '张三', avatar: 'http://avatar', gender: 0, unionid: '' }],
      invalid_external_userid: ['wm-nobody'],
    });
    expect((await post('/cgi-bin/kf/customer/batchget', token, { external_userid_list: [] })).errcode).toBe(40058);
    expect((await post('/cgi-bin/kf/customer/batchget', token, { external_userid_list: Array.from({ length: 101 }, (_, i) => `wm-${i}`) })).errcode).toBe(40058);
    // An app secret's token has no KF rights.
    expect((await post('/cgi-bin/kf/customer/batchget', await wecomToken(APP_SECRET), { external_userid_list: [CUSTOMER] })).errcode).toBe(48002);
  });

  it("user/info answers today's fields: the remark, no nickname unless a fixture gives one; 40003 without openid", async () => {
    const token = String((await get('/cgi-bin/token', { grant_type: 'client_credential', appid: APPID, secret: OA_SECRET })).access_token);
    api.profiles.officialAccount.set('o-vip', { remark: '王总' });
    const info = await get('/cgi-bin/user/info', { access_token: token, openid: 'o-vip', lang: 'zh_CN' });
    expect(info).toMatchObject({ subscribe: 1, openid: 'o-vip', remark: '王总', language: 'zh_CN' });
    expect(info).not.toHaveProperty('nickname');
    expect(await get('/cgi-bin/user/info', { access_token: token, openid: 'o-plain' })).toMatchObject({ subscribe: 1, remark: '' });
    expect((await get('/cgi-bin/user/info', { access_token: token })).errcode).toBe(40003);
  });
});

describe('fake WeChat API: faults, call log, waitFor', () => {
  it('injects HTTP errors, errcodes, delays and dropped connections in order', async () => {
    api.failNext('/gettoken', { status: 503 });
    api.failNext('/gettoken', { errcode: -1, errmsg: 'system busy' });
    api.failNext('/gettoken', { drop: true });
    api.failNext('/gettoken', { delayMs: 150 });

    const query = `corpid=${CORP}&corpsecret=${KF_SECRET}`;
    const first = await fetch(`${api.url}/cgi-bin/gettoken?${query}`);
    expect(first.status).toBe(503);
    expect(await first.json().catch(() => 'not json')).toBe('not json');
    expect(await get('/cgi-bin/gettoken', { corpid: CORP, corpsecret: KF_SECRET })).toEqual({ errcode: -1, errmsg: 'system busy' });
    await expect(fetch(`${api.url}/cgi-bin/gettoken?${query}`)).rejects.toThrow();
    const started = Date.now();
    expect((await get('/cgi-bin/gettoken', { corpid: CORP, corpsecret: KF_SECRET })).errcode).toBe(0);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect((await get('/cgi-bin/gettoken', { corpid: CORP, corpsecret: KF_SECRET })).errcode).toBe(0);
    expect(api.tokenCalls(CORP)).toBe(5);
  });

  it('applies a fault `times` times, only to matching paths', async () => {
    api.kf.setState(KFID, CUSTOMER, 0); // a customer wrote: the session is open, the API may send
    const token = await wecomToken();
    api.failNext('/kf/send_msg', { errcode: 45009 }, 2);
    expect((await post('/cgi-bin/kf/service_state/get', token, { open_kfid: KFID, external_userid: CUSTOMER })).errcode).toBe(0);
    expect((await sendText(token, 'a')).errcode).toBe(45009);
    expect((await sendText(token, 'b')).errcode).toBe(45009);
    expect((await sendText(token, 'c')).errcode).toBe(0);
    expect(api.kf.sent).toHaveLength(1);
  });

  it('a repeated client msgid is answered ok and not delivered twice', async () => {
    api.kf.setState(KFID, CUSTOMER, 0);
    const token = await wecomToken();
    const body = { touser: CUSTOMER, open_kfid: KFID, msgid: 'reply_1', msgtype: 'text', text: { content: 'once' } };
    expect(await post('/cgi-bin/kf/send_msg', token, body)).toMatchObject({ errcode: 0, msgid: 'reply_1' });
    expect(await post('/cgi-bin/kf/send_msg', token, body)).toMatchObject({ errcode: 0, msgid: 'reply_1' });
    expect(await post('/cgi-bin/kf/send_msg', token, { ...body, msgid: 'reply_2' })).toMatchObject({ errcode: 0, msgid: 'reply_2' });
    expect(api.kf.sent).toHaveLength(2);
    expect(api.kf.repeatedMsgIds).toBe(1);
    expect(api.textsTo(CUSTOMER)).toEqual(['once', 'once']);
    expect(api.deliveries.map((d) => d.msgid)).toEqual(['reply_1', 'reply_2']);
  });

  it('counts deliveries per user, in order, across send endpoints', async () => {
    api.kf.setState(KFID, CUSTOMER, 0);
    const kfToken = await wecomToken();
    const oaToken = String((await get('/cgi-bin/token', { grant_type: 'client_credential', appid: APPID, secret: OA_SECRET })).access_token);
    await sendText(kfToken, 'k1');
    await post('/cgi-bin/message/custom/send', oaToken, { touser: 'o-1', msgtype: 'text', text: { content: 'o1' } });
    await sendText(kfToken, 'k2');
    expect(api.textsTo(CUSTOMER)).toEqual(['k1', 'k2']);
    expect(api.textsTo('o-1')).toEqual(['o1']);
    expect(api.deliveries.map((d) => d.endpoint)).toEqual(['kf/send_msg', 'message/custom/send', 'kf/send_msg']);
  });

  it('an outage refuses connections for its duration, then the same URL answers again', async () => {
    const url = api.url;
    const back = api.outage(300);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await fetch(`${url}/cgi-bin/gettoken?corpid=${CORP}&corpsecret=${KF_SECRET}`).then(
      () => 'answered',
      (error: Error & { cause?: { code?: string } }) => error.cause?.code,
    );
    expect(refused).toBe('ECONNREFUSED');
    await back;
    expect(api.url).toBe(url);
    expect((await get('/cgi-bin/gettoken', { corpid: CORP, corpsecret: KF_SECRET })).errcode).toBe(0);
  });

  it('logs every call with the access token redacted', async () => {
    const token = await wecomToken();
    await sendText(token, 'logged');
    expect(api.calls).toEqual([
      { method: 'GET', path: '/cgi-bin/gettoken', query: { corpid: CORP, corpsecret: KF_SECRET }, body: undefined, at: expect.any(Number), userAgent: 'node' },
      {
        method: 'POST',
        path: '/cgi-bin/kf/send_msg',
        query: { access_token: '[redacted]' },
        body: { touser: CUSTOMER, open_kfid: KFID, msgtype: 'text', text: { content: 'logged' } },
        at: expect.any(Number),
        userAgent: 'node',
      },
    ]);
    expect(JSON.stringify(api.calls)).not.toContain(token);
    expect(api.calls.filter((c) => c.path === '/cgi-bin/gettoken')).toHaveLength(1);
  });

  it('waitFor resolves with the truthy value, and rejects clearly on timeout', async () => {
    api.kf.setState(KFID, CUSTOMER, 0); // a customer wrote: the session is open, the API may send
    const token = await wecomToken();
    setTimeout(() => void sendText(token, 'later'), 30);
    const message = await api.waitFor(() => api.kf.sent[0]);
    expect(message).toMatchObject({ text: { content: 'later' } });
    await expect(api.waitFor(() => api.kf.sent.length === 5, 100)).rejects.toThrow(/waitFor: condition not met within 100 ms/);
  });
});

describe('fake WeChat API: WeCom app card updates', () => {
  it('an interactive card send returns a response_code that update_template_card takes once', async () => {
    const token = await wecomToken(APP_SECRET);
    const card = { card_type: 'button_interaction', main_title: { title: 't' }, task_id: 'tk', button_list: [{ text: 'ok', key: 'ok' }] };
    const sent = await post('/cgi-bin/message/send', token, { touser: 'u1', agentid: 1, msgtype: 'template_card', template_card: card });
    expect(sent).toMatchObject({ errcode: 0, response_code: expect.any(String) });
    const notice = await post('/cgi-bin/message/send', token, {
      touser: 'u1',
      agentid: 1,
      msgtype: 'template_card',
      template_card: { card_type: 'text_notice', main_title: { title: 't' } },
    });
    expect(notice['response_code']).toBeUndefined();
    const update = { userids: ['u1'], agentid: 1, response_code: sent['response_code'], button: { replace_name: '已处理' } };
    expect(await post('/cgi-bin/message/update_template_card', token, update)).toMatchObject({ errcode: 0 });
    expect((await post('/cgi-bin/message/update_template_card', token, update)).errmsg).toContain('response_code has been used');
    expect((await post('/cgi-bin/message/update_template_card', token, { ...update, response_code: api.wecom.responseCode(), button: {} })).errcode).toBe(40058);
    expect(api.wecom.cardUpdates).toEqual([update]);
  });
});

describe('fake WeChat API: group robot webhook', () => {
  async function webhook(key: string, body: unknown): Promise<Body> {
    const response = await fetch(`${api.url}/cgi-bin/webhook/send?key=${key}`, { method: 'POST', body: JSON.stringify(body) });
    return (await response.json()) as Body;
  }

  it('accepts the documented messages, checks md5 and media, and refuses the 21st of a minute with 45009', async () => {
    await api.close();
    api = await startFakeWeChatApi({ webhook: { keys: ['robot-1'] } });
    expect(await webhook('robot-x', { msgtype: 'text', text: { content: 'hi' } })).toEqual({ errcode: 93000, errmsg: 'invalid webhook url' });
    const png = Buffer.from('not really a png');
    const md5 = (await import('node:crypto')).createHash('md5').update(png).digest('hex');
    expect((await webhook('robot-1', { msgtype: 'image', image: { base64: png.toString('base64'), md5: '0'.repeat(32) } })).errcode).toBe(40058);
    expect((await webhook('robot-1', { msgtype: 'image', image: { base64: png.toString('base64'), md5 } })).errcode).toBe(0);
    expect((await webhook('robot-1', { msgtype: 'news', news: { articles: [] } })).errcode).toBe(40058);
    expect((await webhook('robot-1', { msgtype: 'file', file: { media_id: 'never-uploaded' } })).errcode).toBe(40007);
    const form = new FormData();
    form.append('media', new Blob([Buffer.from('a,b\n1,2\n')]), 'data.csv');
    const upload = (await (await fetch(`${api.url}/cgi-bin/webhook/upload_media?key=robot-1&type=file`, { method: 'POST', body: form })).json()) as Body;
    expect(upload).toMatchObject({ errcode: 0, type: 'file', media_id: expect.any(String) });
    expect((await webhook('robot-1', { msgtype: 'file', file: { media_id: upload['media_id'] } })).errcode).toBe(0);
    for (let i = 0; i < 18; i++) expect((await webhook('robot-1', { msgtype: 'text', text: { content: `n${i}` } })).errcode).toBe(0);
    expect(await webhook('robot-1', { msgtype: 'text', text: { content: 'one too many' } })).toEqual({ errcode: 45009, errmsg: 'api freq out of limit' });
    expect(api.webhook.sent('robot-1')).toHaveLength(20);
    expect(api.webhook.peakPerWindow('robot-1')).toBe(20);
  });
});
