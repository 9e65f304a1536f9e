import { afterEach, describe, expect, it, vi } from 'vitest';
import { AnswerRing, CHUNK_BYTES, NOT_KEPT } from '../src/delivery/answers.ts';

afterEach(() => vi.useRealTimers());

const MiB = 1024 * 1024;
/** A body of `length` bytes (ASCII), its number first: each answer's bytes differ. */
const bodyOf = (i: number, length: number) => `${`<xml>${i}:`.padEnd(length - 6, 'x')}</xml>`;

describe('AnswerRing', () => {
  it('keeps an answer its lifetime (to a second more), then it reads as absent', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const answers = new AnswerRing(60_000, 100, MiB);
    const first = answers.write('<xml>1</xml>');
    vi.advanceTimersByTime(59_999);
    expect(answers.read(first)).toBe('<xml>1</xml>');
    const second = answers.write('<xml>2</xml>');
    vi.advanceTimersByTime(2_001);
    expect(answers.read(first)).toBeUndefined();
    expect(answers.read(second)).toBe('<xml>2</xml>');
  });

  it('gives back the answer as it was given: Chinese, emoji, XML, empty', () => {
    const answers = new AnswerRing(60_000, 10, MiB);
    const bodies = ['<xml><Content><![CDATA[您好 😀 营业时间 9:00–21:00]]></Content></xml>', '', 'é'.repeat(1001)];
    const places = bodies.map((body) => answers.write(body));
    expect(places.map((place) => answers.read(place))).toEqual(bodies);
    expect([NOT_KEPT, 0, 12.5, Number.NaN].map((place) => answers.read(place))).toEqual([undefined, undefined, undefined, undefined]);
  });

  it('wraps around at its budget: the newest answers read back exactly, those of overwritten chunks as absent, never another answer', () => {
    // 16 chunks of 4 KiB, ~10 answers each: the ring is entered thousands of times.
    const answers = new AnswerRing(60_000, 100_000, 64 * 1024, 4096);
    const written: { place: number; body: string }[] = [];
    for (let i = 0; i < 20_000; i++) {
      // Lengths that leave every kind of room at a chunk's end; a third Chinese (3 bytes a character).
      const body = i % 3 ? bodyOf(i, 20 + ((i * 37) % 700)) : `答复 ${i} `.repeat(1 + (i % 40));
      written.push({ place: answers.write(body), body });
    }
    expect(answers.bytes).toBe(64 * 1024);
    const read = written.map(({ place }) => answers.read(place));
    const oldestKept = read.findIndex((body) => body !== undefined);
    expect(oldestKept).toBeGreaterThan(20_000 - 250); // 15 full chunks of ~12 answers at least
    expect(oldestKept).toBeLessThan(20_000 - 150);
    for (const [i, body] of read.entries()) expect(body).toBe(i >= oldestKept ? written[i]!.body : undefined);
  });

  it('allocates a chunk at a time while the chunk it would overwrite holds live answers, up to its budget', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const quiet = new AnswerRing(60_000, 100_000, 64 * MiB);
    expect(quiet.bytes).toBe(0);
    for (let i = 0; i < 10; i++) quiet.write(bodyOf(i, 1000));
    expect(quiet.bytes).toBe(CHUNK_BYTES);
    // 10 answers of 1 KB a second for ten minutes: 60 s of them (~600 KB) in 3 chunks, and the one written.
    let last = 0;
    for (let i = 0; i < 6000; i++) {
      if (i % 10 === 0) vi.advanceTimersByTime(1000);
      last = quiet.write(bodyOf(i, 1000));
    }
    expect(quiet.bytes).toBeLessThanOrEqual(5 * CHUNK_BYTES);
    vi.advanceTimersByTime(59_000);
    expect(quiet.read(last)).toBe(bodyOf(5999, 1000));
    const busy = new AnswerRing(60_000, 100_000, 2 * MiB);
    const places = Array.from({ length: 5000 }, (_, i) => busy.write(bodyOf(i, 1000)));
    expect(busy.bytes).toBe(2 * MiB);
    expect(busy.read(places[4999]!)).toBe(bodyOf(4999, 1000));
    expect(busy.read(places[0]!)).toBeUndefined();
  });

  it("allocates its chunks' memory once, at the first answer, not a chunk at a time: ArrayBuffer bytes (V8's external memory) stay level while it fills", () => {
    // V8 starts a mark-compact on external memory grown since the last one, and counts that
    // growth against the old generation's headroom: a chunk allocated at a time grew it all
    // through a fresh bot's first ~90 000 answers, under its load.
    const ring = new AnswerRing(60_000, 1_000_000, 16 * MiB);
    expect(ring.reservedBytes).toBe(0);
    ring.write(bodyOf(0, 1000));
    expect([ring.bytes, ring.reservedBytes]).toEqual([CHUNK_BYTES, 16 * MiB]);
    const before = process.memoryUsage().arrayBuffers;
    for (let i = 1; i < 15_000; i++) ring.write(bodyOf(i, 1000)); // ~15 MB, all live: ~57 chunks entered
    expect(ring.bytes).toBeGreaterThan(14 * MiB);
    expect(ring.reservedBytes).toBe(16 * MiB);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(MiB);
  });

  it('keeps an answer as long as a chunk, not a longer one', () => {
    const answers = new AnswerRing(60_000, 100, 16 * 1024, 4096);
    const small = answers.write('<xml>small</xml>');
    const longest = bodyOf(1, 4096 - 8);
    const place = answers.write(longest);
    expect(answers.read(place)).toBe(longest);
    expect(answers.read(small)).toBe('<xml>small</xml>');
    expect(answers.write(bodyOf(2, 4096 - 7))).toBe(NOT_KEPT);
    expect(answers.write('x'.repeat(MiB))).toBe(NOT_KEPT);
    expect(answers.read(place)).toBe(longest);
  });

  it('an answer not kept (longer than a chunk in UTF-8 only) drops nothing and allocates nothing', () => {
    // Found by answersModel.test.ts (seeds 11-13, 15, 16): measured only after the oldest chunk
    // went for room at `max`, a Chinese answer of 100 characters (300 bytes, a chunk 128) took
    // the kept answers with it.
    const answers = new AnswerRing(60_000, 2, 1024, 128);
    const kept = [answers.write('a'), answers.write('b')];
    expect(answers.write('答'.repeat(100))).toBe(NOT_KEPT);
    expect([answers.size, ...kept.map((place) => answers.read(place))]).toEqual([2, 'a', 'b']);
    const fresh = new AnswerRing(60_000, 2, 1024, 128);
    expect(fresh.write('答'.repeat(100))).toBe(NOT_KEPT);
    expect(fresh.bytes).toBe(0);
  });

  it('holds at most `max` answers, the oldest chunk going first; a max of 0 keeps none', () => {
    const answers = new AnswerRing(60_000, 3, MiB);
    const places = Array.from({ length: 6 }, (_, i) => answers.write(`a${i}`));
    expect(answers.size).toBe(3);
    expect(places.map((place) => answers.read(place))).toEqual([undefined, undefined, undefined, 'a3', 'a4', 'a5']);
    const chunks = new AnswerRing(60_000, 30, MiB, 128); // ~10 answers a chunk
    const placed = Array.from({ length: 100 }, (_, i) => chunks.write(`answer ${i}`));
    expect(chunks.size).toBeLessThanOrEqual(30);
    expect(chunks.size).toBeGreaterThanOrEqual(20);
    expect(chunks.read(placed[99]!)).toBe('answer 99');
    expect(chunks.read(placed[60]!)).toBeUndefined();
    expect(new AnswerRing(60_000, 0, MiB).write('a')).toBe(NOT_KEPT);
  });
});
