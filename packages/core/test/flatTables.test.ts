import { LRUCache } from 'lru-cache';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KeptAnswers } from '../src/delivery/keptAnswers.ts';
import { FlatKeys, KEY_CHARS } from '../src/store/flatKeys.ts';
import { FlatLru } from '../src/store/flatLru.ts';
import { MemoryStore } from '../src/store/memory.ts';

/** A deterministic pseudo-random sequence (xorshift), so a failure replays. */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Keys as the dedup writes them, plus long ones and ones past Latin-1 (kept as strings). */
function keyOf(n: number): string {
  if (n % 97 === 0) return `dedup:渠道:${n}`;
  if (n % 89 === 0) return `dedup:${'long'.repeat(KEY_CHARS / 4)}:${n}`;
  return `dedup:officialAccount:${7_000_000_000_000_000_000n + BigInt(n)}`;
}

afterEach(() => vi.useRealTimers());

describe('FlatKeys', () => {
  it('finds every key it holds and none it does not, through growth, removals and reuse of slots', () => {
    const keys = new FlatKeys(5000, () => {});
    const held = new Map<string, number>();
    const next = random(7);
    for (let step = 0; step < 12_000; step++) {
      const key = keyOf(Math.floor(next() * 8000));
      const slot = keys.find(key);
      expect(slot >= 0).toBe(held.has(key));
      if (slot >= 0) {
        expect(slot).toBe(held.get(key));
        expect(keys.keyOf(slot)).toBe(key);
        if (next() < 0.5) {
          keys.remove(slot);
          held.delete(key);
        }
      } else {
        if (keys.full) {
          const oldest = keys.oldest;
          held.delete(keys.keyOf(oldest));
          keys.remove(oldest);
        }
        held.set(key, keys.add(key));
      }
      if (keys.size !== held.size) expect(keys.size).toBe(held.size);
    }
    for (const [key, slot] of held) expect(keys.find(key)).toBe(slot);
  });

  it('keeps its keys least to most recent (touch moves one to the end)', () => {
    const keys = new FlatKeys(10, () => {});
    const slots = ['a', 'b', 'c', 'd'].map((k) => keys.add(k));
    keys.touch(slots[1]!);
    keys.remove(slots[2]!);
    const order: string[] = [];
    for (let slot = keys.oldest; slot >= 0; slot = keys.newerThan(slot)) order.push(keys.keyOf(slot));
    expect(order).toEqual(['a', 'd', 'b']);
  });

  it('tells keys with the same characters apart by their length, and holds at most its capacity', () => {
    const keys = new FlatKeys(3, () => {});
    keys.add('dedup:x:1');
    keys.add('dedup:x:10');
    keys.add('');
    expect(keys.find('dedup:x:1')).not.toBe(keys.find('dedup:x:10'));
    expect(keys.find('')).toBeGreaterThanOrEqual(0);
    expect(keys.full).toBe(true);
    expect(() => keys.add('dedup:x:2')).toThrow(/full/);
  });
});

describe('FlatLru', () => {
  it('answers every read, write and delete as lru-cache does (random operations, TTLs, eviction)', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    vi.advanceTimersByTime(1000); // lru-cache takes a start time of 0 for none
    for (const seed of [1, 2, 3]) {
      const max = 100;
      const flat = new FlatLru(max);
      const lru = new LRUCache<string, string>({ max, ttlAutopurge: false, ttlResolution: 0, perf: { now: () => performance.now() } });
      const next = random(seed);
      for (let step = 0; step < 20_000; step++) {
        const key = keyOf(Math.floor(next() * 600));
        const op = next();
        const same = (a: unknown, b: unknown) => a === b || expect(a).toBe(b);
        if (op < 0.4) same(flat.get(key), lru.get(key));
        else if (op < 0.5) same(flat.has(key), lru.has(key));
        else if (op < 0.9) {
          const ttl = next() < 0.2 ? undefined : Math.floor(next() * 50);
          const value = next() < 0.8 ? '\u0000answered' : `v${step}`;
          flat.set(key, value, ttl === undefined ? {} : { ttl });
          lru.set(key, value, ttl === undefined ? {} : { ttl });
        } else if (op < 0.97) same(flat.delete(key), lru.delete(key));
        else if (op < 0.98) {
          flat.purgeStale();
          lru.purgeStale();
        } else vi.advanceTimersByTime(Math.floor(next() * 20));
        same(flat.size, lru.size);
      }
      for (let n = 0; n < 600; n++) expect(flat.get(keyOf(n))).toBe(lru.get(keyOf(n)));
    }
  });

  it("is the MemoryStore's dedup space: marks written there read back, bounded, through the Store interface", async () => {
    const store = new MemoryStore({ spaces: { 'dedup:': 1000 } });
    for (let i = 0; i < 1500; i++) await store.set(keyOf(i), `m${i}`, 60_000);
    expect(store.size).toBe(1000);
    expect(await store.get(keyOf(499))).toBeUndefined();
    expect(await store.get(keyOf(500))).toBe('m500');
    expect(await store.setIfAbsent(keyOf(1499), 'again', 60_000)).toBe(false);
    await store.delete(keyOf(1499));
    expect(await store.get(keyOf(1499))).toBeUndefined();
    expect(store.limitOf('dedup:')).toBe(1000);
  });
});

describe('KeptAnswers in a ring', () => {
  /** The same answers in a plain model: insertion order, age, count. */
  function model(lifetimeMs: number, max: number) {
    const kept = new Map<string, { body: string; at: number }>();
    const expire = (now: number) => {
      for (const [key, a] of kept) if (now - a.at > lifetimeMs) kept.delete(key);
    };
    return {
      set(key: string, body: string, now: number) {
        expire(now);
        kept.delete(key);
        if (kept.size >= max) kept.delete(kept.keys().next().value!);
        kept.set(key, { body, at: now });
      },
      get(key: string, now: number) {
        expire(now);
        return kept.get(key)?.body;
      },
      size(now: number) {
        expire(now);
        return kept.size;
      },
    };
  }

  it('gives back what the model does, through wrap-arounds and growth (sizes from empty to 20 KB, Chinese, emoji)', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const answers = new KeptAnswers(1000, 400);
    const expected = model(1000, 400);
    const next = random(11);
    const bodies = ['', 'success', '<xml><Content><![CDATA[您好 😀 营业时间 9:00–21:00]]></Content></xml>'];
    for (let step = 0; step < 30_000; step++) {
      const key = keyOf(Math.floor(next() * 900));
      const now = performance.now();
      if (next() < 0.5) {
        const r = next();
        const body = r < 0.3 ? bodies[step % 3]! : r < 0.99 ? `<xml>${'答'.repeat(Math.floor(next() * 400))}${step}</xml>` : 'x'.repeat(20_000 + step);
        answers.set(key, body);
        expected.set(key, body, now);
      } else expect(answers.get(key)).toBe(expected.get(key, now));
      if (step % 100 === 0) expect(answers.size).toBe(expected.size(now));
      vi.advanceTimersByTime(Math.floor(next() * 8));
    }
  });

  it('drops an answer once its lifetime is over', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const answers = new KeptAnswers(60_000, 10);
    answers.set('k', 'a');
    vi.advanceTimersByTime(60_000);
    expect(answers.get('k')).toBe('a');
    vi.advanceTimersByTime(1);
    expect(answers.get('k')).toBeUndefined();
  });
});
