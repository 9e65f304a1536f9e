import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBot, type Bot } from '@wxbot/core';
import { shouldRunRedisTests, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { RedisStore } from '@wxbot/redis';
import { removeKeys } from '../packages/redis/test/fixture.ts';
import { DURABLE_CONFIG, durableFixture } from './support/durableFixture.ts';
import { runWxbot } from './support/wxbotProcess.ts';

// `wxbot queue` as an operator runs it, against the real Redis: a bot in this process (the
// fixture's KF channel on a key prefix of its own) leaves a failed job (95018) and a completed
// one; the CLI, with the same settings, lists, retries and drops them, and refuses to touch a
// job that is not failed. Keys are removed afterwards.

const run = await shouldRunRedisTests('wxbot queue CLI tests');
const fixture = durableFixture('cli-queue');
const { prefix, kfid: KFID } = fixture;

let api: FakeWeChatApi;
let bot: Bot;

beforeAll(async () => {
  if (!run) return;
  api = await startFakeWeChatApi({ credentials: [{ id: fixture.corpId, secret: fixture.secret }] });
  bot = createBot({
    channels: [fixture.channel(api.url)],
    plugins: [
      {
        name: 'echo',
        setup(b) {
          b.on('text', (ctx) => ctx.reply(`echo:${ctx.message.type === 'text' ? ctx.message.text : ''}`));
        },
      },
    ],
    store: new RedisStore({ url: 'redis://127.0.0.1:6379', prefix, durable: { backoffMs: 50, turnPollMs: 20 } }),
    logger: { level: 'silent' },
  });
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  // One customer answered (a completed job), one whose session a human holds (95018: failed).
  api.kf.push(KFID, { external_userid: 'answered', text: { content: 'hi' } });
  api.kf.push(KFID, { external_userid: 'held', text: { content: 'hello?' } });
  api.kf.setState(KFID, 'held', 3, 'servicer-1');
  await fixture.notify(url);
  await api.waitFor(() => api.textsTo('answered').length === 1, 10_000);
  await until(async () => (await bot.queues!.deadJobs()).length === 1);
});
afterAll(async () => {
  await bot?.stop();
  await api?.close();
  if (run) await removeKeys(prefix);
});

/** `wxbot queue ARGS…` with the fixture config on this test's prefix. */
function queue(...args: string[]) {
  return runWxbot(['queue', ...DURABLE_CONFIG, ...args], { env: fixture.env(api.url) });
}

/** A job of `queueName` in `state`, read in Redis (BullMQ keeps completed and failed jobs in sorted sets). */
async function jobIn(queueName: string, state: 'completed' | 'failed'): Promise<string | undefined> {
  const admin = new Redis('redis://127.0.0.1:6379');
  try {
    return (await admin.zrange(`${prefix}q:${queueName}:${state}`, '0', '0'))[0];
  } finally {
    admin.disconnect();
  }
}

/** Polls `done` until it holds (10 s at most). */
async function until(done: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function freePort(): Promise<number> {
  return new Promise((resolvePort) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

describe.runIf(run)('wxbot queue (real Redis)', { timeout: 60_000 }, () => {
  it('lists the failed job with its reason; retry and drop refuse a job that is not failed and leave it alone', async () => {
    const list = await queue('list');
    expect(list.code).toBe(0);
    expect(list.stdout).toMatch(
      /outbox-wecomKf \S+ {2}\S+ {2}attempts 1\n {2}wecomKf → held: text "echo:hello\?"\n {2}reason: errcode 95018: a human servicer holds the KF session/,
    );

    const completed = await jobIn('inbound', 'completed');
    expect(completed).toBeDefined();
    const retry = await queue('retry', 'inbound', completed!);
    expect(retry.code).toBe(1);
    expect(retry.stderr).toContain(`job ${completed} in inbound is completed, not failed: only failed jobs can be retried`);
    const drop = await queue('drop', 'inbound', completed!);
    expect(drop.code).toBe(1);
    expect(drop.stderr).toContain(`job ${completed} in inbound is completed, not failed: only failed jobs can be dropped`);
    // Still there, still completed: dropping it would have removed a job that is not dead.
    expect(await jobIn('inbound', 'completed')).toBe(completed);

    const missing = await queue('drop', 'inbound', 'no-such-job');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('no job no-such-job in inbound');
  });

  it('retry runs a failed job again (sent once the human hands the session back); drop removes one for good', async () => {
    const failed = await jobIn('outbox-wecomKf', 'failed');
    expect(failed).toBeDefined();
    api.kf.setState(KFID, 'held', 1);
    const retry = await queue('retry', 'outbox-wecomKf', failed!);
    expect(retry.code).toBe(0);
    expect(retry.stdout).toContain(`retrying outbox-wecomKf ${failed}`);
    await api.waitFor(() => api.textsTo('held').length === 1, 10_000);
    expect(api.textsTo('held')).toEqual(['echo:hello?']);

    // A second failure, dropped.
    api.kf.setState(KFID, 'held', 3, 'servicer-1');
    await bot.sendTo('wecomKf', { user: 'held', openKfId: KFID }, 'are you there?');
    await until(async () => (await bot.queues!.deadJobs()).length === 1);
    const dead = (await bot.queues!.deadJobs())[0]!;
    const drop = await queue('drop', dead.queue, dead.id);
    expect(drop.code).toBe(0);
    expect(drop.stdout).toContain(`dropped ${dead.queue} ${dead.id}`);
    expect(await bot.queues!.deadJobs()).toEqual([]);
    expect((await queue('list')).stdout).toContain('no failed jobs');
  });

  it('an unreachable Redis is one line and exit 1, for every action (retry and drop used to wait forever)', async () => {
    const port = await freePort();
    for (const args of [['list'], ['depth'], ['retry', 'inbound', 'x'], ['drop', 'inbound', 'x']]) {
      const result = await runWxbot(['queue', ...DURABLE_CONFIG, ...args], { env: { ...fixture.env(), REDIS_URL: `redis://127.0.0.1:${port}` } });
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.stderr.trim()).toBe(
        `wxbot queue: cannot reach Redis at 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port} (check REDIS_URL, or the config's RedisStore)`,
      );
      // Nothing about a running bot's fallback to in-process delivery.
      expect(result.stdout).toBe('');
    }
  });
});

describe.runIf(run)('wxbot queue --all (real Redis)', { timeout: 120_000 }, () => {
  it('retry --all runs every failed job of a queue again, drop --all removes them; both say how many', async () => {
    // Whatever the tests before left (this one may run alone).
    for (const job of await bot.queues!.deadJobs()) await bot.queues!.dropJob(job.queue, job.id);
    api.kf.setState(KFID, 'held', 3, 'servicer-1');
    for (const text of ['a', 'b', 'c']) await bot.sendTo('wecomKf', { user: 'held', openKfId: KFID }, `all:${text}`);
    await until(async () => (await bot.queues!.deadJobs()).length === 3);

    expect((await queue('retry', '--all', 'outbox-nope')).stderr).toContain('no queue named "outbox-nope"');
    expect((await queue('retry', '--all', 'outbox-wecomKf', 'some-id')).code).toBe(2);
    expect((await queue('list', '--all')).code).toBe(2);

    api.kf.setState(KFID, 'held', 1);
    const retry = await queue('retry', '--all', 'outbox-wecomKf');
    expect(retry.code).toBe(0);
    expect(retry.stdout).toContain('3 failed jobs in outbox-wecomKf queued again');
    await api.waitFor(() => api.textsTo('held').filter((t) => t.startsWith('all:')).length === 3, 10_000);
    expect(
      api
        .textsTo('held')
        .filter((t) => t.startsWith('all:'))
        .sort(),
    ).toEqual(['all:a', 'all:b', 'all:c']);

    api.kf.setState(KFID, 'held', 3, 'servicer-1');
    for (const text of ['d', 'e']) await bot.sendTo('wecomKf', { user: 'held', openKfId: KFID }, `all:${text}`);
    await until(async () => (await bot.queues!.deadJobs()).length === 2);
    const limited = await queue('list', '--limit', '1');
    expect(limited.stdout.match(/reason: errcode 95018/g)).toHaveLength(1);
    expect(limited.stdout).toContain('(the newest 1 of 2 failed jobs');
    expect((await queue('list', '--limit', '0')).code).toBe(2);
    const drop = await queue('drop', '--all');
    expect(drop.code).toBe(0);
    expect(drop.stdout).toContain('2 failed jobs dropped');
    expect(await bot.queues!.deadJobs()).toEqual([]);
    expect((await queue('drop', '--all')).stdout).toContain('no failed jobs');
  });
});

describe.runIf(run)('wxbot queue / worker on a Redis store without durable delivery', { timeout: 60_000 }, () => {
  it('say that durable delivery is off in the config, not to set a REDIS_URL that is set', async () => {
    const env = { ...fixture.env(), DURABLE_OFF: '1' };
    for (const command of ['queue', 'worker']) {
      const result = await runWxbot([command, ...DURABLE_CONFIG], { env });
      expect(result.code, command).toBe(1);
      expect(result.stderr, command).toContain("the config's store is on Redis but durable delivery is off (RedisStore durable: false, or the bot option delivery: 'memory')");
      expect(result.stderr, command).not.toContain('set REDIS_URL');
    }
  });
});
