import { describe, expect, it } from 'vitest';
import { AccessToken } from '../src/protocol.ts';
import { MemoryStore, type Store } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

/** A store that is down: every call rejects, as RedisStore's do during an outage. */
const downStore: Store = {
  get: () => Promise.reject(new Error('RedisStore: GET failed: not connected')),
  set: () => Promise.reject(new Error('RedisStore: SET failed: not connected')),
  setIfAbsent: () => Promise.reject(new Error('RedisStore: SET NX failed: not connected')),
  delete: () => Promise.reject(new Error('RedisStore: DEL failed: not connected')),
  lock: () => Promise.reject(new Error('RedisStore: lock failed: not connected')),
};

let fetches = 0;
const fetch = async () => ({ accessToken: `token-${++fetches}`, expiresIn: 7200 });

describe('access token locks and store outages', () => {
  it("takes over a dead instance's refresh lock after its short TTL instead of failing, with a log line", async () => {
    const store = new MemoryStore();
    const logs = captureLogger();
    // A "dead instance": it took the refresh lock and will neither renew nor release it.
    await store.lock('tok:dead:lock', 800);
    const token = new AccessToken({ key: 'tok:dead', store, log: logs.log, fetch, lockTtlMs: 400, lockWaitMs: 5000 });
    await expect(token.get()).resolves.toMatch(/^token-/);
    expect(logs.lines.some((l) => String(l['msg']).startsWith('token refresh lock taken over'))).toBe(true);
  });

  it('a live refresher keeps the lock through a slow fetch (heartbeat): waiters get its token, no second fetch', async () => {
    const store = new MemoryStore();
    const logs = captureLogger();
    let slowFetches = 0;
    const slow = async () => {
      slowFetches += 1;
      await new Promise((resolve) => setTimeout(resolve, 1200));
      return { accessToken: 'slow-token', expiresIn: 7200 };
    };
    const a = new AccessToken({ key: 'tok:slow', store, log: logs.log, fetch: slow, lockTtlMs: 300 });
    const b = new AccessToken({ key: 'tok:slow', store, log: logs.log, fetch: slow, lockTtlMs: 300 });
    const [ta, tb] = await Promise.all([a.get(), new Promise((r) => setTimeout(r, 50)).then(() => b.get())]);
    expect([ta, tb]).toEqual(['slow-token', 'slow-token']);
    expect(slowFetches).toBe(1);
  });

  it('refreshes locally with one warning while the store is down', async () => {
    const logs = captureLogger();
    const token = new AccessToken({ key: 'tok:down', store: downStore, log: logs.log, fetch, refreshMarginMs: 0 });
    await expect(token.get()).resolves.toMatch(/^token-/);
    await token.invalidate(await token.get()).catch(() => {});
    await expect(token.get()).resolves.toMatch(/^token-/);
    expect(logs.lines.filter((l) => String(l['msg']).startsWith('store unavailable: refreshing the access token locally'))).toHaveLength(1);
  });
});
