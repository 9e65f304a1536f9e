import { describe, expect, it } from 'vitest';
import { featuresOf, normalizeForSimilarity } from '../src/similarity.ts';
import { fold } from '../src/text.ts';
import { FAQ, HITS, MISSES } from './fixtures/paraphrases.ts';
import { randomTexts } from './fixtures/randomTexts.ts';
import { syntheticFaq } from './fixtures/synthetic.ts';

/**
 * featuresOf and normalizeForSimilarity were rewritten for speed (no array of characters, no
 * filler scans for texts without a filler's first character): the first versions, kept here,
 * must give the same features, in the same order, with the same weights.
 */
const FILLERS = ['请问一下', '请问', '问一下', '麻烦问下', '麻烦', '你好', '您好', '谢谢', '打扰了', '想问下', '想问'];
const PARTICLES = /[吗嘛呢吧啊呀哦哈啦]+(?=$|[^\p{Script=Han}])|[呀啊啦]/gu;
const FUNCTION_CHARS = new Set([...'的了是我你您们他她它这那哪里么怎什吗呢吧啊呀哦嘛可以能会要想得在有没不就都也还和与或如何样多少个些请问下办']);
const SEGMENTS = /\p{Script=Han}+|(?:(?!\p{Script=Han})[\p{L}\p{N}])+/gu;
const HAN = /^\p{Script=Han}/u;

function firstNormalize(text: string): string {
  let t = fold(text);
  for (const filler of FILLERS) t = t.replaceAll(filler, ' ');
  return t.replace(PARTICLES, ' ');
}

function firstFeatures(text: string): Map<string, number> {
  const features = new Map<string, number>();
  const add = (key: string, weight: number) => features.set(key, (features.get(key) ?? 0) + weight);
  for (const [segment] of firstNormalize(text).matchAll(SEGMENTS)) {
    if (!HAN.test(segment)) {
      add(`w:${segment}`, 1);
      continue;
    }
    const chars = [...segment];
    for (let i = 0; i < chars.length; i++) {
      const c = chars[i] as string;
      if (!FUNCTION_CHARS.has(c)) add(`u:${c}`, 0.6);
      const next = chars[i + 1];
      if (next === undefined) continue;
      add(`b:${c}${next}`, FUNCTION_CHARS.has(c) && FUNCTION_CHARS.has(next) ? 0.3 : 1);
    }
  }
  return features;
}

describe('featuresOf', () => {
  const synthetic = syntheticFaq(300, 300);
  const corpus = [
    ...Object.values(FAQ).flat(),
    ...HITS.map(([text]) => text),
    ...MISSES,
    ...synthetic.entries.flatMap((e) => e.questions),
    ...synthetic.hits.map(([text]) => text),
    ...synthetic.misses,
    '你好，想问一下 wxbot 12',
    '这个东西能不能再便宜点 3',
    '我的订单 SF-20261130 到哪了',
    'hello there',
    '周末有人吗',
    '想问一下',
    '我想问一下价格',
    '谢谢谢谢谢你好好',
    '麻烦问一下麻烦问下你好你好请问请问一下',
    '请你好问',
    '请请问一下',
    '你你好好',
    '想问想问下',
    '问一下问一下问',
    '你好'.repeat(2000),
    `${'请问'.repeat(50)}一下`,
    '麻烦问下麻',
    '好你',
    '麻烦问下麻烦你好您好谢谢打扰了想问下想问请问一下',
    '𠀀𠀁𠀂的了 𪚥 你好𠀀',
    'ＶＩＰ会员，价格？！',
    '',
    '！？。',
    '的的的了了了',
    '吗吧呢啊呀',
    ...randomTexts(2000, 9),
  ];

  it('gives the features of the first version, in order, with the same weights', () => {
    for (const text of corpus) {
      expect([...featuresOf(text)], text).toEqual([...firstFeatures(text)]);
      expect(normalizeForSimilarity(text), text).toBe(firstNormalize(text));
    }
  });
});
