import { describe, expect, it } from 'vitest';
import { WeChatPeer, shouldRunRedisTests } from '@wxbot/testing';
import type { Bot } from '@wxbot/core';
import { captureLogger } from '../../core/test/helpers.ts';
import { durableSetup, lateReplyBot } from './fixture.ts';

// Graceful stop with a message still running past its shutdown grace: the instance hands the
// message back (its lease is no longer renewed), says so in one line, and another instance
// runs it and answers. Real Redis, a key prefix of this test's own (removed afterwards).

const withRedis = await shouldRunRedisTests('graceful stop hand-back');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(withRedis)('graceful stop in durable mode', () => {
  const OA = { appId: 'wx-stop', appSecret: 'stop-secret', token: 'stop-token' };
  const LEASE_MS = 1000;
  const setup = durableSetup([{ id: OA.appId, secret: OA.appSecret }]);

  function bot(logger: ReturnType<typeof captureLogger>['log'], workers: boolean): Bot {
    // Answers past the window and past the shutdown grace.
    return lateReplyBot(setup, OA, {
      replyWindowMs: 100,
      delayMs: 1500,
      store: { durable: { leaseMs: LEASE_MS, turnPollMs: 20, stalledIntervalMs: 1000 } },
      bot: { logger, shutdownGraceMs: 100, workers: workers ? {} : false },
    });
  }

  it('a message still running is handed back with one line, and another instance answers it once', { timeout: 30_000 }, async () => {
    const logs = captureLogger('info');
    const stopping = bot(logs.log, false);
    const { url } = await stopping.start({ port: 0, host: '127.0.0.1' });
    const taker = bot(captureLogger('info').log, true);
    await taker.start({ port: 0, host: '127.0.0.1' });
    const peer = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: OA.token, receiveId: OA.appId });
    const answer = await peer.text('slow', { from: 'u-stop' });
    expect(answer.body).toBe('success'); // the window closed: the message runs under a lease
    await stopping.stop();
    const handedBack = logs.lines.filter((l) => String(l['msg']).includes('handed back'));
    expect(handedBack).toEqual([
      expect.objectContaining({
        level: 40,
        messages: 1,
        leaseMs: LEASE_MS,
        msg: '1 message still running here handed back: a worker runs it again once the lease expires (within 1 s)',
      }),
    ]);
    await setup.api.waitFor(() => setup.api.textsTo('u-stop').length === 1, 15_000);
    await sleep(500);
    expect(setup.api.textsTo('u-stop')).toEqual(['late:slow']);
    // The run is counted; a wait is not (the lease's last renewal, where it would start, is
    // recorded nowhere: it used to be measured from the lease's first deadline).
    const metrics = await taker.metrics.registry.metrics();
    expect(metrics).toMatch(/^wxbot_job_run_seconds_count\{queue="inbound"\} 1$/m);
    expect(metrics).not.toMatch(/^wxbot_job_wait_seconds_count\{queue="inbound"\}/m);
  });
});
