import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { shouldRunRedisTests } from '@wxbot/testing';
import { officialAccount, type Message } from '@wxbot/core';
import { Metrics } from '../../core/src/metrics.ts';
import { captureLogger } from '../../core/test/helpers.ts';
import { DurableDelivery } from '../src/index.ts';
import { removeKeys } from './fixture.ts';

// The reason label of message jobs that failed for good (wxbot_job_failures_total) is one of
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
