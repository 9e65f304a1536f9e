import { describe, expect, it } from 'vitest';
import { MemoryStore, createBot, definePlugin, officialAccount, type Reply } from '../src/index.ts';
import { captureLogger, textMessage } from './helpers.ts';

describe('plugin capabilities', () => {
  it('work while the bot runs, and everything registered through them is undone when it stops', async () => {
    const store = new MemoryStore();
    const heard: string[] = [];
    const handoffs: string[] = [];
    const seen: string[] = [];
    let serverUndone = false;
    const everything = definePlugin({
      name: 'everything',
      setup(scope) {
        scope.route('GET', '/hello', (ctx) => {
          ctx.body = `hello from ${scope.pluginName}`;
        });
        scope.onServer(() => () => void (serverUndone = true));
        scope.onReply(async (out, next) => {
          seen.push(out.answers === undefined ? 'sendTo' : 'reply');
          await next(out.reply.type === 'text' ? { ...out, reply: { type: 'text', text: out.reply.text.toUpperCase() } } : out);
        });
        scope.handleHandoffs((event) => void handoffs.push(event.options.reason ?? ''));
        scope.subscribe('topic', (message) => void heard.push(message));
        scope.events.on('pluginError', () => {});
        scope.hears('human', (ctx) => ctx.handoff({ reason: 'asked' }));
        scope.on('text', (ctx) => ctx.reply(`echo ${ctx.text}`));
      },
    });
    const bot = createBot({ channels: [officialAccount({ appId: 'a', token: 't' })], plugins: [everything()], store, logger: captureLogger().log });
    const { url } = await bot.start({ port: 0, host: '127.0.0.1' });
    const channel = bot.channels[0]!;
    const sent: Reply[] = [];
    (channel as { send?: unknown }).send = async (_to: unknown, r: Reply) => void sent.push(r);

    expect(await (await fetch(`${url}/hello`)).text()).toBe('hello from everything');
    expect((await bot.dispatch(channel, textMessage('hi'), { replyWindowMs: 1000 })).passive).toEqual({ type: 'text', text: 'ECHO HI' });
    await bot.sendTo('officialAccount', { user: 'u' }, 'note');
    expect(sent).toEqual([{ type: 'text', text: 'NOTE' }]);
    await bot.dispatch(channel, textMessage('human'));
    expect(handoffs).toEqual(['asked']);
    await store.publish('topic', 'one');
    expect(heard).toEqual(['one']);
    expect(seen).toEqual(['reply', 'sendTo']);
    expect(bot.events.listenerCount('pluginError')).toBe(1);

    await bot.stop();
    expect(serverUndone).toBe(true);
    expect(bot.routes).toHaveLength(1); // only the metrics route is left
    await store.publish('topic', 'two');
    expect(heard).toEqual(['one']);
    expect(bot.events.listenerCount('pluginError')).toBe(0);
    await bot.sendTo('officialAccount', { user: 'u' }, 'after');
    expect(sent.at(-1)).toEqual({ type: 'text', text: 'after' }); // the reply hook is gone
    expect(seen).toEqual(['reply', 'sendTo']);
  });
});
