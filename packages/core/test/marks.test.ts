import { afterEach, describe, expect, it, vi } from 'vitest';
import { CallbackDedup } from '../src/delivery/dedup.ts';
import { Marks, NO_MARK, SUCCESS_MARK, hashOf } from '../src/delivery/marks.ts';
import { MemoryStore } from '../src/index.ts';
import { captureLogger } from './helpers.ts';

afterEach(() => vi.useRealTimers());

const keyOf = (i: number) => `dedup:{officialAccount:${7_200_000_000_000_000_000n + BigInt(i)}}`;

describe('Marks', () => {
  it('a mark lives its TTL (to a second more), then reads as absent; it holds its answer place or SUCCESS_MARK', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const marks = new Marks(300_000, 100);
    marks.set('a', 12_345);
    marks.set('b', SUCCESS_MARK);
    vi.advanceTimersByTime(300_000);
    expect(marks.get('a')).toBe(12_345);
    expect(marks.get('b')).toBe(SUCCESS_MARK);
    expect(marks.get('c')).toBe(NO_MARK);
    vi.advanceTimersByTime(1_001);
    expect(marks.get('a')).toBe(NO_MARK);
  });

  it('holds at most `max` marks, dropping the oldest first; expired ones go from the front as new ones come', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const marks = new Marks(60_000, 3);
    for (let i = 0; i < 5; i++) marks.set(`k${i}`, SUCCESS_MARK);
    expect(marks.size).toBe(3);
    expect([0, 1, 2, 3, 4].map((i) => marks.get(`k${i}`))).toEqual([NO_MARK, NO_MARK, SUCCESS_MARK, SUCCESS_MARK, SUCCESS_MARK]);
    vi.advanceTimersByTime(70_000);
    marks.set('n0', 1); // two expired go a write
    expect(marks.size).toBe(2);
    marks.set('n1', 2);
    expect(marks.size).toBe(2);
    expect(marks.get('n0')).toBe(1);
  });

  it('wraps around its slots and key bytes many times: exactly the newest `max` keys are found', () => {
    // 300 keys of 43 characters: more slots than the first 256 and ~13 KB of the first 16 KiB of
    // key bytes, so keys are written across the ring's end and compared there.
    const marks = new Marks(300_000, 300);
    for (let i = 0; i < 5000; i++) marks.set(keyOf(i), i);
    expect(marks.size).toBe(300);
    for (let i = 0; i < 5000; i++) expect(marks.get(keyOf(i))).toBe(i >= 4700 ? i : NO_MARK);
    const small = new Marks(300_000, 5);
    for (let i = 0; i < 1000; i++) small.set(keyOf(i), i);
    expect([994, 995, 999].map((i) => small.get(keyOf(i)))).toEqual([NO_MARK, 995, 999]);
  });

  it('keys of equal hashes are told apart by their characters, and dropping one leaves the other found', () => {
    const [a, b] = ['dedup:{oa:139599}', 'dedup:{oa:322382}'];
    expect(hashOf(a)).toBe(hashOf(b));
    const marks = new Marks(300_000, 2);
    marks.set(a, 1);
    expect(marks.get(b)).toBe(NO_MARK);
    marks.set(b, 2);
    expect([marks.get(a), marks.get(b)]).toEqual([1, 2]);
    marks.set('other', 3); // past max: a goes, b (after it in the probe run) must still be found
    expect([marks.get(a), marks.get(b), marks.get('other')]).toEqual([NO_MARK, 2, 3]);
  });

  it('keeps keys of any characters (one byte each when they can be, two otherwise) and finds only those', () => {
    const marks = new Marks(300_000, 100);
    const keys = ['dedup:{oa:消息一}', 'dedup:{oa:消息二}', 'dedup:{oa:café}', 'dedup:{oa:cafe}', 'dedup:{oa:😀}', 'a\u0100', 'a\u0000\u0001', ''];
    for (const [i, key] of keys.entries()) marks.set(key, i);
    expect(keys.map((key) => marks.get(key))).toEqual(keys.map((_, i) => i));
    for (const absent of ['dedup:{oa:消息三}', 'dedup:{oa:cafè}', 'dedup:{oa:😁}', 'a\u0101', 'A\u0100', 'a\u0001\u0001', 'dedup:{oa:消息}'])
      expect(marks.get(absent)).toBe(NO_MARK);
  });

  it("ASCII keys (copied by a native Latin-1 write) and keys beyond ASCII (written a character at a time) are kept exactly, across the key ring's end too", () => {
    expectKeysKeptAcrossRingEnd(Marks);
  });

  it('an expired mark written again replaces the old one, whose slot later goes without taking the new mark with it', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const marks = new Marks(10_000, 10);
    for (let i = 0; i < 3; i++) marks.set(`k${i}`, i);
    vi.advanceTimersByTime(11_000); // all three expired
    expect(marks.get('k2')).toBe(NO_MARK);
    marks.set('k2', 20); // k0 and k1 go from the front; k2's old slot is still there, replaced
    expect(marks.size).toBe(1);
    expect(marks.get('k2')).toBe(20);
    for (let i = 0; i < 9; i++) marks.set(`n${i}`, 100 + i); // the old k2 slot goes, then past max the new k2
    expect(marks.get('k2')).toBe(20);
    marks.set('n9', 109);
    expect(marks.get('k2')).toBe(NO_MARK);
    expect(marks.size).toBe(10);
  });

  it('tells of marks dropped for room inside their TTL, not of expired ones', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    let early = 0;
    const marks = new Marks(30_000, 2, () => early++);
    marks.set('old', SUCCESS_MARK);
    vi.advanceTimersByTime(32_000);
    marks.set('a', SUCCESS_MARK);
    marks.set('b', SUCCESS_MARK);
    expect(early).toBe(0);
    marks.set('c', SUCCESS_MARK);
    expect(early).toBe(1);
    expect(marks.get('a')).toBe(NO_MARK);
  });

  it('starts small and grows only for live marks: expired ones make the room', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const marks = new Marks(10_000, 100_000);
    const first = marks.bytes;
    expect(first).toBeLessThan(64 * 1024);
    for (let i = 0; i < 10; i++) marks.set(keyOf(i), i);
    expect(marks.bytes).toBe(first);
    // 100 new messages a second for 10 minutes: ~1 100 live at most.
    for (let i = 0; i < 60_000; i++) {
      if (i % 100 === 0) vi.advanceTimersByTime(1000);
      marks.set(keyOf(i), i);
    }
    expect(marks.size).toBeLessThan(1300);
    expect(marks.bytes).toBeLessThan(256 * 1024);
    expect(marks.get(keyOf(59_999))).toBe(59_999);
    expect(marks.get(keyOf(48_000))).toBe(NO_MARK);
    // Long keys: the key bytes grow past what they started with, a key longer than all of them too.
    const long = (i: number) => `dedup:{oa:${String(i).padStart(40_000, '0')}}`;
    const wide = new Marks(300_000, 10);
    for (let i = 0; i < 30; i++) wide.set(long(i), i);
    expect([19, 20, 29].map((i) => wide.get(long(i)))).toEqual([NO_MARK, 20, 29]);
  });

  it("allocates its memory once, when made: ArrayBuffer bytes (V8's external memory) stay level as its arrays grow for live marks", () => {
    // V8 counts external memory grown since the last mark-compact against the old generation's
    // headroom: new arrays at every doubling (the old ones freed only by a mark-compact) started
    // marking under a fresh bot's load. The views grow in place in memory reserved for `max` marks.
    const marks = new Marks(600_000, 100_000);
    const first = marks.bytes;
    expect(marks.reservedBytes).toBe(131_072 * 36 + 8 * 1024 * 1024);
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < 50_000; i++) marks.set(keyOf(i), i);
    expect(marks.bytes).toBeGreaterThan(first * 100); // 65 536 slots and 4 MiB of key bytes
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
    expect([0, 25_000, 49_999].map((i) => marks.get(keyOf(i)))).toEqual([0, 25_000, 49_999]);
  });

  it('ttlAtLeast: the longest TTL asked for', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const marks = new Marks(30_000, 10);
    marks.ttlAtLeast(10_000);
    marks.ttlAtLeast(90_000);
    marks.set('a', SUCCESS_MARK);
    vi.advanceTimersByTime(89_000);
    expect(marks.get('a')).toBe(SUCCESS_MARK);
  });

  it('a size of 0 keeps no mark', () => {
    const marks = new Marks(30_000, 0);
    marks.set('a', SUCCESS_MARK);
    expect([marks.get('a'), marks.size]).toEqual([NO_MARK, 0]);
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
    vi.advanceTimersByTime(101_000); // 400 s: past the TTL
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

/**
 * Each kind of key (ASCII, Latin-1, Latin-1 that reads as UTF-8, two-byte) written at every
 * split of its bytes across the 16 KiB key ring's end, by the `Marks` of a module instance.
 */
function expectKeysKeptAcrossRingEnd(MarksOf: typeof Marks): void {
  // 'é' as Latin-1 is one byte (0xe9); as UTF-8 two (0xc3 0xa9), which read back as Latin-1 are 'Ã©'.
  const kinds = [keyOf(1), 'dedup:{oa:caf\u00e9}', 'dedup:{oa:caf\u00c3\u00a9}', 'dedup:{oa:\u6d88\u606f}'];
  const ring = 16 * 1024; // the first key bytes, never grown here (checked below)
  for (const key of kinds) {
    const bytes = /^[\0-\xff]*$/.test(key) ? key.length : key.length * 2;
    // Every split of the key's bytes at the ring's end: `before` of them before it.
    for (let before = 0; before <= bytes; before++) {
      const marks = new MarksOf(300_000, 100);
      // ASCII fillers, the first of the odd length, take the head to `before` bytes short of the end.
      const head = ring - before;
      const fillers = [...(head % 40 > 0 ? ['x'.repeat(head % 40)] : []), ...Array.from({ length: Math.floor(head / 40) }, (_, i) => String(i).padStart(40, '-'))];
      for (const filler of fillers) marks.set(filler, 0);
      marks.set(key, 1);
      const changed = key.slice(0, -2) + String.fromCharCode(key.charCodeAt(key.length - 2) ^ 1) + key.slice(-1);
      expect([marks.get(key), marks.get(changed), marks.get(fillers.at(-1)!)], `${key} split ${before}`).toEqual([1, NO_MARK, 0]);
      expect(marks.bytes).toBe(new MarksOf(300_000, 100).bytes);
    }
  }
}

/**
 * marks.ts loaded afresh while Buffer's undocumented `latin1Write` is `replacement` (undefined:
 * absent), then put back: the module checks the method once, at load. (Node's documented
 * `write(text, offset, 'latin1')` calls that method itself, so it is back before any key is written.)
 */
async function marksLoadedWith(replacement: ((this: Buffer, text: string, offset: number) => number) | undefined): Promise<typeof Marks> {
  const proto = Buffer.prototype as unknown as Record<string, unknown>;
  const native = Object.getOwnPropertyDescriptor(proto, 'latin1Write');
  expect(native, 'this Node has Buffer#latin1Write').toBeDefined();
  if (replacement === undefined) delete proto['latin1Write'];
  else proto['latin1Write'] = replacement;
  try {
    vi.resetModules();
    return ((await import('../src/delivery/marks.ts')) as typeof import('../src/delivery/marks.ts')).Marks;
  } finally {
    Object.defineProperty(proto, 'latin1Write', native!);
  }
}

describe("Marks where Node's undocumented Buffer#latin1Write was not usable at load", () => {
  for (const [why, replacement] of [
    ['missing', undefined],
    ['writing nothing', () => 0],
    ['claiming two bytes, writing none', () => 2],
  ] as const) {
    it(`write every key by the documented Buffer#write (${why}): kept exactly, across the ring end too`, async () => {
      const Fallback = await marksLoadedWith(replacement);
      expect(Fallback).not.toBe(Marks);
      // Watched, not changed: the fallback is what writes the ASCII keys here (the native path never calls write()).
      const write = vi.spyOn(Buffer.prototype, 'write');
      try {
        expectKeysKeptAcrossRingEnd(Fallback);
        expect(write).toHaveBeenCalledWith(keyOf(1), expect.any(Number), 'latin1');
      } finally {
        write.mockRestore();
      }
    });
  }
});
