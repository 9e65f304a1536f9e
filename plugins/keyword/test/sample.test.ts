import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Message } from '@wxbot/core';
import { createTestBot, event } from '@wxbot/testing';
import { echo } from '@wxbot/plugin-echo';
import { keyword, loadRuleFile } from '../src/index.ts';

const sample = fileURLToPath(new URL('../../../examples/faq/rules.yaml', import.meta.url));

describe('examples/faq/rules.yaml', () => {
  it('is a valid rule file', async () => {
    const content = await loadRuleFile(sample);
    expect(content.rules.length).toBeGreaterThanOrEqual(5);
    expect(content.faq.length).toBeGreaterThanOrEqual(8);
  });

  it('answers the way a customer-service bot should', async () => {
    const kit = await createTestBot({ kind: 'wecomKf', plugins: [keyword({ rulesFile: sample, watch: false }), echo({ prefix: '(next) ' })] });
    const say = async (text: string) => (await kit.send(text)).texts.join('\n');

    expect(await say('你好')).toMatch(/^您好，我是智能客服/);
    expect(await say('这个多少钱')).toMatch(/基础版 99 元\/月/);
    expect(await say('SF1234567890123')).toMatch(/顺丰运单号/);
    expect((await kit.send('最近有什么活动')).replies[0]).toMatchObject({ type: 'news' });
    expect((await kit.send('618 有优惠吗')).replies[0]).toMatchObject({ type: 'news' }); // a YAML number keyword
    const click = { ...event('subscribe'), event: 'click', eventKey: 'MENU_CONTACT' } as Message;
    expect((await kit.send(click)).texts[0]).toMatch(/400-800-1234/);

    expect(await say('请问几点开门呀')).toMatch(/^营业时间/);
    expect(await say('下单以后多久能发货')).toMatch(/48 小时内发货/);
    expect(await say('我想申请退款')).toMatch(/无理由退货/);
    expect(await say('退款几天能到账')).toMatch(/原路返回/);
    expect(await say('能开发票吗')).toMatch(/申请开票/);

    expect(await say('转人工')).toBe('正在为您转接人工客服，请稍候。');
    expect(kit.handoffs).toHaveLength(1);

    expect(await say('今天天气怎么样')).toBe('(next) 今天天气怎么样');
    await kit.close();
  });
});
