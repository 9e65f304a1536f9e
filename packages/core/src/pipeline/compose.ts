/** Calls the rest of the pipeline. */
export type Next = () => Promise<void>;

/** Koa-style middleware: do work, optionally `await next()`, do more work. */
export type Middleware<C> = (ctx: C, next: Next) => unknown;

/**
 * Composes middleware into one, as koa-compose does: each gets `next` to run the rest,
 * and calling `next()` twice in one middleware is an error (it would run the rest twice).
 */
export function compose<C>(middleware: readonly Middleware<C>[]): (ctx: C, next?: Next) => Promise<void> {
  const stack = [...middleware];
  return function composed(ctx: C, next?: Next): Promise<void> {
    let lastIndex = -1;
    const dispatch = async (i: number): Promise<void> => {
      if (i <= lastIndex) throw new Error('next() called multiple times in one middleware');
      lastIndex = i;
      const fn = i === stack.length ? next : stack[i];
      if (!fn) return;
      await fn(ctx, () => dispatch(i + 1));
    };
    return dispatch(0);
  };
}
