import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FileStore, MemoryStore, RedisStore, getJson, setJson, type Store } from '../src/index.ts';
import { redisReachable } from '@wxbot/testing';

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

let tempDir = '';
let redisTestCount = 0;

/** One Store implementation, as the contract suite sees it. */
interface Harness {
  name: string;
  /** A fresh, empty store; `reopen` opens another instance over the same data, where that exists. */
  create(): { store: Store; reopen?: () => Store };
}

const harnesses: Harness[] = [
  { name: 'MemoryStore', create: () => ({ store: new MemoryStore() }) },
  {
    name: 'FileStore',
    create: () => {
      const path = join(tempDir, `${randomUUID()}.json`);
      return { store: new FileStore({ path }), reopen: () => new FileStore({ path }) };
    },
  },
];
if (runRedis) {
  harnesses.push({
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

beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'wxbot-store-'));
});

afterAll(async () => {
  await rm(tempDir, { recursive: true, force: true });
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

describe.each(harnesses)('$name (Store contract)', (harness) => {
  let store: Store;
  let reopen: (() => Store) | undefined;
  let opened: Store[] = [];

  beforeEach(() => {
    const created = harness.create();
    store = created.store;
    opened.push(store);
    reopen = created.reopen && (() => {
      const other = created.reopen!();
      opened.push(other);
      return other;
    });
  });

  afterEach(async () => {
    await Promise.all(opened.map((s) => s.close?.()));
    opened = [];
  });

  it('gets, sets, overwrites and deletes', async () => {
    expect(await store.get('missing')).toBeUndefined();
    await store.set('k', 'v1');
    expect(await store.get('k')).toBe('v1');
    await store.set('k', 'v2');
    expect(await store.get('k')).toBe('v2');
    await store.set('empty', '');
    expect(await store.get('empty')).toBe('');
    await store.set('unicode', '客服 cursor ✓');
    expect(await store.get('unicode')).toBe('客服 cursor ✓');
    await store.delete('k');
    expect(await store.get('k')).toBeUndefined();
    await expect(store.delete('never-set')).resolves.toBeUndefined();
  });

  it('round-trips JSON through getJson and setJson', async () => {
    await setJson(store, 'json', { cursor: 'abc', n: 3 });
    expect(await getJson(store, 'json')).toEqual({ cursor: 'abc', n: 3 });
    expect(await getJson(store, 'no-json')).toBeUndefined();
  });

  it('expires keys after their TTL, and a later set without TTL keeps the key', async () => {
    await store.set('short', 'v', 100);
    expect(await store.setIfAbsent('nx-short', 'v', 100)).toBe(true);
    await store.set('forever', 'v');
    await store.set('renewed', 'old', 100);
    await store.set('renewed', 'new');
    expect(await store.get('short')).toBe('v');
    await sleep(180);
    expect(await store.get('short')).toBeUndefined();
    expect(await store.get('nx-short')).toBeUndefined();
    expect(await store.get('forever')).toBe('v');
    expect(await store.get('renewed')).toBe('new');
    // An expired key is absent for setIfAbsent too.
    expect(await store.setIfAbsent('nx-short', 'again')).toBe(true);
    expect(await store.get('nx-short')).toBe('again');
  });

  it('setIfAbsent: exactly one of 50 concurrent callers wins, and it never overwrites', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, (_, i) => store.setIfAbsent('race', `caller-${i}`, 5_000)));
    const winners = results.flatMap((won, i) => (won ? [i] : []));
    expect(winners).toHaveLength(1);
    expect(await store.get('race')).toBe(`caller-${winners[0]}`);

    await store.set('taken', 'first');
    expect(await store.setIfAbsent('taken', 'second')).toBe(false);
    expect(await store.get('taken')).toBe('first');
  });

  it('lock: exactly one of 50 concurrent callers holds it until release', async () => {
    const releases = await Promise.all(Array.from({ length: 50 }, () => store.lock('job', 5_000)));
    const held = releases.filter((release) => release !== undefined);
    expect(held).toHaveLength(1);
    expect(await store.lock('job', 5_000)).toBeUndefined();
    await held[0]!();
    const again = await store.lock('job', 5_000);
    expect(again).toBeTypeOf('function');
    await again!();
    // Releasing twice is harmless.
    await again!();
  });

  it('lock: expires after its TTL, and a stale release does not free the next holder', async () => {
    const stale = await store.lock('lease', 80);
    expect(stale).toBeTypeOf('function');
    await sleep(150);
    const current = await store.lock('lease', 5_000);
    expect(current).toBeTypeOf('function');
    await stale!();
    expect(await store.lock('lease', 5_000)).toBeUndefined();
    await current!();
    expect(await store.lock('lease', 5_000)).toBeTypeOf('function');
  });

  // MemoryStore is neither durable nor shared, so it has no second instance to open.
  if (harness.name !== 'MemoryStore') it('a second instance over the same data sees the writes', async () => {
    await store.set('kept', 'v');
    await store.set('gone', 'v');
    await store.delete('gone');
    await store.set('brief', 'v', 100);
    await setJson(store, 'kf:cursor', { cursor: 'c-42' });
    // Closing first shows the data outlives the instance that wrote it.
    await store.close?.();

    const other = reopen!();
    expect(await other.get('kept')).toBe('v');
    expect(await other.get('gone')).toBeUndefined();
    expect(await getJson(other, 'kf:cursor')).toEqual({ cursor: 'c-42' });
    expect(await other.setIfAbsent('kept', 'other')).toBe(false);
    await sleep(180);
    expect(await other.get('brief')).toBeUndefined();
  });
});

describe('MemoryStore', () => {
  it('stays within maxEntries, dropping the least recently used keys', async () => {
    const store = new MemoryStore({ maxEntries: 1000 });
    for (let i = 0; i < 10_000; i++) await store.set(`msg:${i}`, '1');
    expect(store.size).toBeLessThanOrEqual(1000);
    expect(await store.get('msg:9999')).toBe('1');
    expect(await store.get('msg:0')).toBeUndefined();
  });
});

describe('FileStore', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'wxbot-filestore-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates missing directories and keeps keys like __proto__ as plain data', async () => {
    const path = join(dir, 'nested', 'deeper', 'store.json');
    const store = new FileStore({ path });
    await store.set('__proto__', 'p');
    await store.set('constructor', 'c');
    const reopened = new FileStore({ path });
    expect(await reopened.get('__proto__')).toBe('p');
    expect(await reopened.get('constructor')).toBe('c');
    expect(await reopened.get('toString')).toBeUndefined();
  });

  it('never exposes a half-written file to readers and leaves no temp files', async () => {
    const path = join(dir, 'store.json');
    const store = new FileStore({ path });
    let reading = true;
    let reads = 0;
    // Read the file over and over while writes land: every read must parse, because each
    // write replaces the file with a rename.
    const reader = (async () => {
      while (reading) {
        const text = await readFile(path, 'utf8').catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return undefined;
          throw error;
        });
        if (text !== undefined) {
          JSON.parse(text);
          reads++;
        }
        await sleep(0);
      }
    })();
    // 30 waves of 10 concurrent sets: many renames for the reader to race, each shared by a wave.
    for (let wave = 0; wave < 30; wave++) {
      await Promise.all(Array.from({ length: 10 }, (_, j) => store.set(`key:${wave * 10 + j}`, `value:${wave * 10 + j}`.repeat(20))));
      await sleep(1);
    }
    reading = false;
    await reader;
    expect(reads).toBeGreaterThan(0);

    const onDisk = JSON.parse(await readFile(path, 'utf8')) as { entries: [string, string, number | null][] };
    expect(onDisk.entries).toHaveLength(300);
    expect(await readdir(dir)).toEqual(['store.json']);
    const reopened = new FileStore({ path });
    expect(await reopened.get('key:299')).toBe('value:299'.repeat(20));
  });

  it('prunes expired keys from the file', async () => {
    const path = join(dir, 'store.json');
    const store = new FileStore({ path });
    await store.set('brief', 'v', 50);
    await store.set('kept', 'v');
    expect(await readFile(path, 'utf8')).toContain('brief');
    await sleep(100);
    await store.set('trigger', 'v');
    const text = await readFile(path, 'utf8');
    expect(text).not.toContain('brief');
    expect(text).toContain('kept');
  });

  it('refuses a file it cannot parse instead of overwriting it', async () => {
    const path = join(dir, 'store.json');
    await mkdir(dir, { recursive: true });
    await writeFile(path, '{ not json');
    const store = new FileStore({ path });
    await expect(store.get('k')).rejects.toThrow(/is not a wxbot store file/);
    await expect(store.set('k', 'v')).rejects.toThrow(/is not a wxbot store file/);
    expect(await readFile(path, 'utf8')).toBe('{ not json');
  });
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
