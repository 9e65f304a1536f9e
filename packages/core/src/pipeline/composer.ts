import type { EventName, Message, MessageOf, MessageType } from '../message/types.ts';
import { compose, isOfUndefined, isVoidMiddleware, resolvesToUndefined, resultOf, settled, type ComposeOptions, type Middleware, type Next } from './compose.ts';
import type { Context, RegExpMatch } from './context.ts';
import type { FlavoredMiddleware } from './flavor.ts';
import type { TextRef, Texts } from '../i18n/catalog.ts';

/** A context whose message has been narrowed to `M`. */
export type ContextOf<M extends Message> = Context<M>;

type Trigger = string | RegExp;

/**
 * What `hears(trigger)` puts on `ctx.match`, by trigger: the {@link RegExpMatch} of a RegExp
 * (its groups), the string itself for a string, either for a list that mixes them.
 */
export type MatchOf<T extends Trigger> = T extends RegExp ? RegExpMatch : string;

/** The context of a `hears()` handler: a text message, `match` typed by the trigger. */
export type HearsContext<C extends Context, T extends Trigger> = C & Context<MessageOf<'text'>> & { match: MatchOf<T> };

/** The context of a `command()` handler: a text message, `match` the argument text (`''` when none). */
export type CommandContext<C extends Context> = C & Context<MessageOf<'text'>> & { match: string };

/** A command registered with `command()`, for `/help`. */
export interface CommandInfo {
  /** Its names, without the slash, lower case. */
  readonly names: readonly string[];
  /** What `/help` says about it (a text of a catalog: in the bot's language); commands without one are left out of the list. */
  readonly description?: string | TextRef;
}
type Predicate<C> = (ctx: C) => boolean | Promise<boolean>;

/** {@link composedStackOf}'s body, set by Composer's static block (which reaches its private `#compose`). */
let composeStack: <C extends Context>(composer: Composer<C>) => (ctx: C, next?: Next) => Promise<void>;
/** {@link pluginStage}'s look at a composed stack of one middleware, set by Composer's static block. */
let onlyMiddlewareOf: <C extends Context>(composer: Composer<C>) => Middleware<C> | undefined;

/**
 * Routing in the spirit of grammY's Composer: every helper registers a branch and returns
 * a child composer, so what you add to the child only runs when the branch matched.
 * Non-matching messages fall through to the next middleware untouched.
 */
export class Composer<C extends Context = Context> {
  readonly #stack: Middleware<C>[] = [];
  /** Commands and the composers this one's helpers made, in registration order, for {@link Composer.commandList}. */
  // biome-ignore lint/suspicious/noExplicitAny: child composers narrow the context type; only their command lists are read
  readonly #registry: (CommandInfo | Composer<any>)[] = [];
  #composed: ((ctx: C, next?: Next) => Promise<void>) | undefined;
  /** Once composed: the one middleware its stack came to, when it came to one and has no compose options (compose() then runs it alone). */
  #only: Middleware<C> | undefined;
  /** How this composer's own stack is composed (the Bot turns on its dev checks here). */
  protected composeOptions: ComposeOptions<C> | undefined;

  constructor(...middleware: Middleware<C>[]) {
    this.#stack.push(...middleware);
  }

  /**
   * Adds middleware that sees every message. Handlers added to the returned composer run
   * after it; when it adds context properties (`session()`), they see them typed.
   */
  use<X extends object>(middleware: FlavoredMiddleware<C, X>): Composer<C & X>;
  use(...middleware: Middleware<C>[]): Composer<C>;
  use(...middleware: Middleware<C>[]): Composer<C> {
    if (this.#composed) throw new Error('middleware cannot be added after the pipeline was composed (the bot started)');
    const child = new Composer<C>(...middleware);
    this.#stack.push(child.middleware());
    this.#registry.push(child);
    return child;
  }

  /** Runs the middleware only when `predicate` holds. */
  filter<D extends C>(predicate: Predicate<C>, ...middleware: Middleware<D>[]): Composer<D> {
    const child = new Composer<D>(...middleware);
    const inner = child.middleware();
    // No async frame: most messages fail most filters (a text passes `on('voice')` on to the next).
    // Its result is a composer's or the next() a dispatch round gave it: a promise of undefined.
    this.use(
      resolvesToUndefined((ctx: C, next: Next) => {
        const matched = predicate(ctx);
        if (matched instanceof Promise) return matched.then((yes) => (yes ? inner(ctx as D, next) : next()));
        return matched ? inner(ctx as D, next) : next();
      }),
    );
    this.#registry.push(child);
    return child;
  }

  /** Messages of one type (or several): `on('text')`, `on(['image', 'voice'])`. */
  on<T extends MessageType>(type: T | readonly T[], ...middleware: Middleware<C & Context<MessageOf<T>>>[]): Composer<C & Context<MessageOf<T>>> {
    const types = new Set<string>(Array.isArray(type) ? type : [type]);
    return this.filter((ctx) => types.has(ctx.message.type), ...middleware);
  }

  /** Events by name: `event('subscribe')`, `event('enter_session')`. */
  event<E extends EventName>(
    name: E | readonly E[],
    ...middleware: Middleware<C & Context<Extract<MessageOf<'event'>, { event: E }>>>[]
  ): Composer<C & Context<Extract<MessageOf<'event'>, { event: E }>>> {
    const names = new Set<string>(Array.isArray(name) ? name : [name]);
    return this.filter((ctx) => ctx.message.type === 'event' && names.has(ctx.message.event), ...middleware);
  }

  /**
   * Text messages matching a trigger: a string matches the whole trimmed text, a RegExp is
   * tested. `ctx.match` is typed by the trigger (as grammY's filter queries narrow): the
   * `RegExpExecArray` of a RegExp, with its groups; the string of a string.
   *
   * ```ts
   * bot.hears(/^订单\s*(\d+)$/, (ctx) => ctx.reply(`查询 ${ctx.match[1]}`)); // ctx.match: its RegExpExecArray
   * ```
   */
  hears<T extends Trigger>(trigger: T | readonly T[], ...middleware: Middleware<HearsContext<C, T>>[]): Composer<HearsContext<C, T>> {
    const triggers = Array.isArray(trigger) ? [...trigger] : [trigger as Trigger];
    return this.filter(
      (ctx) => {
        if (ctx.message.type !== 'text') return false;
        const text = ctx.message.text.trim();
        for (const t of triggers) {
          if (typeof t === 'string') {
            if (text === t) {
              ctx.match = t;
              return true;
            }
          } else {
            t.lastIndex = 0;
            const m = t.exec(text);
            if (m) {
              ctx.match = m;
              return true;
            }
          }
        }
        return false;
      },
      ...middleware,
    );
  }

  /**
   * `/name args` commands; `ctx.match` is the argument text, typed `string` (`''` without
   * arguments). With a description (`command('order', '查询订单', handler)`) the command is
   * listed by `/help`; a plugin that speaks several languages names a text of its catalog
   * instead (`command('reset', { catalog: texts, key: 'resetHelp' }, handler)`).
   */
  command<T extends Texts>(name: string | readonly string[], description: string | TextRef<T>, ...middleware: Middleware<CommandContext<C>>[]): Composer<CommandContext<C>>;
  command(name: string | readonly string[], ...middleware: Middleware<CommandContext<C>>[]): Composer<CommandContext<C>>;
  command(name: string | readonly string[], ...rest: (string | TextRef | Middleware<CommandContext<C>>)[]): Composer<CommandContext<C>> {
    // Middleware are functions: a string or an object first is the description.
    const description = typeof rest[0] === 'function' ? undefined : (rest.shift() as string | TextRef | undefined);
    const middleware = rest as Middleware<CommandContext<C>>[];
    const names = new Set((Array.isArray(name) ? name : [name]).map((n: string) => n.replace(/^\//, '').toLowerCase()));
    // A text is a command when "/" and a word without spaces or "/" lead it (parseCommand): any
    // other name would be registered, listed by /help and never run.
    for (const n of names)
      if (!/^[^\s/]+$/.test(n)) throw new TypeError(`command name "${n}" can never match: a command is "/" and a word without spaces or "/" (e.g. "order" for "/order 42")`);
    this.#registry.push({ names: [...names], ...(description && { description }) });
    return this.filter(
      (ctx) => {
        const command = ctx.message.type === 'text' ? ctx.message.command : undefined;
        if (!command || !names.has(command.name)) return false;
        ctx.match = command.argsText;
        return true;
      },
      ...middleware,
    );
  }

  /** Messages from one channel, by kind ('wecomKf') or by configured name. */
  channel(kindOrName: string | readonly string[], ...middleware: Middleware<C>[]): Composer<C> {
    const wanted = new Set<string>(Array.isArray(kindOrName) ? kindOrName : [kindOrName]);
    return this.filter((ctx) => wanted.has(ctx.channel.kind) || wanted.has(ctx.channel.name), ...middleware);
  }

  /**
   * Catches what the middleware inside throws (not what runs after it via `next`), hands
   * it to `onError`, then lets the pipeline go on as if the failing middleware had called
   * `next()` (unless it already had).
   */
  errorBoundary(onError: (error: unknown, ctx: C) => unknown, ...middleware: Middleware<C>[]): Composer<C> {
    const child = new Composer<C>(...middleware);
    this.use(errorBoundary(onError, child.middleware()));
    this.#registry.push(child);
    return child;
  }

  /** Every command registered on this composer and the composers its helpers returned. */
  commandList(): CommandInfo[] {
    return this.#registry.flatMap((entry) => (entry instanceof Composer ? entry.commandList() : [entry]));
  }

  /**
   * Appends one middleware as it is (no child composer around it) and returns its position
   * in this composer's stack, the index `composeOptions.onUnawaitedNext` reports.
   */
  protected append(middleware: Middleware<C>): number {
    if (this.#composed) throw new Error('middleware cannot be added after the pipeline was composed (the bot started)');
    return this.#stack.push(middleware) - 1;
  }

  static {
    composeStack = (composer) => composer.#compose();
    onlyMiddlewareOf = (composer) => {
      composer.#compose();
      return composer.#only;
    };
  }

  /** The composed middleware of this composer (composed once, on first call). */
  middleware(): Middleware<C> {
    const middleware: Middleware<C> = resolvesToUndefined((ctx: C, next: Next) => this.#compose()(ctx, next));
    composers.set(middleware, this);
    return middleware;
  }

  /**
   * Composes this composer's stack (once). A child composer in it that holds a single
   * middleware and no compose options (what every `use()`, `on()`, `hears()`… makes) is
   * replaced by that middleware, and is composed from then on: the same calls, checks and
   * results one layer fewer, a promise and a closure less per message each.
   */
  #compose(): (ctx: C, next?: Next) => Promise<void> {
    if (this.#composed) return this.#composed;
    const stack = this.#stack.map((middleware) => {
      for (let child = composers.get(middleware); child && !child.composeOptions && child.#stack.length === 1; child = composers.get(middleware)) {
        child.#compose();
        middleware = child.#stack[0]!;
      }
      return middleware;
    });
    if (stack.length === 1 && !this.composeOptions) this.#only = stack[0];
    this.#composed = compose(stack, this.composeOptions);
    return this.#composed;
  }
}

/**
 * Internal (the Bot's): `composer`'s own stack composed, once, at the first call, as
 * `middleware()` runs it, without that function and `#compose` around it: the bot calls its own
 * pipeline and each plugin scope's through this, two calls fewer a stage every message, and two
 * functions fewer that a fresh bot runs in V8's slow tiers until TurboFan has them.
 */
export function composedStackOf<C extends Context>(composer: Composer<C>): (ctx: C, next?: Next) => Promise<void> {
  return composeStack(composer);
}

/** The composer each `middleware()` function comes from, for {@link Composer} to flatten. */
// biome-ignore lint/suspicious/noExplicitAny: composers of any context type are looked up
const composers = new WeakMap<Middleware<any>, Composer<any>>();

/**
 * Middleware that runs `inner` and catches what it throws (not what runs after it via
 * `next`), hands it to `onError`, then lets the pipeline go on as if `inner` had called
 * `next()` (unless it already had). The body of {@link Composer.errorBoundary}.
 */
export function errorBoundary<C>(onError: (error: unknown, ctx: C) => unknown, inner: Middleware<C>): Middleware<C> {
  // Written with promise callbacks, not async functions: every plugin runs inside one of
  // these for every message, and the two async frames were a tenth of a message's allocations
  // (measured). Same order of effects as `try { await inner(...) } catch { ... }`.
  return resolvesToUndefined((ctx: C, next: Next) => bounded(onError, inner, AS_IS, ctx, next));
}

/**
 * Internal (the Bot's): one plugin's stage of the pipeline, `errorBoundary(onError, (ctx, next)
 * => { enter(ctx); return composedStackOf(scope)(ctx, next); })` with the same calls, checks and
 * results. The scope's stack is composed at the first message; when it comes to one middleware
 * (a plugin that registered one `use()`, `on()`… as the hand-off, voice and keyword plugins do),
 * that middleware is called here with the boundary's own `next`, doing what the composed stack's
 * {@link runOne} would do around it (`next()` once, the result as a promise of undefined): one
 * closure and its context a message less, and two calls.
 */
export function pluginStage<C extends Context>(scope: Composer<C>, enter: (ctx: C) => void, onError: (error: unknown, ctx: C) => unknown): Middleware<C> {
  let inner: Middleware<C> | undefined;
  let how: How = AS_IS;
  return resolvesToUndefined((ctx: C, next: Next) => {
    if (!inner) {
      const only = onlyMiddlewareOf(scope);
      inner = only ?? composedStackOf(scope);
      how = only === undefined ? AS_IS : isVoidMiddleware(only) ? ALONE_VOID : ALONE;
    }
    enter(ctx);
    return bounded(onError, inner, how, ctx, next);
  });
}

/** How {@link bounded} calls its `inner`: as it is (a composed stack, or errorBoundary's own), or as a stack of `inner` alone would ({@link runOne}), `inner` VOID or not. */
const AS_IS = 0;
const ALONE = 1;
const ALONE_VOID = 2;
type How = typeof AS_IS | typeof ALONE | typeof ALONE_VOID;

/**
 * The body of {@link errorBoundary} for one message: runs `inner` and catches what it throws
 * (not what runs after it via `next`), hands it to `onError`, then lets the pipeline go on as
 * if `inner` had called `next()` (unless it already had). With `how` ALONE or ALONE_VOID, also
 * what a composed stack of `inner` alone does around it ({@link runOne}).
 */
function bounded<C>(onError: (error: unknown, ctx: C) => unknown, inner: Middleware<C>, how: How, ctx: C, next: Next): Promise<void> {
  // The callbacks are written inline, not as named consts: run from sources by tsx (npm start,
  // npm run bench), each named closure gets its name set with Object.defineProperty, ~0.3 µs.
  // What `next()` gave `inner` (undefined until it is called). `inner` gets that promise itself:
  // whether a failure came from downstream is asked only when `inner` fails (downstreamFailed),
  // not with a promise and a callback on every `next()` (the default bot's four stages made
  // four a message).
  let rest: Promise<unknown> | undefined;
  /** Whether `rest` is a promise the pipeline made, of undefined (see isOfUndefined). */
  let restOfUndefined = false;
  let result: unknown;
  try {
    result = inner(ctx, () => {
      // As runOne's `next`: a second call rejects, without running the rest again.
      if (how !== AS_IS && rest !== undefined) return Promise.reject(new Error('next() called multiple times in one middleware'));
      try {
        const given = next();
        restOfUndefined = isOfUndefined(given);
        rest = promiseOf(given);
      } catch (error) {
        restOfUndefined = false;
        rest = Promise.reject(error);
      }
      // runOne hands its middleware what `next()` gave as a promise of undefined (the same one, most often).
      return (how === AS_IS ? rest : settled(rest)) as Promise<void>;
    });
    if (how !== AS_IS) result = resultOf(result, how === ALONE_VOID);
  } catch (error) {
    result = Promise.reject(error);
  }
  // `inner` gave back the very promise its `next()` returned (`return next()`: its own work done
  // without failing), a promise of undefined: the `.then` below would resolve as it does and
  // rethrow its rejection (downstream's, not inner's own), so it is passed on as it is, without
  // a promise and two callbacks more. Three of the default bot's four stages a message do this.
  if (result === rest && restOfUndefined) return rest as Promise<void>;
  return promiseOf(result).then(toUndefined, (error: unknown): Promise<void> => {
    const called = rest;
    const ownFailure = () => promiseOf(onError(error, ctx)).then(() => (called ? undefined : promiseOf(next()).then(toUndefined)));
    if (!called) return ownFailure();
    return downstreamFailed(called, error).then((downstream) => {
      if (downstream) throw error;
      return ownFailure();
    });
  });
}

/** Resolved already: a promise still pending when {@link downstreamFailed} asks settles after it. */
const settledNow = Promise.resolve();

/**
 * Whether `rest` (what `next()` gave a failing middleware) has already been rejected with
 * `error`: the middleware passed a downstream failure on, which is not its own. A promise
 * that settled already wins `Promise.race` against one resolved now (its callback is queued
 * first); one still pending did not fail `inner` (it was not awaited).
 */
function downstreamFailed(rest: Promise<unknown>, error: unknown): Promise<boolean> {
  return Promise.race([rest, settledNow]).then(
    () => false,
    (reason: unknown) => reason === error,
  );
}

/** What `await value` waits for. */
function promiseOf(value: unknown): Promise<unknown> {
  return value instanceof Promise ? value : Promise.resolve(value);
}
const toUndefined = (): undefined => undefined;
