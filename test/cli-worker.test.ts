import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBot, type Bot } from '@wxbot/core';
import { shouldRunRedisTests, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { RedisStore } from '@wxbot/redis';
import { removeKeys } from '../packages/redis/test/fixture.ts';
import { DURABLE_CONFIG, durableFixture } from './support/durableFixture.ts';
import { runWxbot, spawnWxbot, stopWxbot, type WxbotProcess } from './support/wxbotProcess.ts';

// `wxbot worker` as an operator runs it next to a web instance, on the real Redis: its
// /metrics (only the process that runs a job can count it), and SIGTERM while it runs jobs.
// The web instance is a bot in this process with workers off (the fixture's KF channel, on a
// key prefix of this test's own, removed afterwards); the worker runs the fixture's slow echo.

const run = await shouldRunRedisTests('wxbot worker CLI tests');
const fixture = durableFixture('cli-worker');
const { prefix, kfid: KFID } = fixture;
const SLOW_MS = 1500;

let api: FakeWeChatApi;
let web: Bot;
let notify: () => Promise<unknown>;
const processes: WxbotProcess[] = [];

beforeAll(async () => {
  if (!run) return;
  api = await startFakeWeChatApi({ credentials: [{ id: fixture.corpId, secret: fixture.secret }] });
  web = createBot({
    channels: [fixture.channel(api.url)],
    plugins: [],
    store: new RedisStore({ url: 'redis://127.0.0.1:6379', prefix }),
    logger: { level: 'silent' },
    workers: false,
  });
  const { url } = await web.start({ port: 0, host: '127.0.0.1' });
  notify = () => fixture.notify(url);
});
afterAll(async () => {
  await Promise.all(processes.map((p) => stopWxbot(p.child)));
  await web?.stop();
  await api?.close();
  if (run) await removeKeys(prefix);
});

const env = (): Record<string, string> => ({
  ...fixture.env(api.url),
  SLOW_MS: String(SLOW_MS),
  LOG_LEVEL: 'info',
});

function worker(...args: string[]): WxbotProcess {
  const p = spawnWxbot(['worker', ...DURABLE_CONFIG, ...args], env());
  p.ready.catch(() => undefined); // a worker serves no callbacks: `ready` never resolves
  processes.push(p);
  return p;
}

/** Polls until `read` gives a value (20 s at most). */
async function until<T>(read: () => T | undefined | Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The JSON log lines a process printed. */
function lines(p: WxbotProcess): { msg: string; [key: string]: unknown }[] {
  return p
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as { msg: string });
}

describe.runIf(run)('wxbot worker (real Redis)', { timeout: 90_000 }, () => {
  it('--metrics-port serves the jobs this worker ran, the queue depth and /healthz; SIGTERM lets running jobs finish, then one "stopped" line', async () => {
    const w = worker('--concurrency', '4', '--metrics-port', '0', '--host', '127.0.0.1');
    const metricsUrl = await until(() => lines(w).find((l) => l.msg === 'wxbot worker started')?.['metrics'] as string | undefined);
    expect(metricsUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    api.kf.push(KFID, { external_userid: 'c1', text: { content: 'one' } });
    await notify();
    await api.waitFor(() => api.textsTo('c1').length === 1, 20_000);
    // The run is counted just after its reply leaves.
    const metrics = await until(async () => {
      const text = await (await fetch(metricsUrl)).text();
      return /^wxbot_job_run_seconds_count/m.test(text) ? text : undefined;
    });
    expect(metrics).toMatch(/^wxbot_job_run_seconds_count\{queue="inbound"\} 1$/m);
    expect(metrics).toMatch(/^wxbot_job_wait_seconds_count\{queue="inbound"\} 1$/m);
    expect(metrics).toMatch(/^wxbot_queue_jobs\{queue="inbound",state="waiting"\} 0$/m);
    expect((await fetch(metricsUrl.replace('/metrics', '/healthz'))).status).toBe(200);

    // Two more, and SIGTERM while the worker runs them: they finish and are answered.
    for (const user of ['c2', 'c3']) api.kf.push(KFID, { external_userid: user, text: { content: user } });
    await notify();
    await until(async () => ((await web.queues!.depth())['inbound']?.['active'] === 2 ? true : undefined));
    const exited = new Promise<number | null>((done) => w.child.once('exit', done));
    const signalled = Date.now();
    w.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(Date.now() - signalled).toBeLessThan(10_000);
    expect(api.textsTo('c2')).toEqual(['echo:c2']);
    expect(api.textsTo('c3')).toEqual(['echo:c3']);
    const stopLines = lines(w).filter((l) => l['signal'] === 'SIGTERM');
    expect(stopLines.map((l) => l.msg)).toEqual(['stopping: workers finish their jobs', 'wxbot worker stopped']);
    expect(stopLines[1]!['ms']).toEqual(expect.any(Number));
    // Nothing left behind in the queue.
    expect(await web.queues!.depth()).toMatchObject({ inbound: { waiting: 0, active: 0, failed: 0 } });
  });

  it('a second SIGTERM while jobs still run exits at once (1), saying what that leaves', async () => {
    const w = worker('--concurrency', '4');
    await until(() => lines(w).find((l) => l.msg === 'wxbot worker started'));
    api.kf.push(KFID, { external_userid: 'c4', text: { content: 'c4' } });
    await notify();
    await until(async () => ((await web.queues!.depth())['inbound']?.['active'] === 1 ? true : undefined));
    const exited = new Promise<number | null>((done) => w.child.once('exit', done));
    w.child.kill('SIGTERM');
    await until(() => lines(w).find((l) => l.msg === 'stopping: workers finish their jobs'));
    w.child.kill('SIGTERM');
    expect(await exited).toBe(1);
    expect(lines(w).at(-1)).toMatchObject({ level: 40, signal: 'SIGTERM', msg: expect.stringContaining('second signal: exiting now without waiting') });
  });

  it('a wrong --metrics-port is wrong usage (exit 2); a taken one says so (exit 1)', async () => {
    const wrong = await runWxbot(['worker', '--config', 'test/fixtures/durable.config.ts', '--metrics-port', 'abc'], { env: env() });
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain('--metrics-port must be a port number 0–65535 (got "abc")');
    const hostAlone = await runWxbot(['worker', '--config', 'test/fixtures/durable.config.ts', '--host', '127.0.0.1'], { env: env() });
    expect(hostAlone.code).toBe(2);

    const first = worker('--metrics-port', '0', '--host', '127.0.0.1');
    const port = new URL(await until(() => lines(first).find((l) => l.msg === 'wxbot worker started')?.['metrics'] as string | undefined)).port;
    const taken = await runWxbot(['worker', '--config', 'test/fixtures/durable.config.ts', '--metrics-port', port, '--host', '127.0.0.1'], { env: env() });
    expect(taken.code).toBe(1);
    expect(taken.stderr).toContain(`--metrics-port ${port} is in use`);
  });
});
