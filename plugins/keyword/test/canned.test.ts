import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cannedRepliesFrom } from '../src/index.ts';

describe("cannedRepliesFrom (the agent console's canned replies from a rule/FAQ file)", () => {
  it('lists each FAQ entry under its first wording, then named rules with text replies', async () => {
    const sample = fileURLToPath(new URL('../../../examples/faq/rules.yaml', import.meta.url));
    const canned = await cannedRepliesFrom(sample);
    expect(canned[0]).toEqual({ label: '你们几点开门', text: '营业时间：每天 9:00–21:00，节假日照常营业。' });
    expect(canned.map((c) => c.label)).toEqual(expect.arrayContaining(['退款怎么申请', '价格', '联系方式']));
    expect(canned.find((c) => c.label === '价格')?.text).toMatch(/^目前的套餐价格：\n· 基础版 99 元\/月/);
  });

  it('leaves out unnamed rules and replies that are not text; joins several texts; reads the file again each call', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxbot-canned-'));
    const file = join(dir, 'rules.yaml');
    writeFileSync(
      file,
      [
        'rules:',
        '  - keywords: [匿名]',
        '    reply: 无名规则',
        '  - name: 活动海报',
        '    keywords: [海报]',
        '    reply: { type: image, mediaId: m-1 }',
        'faq:',
        '  - question: 几点上班',
        '    answer: [九点, 周末休息]',
      ].join('\n'),
    );
    expect(await cannedRepliesFrom(file)).toEqual([{ label: '几点上班', text: '九点\n\n周末休息' }]);
    writeFileSync(file, 'faq:\n  - question: [新问题, 另一种问法]\n    answer: 新答案\n');
    expect(await cannedRepliesFrom(file)).toEqual([{ label: '新问题', text: '新答案' }]);
  });
});
