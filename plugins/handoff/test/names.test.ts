import { join } from 'node:path';
import { createBot, createLogger, generateEncodingAESKey, officialAccount, type Bot } from '@wxbot/core';
import { startFakeWeChatApi, WeChatPeer, type FakeWeChatApi } from '@wxbot/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handoff } from '../src/index.ts';
import { AgentClient, ALICE, CORP, customerSays, dir, KF_SECRET, keywordStandIn, startKfBot, type KfBot } from './helpers.ts';

const OA_APP = 'wx-handoff-names';
const OA_SECRET = 'oa-names-secret';

let api: FakeWeChatApi;
const stops: (() => Promise<void>)[] = [];
const clients: AgentClient[] = [];

beforeAll(async () => {
  api = await startFakeWeChatApi({
    credentials: [
      { id: CORP, secret: KF_SECRET },
      { id: OA_APP, secret: OA_SECRET, kind: 'officialAccount' },
    ],
  });
});
afterAll(() => api.close());
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  for (const stop of stops.splice(0)) await stop();
});

async function agent(url: string): Promise<AgentClient> {
  const client = await AgentClient.connect(url, { token: ALICE });
  clients.push(client);
  await client.waitFor((e) => e.type === 'hello');
  return client;
}

const nameOf = (e: Record<string, unknown>) => (e['conversation'] as { displayName?: string } | undefined)?.displayName;
const callsTo = (path: string) => api.calls.filter((c) => c.path === path).length;

describe('display names in the hand-off conversations', () => {
  it("KF: the customer's nickname from kf/customer/batchget, looked up once and cached; an unknown customer keeps the id", async () => {
    api.profiles.kf.set('wm-named-lin', { nickname: '林小姐' });
    const kf: KfBot = await startKfBot(api);
    stops.push(() => kf.bot.stop());
    const alice = await agent(kf.url);

    await customerSays(api, kf, 'wk-names', 'wm-named-lin', '人工');
    const named = await alice.waitFor((e) => e.type === 'conversation.updated' && nameOf(e) === '林小姐');
    const id = (named['conversation'] as { id: string }).id;
    expect(callsTo('/cgi-bin/kf/customer/batchget')).toBe(1);
    // Listed with the name for a console that connects later.
    const later = await agent(kf.url);
    expect((later.events[0] as unknown as { conversations: { id: string; displayName?: string }[] }).conversations).toEqual([
      expect.objectContaining({ id, displayName: '林小姐' }),
    ]);

    // Closed and handed off again: the name comes from the cache, not the API.
    await alice.request({ type: 'close', conversationId: id });
    const mark = alice.events.length;
    await customerSays(api, kf, 'wk-names', 'wm-named-lin', '人工客服');
    const reopened = await alice.waitFor((e) => e.type === 'conversation.opened', { from: mark });
    await alice.waitFor((e) => e.type === 'conversation.updated' && nameOf(e) === '林小姐', { from: mark });
    expect((reopened['conversation'] as { id: string }).id).toBe(id);
    expect(callsTo('/cgi-bin/kf/customer/batchget')).toBe(1);

    // Nobody by that id on WeCom's side: no name, and no update for it.
    const before = alice.events.length;
    await customerSays(api, kf, 'wk-names', 'wm-nameless', '人工');
    await alice.waitFor((e) => e.type === 'conversation.opened' && (e['conversation'] as { user: string }).user === 'wm-nameless', { from: before });
    await api.waitFor(() => callsTo('/cgi-bin/kf/customer/batchget') === 2);
    await new Promise((r) => setTimeout(r, 150));
    expect(alice.events.slice(before).some((e) => e.type === 'conversation.updated' && (e['conversation'] as { user: string }).user === 'wm-nameless')).toBe(false);
  });

  it('a refused lookup (no API permission) leaves the id, is logged once, and is not retried on the next hand-off', async () => {
    api.profiles.kf.set('wm-refused', { nickname: '不会显示' });
    const kf: KfBot = await startKfBot(api);
    stops.push(() => kf.bot.stop());
    const alice = await agent(kf.url);
    api.failNext('/cgi-bin/kf/customer/batchget', { errcode: 48002, errmsg: 'api forbidden' });
    const calls = callsTo('/cgi-bin/kf/customer/batchget');
    await customerSays(api, kf, 'wk-refused', 'wm-refused', '人工');
    const id = ((await alice.waitFor((e) => e.type === 'conversation.opened')).conversation as { id: string }).id;
    await api.waitFor(() => kf.logs.some((l) => l['msg'] === 'display name not looked up; the console shows the user id'));
    await alice.request({ type: 'close', conversationId: id });
    const mark = alice.events.length;
    await customerSays(api, kf, 'wk-refused', 'wm-refused', '人工');
    await alice.waitFor((e) => e.type === 'conversation.opened' && (e['conversation'] as { id: string }).id === id, { from: mark });
    await new Promise((r) => setTimeout(r, 150));
    expect(callsTo('/cgi-bin/kf/customer/batchget')).toBe(calls + 1);
    expect(alice.events.some((e) => nameOf(e) === '不会显示')).toBe(false);
    expect(kf.logs.filter((l) => l['msg'] === 'display name not looked up; the console shows the user id')).toHaveLength(1);
  });

  it("Official Account: the operator's remark from cgi-bin/user/info (no nicknames since 2021)", async () => {
    api.profiles.officialAccount.set('o-remarked-zhao', { remark: '赵先生（VIP）' });
    const key = generateEncodingAESKey();
    const bot: Bot = createBot({
      channels: [officialAccount({ appId: OA_APP, appSecret: OA_SECRET, token: 'oa-names-token', encodingAESKey: key, apiBaseUrl: api.url })],
      plugins: [handoff({ agents: [{ name: 'alice', token: ALICE }], stateFile: join(dir, 'names-oa.json') }), keywordStandIn()],
      logger: createLogger({ level: 'silent' }),
      metrics: false,
    });
    const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
    stops.push(() => bot.stop());
    const alice = await agent(url);
    const peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: 'oa-names-token', encodingAESKey: key, receiveId: OA_APP });
    await peer.text('转人工', { from: 'o-remarked-zhao' });
    await alice.waitFor((e) => e.type === 'conversation.updated' && nameOf(e) === '赵先生（VIP）');
    const call = api.calls.find((c) => c.path === '/cgi-bin/user/info');
    expect(call?.query).toMatchObject({ openid: 'o-remarked-zhao', lang: 'zh_CN' });
  });
});
