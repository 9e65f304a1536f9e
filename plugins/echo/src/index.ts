import { definePlugin, replies } from '@wxbot/core';
import { z } from 'zod';

/**
 * Echo: sends text, images and voice back to the sender, as the seeds' demo does. It is the
 * smallest real plugin, and the model for writing one: options with a schema, routes with
 * `on`, and `next()` for everything it does not handle (commands too: the bot answers
 * those it does not know with a pointer to `/help`).
 */
export const echo = definePlugin({
  name: 'echo',
  options: z.object({
    /** Put before echoed text, e.g. "echo: ". */
    prefix: z.string().default(''),
    /** Message types to echo. */
    types: z.array(z.enum(['text', 'image', 'voice'])).default(['text', 'image', 'voice']),
  }),
  setup(bot, { prefix, types }) {
    bot.on('text', async (ctx, next) => {
      // Commands are not echoed: the bot answers unknown ones with a pointer to /help.
      if (!types.includes('text') || ctx.message.command) return next();
      await ctx.reply(`${prefix}${ctx.message.text}`);
    });
    bot.on('image', async (ctx, next) => {
      if (!types.includes('image')) return next();
      await ctx.reply(replies.image(ctx.message.mediaId));
    });
    bot.on('voice', async (ctx, next) => {
      if (!types.includes('voice')) return next();
      await ctx.reply(replies.voice(ctx.message.mediaId));
    });
  },
});
