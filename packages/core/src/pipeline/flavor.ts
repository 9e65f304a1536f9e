import type { Middleware } from './compose.ts';

declare const flavor: unique symbol;

/**
 * Middleware that adds properties to the context (`ctx.session`, say). `composer.use` of it
 * returns a composer whose handlers see those properties, typed:
 *
 * ```ts
 * const shop = bot.use(session({ initial: () => ({ cart: [] as string[] }) }));
 * shop.command('add', (ctx) => ctx.session.cart.push(ctx.match));
 * ```
 * The property exists at type level only; at run time this is plain middleware.
 */
export type FlavoredMiddleware<C, X extends object> = Middleware<C> & { readonly [flavor]?: X };
