import { createTestBot } from '@wxbot/testing';
import { describe, expect, it } from 'vitest';
import { I18n, coreTexts, defineCatalog, definePlugin, interpolate } from '../src/index.ts';

const texts = defineCatalog('greet', {
  'zh-CN': { hello: '你好，{name}！', bye: '再见' },
  en: { hello: 'Hello, {name}!', bye: 'Bye' },
});

describe('i18n', () => {
  it('says zh-CN by default, en when asked, and finds en for en-US', () => {
    expect(new I18n().t(texts, 'hello', { name: '小王' })).toBe('你好，小王！');
    expect(new I18n({ locale: 'en' }).t(texts, 'hello', { name: 'Wang' })).toBe('Hello, Wang!');
    expect(new I18n({ locale: 'en-US' }).t(texts, 'bye')).toBe('Bye');
  });

  it('falls back to zh-CN for a language the catalog lacks', () => {
    expect(new I18n({ locale: 'fr' }).t(texts, 'bye')).toBe('再见');
  });

  it('lets a bot override any text by namespace.key, placeholders included', () => {
    const i18n = new I18n({ locale: 'en', texts: { 'greet.hello': 'Hi {name}' } });
    expect(i18n.t(texts, 'hello', { name: 'Li' })).toBe('Hi Li');
    expect(i18n.all(texts)).toEqual({ hello: 'Hi {name}', bye: 'Bye' });
  });

  it('leaves unknown placeholders as written and treats parameters as plain text', () => {
    expect(interpolate('{a} {b}', { a: '$&{b}' })).toBe('$&{b} {b}');
  });

  it('checks keys and parameters at compile time', () => {
    const i18n = new I18n();
    // @ts-expect-error: no such key
    i18n.t(texts, 'nope');
    // @ts-expect-error: `hello` needs { name }
    i18n.t(texts, 'hello');
    expect(() => defineCatalog('bad namespace', { 'zh-CN': {} })).toThrow(/namespace/);
  });

  it('reaches handlers as ctx.t in the bot’s language', async () => {
    const plugin = definePlugin({ name: 'greet', setup: (bot) => void bot.on('text', (ctx) => ctx.reply(ctx.t(texts, 'hello', { name: ctx.from }))) })();
    const zh = await createTestBot({ plugins: [plugin] });
    expect((await zh.send('hi')).texts).toEqual(['你好，user-1！']);
    const en = await createTestBot({ plugins: [plugin], i18n: { locale: 'en' } });
    expect((await en.send('hi')).texts).toEqual(['Hello, user-1!']);
    expect(en.bot.i18n.t(coreTexts, 'unknownCommand', { command: 'x' })).toBe('There is no /x command. Send /help to see the commands.');
    await zh.close();
    await en.close();
  });
});
