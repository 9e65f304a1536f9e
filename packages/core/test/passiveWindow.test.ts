import { afterEach, describe, expect, it, vi } from 'vitest';
import { PassiveWindow } from '../src/index.ts';

afterEach(() => vi.restoreAllMocks());

describe('passive windows', () => {
  it('close by themselves after their time, share timers, and can be taken or closed first', async () => {
    const setTimeoutSpy = vi.spyOn(globalThis, 'setTimeout');
    const short = Array.from({ length: 100 }, () => new PassiveWindow(30));
    const long = Array.from({ length: 50 }, () => new PassiveWindow(60));
    short[0]!.close();
    expect(short[1]!.take({ type: 'text', text: 'first' })).toBe(true);
    expect(short[1]!.take({ type: 'text', text: 'second' })).toBe(false);
    // One timer per window length, not one per window.
    expect(setTimeoutSpy.mock.calls.length).toBeLessThanOrEqual(4);

    expect(await short[1]!.result).toEqual({ type: 'text', text: 'first' });
    expect(await short[0]!.result).toBeUndefined();
    const results = await Promise.all([...short.slice(2), ...long].map((w) => w.result));
    expect(results.every((r) => r === undefined)).toBe(true);
    expect([...short, ...long].some((w) => w.isOpen)).toBe(false);
    expect(long[0]!.take({ type: 'text', text: 'late' })).toBe(false);
  });

  it('a window opened after the others expired gets its full time again', async () => {
    await new PassiveWindow(10).result;
    const window = new PassiveWindow(40);
    const opened = performance.now();
    await window.result;
    expect(performance.now() - opened).toBeGreaterThanOrEqual(39);
  });
});
