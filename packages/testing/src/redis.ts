import { Redis } from 'ioredis';

/** Whether a Redis server answers PING at `url` (within about a second). */
export async function redisReachable(url = 'redis://127.0.0.1:6379'): Promise<boolean> {
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 1000 });
  probe.on('error', () => {});
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/**
 * Whether Redis-backed tests should run: always when `CI=true` (Redis is part of the machine
 * there, so a missing server must fail loudly), else only when one answers. Warns when skipping.
 */
export async function shouldRunRedisTests(what: string, url = 'redis://127.0.0.1:6379'): Promise<boolean> {
  if (process.env.CI === 'true' || (await redisReachable(url))) return true;
  console.warn(`${what} skipped: no Redis at ${url} (CI=true requires it)`);
  return false;
}
