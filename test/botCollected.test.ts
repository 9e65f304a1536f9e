import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { type Context, compose, createBot, createLogger, type Message, type Middleware, officialAccount, parseCommand } from '@wxbot/core';
import { keyword } from '@wxbot/plugin-keyword';
import { describe, expect, it } from 'vitest';

// The pipeline keeps one finished run, round and keyword text alive so that V8 keeps their maps
// across full GCs (Inbound's #exemplar). Kept by the bot that made them, they must go with it: a
// static field held the first bot of the process for good.

function fullGc(): void {
  setFlagsFromString('--expose_gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

/** A composition made once and used by every bot, as a library's router would be. */
const shared = compose<Context>([(_ctx, next) => next(), (_ctx, next) => next()]);
const throughShared: Middleware<Context> = (ctx, next) => shared(ctx, next);

/** A bot with a keyword plugin and two middleware of its own (one through `shared`), stopped after one text message. */
async function oneBot(): Promise<{ bot: WeakRef<object>; payload: WeakRef<object> }> {
  const channel = officialAccount({ appId: 'wx0000000000000000', token: 'collected' });
  const payload = { words: ['你好'] };
  const bot = createBot({
    channels: [channel],
    plugins: [keyword({ rules: [{ keywords: ['营业'], reply: '9-18' }], handoffWords: [] })],
    logger: createLogger({ level: 'silent' }),
    metrics: false,
  });
  bot.use(throughShared);
  bot.use((ctx) => ctx.reply(payload.words[0]!));
  await bot.init();
  const message = {
    id: '1',
    channel: { name: channel.name, kind: channel.kind },
    from: 'u',
    to: 'gh',
    time: new Date(),
    raw: {},
    type: 'text',
    text: 'hi',
    command: parseCommand('hi'),
  } as Message;
  const { passive } = await bot.dispatch(channel, message, { replyWindowMs: 1000 });
  expect(passive).toEqual({ type: 'text', text: '你好' });
  await bot.stop();
  return { bot: new WeakRef(bot), payload: new WeakRef(payload) };
}

describe('a stopped bot', () => {
  it('is collected once dropped, the objects its pipeline keeps for V8 with it, though another bot runs and a composition they shared lives', async () => {
    const first = await oneBot();
    const second = await oneBot();
    await new Promise((resolve) => setImmediate(resolve)); // a WeakRef holds its target until the job that made it ends
    fullGc();
    expect(first.bot.deref()).toBeUndefined();
    expect(first.payload.deref()).toBeUndefined();
    expect(second.bot.deref()).toBeUndefined();
  });
});
