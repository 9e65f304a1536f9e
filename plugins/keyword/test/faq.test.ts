import { describe, expect, it } from 'vitest';
import { createTestBot, image } from '@wxbot/testing';
import { echo } from '@wxbot/plugin-echo';
import { DEFAULT_FAQ_THRESHOLD, FaqIndex, keyword, similarity } from '../src/index.ts';
import { FAQ, HITS, MISSES } from './fixtures/paraphrases.ts';

const none = { handoffWords: [] };

describe('FAQ similarity', () => {
  it('scores paraphrases of the same Chinese question high and other questions low', () => {
    expect(similarity('你们几点开门', '请问几点开门呀')).toBeGreaterThan(0.7);
    expect(similarity('你们几点开门', '退款怎么申请')).toBe(0);
    expect(similarity('营业时间', '营业时间')).toBeCloseTo(1, 10);
    // Question words alone do not make two questions alike.
    expect(similarity('密码忘了怎么办', '地址填错了怎么办')).toBeLessThan(0.25);
    // Full-width latin, case and punctuation do not matter.
    expect(similarity('ＶＩＰ会员', 'vip 会员！')).toBeCloseTo(1, 10);
  });

  it('has nothing to match in fillers and punctuation', () => {
    const index = new FaqIndex([{ questions: ['你们几点开门'], value: 'hours' }]);
    expect(index.best('？？？', 0)).toBeUndefined();
    expect(index.best('请问呀', 0)).toBeUndefined();
    expect(index.best('', 0)).toBeUndefined();
  });

  // The figures behind DEFAULT_FAQ_THRESHOLD (README, "FAQ"): every hit ranks its own entry
  // first; the threshold trades the hits it lets through against the misses it lets in.
  it(`at the default threshold (${DEFAULT_FAQ_THRESHOLD}) answers most paraphrases and no unrelated message`, () => {
    const index = new FaqIndex(Object.entries(FAQ).map(([value, questions]) => ({ questions, value })));
    for (const [text, entry] of HITS) expect(index.scores(text)[0]?.value, text).toBe(entry);

    const hitScores = HITS.map(([text]) => index.scores(text)[0]?.score ?? 0);
    const missScores = MISSES.map((text) => index.scores(text)[0]?.score ?? 0);
    const answered = (threshold: number) => hitScores.filter((s) => s >= threshold).length;
    const wronglyAnswered = (threshold: number) => missScores.filter((s) => s >= threshold).length;

    expect(answered(DEFAULT_FAQ_THRESHOLD)).toBeGreaterThanOrEqual(20); // of 28
    expect(wronglyAnswered(DEFAULT_FAQ_THRESHOLD)).toBe(0); // of 32
    // Everyday chit-chat stays far below; only messages built to share a word come near.
    expect(missScores.filter((s) => s >= 0.3).length).toBeLessThanOrEqual(2);
    // Lower thresholds answer more but start answering what they should not.
    expect(answered(0.4)).toBeGreaterThan(answered(DEFAULT_FAQ_THRESHOLD));
    expect(wronglyAnswered(0.4)).toBeGreaterThan(0);
  });
});

describe('FAQ answers', () => {
  const faq = [
    { question: '你们几点开门', answer: '每天 9:00–21:00 营业。' },
    { question: ['退款怎么申请', '怎么退货退款'], answer: ['在“我的订单”中申请售后。', { type: 'image' as const, mediaId: 'REFUND_GUIDE' }] },
  ];

  it('answers a paraphrase with the closest entry, and passes the rest on', async () => {
    const kit = await createTestBot({ plugins: [keyword({ ...none, faq }), echo({ prefix: 'echo: ' })] });
    expect((await kit.send('请问几点开门呀')).texts).toEqual(['每天 9:00–21:00 营业。']);
    expect((await kit.send('我想申请退款')).replies).toEqual([
      { type: 'text', text: '在“我的订单”中申请售后。' },
      { type: 'image', mediaId: 'REFUND_GUIDE' },
    ]);
    expect((await kit.send('今天天气怎么样')).texts).toEqual(['echo: 今天天气怎么样']);
    expect((await kit.send(image('m1'))).replies).toEqual([{ type: 'image', mediaId: 'm1' }]); // FAQ is text only
    await kit.close();
  });

  it('does not answer "退款怎么申请" from the opening-hours entry', async () => {
    const kit = await createTestBot({ plugins: [keyword({ ...none, faq: [faq[0]!] })] });
    expect((await kit.send('退款怎么申请')).texts).toEqual([]);
    await kit.close();
  });

  it('honours faqThreshold', async () => {
    const score = similarity('你们几点开门', '你们早上几点开始营业');
    const strict = await createTestBot({ plugins: [keyword({ ...none, faq, faqThreshold: 0.95 })] });
    expect((await strict.send('你们早上几点开始营业')).texts).toEqual([]);
    expect((await strict.send('你们几点开门')).texts).toEqual(['每天 9:00–21:00 营业。']);
    await strict.close();
    const loose = await createTestBot({ plugins: [keyword({ ...none, faq, faqThreshold: Math.max(0, score - 0.2) })] });
    expect((await loose.send('你们早上几点开始营业')).texts).toEqual(['每天 9:00–21:00 营业。']);
    await loose.close();
  });

  it('tries rules before the FAQ', async () => {
    const kit = await createTestBot({ plugins: [keyword({ ...none, faq, rules: [{ keywords: '开门', reply: '规则优先' }] })] });
    expect((await kit.send('请问几点开门呀')).texts).toEqual(['规则优先']);
    await kit.close();
  });
});
