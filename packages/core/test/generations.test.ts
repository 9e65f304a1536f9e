import { afterEach, describe, expect, it, vi } from 'vitest';
import { Generations } from '../src/delivery/generations.ts';

afterEach(() => vi.useRealTimers());

describe('Generations', () => {
  it('keeps an entry at least its lifetime, through the generations turning, and drops it a third later at most', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const entries = new Generations<string>(300_000, 100);
    entries.add('a', '1');
    for (let t = 0; t < 299_000; t += 50_000) {
      vi.advanceTimersByTime(50_000);
      entries.add(`b${t}`, '2'); // generations turn as time goes by and entries come
      expect(entries.get('a')).toBe('1');
    }
    vi.advanceTimersByTime(100_001); // 400 001 ms: past a lifetime and a third
    expect(entries.get('a')).toBeUndefined();
    expect(entries.get('b250000')).toBe('2'); // added 100 s ago
  });

  it('a long quiet time: everything goes, the youngest generation too', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const entries = new Generations<string>(30_000, 10);
    entries.add('a', '1');
    vi.advanceTimersByTime(39_999);
    expect(entries.get('a')).toBe('1');
    expect(entries.size).toBe(1);
    vi.advanceTimersByTime(10 * 60_000);
    expect(entries.get('a')).toBeUndefined();
    expect(entries.size).toBe(0);
    entries.add('b', '2');
    expect(entries.get('b')).toBe('2');
    expect(entries.size).toBe(1);
  });

  it('holds at most `max` entries and at least three quarters of them, the newest, dropping the oldest generation first', () => {
    const entries = new Generations<number>(60_000, 100);
    for (let i = 0; i < 1000; i++) {
      entries.add(`k${i}`, i);
      expect(entries.size).toBeLessThanOrEqual(100);
      if (i >= 100) expect(entries.size).toBeGreaterThanOrEqual(75);
    }
    const kept = Array.from({ length: 1000 }, (_, i) => entries.get(`k${i}`) !== undefined);
    const oldestKept = kept.indexOf(true);
    expect(kept.slice(oldestKept).every(Boolean)).toBe(true); // no hole: the newest, in order
    expect(oldestKept).toBeGreaterThanOrEqual(900);
    expect(oldestKept).toBeLessThanOrEqual(925);
    // Tiny tables too (a generation of one entry).
    const tiny = new Generations<number>(60_000, 3);
    for (let i = 0; i < 9; i++) tiny.add(`k${i}`, i);
    expect([5, 6, 7, 8].map((i) => tiny.get(`k${i}`))).toEqual([undefined, 6, 7, 8]);
  });

  it('tells of entries dropped for room inside their lifetime, not of those past it', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    let early = 0;
    const entries = new Generations<number>(30_000, 8, () => early++);
    for (let i = 0; i < 8; i++) entries.add(`old${i}`, i);
    vi.advanceTimersByTime(40_000); // past their lifetime and a third: gone whole
    for (let i = 0; i < 8; i++) entries.add(`new${i}`, i);
    expect(early).toBe(0);
    expect(entries.get('old7')).toBeUndefined();
    entries.add('one more', 8); // the oldest of the new ones go, live
    expect(early).toBe(1);
    expect(entries.get('new0')).toBeUndefined();
    expect(entries.get('new7')).toBe(7);
  });

  it('lifetimeAtLeast: a longer lifetime from then on', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const entries = new Generations<number>(30_000, 10);
    entries.lifetimeAtLeast(10_000); // shorter: no change
    entries.lifetimeAtLeast(90_000);
    entries.add('a', 1);
    vi.advanceTimersByTime(89_000);
    expect(entries.get('a')).toBe(1);
  });
});
