import { randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBot, generateEncodingAESKey, officialAccount, wecomKf, type Bot, type Plugin } from '@wxbot/core';
import { WeChatPeer, shouldRunRedisTests, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { DurableDelivery, RedisStore, type DurableDeliveryOptions } from '../src/index.ts';

// Durable delivery against the real Redis and the fake WeChat API: every test has its own
// key prefix, and removes its keys afterwards.
const run = await shouldRunRedisTests('durable delivery tests');
const RUN = `wxbot-test:${randomUUID()}:`;
const CORP = 'ww-durable';
const KF_SECRET = 'kf-secret';
const TOKEN = 'durable-token';
const KEY = generateEncodingAESKey();
const OA = { appId: 'wx-durable', appSecret: 'oa-secret', token: 'oa-token' };
/** Fast retries and turn polling, so fault tests stay short. */
const FAST: DurableDeliveryOptions = { backoffMs: 50, turnPollMs: 20, lockDurationMs: 2000, stalledIntervalMs: 1000, leaseMs: 1500 };

let api: FakeWeChatApi;
const bots: Bot[] = [];
let testNo = 0;

beforeAll(async () => {
  api = await startFakeWeChatApi({
    credentials: [
      { id: CORP, secret: KF_SECRET },
      { id: OA.appId, secret: OA.appSecret },
    ],
  });
});
afterEach(async () => {
  await Promise.all(bots.splice(0).map((b) => b.stop()));
});
afterAll(async () => {
  await api?.close();
  if (!run) return;
  const admin = new Redis('redis://127.0.0.1:6379');
  const keys = await admin.keys(`${RUN}*`);
  for (let i = 0; i < keys.length; i += 500) await admin.del(...keys.slice(i, i + 500));
  admin.disconnect();
});

/** A plugin that answers every text `echo:<text>` after `delayMs`, and after `hold()` settles if given. */
function slowEcho(delayMs: number | (() => number), hold?: () => Promise<void>): Plugin {
  return {
    name: 'slow-echo',
    setup(bot) {
      bot.on('text', async (ctx) => {
        const ms = typeof delayMs === 'number' ? delayMs : delayMs();
        if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms));
        if (hold) await hold();
        await ctx.reply(`echo:${ctx.message.type === 'text' ? ctx.message.text : ''}`);
      });
    },
  };
}

/** A bot on Redis (durable) with a KF and an OA channel; `prefix` shared = same queues. */
async function startBot(options: {
  prefix: string;
  delayMs?: number | (() => number);
  /** What the plugin waits for before each answer (a test's gate). */
  hold?: () => Promise<void>;
  durable?: DurableDeliveryOptions;
  workers?: false | { concurrency?: number };
  replyWindowMs?: number;
}) {
  const bot = createBot({
    channels: [
      wecomKf({ corpId: CORP, secret: KF_SECRET, token: TOKEN, encodingAESKey: KEY, apiBaseUrl: api.url, syncLimit: 50 }),
      officialAccount({ ...OA, apiBaseUrl: api.url, replyWindowMs: options.replyWindowMs ?? 300 }),
    ],
    plugins: [slowEcho(options.delayMs ?? 0, options.hold)],
    store: new RedisStore({ url: 'redis://127.0.0.1:6379', prefix: options.prefix, durable: { ...FAST, ...options.durable } }),
    logger: { level: 'silent' },
    workers: options.workers,
  });
  bots.push(bot);
  const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
  const kf = new WeChatPeer({ url: `${url}/wecom/kf`, kind: 'wecomKf', token: TOKEN, encodingAESKey: KEY, receiveId: CORP });
  const oa = new WeChatPeer({ url: `${url}/wx`, kind: 'officialAccount', token: OA.token, receiveId: OA.appId });
  const notify = (openKfId: string) => kf.event('kf_msg_or_event', { Token: `sync-${Date.now()}`, OpenKfId: openKfId }, { from: 'sys' });
  return { bot, oa, notify };
}

function fresh(): { prefix: string; kfid: string } {
  testNo += 1;
  return { prefix: `${RUN}${testNo}:`, kfid: `wk-durable-${testNo}` };
}

/** Polls an async read until `done` holds (`ms` at most, then gives the last value read). */
async function until<T>(read: () => Promise<T>, done: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const sendCalls = (user: string) => api.calls.filter((c) => c.path === '/cgi-bin/kf/send_msg' && (c.body as { touser?: string }).touser === user).length;

describe.runIf(run)('durable delivery (BullMQ on the real Redis)', () => {
  it('is on by default with a RedisStore, and a bot can opt out', async () => {
    const { prefix } = fresh();
    const { bot } = await startBot({ prefix });
    expect(bot.durable).toBe(true);
    const memory = createBot({ channels: [], store: new RedisStore({ url: 'redis://127.0.0.1:6379', prefix, durable: false }), logger: { level: 'silent' } });
    expect(memory.durable).toBe(false);
    await memory.stop();
  });

  it('KF messages become jobs and are answered in order, each once', async () => {
    const { prefix, kfid } = fresh();
    const { notify } = await startBot({ prefix, delayMs: () => Math.random() * 20 });
    const users = ['u1', 'u2', 'u3'].map((u) => `${kfid}-${u}`);
    for (let i = 0; i < 10; i++) for (const user of users) api.kf.push(kfid, { external_userid: user, text: { content: `${i}` } });
    await notify(kfid);
    await api.waitFor(() => users.every((u) => api.textsTo(u).length === 10), 20_000);
    for (const user of users) expect(api.textsTo(user)).toEqual(Array.from({ length: 10 }, (_, i) => `echo:${i}`));
  });

  it("in one process, a conversation's burst waits here for its turn: no job goes back to the queue", async () => {
    // Back to the queue (BullMQ's delayed set) a waiting job went behind every other queued
    // job before it was looked at again: kf-kill's 2,040 jobs took 49–130 s. Each time a job
    // is taken, BullMQ counts it in attemptsStarted: 1 for every job when none went back.
    // Half the concurrency (4 of 8) may wait so per conversation; a fifth waiter parks by
    // design. Bursts of 5 (1 running, 4 waiting) stay within that whatever the machine's
    // speed; longer interleaved bursts parked whenever one customer fell 5 messages behind.
    // Each customer's burst is queued whole, so the worker takes most of it at once.
    const { prefix, kfid } = fresh();
    const { notify } = await startBot({ prefix, delayMs: () => 2 + Math.random() * 5, durable: { concurrency: 8 } });
    const users = Array.from({ length: 12 }, (_, u) => `${kfid}-u${u}`);
    for (const user of users) for (let i = 0; i < 5; i++) api.kf.push(kfid, { external_userid: user, text: { content: `${i}` } });
    await notify(kfid);
    await api.waitFor(() => users.every((u) => api.textsTo(u).length === 5), 30_000);
    for (const user of users) expect(api.textsTo(user)).toEqual(Array.from({ length: 5 }, (_, i) => `echo:${i}`));
    const inbound = new Queue('inbound', { connection: new Redis('redis://127.0.0.1:6379'), prefix: `${prefix}q` });
    try {
      // A job is marked completed a moment after its reply reached the API.
      const left = await until(
        () => inbound.getJobCountByTypes('active', 'waiting', 'delayed', 'prioritized'),
        (n) => n === 0,
      );
      expect(left).toBe(0);
      const jobs = await inbound.getCompleted(0, -1);
      expect(jobs).toHaveLength(60);
      const taken = jobs.map((job) => job.attemptsStarted);
      expect(taken.filter((n) => n !== 1)).toEqual([]);
    } finally {
      await inbound.close();
      await inbound.disconnect();
    }
  });

  it('a reply waiting for a message that runs in another process waits for it from where it is, not from the back of the queue', async () => {
    // Two instances on one Redis; a user's first message runs in A (a lease) until the second,
    // run in B, has answered: B's reply must wait for A's and becomes an outbox job. It used to go
    // back to the delayed set every turn poll (20 ms here), taken again each time; and, later,
    // once when A's lease ended between B's look at its job and at the timeline.
    const { prefix } = fresh();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const a = await startBot({ prefix, hold: () => gate });
    const b = await startBot({ prefix, delayMs: 400 });
    const user = `oa-other-${prefix.length}-${testNo}`;
    // A answers WeChat once its window has closed and the message's lease is stored: the first
    // message has its place in the conversation before the second comes.
    expect((await a.oa.text('first', { from: user })).body).toBe('success');
    expect((await b.oa.text('second', { from: user })).body).toBe('success');
    const outbox = new Queue('outbox-officialAccount', { connection: new Redis('redis://127.0.0.1:6379'), prefix: `${prefix}q` });
    try {
      // B's answer (after its 400 ms, past its 300 ms window) waits in the outbox for A's turn.
      const queued = await until(
        () => outbox.getJobCountByTypes('active', 'waiting', 'delayed', 'prioritized'),
        (n) => n > 0,
        20_000,
      );
      expect(queued).toBeGreaterThan(0);
      expect(api.textsTo(user)).toEqual([]);
      release();
      await api.waitFor(() => api.textsTo(user).length === 2, 20_000);
      expect(api.textsTo(user)).toEqual(['echo:first', 'echo:second']);
      // A job is marked completed a moment after its send reached the API.
      const left = await until(
        () => outbox.getJobCountByTypes('active', 'waiting', 'delayed', 'prioritized'),
        (n) => n === 0,
        20_000,
      );
      expect(left).toBe(0);
      const jobs = await outbox.getCompleted(0, -1);
      expect(jobs.length).toBeGreaterThan(0);
      expect(jobs.map((job) => job.attemptsStarted).filter((n) => n !== 1)).toEqual([]);
    } finally {
      release();
      await outbox.close();
      await outbox.disconnect();
    }
  });

  it('45009 then ok: the send is retried with backoff and delivered once', async () => {
    const { prefix, kfid } = fresh();
    const { notify } = await startBot({ prefix });
    const user = `${kfid}-rate`;
    api.failNext('/kf/send_msg', { errcode: 45009, errmsg: 'api freq out of limit' }, 2);
    api.kf.push(kfid, { external_userid: user, text: { content: 'busy' } });
    await notify(kfid);
    await api.waitFor(() => api.textsTo(user).length === 1, 10_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(api.textsTo(user)).toEqual(['echo:busy']);
    expect(sendCalls(user)).toBe(3);
  });

  it('95018: the job fails at once with the reason, is not retried, and is listed as dead', async () => {
    const { prefix, kfid } = fresh();
    const { bot, notify } = await startBot({ prefix });
    const user = `${kfid}-human`;
    api.kf.push(kfid, { external_userid: user, text: { content: 'hello?' } });
    api.kf.setState(kfid, user, 3, 'servicer-1');
    await notify(kfid);
    const dead = await until(
      () => bot.queues!.deadJobs(),
      (jobs) => jobs.length > 0,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sendCalls(user)).toBe(1);
    expect(dead).toEqual([expect.objectContaining({ queue: 'outbox-wecomKf', attempts: 1, reason: expect.stringContaining('errcode 95018') })]);
    expect(dead[0]!.summary).toContain('echo:hello?');
    // Retried by hand once the human hands the session back: delivered.
    api.kf.setState(kfid, user, 1);
    await bot.queues!.retryJob(dead[0]!.queue, dead[0]!.id);
    await api.waitFor(() => api.textsTo(user).length === 1, 10_000);
  });

  // 2.5 s in CI; DURABLE_OUTAGE_MS=30000 runs the 30 s (same path, more backoff steps).
  const outageMs = Number(process.env.DURABLE_OUTAGE_MS ?? 2500);
  it('API down for a while: replies whose sends fail meanwhile are retried and sent after it returns, in order', { timeout: 3 * outageMs + 30_000 }, async () => {
    const { prefix, kfid } = fresh();
    // Backoff sized to the outage: 10 attempts, the 10th 511 × backoff after the first (the
    // default backoff is 1 s: 8.5 minutes of retries).
    const { bot, notify } = await startBot({ prefix, delayMs: 200, durable: { backoffMs: Math.max(50, Math.round(outageMs / 100)) } });
    const user = `${kfid}-outage`;
    for (let i = 0; i < 5; i++) api.kf.push(kfid, { external_userid: user, text: { content: `o${i}` } });
    await notify(kfid);
    // The page is fetched and queued; the API goes down while the handler computes the answers.
    await api.waitFor(() => api.calls.some((c) => c.path === '/cgi-bin/kf/sync_msg' && (c.body as { open_kfid?: string }).open_kfid === kfid), 5000);
    const outage = api.outage(outageMs);
    await outage;
    // Retries back off (doubling), so the first one after the API returns may come up to about
    // as long again after it.
    await api
      .waitFor(() => api.textsTo(user).length === 5, 2 * outageMs + 20_000)
      .catch(async (error: unknown) => {
        console.log(JSON.stringify(await bot.queues!.deadJobs()), JSON.stringify(await bot.queues!.depth()), api.textsTo(user));
        throw error;
      });
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(api.textsTo(user)).toEqual([0, 1, 2, 3, 4].map((i) => `echo:o${i}`));
    // The sends did fail meanwhile (connection refused: provably not sent, so retried).
    const retries = (await bot.metrics.registry.getSingleMetricAsString('wxbot_job_retries_total')).match(/outbox-wecomKf"} (\d+)/);
    expect(Number(retries?.[1] ?? 0)).toBeGreaterThan(0);
  });

  it('per-app rate: past `max` sends in a window the outbox waits for the next window', async () => {
    const { prefix, kfid } = fresh();
    const { notify } = await startBot({ prefix, durable: { rateLimit: { max: 3, durationMs: 1500 } } });
    const users = Array.from({ length: 7 }, (_, i) => `${kfid}-r${i}`);
    for (const user of users) api.kf.push(kfid, { external_userid: user, text: { content: 'hi' } });
    await notify(kfid);
    await api.waitFor(() => users.every((u) => api.textsTo(u).length === 1), 15_000);
    const at = api.deliveries.filter((d) => users.includes(d.user)).map((d) => d.at);
    // Lower bounds only: three sends per window at most, whatever the machine's speed.
    expect(at[3]! - at[0]!).toBeGreaterThanOrEqual(1000);
    expect(at[6]! - at[0]!).toBeGreaterThanOrEqual(2000);
  });

  it("jobs that wait for their conversation's turn do not use up the rate (regression: a minute's stall)", async () => {
    const { prefix, kfid } = fresh();
    const { notify } = await startBot({ prefix, delayMs: 30, durable: { rateLimit: { max: 20, durationMs: 60_000 } } });
    const user = `${kfid}-turns`;
    for (let i = 0; i < 15; i++) api.kf.push(kfid, { external_userid: user, text: { content: `t${i}` } });
    await notify(kfid);
    await api.waitFor(() => api.textsTo(user).length === 15, 20_000);
    expect(api.textsTo(user)).toEqual(Array.from({ length: 15 }, (_, i) => `echo:t${i}`));
  });

  it('a message answered in its window leaves no job behind (the passive path stays off Redis)', async () => {
    const { prefix } = fresh();
    const { bot, oa } = await startBot({ prefix, replyWindowMs: 4000 });
    for (let i = 0; i < 3; i++) expect((await oa.text(`quick ${i}`, { from: `o-quick-${testNo}` })).reply?.['Content']).toBe(`echo:quick ${i}`);
    // Nothing was queued, not even for a moment: no message got an arrival number.
    const admin = new Redis('redis://127.0.0.1:6379');
    expect(await admin.keys(`${prefix}q:order:*`)).toEqual([]);
    expect(await admin.exists(`${prefix}q:inbound:id`)).toBe(0);
    admin.disconnect();
    void bot;
  });

  it('an Official Account message slower than the window is answered through custom/send, and a dead instance leaves it to a worker', async () => {
    const { prefix } = fresh();
    // Instance A runs the slow plugin but takes no jobs; B only has workers and a fast plugin.
    const a = await startBot({ prefix, delayMs: 60_000, workers: false, durable: { leaseMs: 800 } });
    const b = await startBot({ prefix, delayMs: 0, durable: { leaseMs: 800 } });
    const user = `o-lease-${testNo}`;
    const started = Date.now();
    expect((await a.oa.text('slow question', { from: user })).body).toBe('success');
    expect(Date.now() - started).toBeLessThan(3000);
    // A "dies": its lease is no longer renewed (stop hands running leases back).
    await a.bot.stop();
    bots.splice(bots.indexOf(a.bot), 1);
    await api.waitFor(() => api.textsTo(user).length === 1, 15_000);
    expect(api.textsTo(user)).toEqual(['echo:slow question']);
    void b;
  });
});

describe.runIf(run)('DurableDelivery options', () => {
  it('takes an existing client without closing it', async () => {
    const client = new Redis('redis://127.0.0.1:6379', { maxRetriesPerRequest: null });
    const engine = new DurableDelivery({ redis: client, prefix: `${RUN}own` });
    const bot = createBot({ channels: [], delivery: engine, logger: { level: 'silent' }, workers: false });
    expect(bot.durable).toBe(true);
    await bot.stop();
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });
});
