import { createRequire } from 'node:module';
import type { Redis } from 'ioredis';
import { afterAll, describe, expect, it } from 'vitest';
import { ANSWER_TTL_MS, CallbackDedup, answerKeyOf, dedupKeyOf } from '../../core/src/delivery/dedup.ts';
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

/** A process's dedup: its own store on the shared Redis and prefix, and the commands its connection sends. */
function instance(waitMs = 4_500): { dedup: CallbackDedup; sent: string[] } {
  const store = new RedisStore({ url: 'redis://127.0.0.1:6379', prefix, durable: false });
  stores.push(store);
  const client = store.client as Redis & { sendCommand: (command: { name: string }, ...rest: unknown[]) => unknown };
  const sent: string[] = [];
  const send = client.sendCommand.bind(client);
  client.sendCommand = (command, ...rest) => {
    sent.push(command.name);
    return send(command, ...rest);
  };
  return { dedup: new CallbackDedup(store, 300_000, waitMs), sent };
}

/** The name a key has in Redis (the store's prefix). */
const inRedis = (key: string) => `${prefix}${key}`;

describe.runIf(run)('CallbackDedup on Redis, two processes', () => {
  it('one command a step: claim (SET NX), answer with its mark (one script), a retry elsewhere reads both at once (MGET)', async () => {
    const a = instance();
    const b = instance();
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
    expect(await redis.pttl(inRedis('dedup:oa:2'))).toBeGreaterThan(ANSWER_TTL_MS);
    const answerTtl = await redis.pttl(inRedis(answerKeyOf('dedup:oa:2')));
    expect(answerTtl).toBeGreaterThan(0);
    expect(answerTtl).toBeLessThanOrEqual(ANSWER_TTL_MS);
    // `success` is the mark itself: one SET, no answer key.
    await a.dedup.claim('dedup:oa:3');
    a.sent.length = 0;
    await a.dedup.complete('dedup:oa:3', 'success');
    expect(a.sent).toEqual(['set']);
    expect(await redis.exists(inRedis(answerKeyOf('dedup:oa:3')))).toBe(0);
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
    const key = dedupKeyOf('wecomApp', '7123456789');
    await a.dedup.claim(key);
    await a.dedup.complete(key, '<xml>答复</xml>');
    expect([await redis.exists(inRedis(key)), await redis.exists(inRedis(answerKeyOf(key)))]).toEqual([1, 1]);
    // Any channel name and message id, braces in them included, and a prefix with a hash tag of its own.
    for (const [channel, id] of [
      ['officialAccount', '1'],
      ['oa', 'a}b'],
      ['oa', '{x}'],
      ['a}b', 'wm{'],
      ['{', '}{'],
      ['kf', '客服:123'],
    ]) {
      const mark = dedupKeyOf(channel!, id!);
      for (const p of ['', 'wxbot:', 'wxbot:{tenant}:']) expect(slotOf(`${p}${answerKeyOf(mark)}`)).toBe(slotOf(`${p}${mark}`));
    }
    // Without the tag, a mark and its answer were in different slots.
    expect(slotOf(answerKeyOf('dedup:wecomApp:7123456789'))).not.toBe(slotOf('dedup:wecomApp:7123456789'));
  });
});
