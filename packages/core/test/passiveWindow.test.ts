import { afterEach, describe, expect, it, vi } from 'vitest';
import { PassiveWindow } from '../src/delivery/passiveWindow.ts';

const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
const text = (content: string) => ({ type: 'text' as const, text: content });

describe('PassiveWindow timeouts', () => {
  afterEach(() => vi.useRealTimers());

  it('open windows of one duration share one timer, which the bot releases when it stops with none open', () => {
    const before = timers();
    const windows = Array.from({ length: 100 }, () => new PassiveWindow(4321));
    expect(timers() - before).toBe(1);
    for (const window of windows.slice(1)) window.close();
    PassiveWindow.releaseTimers(); // one is still open: its timer stays
    expect(timers() - before).toBe(1);
    windows[0]!.close();
    PassiveWindow.releaseTimers();
    expect(timers()).toBe(before);
  });

  it('the timer left after the last window closed goes when it fires, setting no other', () => {
    vi.useFakeTimers();
    const window = new PassiveWindow(200);
    window.close();
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(200);
    expect(vi.getTimerCount()).toBe(0);
    expect(window.closedBy).toBe('ended');
  });

  it('each window times out at its own time, in order, whatever closed before it', async () => {
    vi.useFakeTimers();
    const first = new PassiveWindow(1000);
    vi.advanceTimersByTime(300);
    const second = new PassiveWindow(1000);
    const third = new PassiveWindow(1000);
    vi.advanceTimersByTime(300);
    const fourth = new PassiveWindow(1000);
    expect(second.take(text('a'))).toBe(true);
    first.close(); // the timer was set for it: it stays, and serves the next ones
    vi.advanceTimersByTime(399); // t = 999
    expect([third.isOpen, fourth.isOpen]).toEqual([true, true]);
    vi.advanceTimersByTime(301); // t = 1300: third's time
    expect([third.isOpen, third.closedBy, fourth.isOpen]).toEqual([false, 'timeout', true]);
    expect(await third.result).toBeUndefined();
    vi.advanceTimersByTime(299);
    expect(fourth.isOpen).toBe(true);
    vi.advanceTimersByTime(1); // t = 1600
    expect(fourth.closedBy).toBe('timeout');
    expect([first.closedBy, second.closedBy]).toEqual(['ended', 'reply']);
    expect(await second.result).toEqual(text('a'));
  });

  it('windows of different durations keep their own times', () => {
    vi.useFakeTimers();
    const long = new PassiveWindow(5000);
    const short = new PassiveWindow(100);
    vi.advanceTimersByTime(100);
    expect([short.closedBy, long.isOpen]).toEqual(['timeout', true]);
    vi.advanceTimersByTime(4900);
    expect(long.closedBy).toBe('timeout');
  });

  it('many windows, most closing early: the queue keeps working and its timer goes with the last', () => {
    vi.useFakeTimers();
    const open: PassiveWindow[] = [];
    for (let i = 0; i < 5000; i++) {
      const window = new PassiveWindow(50);
      if (i % 100 === 0) open.push(window);
      else window.close();
      vi.advanceTimersByTime(1);
    }
    vi.advanceTimersByTime(50);
    expect(open.every((w) => w.closedBy === 'timeout')).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });
  it('many windows open at once, closing in any order: each still open times out at its own time', () => {
    vi.useFakeTimers();
    // More open at once than the queue first has room for, opened 1 ms apart; at every third,
    // one of those opened so far closes early, here and there, while the others still open.
    const windows: PassiveWindow[] = [];
    for (let i = 0; i < 300; i++) {
      windows.push(new PassiveWindow(1000));
      if (i % 3 === 2) windows[(i * 37) % windows.length]!.close();
      vi.advanceTimersByTime(1);
    }
    const open = () => windows.filter((w) => w.isOpen).length;
    const stillOpen = open();
    const closedEarly = windows.filter((w) => w.closedBy === 'ended').length;
    expect(closedEarly).toBeGreaterThan(40);
    expect(stillOpen + closedEarly).toBe(300);
    // t = 300: window i times out at t = 1000 + i.
    vi.advanceTimersByTime(699);
    expect(open()).toBe(stillOpen);
    for (let i = 0; i < 300; i++) {
      vi.advanceTimersByTime(1); // t = 1000 + i
      for (let j = 0; j < 300; j++) {
        if (windows[j]!.closedBy === 'ended') continue;
        expect([j, windows[j]!.isOpen]).toEqual([j, j > i]);
      }
    }
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a window left open while thousands open and close after it times out at its time, and so do those after it', () => {
    vi.useFakeTimers();
    const hung = new PassiveWindow(5000);
    for (let i = 0; i < 4000; i++) {
      new PassiveWindow(5000).close();
      if (i % 1000 === 999) vi.advanceTimersByTime(1000); // t = 1000 … 4000
    }
    const late = new PassiveWindow(5000); // t = 4000: times out at 9000
    vi.advanceTimersByTime(999);
    expect([hung.isOpen, late.isOpen]).toEqual([true, true]);
    vi.advanceTimersByTime(1); // t = 5000
    expect([hung.closedBy, late.isOpen]).toEqual(['timeout', true]);
    vi.advanceTimersByTime(3999);
    expect(late.isOpen).toBe(true);
    vi.advanceTimersByTime(1); // t = 9000
    expect(late.closedBy).toBe('timeout');
    expect(vi.getTimerCount()).toBe(0);
  });
});
