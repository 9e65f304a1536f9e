import { randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { FileStore, MemoryStore } from '../src/index.ts';
import { storeContract } from './storeContract.ts';
import { heapAfterGc } from './helpers.ts';

// RedisStore lives in @wxbot/redis and runs the same contract in packages/redis/test.
let tempDir = '';

beforeAll(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'wxbot-store-'));
});

afterAll(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

storeContract({ name: 'MemoryStore', single: true, create: () => ({ store: new MemoryStore() }) });
storeContract({
  name: 'FileStore',
  create: () => {
    const path = join(tempDir, `${randomUUID()}.json`);
    return { store: new FileStore({ path }), reopen: () => new FileStore({ path }) };
  },
});

describe('MemoryStore', () => {
  it('stays within maxEntries, dropping the least recently used keys', async () => {
    const store = new MemoryStore({ maxEntries: 1000 });
    for (let i = 0; i < 10_000; i++) await store.set(`msg:${i}`, '1');
    expect(store.size).toBeLessThanOrEqual(1000);
    expect(await store.get('msg:9999')).toBe('1');
    expect(await store.get('msg:0')).toBeUndefined();
  });

  it('allocates a space only once a key of it is used (an LRU takes its maximum up front)', async () => {
    const before = heapAfterGc();
    // Ten stores of default sizes: 100 000 main keys, 100 000 dedup marks and 100 000 answers each.
    const stores = Array.from({ length: 10 }, () => new MemoryStore());
    const unused = heapAfterGc() - before;
    for (const store of stores) await store.set('dedup:{oa:1}', '1');
    const used = heapAfterGc() - before;
    expect(stores.every((store) => store.size === 1)).toBe(true);
    // Made up front, the three spaces' key and value arrays were ~3.4 MB a store.
    expect(unused).toBeLessThan(1024 * 1024);
    expect(used).toBeGreaterThan(10 * 1024 * 1024); // each dedup: space made (1.6 MB of arrays)
  });

  it('refuses a size that would bound nothing (NaN, 0, a fraction)', () => {
    expect(() => new MemoryStore({ maxEntries: 0 })).toThrow(/maxEntries must be a whole number of at least 1, got 0/);
    expect(() => new MemoryStore({ spaces: { 'dedup:': Number.NaN } })).toThrow(/spaces\['dedup:'\] must be a whole number/);
    expect(() => new MemoryStore({ spaces: { 'dedup-answer:': 2.5 } })).toThrow(TypeError);
    expect(new MemoryStore({ spaces: { 'dedup:': 1 } })).toBeInstanceOf(MemoryStore);
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
    // The store's clock only (file writes stay real): 'brief' cannot expire before the test says
    // so, however long a busy machine takes to write the file.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const path = join(dir, 'store.json');
      const store = new FileStore({ path });
      await store.set('brief', 'v', 50);
      await store.set('kept', 'v');
      expect(await readFile(path, 'utf8')).toContain('brief');
      vi.setSystemTime(Date.now() + 100);
      await store.set('trigger', 'v');
      const text = await readFile(path, 'utf8');
      expect(text).not.toContain('brief');
      expect(text).toContain('kept');
    } finally {
      vi.useRealTimers();
    }
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
