import { definePlugin } from '@wxbot/core';
import { defineDialog } from '../src/index.ts';

/** How often the order "API" was called, to prove replays do not call it again. */
export const lookups: string[] = [];

/** A two-step order lookup, as the issue describes it. */
export const orderLookup = defineDialog({
  name: 'order',
  title: '查询订单',
  async run(d) {
    const order = await d.ask('您的订单号是？', { validate: (t) => /^\d{6}$/.test(t) || '订单号是 6 位数字，请再输入一次。' });
    const phone = await d.ask('下单手机号的后四位？', { validate: (t) => /^\d{4}$/.test(t) });
    const status = await d.external(() => {
      lookups.push(`${order}/${phone}`);
      return phone === '0000' ? '未找到' : '已发货';
    });
    await d.reply(`订单 ${order}（尾号 ${phone}）：${status}`);
  },
});

/** A short-fused dialog for timeout tests. */
export const quick = defineDialog({
  name: 'quick',
  title: '快问',
  async run(d) {
    const answer = await d.ask('快说？', { timeout: 150 });
    await d.reply(`收到 ${answer}`);
  },
});

/** The commands that enter them, and an echo for whatever else reaches the end. */
export const orderCommands = definePlugin({
  name: 'order-commands',
  setup(bot) {
    bot.command('order', '查询订单', (ctx) => orderLookup.enter(ctx));
    bot.command('quick', '快问', (ctx) => quick.enter(ctx));
    bot.on('text', (ctx) => ctx.reply(`echo: ${ctx.message.text}`));
    bot.on('image', (ctx) => ctx.reply('image seen'));
  },
});
