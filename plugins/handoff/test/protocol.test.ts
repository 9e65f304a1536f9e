import { startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { handoff } from '../src/index.ts';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AgentClient, ALICE, BOB, BOB_WECOM, CORP, customerSays, dir, KF_SECRET, sentTexts, sleep, startKfBot, type KfBot } from './helpers.ts';

let api: FakeWeChatApi;
const running: KfBot[] = [];
const clients: AgentClient[] = [];

beforeAll(async () => {
  api = await startFakeWeChatApi({ credentials: [{ id: CORP, secret: KF_SECRET }] });
});
afterAll(() => api.close());
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(running.splice(0).map((kf) => kf.bot.stop()));
});

async function bot(options: Parameters<typeof startKfBot>[1] = {}, extra: Parameters<typeof startKfBot>[2] = {}): Promise<KfBot> {
  const kf = await startKfBot(api, options, extra);
  running.push(kf);
  return kf;
}

async function agent(kf: KfBot, token = ALICE): Promise<AgentClient> {
  const client = await AgentClient.connect(kf.url, { token });
  clients.push(client);
  await client.waitFor((e) => e.type === 'hello');
  return client;
}

const transitionsOf = (openKfId: string) =>
  api.kf.transitions.filter((t) => t.open_kfid === openKfId).map(({ from, to, servicer_userid }) => ({ from, to, ...(servicer_userid && { servicer_userid }) }));

describe('hand-off over the agent WebSocket protocol (KF, real HTTP)', () => {
  it('hands off on 人工, lets an agent take over and answer, holds the bot back, releases, and keeps the history', async () => {
    const kf = await bot();
    const alice = await agent(kf);
    expect(alice.events[0]).toMatchObject({ type: 'hello', protocol: 1, agent: { name: 'alice' }, conversations: [] });

    // A customer asks for a human: the stand-in keyword plugin answers, then ctx.handoff().
    await customerSays(api, kf, 'wk-main', 'wm-ann', '我要人工');
    const opened = await alice.waitFor((e) => e.type === 'conversation.opened');
    expect(opened.conversation).toMatchObject({ channel: 'wecomKf', user: 'wm-ann', openKfId: 'wk-main', status: 'waiting', reason: 'keyword', unread: 1 });
    const id = (opened.conversation as { id: string }).id;
    await alice.waitFor((e) => e.type === 'message.in' && e.conversationId === id && (e.message as { text?: string }).text === '我要人工');
    // The session stays with the bot on WeCom's side: the API may send only then, and the agents answer through it.
    await sleep(100);
    expect(transitionsOf('wk-main')).toEqual([]);
    expect(kf.llmCalls).toEqual([]);

    // alice (no WeCom userid) takes over: WeCom's session does not move.
    const took = await alice.request({ type: 'takeover', conversationId: id });
    expect(took).toMatchObject({ type: 'ack', conversation: { status: 'agent', agent: 'alice', unread: 0 } });
    await alice.waitFor((e) => e.type === 'conversation.updated' && (e.conversation as { status: string }).status === 'agent');
    expect(transitionsOf('wk-main')).toEqual([]);

    // Her reply reaches the customer through kf/send_msg.
    const mark = alice.events.length;
    expect(await alice.request({ type: 'reply', conversationId: id, text: '您好，我是客服小艾，请问有什么可以帮您？' })).toMatchObject({ type: 'ack' });
    expect(sentTexts(api, 'wk-main', 'wm-ann')).toEqual(['正在为您转接人工客服，请稍候', '您好，我是客服小艾，请问有什么可以帮您？']);
    await alice.waitFor((e) => e.type === 'message.out' && (e.message as { from: string }).from === 'agent', { from: mark });

    // While she holds it, the customer's messages go to her and never to the bot.
    const beforeHeld = alice.events.length;
    await customerSays(api, kf, 'wk-main', 'wm-ann', '我的订单 1234 还没发货');
    const held = await alice.waitFor((e) => e.type === 'message.in', { from: beforeHeld });
    expect(held).toMatchObject({ conversationId: id, unread: 1, message: { direction: 'in', from: 'user', text: '我的订单 1234 还没发货' } });
    await sleep(150);
    expect(kf.llmCalls).toEqual([]);
    expect(sentTexts(api, 'wk-main', 'wm-ann')).toHaveLength(2);

    // Release: the untreated session (0) goes to the bot (1).
    expect(await alice.request({ type: 'release', conversationId: id })).toMatchObject({ type: 'ack', conversation: { status: 'bot' } });
    expect(transitionsOf('wk-main')).toEqual([{ from: 0, to: 1 }]);
    const beforeBack = alice.events.length;
    await customerSays(api, kf, 'wk-main', 'wm-ann', '好的谢谢');
    await api.waitFor(() => kf.llmCalls.length === 1);
    expect(kf.llmCalls).toEqual(['好的谢谢']);
    await api.waitFor(() => sentTexts(api, 'wk-main', 'wm-ann').includes('bot: 好的谢谢'));
    // The conversation stays in the list after release, so agents still see it.
    await alice.waitFor((e) => e.type === 'message.out' && (e.message as { text?: string }).text === 'bot: 好的谢谢', { from: beforeBack });

    // Taking over a conversation the bot answers leaves WeCom's session with the bot, so the agent can still send.
    await alice.request({ type: 'takeover', conversationId: id });
    expect(transitionsOf('wk-main')).toEqual([{ from: 0, to: 1 }]);

    // History: both directions, oldest first, with who wrote what.
    const history = await alice.request({ type: 'history', conversationId: id, limit: 50 });
    expect(history.type).toBe('history');
    const lines = (history.messages as { direction: string; from: string; agent?: string; text?: string }[]).map((m) => [m.direction, m.agent ?? m.from, m.text]);
    expect(lines).toEqual([
      ['in', 'user', '我要人工'],
      ['out', 'bot', '正在为您转接人工客服，请稍候'],
      ['out', 'alice', '您好，我是客服小艾，请问有什么可以帮您？'],
      ['in', 'user', '我的订单 1234 还没发货'],
      ['in', 'user', '好的谢谢'],
      ['out', 'bot', 'bot: 好的谢谢'],
    ]);
    const limited = await alice.request({ type: 'history', conversationId: id, limit: 2 });
    expect((limited.messages as unknown[]).length).toBe(2);

    // Close: released and gone from the list.
    expect(await alice.request({ type: 'close', conversationId: id })).toMatchObject({ type: 'ack' });
    await alice.waitFor((e) => e.type === 'conversation.closed' && e.conversationId === id && e.reason === 'closed' && e.by === 'alice');
    const late = await AgentClient.connect(kf.url, { token: BOB });
    clients.push(late);
    expect(await late.waitFor((e) => e.type === 'hello')).toMatchObject({ agent: { name: 'bob' }, conversations: [] });

    // Neither the token nor what the customer wrote is logged at info level or above.
    const serious = JSON.stringify(kf.logs.filter((l) => (l['level'] as number) >= 30));
    expect(JSON.stringify(kf.logs)).not.toContain(ALICE);
    for (const text of ['我要人工', '我的订单 1234', '您好，我是客服小艾']) expect(serious).not.toContain(text);
  });

  it("records the bot's replies once delivered: one WeCom refused is not in the agents' history", async () => {
    const kf = await bot();
    const alice = await agent(kf);
    api.failNext('kf/send_msg', { errcode: 40003 }); // WeCom refuses the bot's send (invalid user)
    await customerSays(api, kf, 'wk-fail', 'wm-fay', '第一句');
    await api.waitFor(() => kf.llmCalls.length === 1);
    await sleep(100);
    await customerSays(api, kf, 'wk-fail', 'wm-fay', '第二句');
    await api.waitFor(() => sentTexts(api, 'wk-fail', 'wm-fay').includes('bot: 第二句'));
    await customerSays(api, kf, 'wk-fail', 'wm-fay', '我要人工');
    const opened = await alice.waitFor((e) => e.type === 'conversation.opened');
    const history = await alice.request({ type: 'history', conversationId: (opened.conversation as { id: string }).id, limit: 50 });
    expect(sentTexts(api, 'wk-fail', 'wm-fay')).toEqual(['bot: 第二句', '正在为您转接人工客服，请稍候']);
    expect((history.messages as { direction: string; from: string; text?: string }[]).map((m) => [m.direction, m.from, m.text])).toEqual([
      ['in', 'user', '第一句'],
      ['in', 'user', '第二句'],
      ['out', 'bot', 'bot: 第二句'],
      ['in', 'user', '我要人工'],
      ['out', 'bot', '正在为您转接人工客服，请稍候'],
    ]);
  });

  it('an agent with a WeCom userid moves the KF session to that servicer; WeCom then refuses API replies, so the console says so', async () => {
    const kf = await bot();
    const bob = await agent(kf, BOB);
    await customerSays(api, kf, 'wk-servicer', 'wm-ben', '人工');
    const opened = await bob.waitFor((e) => e.type === 'conversation.opened');
    const id = (opened.conversation as { id: string }).id;

    expect(await bob.request({ type: 'takeover', conversationId: id })).toMatchObject({
      type: 'ack',
      conversation: { status: 'agent', agent: 'bob', kfState: 3, servicer: BOB_WECOM },
    });
    expect(transitionsOf('wk-servicer')).toEqual([{ from: 0, to: 3, servicer_userid: BOB_WECOM }]);
    expect(await bob.request({ type: 'reply', conversationId: id, text: 'hi' })).toMatchObject({ type: 'error', code: 'kf_servicer_session' });
    expect(sentTexts(api, 'wk-servicer', 'wm-ben')).not.toContain('hi');

    // Release ends the servicer's session (3 cannot go back to 1), so the bot may answer again.
    await bob.request({ type: 'release', conversationId: id });
    expect(transitionsOf('wk-servicer').at(-1)).toEqual({ from: 3, to: 4 });
    await customerSays(api, kf, 'wk-servicer', 'wm-ben', 'hello again');
    await api.waitFor(() => sentTexts(api, 'wk-servicer', 'wm-ben').includes('bot: hello again'));
  });

  it('refuses an upgrade with a bad or missing token with a bare 401, and accepts a Bearer header', async () => {
    const kf = await bot();
    for (const token of [undefined, 'wrong-token-0123456789', `${ALICE}x`]) {
      const refused = await AgentClient.connect(kf.url, token === undefined ? {} : { token }).catch((error: { status?: number; body?: string }) => error);
      expect(refused).toMatchObject({ status: 401, body: '' });
    }
    const viaHeader = await AgentClient.connect(kf.url, { headers: { Authorization: `Bearer ${ALICE}` } });
    clients.push(viaHeader);
    await viaHeader.waitFor((e) => e.type === 'hello');
    // Other paths are not the endpoint: nobody upgrades them.
    const elsewhere = await AgentClient.connect(kf.url, { token: ALICE, path: '/agent/wsx' }).catch((error: Error) => error);
    expect(elsewhere).toBeInstanceOf(Error);
    expect(JSON.stringify(kf.logs)).not.toContain(ALICE);
  });

  it('checks the Origin: same host by default, else only allowedOrigins; clients without Origin pass', async () => {
    const kf = await bot();
    const host = new URL(kf.url).host;
    const foreign = await AgentClient.connect(kf.url, { token: ALICE, origin: 'https://evil.example' }).catch((error: { status?: number }) => error);
    expect(foreign).toMatchObject({ status: 403 });
    const same = await AgentClient.connect(kf.url, { token: ALICE, origin: `http://${host}` });
    clients.push(same);
    await same.waitFor((e) => e.type === 'hello');

    const strict = await bot({ allowedOrigins: ['https://cs.example.com'] });
    const strictHost = new URL(strict.url).host;
    expect(await AgentClient.connect(strict.url, { token: ALICE, origin: `http://${strictHost}` }).catch((error: { status?: number }) => error)).toMatchObject({ status: 403 });
    const listed = await AgentClient.connect(strict.url, { token: ALICE, origin: 'https://cs.example.com' });
    clients.push(listed);
    await listed.waitFor((e) => e.type === 'hello');
  });

  it('closes the socket on an oversized frame, and answers bad commands with errors naming the request', async () => {
    const kf = await bot();
    const alice = await agent(kf);
    expect(await alice.request({ type: 'takeover' })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await alice.request({ type: 'dance', conversationId: 'x' })).toMatchObject({ type: 'error', code: 'bad_request' });
    expect(await alice.request({ type: 'takeover', conversationId: 'wecomKf/wk/nobody' })).toMatchObject({ type: 'error', code: 'not_found' });
    expect(await alice.request({ type: 'reply', conversationId: 'wecomKf/wk/nobody' })).toMatchObject({ type: 'error' });
    alice.ws.send('not json');
    await alice.waitFor((e) => e.type === 'error' && e.message === 'not JSON');

    alice.ws.send(JSON.stringify({ type: 'reply', id: 'big', conversationId: 'x', text: 'x'.repeat(70 * 1024) }));
    expect((await alice.closed).code).toBe(1009);
  });

  it('gives an idle conversation back to the bot', async () => {
    const kf = await bot({ idleTimeoutMs: 400 });
    const alice = await agent(kf);
    await customerSays(api, kf, 'wk-idle', 'wm-ida', '人工');
    const opened = await alice.waitFor((e) => e.type === 'conversation.opened');
    const id = (opened.conversation as { id: string }).id;
    await alice.request({ type: 'takeover', conversationId: id });
    await alice.waitFor((e) => e.type === 'conversation.closed' && e.conversationId === id && e.reason === 'idle', { timeoutMs: 3000 });
    await customerSays(api, kf, 'wk-idle', 'wm-ida', 'anyone?');
    await api.waitFor(() => kf.llmCalls.includes('anyone?'));
  });

  it('serves the console page with a strict CSP and the WebSocket path', async () => {
    const kf = await bot();
    const response = await fetch(`${kf.url}/agent/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/html');
    expect(response.headers.get('content-security-policy')).toMatch(/default-src 'none'; script-src 'nonce-[^']+'/);
    expect(response.headers.get('referrer-policy')).toBe('no-referrer');
    const redirect = await fetch(`${kf.url}/agent`, { redirect: 'manual' });
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get('location')).toBe('/agent/');
    const html = await response.text();
    expect(html).toContain('"wsPath":"/agent/ws"');
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+href="(?!data:)/);
    // The page's script parses (a template-literal escape gone wrong breaks the whole console).
    const script = /<script nonce="[^"]+">([\s\S]*)<\/script>/.exec(html)?.[1] ?? '';
    expect(script.length).toBeGreaterThan(1000);
    expect(() => new Function(script)).not.toThrow();
  });

  it('a restart keeps the held conversations (a file by default over a memory store); with stateFile: false the agents are told they are gone', async () => {
    const stateFile = join(dir, 'restart-state.json');
    const cursorFile = join(dir, 'restart-cursor.json');
    const first = await startKfBot(api, { stateFile }, { cursorFile });
    const alice1 = await agent(first);
    await customerSays(api, first, 'wk-restart', 'wm-rose', '人工');
    const id = ((await alice1.waitFor((e) => e.type === 'conversation.opened')).conversation as { id: string }).id;
    await alice1.request({ type: 'takeover', conversationId: id });
    // Users nobody holds do not touch the state file: it is rewritten whole on each write, so
    // their per-message history lives in the bot's store (this was a 10× slowdown a message).
    const before = readFileSync(stateFile, 'utf8');
    for (const [i, user] of ['wm-a', 'wm-b', 'wm-c'].entries()) await customerSays(api, first, 'wk-restart', user, `问题${i}`);
    for (let i = 0; i < 250 && first.llmCalls.length < 3; i++) await sleep(20);
    expect(first.llmCalls).toHaveLength(3);
    expect(readFileSync(stateFile, 'utf8')).toBe(before);
    await first.bot.stop();

    const second = await bot({ stateFile }, { cursorFile });
    const alice2 = await agent(second);
    const hello = alice2.events[0] as unknown as { conversations: { id: string; status: string; agent?: string }[]; persistent: boolean; instance: string };
    expect(hello.persistent).toBe(true);
    expect(hello.instance).not.toBe((alice1.events[0] as unknown as { instance: string }).instance); // another server
    expect(hello.conversations).toEqual([expect.objectContaining({ id, status: 'agent', agent: 'alice' })]);
    // A user nobody holds writes first (from then on the plugin answers "no record" for such
    // users from what it read of the state at start); rose is still held after it.
    await customerSays(api, second, 'wk-restart', 'wm-d', '问题3');
    for (let i = 0; i < 250 && second.llmCalls.length < 1; i++) await sleep(20);
    expect(second.llmCalls).toEqual(['问题3']);
    // Still held: the customer's next message goes to alice, not to the bot.
    await customerSays(api, second, 'wk-restart', 'wm-rose', '还在吗');
    await alice2.waitFor((e) => e.type === 'message.in' && (e.message as { text?: string }).text === '还在吗');
    const history = await alice2.request({ type: 'history', conversationId: id });
    expect((history.messages as { text?: string }[]).map((m) => m.text)).toEqual(['人工', '正在为您转接人工客服，请稍候', '还在吗']);
    await sleep(100);
    expect(second.llmCalls).toEqual(['问题3']);
    expect(await alice2.request({ type: 'reply', conversationId: id, text: '在的' })).toMatchObject({ type: 'ack' });
    expect(sentTexts(api, 'wk-restart', 'wm-rose').at(-1)).toBe('在的');

    // In memory only: the agents learn from hello that a restart loses everything.
    const volatile = await bot({ stateFile: false });
    const bob = await agent(volatile, BOB);
    expect(bob.events[0]).toMatchObject({ type: 'hello', persistent: false });
    expect((bob.events[0] as { instance: string }).instance).toEqual(expect.any(String));
    expect(volatile.logs.some((l) => l['level'] === 40 && String(l['msg']).startsWith('hand-off state is in memory'))).toBe(true);
  });

  it("stopping the bot closes the agents' sockets (1001) instead of waiting for them", async () => {
    const kf = await startKfBot(api);
    const alice = await agent(kf);
    await kf.bot.stop();
    expect((await alice.closed).code).toBe(1001);
  });

  it('refuses bad options at start-up, naming the option', () => {
    expect(() => handoff({})).toThrow(/option "agents": give at least one agent/);
    expect(() => handoff({ token: 'short' })).toThrow(/option "token"/);
    expect(() =>
      handoff({
        agents: [
          { name: 'a', token: ALICE },
          { name: 'a', token: BOB },
        ],
      }),
    ).toThrow(/names must be unique/);
    expect(() => handoff({ token: ALICE, consolePath: '/agent/ws' })).toThrow(/option "consolePath"/);
    expect(handoff({ token: ALICE }).name).toBe('handoff');
  });
});
