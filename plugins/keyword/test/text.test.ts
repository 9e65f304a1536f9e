import { describe, expect, it } from 'vitest';
import { fold, foldExact, MatchText } from '../src/text.ts';
import { randomTexts } from './fixtures/randomTexts.ts';

/**
 * fold, foldExact and MatchText skip ICU's NFKC for texts of common characters and strip the
 * edges without a RegExp: they must give exactly what the first versions gave.
 */
const firstFold = (text: string) => text.normalize('NFKC').toLowerCase().trim();
const EDGE_NOISE = /^[\p{P}\p{S}\p{Z}\s]+|[\p{P}\p{S}\p{Z}\s]+$/gu;
function firstFoldExact(text: string): string {
  const folded = firstFold(text);
  const stripped = folded.replace(EDGE_NOISE, '');
  return stripped === '' ? folded : stripped;
}
const firstNfkc = (text: string) => text.normalize('NFKC').trim();

describe('text normal forms', () => {
  const texts = [
    ...randomTexts(5000, 7),
    ...randomTexts(2000, 8, 3),
    '你好，想问一下 wxbot 12',
    '我的订单 SF-20261130 到哪了',
    'ＶＩＰ会员，价格？！',
    '  价格  ',
    ' HeLLo ',
    'hello!',
    '！？。',
    '',
    '\u3000人工\u3000',
    '😀人工😀',
    '😀',
  ];

  it('fold, foldExact and MatchText agree with NFKC, toLowerCase, trim and the edge RegExp', () => {
    for (const text of texts) {
      expect(fold(text), JSON.stringify(text)).toBe(firstFold(text));
      expect(foldExact(text), JSON.stringify(text)).toBe(firstFoldExact(text));
      const m = new MatchText(text);
      expect(m.nfkc, JSON.stringify(text)).toBe(firstNfkc(text));
      expect(m.folded, JSON.stringify(text)).toBe(firstFold(text));
      expect(m.exact, JSON.stringify(text)).toBe(firstFoldExact(text));
      // Folded first, then the other forms.
      const n = new MatchText(text);
      expect([n.folded, n.exact, n.nfkc]).toEqual([firstFold(text), firstFoldExact(text), firstNfkc(text)]);
    }
  });

  it('every character of the quick path, alone and between others, as NFKC has it', () => {
    const quick = [
      ...Array.from({ length: 0x80 }, (_, c) => c),
      ...Array.from({ length: 0x9fff - 0x4e00 + 1 }, (_, i) => 0x4e00 + i),
      ...Array.from({ length: 0xff5e - 0xff01 + 1 }, (_, i) => 0xff01 + i),
      0x3000,
      0x3001,
      0x3002,
      ...Array.from({ length: 8 }, (_, i) => 0x300a + i),
      0x2018,
      0x2019,
      0x201c,
      0x201d,
    ];
    for (const c of quick) {
      const s = String.fromCharCode(c);
      const han = c >= 0x4e00 && c <= 0x9fff;
      // With a Han character: after an upper-case letter, alone and between two others.
      for (const text of han ? [`A${s}，`, s, `价${s}格`] : [s, `a${s}b`, `人${s}工`, `Ｘ${s}\u3000`, `${s}人`, `人${s}`]) {
        expect(fold(text), c.toString(16)).toBe(firstFold(text));
        expect(new MatchText(text).nfkc, c.toString(16)).toBe(firstNfkc(text));
      }
    }
  });

  it('characters just outside the quick path, and long texts, as NFKC has them', () => {
    const outside = [0x80, 0xa0, 0xc0, 0x2017, 0x201a, 0x201b, 0x201e, 0x2fff, 0x3003, 0x3009, 0x3012, 0x4dff, 0xa000, 0xff00, 0xff5f, 0xffe5, 0xd83d];
    for (const c of outside) {
      const s = String.fromCharCode(c);
      for (const text of [s, `a${s}b`, `人${s}工`, ` ${s} `, `A${s}`]) {
        expect(fold(text), c.toString(16)).toBe(firstFold(text));
        expect(new MatchText(text).nfkc, c.toString(16)).toBe(firstNfkc(text));
      }
    }
    for (const text of ['价格'.repeat(50_000), ` ${'价格'.repeat(50_000)}x `, `${'价格'.repeat(50_000)}Ａ`, `${'hello '.repeat(20_000)}Q`]) {
      expect(fold(text)).toBe(firstFold(text));
      expect(new MatchText(text).nfkc).toBe(firstNfkc(text));
    }
  });
});
