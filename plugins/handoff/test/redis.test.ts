import { randomUUID } from 'node:crypto';
import { RedisStore } from '@wxbot/redis';
import { shouldRunRedisTests, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AgentClient, ALICE, BOB, CORP, customerSays, KF_SECRET, sentTexts, sleep, startKfBot, type KfBot } from './helpers.ts';

// In CI Redis is part of the machine, so this must run there (and fail loudly if it is down).
const runRedis = await shouldRunRedisTests('hand-off Redis test');

const prefix = `wxbot-test-handoff:${randomUUID()}:`;

describe.runIf(runRedis)('two instances sharing a RedisStore', () => {
  let api: FakeWeChatApi;
  let a: KfBot;
  let b: KfBot;
  const clients: AgentClient[] = [];

  beforeAll(async () => {
    api = await startFakeWeChatApi({ credentials: [{ id: CORP, secret: KF_SECRET }] });
    a = await startKfBot(api, {}, { store: new RedisStore({ url: 'redis://127.0.0.1:6379', prefix }) });
    b = await startKfBot(api, {}, { store: new RedisStore({ url: 'redis://127.0.0.1:6379', prefix }) });
  });

  afterAll(async () => {
    for (const client of clients) client.close();
    await Promise.all([a?.bot.stop(), b?.bot.stop()]);
    await api?.close();
    const redis = new Redis('redis://127.0.0.1:6379');
    const keys = await redis.keys(`${prefix}*`);
    if (keys.length) await redis.del(...keys);
    redis.disconnect();
  });

  it('an agent on instance A sees what arrived on B, answers it, and holds B back', async () => {
    const alice = await AgentClient.connect(a.url, { token: ALICE });
    clients.push(alice);
    await alice.waitFor((e) => e.type === 'hello');

    // The customer's messages arrive on B (its KF callback), never on A.
    await customerSays(api, b, 'wk-shared', 'wm-sam', '转人工');
    const opened = await alice.waitFor((e) => e.type === 'conversation.opened');
    const id = (opened.conversation as { id: string }).id;
    await alice.waitFor((e) => e.type === 'message.in' && e.conversationId === id);
    expect([...a.llmCalls, ...b.llmCalls]).toEqual([]);

    expect(await alice.request({ type: 'takeover', conversationId: id })).toMatchObject({ type: 'ack', conversation: { status: 'agent', agent: 'alice' } });
    // A sends the answer (A got the command); the state it needs is in Redis.
    expect(await alice.request({ type: 'reply', conversationId: id, text: '您好，我来帮您处理' })).toMatchObject({ type: 'ack' });
    expect(sentTexts(api, 'wk-shared', 'wm-sam')).toContain('您好，我来帮您处理');

    // B holds the next message back from its bot and A's agent gets it.
    const mark = alice.events.length;
    await customerSays(api, b, 'wk-shared', 'wm-sam', '订单号 778899');
    const held = await alice.waitFor((e) => e.type === 'message.in', { from: mark });
    expect(held).toMatchObject({ conversationId: id, message: { text: '订单号 778899' } });
    await sleep(150);
    expect([...a.llmCalls, ...b.llmCalls]).toEqual([]);

    // An agent on B sees the same list, and A's release reaches it.
    const bob = await AgentClient.connect(b.url, { token: BOB });
    clients.push(bob);
    const hello = await bob.waitFor((e) => e.type === 'hello');
    expect(hello.conversations).toEqual([expect.objectContaining({ id, status: 'agent', agent: 'alice' })]);
    await alice.request({ type: 'release', conversationId: id });
    await bob.waitFor((e) => e.type === 'conversation.updated' && (e.conversation as { status: string }).status === 'bot');

    await customerSays(api, b, 'wk-shared', 'wm-sam', '谢谢');
    // Durable delivery: the message is a job, run by whichever instance's worker is free.
    await api.waitFor(() => [...a.llmCalls, ...b.llmCalls].includes('谢谢'));
    await alice.waitFor((e) => e.type === 'message.out' && (e.message as { text?: string }).text === 'bot: 谢谢');
  });
});
