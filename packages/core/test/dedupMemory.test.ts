import { afterAll, describe, expect, it, vi } from 'vitest';
import { WeChatPeer } from '@wxbot/testing';
import { MemoryStore, createBot, generateEncodingAESKey, officialAccount, type Bot, type Message, type Store } from '../src/index.ts';
import { CallbackDedup, dedupKeyOf } from '../src/delivery/dedup.ts';
import { captureLogger, heapAfterGc } from './helpers.ts';

/**
 * Issue 12, defect 7: an in-memory dedup key (and the answer kept for retries) must not be a
 * view into the decrypted message, or every mark keeps its whole message alive; and keys
 * written for every message must not evict a quiet user's memory.
 */
const KEY = generateEncodingAESKey();
const PAD = 'x'.repeat(8000);
const bots: Bot[] = [];
afterAll(() => Promise.all(bots.map((b) => b.stop())));

async function startBot(mode: 'plain' | 'safe', store: Store, keep?: (message: Message) => void) {
  const appId = `wxmem${mode}`;
  const bot = createBot({
    channels: [officialAccount({ appId, token: 'tok', ...(mode === 'safe' && { encodingAESKey: KEY }) })],
    store,
    logger: captureLogger('warn').log,
  });
  // A passive reply: its XML (kept for retries) names the sender, a field of the message.
  let runs = 0;
  bot.on('text', (ctx) => {
    runs += 1;
    keep?.(ctx.message);
    return ctx.reply('ok');
  });
  await bot.init();
  bots.push(bot);
  const channel = bot.channels[0]!;
  const peer = new WeChatPeer({ url: 'http://unused', kind: 'officialAccount', mode, token: 'tok', encodingAESKey: KEY, receiveId: appId });
  /** The callback of message `id` (its retries are the same callback again), straight into the handler. */
  const post = (id: number, text = PAD) => {
    const fields = peer.message('text', { Content: `${id} ${text}` }, { msgId: String(7_100_000_000_000_000_000n + BigInt(id)), from: `o_user_memory_test_${id % 50}` });
    const { query, body } = peer.buildCallback(fields, { nonce: String(1_000_000_000 + id) });
    return bot.handleCallback(channel, Object.fromEntries(query), body);
  };
  let serial = 0;
  /** `n` new messages of ~8 KB each. */
  const send = async (n: number, text = PAD) => {
    for (let i = 0; i < n; i++) expect(await post(serial++, text)).not.toBe('success');
  };
  /** Retries of messages `ids`: how many of them ran the handler again. */
  const retry = async (ids: readonly number[], text = PAD) => {
    const before = runs;
    for (const id of ids) await post(id, text);
    return runs - before;
  };
  return { send, retry };
}

describe('dedup marks and memory', () => {
  for (const mode of ['safe', 'plain'] as const) {
    it(`${mode} mode: a dedup mark does not keep its ~8 KB message alive (heap after GC per message)`, async () => {
      const store = new MemoryStore();
      const { send, retry } = await startBot(mode, store);
      await send(200);
      const before = heapAfterGc();
      const N = 4000;
      await send(N);
      const perMessage = (heapAfterGc() - before) / N;
      // Every mark and answer is still held (N under both spaces' limits): what each message
      // costs is its key, the encrypted answer kept for retries (~1 KB, a minute) and the
      // tables' slots; a retained message is 8 KB more.
      expect(perMessage).toBeLessThan(2048);
      expect(await retry([0, 200, 200 + N - 1])).toBe(0);
    });
  }

  it('over a plain MemoryStore, the marks and the answers kept for retries leave nothing a message on the JS heap', async () => {
    const dedup = new CallbackDedup(new MemoryStore());
    const answerOf = (i: number) => `<xml><Content><![CDATA[答复 ${i}]]></Content></xml>`;
    const deliver = (from: number, n: number) => {
      for (let i = from; i < from + n; i++) {
        const key = dedupKeyOf('officialAccount', String(7_300_000_000_000_000_000n + BigInt(i)));
        dedup.claim(key);
        dedup.complete(key, i % 2 ? answerOf(i) : 'success');
      }
    };
    deliver(0, 1000);
    const before = heapAfterGc();
    const N = 50_000;
    deliver(1000, N);
    const perMessage = (heapAfterGc() - before) / N;
    // A mark as a key string and a Map entry, an answer as a Buffer and another entry: ~150 B
    // a message, every one promoted. Now slots of typed arrays and bytes of rings (not heap).
    expect(perMessage).toBeLessThan(16);
    for (const i of [1001, 1000 + N - 1]) {
      const retry = await dedup.claim(dedupKeyOf('officialAccount', String(7_300_000_000_000_000_000n + BigInt(i))));
      expect(retry.first === false && (await retry.response)).toBe(answerOf(i));
    }
  });

  it('a plugin that keeps fields of every message (as a history does: id, sender, account) keeps only those, not each ~8 KB message', async () => {
    const kept: { id: string; from: string; to: string }[] = [];
    const { send } = await startBot('safe', new MemoryStore({ spaces: { 'dedup:': 10 } }), (m) => kept.push({ id: m.id, from: m.from, to: m.to }));
    await send(200);
    const before = heapAfterGc();
    const N = 4000;
    await send(N);
    const perMessage = (heapAfterGc() - before) / N;
    expect(kept).toHaveLength(N + 200);
    expect(perMessage).toBeLessThan(2048);
  });

  it('a retry gets the first answer while it is kept (a minute); later the mark alone still stops a replay', async () => {
    vi.useFakeTimers({ toFake: ['performance'] }); // the marks' and answers' clock
    const store = new MemoryStore();
    let runs = 0;
    const bot = createBot({ channels: [officialAccount({ appId: 'wxretry', token: 'tok' })], store, logger: captureLogger('warn').log });
    bot.on('text', (ctx) => {
      runs += 1;
      return ctx.reply('first answer');
    });
    await bot.init();
    bots.push(bot);
    const peer = new WeChatPeer({ url: 'http://unused', kind: 'officialAccount', mode: 'plain', token: 'tok', receiveId: 'wxretry' });
    const { query, body } = peer.buildCallback(peer.message('text', { Content: 'hi' }, { msgId: '7200000000000000001' }));
    const post = () => bot.handleCallback(bot.channels[0]!, Object.fromEntries(query), body);
    const first = await post();
    expect(first).toContain('first answer');
    expect(await post()).toBe(first);
    // The answer is kept apart from the mark, for a minute or a little more; the mark for the dedup TTL.
    vi.advanceTimersByTime(59_000);
    expect(await post()).toBe(first);
    vi.advanceTimersByTime(21_000);
    expect(await post()).toBe('success');
    expect(runs).toBe(1);
    vi.useRealTimers();
  });

  it("a busy hour of new messages does not evict a quiet user's memory (separate bounded spaces)", async () => {
    const store = new MemoryStore({ maxEntries: 100, spaces: { 'dedup:': 100, 'dedup-answer:': 100 } });
    await store.set('llm:memory:quiet-user', '[{"role":"user","content":"remember me"}]', 24 * 3600_000);
    const { send, retry } = await startBot('plain', store);
    await send(1000, 'hello');
    expect(await store.get('llm:memory:quiet-user')).toBe('[{"role":"user","content":"remember me"}]');
    // Dedup marks stay bounded by their own limit: the last 100 are kept, older ones went.
    expect(await retry([999, 950, 900], 'hello')).toBe(0);
    expect(await retry([0, 500, 898], 'hello')).toBe(3);
  });

  it('a space full of live keys warns once (replays inside the window would slip through); expired keys do not count', async () => {
    const logs = captureLogger();
    const store = new MemoryStore({ spaces: { 'dedup:': 5 } });
    store.useLogger(logs.log);
    for (let i = 0; i < 4; i++) await store.set(`dedup:short:${i}`, '1', 1);
    await new Promise((resolve) => setTimeout(resolve, 10));
    // The fifth key fills the space: the four expired ones make room, nothing live goes.
    for (let i = 0; i < 3; i++) await store.set(`dedup:fresh:${i}`, '1', 60_000);
    expect(store.size).toBe(3);
    const warnings = () => logs.lines.filter((l) => String(l['msg']).startsWith('MemoryStore space "dedup:" is full of live keys'));
    expect(warnings()).toEqual([]);

    // Through the bot: more new messages than the space holds, all inside their TTL.
    const botLogs = captureLogger();
    const bot = createBot({ channels: [officialAccount({ appId: 'wxfull', token: 'tok' })], store: new MemoryStore({ spaces: { 'dedup:': 5 } }), logger: botLogs.log });
    bot.on('text', (ctx) => ctx.reply('ok'));
    await bot.init();
    bots.push(bot);
    const peer = new WeChatPeer({ url: 'http://unused', kind: 'officialAccount', mode: 'plain', token: 'tok', receiveId: 'wxfull' });
    for (let i = 0; i < 12; i++) {
      const { query, body } = peer.buildCallback(peer.message('text', { Content: 'hi' }, { msgId: String(7_400_000_000_000_000_000n + BigInt(i)) }));
      await bot.handleCallback(bot.channels[0]!, Object.fromEntries(query), body);
    }
    const full = botLogs.lines.filter((l) => String(l['msg']).startsWith('MemoryStore space "dedup:" is full of live keys'));
    expect(full).toHaveLength(1);
    expect(full[0]).toMatchObject({ level: 40, space: 'dedup:', max: 5 });
  });
});
