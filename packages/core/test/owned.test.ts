import { describe, expect, it } from 'vitest';
import { owned } from '../src/store/owned.ts';
import { heapAfterGc } from './helpers.ts';

describe('owned', () => {
  it('returns the same characters for every length, one- and two-byte, slices and concatenations', () => {
    const texts = ['', 'a', 'abcdefghijkl', 'abcdefghijklm', '7000016924000013549', '你好，想问一下 wxbot', 'x\ud800y lone surrogate here', 'é'.repeat(40)];
    const parent = `<xml>${texts.join('|')}</xml>`;
    for (const text of texts) {
      const at = parent.indexOf(text);
      const slice = parent.slice(at, at + text.length);
      expect(owned(slice)).toBe(text);
      expect(owned(`dedup:{oa:${slice}}`)).toBe(`dedup:{oa:${text}}`);
    }
  });

  it('keeps no part of the string it was cut from alive (heap after GC)', () => {
    const kept: string[] = [];
    const before = heapAfterGc();
    for (let i = 0; i < 20; i++) {
      const parent = `${String(i).padStart(4, '0')}${'y'.repeat(500_000)}`; // ~0.5 MB each
      kept.push(owned(parent.slice(0, 40)), owned(`key:${parent.slice(0, 40)}`));
    }
    const grown = heapAfterGc() - before;
    expect(kept[0]).toBe(`0000${'y'.repeat(36)}`);
    expect(grown).toBeLessThan(1_000_000); // the parents are 10 MB
  });
});
