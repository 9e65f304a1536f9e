import { describe, expect, it } from 'vitest';
import { WeChatPeer, shouldRunRedisTests } from '@wxbot/testing';
import { captureLogger } from '../../core/test/helpers.ts';
import { durableSetup, lateReplyBot } from './fixture.ts';

// What an operator reads while a send is retried: each try numbered over the whole send (the
// running message's own try, then the outbox job's), out of how many, and when the next comes.
// Real Redis, a key prefix of this test's own (removed afterwards).

const withRedis = await shouldRunRedisTests('retry log lines');

describe.runIf(withRedis)('send retries in the log', () => {
  const OA = { appId: 'wx-retrylog', appSecret: 'retry-secret', token: 'retry-token' };
  const setup = durableSetup([{ id: OA.appId, secret: OA.appSecret }]);

  it('45009 three times: tries 1, 2, 3 of 10, the backoff doubling before each next one; sent once', { timeout: 20_000 }, async () => {
    const { api } = setup;
    const logs = captureLogger('info');
    const bot = lateReplyBot(setup, OA, { replyWindowMs: 100, delayMs: 200, store: { durable: { backoffMs: 50, turnPollMs: 20 } }, bot: { logger: logs.log } });
    const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
    api.failNext('/message/custom/send', { errcode: 45009, errmsg: 'api freq out of limit' }, 3);
    await new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: OA.token, receiveId: OA.appId }).text('hi', { from: 'u-retry' });
    await api.waitFor(() => api.textsTo('u-retry').length === 1, 10_000);
    const retries = logs.lines.filter((l) => l['msg'] === 'send failed; retrying with backoff');
    expect(retries.map(({ attempt, of, retryInMs, reason }) => ({ attempt, of, retryInMs, reason }))).toEqual([
      { attempt: 1, of: 10, retryInMs: 50, reason: 'errcode 45009' },
      { attempt: 2, of: 10, retryInMs: 100, reason: 'errcode 45009' },
      { attempt: 3, of: 10, retryInMs: 200, reason: 'errcode 45009' },
    ]);
    expect(api.textsTo('u-retry')).toEqual(['late:hi']);
    // And BullMQ waited so (lower bounds only, whatever the machine's speed): the schedule of
    // a job that made the first try itself, although that try was the running message's own.
    const at = api.calls.filter((c) => c.path === '/cgi-bin/message/custom/send' && (c.body as { touser?: string }).touser === 'u-retry').map((c) => c.at);
    expect(at).toHaveLength(4);
    expect(at[2]! - at[1]!).toBeGreaterThanOrEqual(100);
    expect(at[3]! - at[2]!).toBeGreaterThanOrEqual(200);
  });
});
