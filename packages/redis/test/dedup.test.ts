import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { ANSWER_TTL_MS, CallbackDedup, answerKeyOf, storedMarkKeyOf } from '../../core/src/delivery/dedup.ts';
import { RedisStore } from '../src/index.ts';
import { redisTestConnection } from './fixture.ts';

/** Redis Cluster's hash slot of a key (CRC16 of its {hash tag}, or of the whole key), as ioredis computes it. */
const slotOf = createRequire(import.meta.url)('cluster-key-slot') as (key: string) => number;

// Callback dedup over Redis, as two bot processes sharing it see it: each its own RedisStore (own connection).
const { prefix, run, redis } = await redisTestConnection('Redis dedup tests');
const stores: RedisStore[] = [];
afterAll(async () => {
  await Promise.all(stores.map((s) => s.close()));
});
afterEach(() => {
  vi.useRealTimers();
});

/**
 * A process's dedup: its own store on the shared Redis and prefix, and the commands its
 * connection sends. `startedAgo`: how long ago the process started (past the dedup TTL, 300 s
 * here, it no longer looks for marks under the names of before hash tags).
 */
function instance(waitMs = 4_500, startedAgo = 0): { dedup: CallbackDedup; sent: string[] } {
  const store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix, durable: false });
  stores.push(store);
  const client = store.client as Redis & { sendCommand: (command: { name: string }, ...rest: unknown[]) => unknown };
  const sent: string[] = [];
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, ...rest) => {
    sent.push(command.name);
    return send(command, ...rest);
  };
  if (startedAgo > 0) vi.useFakeTimers({ toFake: ['Date'], now: Date.now() - startedAgo });
  const dedup = new CallbackDedup(store, 300_000, waitMs);
  vi.useRealTimers();
  return { dedup, sent };
}

/** The name a key has in Redis (the store's prefix). */
const inRedis = (key: string) => `${prefix}${key}`;

describe.runIf(run)('CallbackDedup on Redis, two processes', () => {
  it('one command a step: claim (SET NX), answer with its mark (one script), a retry elsewhere reads both at once (MGET)', async () => {
    // Processes started over a dedup TTL ago: no look at the names of before (see below).
    const a = instance(4_500, 400_000);
    const b = instance(4_500, 400_000);
    // Connects, and loads the script where the server does not know it yet; counted from here.
    await a.dedup.claim('dedup:oa:1');
    await a.dedup.complete('dedup:oa:1', 'x');
    a.sent.length = 0;
    expect(await a.dedup.claim('dedup:oa:2')).toEqual({ first: true });
    expect(a.sent).toEqual(['set']);
    a.sent.length = 0;
    // A retry in the other process while the first is in flight: not handled again, it waits for the answer.
    const retry = await b.dedup.claim('dedup:oa:2');
    expect(retry.first).toBe(false);
    b.sent.length = 0;
    await a.dedup.complete('dedup:oa:2', '<xml>答复</xml>');
    expect(a.sent).toEqual(['evalsha']);
    expect(retry.first === false && (await retry.response)).toBe('<xml>答复</xml>');
    expect(b.sent.every((name) => name === 'mget')).toBe(true);
    expect(b.sent.length).toBeGreaterThan(0);
    // A later retry: one look, both keys.
    b.sent.length = 0;
    const later = await b.dedup.claim('dedup:oa:2');
    expect(later.first === false && (await later.response)).toBe('<xml>答复</xml>');
    expect(b.sent).toEqual(['set', 'mget']);
    // Mark for the dedup TTL, answer for ANSWER_TTL_MS.
    expect(await redis.pttl(inRedis('dedup:{oa:2}'))).toBeGreaterThan(ANSWER_TTL_MS);
    const answerTtl = await redis.pttl(inRedis('dedup-answer:{oa:2}'));
    expect(answerTtl).toBeGreaterThan(0);
    expect(answerTtl).toBeLessThanOrEqual(ANSWER_TTL_MS);
    // `success` is the mark itself: one SET, no answer key.
    await a.dedup.claim('dedup:oa:3');
    a.sent.length = 0;
    await a.dedup.complete('dedup:oa:3', 'success');
    expect(a.sent).toEqual(['set']);
    expect(await redis.exists(inRedis('dedup-answer:{oa:3}'))).toBe(0);
    const again = await b.dedup.claim('dedup:oa:3');
    expect(again.first === false && (await again.response)).toBe('success');
  });

  it('a delivery still in flight elsewhere when the wait ends is reported stale, not handled a second time', async () => {
    const a = instance();
    const b = instance(200);
    expect(await a.dedup.claim('dedup:oa:held')).toEqual({ first: true });
    const retry = await b.dedup.claim('dedup:oa:held');
    expect(retry.first === false && (await retry.response)).toBe(CallbackDedup.STALE);
  });

  it("a message's mark and answer share a Redis Cluster hash slot (the script and the MGET that take both are refused across slots)", async () => {
    const a = instance();
    await a.dedup.claim('dedup:wecomApp:7123456789');
    await a.dedup.complete('dedup:wecomApp:7123456789', '<xml>答复</xml>');
    const mark = inRedis(storedMarkKeyOf('dedup:wecomApp:7123456789'));
    const answer = inRedis(answerKeyOf(storedMarkKeyOf('dedup:wecomApp:7123456789')));
    expect([await redis.exists(mark), await redis.exists(answer)]).toEqual([1, 1]);
    expect(slotOf(answer)).toBe(slotOf(mark));
    // The names of before were in different slots.
    expect(slotOf(inRedis(answerKeyOf('dedup:wecomApp:7123456789')))).not.toBe(slotOf(inRedis('dedup:wecomApp:7123456789')));
    // Any message id, braces in it included, and a prefix with a hash tag of its own.
    for (const id of ['1', 'a}b', '{x}', 'wm{', '}{', '客服:123']) {
      const key = storedMarkKeyOf(`dedup:officialAccount:${id}`);
      for (const p of ['', 'wxbot:', 'wxbot:{tenant}:']) expect(slotOf(`${p}${answerKeyOf(key)}`)).toBe(slotOf(`${p}${key}`));
    }
  });

  it('marks under the names of before hash tags (an earlier version, a restart ago) are still answered from, for one dedup TTL', async () => {
    // As the earlier version left them: one message answered, one still in flight.
    await redis.set(inRedis('dedup:oa:old-answered'), '\u0000answered', 'PX', 300_000);
    await redis.set(inRedis('dedup-answer:oa:old-answered'), '<xml>那时的答复</xml>', 'PX', 60_000);
    await redis.set(inRedis('dedup:oa:old-success'), 'success', 'PX', 300_000);
    await redis.set(inRedis('dedup:oa:old-pending'), '\u0000pending', 'PX', 300_000);
    const a = instance();
    const answered = await a.dedup.claim('dedup:oa:old-answered');
    expect(answered.first === false && (await answered.response)).toBe('<xml>那时的答复</xml>');
    const success = await a.dedup.claim('dedup:oa:old-success');
    expect(success.first === false && (await success.response)).toBe('success');
    // The claim under the new name was taken back: later retries follow the old mark too.
    expect(await redis.exists(inRedis('dedup:{oa:old-answered}'))).toBe(0);
    const again = await instance().dedup.claim('dedup:oa:old-answered');
    expect(again.first === false && (await again.response)).toBe('<xml>那时的答复</xml>');
    // In flight in the earlier version's process: the retry waits for its answer there.
    const pending = await a.dedup.claim('dedup:oa:old-pending');
    expect(pending.first).toBe(false);
    await redis.set(inRedis('dedup-answer:oa:old-pending'), '<xml>晚一点</xml>', 'PX', 60_000);
    await redis.set(inRedis('dedup:oa:old-pending'), '\u0000answered', 'PX', 300_000);
    expect(pending.first === false && (await pending.response)).toBe('<xml>晚一点</xml>');
    // A new message: claimed, one look at each name, at once.
    a.sent.length = 0;
    expect(await a.dedup.claim('dedup:oa:new')).toEqual({ first: true });
    expect(a.sent.sort()).toEqual(['get', 'set']);
    // A dedup TTL after the process started, no old mark can be left: the old names are not read.
    const later = instance(4_500, 400_000);
    await later.dedup.claim('dedup:oa:connects'); // the connection's own commands
    later.sent.length = 0;
    expect(await later.dedup.claim('dedup:oa:old-success')).toEqual({ first: true });
    expect(later.sent).toEqual(['set']);
  });
});
