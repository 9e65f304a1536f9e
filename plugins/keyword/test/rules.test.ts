import { describe, expect, it } from 'vitest';
import { PluginOptionsError, replies, type Message } from '@wxbot/core';
import { createTestBot, event, image, text, voice } from '@wxbot/testing';
import { echo } from '@wxbot/plugin-echo';
import { keyword } from '../src/index.ts';

const none = { handoffWords: [] };

describe('keyword rules', () => {
  it('matches contains (default), exact and regex, ignoring latin case and edge whitespace', async () => {
    const kit = await createTestBot({
      plugins: [
        keyword({
          rules: [
            { keywords: ['价格', '多少钱'], reply: '基础版 99 元/月' },
            { keywords: 'hello', match: 'exact', reply: '您好' },
            { keywords: '^sf\\d{12}$', match: 'regex', reply: '顺丰单号' },
            { keywords: /^退款\s*(\d+)$/, reply: '退款单' },
          ],
        }),
      ],
    });
    expect((await kit.send('请问这个多少钱？')).texts).toEqual(['基础版 99 元/月']);
    expect((await kit.send('  价格  ')).texts).toEqual(['基础版 99 元/月']);
    expect((await kit.send(' HeLLo ')).texts).toEqual(['您好']);
    expect((await kit.send('hello!')).texts).toEqual(['您好']); // edge punctuation is ignored by exact
    expect((await kit.send('hello world')).texts).toEqual([]); // exact is the whole text
    expect((await kit.send('SF123456789012')).texts).toEqual(['顺丰单号']);
    expect((await kit.send('sf1234')).texts).toEqual([]);
    expect((await kit.send('退款 42')).texts).toEqual(['退款单']);
    await kit.close();
  });

  it('folds full-width latin and digits, as phone keyboards type them', async () => {
    const kit = await createTestBot({
      plugins: [
        keyword({
          ...none,
          rules: [
            { keywords: 'vip', reply: 'VIP 说明' },
            { keywords: '^\\d{4}$', match: 'regex', reply: '四位数' },
          ],
        }),
      ],
    });
    expect((await kit.send('ＶＩＰ有什么用')).texts).toEqual(['VIP 说明']);
    expect((await kit.send('１２３４')).texts).toEqual(['四位数']);
    await kit.close();
  });

  it('takes the first matching rule, in order', async () => {
    const kit = await createTestBot({
      plugins: [
        keyword({
          rules: [
            { keywords: '退款', reply: 'first' },
            { keywords: '退款进度', reply: 'second' },
          ],
        }),
      ],
    });
    expect((await kit.send('退款进度')).texts).toEqual(['first']);
    await kit.close();
  });

  it('filters by channel kind or name', async () => {
    const rules = [
      { keywords: '发票', channels: ['wecomKf'], reply: 'KF 发票' },
      { keywords: '发票', channels: ['shop'], reply: '按名称' },
      { keywords: '地址', channels: ['wecomApp'], reply: '企业微信' },
    ];
    const kf = await createTestBot({ kind: 'wecomKf', plugins: [keyword({ ...none, rules })] });
    expect((await kf.send('发票')).texts).toEqual(['KF 发票']);
    expect((await kf.send('地址')).texts).toEqual([]);
    await kf.close();
    const oa = await createTestBot({ name: 'shop', plugins: [keyword({ ...none, rules })] });
    expect((await oa.send('发票')).texts).toEqual(['按名称']);
    await oa.close();
  });

  it('looks at text only by default; other types when a rule lists them', async () => {
    const kit = await createTestBot({
      plugins: [
        keyword({
          ...none,
          rules: [
            { keywords: '图片', reply: '文字里的图片' },
            { types: ['image'], reply: '图片已收到，客服会尽快查看。' },
            { types: ['voice'], keywords: '退款', reply: '语音说了退款' },
            { types: ['event'], match: 'exact', keywords: 'MENU_CONTACT', reply: '客服热线 400-800-1234' },
          ],
        }),
      ],
    });
    expect((await kit.send(image('m1'))).texts).toEqual(['图片已收到，客服会尽快查看。']);
    expect((await kit.send(voice('v1', { recognition: '我要退款。' }))).texts).toEqual(['语音说了退款']);
    expect((await kit.send(voice('v2'))).texts).toEqual([]); // no transcript, nothing to match
    const click = { ...event('subscribe'), event: 'click', eventKey: 'MENU_CONTACT' } as Message;
    expect((await kit.send(click)).texts).toEqual(['客服热线 400-800-1234']);
    await kit.close();
  });

  it('sends any reply type, and several replies in order', async () => {
    const news = replies.news({ title: '双十一活动', description: '满 300 减 50', url: 'https://example.com/a' });
    const kit = await createTestBot({
      plugins: [
        keyword({
          rules: [
            { keywords: '二维码', reply: { type: 'image', mediaId: 'MEDIA_QR' } },
            { keywords: '活动', reply: news },
            { keywords: '地址', reply: ['门店地址：漕溪北路 88 号', { type: 'image', mediaId: 'MAP' }] },
          ],
        }),
      ],
    });
    expect((await kit.send('二维码')).replies).toEqual([{ type: 'image', mediaId: 'MEDIA_QR' }]);
    expect((await kit.send('有活动吗')).replies).toEqual([news]);
    expect((await kit.send('地址')).replies).toEqual([
      { type: 'text', text: '门店地址：漕溪北路 88 号' },
      { type: 'image', mediaId: 'MAP' },
    ]);
    await kit.close();
  });

  it('calls reply functions with ctx.match; a function returning nothing declines', async () => {
    const kit = await createTestBot({
      plugins: [
        keyword({
          rules: [
            { keywords: '^订单\\s*(\\d{6,})$', match: 'regex', reply: (ctx) => `正在查询订单 ${(ctx.match as RegExpExecArray)[1]}` },
            { keywords: '时间', reply: async (ctx) => (ctx.from === 'vip' ? ['VIP 专线 24 小时', '祝您愉快'] : undefined) },
            { keywords: '时间', reply: '营业时间 9:00–21:00' },
          ],
        }),
      ],
    });
    expect((await kit.send('订单 1234567')).texts).toEqual(['正在查询订单 1234567']);
    expect((await kit.send(text('时间', { from: 'vip' }))).texts).toEqual(['VIP 专线 24 小时', '祝您愉快']);
    expect((await kit.send('时间')).texts).toEqual(['营业时间 9:00–21:00']);
    await kit.close();
  });

  it('passes what nothing matched to the next plugin', async () => {
    const kit = await createTestBot({ plugins: [keyword({ rules: [{ keywords: '价格', reply: '99 元' }] }), echo({ prefix: 'echo: ' })] });
    expect((await kit.send('价格')).texts).toEqual(['99 元']);
    expect((await kit.send('随便聊聊')).texts).toEqual(['echo: 随便聊聊']);
    expect((await kit.send(image('m1'))).replies).toEqual([{ type: 'image', mediaId: 'm1' }]);
    await kit.close();
  });

  it('refuses an invalid regex at start, naming the rule', () => {
    expect(() =>
      keyword({
        rules: [
          { keywords: 'ok', reply: 'a' },
          { name: '订单号', keywords: ['ok', '([0-9'], match: 'regex', reply: 'b' },
        ],
      }),
    ).toThrow(PluginOptionsError);
    expect(() => keyword({ rules: [{ name: '订单号', keywords: ['ok', '([0-9'], match: 'regex', reply: 'b' }] })).toThrow(
      /plugin "keyword": option "rules\.0\.keywords\.1": rule "订单号" has an invalid regex "\(\[0-9"/,
    );
    expect(() => keyword({ rules: [{ keywords: '(', match: 'regex', reply: 'b' }] })).toThrow(/rule "rules\[0\]"/);
  });

  it('refuses wrong options, naming the option', () => {
    const bad = (options: unknown) => () => keyword(options as Parameters<typeof keyword>[0]);
    expect(bad({ faqThreshold: 2 })).toThrow(/plugin "keyword": option "faqThreshold"/);
    expect(bad({ rules: [{ keywords: '价格' }] })).toThrow(/option "rules\.0\.reply"/);
    expect(bad({ rules: [{ keyword: '价格', reply: 'x' }] })).toThrow(/unknown option "rules\.0\.keyword" \(did you mean "rules\.0\.keywords"\?\)/);
    expect(bad({ rules: [{ keywords: '价格', types: ['picture'], reply: 'x' }] })).toThrow(/option "rules\.0\.types\.0"/);
    expect(bad({ rules: [{ keywords: '  ', reply: 'x' }] })).toThrow(/option "rules\.0\.keywords"/);
    expect(bad({ handoffMatch: 'fuzzy' })).toThrow(/option "handoffMatch"/);
    expect(bad({ rules: [{ keywords: 'x', reply: { type: 'image' } }] })).toThrow(/option "rules\.0\.reply/);
  });
});
