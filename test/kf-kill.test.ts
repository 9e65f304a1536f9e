import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateEncodingAESKey } from '@wxbot/core';
import { Redis } from 'ioredis';
import { WeChatPeer, shouldRunRedisTests, startFakeWeChatApi, type FakeWeChatApi } from '@wxbot/testing';
import { startWxbot, stopWxbot, type WxbotProcess } from './support/wxbotProcess.ts';

// kill -9 in the middle of a KF stream of several sync_msg pages, in single-process mode (a
// cursor file, a FileStore) and in durable mode (Redis: the page's messages are jobs): a real
// `wxbot start` process answers 3,000 messages of 12 customers (15 sync_msg pages; 2,040 in
// 11 pages with Redis) with a slow
// handler, is SIGKILLed mid-stream, restarts on the same store, and the fake WeChat API counts
// what every customer received: every message answered once, in order.

const CORP = 'ww-kill-corp';
const SECRET = 'kf-kill-secret';
const TOKEN = 'kf-kill-token';
const KEY = generateEncodingAESKey();
const CUSTOMERS = 12;
/** Messages per customer: 3,000 in all single-process; 2,040 with Redis (every one is two jobs). */
const PER_CUSTOMER_SINGLE = 250;
const PER_CUSTOMER_REDIS = 170;

let api: FakeWeChatApi;
let dir: string;
const processes: WxbotProcess[] = [];

beforeAll(async () => {
  api = await startFakeWeChatApi({ credentials: [{ id: CORP, secret: SECRET }] });
  dir = mkdtempSync(join(tmpdir(), 'wxbot-kf-kill-'));
});
afterAll(async () => {
  await Promise.all(processes.map((p) => stopWxbot(p.child)));
  await api.close();
  rmSync(dir, { recursive: true, force: true });
  if (withRedis) {
    const admin = new Redis('redis://127.0.0.1:6379');
    const keys = await admin.keys(`${redisRun}*`);
    for (let i = 0; i < keys.length; i += 500) await admin.del(...keys.slice(i, i + 500));
    admin.disconnect();
  }
});

function start(env: Record<string, string>): WxbotProcess {
  const bot = startWxbot('test/fixtures/durable.config.ts', {
    WECOM_CORP_ID: CORP,
    WECOM_KF_SECRET: SECRET,
    WECOM_KF_TOKEN: TOKEN,
    WECOM_KF_AES_KEY: KEY,
    WECOM_API_BASE: api.url,
    KF_SYNC_LIMIT: '200',
    SLOW_MS: '5',
    LOG_LEVEL: 'info',
    ...env,
  });
  processes.push(bot);
  return bot;
}

async function notify(url: string, openKfId: string): Promise<void> {
  const peer = new WeChatPeer({ url: `${url}/wecom/kf`, kind: 'wecomKf', token: TOKEN, encodingAESKey: KEY, receiveId: CORP });
  const response = await peer.event('kf_msg_or_event', { Token: `sync-${Date.now()}`, OpenKfId: openKfId }, { from: 'sys' });
  expect(response.body).toBe('success');
}

const redisRun = `wxbot-test:${randomUUID()}:`;
const withRedis = await shouldRunRedisTests('KF kill -9 with Redis');

type Case = [name: string, env: (dir: string) => Record<string, string>];
describe.each<Case>([
  ['memory store, cursor file', (d: string) => ({ KF_CURSOR_FILE: join(d, 'cursors.json') })],
  ['file store', (d: string) => ({ STORE_FILE: join(d, 'store.json') })],
  ...(withRedis
    ? [
        [
          'Redis, durable',
          () => ({
            REDIS_URL: 'redis://127.0.0.1:6379',
            REDIS_PREFIX: redisRun,
            // A dead process's jobs and sync lock are taken over within seconds.
            DURABLE_LOCK_MS: '3000',
            DURABLE_STALLED_MS: '1000',
            KF_SYNC_LOCK_MS: '3000',
            DURABLE_TIMEOUT_MS: '4000',
          }),
        ] satisfies Case,
      ]
    : []),
])('KF kill -9 mid-stream (%s)', (_name, storeEnv) => {
  it('loses nothing and repeats nothing', async () => {
    const PER_CUSTOMER = _name.startsWith('Redis') ? PER_CUSTOMER_REDIS : PER_CUSTOMER_SINGLE;
    const TOTAL = CUSTOMERS * PER_CUSTOMER;
    // Each case has its own account: a fresh cursor must not read the other case's messages.
    const openKfId = `wk-kill-${_name.length}`;
    const customers = Array.from({ length: CUSTOMERS }, (_, c) => `${openKfId}-c${c}`);
    for (let i = 0; i < PER_CUSTOMER; i++) {
      for (const customer of customers) api.kf.push(openKfId, { external_userid: customer, text: { content: `${customer}#${i}` } });
    }
    const repeatsBefore = api.kf.repeatedMsgIds;
    const delivered = () => api.deliveries.filter((d) => customers.includes(d.user)).length;
    const env: Record<string, string> = storeEnv(mkdtempSync(join(dir, 'run-')));

    const first = start(env);
    const startedAt = Date.now();
    await notify(await first.ready, openKfId);
    // Kill while the stream is well under way: several pages fetched, hundreds answered.
    await api
      // Generous: on a loaded 2-core machine the Redis case's first quarter took up to ~70 s.
      .waitFor(() => delivered() >= TOTAL / 4, 120_000)
      .catch((error: unknown) => {
        const paths: Record<string, number> = {};
        for (const c of api.calls) paths[c.path] = (paths[c.path] ?? 0) + 1;
        console.log(delivered(), paths, first.output().slice(-3000));
        throw error;
      });
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));
    const atKill = delivered();
    const killedAt = Date.now();
    expect(atKill).toBeLessThan(TOTAL);

    const second = start(env);
    await notify(await second.ready, openKfId);
    await api.waitFor(() => delivered() >= TOTAL, 150_000);
    const doneAt = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 300)); // anything repeated late would show now
    await stopWxbot(second.child);

    for (const customer of customers) {
      expect(api.textsTo(customer)).toEqual(Array.from({ length: PER_CUSTOMER }, (_, i) => `echo:${customer}#${i}`));
    }
    expect(delivered()).toBe(TOTAL);
    // Resent at all (WeChat drops a repeated client msgid): at most the one message per customer
    // that was answered but not yet marked when the process died.
    expect(api.kf.repeatedMsgIds - repeatsBefore).toBeLessThanOrEqual(CUSTOMERS);
    console.log(
      `KF kill -9 (${_name}): ${atKill}/${TOTAL} answered at the kill (${((killedAt - startedAt) / 1000).toFixed(1)} s), ${TOTAL} after the restart (${((doneAt - killedAt) / 1000).toFixed(1)} s more); client msgids resent (absorbed as repeats): ${api.kf.repeatedMsgIds - repeatsBefore}`,
    );
    if (env.REDIS_URL) return;
    // Once the cursor is past them, the answered marks are gone: the file stays small.
    const file = JSON.parse(readFileSync(Object.values(env)[0]!, 'utf8')) as { entries: [string, string][] };
    expect(file.entries.filter(([key]) => key.startsWith('kf:done:'))).toEqual([]);
    expect(file.entries.some(([key]) => key === `kf:cursor:wecomKf:${openKfId}`)).toBe(true);
  }, 300_000);
});
