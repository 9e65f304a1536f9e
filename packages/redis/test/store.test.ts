import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { redisReachable } from '@wxbot/testing';
import { storeContract } from '../../core/test/storeContract.ts';
import { RedisStore } from '../src/index.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
/** Every Redis key this run writes starts with this, so afterAll can remove exactly ours. */
const RUN_PREFIX = `wxbot-test:${randomUUID()}:`;
// In CI Redis is part of the environment, so its tests run (and fail loudly) even when the
// probe fails; locally they are skipped when there is no server.
const runRedis = process.env.CI === 'true' || (await redisReachable(REDIS_URL));

/** A plain client for checking what the stores wrote; fails fast if Redis is down (CI). */
function testClient(): Redis {
  const client = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  client.on('error', () => undefined);
  return client;
}

let redisTestCount = 0;
if (runRedis) {
  storeContract({
    name: 'RedisStore',
    create: () => {
      const prefix = `${RUN_PREFIX}${++redisTestCount}:`;
      return { store: new RedisStore({ url: REDIS_URL, prefix }), reopen: () => new RedisStore({ url: REDIS_URL, prefix }) };
    },
  });
} else {
  console.warn('RedisStore tests skipped: no Redis at 127.0.0.1:6379 (set CI=true to require it).');
  describe.skip('RedisStore: skipped, no Redis at 127.0.0.1:6379 (set CI=true to require it)', () => {
    it('contract', () => undefined);
  });
}

afterAll(async () => {
  if (!runRedis) return;
  const admin = testClient();
  try {
    // The default-prefix test writes under `wxbot:` + RUN_PREFIX.
    for (const pattern of [`${RUN_PREFIX}*`, `wxbot:${RUN_PREFIX}*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await admin.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        if (keys.length > 0) await admin.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    admin.disconnect();
  }
});

describe('RedisStore', () => {
  it('rejects with a clear error when the server is unreachable, without crashing', async () => {
    // Port 1 refuses connections; the store must turn that into rejections, not an 'error' crash.
    const store = new RedisStore({ url: 'redis://127.0.0.1:1', prefix: RUN_PREFIX });
    await expect(store.get('k')).rejects.toThrow(/RedisStore: GET failed: .*ECONNREFUSED/);
    await expect(store.lock('k', 1_000)).rejects.toThrow(/RedisStore: lock failed/);
    await expect(store.close()).resolves.toBeUndefined();
  });

  describe.runIf(runRedis)('against 127.0.0.1:6379', () => {
    let admin: Redis;
    let stores: RedisStore[] = [];
    const open = (prefix: string) => {
      const store = new RedisStore({ url: REDIS_URL, prefix });
      stores.push(store);
      return store;
    };

    beforeAll(() => {
      admin = testClient();
    });
    afterAll(() => {
      admin.disconnect();
    });
    afterEach(async () => {
      await Promise.all(stores.map((s) => s.close()));
      stores = [];
    });

    it('two instances share keys and locks', async () => {
      const prefix = `${RUN_PREFIX}shared:`;
      const a = open(prefix);
      const b = open(prefix);
      await a.set('k', 'from-a');
      expect(await b.get('k')).toBe('from-a');
      expect(await b.setIfAbsent('k', 'from-b')).toBe(false);
      const release = await a.lock('job', 5_000);
      expect(release).toBeTypeOf('function');
      expect(await b.lock('job', 5_000)).toBeUndefined();
      await release!();
      const releaseB = await b.lock('job', 5_000);
      expect(releaseB).toBeTypeOf('function');
      await releaseB!();
    });

    it('namespaces keys with the prefix and sets TTLs in Redis', async () => {
      const p1 = `${RUN_PREFIX}p1:`;
      const store = open(p1);
      const other = open(`${RUN_PREFIX}p2:`);
      await store.set('k', 'v', 10_000);
      expect(await other.get('k')).toBeUndefined();
      expect(await admin.get(`${p1}k`)).toBe('v');
      const pttl = await admin.pttl(`${p1}k`);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(10_000);
    });

    it('uses the wxbot: prefix by default', async () => {
      const key = `${RUN_PREFIX}default-prefix`;
      const store = new RedisStore({ url: REDIS_URL });
      stores.push(store);
      await store.set(key, 'v');
      expect(await admin.get(`wxbot:${key}`)).toBe('v');
      await store.delete(key);
    });

    it('leaves a client it did not create open on close', async () => {
      const client = testClient();
      const store = new RedisStore({ client, prefix: `${RUN_PREFIX}client:` });
      await store.set('k', 'v');
      await store.close();
      expect(await client.ping()).toBe('PONG');
      expect(await client.get(`${RUN_PREFIX}client:k`)).toBe('v');
      await client.quit();
    });
  });
});
