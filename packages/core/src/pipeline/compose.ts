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

/** Each composition's idle round (see compose), alive as long as the composition. */
const EXEMPLARS = new WeakMap<object, object>();

/**
 * Composes middleware into one, as koa-compose does: each gets `next` to run the rest,
 * and calling `next()` twice in one middleware is an error (it would run the rest twice).
 * With `onUnawaitedNext`, a `next()` left running when its caller returned is reported.
 */
export function compose<C>(middleware: readonly Middleware<C>[], options: ComposeOptions<C> = {}): (ctx: C, next?: Next) => Promise<void> {
  const stack = [...middleware];
  const onUnawaited = options.onUnawaitedNext;
  const only = stack.length === 1 && !onUnawaited ? stack[0]! : undefined;
  const onlyVoid = only !== undefined && VOID.has(only);
  const voids = stack.map((fn) => VOID.has(fn));
  const composed = function composed(ctx: C, next?: Next): Promise<void> {
    // One middleware (every `use()` makes a child composer of one, and a plugin's scope most
    // often holds one): the same calls and checks as a dispatch round, without its two async
    // frames and their promises (measured: a third of the pipeline's allocations).
    if (only) return runOne(only, onlyVoid, ctx, next);
    return new Round(stack, voids, ctx, next, onUnawaited).dispatch(0);
  };
  // A round that never runs, kept while this composition lives, so that V8 keeps Round's map
  // across full GCs (see Inbound's #exemplar). Made here without a context, not the first real
  // round: that one held its message and, through it, its bot, for as long as a composition
  // shared by several bots lived.
  EXEMPLARS.set(composed, new Round(stack, voids, undefined as C, undefined, onUnawaited));
  return composed;
}

/**
 * Middleware the pipeline makes itself (error boundaries, composers' own, their filters, the
 * end of the pipeline) that always returns a promise resolving to undefined, or throws or
 * rejects: what a dispatch round would make of its result anyway. It is passed on as it is,
 * without the `.then` that makes any other middleware's result undefined (13–14 of the default
 * bot's ~30 promises a message were those; 8 of them now go).
 */
const VOID = new WeakSet<Middleware<never>>();

/**
 * Marks `middleware` as returning a promise of undefined whenever it returns (see VOID). Only
 * for the pipeline's own middleware: one that resolves to anything else would hand that value
 * to the `await next()` before it.
 */
export function resolvesToUndefined<M extends Middleware<never>>(middleware: M): M {
  VOID.add(middleware);
  return middleware;
}

/**
 * One message's pass through a stack of several middleware. Promise callbacks, not an async
 * function: a stage costs one promise instead of an async frame and its awaits (the bot's
 * stages: ~1.6 KB less allocated a message); a class, not a `dispatch` closure per message
 * (run from sources by tsx, a named closure costs an Object.defineProperty). Same results:
 * resolves to undefined, rejects when a middleware throws (synchronously too) or rejects.
 */
class Round<C> {
  #lastIndex = -1;

  constructor(
    readonly stack: readonly Middleware<C>[],
    /** Which of `stack` resolve to undefined already (VOID). */
    readonly voids: readonly boolean[],
    readonly ctx: C,
    readonly next: Next | undefined,
    readonly onUnawaited: ((index: number, ctx: C) => void) | undefined,
  ) {}

  dispatch(i: number): Promise<void> {
    if (i <= this.#lastIndex) return Promise.reject(new Error('next() called multiple times in one middleware'));
    this.#lastIndex = i;
    const { stack, ctx, onUnawaited } = this;
    const fn = i === stack.length ? this.next : stack[i];
    if (!fn) return passedOn(Promise.resolve());
    if (!onUnawaited || i === stack.length) {
      try {
        const result = fn(ctx, () => this.dispatch(i + 1));
        return (i === stack.length ? VOID.has(fn) : this.voids[i]) ? passedOn(result as Promise<void>) : settled(result);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    return watched(ctx, i, fn, (j) => this.dispatch(j), onUnawaited);
  }
}

/**
 * A dispatch round with the dev check of {@link ComposeOptions.onUnawaitedNext}: reports the
 * middleware at `i` when it returned while the `next()` it called was still running.
 */
async function watched<C>(ctx: C, i: number, fn: Middleware<C>, dispatch: (i: number) => Promise<void>, onUnawaited: (index: number, ctx: C) => void): Promise<void> {
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
}

/**
 * `dispatch(0)` of a one-middleware stack without async frames: `fn` gets a `next` that runs
 * the caller's `next` once (a second call rejects, as `dispatch` does); the result resolves to
 * undefined when `fn` is done and rejects when it throws (synchronously too) or rejects.
 */
function runOne<C>(fn: Middleware<C>, isVoid: boolean, ctx: C, next: Next | undefined): Promise<void> {
  let called = false;
  try {
    // `next` inline, not a named const (tsx names those with Object.defineProperty, ~0.3 µs).
    const result = fn(ctx, () => {
      if (called) return Promise.reject(new Error('next() called multiple times in one middleware'));
      called = true;
      if (!next) return passedOn(Promise.resolve());
      try {
        // As `dispatch` calls the caller's `next`: with the context and an empty rest.
        const rest = (next as Middleware<C>)(ctx, emptyRest);
        return VOID.has(next as Middleware<C>) ? passedOn(rest as Promise<void>) : settled(rest);
      } catch (error) {
        return Promise.reject(error);
      }
    });
    return resultOf(result, isVoid);
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * What a dispatch round makes of a middleware's `result`, a promise of undefined: a VOID
 * middleware's ({@link resolvesToUndefined}) as it is, any other's through {@link settled}.
 * Internal (the composer's plugin stages call one middleware as {@link runOne} does).
 */
export function resultOf(result: unknown, isVoid: boolean): Promise<void> {
  return isVoid ? passedOn(result as Promise<void>) : settled(result);
}

/** Whether `middleware` is marked with {@link resolvesToUndefined}. Internal, as {@link resultOf}. */
export function isVoidMiddleware(middleware: Middleware<never>): boolean {
  return VOID.has(middleware);
}

/**
 * The promise the pipeline last handed back as one of undefined (a dispatch round's, a
 * one-middleware stack's or its `next()`'s): every promise ever kept here resolves to undefined
 * or rejects. A middleware's result that is this very promise (most often `return next()`: a
 * round's `next` returns the rest's promise, and the middleware calls it last) needs no `.then`
 * to make it one: {@link settled} passes it on. Read right after the synchronous call that
 * returned it; code that ran in between may have kept another, which the result is then not.
 * Of the default bot's ~20 promises a message, ~5 were such `.then`s (v8 promiseHooks: 19.6 → 14.8).
 */
let ofUndefined: Promise<void> = Promise.resolve();

/**
 * Whether `value` is the promise the pipeline just handed back as one of undefined
 * ({@link ofUndefined}): asked right after the call that returned it, like `settled` does.
 */
export function isOfUndefined(value: unknown): boolean {
  return value === ofUndefined;
}

/**
 * Hands on a VOID middleware's result, kept as {@link ofUndefined} when it is a promise (called
 * by hand with a `next` of its own, a composer's middleware may give back what that returned).
 */
function passedOn(result: Promise<void>): Promise<void> {
  if (result instanceof Promise) ofUndefined = result;
  return result;
}

/** What `await result` waits for, as a promise of undefined (itself when it is one already: {@link ofUndefined}). */
export function settled(result: unknown): Promise<void> {
  if (result === ofUndefined) return result as Promise<void>;
  ofUndefined = (result instanceof Promise ? result : Promise.resolve(result)).then(toUndefined);
  return ofUndefined;
}
const toUndefined = (): undefined => undefined;
const emptyRest: Next = () => Promise.resolve();
