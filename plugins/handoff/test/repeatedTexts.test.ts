import { describe, expect, it } from 'vitest';
import { MAX_LENGTH, MAX_TEXTS, RECENT, RepeatedTexts } from '../src/repeatedTexts.ts';

describe('RepeatedTexts', () => {
  it('numbers a text at its second sighting, and gives the same number after', () => {
    const texts = new RepeatedTexts();
    expect(texts.numberOf('没听懂')).toBe(-1);
    const number = texts.numberOf('没听懂');
    expect(number).toBeGreaterThanOrEqual(0);
    expect(texts.numberOf(['没', '听懂'].join(''))).toBe(number); // equal, not the same string
    expect(texts.textOf(number)).toBe('没听懂');
  });

  it('looks for a repeat among the last few distinct texts only', () => {
    const texts = new RepeatedTexts();
    texts.numberOf('a');
    for (let i = 0; i < RECENT; i++) expect(texts.numberOf(`other ${i}`)).toBe(-1);
    expect(texts.numberOf('a')).toBe(-1); // out of the ring: seen again as if for the first time
    expect(texts.numberOf('a')).toBeGreaterThanOrEqual(0);
  });

  it('keeps a number once given, when the text comes back into the ring', () => {
    const texts = new RepeatedTexts();
    texts.numberOf('a');
    const number = texts.numberOf('a');
    for (let i = 0; i < RECENT; i++) texts.numberOf(`other ${i}`);
    expect(texts.numberOf('a')).toBe(-1);
    expect(texts.numberOf('a')).toBe(number);
  });

  it('numbers at most MAX_TEXTS texts of at most MAX_LENGTH units', () => {
    const texts = new RepeatedTexts();
    const long = 'x'.repeat(MAX_LENGTH + 1);
    expect([texts.numberOf(long), texts.numberOf(long)]).toEqual([-1, -1]);
    expect(texts.numberOf('y'.repeat(MAX_LENGTH))).toBe(-1);
    expect(texts.numberOf('y'.repeat(MAX_LENGTH))).toBe(0);
    for (let i = 1; i < MAX_TEXTS; i++) {
      texts.numberOf(`t${i}`);
      expect(texts.numberOf(`t${i}`)).toBe(i);
    }
    texts.numberOf('one too many');
    expect(texts.numberOf('one too many')).toBe(-1);
    expect(texts.textOf(MAX_TEXTS - 1)).toBe(`t${MAX_TEXTS - 1}`);
    expect(() => texts.textOf(MAX_TEXTS)).toThrow(RangeError);
  });
});
