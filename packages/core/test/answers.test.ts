import { afterEach, describe, expect, it, vi } from 'vitest';
import { AnswerRing, NOT_KEPT } from '../src/delivery/answers.ts';

afterEach(() => vi.useRealTimers());

const MiB = 1024 * 1024;
/** A body of `length` bytes (ASCII), its number first: each answer's bytes differ. */
const bodyOf = (i: number, length: number) => `<xml>${i}:`.padEnd(length - 6, 'x') + '</xml>';

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
  });

  it('wraps around once at its budget: the newest answers are read back exactly, the overwritten ones as absent, never another answer', () => {
    const answers = new AnswerRing(60_000, 100_000, 64 * 1024);
    const written: { place: number; body: string }[] = [];
    for (let i = 0; i < 2000; i++) {
      // Lengths that leave every kind of remainder at the ring's end (pad records).
      const body = bodyOf(i, 20 + ((i * 37) % 700));
      written.push({ place: answers.write(body), body });
    }
    expect(answers.bytes).toBe(64 * 1024);
    const read = written.map(({ place }) => answers.read(place));
    const oldestKept = read.findIndex((body) => body !== undefined);
    expect(oldestKept).toBeGreaterThan(1700);
    for (const [i, body] of read.entries()) expect(body).toBe(i >= oldestKept ? written[i]!.body : undefined);
  });

  it('grows (doubling) while the answer it would overwrite is live, up to its budget; stays small for a quiet bot', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const quiet = new AnswerRing(60_000, 100_000, 64 * MiB);
    const start = quiet.bytes;
    expect(start).toBeLessThanOrEqual(64 * 1024);
    // 10 answers of 1 KB a second for ten minutes: 60 s of them is ~600 KB.
    for (let i = 0; i < 6000; i++) {
      if (i % 10 === 0) vi.advanceTimersByTime(1000);
      quiet.write(bodyOf(i, 1000));
    }
    expect(quiet.bytes).toBe(1 * MiB);
    const busy = new AnswerRing(60_000, 100_000, 2 * MiB);
    const places = Array.from({ length: 5000 }, (_, i) => busy.write(bodyOf(i, 1000)));
    expect(busy.bytes).toBe(2 * MiB);
    expect(busy.read(places[4999]!)).toBe(bodyOf(4999, 1000));
    expect(busy.read(places[0]!)).toBeUndefined();
  });

  it('keeps an answer longer than the ring it has (growing for it), not one longer than its budget', () => {
    const answers = new AnswerRing(60_000, 100, MiB);
    const small = answers.write('<xml>small</xml>');
    const long = bodyOf(1, 300_000);
    const place = answers.write(long);
    expect(answers.read(place)).toBe(long);
    expect(answers.read(small)).toBe('<xml>small</xml>');
    expect(answers.write('x'.repeat(MiB))).toBe(NOT_KEPT);
    expect(answers.read(place)).toBe(long);
  });

  it('holds at most `max` answers, dropping the oldest first; a max of 0 keeps none', () => {
    const answers = new AnswerRing(60_000, 3, MiB);
    const places = Array.from({ length: 6 }, (_, i) => answers.write(`a${i}`));
    expect(answers.size).toBe(3);
    expect(places.map((place) => answers.read(place))).toEqual([undefined, undefined, undefined, 'a3', 'a4', 'a5']);
    expect(new AnswerRing(60_000, 0, MiB).write('a')).toBe(NOT_KEPT);
  });
});
