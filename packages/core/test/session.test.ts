import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createTestBot, text } from '@wxbot/testing';
import { describe, expect, it } from 'vitest';
import { FileStore, MemoryStore, conversationKey, definePlugin, session, type Store } from '../src/index.ts';
// Sessions across instances sharing Redis: packages/redis/test/session.test.ts.
import { captureLogger } from './helpers.ts';

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

describe('session()', () => {
  it('keeps per-conversation state between messages, apart for each user', async () => {
    const kit = await createTestBot({ plugins: [counter()] });
    expect((await kit.send(text('a', { from: 'alice' }))).texts).toEqual(['count 1']);
    expect((await kit.send(text('b', { from: 'alice' }))).texts).toEqual(['count 2']);
    expect((await kit.send(text('c', { from: 'bob' }))).texts).toEqual(['count 1']);
    const stored = await kit.bot.store.get(`session:${conversationKey(text('x', { from: 'alice', channel: { name: 'officialAccount', kind: 'officialAccount' } }))}`);
    expect(JSON.parse(stored!)).toEqual({ count: 2, seen: ['a', 'b'] });
    await kit.close();
  });

  it('loses no update when one user sends many messages at once (memory store)', async () => {
    const kit = await createTestBot({ plugins: [counter()] });
    await Promise.all(Array.from({ length: 20 }, (_, i) => kit.send(text(`m${i}`, { from: 'alice' }))));
    const last = await kit.send(text('last', { from: 'alice' }));
    expect(last.texts).toEqual(['count 21']);
    await kit.close();
  });

  it('keys group messages by the group, not the sender', () => {
    const a = { ...text('x', { from: 'alice' }), chat: { type: 'group' as const, id: 'room-1' } };
    const b = { ...text('x', { from: 'bob' }), chat: { type: 'group' as const, id: 'room-1' } };
    expect(conversationKey(a)).toBe(conversationKey(b));
    // A single chat with the AI bot is the sender's.
    expect(conversationKey({ ...a, chat: { type: 'single' } })).toBe(conversationKey(text('x', { from: 'alice' })));
    expect(conversationKey(text('x', { from: 'alice' }))).not.toBe(conversationKey(text('x', { from: 'bob' })));
  });

  it('survives a restart with the file store', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wxbot-session-'));
    try {
      const path = join(dir, 'store.json');
      const first = await createTestBot({ plugins: [counter()], store: new FileStore({ path }) });
      await first.send(text('a'));
      await first.send(text('b'));
      await first.close();
      const second = await createTestBot({ plugins: [counter()], store: new FileStore({ path }) });
      expect((await second.send(text('c'))).texts).toEqual(['count 3']);
      await second.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('forgets a session after its ttl, and deletes it when set to undefined', async () => {
    const store = new MemoryStore();
    const kit = await createTestBot({ plugins: [counter({ ttl: 80 })], store });
    await kit.send(text('a'));
    expect((await kit.send(text('b'))).texts).toEqual(['count 2']);
    await sleep(150);
    expect((await kit.send(text('c'))).texts).toEqual(['count 1']);
    await kit.close();

    const resetting = definePlugin({
      name: 'reset',
      setup(bot) {
        const s = bot.use(session({ initial: () => ({ n: 1 }) }));
        s.command('reset', (ctx) => void (ctx.session = undefined));
        s.on('text', (ctx) => ctx.reply(`n=${ctx.session.n++}`));
      },
    })();
    const store2 = new MemoryStore();
    const kit2 = await createTestBot({ plugins: [resetting], store: store2 });
    await kit2.send('x');
    expect(store2.size).toBe(1);
    await kit2.send('/reset');
    expect(store2.size).toBe(0);
    expect((await kit2.send('y')).texts).toEqual(['n=1']);
    await kit2.close();
  });

  it('keeps a store failure from losing the message: a fresh session, not saved', async () => {
    const { log, text: logged } = captureLogger();
    const broken: Store = {
      get: async () => {
        throw new Error('store down');
      },
      set: async () => {
        throw new Error('must not be written');
      },
      setIfAbsent: async () => true,
      delete: async () => {},
      lock: async () => async () => {},
    };
    const kit = await createTestBot({ plugins: [counter()], store: broken, logger: log });
    expect((await kit.send('a')).texts).toEqual(['count 1']);
    expect(logged()).toMatch(/session could not be loaded/);
    await kit.close();
  });

  it('lets a nested run of the same conversation (a redispatch) share the session instead of waiting for itself', async () => {
    const plugin = definePlugin({
      name: 'nested',
      setup(bot) {
        const s = bot.use(session({ initial: () => ({ texts: [] as string[] }) }));
        s.on('image', (ctx) => ctx.redispatch({ ...ctx.message, type: 'text', text: 'from image' } as never));
        s.on('text', (ctx) => {
          ctx.session.texts.push(ctx.message.text);
          return ctx.reply(ctx.session.texts.join(','));
        });
      },
    })();
    const kit = await createTestBot({ plugins: [plugin] });
    await kit.send('one');
    const started = Date.now();
    const result = await kit.send({ ...text('x'), type: 'image', mediaId: 'm' } as never);
    expect(Date.now() - started).toBeLessThan(5000); // a self-deadlock would wait out the 60 s lock
    expect(result.texts).toEqual(['one,from image']);
    expect((await kit.send('two')).texts).toEqual(['one,from image,two']);
    await kit.close();
  });
});
