import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { definePlugin, type Plugin } from '@wxbot/core';
import { RedisStore } from '@wxbot/redis';
import { createTestBot, event, shouldRunRedisTests, text } from '@wxbot/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { rateLimit } from '../src/index.ts';

const runRedis = await shouldRunRedisTests('rate limit Redis tests');
const answer = (): Plugin => definePlugin({ name: 'answer', setup: (bot) => void bot.use((ctx) => ctx.reply(`ok ${ctx.text ?? ctx.message.type}`)) })();

/** Waits until a fresh window of `windowMs` has just begun, so a test's messages share one window. */
async function windowStart(windowMs: number): Promise<void> {
  await sleep(windowMs - (Date.now() % windowMs) + 5);
}

describe('rateLimit', () => {
  it('lets `limit` messages through, answers the next politely once, then stays silent until the window passes', async () => {
    const kit = await createTestBot({ plugins: [rateLimit({ limit: 3, windowMs: 2000 }), answer()] });
    await windowStart(2000);
    for (const t of ['1', '2', '3']) expect((await kit.send(t)).texts).toEqual([`ok ${t}`]);
    expect((await kit.send('4')).texts[0]).toMatch(/^您发送得太快了，请 \d 秒后再试。$/);
    expect((await kit.send('5')).texts).toEqual([]);
    // Another user is not limited; events do not count.
    expect((await kit.send(text('x', { from: 'other' }))).texts).toEqual(['ok x']);
    expect((await kit.send(event('subscribe'))).texts).toEqual(['ok event']);
    await windowStart(2000);
    expect((await kit.send('6')).texts).toEqual(['ok 6']);
    await kit.close();
  });

  it('speaks the bot’s language, or the given message', async () => {
    const en = await createTestBot({ plugins: [rateLimit({ limit: 1, windowMs: 60_000 }), answer()], i18n: { locale: 'en' } });
    await en.send('a');
    expect((await en.send('b')).texts[0]).toMatch(/^You are sending messages too fast\. Please try again in \d+ seconds\.$/);
    await en.close();
    const custom = await createTestBot({ plugins: [rateLimit({ limit: 1, windowMs: 60_000, message: '慢一点（{seconds}s）' }), answer()] });
    await custom.send('a');
    expect((await custom.send('b')).texts[0]).toMatch(/^慢一点（\d+s）$/);
    await custom.close();
  });
});

describe.runIf(runRedis)('rateLimit on two instances sharing Redis', () => {
  const prefix = `wxbot-test:${randomUUID()}:`;
  afterAll(async () => {
    const cleanup = new RedisStore({ prefix: '' });
    const keys = await cleanup.client.keys(`${prefix}*`);
    if (keys.length) await cleanup.client.del(...keys);
    await cleanup.close();
  });

  it('counts one user’s messages across both instances, even sent at once', async () => {
    const kits = await Promise.all([0, 1].map(() => createTestBot({ plugins: [rateLimit({ limit: 4, windowMs: 5000 }), answer()], store: new RedisStore({ prefix }) })));
    await windowStart(5000);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => kits[i % 2]!.send(text(`m${i}`, { from: 'dave' }))));
    const texts = results.flatMap((r) => r.texts);
    expect(texts.filter((t) => t.startsWith('ok '))).toHaveLength(4);
    expect(texts.filter((t) => t.startsWith('您发送得太快了'))).toHaveLength(1);
    expect(texts).toHaveLength(5);
    await Promise.all(kits.map((k) => k.close()));
  });
});
