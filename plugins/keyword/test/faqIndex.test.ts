import { describe, expect, it } from 'vitest';
import { FaqIndex } from '../src/index.ts';
import { FirstFaqIndex } from './fixtures/firstFaqIndex.ts';
import { FAQ, HITS, MISSES } from './fixtures/paraphrases.ts';
import { randomTexts } from './fixtures/randomTexts.ts';
import { syntheticFaq } from './fixtures/synthetic.ts';

/** The answer of scoring every paraphrase that shares a feature: what best() must equal. */
function bruteForceBest<T>(index: FaqIndex<T>, text: string, threshold: number) {
  const top = index.scores(text)[0];
  return top && top.score >= threshold ? top : undefined;
}

describe('FaqIndex.best scores only candidates, with the same answer as scoring all', () => {
  it('on the labelled shop FAQ, at several thresholds', () => {
    const index = new FaqIndex(Object.entries(FAQ).map(([value, questions]) => ({ questions, value })));
    for (const text of [...HITS.map(([t]) => t), ...MISSES]) {
      for (const threshold of [0, 0.2, 0.5, 0.8]) {
        const expected = bruteForceBest(index, text, threshold);
        const got = index.best(text, threshold);
        expect(got?.value, `${text} @${threshold}`).toBe(expected?.value);
        if (expected) expect(got?.score).toBeCloseTo(expected.score, 12);
      }
    }
  });

  it('on 1,000 made-up entries (3,000 wordings), rewordings and unrelated messages', () => {
    const faq = syntheticFaq(1000, 40);
    const index = new FaqIndex(faq.entries);
    let answered = 0;
    for (const text of [...faq.hits.map(([t]) => t), ...faq.misses]) {
      for (const threshold of [0.3, 0.5]) {
        const expected = bruteForceBest(index, text, threshold);
        const got = index.best(text, threshold);
        expect(got?.question, `${text} @${threshold}`).toBe(expected?.question);
        if (got) answered++;
      }
    }
    // The corpus is not trivial either way: some messages are answered, some are not.
    expect(answered).toBeGreaterThan(20);
    expect(answered).toBeLessThan(140);
  });

  it('on long messages (more features than the few terms a message usually has)', () => {
    const faq = syntheticFaq(300, 20);
    const index = new FaqIndex(faq.entries);
    const wordings = faq.entries.flatMap((e) => e.questions);
    for (let i = 0; i + 12 <= wordings.length; i += 12) {
      const text = wordings.slice(i, i + 12).join('，');
      for (const threshold of [0, 0.1, 0.3]) {
        const expected = bruteForceBest(index, text, threshold);
        const got = index.best(text, threshold);
        expect(got?.question, `${text} @${threshold}`).toBe(expected?.question);
        if (expected) expect(got?.score).toBeCloseTo(expected.score, 12);
      }
    }
  });

  it('an equal score goes to the wording indexed first', () => {
    const index = new FaqIndex([
      { questions: ['几点开门'], value: 'first' },
      { questions: ['几点开门'], value: 'second' },
    ]);
    expect(index.best('几点开门', 0.5)?.value).toBe('first');
  });
});

describe('FaqIndex, without a feature string or a Map a message', () => {
  /** Same value, wording and score to the last bit as the first version's index. */
  function expectSame<T>(texts: readonly string[], entries: readonly { questions: string[]; value: T }[], thresholds: readonly number[]) {
    const index = new FaqIndex(entries);
    const first = new FirstFaqIndex(entries);
    for (const text of texts) {
      for (const threshold of thresholds) expect(index.best(text, threshold), `${text} @${threshold}`).toEqual(first.best(text, threshold));
      expect(index.scores(text), text).toEqual(first.scores(text));
    }
  }

  it('answers as the first version on the shop FAQ, with random texts and the bench texts', () => {
    const entries = Object.entries(FAQ).map(([value, questions]) => ({ questions, value }));
    const bench = ['你好，想问一下 wxbot 12', '这个东西能不能再便宜点 3', '我的订单 SF-20261130 到哪了', 'hello there', '周末有人吗'];
    expectSame([...HITS.map(([t]) => t), ...MISSES, ...bench, ...randomTexts(3000, 5)], entries, [0, 0.3, 0.5, 0.8]);
  });

  it('answers as the first version with latin words in the entries and repeated words in the texts', () => {
    const entries = [
      { questions: ['VIP 会员 vip 价格', 'vip 多少钱'], value: 'vip' },
      { questions: ['iphone 15 pro 保修', 'iPhone 维修'], value: 'repair' },
      { questions: ['618 活动', '双11 618 优惠'], value: 'sale' },
      ...Object.entries(FAQ).map(([value, questions]) => ({ questions, value })),
    ];
    const texts = [
      'vip vip 价格',
      'VIP会员',
      'iphone iphone iphone 坏了',
      '618 618 活动 abc abc abc',
      ...Array.from({ length: 40 }, (_, i) => [...Array(3).fill(`w${i % 20} x${i}`), 'vip'].join(' ')),
    ];
    expectSame([...texts, ...randomTexts(2000, 6)], entries, [0, 0.2, 0.5]);
  });

  it('answers as the first version when Han characters no entry has repeat, or share a slot of the repeat filter', () => {
    const entries = Object.entries(FAQ).map(([value, questions]) => ({ questions, value }));
    // 周 (U+5468) and 䑨 (U+4468) are 1,024 apart: the same slot, different characters.
    const texts = [
      '周末周末有人吗',
      '周末有人周末',
      '周䑨周末',
      '䑨周',
      '甲乙甲乙甲乙',
      '甲甲甲',
      '退款甲退款甲',
      '鱻',
      '鱻鱻',
      '周'.repeat(3000),
      `${'甲乙丙丁'.repeat(500)}退款`,
    ];
    expectSame(texts, entries, [0, 0.3, 0.5]);
  });

  it('answers as the first version on 1,000 made-up entries', () => {
    const faq = syntheticFaq(1000, 100);
    expectSame([...faq.hits.map(([t]) => t), ...faq.misses], faq.entries, [0.3, 0.5]);
  });
});
