import { describe, expect, it } from 'vitest';
import { WeChatPeer, shouldRunRedisTests } from '@wxbot/testing';
import { createBot, generateEncodingAESKey, officialAccount, wecomKf, type Bot, type Channel } from '@wxbot/core';
import { RedisStore } from '../src/index.ts';
import { captureLogger } from '../../core/test/helpers.ts';
import { durableSetup } from './fixture.ts';

// A worker started without the web instances' channel settings (a host missing the KF
// variables, say) takes the channel's message jobs from the shared queue and cannot run them.
// It used to fail each one silently: now one error line says what is wrong and what to do, the
// failures are counted by reason, and once a worker with the channel runs, `retry` answers them.

const withRedis = await shouldRunRedisTests('jobs of a channel a worker does not have');
const CORP = 'ww-missing';
const SECRET = 'kf-secret';
const TOKEN = 'kf-token';
const KEY = generateEncodingAESKey();
const KFID = 'wk-missing';
const OA = { appId: 'wx-missing', appSecret: 'oa-secret', token: 'oa-token' };

describe.runIf(withRedis)('a worker without a channel of the web instances', () => {
  const setup = durableSetup([
    { id: CORP, secret: SECRET },
    { id: OA.appId, secret: OA.appSecret },
  ]);

  function bot(channels: Channel[], logger: ReturnType<typeof captureLogger>['log'], workers: boolean): Bot {
    const store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: setup.prefix, durable: { turnPollMs: 20 } });
    const b = createBot({ channels, store, logger, workers: workers ? {} : false });
    b.on('text', (ctx) => ctx.reply(`echo:${ctx.message.type === 'text' ? ctx.message.text : ''}`));
    return setup.keep(b);
  }
  const kf = () => wecomKf({ corpId: CORP, secret: SECRET, token: TOKEN, encodingAESKey: KEY, apiBaseUrl: setup.api.url });
  const oa = () => officialAccount({ ...OA, apiBaseUrl: setup.api.url });

  it('one error line naming the channel and the fix, failures counted by reason; retried once a worker has the channel', { timeout: 30_000 }, async () => {
    const { api } = setup;
    const web = bot([kf(), oa()], captureLogger('silent').log, false);
    const { url } = await web.start({ port: 0, host: '127.0.0.1' });
    const logs = captureLogger('info');
    const wrong = bot([oa()], logs.log, true);
    await wrong.init();
    await wrong.startWorkers();

    for (const user of ['m1', 'm2', 'm3']) api.kf.push(KFID, { external_userid: user, text: { content: user } });
    const peer = new WeChatPeer({ url: `${url}/wecom/kf`, kind: 'wecomKf', token: TOKEN, encodingAESKey: KEY, receiveId: CORP });
    await peer.event('kf_msg_or_event', { Token: `sync-${Date.now()}`, OpenKfId: KFID }, { from: 'sys' });
    const deadline = Date.now() + 10_000;
    while ((await web.queues!.deadJobs()).length < 3 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect((await web.queues!.deadJobs()).map((j) => j.reason)).toEqual(Array(3).fill('no channel named "wecomKf" in this bot'));

    const errors = logs.lines.filter((l) => (l['level'] as number) >= 50);
    expect(errors).toEqual([
      expect.objectContaining({
        channel: 'wecomKf',
        channels: ['officialAccount'],
        msg: expect.stringContaining('a message of channel "wecomKf" reached this process, whose config has no such channel'),
      }),
    ]);
    expect(String(errors[0]!['msg'])).toContain('wxbot queue retry --all inbound');
    const metrics = await wrong.metrics.registry.metrics();
    expect(metrics).toContain('wxbot_job_failures_total{queue="inbound",reason="no channel named \\"wecomKf\\" in this bot"} 3');

    // The fix: this worker goes, one with the channel comes, the failed jobs are retried.
    await wrong.stop();
    await bot([kf(), oa()], captureLogger('silent').log, true).start({ port: 0, host: '127.0.0.1' });
    for (const job of await web.queues!.deadJobs()) await web.queues!.retryJob(job.queue, job.id);
    await api.waitFor(() => ['m1', 'm2', 'm3'].every((u) => api.textsTo(u).length === 1), 15_000);
    expect(['m1', 'm2', 'm3'].map((u) => api.textsTo(u))).toEqual([['echo:m1'], ['echo:m2'], ['echo:m3']]);
  });
});
