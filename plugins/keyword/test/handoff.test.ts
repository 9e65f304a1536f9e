import { describe, expect, it } from 'vitest';
import { createBot, createLogger, definePlugin, generateEncodingAESKey, officialAccount, type Channel, type Plugin } from '@wxbot/core';
import { createTestBot, image } from '@wxbot/testing';
import { echo } from '@wxbot/plugin-echo';
import { DEFAULT_HANDOFF_REPLY, keyword, keywordTexts } from '../src/index.ts';

describe('hand-off words', () => {
  it('on KF: replies, then hands off, and the platform takes the session', async () => {
    const kit = await createTestBot({ kind: 'wecomKf', plugins: [keyword(), echo()] });
    const result = await kit.send('转人工');
    expect(result.texts).toEqual([DEFAULT_HANDOFF_REPLY]);
    expect(kit.handoffs).toHaveLength(1);
    expect(kit.handoffs[0]).toMatchObject({ handledByPlatform: true, options: { reason: 'keyword' } });
    expect(kit.handoffs[0]?.message).toMatchObject({ type: 'text', text: '转人工' });
    await kit.close();
  });

  it('says the hand-off text in the bot’s language, or the bot’s override of it', async () => {
    const en = await createTestBot({ kind: 'wecomKf', plugins: [keyword()], i18n: { locale: 'en' } });
    expect((await en.send('人工')).texts).toEqual([keywordTexts.languages.en!.handoff]);
    await en.close();
    const custom = await createTestBot({ kind: 'wecomKf', plugins: [keyword()], i18n: { texts: { 'keyword.handoff': '稍等，马上有人来' } } });
    expect((await custom.send('人工')).texts).toEqual(['稍等，马上有人来']);
    await custom.close();
  });

  it('on an Official Account with nobody to take hand-offs: says no human is available instead of promising one; the event still fires', async () => {
    const kit = await createTestBot({ plugins: [keyword(), echo()] });
    const heard: unknown[] = [];
    kit.bot.events.on('handoff', (e) => void heard.push(e.options));
    expect((await kit.send('人工客服')).texts).toEqual([keywordTexts.languages['zh-CN']!.noHuman]);
    expect(kit.handoffs).toHaveLength(1);
    expect(kit.handoffs[0]?.handledByPlatform).toBe(false);
    expect(heard).toEqual([{ reason: 'keyword' }]);
    await kit.close();
  });

  it('on an Official Account where a plugin takes hand-offs (an agent console): promises a human', async () => {
    const taken: unknown[] = [];
    const console_ = definePlugin({ name: 'console-stand-in', setup: (scope) => scope.handleHandoffs((e) => void taken.push(e.options)) });
    const kit = await createTestBot({ plugins: [console_(), keyword(), echo()] });
    expect((await kit.send('人工客服')).texts).toEqual([DEFAULT_HANDOFF_REPLY]);
    expect(taken).toEqual([{ reason: 'keyword' }]);
    await kit.close();
  });

  it('matches by containment by default, before any rule', async () => {
    const kit = await createTestBot({ kind: 'wecomKf', plugins: [keyword({ rules: [{ keywords: '客服电话', reply: '400-800-1234' }] })] });
    expect((await kit.send('我要转人工！')).texts).toEqual([DEFAULT_HANDOFF_REPLY]);
    expect((await kit.send('客服电话多少')).texts).toEqual([DEFAULT_HANDOFF_REPLY]);
    expect(kit.handoffs).toHaveLength(2);
    await kit.close();
  });

  it("matches the whole text with handoffMatch: 'exact'", async () => {
    const kit = await createTestBot({
      kind: 'wecomKf',
      plugins: [keyword({ handoffMatch: 'exact', rules: [{ keywords: '客服电话', reply: '400-800-1234' }] }), echo()],
    });
    expect((await kit.send(' 人工。')).texts).toEqual([DEFAULT_HANDOFF_REPLY]);
    expect((await kit.send('客服电话多少')).texts).toEqual(['400-800-1234']);
    expect((await kit.send('人工智能是什么')).texts).toEqual(['人工智能是什么']);
    expect(kit.handoffs).toHaveLength(1);
    await kit.close();
  });

  it('takes custom words, reply and servicer; false sends no reply; [] turns it off', async () => {
    const custom = await createTestBot({
      kind: 'wecomKf',
      plugins: [keyword({ handoffWords: ['找真人', 'HUMAN'], handoffReply: ['好的', '请稍候'], handoffServicer: 'zhangsan' })],
    });
    expect((await custom.send('human please')).texts).toEqual(['好的', '请稍候']);
    expect((await custom.send('人工')).texts).toEqual([]); // not one of the custom words
    expect(custom.handoffs.map((h) => h.options)).toEqual([{ reason: 'keyword', servicerUserId: 'zhangsan' }]);
    await custom.close();

    const silent = await createTestBot({ plugins: [keyword({ handoffReply: false })] });
    expect((await silent.send('人工')).replies).toEqual([]);
    expect(silent.handoffs).toHaveLength(1);
    await silent.close();

    const off = await createTestBot({ plugins: [keyword({ handoffWords: [] }), echo()] });
    expect((await off.send('人工')).texts).toEqual(['人工']);
    expect(off.handoffs).toHaveLength(0);
    await off.close();
  });

  it('come before a rule without keywords (which answers every text), and that rule answers when the words are off', async () => {
    const rules = [{ reply: '什么都回' }];
    const kit = await createTestBot({ kind: 'wecomKf', plugins: [keyword({ rules })] });
    expect((await kit.send('转人工')).texts).toEqual([DEFAULT_HANDOFF_REPLY]);
    expect((await kit.send('你好')).texts).toEqual(['什么都回']);
    expect(kit.handoffs).toHaveLength(1);
    await kit.close();

    const off = await createTestBot({ kind: 'wecomKf', plugins: [keyword({ rules, handoffWords: [] })] });
    expect((await off.send('转人工')).texts).toEqual(['什么都回']);
    expect(off.handoffs).toHaveLength(0);
    await off.close();
  });

  it('ignores non-text messages', async () => {
    const kit = await createTestBot({ plugins: [keyword()] });
    expect((await kit.send(image('人工'))).replies).toEqual([]);
    expect(kit.handoffs).toHaveLength(0);
    await kit.close();
  });
});

describe('hand-off words with nobody to receive them', () => {
  async function startLogs(plugins: Plugin[], channels: Channel[]): Promise<Record<string, unknown>[]> {
    const logs: Record<string, unknown>[] = [];
    const logger = createLogger({ level: 'warn', destination: { write: (line: string) => void logs.push(JSON.parse(line) as Record<string, unknown>) } });
    const bot = createBot({ channels, plugins, logger, metrics: false });
    await bot.start({ port: 0, host: '127.0.0.1' });
    await bot.stop();
    return logs;
  }
  const oa = () => officialAccount({ appId: 'wx-oa', token: 'tok', encodingAESKey: generateEncodingAESKey() });
  const warning = (logs: Record<string, unknown>[]) => logs.find((l) => String(l['msg']).startsWith('hand-off words are on, but nobody'));

  it('warns once at start, naming the channels, and says nothing when a plugin takes hand-offs or the words are off', async () => {
    const alone = await startLogs([keyword()], [oa()]);
    expect(warning(alone)).toMatchObject({ level: 40, plugin: 'keyword', channels: ['officialAccount'] });

    const taker = definePlugin({ name: 'taker', setup: (scope) => scope.handleHandoffs(() => {}) });
    expect(warning(await startLogs([taker(), keyword()], [oa()]))).toBeUndefined();
    expect(warning(await startLogs([keyword({ handoffWords: [] })], [oa()]))).toBeUndefined();
  });
});
