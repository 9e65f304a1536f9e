import { describe, expect, it } from 'vitest';
import { createBot, definePlugin, generateEncodingAESKey, officialAccount, type Context, type Plugin, type PluginScope } from '../src/index.ts';
import { textMessage } from './helpers.ts';

const newBot = (plugins: Plugin[] = []) =>
  createBot({
    channels: [officialAccount({ appId: 'wx1', token: 't', encodingAESKey: generateEncodingAESKey() })],
    plugins,
    logger: { level: 'silent' },
    metrics: false,
  });

describe('bot lifecycle', () => {
  it('starts, stops (twice is fine), and refuses to start again once stopped, saying why', async () => {
    const bot = newBot();
    await bot.start({ port: 0, host: '127.0.0.1' });
    await expect(bot.start({ port: 0, host: '127.0.0.1' })).rejects.toThrow(/already listening/);
    await bot.stop();
    await bot.stop();
    await expect(bot.start({ port: 0, host: '127.0.0.1' })).rejects.toThrow(/was stopped.*create a new bot/);
    await expect(bot.handleCallback(bot.channels[0]!, {}, '<xml/>')).rejects.toThrow(/was stopped/);
    // A new bot is the restart.
    const again = newBot();
    const { port } = await again.start({ port: 0, host: '127.0.0.1' });
    expect(port).toBeGreaterThan(0);
    await again.stop();
  });
});

describe('ctx.plugin', () => {
  it('names the running plugin and cannot be overwritten by a plugin', async () => {
    const seen: (string | undefined)[] = [];
    let overwrite: unknown;
    const first = definePlugin({
      name: 'first',
      setup(scope) {
        scope.use(async (ctx: Context, next) => {
          seen.push(ctx.plugin);
          try {
            (ctx as unknown as { plugin: string }).plugin = 'impostor';
          } catch (error) {
            overwrite = error;
          }
          await next();
        });
      },
    });
    const second = definePlugin({ name: 'second', setup: (scope) => void scope.use((ctx: Context) => void seen.push(ctx.plugin)) });
    const bot = newBot([first(), second()]);
    bot.use(async (ctx, next) => {
      seen.push(ctx.plugin);
      await next();
    });
    await bot.init();
    await bot.dispatch(bot.channels[0]!, textMessage('hi'));
    expect(seen).toEqual([undefined, 'first', 'second']);
    expect(overwrite).toBeInstanceOf(TypeError);
    await bot.stop();
  });
});

describe('the pipeline is composed at the first message', () => {
  it("middleware a plugin's scope or the bot gets after init, before the first message, runs; after it, adding throws", async () => {
    // The bot and each plugin scope call their composed stacks directly (composedStackOf): they
    // must be composed no earlier than middleware() composed them, at the first message.
    const seen: string[] = [];
    let late: PluginScope | undefined;
    const plugin = definePlugin({
      name: 'late',
      setup(scope) {
        late = scope;
        scope.use(async (_ctx: Context, next) => {
          seen.push('early');
          await next();
        });
      },
    });
    const bot = newBot([plugin()]);
    await bot.init();
    late!.use(async (_ctx: Context, next) => {
      seen.push('late');
      await next();
    });
    bot.use(async (_ctx, next) => {
      seen.push('bot');
      await next();
    });
    await bot.dispatch(bot.channels[0]!, textMessage('hi'));
    expect(seen).toEqual(['early', 'late', 'bot']);
    expect(() => late!.use(async () => {})).toThrow(/after the pipeline was composed/);
    expect(() => bot.use(async () => {})).toThrow(/after the pipeline was composed/);
    await bot.dispatch(bot.channels[0]!, textMessage('again'));
    expect(seen).toEqual(['early', 'late', 'bot', 'early', 'late', 'bot']);
    await bot.stop();
  });
});
