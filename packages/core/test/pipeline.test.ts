import { promiseHooks } from 'node:v8';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  Composer,
  Context,
  I18n,
  MemoryStore,
  compose,
  createBot,
  definePlugin,
  officialAccount,
  parseCommand,
  PluginOptionsError,
  type Message,
  type Middleware,
  type Reply,
} from '../src/index.ts';
import { resolvesToUndefined } from '../src/pipeline/compose.ts';
import { composedStackOf, errorBoundary, pluginStage } from '../src/pipeline/composer.ts';
import { captureLogger, textMessage } from './helpers.ts';

function contextFor(message: Message) {
  const replies: Reply[] = [];
  const { log } = captureLogger();
  const ctx = new Context(message, {
    log,
    store: new MemoryStore(),
    i18n: new I18n(),
    deliver: async (r) => void replies.push(r),
    deliverStream: async () => {
      throw new Error('no streams in this test');
    },
    handoff: async () => {},
    canHandoff: () => false,
    redispatch: async () => {},
    downloadMedia: async () => {
      throw new Error('no media in this test');
    },
    uploadMedia: async () => 'media-id',
  });
  return { ctx, replies };
}

describe('compose', () => {
  it('runs middleware in onion order', async () => {
    const order: string[] = [];
    const fn = compose<object>([
      async (_c, next) => {
        order.push('a1');
        await next();
        order.push('a2');
      },
      async (_c, next) => {
        order.push('b1');
        await next();
        order.push('b2');
      },
    ]);
    await fn({});
    expect(order).toEqual(['a1', 'b1', 'b2', 'a2']);
  });

  it('calling next() twice is an error', async () => {
    const fn = compose<object>([
      async (_c, next) => {
        await next();
        await next();
      },
    ]);
    await expect(fn({})).rejects.toThrow(/multiple times/);
  });

  // A one-middleware stack runs without dispatch frames: it must behave as the general path.
  it('one middleware: next runs the caller’s next once, a second call rejects, results and throws as await gives them', async () => {
    const calls: unknown[][] = [];
    const callerNext = async (...args: unknown[]) => void calls.push(args);
    const twice = compose<object>([
      async (_c, next) => {
        await next();
        await next();
      },
    ]);
    await expect(twice({}, callerNext)).rejects.toThrow(/multiple times/);
    expect(calls).toHaveLength(1);
    // The caller's next gets the context and an empty rest, as dispatch passes them.
    const ctx = { n: 1 };
    await compose<object>([(_c, next) => next()])(ctx, callerNext);
    expect(calls[1]?.[0]).toBe(ctx);
    await expect((calls[1]![1] as () => Promise<void>)()).resolves.toBeUndefined();
    // Resolves to undefined whatever the middleware returns; sync throws become rejections.
    await expect(compose<object>([() => 42])({})).resolves.toBeUndefined();
    const failing = compose<object>([
      () => {
        throw new Error('sync');
      },
    ]);
    const result = failing({});
    expect(result).toBeInstanceOf(Promise);
    await expect(result).rejects.toThrow('sync');
    // A next that throws synchronously rejects the middleware's await, which may catch it.
    let caught: unknown;
    await compose<object>([
      async (_c, next) => {
        try {
          await next();
        } catch (error) {
          caught = error;
        }
      },
    ])({}, () => {
      throw new Error('next threw');
    });
    expect(caught).toEqual(new Error('next threw'));
    // Without a caller's next, next() resolves (the end of the pipeline).
    await expect(compose<object>([(_c, next) => next()])({})).resolves.toBeUndefined();
  });

  // The dispatch of several middleware runs on promise callbacks (no async frames): the same
  // contract as the one-middleware path and as `await` gives it.
  it('several middleware: results, sync throws, a throwing next and next twice behave as with await', async () => {
    const pass = (_c: object, next: () => Promise<void>) => next();
    const calls: unknown[][] = [];
    const callerNext = async (...args: unknown[]) => void calls.push(args);
    const ctx = { n: 2 };
    await expect(compose<object>([pass, () => 42])(ctx, callerNext)).resolves.toBeUndefined();
    expect(calls).toHaveLength(0); // the last one did not call next
    await expect(compose<object>([pass, pass])(ctx, callerNext)).resolves.toBeUndefined();
    expect(calls).toHaveLength(1);
    expect(calls[0]?.[0]).toBe(ctx);
    const failing = compose<object>([
      pass,
      () => {
        throw new Error('sync');
      },
    ]);
    const result = failing({});
    expect(result).toBeInstanceOf(Promise);
    await expect(result).rejects.toThrow('sync');
    let caught: unknown;
    await compose<object>([
      pass,
      async (_c, next) => {
        try {
          await next();
        } catch (error) {
          caught = error;
        }
      },
    ])({}, () => {
      throw new Error('next threw');
    });
    expect(caught).toEqual(new Error('next threw'));
    const order: string[] = [];
    const twice = compose<object>([
      async (_c, next) => {
        await next();
        await next();
      },
      async () => void order.push('b'),
    ]);
    await expect(twice({})).rejects.toThrow(/multiple times/);
    expect(order).toEqual(['b']);
  });

  it("passes on a middleware's result that is the promise its next() gave, without a promise of its own; any other result still resolves to undefined", async () => {
    /** Promises made while `run` runs synchronously (what it chains, not what its awaits make later). */
    const promisesMadeBy = (run: () => Promise<unknown>): [number, Promise<unknown>] => {
      let made = 0;
      const stop = promiseHooks.onInit(() => void made++);
      try {
        const result = run();
        return [made, result];
      } finally {
        stop();
      }
    };
    const passOn: Middleware<object> = (_c, next) => next();
    // A round of two, the end's next() giving the one promise: each passes it on as it is.
    const round = compose<object>([passOn, passOn]);
    const [inRound, roundResult] = promisesMadeBy(() => round({}));
    expect(inRound).toBe(1);
    await expect(roundResult).resolves.toBeUndefined();
    // A stack of one inside a round: its next() is the round's, whose promise it passes on.
    const one = compose<object>([passOn]);
    const outer = compose<object>([(c, next) => one(c, next), passOn]);
    const [inOne, oneResult] = promisesMadeBy(() => outer({}));
    expect(inOne).toBe(1);
    await expect(oneResult).resolves.toBeUndefined();
    // Other results are made promises of undefined, as before: a value, and a promise of one.
    const values = compose<object>([(_c, next) => next().then(() => 42), () => 'x']);
    await expect(values({})).resolves.toBeUndefined();
    await expect(compose<object>([() => 7])({})).resolves.toBeUndefined();
    await expect(compose<object>([(_c, next) => next().then(() => 7)])({}, () => Promise.resolve())).resolves.toBeUndefined();
    // A failure passed on is still the caller's.
    const failing = compose<object>([passOn, () => Promise.reject(new Error('down'))]);
    await expect(failing({})).rejects.toThrow('down');
    // An error boundary whose middleware returns next(): the rest's promise is passed on as it is
    // (no `.then` of its own), resolving or rejecting as the rest does, nothing reported.
    const seen: unknown[] = [];
    const guarded = errorBoundary<object>((e) => void seen.push(e), passOn);
    const [inBoundaries, boundariesResult] = promisesMadeBy(() => compose<object>([guarded, guarded, passOn])({}));
    expect(inBoundaries).toBe(1);
    await expect(boundariesResult).resolves.toBeUndefined();
    const down = new Error('down');
    await expect(compose<object>([guarded, () => Promise.reject(down)])({})).rejects.toBe(down);
    expect(seen).toEqual([]);
    // Given a next() that is not the pipeline's (it resolves to a value), it still resolves to undefined.
    await expect(guarded({}, () => Promise.resolve(7) as Promise<never>)).resolves.toBeUndefined();
  });
});

describe('Composer routing', () => {
  it('hears strings and regexes, command parses args, on narrows by type', async () => {
    const c = new Composer<Context>();
    c.hears('你好', (ctx) => ctx.reply('hello'));
    c.hears(/^weather (\w+)$/, (ctx) => ctx.reply(`weather in ${(ctx.match as RegExpExecArray)[1]}`));
    c.command('add', (ctx) => ctx.reply(String(ctx.message.command!.args.map(Number).reduce((a, b) => a + b, 0))));
    c.on('text', (ctx) => ctx.reply(`fallback ${ctx.message.text}`));
    const run = async (text: string) => {
      const { ctx, replies } = contextFor(textMessage(text));
      await c.middleware()(ctx, async () => {});
      return replies.map((r) => (r.type === 'text' ? r.text : r.type));
    };
    expect(await run('你好')).toEqual(['hello']);
    expect(await run('weather paris')).toEqual(['weather in paris']);
    expect(await run('/add 1 2 3')).toEqual(['6']);
    expect(await run('/ADD 4')).toEqual(['4']);
    expect(await run('other')).toEqual(['fallback other']);
  });

  it('filter: sync and async predicates, a miss goes on, a throwing predicate rejects the pipeline', async () => {
    const c = new Composer<Context>();
    c.filter(
      (ctx) => ctx.message.type === 'text' && ctx.message.text === 'sync',
      (ctx) => ctx.reply('sync hit'),
    );
    c.filter(
      async (ctx) => ctx.message.type === 'text' && ctx.message.text === 'async',
      (ctx) => ctx.reply('async hit'),
    );
    c.filter((ctx) => {
      if (ctx.message.type === 'text' && ctx.message.text === 'boom') throw new Error('predicate failed');
      return false;
    });
    const run = async (text: string) => {
      const { ctx, replies } = contextFor(textMessage(text));
      let ended = false;
      await c.middleware()(ctx, async () => {
        ended = true;
      });
      return { texts: replies.map((r) => (r.type === 'text' ? r.text : r.type)), ended };
    };
    expect(await run('sync')).toEqual({ texts: ['sync hit'], ended: false });
    expect(await run('async')).toEqual({ texts: ['async hit'], ended: false });
    expect(await run('other')).toEqual({ texts: [], ended: true });
    await expect(run('boom')).rejects.toThrow('predicate failed');
  });

  // Child composers of one middleware are flattened into their parent when it is composed.
  it('nested composers: same order, next once, and no middleware added after the parent was composed', async () => {
    const order: string[] = [];
    const c = new Composer<Context>();
    const child = c.use(async (_ctx, next) => {
      order.push('a1');
      await next();
      order.push('a2');
    });
    const grandchild = c.use(new Composer<Context>().middleware());
    c.use(async (_ctx, next) => {
      order.push('b');
      await next();
      await next();
    });
    const { ctx } = contextFor(textMessage('x'));
    let ends = 0;
    await expect(
      c.middleware()(ctx, async () => {
        ends++;
      }),
    ).rejects.toThrow(/multiple times/);
    expect(order).toEqual(['a1', 'b']); // a1's await next() rejected
    expect(ends).toBe(1);
    expect(() => child.use(async () => {})).toThrow(/after the pipeline was composed/);
    expect(() => grandchild.use(async () => {})).toThrow(/after the pipeline was composed/);
  });

  it('channel() filters by kind or name', async () => {
    const c = new Composer<Context>();
    c.channel('wecomKf', (ctx) => ctx.reply('kf'));
    c.channel('oa', (ctx) => ctx.reply('by name'));
    // A channel named apart from its kind, so only the name can match.
    const { ctx, replies } = contextFor({ ...textMessage('x'), channel: { name: 'oa', kind: 'officialAccount' } });
    await c.middleware()(ctx, async () => {});
    expect(replies).toEqual([{ type: 'text', text: 'by name' }]);
  });

  // The pipeline's own middleware (composers, filters, error boundaries) pass their results on
  // without a `.then` each (they resolve to undefined already): what a plugin's middleware or
  // the caller's next resolves to must still never reach an `await next()` or the caller.
  it('no value a middleware or the caller resolves to reaches await next() or the result, through composers, filters and boundaries', async () => {
    const seen: unknown[] = [];
    const root = new Composer<Context>();
    root.use(async (_ctx, next) => void seen.push(['use', await next()]));
    root.on('text', async (_ctx, next) => void seen.push(['on', await next()]));
    root.errorBoundary(
      () => {},
      async (_ctx, next) => void seen.push(['boundary', await next()]),
    );
    const inner = new Composer<Context>();
    inner.use(async (_ctx, next) => void seen.push(['inner', await next()]));
    inner.use(() => 42);
    root.use(inner.middleware());
    root.use(() => 'never reached');
    const { ctx } = contextFor(textMessage('x'));
    // A caller's next that resolves to a value (typed as void, as JavaScript callers may not be).
    const caller = (async () => 'caller') as unknown as () => Promise<void>;
    await expect(root.middleware()(ctx, caller)).resolves.toBeUndefined();
    expect(seen).toEqual([
      ['inner', undefined],
      ['boundary', undefined],
      ['on', undefined],
      ['use', undefined],
    ]);
    // And the caller's next, reached from a composer of one and of several.
    const values: unknown[] = [];
    const one = new Composer<Context>();
    one.use(async (_ctx, next) => void values.push(await next()));
    await expect(one.middleware()(ctx, caller)).resolves.toBeUndefined();
    const several = new Composer<Context>();
    several.use(async (_ctx, next) => void values.push(await next()));
    several.on('text', (_ctx, next) => next());
    await expect(several.middleware()(ctx, caller)).resolves.toBeUndefined();
    expect(values).toEqual([undefined, undefined]);
  });

  it('ctx.reply counts the reply and hands over the delivery; a delivery that throws becomes a rejection', async () => {
    const { ctx, replies } = contextFor(textMessage('x'));
    await expect(ctx.reply('a')).resolves.toBeUndefined();
    expect(replies).toEqual([{ type: 'text', text: 'a' }]);
    expect(ctx.replies).toBe(1);
    // Only deliver is used by reply.
    const failing = new Context(textMessage('x'), {
      deliver: () => {
        throw new Error('no channel');
      },
    } as unknown as ConstructorParameters<typeof Context>[1]);
    const pending = failing.reply('b');
    expect(pending).toBeInstanceOf(Promise);
    await expect(pending).rejects.toThrow('no channel');
    expect(failing.replies).toBe(1);
  });

  it('errorBoundary catches its own errors, not downstream ones, and goes on', async () => {
    const errors: unknown[] = [];
    const c = new Composer<Context>();
    c.errorBoundary(
      (e) => void errors.push(e),
      () => {
        throw new Error('inner');
      },
    );
    c.use((ctx) => ctx.reply('after'));
    const { ctx, replies } = contextFor(textMessage('x'));
    await c.middleware()(ctx, async () => {});
    expect(errors).toHaveLength(1);
    expect(replies).toHaveLength(1);

    const d = new Composer<Context>();
    d.errorBoundary(
      () => void errors.push('wrong'),
      async (_ctx, next) => next(),
    );
    d.use(() => {
      throw new Error('downstream');
    });
    await expect(d.middleware()(contextFor(textMessage('x')).ctx, async () => {})).rejects.toThrow('downstream');
  });

  // errorBoundary's cases: the middleware inside, the pipeline's next(), onError's own outcome,
  // and what the boundary makes of them (errors it reported, next() calls, its result).
  const boom = new Error('boom');
  const other = new Error('other');
  interface BoundaryCase {
    inner: Middleware<Context>;
    next: () => unknown;
    onError?: (e: unknown) => unknown;
    expected: { seen: unknown[]; nexts: number; outcome: { value: undefined } | { error: unknown } };
  }
  const boundaryCases: Record<string, BoundaryCase> = {
    // Thrown synchronously before next: reported, then the pipeline goes on (next once).
    'throws before next': {
      inner: () => {
        throw boom;
      },
      next: () => undefined,
      expected: { seen: [boom], nexts: 1, outcome: { value: undefined } },
    },
    // Rejected after next ran: reported, next not run again.
    'rejects after next': {
      inner: async (_c, next) => {
        await next();
        throw boom;
      },
      next: async () => {},
      expected: { seen: [boom], nexts: 1, outcome: { value: undefined } },
    },
    // A downstream rejection, or a synchronous throw of next, is not its business.
    'downstream rejects': { inner: (_c, next) => next(), next: () => Promise.reject(boom), expected: { seen: [], nexts: 1, outcome: { error: boom } } },
    'next throws': {
      inner: (_c, next) => next(),
      next: () => {
        throw boom;
      },
      expected: { seen: [], nexts: 1, outcome: { error: boom } },
    },
    // Caught downstream and replaced by another error: that one is the middleware's own.
    'replaces a downstream error': {
      inner: async (_c, next) => {
        await next().catch(() => {
          throw other;
        });
      },
      next: () => Promise.reject(boom),
      expected: { seen: [other], nexts: 1, outcome: { value: undefined } },
    },
    // onError failing rejects the boundary; values returned are not passed on.
    'onError fails': {
      inner: () => Promise.reject(boom),
      next: () => undefined,
      onError: () => {
        throw other;
      },
      expected: { seen: [boom], nexts: 0, outcome: { error: other } },
    },
    'returns a value': { inner: () => 42, next: () => undefined, expected: { seen: [], nexts: 0, outcome: { value: undefined } } },
    'next resolves to a value': { inner: (_c, next) => next(), next: async () => 7, expected: { seen: [], nexts: 1, outcome: { value: undefined } } },
  };
  /** Runs `stage` (a boundary) once with a counting next: what it reported, next() calls, its outcome. */
  const runStage = async (stage: Middleware<Context>, next: () => unknown, seen: unknown[]) => {
    let nexts = 0;
    const outcome = await Promise.resolve(
      stage(contextFor(textMessage('x')).ctx, () => {
        nexts++;
        return next() as Promise<void>;
      }),
    ).then(
      (value) => ({ value }),
      (error: unknown) => ({ error }),
    );
    return { seen, nexts, outcome };
  };
  const reporter =
    (seen: unknown[], onError: (e: unknown) => unknown = () => {}) =>
    (e: unknown) => {
      seen.push(e);
      return onError(e);
    };

  it('errorBoundary: which errors it takes, when next runs, what it resolves to', async () => {
    for (const [name, { inner, next, onError, expected }] of Object.entries(boundaryCases)) {
      const seen: unknown[] = [];
      expect(await runStage(errorBoundary<Context>(reporter(seen, onError), inner), next, seen), name).toEqual(expected);
    }
  });

  // The Bot's plugin stage calls a scope of one middleware itself, doing what the composed stack
  // would around it: the same reports, next() calls and results as the boundary around that stack.
  it("pluginStage: what errorBoundary around the scope's composed stack gives, for a scope of one middleware (VOID or not) or of two", async () => {
    const cases: [string, BoundaryCase][] = [
      ...Object.entries(boundaryCases),
      // A second next() rejects (a composed stack's check), without running the rest again.
      [
        'next twice',
        {
          inner: async (_c, next) => {
            await next();
            await next();
          },
          next: async () => {},
          expected: { seen: [expect.any(Error)], nexts: 1, outcome: { value: undefined } },
        },
      ],
      [
        'next twice, the second caught',
        {
          inner: async (_c, next) => {
            await next();
            await next().catch(() => {});
          },
          next: async () => {},
          expected: { seen: [], nexts: 1, outcome: { value: undefined } },
        },
      ],
    ];
    const shapes: [string, (inner: Middleware<Context>) => Composer<Context>][] = [
      ['one middleware', (inner) => new Composer<Context>().use(inner)],
      // A middleware of the pipeline's own (VOID): its result is passed on as it is.
      ['one VOID middleware', (inner) => new Composer<Context>().use(resolvesToUndefined((ctx: Context, next) => Promise.resolve(inner(ctx, next)).then(() => undefined)))],
      ['two middleware', (inner) => new Composer<Context>().use((_c, next) => next()).use(inner)],
    ];
    for (const [shape, scopeOf] of shapes) {
      for (const [name, { inner, next, onError, expected }] of cases) {
        const seen: unknown[] = [];
        const entered: string[] = [];
        const stage = pluginStage(scopeOf(inner), (ctx) => void entered.push(ctx.message.id), reporter(seen, onError));
        const reference = scopeOf(inner);
        const seenByBoundary: unknown[] = [];
        const boundary = errorBoundary<Context>(reporter(seenByBoundary, onError), (ctx, next) => composedStackOf(reference)(ctx, next));
        const staged = await runStage(stage, next, seen);
        expect(staged, `${shape}: ${name}`).toEqual(await runStage(boundary, next, seenByBoundary));
        expect(staged, `${shape}: ${name}`).toEqual(expected);
        expect(entered, `${shape}: ${name}`).toHaveLength(1);
      }
    }
  });

  it('errorBoundary: a failure while the next() it called still runs is its own, reported at once', async () => {
    const seen: unknown[] = [];
    const boom = new Error('boom');
    let downstreamSettle: (() => void) | undefined;
    const boundary = errorBoundary<object>(
      (e) => void seen.push(e),
      (_c, next) => {
        void next(); // not awaited: the rest of the pipeline still runs when this fails
        throw boom;
      },
    );
    let nexts = 0;
    // Resolves although the rest never settles: the boundary does not wait for it.
    await boundary({}, () => {
      nexts++;
      return new Promise<void>((resolve) => (downstreamSettle = resolve));
    });
    expect(seen).toEqual([boom]);
    expect(nexts).toBe(1);
    downstreamSettle?.();

    // The same error object thrown again by the middleware after the rest failed with it, but
    // the rest failed later than the middleware: still its own.
    const same = new Error('same');
    const late: unknown[] = [];
    let failRest: ((error: unknown) => void) | undefined;
    const racing = errorBoundary<object>(
      (e) => void late.push(e),
      (_c, next) => {
        next().catch(() => {});
        throw same;
      },
    );
    await racing({}, () => new Promise<void>((_resolve, reject) => (failRest = reject)));
    failRest?.(same);
    expect(late).toEqual([same]);
  });

  it('parseCommand', () => {
    expect(parseCommand('/reset')).toEqual({ name: 'reset', args: [], argsText: '' });
    expect(parseCommand('  /say  a  b ')).toEqual({ name: 'say', args: ['a', 'b'], argsText: 'a  b' });
    expect(parseCommand('not /cmd')).toBeUndefined();
    expect(parseCommand('/')).toBeUndefined();
  });

  it('parseCommand after any leading whitespace \\s matches, and for no other first character', () => {
    // parseCommand skips its regex for first characters \s cannot match: check every code unit.
    for (let code = 0; code <= 0xffff; code++) {
      const c = String.fromCharCode(code);
      const expected = c === '/' || /\s/.test(c) ? { name: 'x', args: ['y'], argsText: 'y' } : undefined;
      expect([code, parseCommand(`${c}${c === '/' ? '' : '/'}x y`)]).toEqual([code, expected]);
    }
    expect(parseCommand('')).toBeUndefined();
  });
});

describe('plugins', () => {
  const greet = definePlugin({
    name: 'greet',
    options: z.object({ greeting: z.string().min(1), times: z.number().int().positive().default(1) }),
    setup(bot, { greeting, times }) {
      bot.hears('hi', async (ctx) => {
        for (let i = 0; i < times; i++) await ctx.reply(greeting);
      });
    },
  });

  it('validates options at start with the plugin and option named', () => {
    expect(() => greet({ greeting: '' })).toThrow(PluginOptionsError);
    expect(() => greet({ greeting: '' })).toThrow(/plugin "greet": option "greeting"/);
    // @ts-expect-error wrong type on purpose
    expect(() => greet({ greeting: 'x', times: 'two' })).toThrow(/option "times"/);
  });

  it('a throwing plugin is logged by name and the next plugin still answers', async () => {
    const logs = captureLogger();
    const broken = definePlugin({
      name: 'broken',
      setup(bot) {
        bot.use(() => {
          throw new Error('kaput');
        });
      },
    });
    const bot = createBot({
      channels: [officialAccount({ appId: 'a', token: 't' })],
      plugins: [broken(), greet({ greeting: 'hello', times: 2 })],
      logger: logs.log,
    });
    const failures: string[] = [];
    bot.events.on('pluginError', (e) => void failures.push(e.plugin ?? ''));
    await bot.init();
    const channel = bot.channels[0]!;
    const sent: Reply[] = [];
    (channel as { send?: unknown }).send = async (_to: unknown, r: Reply) => void sent.push(r);
    await bot.dispatch(channel, textMessage('hi'));
    expect(sent).toEqual([
      { type: 'text', text: 'hello' },
      { type: 'text', text: 'hello' },
    ]);
    expect(failures).toEqual(['broken']);
    expect(logs.lines.some((l) => l['plugin'] === 'broken' && l['msg'] === 'plugin "broken" failed')).toBe(true);
    await bot.stop();
  });

  it('a failure outside every plugin (bot.use), thrown or rejected, is reported once and the message still ends', async () => {
    const logs = captureLogger();
    const bot = createBot({ channels: [officialAccount({ appId: 'a', token: 't' })], logger: logs.log });
    bot.use((ctx) => {
      if (ctx.text === 'sync') throw new Error('thrown');
      return Promise.reject(new Error('rejected'));
    });
    const failures: unknown[] = [];
    bot.events.on('pluginError', (e) => void failures.push([e.plugin, String(e.error)]));
    await bot.init();
    const channel = bot.channels[0]!;
    await expect(bot.dispatch(channel, textMessage('sync'))).resolves.toBeDefined();
    await expect(bot.dispatch(channel, textMessage('async'))).resolves.toBeDefined();
    expect(failures).toEqual([
      [undefined, 'Error: thrown'],
      [undefined, 'Error: rejected'],
    ]);
    await bot.stop();
  });

  it('a plugin whose middleware calls next() twice fails by name; the later plugins run once (one middleware or several)', async () => {
    for (const middlewareCount of [1, 2]) {
      const logs = captureLogger();
      const greedy = definePlugin({
        name: 'greedy',
        setup(bot) {
          if (middlewareCount === 2) bot.use((_ctx, next) => next());
          bot.use(async (_ctx, next) => {
            await next();
            await next();
          });
        },
      });
      const bot = createBot({
        channels: [officialAccount({ appId: 'a', token: 't' })],
        plugins: [greedy(), greet({ greeting: 'hello', times: 1 })],
        logger: logs.log,
      });
      const failures: unknown[] = [];
      bot.events.on('pluginError', (e) => void failures.push([e.plugin, String(e.error)]));
      await bot.init();
      const channel = bot.channels[0]!;
      const sent: Reply[] = [];
      (channel as { send?: unknown }).send = async (_to: unknown, r: Reply) => void sent.push(r);
      await bot.dispatch(channel, textMessage('hi'));
      expect(sent).toEqual([{ type: 'text', text: 'hello' }]);
      expect(failures).toEqual([['greedy', 'Error: next() called multiple times in one middleware']]);
      await bot.stop();
    }
  });

  it('runs dispose() and the disposer setup returned when the bot stops', async () => {
    const calls: string[] = [];
    const lifecycle = definePlugin({
      name: 'lifecycle',
      setup() {
        calls.push('setup');
        return () => void calls.push('disposer');
      },
      dispose() {
        calls.push('dispose');
      },
    });
    const bot = createBot({ channels: [officialAccount({ appId: 'a', token: 't' })], plugins: [lifecycle()], logger: captureLogger().log });
    await bot.init();
    await bot.stop();
    expect(calls).toEqual(['setup', 'disposer', 'dispose']);
  });

  it('the logger redacts secrets at the top level and in the usual containers', () => {
    const logs = captureLogger('info');
    logs.log.info({ secret: 's1', options: { appSecret: 's2', token: 's3' }, credential: { secret: 's4' }, query: { access_token: 's5' }, keep: 'visible' }, 'x');
    const text = logs.text();
    for (const secret of ['s1', 's2', 's3', 's4', 's5']) expect(text).not.toContain(`"${secret}"`);
    expect(text).toContain('visible');
  });

  it('warns once when a plugin calls next() without awaiting it', async () => {
    const logs = captureLogger();
    const careless = definePlugin({
      name: 'careless',
      setup(bot) {
        bot.use((_ctx, next) => {
          void next(); // forgot await
        });
      },
    });
    const later = definePlugin({
      name: 'later',
      setup(bot) {
        bot.use(async (ctx) => {
          await new Promise((r) => setTimeout(r, 20));
          await ctx.reply('late');
        });
      },
    });
    const bot = createBot({ channels: [officialAccount({ appId: 'a', token: 't' })], plugins: [careless(), later()], logger: logs.log });
    await bot.init();
    (bot.channels[0] as { send?: unknown }).send = async () => {};
    await bot.dispatch(bot.channels[0]!, textMessage('x'));
    await bot.dispatch(bot.channels[0]!, textMessage('y'));
    const warnings = logs.lines.filter((l) => String(l['msg']).includes('without awaiting'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ plugin: 'careless' });
    await bot.stop();

    // Off in production: no per-message cost, no warning.
    const quiet = captureLogger();
    const prod = createBot({ channels: [officialAccount({ appId: 'a', token: 't' })], plugins: [careless(), later()], logger: quiet.log, devChecks: false });
    await prod.init();
    (prod.channels[0] as { send?: unknown }).send = async () => {};
    await prod.dispatch(prod.channels[0]!, textMessage('x'));
    expect(quiet.lines.filter((l) => String(l['msg']).includes('without awaiting'))).toHaveLength(0);
    await prod.stop();
  });
});
