import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { WeChatPeer, shouldRunRedisTests } from '@wxbot/testing';
import { officialAccount, type Message } from '@wxbot/core';
import { Metrics } from '../../core/src/metrics.ts';
import { captureLogger } from '../../core/test/helpers.ts';
import { DurableDelivery } from '../src/index.ts';
import { durableSetup, lateReplyBot, removeKeys } from './fixture.ts';

// The reason label of jobs that failed for good (wxbot_job_failures_total: message jobs and sends) is one of
// wxbot's own reasons or else the error's type name: an error whose text carries a message's
// details (an id, a time) would otherwise make one series per message. Real Redis, a key
// prefix of this test's own (removed afterwards).

const withRedis = await shouldRunRedisTests('failure reason label of message jobs');

class QuotaExceeded extends Error {
  override name = 'QuotaExceeded';
}

describe.runIf(withRedis)('the reason label of failed message jobs', () => {
  const prefix = `wxbot-test:${randomUUID()}`;
  let engine: DurableDelivery | undefined;

  afterAll(async () => {
    await engine?.stop();
    await removeKeys(prefix);
  });

  it('an error of the handler run is counted by its type, never by its text', { timeout: 30_000 }, async () => {
    const channel = officialAccount({ appId: 'wx-label', appSecret: 'label-secret', token: 'label-token' });
    const metrics = new Metrics();
    engine = new DurableDelivery({ redis: 'redis://127.0.0.1:6379', prefix });
    engine.attach({
      channels: [channel],
      log: captureLogger('silent').log,
      metrics,
      // Every try fails, each time with a text of its own (the message and the time).
      run: async (_channel, message) => {
        const detail = `message ${message.id} at ${Date.now()} (upstream said no)`;
        throw message.from === 'u-quota' ? new QuotaExceeded(detail) : new Error(detail);
      },
    });
    const message = (id: string, from: string): Message =>
      ({ id, type: 'text', text: id, from, to: 'wx-label', time: new Date(), channel: { name: channel.name, kind: channel.kind }, raw: {} }) as Message;
    await engine.enqueue(channel, [message('m-1', 'u-1'), message('m-2', 'u-2'), message('m-3', 'u-quota')]);
    await engine.startWorkers();
    // Three tries each (1 s, then 2 s apart).
    const deadline = Date.now() + 20_000;
    while ((await engine.deadJobs()).length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await engine.deadJobs()).map((j) => j.reason).sort()).toEqual([
      expect.stringContaining('message m-1 at'),
      expect.stringContaining('message m-2 at'),
      expect.stringContaining('message m-3 at'),
    ]);

    const failures = (await metrics.registry.metrics()).split('\n').filter((line) => line.startsWith('wxbot_job_failures_total{'));
    expect(failures.sort()).toEqual([
      'wxbot_job_failures_total{queue="inbound",reason="error: Error"} 2',
      'wxbot_job_failures_total{queue="inbound",reason="error: QuotaExceeded"} 1',
    ]);
  });
});

describe.runIf(withRedis)('the reason label of failed sends', () => {
  const OA = { appId: 'wx-label-send', appSecret: 'label-secret', token: 'label-token' };
  const setup = durableSetup([{ id: OA.appId, secret: OA.appSecret }]);

  it('a send that fails for good with an error of its own is counted by its type; the dead job keeps the text', { timeout: 30_000 }, async () => {
    const bot = lateReplyBot(setup, OA, { replyWindowMs: 50, delayMs: 150, store: { durable: { turnPollMs: 20 } }, bot: { logger: captureLogger('silent').log } });
    // Not a WeChat error (a bug in a channel, say): it fails at once, its text naming the user and time.
    (bot.channels[0] as unknown as { send: (to: { user: string }) => Promise<void> }).send = async (to) => {
      throw new Error(`cannot send to ${to.user} at ${Date.now()}`);
    };
    const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
    const peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: OA.token, receiveId: OA.appId });
    for (const user of ['u-a', 'u-b']) expect((await peer.text('hi', { from: user })).body).toBe('success');
    const deadline = Date.now() + 15_000;
    while ((await bot.queues!.deadJobs()).length < 2 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await bot.queues!.deadJobs()).map((j) => j.reason).sort()).toEqual([
      expect.stringMatching(/^error: cannot send to u-a at \d+$/),
      expect.stringMatching(/^error: cannot send to u-b at \d+$/),
    ]);
    const failures = (await bot.metrics.registry.metrics()).split('\n').filter((line) => line.startsWith('wxbot_job_failures_total{'));
    expect(failures).toEqual(['wxbot_job_failures_total{queue="outbox-officialAccount",reason="error: Error"} 2']);
  });
});
