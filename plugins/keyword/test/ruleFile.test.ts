import { mkdir, rename, symlink, writeFile } from 'node:fs/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestBot, type TestBot } from '@wxbot/testing';
import { echo } from '@wxbot/plugin-echo';
import { keyword, loadRuleFile, RuleFileError } from '../src/index.ts';
import { captureLogs, eventually, tempDir } from './helpers.ts';

const yamlRule = (word: string, reply: string) => `rules:\n  - keywords: ${word}\n    reply: ${reply}\n`;

describe('rule files', () => {
  let tmp: Awaited<ReturnType<typeof tempDir>>;
  let kit: TestBot | undefined;
  beforeEach(async () => {
    tmp = await tempDir();
  });
  afterEach(async () => {
    await kit?.close();
    kit = undefined;
    await tmp.remove();
  });

  const replyTo = async (text: string) => (await kit!.send(text)).texts.join(' | ');

  it('loads YAML at start and reloads it when it changes, without a restart', async () => {
    const file = tmp.path('rules.yaml');
    await writeFile(file, yamlRule('价格', '99 元'));
    kit = await createTestBot({ plugins: [keyword({ rulesFile: file, watchDebounceMs: 20 }), echo()] });
    expect(await replyTo('价格')).toBe('99 元');

    const started = Date.now();
    await writeFile(file, `${yamlRule('价格', '199 元')}  - keywords: 发货\n    reply: 48 小时内发货\n`);
    expect(await eventually(async () => (await replyTo('价格')) === '199 元')).toBe(true);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(await replyTo('什么时候发货')).toBe('48 小时内发货');
  });

  it('reloads after an editor-style save (write a new file, rename it over the old)', async () => {
    const file = tmp.path('rules.yml');
    await writeFile(file, yamlRule('价格', 'v1'));
    kit = await createTestBot({ plugins: [keyword({ rulesFile: file, watchDebounceMs: 20 })] });
    for (const version of ['v2', 'v3']) {
      await writeFile(tmp.path('.rules.yml.swp'), yamlRule('价格', version));
      await rename(tmp.path('.rules.yml.swp'), file);
      expect(await eventually(async () => (await replyTo('价格')) === version)).toBe(true);
    }
  });

  it('reloads a Kubernetes-style ConfigMap mount (a symlink through a swapped ..data link)', async () => {
    // rules.yaml -> ..data/rules.yaml, ..data -> v1; an update swaps ..data to v2 by rename.
    const versions: Array<[string, string]> = [
      ['v1', '99 元'],
      ['v2', '199 元'],
    ];
    for (const [version, reply] of versions) {
      await mkdir(tmp.path(version));
      await writeFile(tmp.path(`${version}/rules.yaml`), yamlRule('价格', reply));
    }
    await symlink('v1', tmp.path('..data'));
    await symlink('..data/rules.yaml', tmp.path('rules.yaml'));
    kit = await createTestBot({ plugins: [keyword({ rulesFile: tmp.path('rules.yaml'), watchDebounceMs: 20 })] });
    expect(await replyTo('价格')).toBe('99 元');
    await symlink('v2', tmp.path('..data_tmp'));
    await rename(tmp.path('..data_tmp'), tmp.path('..data'));
    expect(await eventually(async () => (await replyTo('价格')) === '199 元')).toBe(true);
  });

  it('keeps the previous rules when the file breaks, logs an error naming it, and recovers', async () => {
    const file = tmp.path('rules.yaml');
    await writeFile(file, yamlRule('价格', '99 元'));
    const { logger, lines } = captureLogs();
    kit = await createTestBot({ logger, plugins: [keyword({ rulesFile: file, watchDebounceMs: 20 })] });
    const errors = () => lines.filter((l) => l.level >= 50);

    // Each breakage, and the message its error must carry (besides the file name).
    const breakages: Array<[string, string]> = [
      ['rules:\n  - keywords: [价格\n    reply: broken', 'not valid YAML'],
      ['rules:\n  - keywords: 价格\n', 'rules[0].reply'],
      ['rules:\n  - name: 单号\n    match: regex\n    keywords: "([0-9"\n    reply: x\n', 'rule "单号" has an invalid regex'],
      ['', 'the file is empty'], // as editors leave it for a moment
    ];
    for (const [text, expected] of breakages) {
      const before = errors().length;
      await writeFile(file, text);
      // A write can arrive as two events (truncate, then data): look for the expected error
      // among what was logged since, rather than counting.
      const logged = () =>
        errors()
          .slice(before)
          .find((e) => e.msg.includes(expected));
      expect(await eventually(() => logged() !== undefined), `${expected}: ${JSON.stringify(errors().map((e) => e.msg))}`).toBe(true);
      expect(logged()?.msg).toContain(`cannot load rule file ${file}`);
      expect(logged()?.msg).toContain('keeping the previous rules');
      expect(await replyTo('价格')).toBe('99 元');
    }

    await writeFile(file, yamlRule('价格', '199 元'));
    expect(await eventually(async () => (await replyTo('价格')) === '199 元')).toBe(true);
  });

  it('reads JSON, a bare list per file kind, and rules and FAQ from one file', async () => {
    const rulesFile = tmp.path('rules.json');
    const faqFile = tmp.path('faq.yaml');
    await writeFile(rulesFile, JSON.stringify([{ keywords: 'VIP', match: 'exact', reply: { type: 'image', mediaId: 'VIP_CARD' } }]));
    await writeFile(faqFile, '- question: [你们几点开门, 营业时间]\n  answer: 每天 9:00–21:00\n');
    kit = await createTestBot({ plugins: [keyword({ rulesFile, faqFile })] });
    expect((await kit.send('vip')).replies).toEqual([{ type: 'image', mediaId: 'VIP_CARD' }]);
    expect(await replyTo('请问几点开门呀')).toBe('每天 9:00–21:00');
    await kit.close();

    const both = tmp.path('both.yaml');
    await writeFile(both, `${yamlRule('价格', '99 元')}faq:\n  - question: 退款怎么申请\n    answer: 在订单页申请售后\n`);
    kit = await createTestBot({ plugins: [keyword({ rulesFile: both, faqFile: both })] });
    expect(await replyTo('价格')).toBe('99 元');
    expect(await replyTo('我想申请退款')).toBe('在订单页申请售后');
  });

  it('puts option rules before file rules', async () => {
    const file = tmp.path('rules.yaml');
    await writeFile(file, yamlRule('价格', '来自文件'));
    kit = await createTestBot({ plugins: [keyword({ rulesFile: file, rules: [{ keywords: '价格', reply: '来自选项' }] })] });
    expect(await replyTo('价格')).toBe('来自选项');
  });

  it('starts without a missing file (logging it) and picks it up once it appears', async () => {
    const file = tmp.path('later.yaml');
    const { logger, lines } = captureLogs();
    kit = await createTestBot({ logger, plugins: [keyword({ rulesFile: file, watchDebounceMs: 20 }), echo()] });
    expect(lines.find((l) => l.level >= 50)?.msg).toContain(`${file}: no such file`);
    expect(await replyTo('价格')).toBe('价格');
    await writeFile(file, yamlRule('价格', '99 元'));
    expect(await eventually(async () => (await replyTo('价格')) === '99 元')).toBe(true);
  });

  it('stops watching when the bot stops', async () => {
    const file = tmp.path('rules.yaml');
    await writeFile(file, yamlRule('价格', 'v1'));
    const { logger, lines } = captureLogs();
    kit = await createTestBot({ logger, plugins: [keyword({ rulesFile: file, watchDebounceMs: 10 })] });
    const loads = () => lines.filter((l) => l.msg.startsWith('loaded rule file')).length;
    expect(loads()).toBe(1);
    await kit.close();
    kit = undefined;
    await writeFile(file, yamlRule('价格', 'v2'));
    await new Promise((r) => setTimeout(r, 200));
    expect(loads()).toBe(1);
  });

  it('does not watch with watch: false', async () => {
    const file = tmp.path('rules.yaml');
    await writeFile(file, yamlRule('价格', 'v1'));
    kit = await createTestBot({ plugins: [keyword({ rulesFile: file, watch: false, watchDebounceMs: 10 })] });
    await writeFile(file, yamlRule('价格', 'v2'));
    await new Promise((r) => setTimeout(r, 200));
    expect(await replyTo('价格')).toBe('v1');
  });

  it('loadRuleFile checks a file without a bot', async () => {
    const file = tmp.path('check.yaml');
    await writeFile(file, 'rules:\n  - keywords: 价格\n    replies: x\n');
    const error = await loadRuleFile(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RuleFileError);
    expect((error as Error).message).toMatch(/check\.yaml: rules\[0\]/);
  });
});
