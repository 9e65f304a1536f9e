import type { Message } from '@wxbot/core';
import { event, text, voice } from '@wxbot/testing';
import { describe, expect, it } from 'vitest';
import { compileRule, firstMatch, RuleSet, type KeywordRule } from '../src/rules.ts';
import { MatchText } from '../src/text.ts';
import { randomTexts } from './fixtures/randomTexts.ts';

/**
 * RuleSet finds every rule's `contains` keywords in one pass and its `exact` ones in one lookup:
 * it must answer as trying each rule's keywords in turn (firstMatch) does, from every index.
 */
const RULES: KeywordRule[] = [
  { keywords: ['价格', '价钱', '多少钱'], reply: 'price' },
  { keywords: ['你好', 'hello', '在吗', '?'], match: 'exact', reply: 'hi' },
  { keywords: ['^sf\\d{2,}$', '退款(\\d+)'], match: 'regex', reply: 'regex' },
  { keywords: ['快递', /顺丰/, '发货'], reply: 'mixed' },
  { keywords: ['优惠', '价格'], channels: ['wecomKf'], reply: 'kf only' },
  { keywords: 'MENU_CONTACT', match: 'exact', types: ['event'], reply: 'menu' },
  { keywords: ['人工', '工'], types: ['text', 'voice'], reply: 'voice too' },
  { types: ['voice'], reply: 'any voice' },
  { keywords: ['Ab', 'ｂｃ', 'vip'], reply: 'latin' },
  { keywords: ['价'], match: 'exact', reply: 'exact price' },
  { keywords: ['会员', '问'], reply: 'late' },
  { reply: 'every text' },
  { keywords: ['哈'], reply: 'after the catch-all' },
];

describe('RuleSet', () => {
  const compiled = RULES.map((rule, i) => compileRule(rule, `rules[${i}]`));
  const set = new RuleSet(compiled);
  const withoutCatchAll = compiled.filter((r) => r.reply !== 'every text');
  const partial = new RuleSet(withoutCatchAll);
  const kf = { name: 'kf', kind: 'wecomKf' as const };
  const messages: Message[] = [
    ...randomTexts(1200, 11).flatMap((t, i) => [text(t), ...(i % 5 === 0 ? [text(t, { channel: kf }), voice('m', { recognition: t })] : [])]),
    text('价格'),
    text('你好！'),
    text('SF12345'),
    text('我要退款42'),
    text('顺丰到了吗'),
    text('优惠', { channel: kf }),
    event('subscribe'),
    { ...event('subscribe'), eventKey: 'MENU_CONTACT' } as Message,
    voice('m'),
    voice('m', { recognition: '转人工' }),
    text('ＡＢ'),
    text('?'),
    // Longer than every exact keyword, but one once the edges' punctuation and symbols are stripped.
    text(`${'！'.repeat(20)}你好${'？'.repeat(20)}`),
    text(`价${'!'.repeat(20)}`),
    text(`${'😀'.repeat(12)}hello`),
    text(`hello world${'!'.repeat(20)}`),
  ];

  it('gives the rule, index and match of trying each rule in turn, from every index', () => {
    for (const [rules, ruleSet] of [
      [compiled, set],
      [withoutCatchAll, partial],
    ] as const) {
      for (const message of messages) {
        const prepared = message.type === 'text' ? new MatchText(message.text) : undefined;
        for (let from = 0; from <= rules.length; from++) {
          const expected = firstMatch(rules, from, message);
          const got = ruleSet.firstMatch(from, message, prepared);
          const label = `${JSON.stringify(message.type === 'text' ? message.text : message.type)} from ${from}`;
          expect(got?.index, label).toBe(expected?.index);
          expect(got?.rule, label).toBe(expected?.rule);
          if (typeof expected?.match === 'object') expect([...((got?.match ?? []) as RegExpExecArray)], label).toEqual([...expected.match]);
          else expect(got?.match, label).toBe(expected?.match);
        }
      }
    }
  });
});
