/**
 * Type tests: `npm run typecheck` (tsc over packages/*\/test) fails when a handler's context
 * loses its narrowing; the vitest run checks that the same handlers see those values at run time.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import { Composer, type Context, definePlugin, type MessageOf, PluginOptionsError, type RegExpMatch, type RouteContext, session } from '@wxbot/core';
import { createTestBot } from '@wxbot/testing';
import { z } from 'zod';

describe('context types', () => {
  it('types ctx.match by the routing helper', async () => {
    const seen: unknown[] = [];
    const plugin = definePlugin({
      name: 'types',
      setup(bot) {
        bot.command('order', (ctx) => {
          expectTypeOf(ctx.match).toEqualTypeOf<string>();
          expectTypeOf(ctx.message).toEqualTypeOf<MessageOf<'text'>>();
          seen.push(ctx.match);
        });
        bot.command('add', '加入', (ctx) => {
          expectTypeOf(ctx.match).toEqualTypeOf<string>();
          seen.push(ctx.match.toUpperCase());
        });
        bot.hears(/^weather (\w+)$/, (ctx) => {
          expectTypeOf(ctx.match).toEqualTypeOf<RegExpMatch>();
          expectTypeOf(ctx.match).toExtend<RegExpExecArray>();
          expectTypeOf(ctx.match).toExtend<RegExpMatchArray>();
          expectTypeOf(ctx.match[1]).toEqualTypeOf<string | undefined>();
          seen.push(ctx.match[1]);
        });
        bot.hears('人工', (ctx) => {
          expectTypeOf(ctx.match).toEqualTypeOf<string>();
          seen.push(ctx.match);
        });
        bot.hears(['hi', /^hello (\w+)$/], (ctx) => {
          expectTypeOf(ctx.match).toEqualTypeOf<string | RegExpMatch>();
          seen.push(typeof ctx.match === 'string' ? ctx.match : ctx.match[1]);
        });
      },
    });
    const kit = await createTestBot({ plugins: [plugin()] });
    await kit.send('/order 42 now');
    await kit.send('/add apple');
    await kit.send('weather Paris');
    await kit.send('人工');
    await kit.send('hi');
    await kit.send('hello Bob');
    await kit.send('/order');
    await kit.close();
    expect(seen).toEqual(['42 now', 'APPLE', 'Paris', '人工', 'hi', 'Bob', '']);
  });

  it('lets a handler assign undefined to ctx.session (deleting it), reading it as S', () => {
    const bot = new Composer<Context>();
    const counted = bot.use(session({ initial: () => ({ count: 0 }) }));
    counted.command('reset', (ctx) => {
      expectTypeOf(ctx.session).toEqualTypeOf<{ count: number }>();
      ctx.session = undefined;
      ctx.session = { count: 1 };
      // @ts-expect-error a session is an object of the initial's shape
      ctx.session = { count: 'one' };
    });
    counted.on('text', (ctx) => {
      expectTypeOf(ctx.session.count).toEqualTypeOf<number>();
    });
    expect(counted).toBeInstanceOf(Composer);
  });
});

describe('route context types', () => {
  it("keeps Koa's named properties typed (plain Omit over its index signature made them all any)", () => {
    expectTypeOf<RouteContext['params']>().toEqualTypeOf<Record<string, string>>();
    expectTypeOf<RouteContext['status']>().toEqualTypeOf<number>();
    expectTypeOf<RouteContext['query']>().not.toBeAny();
    expectTypeOf<RouteContext['request']['query']>().not.toBeAny();
    expectTypeOf<RouteContext<{ text: string }>['request']['body']>().toEqualTypeOf<{ text: string }>();
    expectTypeOf<RouteContext['request']['body']>().toEqualTypeOf<unknown>();
    // A route handler's ctx, as scope.route gives it.
    definePlugin({
      name: 'route-types',
      setup(scope) {
        scope.route('GET', '/orders/:id', (ctx) => {
          expectTypeOf(ctx.params).toEqualTypeOf<Record<string, string>>();
          expectTypeOf(ctx.status).toEqualTypeOf<number>();
          ctx.body = { id: ctx.params['id'] };
        });
      },
    });
    expect(true).toBe(true);
  });
});

describe('plugin factory types', () => {
  it('needs the options only when the schema has a required one (else a wrong state compiled and failed at start-up)', () => {
    const required = definePlugin({ name: 'required', options: z.object({ token: z.string() }), setup() {} });
    const defaulted = definePlugin({ name: 'defaulted', options: z.object({ greeting: z.string().default('你好') }), setup() {} });
    const none = definePlugin({ name: 'none', setup() {} });
    // @ts-expect-error the token is required
    expect(() => required()).toThrow(PluginOptionsError);
    // @ts-expect-error a token of the wrong type
    expect(() => required({ token: 42 })).toThrow(PluginOptionsError);
    expect(required({ token: 't' }).name).toBe('required');
    expect(defaulted().name).toBe('defaulted');
    expect(defaulted({ greeting: 'hi' }).name).toBe('defaulted');
    expect(none().name).toBe('none');
  });
});
