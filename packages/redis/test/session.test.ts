import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, definePlugin, session, withConversation } from '@wxbot/core';
import { createTestBot, shouldRunRedisTests, text } from '@wxbot/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { RedisStore } from '../src/index.ts';

// Sessions and conversation locks across instances that share one Redis.
const runRedis = await shouldRunRedisTests('session Redis tests');
const silent = createLogger({ level: 'silent' });

/** A plugin counting each conversation's texts in its session, slowly (an await between load and save). */
const counter = (opts: { ttl?: number; pauseMs?: number } = {}) =>
  definePlugin({
    name: 'counter',
    setup(bot) {
      const counted = bot.use(session({ initial: () => ({ count: 0, seen: [] as string[] }), ttl: opts.ttl }));
      counted.on('text', async (ctx) => {
        const before = ctx.session.count;
        // Gives a concurrent message every chance to load the same old value.
        await sleep(opts.pauseMs ?? 2);
        ctx.session.count = before + 1;
        ctx.session.seen.push(ctx.message.text);
        await ctx.reply(`count ${ctx.session.count}`);
      });
    },
  })();

describe.runIf(runRedis)('session() on Redis, two instances', () => {
  const prefix = `wxbot-test:${randomUUID()}:`;
  afterAll(async () => {
    const cleanup = new RedisStore({ prefix: '' });
    const keys = await cleanup.client.keys(`${prefix}*`);
    if (keys.length) await cleanup.client.del(...keys);
    await cleanup.close();
  });

  it('loses no update when one user’s messages land on two instances at once', async () => {
    const kits = await Promise.all(
      [0, 1].map(() => {
        const store = new RedisStore({ prefix });
        return createTestBot({ plugins: [counter({ pauseMs: 5 })], store });
      }),
    );
    await Promise.all(Array.from({ length: 16 }, (_, i) => kits[i % 2]!.send(text(`m${i}`, { from: 'carol' }))));
    expect((await kits[0]!.send(text('last', { from: 'carol' }))).texts).toEqual(['count 17']);
    await Promise.all(kits.map((k) => k.close()));
  });

  it('withConversation lets one holder in at a time across stores sharing a Redis', async () => {
    const a = new RedisStore({ prefix });
    const b = new RedisStore({ prefix });
    const log = silent;
    let inside = 0;
    let most = 0;
    const work = async () => {
      inside += 1;
      most = Math.max(most, inside);
      await sleep(5);
      inside -= 1;
    };
    await Promise.all(Array.from({ length: 8 }, (_, i) => withConversation(i % 2 ? a : b, 'k', log, work)));
    expect(most).toBe(1);
    await a.close();
    await b.close();
  });
});
