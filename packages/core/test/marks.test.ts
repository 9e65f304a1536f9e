import { afterEach, describe, expect, it, vi } from 'vitest';
import { CallbackDedup } from '../src/delivery/dedup.ts';
import { Marks } from '../src/delivery/marks.ts';
import { MemoryStore } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

afterEach(() => vi.useRealTimers());

describe('Marks', () => {
  it('a mark lives its TTL (to a second more), then reads as absent', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const marks = new Marks(300_000, 100);
    marks.set('a', 'answered');
    marks.set('b', 'success');
    vi.advanceTimersByTime(300_000);
    expect(marks.get('a')).toBe('answered');
    expect(marks.get('b')).toBe('success');
    expect(marks.get('c')).toBeUndefined();
    vi.advanceTimersByTime(1_001);
    expect(marks.get('a')).toBeUndefined();
  });

  it('holds at most `max` marks, dropping the oldest first; expired ones go from the front as new ones come', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const marks = new Marks(60_000, 3);
    for (let i = 0; i < 5; i++) marks.set(`k${i}`, 'success');
    expect(marks.size).toBe(3);
    expect([0, 1, 2, 3, 4].map((i) => marks.get(`k${i}`))).toEqual([undefined, undefined, 'success', 'success', 'success']);
    vi.advanceTimersByTime(70_000);
    marks.set('n0', 'answered'); // two expired go a write
    expect(marks.size).toBe(2);
    marks.set('n1', 'answered');
    expect(marks.size).toBe(2);
    expect(marks.get('n0')).toBe('answered');
  });

  it('an expired mark written again goes to the back, by its new age', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const marks = new Marks(10_000, 3);
    marks.set('a', 'success');
    vi.advanceTimersByTime(5_000);
    marks.set('b', 'success');
    vi.advanceTimersByTime(7_000); // a expired, b live
    expect(marks.get('a')).toBeUndefined();
    marks.set('a', 'answered');
    marks.set('c', 'success');
    marks.set('d', 'success'); // past max: b, now the oldest, goes; not the new a
    expect(['a', 'b', 'c', 'd'].map((k) => marks.get(k))).toEqual(['answered', undefined, 'success', 'success']);
  });

  it('tells of marks dropped for room inside their TTL, not of expired ones', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    let early = 0;
    const marks = new Marks(30_000, 2, () => early++);
    marks.set('old', 'success');
    vi.advanceTimersByTime(32_000);
    marks.set('a', 'success');
    marks.set('b', 'success');
    expect(early).toBe(0);
    marks.set('c', 'success');
    expect(early).toBe(1);
    expect(marks.get('a')).toBeUndefined();
  });

  it('ttlAtLeast: the longest TTL asked for', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const marks = new Marks(30_000, 10);
    marks.ttlAtLeast(10_000);
    marks.ttlAtLeast(90_000);
    marks.set('a', 'success');
    vi.advanceTimersByTime(89_000);
    expect(marks.get('a')).toBe('success');
  });
});

describe('CallbackDedup over a MemoryStore: marks beside the store', () => {
  it('a delivery in flight keeps its mark while a flood of new messages fills the space: its retry waits for it and is not run again', async () => {
    const store = new MemoryStore({ spaces: { 'dedup:': 5 } });
    const dedup = new CallbackDedup(store);
    expect(dedup.claim('dedup:{oa:slow}')).toEqual({ first: true });
    for (let i = 0; i < 20; i++) {
      expect(dedup.claim(`dedup:{oa:${i}}`)).toEqual({ first: true });
      dedup.complete(`dedup:{oa:${i}}`, 'success');
    }
    const retry = dedup.claim('dedup:{oa:slow}');
    expect(retry).toMatchObject({ first: false });
    dedup.complete('dedup:{oa:slow}', '<xml>late</xml>');
    await expect((retry as { response: Promise<string> }).response).resolves.toBe('<xml>late</xml>');
    // The flood's oldest marks went (a bounded space), its newest are kept.
    expect(dedup.claim('dedup:{oa:0}')).toEqual({ first: true });
    expect(dedup.claim('dedup:{oa:19}')).toMatchObject({ first: false });
  });

  it("marks live the dedup TTL (a retry within it gets 'success' once the answer is gone); past it, the id is new again", async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const dedup = new CallbackDedup(new MemoryStore(), 300_000);
    expect(dedup.claim('dedup:{oa:1}')).toEqual({ first: true });
    dedup.complete('dedup:{oa:1}', '<xml>a</xml>');
    vi.advanceTimersByTime(299_000);
    const retry = dedup.claim('dedup:{oa:1}');
    expect(retry).toMatchObject({ first: false });
    await expect((retry as { response: Promise<string> }).response).resolves.toBe('success');
    vi.advanceTimersByTime(101_000); // 400 s: past the TTL and a third
    expect(dedup.claim('dedup:{oa:1}')).toEqual({ first: true });
  });

  it('a dedup: space full of live marks warns once on the store logger', () => {
    const logs = captureLogger();
    const store = new MemoryStore({ spaces: { 'dedup:': 3 } });
    store.useLogger(logs.log);
    const dedup = new CallbackDedup(store);
    for (let i = 0; i < 3; i++) dedup.claim(`dedup:{oa:${i}}`) && dedup.complete(`dedup:{oa:${i}}`, 'success');
    expect(logs.lines).toEqual([]);
    for (let i = 3; i < 10; i++) dedup.claim(`dedup:{oa:${i}}`) && dedup.complete(`dedup:{oa:${i}}`, 'success');
    const warnings = logs.lines.filter((l) => String(l['msg']).startsWith('MemoryStore space "dedup:" is full of live keys'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ level: 40, space: 'dedup:', max: 3 });
  });
});
