import { describe, expect, it } from 'vitest';
import { FaqIndex } from '../src/index.ts';
import { FAQ, HITS, MISSES } from './fixtures/paraphrases.ts';
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

  it('an equal score goes to the wording indexed first', () => {
    const index = new FaqIndex([
      { questions: ['几点开门'], value: 'first' },
      { questions: ['几点开门'], value: 'second' },
    ]);
    expect(index.best('几点开门', 0.5)?.value).toBe('first');
  });
});
