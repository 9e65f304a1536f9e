/**
 * `@wxbot/plugin-ratelimit`: at most `limit` messages per user per window. The first message
 * over the limit gets one polite answer; the rest are dropped in silence until the window
 * passes. Counts live in the bot's store, so instances behind a load balancer agree.
 */
import { defineCatalog, definePlugin, withConversation, type Context } from '@wxbot/core';
import { z } from 'zod';

/** What the rate limit says; override as `ratelimit.tooMany` in the bot's `i18n.texts`. */
export const rateLimitTexts = defineCatalog('ratelimit', {
  'zh-CN': { tooMany: '您发送得太快了，请 {seconds} 秒后再试。' },
  en: { tooMany: 'You are sending messages too fast. Please try again in {seconds} seconds.' },
});

const optionsSchema = z.object({
  /** Messages a user may send per window (default 20). */
  limit: z.number().int().positive().default(20),
  /** The window (ms, default one minute). Windows are fixed: they start at multiples of it. */
  windowMs: z.number().int().positive().default(60_000),
  /** The polite answer (default: the `ratelimit.tooMany` text); `{seconds}` is filled in. */
  message: z.string().min(1).optional(),
  /** Which messages count (default: all but events, which the user did not type). */
  counts: z.custom<(ctx: Context) => boolean>((v) => typeof v === 'function', { message: 'must be a function' }).optional(),
});

/** Options of `rateLimit`: how many messages per window, the answer past it, and what counts. */
export type RateLimitOptions = z.input<typeof optionsSchema>;

/**
 * ```ts
 * plugins: [rateLimit({ limit: 10, windowMs: 60_000 }), keyword(…), llm(…)]
 * ```
 * Put it first: what it drops never reaches the plugins after it (an LLM, say).
 */
export const rateLimit = definePlugin({
  name: 'ratelimit',
  options: optionsSchema,
  setup(bot, { limit, windowMs, message, counts }) {
    const counted = counts ?? ((ctx: Context) => ctx.message.type !== 'event');
    bot.use(async (ctx, next) => {
      if (!counted(ctx)) return next();
      const now = Date.now();
      const window = Math.floor(now / windowMs);
      const user = `${ctx.channel.name}:${ctx.message.openKfId ?? ''}:${ctx.from}`;
      const key = `ratelimit:${user}:${window}`;
      let count: number;
      try {
        // Read and write under a lock of its own (not the conversation's, which a slow
        // handler may hold), so two instances never count the same number twice.
        count = await withConversation(ctx.store, `ratelimit:${user}`, ctx.log, async () => {
          const seen = Number((await ctx.store.get(key)) ?? 0) + 1;
          await ctx.store.set(key, String(seen), (window + 1) * windowMs - now + 1000);
          return seen;
        });
      } catch (error) {
        // A store failure must not silence everyone: let the message through.
        ctx.log.warn({ err: error }, 'rate limit could not be counted; letting the message through');
        return next();
      }
      if (count <= limit) return next();
      if (count === limit + 1) {
        const seconds = Math.max(1, Math.ceil(((window + 1) * windowMs - now) / 1000));
        ctx.log.info({ limit, windowMs }, 'rate limit reached; one answer, then silence until the window passes');
        return ctx.reply(message ? message.replace('{seconds}', String(seconds)) : ctx.t(rateLimitTexts, 'tooMany', { seconds }));
      }
      // Over the limit and already told: drop in silence.
    });
  },
});
