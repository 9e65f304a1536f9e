import { definePlugin } from '@wxbot/core';
import { z } from 'zod';

/**
 * A sample plugin: answers greetings and /about, and passes everything else on to the next
 * plugin. Options are checked by the zod schema when the bot starts. The bot answers /help
 * itself, listing every command registered with a description (so /about shows up there); a
 * plugin's own `help` command would replace that list.
 */
export const greet = definePlugin({
  name: 'greet',
  options: z.object({
    /** What a greeting gets back. */
    greeting: z.string().default('你好！我是 wxbot 机器人，发送 /help 查看我能做什么。'),
  }),
  setup(bot, { greeting }) {
    bot.hears(/^(hi|hello|你好|您好)[!！。.]?$/i, (ctx) => ctx.reply(greeting));
    bot.command('about', '这个机器人能做什么', (ctx) => ctx.reply('问我“营业时间”或“怎么联系你们”；其他文字我会原样发回。'));
  },
});
