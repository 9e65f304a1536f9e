/** Calls the rest of the pipeline. */
export type Next = () => Promise<void>;

/** Koa-style middleware: do work, optionally `await next()`, do more work. */
export type Middleware<C> = (ctx: C, next: Next) => unknown;

/** Options of {@link compose}. */
export interface ComposeOptions<C> {
  /**
   * Development check: called when the middleware at `index` returned while the `next()` it
   * called was still running: a forgotten `await next()`, which lets the rest of the pipeline
   * run after this middleware is done (and miss the passive reply window). Tracking it costs
   * two promise callbacks per middleware and message, so leave it unset in production.
   */
  onUnawaitedNext?(index: number, ctx: C): void;
}

/**
 * Composes middleware into one, as koa-compose does: each gets `next` to run the rest,
 * and calling `next()` twice in one middleware is an error (it would run the rest twice).
 * With `onUnawaitedNext`, a `next()` left running when its caller returned is reported.
 */
export function compose<C>(middleware: readonly Middleware<C>[], options: ComposeOptions<C> = {}): (ctx: C, next?: Next) => Promise<void> {
  const stack = [...middleware];
  const onUnawaited = options.onUnawaitedNext;
  return function composed(ctx: C, next?: Next): Promise<void> {
    let lastIndex = -1;
    const dispatch = async (i: number): Promise<void> => {
      if (i <= lastIndex) throw new Error('next() called multiple times in one middleware');
      lastIndex = i;
      const fn = i === stack.length ? next : stack[i];
      if (!fn) return;
      if (!onUnawaited || i === stack.length) {
        await fn(ctx, () => dispatch(i + 1));
        return;
      }
      let nextRunning = false;
      await fn(ctx, () => {
        nextRunning = true;
        const rest = dispatch(i + 1);
        // Registered before the middleware's own `await` on it, so it runs first.
        const settle = () => void (nextRunning = false);
        rest.then(settle, settle);
        return rest;
      });
      if (nextRunning) onUnawaited(i, ctx);
    };
    return dispatch(0);
  };
}
