import { describe, expect, it } from 'vitest';
import { Occurrences } from '../src/occurrences.ts';

/** What `includes` says, string by string: the answer Occurrences must give in one pass. */
const expectedAll = (strings: readonly string[], text: string) => strings.flatMap((s, i) => (text.includes(s) ? [i] : []));

describe('Occurrences', () => {
  it('all() and first() agree with includes() on random texts and string lists (shared prefixes, repeats, empty strings)', () => {
    let seed = 7;
    const random = (n: number) => {
      seed = (seed * 48271) % 2147483647;
      return seed % n;
    };
    // A small alphabet (with a letter beyond the bit filter's 1024 and one aliasing it) makes overlaps and prefixes common.
    const alphabet = ['a', 'b', 'c', '你', String.fromCharCode('a'.charCodeAt(0) + 1024)];
    const word = (max: number) => Array.from({ length: random(max + 1) }, () => alphabet[random(alphabet.length)]).join('');
    for (let round = 0; round < 2000; round++) {
      const strings = Array.from({ length: 1 + random(8) }, () => word(3));
      const occurrences = new Occurrences(strings);
      for (let t = 0; t < 5; t++) {
        const text = word(12);
        const all = expectedAll(strings, text);
        expect(occurrences.all(text) ?? [], `${JSON.stringify(strings)} in ${text}`).toEqual(all);
        expect(occurrences.first(text), `${JSON.stringify(strings)} in ${text}`).toBe(all.length > 0 ? all[0] : -1);
      }
    }
  });

  it('strings starting with what a RegExp character class treats specially, or with half of a surrogate pair', () => {
    const strings = [']', '-a', '\\', '^', '.', '😀', '\ud83d', '\ude00x', '[a-z]', '$', '好'];
    const occurrences = new Occurrences(strings);
    const alphabet = [']', '-', 'a', '\\', '^', '.', '😀', '\ud83d', '\ude00', 'x', '[', 'z', '$', 'b', '好'];
    let seed = 11;
    for (let t = 0; t < 3000; t++) {
      const text = Array.from({ length: t % 14 }, () => alphabet[(seed = (seed * 48271) % 2147483647) % alphabet.length]).join('');
      expect(occurrences.all(text) ?? [], JSON.stringify(text)).toEqual(expectedAll(strings, text));
    }
    expect(occurrences.all('b'.repeat(100_000))).toBeUndefined();
    expect(occurrences.all(`${'b'.repeat(100_000)}好`)).toEqual([10]);
  });

  it('an empty string is in every text, but first() still finds a lower index that matches', () => {
    const occurrences = new Occurrences(['x', 'ab', '', 'b']);
    expect(occurrences.all('zzz')).toEqual([2]);
    expect(occurrences.all('abc')).toEqual([1, 2, 3]);
    expect(occurrences.first('zzz')).toBe(2);
    expect(occurrences.first('abc')).toBe(1);
    expect(occurrences.first('b')).toBe(2);
    expect(new Occurrences(['a']).all('bcd')).toBeUndefined();
    expect(new Occurrences(['a']).first('bcd')).toBe(-1);
  });
});

describe('Occurrences: the per-string stamp', () => {
  it('wraps at 2^31 − 1 and still finds every string, once, including one stamped 1 before the wrap', () => {
    const strings = ['ab', 'b', 'xa', 'a'];
    const occurrences = new Occurrences(strings);
    // Call 1 stamps strings 0, 1 and 3, and no call before the wrap stamps them again: the call
    // numbered 1 after it must not take them for found already.
    expect(occurrences.all('abab')).toEqual([0, 1, 3]);
    expect(occurrences.calls).toBe(1);
    occurrences.calls = 0x7fffffff - 3;
    const texts = ['zz', 'xz', 'bab', 'abab', 'xab', 'abab', 'zz', 'ab'];
    const numbers: number[] = [];
    for (const text of texts) {
      expect(occurrences.all(text) ?? [], text).toEqual(expectedAll(strings, text));
      numbers.push(occurrences.calls);
    }
    // The calls crossed the wrap: the stamp stayed below 2^31 − 1 and began again at 1.
    expect(numbers).toEqual([0x7ffffffd, 0x7ffffffe, 1, 2, 3, 4, 5, 6]);
  });

  it('is not taken by a list of empty strings only: it searches nothing', () => {
    const empties = new Occurrences(['', '']);
    expect([empties.all('abc'), empties.all(''), empties.calls]).toEqual([[0, 1], [0, 1], 0]);
  });
});
