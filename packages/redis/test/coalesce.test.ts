import type { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { coalesceWrites } from '../src/durable/coalesce.ts';
import { redisTestConnection } from './fixture.ts';

const { prefix: PREFIX, run, redis } = await redisTestConnection('coalesceWrites tests', { lazyConnect: true });

/** Counts the writes that reach the connection's socket (one system call each). */
function countWrites(client: Redis): { readonly count: number } {
  const socket = client.stream as unknown as { _write: (...a: unknown[]) => void; _writev: (...a: unknown[]) => void };
  const counter = { count: 0 };
  const write = socket._write.bind(socket);
  const writev = socket._writev.bind(socket);
  socket._write = (...args) => {
    counter.count += 1;
    write(...args);
  };
  socket._writev = (...args) => {
    counter.count += 1;
    writev(...args);
  };
  return counter;
}

describe.runIf(run)('coalesceWrites (real Redis)', () => {
  it('the commands of one turn leave in one write, answered each as before; later turns write again', async () => {
    // Offline until connected: commands queued before then still go out.
    coalesceWrites(redis);
    const early = redis.set(`${PREFIX}early`, 'e');
    await redis.connect().catch(() => undefined);
    expect(await early).toBe('OK');
    redis.defineCommand('coalesceTestEcho', { numberOfKeys: 1, lua: "return {KEYS[1], ARGV[1], redis.call('INCR', KEYS[1])}" });
    const writes = countWrites(redis);
    const key = `${PREFIX}n`;
    const answers = await Promise.all([
      redis.set(`${PREFIX}a`, '1'),
      redis.get(`${PREFIX}early`),
      (redis as unknown as { coalesceTestEcho(k: string, a: string): Promise<unknown> }).coalesceTestEcho(key, 'x'),
      redis.incr(key),
      redis.get(key),
    ]);
    expect(answers).toEqual(['OK', 'e', [key, 'x', 1], 2, '2']);
    expect(writes.count).toBe(1);
    // A command issued from a continuation of those answers: a turn of its own.
    expect(await redis.incr(key)).toBe(3);
    expect(writes.count).toBe(2);
    // A failing command fails alone.
    const [bad, good] = await Promise.allSettled([redis.incr(`${PREFIX}early`), redis.get(key)]);
    expect(bad.status).toBe('rejected');
    expect(good).toEqual({ status: 'fulfilled', value: '3' });
    expect(writes.count).toBe(3);
  });
});
