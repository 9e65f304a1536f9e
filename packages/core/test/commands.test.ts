import { createTestBot } from '@wxbot/testing';
import { echo } from '@wxbot/plugin-echo';
import { describe, expect, it } from 'vitest';
import { defineCatalog, definePlugin } from '../src/index.ts';

const shop = definePlugin({
  name: 'shop',
  setup(bot) {
    bot.command('order', '查询订单', (ctx) => ctx.reply(`订单 ${ctx.match}`));
    bot.channel('officialAccount').command(['cart', 'c'], '查看购物车', (ctx) => ctx.reply('购物车是空的'));
    bot.command('secret', (ctx) => ctx.reply('undocumented'));
    bot.command('quiet', '什么也不说', async () => {});
  },
});

describe('commands with descriptions, /help and unknown commands', () => {
  it('/help and 帮助 list the described commands of every plugin, nested routes included', async () => {
    const other = definePlugin({ name: 'other', setup: (bot) => void bot.command('ping', '测试连通', (ctx) => ctx.reply('pong')) })();
    const kit = await createTestBot({ plugins: [shop(), other, echo()] });
    const expected = ['可用命令：', '/order — 查询订单', '/cart /c — 查看购物车', '/quiet — 什么也不说', '/ping — 测试连通'].join('\n');
    expect((await kit.send('/help')).texts).toEqual([expected]);
    expect((await kit.send(' 帮助 ')).texts).toEqual([expected]);
    expect((await kit.send(' HeLP\n')).texts).toEqual([expected]);
    expect((await kit.send('帮助一下')).texts).toEqual(['帮助一下']); // not a help word: echoed
    expect((await kit.send('/order 42')).texts).toEqual(['订单 42']);
    expect((await kit.send('/c')).texts).toEqual(['购物车是空的']);
    await kit.close();
  });

  it('refuses a command name no message can carry (a space, a "/" inside, empty), naming the plugin at start-up', async () => {
    for (const name of ['my order', 'a/b', '', '/']) {
      const wrong = definePlugin({ name: 'wrong', setup: (bot) => void bot.command(name, '查询', (ctx) => ctx.reply('never')) });
      await expect(createTestBot({ plugins: [wrong()] })).rejects.toThrow(`plugin "wrong" failed in setup: command name "${name.replace(/^\//, '')}" can never match`);
    }
    // A leading "/" is allowed and dropped, as before.
    const slashed = definePlugin({ name: 'slashed', setup: (bot) => void bot.command('/order', (ctx) => ctx.reply(`订单 ${ctx.match}`)) });
    const kit = await createTestBot({ plugins: [slashed()] });
    expect((await kit.send('/order 42')).texts).toEqual(['订单 42']);
    await kit.close();
  });

  it('answers an unknown command with a pointer to /help instead of the echo; plain text is still echoed', async () => {
    const kit = await createTestBot({ plugins: [shop(), echo()] });
    expect((await kit.send('/refund 1')).texts).toEqual(['没有 /refund 这个命令。发送 /help 查看可用命令。']);
    expect((await kit.send('hello')).texts).toEqual(['hello']);
    // Registered but silent: not "unknown".
    expect((await kit.send('/quiet')).texts).toEqual([]);
    await kit.close();
  });

  it('leaves a command a plugin answered from ctx.message.command alone', async () => {
    const manual = definePlugin({
      name: 'manual',
      setup: (bot) => void bot.on('text', (ctx, next) => (ctx.message.command?.name === 'reset' ? ctx.reply('done') : next())),
    })();
    const kit = await createTestBot({ plugins: [manual] });
    expect((await kit.send('/reset')).texts).toEqual(['done']);
    await kit.close();
  });

  it('lets a plugin’s own help command win', async () => {
    const own = definePlugin({ name: 'own', setup: (bot) => void bot.command('help', (ctx) => ctx.reply('my help')) })();
    const kit = await createTestBot({ plugins: [own, echo()] });
    expect((await kit.send('/help')).texts).toEqual(['my help']);
    await kit.close();
  });

  it('speaks the bot’s language', async () => {
    const kit = await createTestBot({ plugins: [shop()], i18n: { locale: 'en' } });
    expect((await kit.send('help')).texts[0]).toMatch(/^Commands:\n\/order — 查询订单/);
    expect((await kit.send('/nope')).texts).toEqual(['There is no /nope command. Send /help to see the commands.']);
    await kit.close();
    const empty = await createTestBot({ plugins: [] });
    expect((await empty.send('/help')).texts).toEqual(['这里暂时没有可用的命令，直接发消息给我就好。']);
    await empty.close();
  });

  it('a description may be a text of a catalog: said in the bot’s language, overridable', async () => {
    const texts = defineCatalog('tidy', { 'zh-CN': { cleanHelp: '清空记录' }, en: { cleanHelp: 'Clear the history' } });
    const tidy = definePlugin({ name: 'tidy', setup: (bot) => void bot.command('clean', { catalog: texts, key: 'cleanHelp' }, (ctx) => ctx.reply('ok')) });
    for (const [i18n, line] of [
      [{}, '/clean — 清空记录'],
      [{ locale: 'en' }, '/clean — Clear the history'],
      [{ texts: { 'tidy.cleanHelp': '全部删掉' } }, '/clean — 全部删掉'],
    ] as const) {
      const kit = await createTestBot({ plugins: [tidy()], i18n });
      expect((await kit.send('/help')).texts[0]!.split('\n')[1]).toBe(line);
      expect((await kit.send('/clean')).texts).toEqual(['ok']);
      await kit.close();
    }
  });
});
